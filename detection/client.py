"""A small client for ``riskline serve``, and the webhook signature check for receivers.

    with RisklineClient("http://127.0.0.1:8080", api_token="...") as client:
        results = client.send([{"conversation_id": "c1", "message_id": "m1", "sender_id": "u1",
                                "timestamp": "2026-01-01T10:00:00+00:00", "text": "hey"}])

``send`` takes any number of events (the service takes 1,000 a request) and sends again, with the same
message ids, what the service could not score now (a 503, a proxy's 502 or 504, a broken connection):
the service answers a message id it has scored as a duplicate and never counts it twice. What it
refuses (a 4xx) raises ``RisklineError`` with the service's reason. Each request carries its own
``X-Request-Id``, the same on every retry, which the service's log line for it names, and an error names
it too (``RisklineError.request_id``). ``conversation`` reads one
conversation's state, ``erase`` makes the service forget one. ``AsyncRisklineClient`` does the
same for asyncio code (``await client.send([...])``).

A webhook receiver checks each delivery with ``verify_signature(secret, raw_body, header)`` and
de-duplicates by ``X-Riskline-Intervention-Id`` (delivery is at least once).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import json
import numbers
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from detection.client_calls import Call, RisklineError, bearer, check_tries, placed, service_url
from detection.events import MessageEvent
from detection.sinks import verify_signature

__all__ = ["AsyncRisklineClient", "RisklineClient", "RisklineError", "verify_signature"]

RisklineError.__module__ = __name__  # where users import it from: tracebacks and pickles name detection.client

MAX_BATCH = 1000  # messages a request may hold (the service's limit)
JSON = {"Content-Type": "application/json"}
Event = Mapping[str, Any] | MessageEvent  # what send() takes: a file's fields, or an event read from them


class RisklineClient:
    """Sends message events and reads conversations.

    ``retries`` times, waiting ``backoff`` seconds and twice as long each time after, a request the
    service could not answer now is sent again. ``http``: an ``httpx.Client`` to send through instead
    (with its own base URL and timeout), such as a FastAPI ``TestClient``.
    """

    def __init__(self, base_url: str, api_token: str | None = None, timeout: float = 10.0, retries: int = 4,
                 backoff: float = 0.5, http: httpx.Client | None = None) -> None:
        check_tries(timeout, retries, backoff)
        headers = bearer(api_token)
        self._http = http or httpx.Client(base_url=service_url(base_url), timeout=timeout)
        self._http.headers.update(headers)
        self.retries, self.backoff = retries, backoff

    def send(self, events: Iterable[Event]) -> list[dict[str, Any]]:
        """Score events (a list, or any iterable: a generator is read whole first); one result per event, in
        order. Each is a dict of a file's fields, or a ``MessageEvent`` (``to_event``'s, ``read_events``'). They
        go 1,000 a request: if one is refused, those before it are scored, their answers in the error's ``scored``
        (sent again, they are answered as duplicates)."""
        results: list[dict[str, Any]] = []
        for start, batch in _batches(events):
            try:
                body = self._request("POST", "/v1/messages", content=_encoded(batch), headers=JSON)
            except RisklineError as exc:
                raise placed(exc, start, results) from None
            results += body["results"]
        return results

    def conversation(self, conversation_id: str | int) -> dict[str, Any] | None:
        """A conversation's state, or None if the service has never seen it."""
        try:
            return self._request("GET", _conversation_path(conversation_id))
        except RisklineError as exc:
            if exc.status == 404:
                return None
            raise

    def erase(self, conversation_id: str | int) -> bool:
        """Make the service forget a conversation: its state, answers and interventions, delivered or not
        (a platform's erasure request). Whether it held any; False also where an attempt this call
        repeated had erased it and its answer was lost. Either way the service holds nothing of it now."""
        try:
            self._request("DELETE", _conversation_path(conversation_id))
        except RisklineError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RisklineClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        call = Call(method, path, self._http.base_url, self.retries, self.backoff)
        headers = {**kwargs.pop("headers", {}), "X-Request-Id": call.sent}
        for wait in call.waits():
            if wait:
                time.sleep(wait)
            try:
                response = self._http.request(method, path, headers=headers, **kwargs)
            except httpx.TransportError as exc:
                call.unanswered(exc)
                continue
            if (body := call.answered(response)) is not None:
                return body
        raise call.failure


