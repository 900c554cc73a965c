"""A small client for ``riskline serve``, and the webhook signature check for receivers.

    client = RisklineClient("http://127.0.0.1:8080", api_token="...")
    results = client.send([{"conversation_id": "c1", "message_id": "m1", "sender_id": "u1",
                            "timestamp": "2026-01-01T10:00:00+00:00", "text": "hey"}])

``send`` takes any number of events (the service takes 1,000 a request) and sends again, with the same
message ids, what the service could not score now (a 503, a proxy's 502 or 504, a broken connection):
the service answers a message id it has scored as a duplicate and never counts it twice. What it
refuses (a 4xx) raises ``RisklineError`` with the service's reason.

A webhook receiver checks each delivery with ``verify_signature(secret, raw_body, header)`` and
de-duplicates by ``X-Riskline-Intervention-Id`` (delivery is at least once).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from detection.sinks import verify_signature

__all__ = ["RisklineClient", "RisklineError", "verify_signature"]

MAX_BATCH = 1000  # messages a request may hold (the service's limit)
RETRIED = frozenset({429, 502, 503, 504})  # answers that say "not now": the same request may succeed later


class RisklineError(Exception):
    """The service refused a request, or could not answer it through every retry.

    ``status`` is the HTTP status (None when no answer came) and ``detail`` the service's reason.
    """

    def __init__(self, message: str, status: int | None = None, detail: Any = None) -> None:
        super().__init__(message)
        self.status, self.detail = status, detail


class RisklineClient:
    """Sends message events and reads conversations.

    ``retries`` times, waiting ``backoff`` seconds and twice as long each time after, a request the
    service could not answer now is sent again. ``http``: an ``httpx.Client`` to send through instead
    (with its own base URL and timeout), such as a FastAPI ``TestClient``.
    """

    def __init__(self, base_url: str, api_token: str | None = None, timeout: float = 10.0, retries: int = 4,
                 backoff: float = 0.5, http: httpx.Client | None = None) -> None:
        headers = {"Authorization": f"Bearer {api_token}"} if api_token else {}
        self._http = http or httpx.Client(base_url=base_url, timeout=timeout)
        self._http.headers.update(headers)
        self.retries, self.backoff = retries, backoff

    def send(self, events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Score events; one result per event, in order. They go 1,000 a request: if one is refused,
        those before it are scored (sent again, they are answered as duplicates)."""
        results: list[dict[str, Any]] = []
        for start in range(0, len(events), MAX_BATCH):
            batch = list(events[start:start + MAX_BATCH])
            try:
                response = self._request("POST", "/v1/messages", json={"messages": batch})
            except RisklineError as exc:
                if start and exc.status == 422:  # name the event by its place in ``events``, not in the request
                    raise _shifted(exc, start) from None
                raise
            results += response.json()["results"]
        return results

    def conversation(self, conversation_id: str) -> dict[str, Any] | None:
        """A conversation's state, or None if the service has never seen it."""
        # every character quoted: '?', '#', '%' or '/' in an id would otherwise change the request
        try:
            return dict(self._request("GET", f"/v1/conversations/{quote(conversation_id, safe='')}").json())
        except RisklineError as exc:
            if exc.status == 404:
                return None
            raise

    def close(self) -> None:
        self._http.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                failure = RisklineError(f"{method} {path}: no answer from {self._http.base_url} ({exc!r})")
                continue
            if response.status_code < 400:
                return response
            failure = _refusal(method, path, response)
            if response.status_code not in RETRIED:
                break
        raise failure


def _refusal(method: str, path: str, response: httpx.Response) -> RisklineError:
    try:
        body = response.json()
    except ValueError:  # a proxy's HTML page
        body = None
    detail = body.get("detail", body) if isinstance(body, dict) else response.text if body is None else body
    return _error(f"{method} {path}", response.status_code, detail)


def _error(request: str, status: int, detail: Any) -> RisklineError:
    """The service's reason in one line: a 422's ``[{"loc": [...], "msg": ...}]`` as ``loc: msg``."""
    reason = "; ".join(".".join(str(part) for part in item.get("loc", [])) + f": {item.get('msg')}"
                       if isinstance(item, Mapping) else str(item) for item in detail) \
        if isinstance(detail, list) else str(detail)
    return RisklineError(f"{request}: {status}: {reason}", status, detail)


def _shifted(error: RisklineError, offset: int) -> RisklineError:
    """A 422 for a later request of ``send``, its event's place counted from the first event sent."""
    def shift(item: Any) -> Any:
        loc = item.get("loc") if isinstance(item, Mapping) else None
        if isinstance(loc, list) and loc[:2] == ["body", "messages"] and len(loc) > 2 and isinstance(loc[2], int):
            return {**item, "loc": [*loc[:2], loc[2] + offset, *loc[3:]]}
        return item

    detail = [shift(item) for item in error.detail] if isinstance(error.detail, list) else error.detail
    return _error("POST /v1/messages", 422, detail)
