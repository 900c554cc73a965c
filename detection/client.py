"""A tiny client for ``riskline serve``, and the webhook signature check for receivers.

    client = RisklineClient("http://127.0.0.1:8080", api_token="...")
    results = client.send([{"conversation_id": "c1", "message_id": "m1", "sender_id": "u1",
                            "timestamp": "2026-01-01T10:00:00+00:00", "text": "hey"}])

A webhook receiver checks each delivery with ``verify_signature(secret, raw_body, header)`` and
de-duplicates by ``X-Riskline-Intervention-Id`` (delivery is at least once).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from detection.sinks import verify_signature

__all__ = ["RisklineClient", "verify_signature"]


class RisklineClient:
    """Sends message events and reads conversations."""

    def __init__(self, base_url: str, api_token: str | None = None, timeout: float = 10.0) -> None:
        headers = {"Authorization": f"Bearer {api_token}"} if api_token else {}
        self._http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout)

    def send(self, events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Score events (up to 1,000 a call); one result per event, in order."""
        response = self._http.post("/v1/messages", json={"messages": list(events)})
        response.raise_for_status()
        return list(response.json()["results"])

    def conversation(self, conversation_id: str) -> dict[str, Any] | None:
        """A conversation's state, or None if the service has never seen it."""
        # every character quoted: '?', '#', '%' or '/' in an id would otherwise change the request
        response = self._http.get(f"/v1/conversations/{quote(conversation_id, safe='')}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return dict(response.json())

    def close(self) -> None:
        self._http.close()
