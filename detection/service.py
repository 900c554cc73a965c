"""``riskline serve``: the HTTP edge around the real-time hook (``detection.processor``).

Requests are validated with the same code as batch input, then queued to one worker thread that
scores whatever has queued up at once (natural micro-batching: no added wait when idle, larger
batches under load) and commits it. One worker means updates to a conversation never race.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
import time
import zlib
from collections.abc import AsyncIterator, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from importlib.metadata import version
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect

from detection.api_doc import openapi_document
from detection.events import JSON_ERRORS, EventError, MessageEvent, loads, not_twice, shown, to_event
from detection.metrics import Metrics
from detection.processor import build_parts, hook
from detection.settings import ServiceSettings
from detection.sinks import loopback
from detection.store import reachable

log = logging.getLogger("riskline.service")
OPEN_PATHS = ("/healthz", "/readyz", "/metrics")
RESULT_FIELDS = ("conversation_id", "message_id", "risk_score", "risk_level", "stage", "intervention", "duplicate")
CLIENT_GONE = 499  # nginx's status for a client that closed the request before it was answered: logs and metrics


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


class ScoringFailed(Exception):
    """Scoring a batch failed (the state store unreachable, or too busy to commit): retry it."""


class Batcher:
    """Queues requests and hands everything queued to ``process`` in one call on one thread.

    Where that call fails and ``store_up`` says the state store still answers, the failure may be one
    request's own (a message its scoring cannot take), so each request is tried again alone: only its
    own failure fails it, not every request that happened to be queued beside it. While the store is
    down, all of them get the failure at once."""

    def __init__(self, process: Callable[[list[MessageEvent]], Any],
                 on_batch: Callable[[list[dict[str, Any]], list[dict[str, Any]]], None],
                 store_up: Callable[[], bool] | None = None) -> None:
        self.process, self.on_batch, self.store_up = process, on_batch, store_up
        self.queue: asyncio.Queue[tuple[list[MessageEvent], asyncio.Future[Any]]] = asyncio.Queue()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="riskline-score")
        self.task: asyncio.Task[None] | None = None

    async def submit(self, events: list[MessageEvent]) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self.queue.put((events, future))
        return await future

    async def run(self) -> None:
        while True:
            pending = [await self.queue.get()]
            while not self.queue.empty():
                pending.append(self.queue.get_nowait())
            await self._serve(pending)

    async def _serve(self, pending: list[tuple[list[MessageEvent], asyncio.Future[Any]]]) -> None:
        loop = asyncio.get_running_loop()
        events = [e for batch, _ in pending for e in batch]
        try:
            answers, interventions = await loop.run_in_executor(self.executor, self.process, events)
        except Exception as exc:  # the store or model failing
            if len(pending) > 1 and self.store_up is not None and \
                    await loop.run_in_executor(self.executor, self.store_up):
                log.warning("scoring a merged batch failed with the store up; each request alone",
                            extra={"requests": len(pending), "error": f"{type(exc).__name__}: {exc}"})
                for one in pending:
                    await self._serve([one])
                return
            log.exception("scoring failed")
            for _, future in pending:  # every waiting request gets a 503
                if not future.done():
                    future.set_exception(ScoringFailed(f"{type(exc).__name__}: {exc}"))
            return
        self.on_batch(answers, interventions)
        start = 0
        for batch, future in pending:
            if not future.done():  # a request that timed out has given up on its answer
                future.set_result(answers[start:start + len(batch)])
            start += len(batch)

    async def drain(self) -> None:
        """Let queued requests finish, then stop."""
        while not self.queue.empty():
            await asyncio.sleep(0.01)
        if self.task:
            self.task.cancel()
        self.executor.shutdown(wait=True)


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


def create_app(settings: ServiceSettings, parts: dict[str, Any] | None = None) -> Guard:
    """The service, wired from ``settings`` (and ``build_parts`` output, built at startup if not given)."""
    metrics = Metrics()
    parts = dict(parts) if parts is not None else {}
    app = FastAPI(title="Riskline", lifespan=_lifespan(settings, parts, metrics), docs_url=None, redoc_url=None)
    document = openapi_document(settings.max_batch, settings.api_token is not None, version("riskline"))
    app.openapi = lambda: document  # type: ignore[method-assign]
    _message_routes(app, settings, parts)
    _conversation_routes(app, parts)
    _health_routes(app, parts, metrics)
    # HEAD wherever GET is answered, as HTTP asks of a server and load balancers' health checks send (uvicorn
    # sends no body); the API document says the same (``api_doc``)
    for route in app.routes:
        if isinstance(route, APIRoute) and route.methods and "GET" in route.methods:
            route.methods.add("HEAD")
    return Guard(app, settings.api_token, metrics)


def _lifespan(settings: ServiceSettings, parts: dict[str, Any],
              metrics: Metrics) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The service's start (``parts`` built where not given, the batcher and the outbox worker started) and its
    stop (requests in hand answered, the worker stopped, the store closed)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if "model" not in parts:
            parts.update(build_parts(settings))
        model, store = parts["model"], parts["store"]
        processor, worker = hook(parts, parts["sinks"], settings)
        parts["processor"] = processor
        metrics.watch_processor(processor, worker.janitor)

        def on_batch(answers: list[dict[str, Any]], interventions: list[dict[str, Any]]) -> None:
            metrics.scored([a for a in answers if not a["duplicate"]], interventions)
            if interventions:
                worker.wake.set()

        batcher = Batcher(processor.process, on_batch, functools.partial(reachable, store))
        batcher.task = asyncio.create_task(batcher.run())
        worker.start()
        metrics.model_info(model.model_version)
        metrics.watch_outbox(store)
        parts["batcher"] = batcher
        log.info("ready", extra={"model_version": model.model_version, "sinks": [s.name for s in parts["sinks"]],
                                 "api_token": settings.api_token is not None})
        if settings.api_token is None and not loopback(settings.host):
            log.warning("no api token", extra={"host": settings.host, "detail": "anyone who reaches this port can "
                        "post messages and read conversations' risk; set --api-token (RISKLINE_API_TOKEN)"})
        try:
            yield
        finally:
            await batcher.drain()
            worker.stop()
            store.close()
            log.info("stopped")

    return lifespan


def _message_routes(app: FastAPI, settings: ServiceSettings, parts: dict[str, Any]) -> None:
    """POST /v1/messages: a batch of message events scored, each answered."""

    @app.post("/v1/messages")
    async def post_messages(request: Request) -> Response:
        try:
            events = parse_events(await read_body(request, settings.max_body_bytes), settings.max_batch)
            answers = await asyncio.wait_for(parts["batcher"].submit(events), settings.request_timeout)
        except HTTPProblem as problem:
            return JSONResponse({"detail": problem.detail}, status_code=problem.status)
        except ClientDisconnect:  # gone before its whole body came: nothing was accepted, nobody to answer
            return Response(status_code=CLIENT_GONE)
        except TimeoutError:
            return JSONResponse({"detail": "scoring timed out; retry with the same message ids"}, status_code=503)
        except ScoringFailed as exc:
            return JSONResponse({"detail": f"scoring failed ({exc}); retry with the same message ids "
                                           "(a message is never counted twice)"}, status_code=503)
        return JSONResponse({"results": [{k: a[k] for k in RESULT_FIELDS} for a in answers]})


def _conversation_routes(app: FastAPI, parts: dict[str, Any]) -> None:
    """GET and DELETE /v1/conversations/ID: a conversation's risk read, or the conversation erased."""

    # ids may hold '/': the rest of the path is the id. One route for both methods, so that a 405 there
    # allows both (and HEAD: create_app adds it).
    @app.api_route("/v1/conversations/{conversation_id:path}", methods=["GET", "DELETE"])
    async def conversation(conversation_id: str, request: Request) -> Response:
        if request.method == "DELETE":
            return await erase_conversation(conversation_id)
        return await get_conversation(conversation_id)

    async def get_conversation(conversation_id: str) -> Response:
        loop = asyncio.get_running_loop()
        try:
            found = await loop.run_in_executor(parts["batcher"].executor, parts["processor"].conversation,
                                               conversation_id)
        except Exception as exc:  # the state store failing: not the caller's fault, and worth a retry
            log.exception("reading a conversation failed")
            return JSONResponse({"detail": f"the state store could not be read ({type(exc).__name__}: {exc}); "
                                           "retry"}, status_code=503)
        if found is None:
            return JSONResponse({"detail": f"unknown conversation {shown(conversation_id, 200)}"}, status_code=404)
        return JSONResponse(found)

    async def erase_conversation(conversation_id: str) -> Response:
        loop = asyncio.get_running_loop()
        try:  # in the scoring executor, between two scoring calls: none of them is half-done meanwhile
            erased = await loop.run_in_executor(parts["batcher"].executor, parts["processor"].erase, conversation_id)
        except Exception as exc:  # the state store failing: nothing was erased (one transaction), retry
            log.exception("erasing a conversation failed")
            return JSONResponse({"detail": f"the state store could not be written ({type(exc).__name__}: {exc}); "
                                           "nothing was erased; retry"}, status_code=503)
        if not erased:
            return JSONResponse({"detail": f"unknown conversation {shown(conversation_id, 200)}"}, status_code=404)
        log.info("conversation erased")
        return JSONResponse({"conversation_id": conversation_id, "erased": True})