class AsyncRisklineClient:
    """``RisklineClient`` for asyncio code (a FastAPI or aiohttp backend scoring each message as it
    arrives): the same requests, retries and errors, awaited. ``http``: an ``httpx.AsyncClient`` to send
    through instead."""

    def __init__(self, base_url: str, api_token: str | None = None, timeout: float = 10.0, retries: int = 4,
                 backoff: float = 0.5, http: httpx.AsyncClient | None = None) -> None:
        check_tries(timeout, retries, backoff)
        headers = bearer(api_token)  # before the client is made: one refused is not left open
        self._http = http or httpx.AsyncClient(base_url=service_url(base_url), timeout=timeout)
        self._http.headers.update(headers)
        self.retries, self.backoff = retries, backoff

    async def send(self, events: Iterable[Event]) -> list[dict[str, Any]]:
        """As ``RisklineClient.send``."""
        results: list[dict[str, Any]] = []
        for start, batch in _batches(events):
            try:
                body = await self._request("POST", "/v1/messages", content=_encoded(batch), headers=JSON)
            except RisklineError as exc:
                raise placed(exc, start, results) from None
            results += body["results"]
        return results

    async def conversation(self, conversation_id: str | int) -> dict[str, Any] | None:
        """As ``RisklineClient.conversation``."""
        try:
            return await self._request("GET", _conversation_path(conversation_id))
        except RisklineError as exc:
            if exc.status == 404:
                return None
            raise

    async def erase(self, conversation_id: str | int) -> bool:
        """As ``RisklineClient.erase``."""
        try:
            await self._request("DELETE", _conversation_path(conversation_id))
        except RisklineError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncRisklineClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        call = Call(method, path, self._http.base_url, self.retries, self.backoff)
        headers = {**kwargs.pop("headers", {}), "X-Request-Id": call.sent}
        for wait in call.waits():
            if wait:
                await asyncio.sleep(wait)
            try:
                response = await self._http.request(method, path, headers=headers, **kwargs)
            except httpx.TransportError as exc:
                call.unanswered(exc)
                continue
            if (body := call.answered(response)) is not None:
                return body
        raise call.failure


def _batches(events: Iterable[Event]) -> list[tuple[int, list[Event]]]:
    """``events`` (a list, or any iterable of them) in requests of up to ``MAX_BATCH``, each with the place of
    its first event. One event alone, not in a list, is a ``TypeError`` saying so (its keys would be sent)."""
    if isinstance(events, (Mapping, MessageEvent, str, bytes)):
        raise TypeError(f"send() takes a list of events, not a {type(events).__name__}: send([event]) sends one")
    events = events if isinstance(events, Sequence) else list(events)
    return [(start, list(events[start:start + MAX_BATCH])) for start in range(0, len(events), MAX_BATCH)]


def _encoded(batch: list[Event]) -> bytes:
    """A request's body. Times may be ``datetime``s (a pandas ``Timestamp`` too), written as ISO-8601 (one
    without a time zone is then refused by the service, naming the event, as in a file), and numbers
    NumPy's (a DataFrame's ``to_dict("records")``); anything else JSON cannot hold is a ``TypeError``."""
    def body(ascii_only: bool) -> bytes:  # as httpx writes json=, but for ascii_only
        return json.dumps({"messages": batch}, default=_json_value, ensure_ascii=ascii_only, separators=(",", ":"),
                          allow_nan=False).encode()

    try:
        return body(False)
    except UnicodeEncodeError:  # a lone surrogate (text decoded with "surrogateescape"), which UTF-8 cannot hold:
        return body(True)  # escaped, for the service to refuse by its place, as it refuses one in a file


def _json_value(value: Any) -> Any:
    if isinstance(value, MessageEvent):  # its fields as a file holds them: the time in Unix seconds, exactly
        return {name: field for name, field in dataclasses.asdict(value).items() if field is not None}
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, numbers.Integral):  # NumPy's integers (its float64 is a float already)
        return int(value)
    raise TypeError(f"an event holds a {type(value).__name__}, which JSON cannot: its fields are strings, numbers "
                    "and times (datetime, or ISO-8601 text)")


def _conversation_path(conversation_id: str | int) -> str:
    """A conversation's path; a whole number as an id is the service's too (events may give it so)."""
    if isinstance(conversation_id, numbers.Integral) and not isinstance(conversation_id, bool):
        conversation_id = str(int(conversation_id))
    if not isinstance(conversation_id, str):
        raise TypeError(f"a conversation id is text or a whole number, not a {type(conversation_id).__name__}")
    if not conversation_id.strip():  # a variable never set: erase() would answer False, as for one not held
        raise ValueError(f"an empty conversation id ({conversation_id!r}): no message has it")
    # every character quoted: '?', '#', '%' or '/' in an id would otherwise change the request; an id of
    # "." or ".." too, which a URL resolves as a step in the path (to /v1/conversations/ or /v1/)
    quoted = quote(conversation_id, safe="")
    return f"/v1/conversations/{quoted.replace('.', '%2E') if quoted in ('.', '..') else quoted}"
