"""Prometheus metrics for the service, in a registry of its own."""

from __future__ import annotations

import errno
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from detection.store import Janitor, StateStore

if TYPE_CHECKING:  # the processor imports the model; metrics are served before it loads
    from detection.processor import Processor

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
SCORE_BUCKETS = (0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)


class Metrics:
    """Request, scoring, intervention and outbox metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("riskline_http_requests", "HTTP requests", ["method", "route", "status"], registry=r)
        self.latency = Histogram("riskline_http_request_duration_seconds", "Request latency", ["route"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.messages = Counter("riskline_messages_scored", "Messages scored (duplicates excluded)", registry=r)
        self.scores = Histogram("riskline_risk_score", "Risk score after each scored message",
                                buckets=SCORE_BUCKETS, registry=r)
        self.interventions = Counter("riskline_interventions", "Interventions raised", ["level"], registry=r)
        self.outbox_depth = Gauge("riskline_outbox_depth", "Undelivered outbox rows", registry=r)
        self.outbox_age = Gauge("riskline_outbox_oldest_age_seconds", "Age of the oldest undelivered row",
                                registry=r)
        self.model = Gauge("riskline_model_info", "The model being served", ["model_version"], registry=r)
        self.store_up = Gauge("riskline_state_store_up", "1 if the state store answered the last scrape and takes "
                              "writes (not a replica or standby), else 0", registry=r)
        self.evidence_restarts = Counter(
            "riskline_evidence_restarts", "Conversations whose running evidence another model gave, set aside "
            "(--on-model-change restart)", registry=r)
        self.forgotten = Counter("riskline_answers_forgotten", "Answers kept to recognise resends, forgotten after "
                                 "--dedup-hours idle (Redis counts conversations)", registry=r)
        self.retired = Counter("riskline_conversations_retired", "Conversations erased after --retention-days idle",
                               registry=r)
        self._store: StateStore | None = None
        self._processor: Processor | None = None
        self._janitor: Janitor | None = None
        self._counted: dict[Counter, int] = {}

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def scored(self, answers: list[dict[str, Any]], interventions: list[dict[str, Any]]) -> None:
        self.messages.inc(len(answers))
        for answer in answers:
            self.scores.observe(answer["risk_score"])
        for intervention in interventions:
            self.interventions.labels(intervention["level"]).inc()

    def model_info(self, version: str) -> None:
        self.model.labels(version).set(1)

    def watch_outbox(self, store: StateStore) -> None:
        self._store = store

    def watch_processor(self, processor: Processor, janitor: Janitor | None = None) -> None:
        """Count what ``processor`` counts (its ``evidence_restarts``) and what ``janitor`` counts (answers
        forgotten, conversations retired) at each scrape."""
        self._processor, self._janitor = processor, janitor

    def _catch_up(self, counter: Counter, total: int) -> None:
        if new := total - self._counted.get(counter, 0):
            counter.inc(new)
            self._counted[counter] = total

    def render(self) -> bytes:
        if self._processor is not None:
            self._catch_up(self.evidence_restarts, self._processor.evidence_restarts)
        if self._janitor is not None:
            self._catch_up(self.forgotten, self._janitor.forgotten)
            self._catch_up(self.retired, self._janitor.retired)
        if self._store is not None:
            try:
                self._store.ping()  # as /readyz: a replica answers the outbox's read, and refuses every message
                depth, oldest = self._store.outbox_stats()
            except Exception:  # the store down: the other metrics matter most now; the outbox's stay as last seen
                self.store_up.set(0)
            else:
                self.store_up.set(1)
                self.outbox_depth.set(depth)
                self.outbox_age.set(time.time() - oldest if oldest is not None else 0.0)
        return generate_latest(self.registry)


class StreamMetrics(Metrics):
    """A stream worker's metrics: the service's scoring, intervention and outbox ones, plus its records
    rejected, batches tried again while the store failed, consumer lag by partition and erasures."""

    def __init__(self) -> None:
        super().__init__()
        r = self.registry
        self.rejected = Counter("riskline_stream_records_rejected", "Records that are not valid events",
                                registry=r)
        self.retries = Counter("riskline_stream_batch_retries", "Batches tried again (the state store failing)",
                               registry=r)
        self.lag = Gauge("riskline_stream_lag_messages", "Records on the partition not yet committed",
                         ["topic", "partition"], registry=r)
        self.erasures = Counter("riskline_stream_erasures", "Tombstones applied: conversations erased, or unknown",
                                ["outcome"], registry=r)


def serve_metrics(metrics: Metrics, host: str, port: int) -> ThreadingHTTPServer:
    """``GET /metrics`` (Prometheus text) and ``GET /healthz`` on ``host``:``port``, from a daemon thread;
    ``shutdown()`` the server to stop. An address that cannot be bound is an ``OSError`` naming it."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                body, kind = metrics.render(), "text/plain; version=0.0.4"
            elif self.path == "/healthz":
                body, kind = b'{"status":"ok"}', "application/json"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:  # scrapes are not worth a log line each
            pass

    try:
        server = ThreadingHTTPServer((host, port), Handler)
    except OSError as exc:  # said as ``riskline serve`` says its own port's
        reason = "the port is in use (another server, or --metrics-port to choose one)" \
            if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
        raise OSError(f"--metrics-port {port}: cannot listen on {host}:{port}: {reason}") from None
    threading.Thread(target=server.serve_forever, name="riskline-metrics", daemon=True).start()
    return server