def _health_routes(app: FastAPI, parts: dict[str, Any], metrics: Metrics) -> None:
    """/healthz (the process answers), /readyz (the store answers too) and /metrics (Prometheus)."""

    @app.get("/healthz")
    async def healthz() -> Response:
        return JSONResponse({"status": "ok"})

    @app.get("/readyz")
    async def readyz() -> Response:
        try:
            parts["store"].ping()
        except Exception as exc:  # any store failure means: not ready
            return JSONResponse({"status": "not ready", "reason": str(exc)}, status_code=503)
        return JSONResponse({"status": "ready", "model_version": parts["model"].model_version})

    @app.get("/metrics")
    async def prometheus() -> Response:
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")


def _bearer(header: bytes) -> bytes:
    """The token of an ``Authorization: Bearer TOKEN`` header (the scheme in any case, as HTTP allows), else b""."""
    scheme, _, token = header.strip().partition(b" ")
    return token.strip() if scheme.lower() == b"bearer" else b""


class Guard:
    """Plain ASGI wrapper: bearer token check, request metrics and one JSON log line per request.

    (Starlette's ``BaseHTTPMiddleware`` costs more per request than scoring a message does.)
    """

    def __init__(self, app: FastAPI, token: str | None, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics
        self.expected = token.encode() if token else None

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, path = time.perf_counter(), scope["path"]
        route = path if path in (*OPEN_PATHS, "/v1/messages") else \
            "/v1/conversations/{id}" if path.startswith("/v1/conversations/") else "other"
        status = {"code": 500}

        async def send_and_watch(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        if self.expected and path not in OPEN_PATHS and not hmac.compare_digest(
                _bearer(dict(scope["headers"]).get(b"authorization", b"")), self.expected):
            await JSONResponse({"detail": "missing or wrong bearer token"}, status_code=401)(
                scope, receive, send_and_watch)
        else:
            await self.app(scope, receive, send_and_watch)
        elapsed = time.perf_counter() - started
        self.metrics.request(scope["method"], route, status["code"], elapsed)
        log.info("request", extra={"method": scope["method"], "route": route, "status": status["code"],
                                   "ms": round(elapsed * 1000, 2)})
