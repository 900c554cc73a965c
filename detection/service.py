"""``riskline serve``: the HTTP edge around the real-time hook (``detection.processor``).

Requests are validated with the same code as batch input (``http_body``), then queued to one worker
thread that scores whatever has queued up at once (``batcher``: natural micro-batching, no added wait
when idle, larger batches under load) and commits it. One worker means updates to a conversation
never race.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, MutableMapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from importlib.metadata import version
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect

from detection.api_doc import openapi_document
from detection.batcher import Batcher, ScoringFailed
from detection.events import EventError, conversation_key, shown
from detection.http_body import HTTPProblem, parse_events, read_body
from detection.logs import Throttled
from detection.metrics import Metrics
from detection.processor import build_parts, hook
from detection.settings import ServiceSettings
from detection.sinks import loopback
from detection.store import not_ready, reachable, warn_if_not_ready

log = logging.getLogger("riskline.service")
OPEN_PATHS = ("/healthz", "/readyz", "/metrics")
RESULT_FIELDS = ("conversation_id", "message_id", "risk_score", "risk_level", "stage", "intervention", "duplicate")
CLIENT_GONE = 499  # nginx's status for a client that closed the request before it was answered: logs and metrics
# A caller's X-Request-Id is kept where it is visible ASCII of at most 200 characters (as proxies and load balancers
# make them); any other, or none, is replaced by a new one. Either way the answer carries it and its log line names it.
REQUEST_ID = re.compile(rb"[\x21-\x7e]{1,200}")


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
        warn_if_not_ready(store, log, "messages get 503 until it answers and takes writes; /readyz says when")
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
    reading_failed = Throttled(log, "reading a conversation failed")
    erasing_failed = Throttled(log, "erasing a conversation failed")

    # ids may hold '/': the rest of the path is the id. One route for both methods, so that a 405 there
    # allows both (and HEAD: create_app adds it).
    @app.api_route("/v1/conversations/{conversation_id:path}", methods=["GET", "DELETE"])
    async def conversation(conversation_id: str, request: Request) -> Response:
        try:  # as its messages' ids are held (trimmed)
            conversation_id = conversation_key(conversation_id)
        except EventError as exc:  # no message could have it: unknown, as any other id never sent
            return JSONResponse({"detail": f"unknown conversation {shown(conversation_id, 200)} (no message could "
                                           f"have that id: {exc.reason})"}, status_code=404)
        if request.method == "DELETE":
            return await erase_conversation(conversation_id)
        return await get_conversation(conversation_id)

    async def get_conversation(conversation_id: str) -> Response:
        loop = asyncio.get_running_loop()
        try:
            found = await loop.run_in_executor(parts["batcher"].executor, parts["processor"].conversation,
                                               conversation_id)
        except Exception as exc:  # the state store failing: not the caller's fault, and worth a retry
            reading_failed.failed(exc)
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
            erasing_failed.failed(exc)
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
        if (reason := not_ready(parts["store"])) is not None:  # it does not answer, or takes no writes
            return JSONResponse({"status": "not ready", "reason": reason}, status_code=503)
        return JSONResponse({"status": "ready", "model_version": parts["model"].model_version})

    @app.get("/metrics")
    async def prometheus() -> Response:
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")


def request_id(given: bytes | None) -> bytes:
    """The caller's ``X-Request-Id`` where it is one to keep (``REQUEST_ID``), else a new one."""
    return given if given is not None and REQUEST_ID.fullmatch(given) else uuid.uuid4().hex.encode()


def _bearer(header: bytes) -> bytes:
    """The token of an ``Authorization: Bearer TOKEN`` header (the scheme in any case, as HTTP allows), else b""."""
    scheme, _, token = header.strip().partition(b" ")
    return token.strip() if scheme.lower() == b"bearer" else b""


class Guard:
    """Plain ASGI wrapper: bearer token check, request metrics, a request id (``X-Request-Id``, the caller's or a
    new one, sent back with the answer) and one JSON log line per request naming it.

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
        headers = dict(scope["headers"])
        rid = request_id(headers.get(b"x-request-id"))

        async def send_and_watch(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", rid)]
            await send(message)

        try:
            if self.expected and path not in OPEN_PATHS and not hmac.compare_digest(
                    _bearer(headers.get(b"authorization", b"")), self.expected):
                await JSONResponse({"detail": "missing or wrong bearer token"}, status_code=401)(
                    scope, receive, send_and_watch)
            else:
                await self.app(scope, receive, send_and_watch)
        finally:  # a fault answered 500 is raised on after the answer (Starlette): counted and logged all the same
            elapsed = time.perf_counter() - started
            self.metrics.request(scope["method"], route, status["code"], elapsed)
            log.info("request", extra={"method": scope["method"], "route": route, "status": status["code"],
                                       "ms": round(elapsed * 1000, 2), "request_id": rid.decode()})
