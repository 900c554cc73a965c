"""A request's body as the service reads it: decompressed within a size limit, then one message event
or ``{"messages": [...]}`` checked with the same code as batch input. What is wrong comes back as an
``HTTPProblem``: the status and the JSON detail the service answers with.
"""

from __future__ import annotations

import zlib
from typing import Any

from fastapi import Request

from detection.events import JSON_ERRORS, EventError, MessageEvent, loads, not_twice, to_event


class HTTPProblem(Exception):
    """An answer other than 200, with a JSON body."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(str(detail))
        self.status, self.detail = status, detail


def parse_events(body: bytes, max_batch: int) -> list[MessageEvent]:
    """One event or ``{"messages": [...]}``; 422 naming the field of the first invalid one."""
    try:
        data = loads(body)
    except JSON_ERRORS as exc:
        raise HTTPProblem(422, [{"loc": ["body"], "msg": f"not valid JSON: {exc}"}]) from None
    try:
        not_twice(data if isinstance(data, dict) else {}, ("messages",))  # which list is meant?
    except EventError as exc:
        raise HTTPProblem(422, [{"loc": ["body", exc.field], "msg": exc.reason}]) from None
    if isinstance(data, dict) and "messages" in data:
        items, prefix = data["messages"], ["body", "messages"]
        if not isinstance(items, list) or not items:
            raise HTTPProblem(422, [{"loc": prefix, "msg": "expected a non-empty list of message events"}])
        if len(items) > max_batch:
            raise HTTPProblem(422, [{"loc": prefix, "msg": f"at most {max_batch} messages per request"}])
    elif isinstance(data, dict):
        items, prefix = [data], ["body"]
    else:
        raise HTTPProblem(422, [{"loc": ["body"], "msg": "expected a message event or {\"messages\": [...]}"}])
    events = []
    for i, item in enumerate(items):
        loc = [*prefix, i] if prefix[-1] == "messages" else prefix
        if not isinstance(item, dict):
            raise HTTPProblem(422, [{"loc": loc, "msg": "expected a JSON object"}])
        try:
            events.append(to_event(item))
        except EventError as exc:
            raise HTTPProblem(422, [{"loc": [*loc, exc.field], "msg": exc.reason}]) from None
    return events


# Content-Encoding a body may come in (clients batching messages often gzip them), by zlib's window bits
CODINGS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


async def read_body(request: Request, limit: int) -> bytes:
    """The body, decompressed where its Content-Encoding is gzip or deflate, or a 413 as soon as it is
    known to exceed ``limit`` bytes, sent or decompressed (a small body may decompress to gigabytes)."""
    coding = request.headers.get("content-encoding", "identity").strip().lower() or "identity"
    if coding != "identity" and coding not in CODINGS:
        raise HTTPProblem(415, f"Content-Encoding {coding!r} is not supported (send the body as it is, or with "
                               "gzip or deflate)")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPProblem(413, f"body over {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPProblem(413, f"body over {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    return body if coding == "identity" else _decompressed(body, coding, limit)


def _decompressed(body: bytes, coding: str, limit: int) -> bytes:
    """``body`` decompressed, all its gzip members (a stream may be written as several); no more than one
    byte past ``limit`` is ever made."""
    parts, size, rest = [], 0, body
    while True:
        inflater = zlib.decompressobj(CODINGS[coding])
        try:
            parts.append(data := inflater.decompress(rest, limit + 1 - size))
        except zlib.error as exc:
            raise HTTPProblem(422, [{"loc": ["body"], "msg": f"not valid {coding} data ({exc})"}]) from None
        if (size := size + len(data)) > limit:
            raise HTTPProblem(413, f"body over {limit} bytes once decompressed")
        if not inflater.eof:
            raise HTTPProblem(422, [{"loc": ["body"], "msg": f"{coding} data cut short"}])
        if not (rest := inflater.unused_data):
            return b"".join(parts)
        if coding == "deflate":
            raise HTTPProblem(422, [{"loc": ["body"], "msg": "data after the end of the deflate stream"}])
