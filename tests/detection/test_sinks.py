import collections
import json
import os
import re
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from detection.client import verify_signature
from detection.outbox import OutboxWorker, backoff
from detection.sinks import AuditLogSink, WebhookSink, canonical_body, intervention_id, sign
from detection.sqlite_store import SQLiteStore
from tests.cli_helpers import file_size_limit


def test_signature_round_trip_and_tampering() -> None:
    body = canonical_body({"b": 1, "a": "x"})
    assert body == b'{"a":"x","b":1}'
    header = sign("s3cret", body)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify_signature("s3cret", body, header)
    assert not verify_signature("s3cret", body + b" ", header)
    assert not verify_signature("other", body, header)
    assert not verify_signature("s3cret", body, None)
    # as receivers' frameworks hand them over: the body decoded to text, a bytearray, the secret as bytes
    assert verify_signature("s3cret", body.decode(), header) and verify_signature(b"s3cret", bytearray(body), header)
    # a header a sender made up, outside ASCII: hmac raised TypeError ("comparing strings with non-ASCII
    # characters is not supported"), which a receiver answers with a 500
    assert not verify_signature("s3cret", body, "sha256=\u00e9" + header[8:])
    # a secret no service signs with made every delivery False, unsaid: none (a variable not set where the
    # receiver runs; an AttributeError), empty, or a secret file's line break (the service refuses that)
    for secret in (None, "", b""):
        with pytest.raises(ValueError, match=r"^no webhook secret to check the signature with \((None|''|b'')\): "
                                             r"set the receiver's copy of the service's \(RISKLINE_WEBHOOK_SECRET\)$"):
            verify_signature(secret, body, header)  # type: ignore[arg-type]
    for secret in ("s3cret\n", b"s3cret\r\n", " s3cret"):
        with pytest.raises(ValueError, match=r"^the webhook secret has white space or a line break at an end"):
            verify_signature(secret, body, header)


def test_intervention_ids_are_stable_and_distinct() -> None:
    assert intervention_id("c1", "high") == intervention_id("c1", "high")
    assert len({intervention_id("c1", "high"), intervention_id("c1", "critical"), intervention_id("c2", "high")}) == 3
    # a conversation erased and started again (its first message later) raises under new ids
    opened = 1_700_000_000.25
    assert intervention_id("c1", "high", opened) == intervention_id("c1", "high", 1_700_000_000.25)
    assert len({intervention_id("c1", "high"), intervention_id("c1", "high", opened),
                intervention_id("c1", "high", opened + 604_800)}) == 3
    # the same ids from one release to the next: an intervention raised again by a replay, or by a service
    # upgraded while its receiver de-duplicates, keeps the id the receiver has seen
    assert intervention_id("c1", "high") == "3f0a3fe6-0618-512f-8028-00f0c083ee6c"
    assert intervention_id("c1", "high", opened) == "a2834ea7-e4ff-5505-8c5e-d3b538be4078"


def test_loopback_is_this_machine_alone() -> None:
    """Where a webhook or the service's port is out of the network's reach: loopback addresses, bracketed or not
    (as a URL or ``--host [::1]`` writes IPv6), and the name localhost; any other name or address is not."""
    from detection.sinks import loopback

    assert [loopback(h) for h in ("127.0.0.1", "127.8.0.3", "::1", "[::1]", "localhost")] == [True] * 5
    assert [loopback(h) for h in ("0.0.0.0", "::", "10.0.0.5", "[fd00::5]", "localhost.example.org", "app", "")] \
        == [False] * 7


def test_backoff_doubles_with_jitter_up_to_a_cap() -> None:
    assert backoff(0, rng=lambda: 0.5) == 0.5 and backoff(3, rng=lambda: 0.5) == 4.0
    assert backoff(30, rng=lambda: 0.5) == 300.0
    assert backoff(0, rng=lambda: 0.0) >= 0.25 and backoff(0, rng=lambda: 0.999) < 0.75


class FlakySink:
    name = "flaky"

    def __init__(self, failures: int) -> None:
        self.failures, self.calls = failures, []  # type: list[dict[str, Any]]

    def deliver(self, payload: dict[str, Any]) -> None:
        self.calls.append(payload)
        if len(self.calls) <= self.failures:
            raise ConnectionError("receiver down")


def test_an_audit_log_that_cannot_be_written_is_refused_at_start(tmp_path: Path) -> None:
    """A folder, or a file without write permission (as a read-only mount gives): the service started and said
    ready, and every intervention then failed to reach the log, retried for ever. The sink now refuses it when
    made, naming it; a log that can be written is made empty then."""
    (tmp_path / "logs").mkdir()
    with pytest.raises(ValueError, match=rf"^audit log {re.escape(str(tmp_path / 'logs'))}: a folder; name a file"):
        AuditLogSink(tmp_path / "logs")
    locked = tmp_path / "locked.jsonl"
    locked.write_text("")
    locked.chmod(0o444)
    if os.access(locked, os.W_OK):  # root, whom permissions do not bind: a file of the kernel's no one may write
        locked = Path("/sys/kernel/notes")
    said = rf"^audit log {re.escape(str(locked))}: cannot be written \(Permission denied\)$"
    with pytest.raises(ValueError, match=said):
        AuditLogSink(locked)
    with pytest.raises(ValueError, match=rf"^audit log {re.escape(str(tmp_path / 'no' / 'a.jsonl'))}: folder "
                                         rf"{re.escape(str(tmp_path / 'no'))} does not exist$"):
        AuditLogSink(tmp_path / "no" / "a.jsonl")
    AuditLogSink(tmp_path / "logs" / "audit.jsonl")
    assert (tmp_path / "logs" / "audit.jsonl").read_bytes() == b""


def test_an_audit_line_cut_short_by_a_full_disk_is_taken_back(tmp_path: Path) -> None:
    """The disk fills part-way through a line (a real file-size limit: the kernel writes what fits, then
    refuses): the part written is cut back off, so the retry's line does not follow half of it."""
    audit, path = AuditLogSink(tmp_path / "audit.jsonl"), tmp_path / "audit.jsonl"
    audit.deliver({"intervention_id": "first", "level": "high"})
    size = path.stat().st_size
    with file_size_limit(size + 40), pytest.raises(OSError, match="File too large"):  # room for part of a line
        audit.deliver({"intervention_id": "second", "level": "critical", "note": "x" * 100})
    assert path.stat().st_size == size
    audit.deliver({"intervention_id": "second", "level": "critical", "note": "x" * 100})  # the outbox's retry
    assert [json.loads(line)["intervention_id"] for line in path.read_text().splitlines()] == ["first", "second"]


def test_a_line_cut_short_after_another_writer_appended_is_left_whole(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Two services appending to one audit log: where another's line came after the part of this one written,
    cutting back would take the other's line too, so the part is left (a line a reader finds broken, none lost)."""
    path = tmp_path / "audit.jsonl"
    audit = AuditLogSink(path)
    audit.deliver({"intervention_id": "first"})
    real_write = os.write

    def cut_short(fd: int, data: bytes) -> int:  # half the line goes in, another writer's line lands, then no room
        if fd not in calls:
            calls.add(fd)
            done = real_write(fd, data[: len(data) // 2])
            other = os.open(path, os.O_WRONLY | os.O_APPEND)
            real_write(other, b'{"intervention_id": "other"}\n')
            os.close(other)
            return done
        raise OSError(28, "No space left on device")

    calls: set[int] = set()
    monkeypatch.setattr(os, "write", cut_short)
    with pytest.raises(OSError, match="No space left"):
        audit.deliver({"intervention_id": "second", "note": "x" * 100})
    monkeypatch.undo()
    lines = path.read_text().splitlines()
    assert json.loads(lines[0])["intervention_id"] == "first" and len(lines) == 2
    assert lines[1].startswith('{"intervention_id": "second"') and lines[1].endswith('x{"intervention_id": "other"}')


def test_only_configured_sinks_are_loaded(tmp_path: Path) -> None:
    from detection.settings import ServiceSettings
    from detection.sinks import load_sinks

    assert load_sinks(ServiceSettings()) == []
    sinks = load_sinks(ServiceSettings(audit_log=str(tmp_path / "a.jsonl"), webhook_url="https://hooks.example.org/r",
                                       webhook_secret="s3cret"))
    assert sorted(type(s).__name__ for s in sinks) == ["AuditLogSink", "WebhookSink"]


def test_worker_retries_until_delivered_and_audit_log_gets_each_once(tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    flaky, audit = FlakySink(failures=2), AuditLogSink(tmp_path / "audit.jsonl")
    payload = {"intervention_id": "i1", "conversation_id": "c1", "level": "high"}
    store.commit([], [], [payload], ["flaky", "audit_log"])
    worker = OutboxWorker(store, [flaky, audit], poll=0.02, base_delay=0.05)
    with caplog.at_level("WARNING", logger="riskline.sinks"):
        worker.start()
        deadline = time.time() + 10
        while store.outbox_stats()[0] and time.time() < deadline:
            time.sleep(0.05)
        worker.stop()
    assert store.outbox_stats()[0] == 0
    assert [c["intervention_id"] for c in flaky.calls] == ["i1", "i1", "i1"]
    # each failure is logged with why, as an operator reading the log needs (the store keeps only the last)
    assert [(r.getMessage(), r.__dict__["attempt"], r.__dict__["error"]) for r in caplog.records] == [
        ("delivery failed", attempt, "ConnectionError: receiver down") for attempt in (1, 2)]
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    assert [json.loads(line)["intervention_id"] for line in lines] == ["i1"]


class SlowSink:
    """A receiver that takes ``seconds`` a call; counts calls per intervention, shared by every worker."""

    name = "webhook"

    def __init__(self, seconds: float, calls: collections.Counter[str], lock: threading.Lock) -> None:
        self.seconds, self.calls, self.lock, self.mine = seconds, calls, lock, 0

    def deliver(self, payload: dict[str, Any]) -> None:
        time.sleep(self.seconds)
        with self.lock:
            self.calls[payload["intervention_id"]] += 1
            self.mine += 1


@pytest.mark.parametrize("kind", ["redis", "postgres"])
def test_replicas_share_a_backlog_without_sending_a_row_twice(kind: str, request: pytest.FixtureRequest,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker claims only what it can send at once: claimed rows that waited behind slower ones outlived
    their lease and went to the other replica as well (12 of 60 sent twice here when a worker claimed 100)."""
    if kind == "redis":
        import detection.redis_store as module
        from detection.redis_store import RedisStore

        url, prefix = request.getfixturevalue("redis_url"), f"w{uuid.uuid4().hex[:8]}:"
        a, b = RedisStore(url, prefix=prefix), RedisStore(url, prefix=prefix)
    else:
        import detection.postgres_store as module  # type: ignore[no-redef]
        from detection.postgres_store import PostgresStore

        url, prefix = request.getfixturevalue("postgres_url"), f"w{uuid.uuid4().hex[:8]}_"
        a, b = PostgresStore(url, prefix=prefix), PostgresStore(url, prefix=prefix)
    # a 0.4 s receiver, 8 at a time: a wave in 0.4 s. A worker claiming all 60 would still be sending its last
    # waves at 2.8-3.2 s, past the lease; one claiming a wave at a time is 2 s within it (1 s, and a loaded test
    # machine's pause sent a wave twice)
    monkeypatch.setattr(module, "LEASE_SECONDS", 2.5)
    a.commit([], [], [{"intervention_id": f"i{k}", "conversation_id": f"c{k}", "level": "high"}
                      for k in range(60)], ["webhook"])
    calls: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()
    sinks = SlowSink(0.4, calls, lock), SlowSink(0.4, calls, lock)
    workers = OutboxWorker(a, [sinks[0]], poll=0.02), OutboxWorker(b, [sinks[1]], poll=0.02)
    for worker in workers:
        worker.start()
    deadline = time.time() + 20
    while a.outbox_stats()[0] and time.time() < deadline:
        time.sleep(0.05)
    for worker in workers:
        worker.stop()
    assert a.outbox_stats()[0] == 0
    assert sorted(calls) == sorted(f"i{k}" for k in range(60))
    assert [k for k, n in calls.items() if n > 1] == []
    assert sinks[0].mine > 0 and sinks[1].mine > 0  # both replicas took part


class HungSink:
    """A webhook whose receiver hangs until ``release`` is set."""

    name = "webhook"

    def __init__(self) -> None:
        self.release, self.started = threading.Event(), collections.Counter[str]()

    def deliver(self, payload: dict[str, Any]) -> None:
        self.started[payload["intervention_id"]] += 1
        assert self.release.wait(30), "never released"


def test_a_hung_receiver_holds_its_own_threads_and_the_other_sinks_go_on(tmp_path: Path) -> None:
    """Before, the worker claimed a wave of rows and waited for all of it: one hung webhook held up the
    audit log's rows in its wave and every row after it."""
    store = SQLiteStore(tmp_path / "s.db")
    hung, audit = HungSink(), AuditLogSink(tmp_path / "audit.jsonl")
    for k in range(3):
        store.commit([], [], [{"intervention_id": f"i{k}", "conversation_id": f"c{k}", "level": "high"}],
                     ["webhook", "audit_log"])
    worker = OutboxWorker(store, [hung, audit], poll=0.02, parallel=4)
    worker.start()
    deadline = time.time() + 10
    written: list[str] = []
    while time.time() < deadline and len(written) < 3:
        time.sleep(0.05)
        written = (tmp_path / "audit.jsonl").read_text().splitlines() if (tmp_path / "audit.jsonl").exists() else []
    assert sorted(json.loads(line)["intervention_id"] for line in written) == ["i0", "i1", "i2"]
    assert store.outbox_stats()[0] == 3 and sorted(hung.started) == ["i0", "i1", "i2"]  # all three hang
    hung.release.set()
    worker.stop()
    assert store.outbox_stats()[0] == 0 and set(hung.started.values()) == {1}  # each sent once


def test_a_freed_thread_takes_the_next_due_row_at_once_not_at_the_next_poll(tmp_path: Path) -> None:
    """One delivery thread, a backlog of five and a poll of a minute: each delivery ending claims the next, so
    the backlog goes in about five deliveries' time, not five polls'."""
    store = SQLiteStore(tmp_path / "s.db")
    store.commit([], [], [{"intervention_id": f"i{k}", "conversation_id": f"c{k}", "level": "high"} for k in range(5)],
                 ["webhook"])
    calls: collections.Counter[str] = collections.Counter()
    worker = OutboxWorker(store, [SlowSink(0.05, calls, threading.Lock())], poll=60, parallel=1)
    worker.start()
    deadline = time.time() + 10
    while store.outbox_stats()[0] and time.time() < deadline:
        time.sleep(0.02)
    left = store.outbox_stats()[0]
    worker.stop(drain_seconds=0)
    assert left == 0 and sorted(calls) == [f"i{k}" for k in range(5)]


def test_a_row_for_a_sink_no_longer_configured_waits_for_it(tmp_path: Path) -> None:
    """A service started again without its webhook (a setting lost in a redeploy) keeps that sink's rows,
    looking at them again each minute, and delivers them once the sink is back: neither marked sent nor lost."""
    store = SQLiteStore(tmp_path / "s.db")
    payload = {"intervention_id": "i1", "conversation_id": "c1", "level": "high"}
    store.commit([], [], [payload], ["flaky", "audit_log"])
    worker = OutboxWorker(store, [AuditLogSink(tmp_path / "audit.jsonl")], poll=0.02)
    worker.start()
    worker.stop()  # what is due is delivered by the drain at stop, if not before
    assert len((tmp_path / "audit.jsonl").read_text().splitlines()) == 1
    assert store.outbox_stats()[0] == 1 and store.due(time.time(), 10) == []  # kept, not due again at once
    [item] = store.due(time.time() + 61, 10)
    assert (item.sink, item.attempts, item.payload) == ("flaky", 1, payload)
    back = FlakySink(failures=0)
    OutboxWorker(store, [back], poll=0.02)._deliver(item)  # the sink configured again, the row due
    assert back.calls == [payload] and store.outbox_stats()[0] == 0


def test_stopping_while_the_store_is_down_keeps_what_is_due(tmp_path: Path,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    """Shutting down during a store outage (SIGTERM while the database restarts) neither raises nor
    loses the undelivered rows: the next start delivers them. The outage is said as one line, as in the
    worker's passes, not a traceback at error level."""
    store = SQLiteStore(tmp_path / "s.db")
    store.commit([], [], [{"intervention_id": "i1", "conversation_id": "c1", "level": "high"}], ["audit_log"])
    worker = OutboxWorker(store, [AuditLogSink(tmp_path / "audit.jsonl")], poll=0.02)
    store.close()  # the store goes away before the worker's first pass
    worker.start()
    worker.stop()
    [said] = [r for r in caplog.records if r.getMessage().startswith("outbox drain at stop failed")]
    assert (said.levelname, said.exc_info, said.__dict__["error"]) == (
        "WARNING", None, "ProgrammingError: Cannot operate on a closed database.")
    again = SQLiteStore(tmp_path / "s.db")
    assert again.outbox_stats()[0] == 1
    restarted = OutboxWorker(again, [AuditLogSink(tmp_path / "audit.jsonl")], poll=0.02)
    restarted.start()
    restarted.stop()  # what is due is delivered by the drain at stop, if not before
    assert again.outbox_stats()[0] == 0


def test_a_webhook_over_plain_http_beyond_this_machine_is_warned_of(caplog: pytest.LogCaptureFixture) -> None:
    """The signature proves who sent an intervention but hides nothing of it: sent over http to another
    machine, its conversation, suspect and message ids cross the network in clear."""
    warned = {}
    for url in ("http://hooks.example.org/riskline", "http://10.0.0.5:8000/r", "https://hooks.example.org/riskline",
                "http://127.0.0.1:9000/r", "http://localhost/r", "http://[::1]:9000/r",
                "http://app:pw@hooks.example.org/services/T0/B0/tok3n?key=k3y", "http://[fd00::5]:81/r"):
        caplog.clear()
        with caplog.at_level("WARNING", logger="riskline.sinks"):
            WebhookSink(url, "s3cret")
        warned[url] = [(r.getMessage(), r.__dict__["to"]) for r in caplog.records]
    assert warned == {"http://hooks.example.org/riskline": [("webhook over plain http", "hooks.example.org:80")],
                      "http://10.0.0.5:8000/r": [("webhook over plain http", "10.0.0.5:8000")],
                      "https://hooks.example.org/riskline": [],
                      "http://127.0.0.1:9000/r": [], "http://localhost/r": [], "http://[::1]:9000/r": [],
                      # a path, query or password may be the webhook's secret: only where it goes is logged
                      "http://app:pw@hooks.example.org/services/T0/B0/tok3n?key=k3y": [
                          ("webhook over plain http", "hooks.example.org:80")],
                      "http://[fd00::5]:81/r": [("webhook over plain http", "[fd00::5]:81")]}


def test_a_webhook_secret_without_a_url_is_warned_of(caplog: pytest.LogCaptureFixture) -> None:
    """A secret with no URL signs nothing: the URL was left out or misspelt, and no intervention would reach the
    webhook. The service starts (its interventions are still kept), saying so; a URL without a secret is refused."""
    from detection.settings import ServiceSettings
    from detection.sinks import webhook_sink

    said = {}
    both = {"webhook_url": "https://hooks.example.org/r", "webhook_secret": "s"}
    for given in ({"webhook_secret": "s3cret"}, {}, both):
        caplog.clear()
        with caplog.at_level("WARNING", logger="riskline.sinks"):
            sink = webhook_sink(ServiceSettings(**given))
        said[tuple(given)] = (type(sink).__name__, [r.getMessage() for r in caplog.records])
    assert said == {("webhook_secret",): ("NoneType", ["webhook secret without a webhook url"]), (): ("NoneType", []),
                    ("webhook_url", "webhook_secret"): ("WebhookSink", [])}
    with pytest.raises(ValueError, match="--webhook-url needs --webhook-secret"):
        webhook_sink(ServiceSettings(webhook_url="https://hooks.example.org/r"))


class RawReceiver:
    """A webhook receiver on a bare socket that answers each request with ``answer``: its first ``first`` bytes
    at once, then ``step`` bytes at a time with ``pause`` seconds between. It counts requests and connections."""

    def __init__(self, answer: bytes, step: int = 1, pause: float = 0.0, first: int = 0) -> None:
        self.answer, self.step, self.pause, self.first = answer, step, pause, first
        self.connections, self.requests = 0, 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._done = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._done.is_set():
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            buffer = b""
            while not self._done.is_set():
                while b"\r\n\r\n" not in buffer:
                    try:
                        data = conn.recv(65536)
                    except OSError:  # the client cut the connection off (reset) while this waited
                        return
                    if not data:
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
                while len(buffer) < length:
                    buffer += conn.recv(65536)
                buffer = buffer[length:]
                self.requests += 1
                try:
                    conn.sendall(self.answer[:self.first])
                    for at in range(self.first, len(self.answer), self.step):
                        if self._done.is_set():
                            return
                        conn.sendall(self.answer[at:at + self.step])
                        time.sleep(self.pause)
                except OSError:  # the client gave up and closed
                    return

    def close(self) -> None:
        self._done.set()
        self._server.close()


PAYLOAD = {"intervention_id": "i1", "conversation_id": "c1", "level": "high"}


@pytest.mark.parametrize("trickled", ["status line", "body"])
def test_a_receiver_that_trickles_its_answer_is_cut_off_at_the_timeout(trickled: str) -> None:
    """httpx's timeout is per network read: a receiver sending a byte every 0.2 s never reached a 1 s timeout,
    and held a delivery thread for as long as it went on (here about 12 s). The timeout now bounds the call."""
    body = b"x" * 50
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
    receiver = RawReceiver(head + body, step=1, pause=0.2, first=0 if trickled == "status line" else len(head))
    sink = WebhookSink(f"http://127.0.0.1:{receiver.port}/hook", "s3cret", timeout=1.0)
    try:
        started = time.monotonic()
        with pytest.raises(httpx.TimeoutException):
            sink.deliver(PAYLOAD)
        assert 0.9 < time.monotonic() - started < 3.0
    finally:
        receiver.close()


def test_only_a_2xx_answer_is_a_delivery_and_redirects_are_not_followed() -> None:
    """The contract's "retried until a 2xx": a receiver's 4xx (a wrong path, a rotated token, rate limiting),
    5xx or redirect leaves the intervention in the outbox (``deliver`` raises, naming the status). A redirect
    is not followed, as it could send the intervention somewhere the deployment never named."""
    elsewhere = RawReceiver(b"HTTP/1.1 204 No Content\r\n\r\n")
    said = {}
    for status in (200, 201, 202, 204, 301, 307, 400, 401, 404, 429, 500, 503):
        receiver = RawReceiver(b"HTTP/1.1 %d Whatever\r\nLocation: http://127.0.0.1:%d/hook\r\n"
                               b"Content-Length: 0\r\n\r\n" % (status, elsewhere.port), step=1024)
        try:
            WebhookSink(f"http://127.0.0.1:{receiver.port}/hook", "s3cret", timeout=2.0).deliver(PAYLOAD)
            said[status] = "delivered"
        except RuntimeError as exc:
            said[status] = str(exc)
        finally:
            receiver.close()
    elsewhere.close()
    assert said == {status: "delivered" if status < 300 else f"webhook answered {status}" for status in said}
    assert elsewhere.requests == 0


def test_the_timeout_is_for_each_call_and_an_answer_read_whole_keeps_the_connection() -> None:
    """Calls one after another each get the whole timeout, and a short answer is read to its end so the
    next call goes over the same connection; a long one is left unread (only its status counts)."""
    receiver = RawReceiver(b"HTTP/1.1 204 No Content\r\n\r\n", step=1, pause=0.01)  # about 0.3 s a call
    sink = WebhookSink(f"http://127.0.0.1:{receiver.port}/hook", "s3cret", timeout=1.0)
    try:
        for _ in range(5):
            sink.deliver(PAYLOAD)  # 1.4 s in all: a deadline left over from an earlier call would cut one
        assert (receiver.requests, receiver.connections) == (5, 1)
    finally:
        receiver.close()
    big = RawReceiver(b"HTTP/1.1 200 OK\r\nContent-Length: 50000000\r\n\r\n" + b"x" * 200_000, step=65536)
    sink = WebhookSink(f"http://127.0.0.1:{big.port}/hook", "s3cret", timeout=1.0)
    try:
        sink.deliver(PAYLOAD)  # 200 with 50 MB promised and 200 KB sent: delivered, not waited on
        sink.deliver(PAYLOAD)
        assert (big.requests, big.connections) == (2, 2)  # the unread answer's connection was not reused
    finally:
        big.close()


def test_a_trickling_proxy_from_the_environment_is_cut_off_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """Deliveries through a proxy named in HTTPS_PROXY / HTTP_PROXY go through httpx's proxy pool, not its
    direct one: that pool is bounded by the whole-call timeout as well."""
    receiver = RawReceiver(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", step=1, pause=0.2)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{receiver.port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    sink = WebhookSink("http://hooks.example.org/riskline", "s3cret", timeout=1.0)
    try:
        started = time.monotonic()
        with pytest.raises(httpx.TimeoutException):
            sink.deliver(PAYLOAD)
        assert 0.9 < time.monotonic() - started < 3.0 and receiver.requests == 1  # it reached the proxy
    finally:
        receiver.close()


def test_a_name_lookup_that_does_not_answer_is_cut_off_at_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """``socket.getaddrinfo`` takes no timeout: a resolver that did not answer held a delivery past the webhook's
    timeout for as long as it retried (here 10 s, standing in for a resolver this machine cannot make slow). A
    name is now looked up on a thread of its own within the call's time, then its addresses tried in turn."""
    receiver = RawReceiver(b"HTTP/1.1 204 No Content\r\n\r\n")
    real = socket.getaddrinfo
    lookups: collections.Counter[str] = collections.Counter()

    def resolver(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        lookups[host] += 1
        if host == "hooks.slow-resolver.example":
            time.sleep(10)
        if host == "hooks.nowhere.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if host == "hooks.two-addresses.example":  # the first refuses: the receiver listens on 127.0.0.1 only
            return [info for name in ("127.0.0.2", "127.0.0.1") for info in real(name, *args, **kwargs)]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    try:
        sink = WebhookSink(f"http://hooks.slow-resolver.example:{receiver.port}/hook", "s3cret", timeout=1.0)
        started = time.monotonic()
        with pytest.raises(httpx.ConnectTimeout, match=r"looking up hooks\.slow-resolver\.example"):
            sink.deliver(PAYLOAD)
        assert 0.9 < time.monotonic() - started < 2.0 and receiver.requests == 0
        WebhookSink(f"http://localhost:{receiver.port}/hook", "s3cret", timeout=1.0).deliver(PAYLOAD)
        WebhookSink(f"http://hooks.two-addresses.example:{receiver.port}/hook", "s3cret").deliver(PAYLOAD)
        assert receiver.requests == 2 and lookups["localhost"] == 1 and lookups["hooks.two-addresses.example"] == 1
        with pytest.raises(httpx.ConnectError, match=r"looking up hooks\.nowhere\.invalid"):
            WebhookSink("http://hooks.nowhere.invalid/hook", "s3cret", timeout=1.0).deliver(PAYLOAD)
    finally:
        receiver.close()
