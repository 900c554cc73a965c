"""The state-store contract, run against every store: SQLite, a real Redis and a real PostgreSQL."""

import contextlib
import json
import logging
import os
import pty
import random
import re
import signal
import sqlite3
import string
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from detection.events import MAX_ID_BYTES, MessageEvent, to_event
from detection.model import RiskModel
from detection.policy import EscalationPolicy
from detection.processor import Processor, load_history
from detection.scoring import score_conversations
from detection.sqlite_store import SQLiteStore
from detection.state import ConversationState
from detection.store import (
    Conversation,
    Janitor,
    StateStore,
    StoreConflict,
    check_store_url,
    not_ready,
    open_store,
    refuses_writes,
)
from tests.cli_helpers import RISKLINE, riskline
from tests.conftest import write_jsonl
from tests.service_helpers import wait_until
from training.synth.generator import generate

Factory = Callable[[], StateStore]


@pytest.fixture(params=["sqlite", "redis", "postgres"])
def reopen(request: pytest.FixtureRequest, tmp_path: Path) -> Factory:
    """Opens the same store afresh on each call (as a restarted process would)."""
    if request.param == "sqlite":
        return lambda: open_store(f"sqlite:///{tmp_path / 's.db'}")
    if request.param == "postgres":
        from detection.postgres_store import PostgresStore

        url, prefix = request.getfixturevalue("postgres_url"), f"t{uuid.uuid4().hex[:8]}_"
        return lambda: PostgresStore(url, prefix=prefix)
    from detection.redis_store import RedisStore

    url, prefix = request.getfixturevalue("redis_url"), f"t{uuid.uuid4().hex[:8]}:"
    return lambda: RedisStore(url, prefix=prefix)


def _intervention(cid: str, level: str) -> dict[str, object]:
    return {"intervention_id": f"{cid}-{level}", "conversation_id": cid, "level": level}


def test_commit_is_durable_across_reopen(reopen: Factory) -> None:
    store = reopen()
    state = ConversationState("c1", n_messages=2, sender_mass=(("a", 5),), evidence=((9, 1, "m1"),),
                              evidence_key="0123abcd", restarted_at=1, earlier_stage_max=(9, 0, 0, 40000, 0, 0))
    store.commit([Conversation(state, "high", frozenset({"high"}))], [("c1", "m1", {"risk_score": 0.5})],
                 [_intervention("c1", "high")], ["webhook", "audit_log"])
    store.close()
    again = reopen()
    assert again.load(["c1", "nope"]) == {"c1": Conversation(state, "high", frozenset({"high"}))}
    assert again.answered([("c1", "m1"), ("c1", "m2")]) == {("c1", "m1"): {"risk_score": 0.5}}
    assert again.outbox_stats()[0] == 2
    assert [i["intervention_id"] for i in again.interventions("c1")] == ["c1-high"]
    # answers and states read together, as the processor reads them (one round trip to a server)
    assert again.read([("c1", "m1"), ("c1", "m2"), ("c9", "m1")], ["c9", "c1", "c1"]) == (
        {("c1", "m1"): {"risk_score": 0.5}}, {"c1": Conversation(state, "high", frozenset({"high"}))})
    assert again.read([("c1", "m1")], []) == ({("c1", "m1"): {"risk_score": 0.5}}, {})
    assert again.read([], ["c1"]) == ({}, {"c1": Conversation(state, "high", frozenset({"high"}))})
    assert again.read([], []) == ({}, {})


def test_outbox_delivery_and_retry_bookkeeping(reopen: Factory) -> None:
    store = reopen()
    store.commit([], [], [_intervention("c1", "high")], ["webhook"])
    store.commit([], [], [{**_intervention("c1", "high"), "again": True}], ["webhook"])  # a repeat is ignored
    now = time.time()
    (item,) = store.due(now + 1, 10)
    assert item.attempts == 0 and item.payload == _intervention("c1", "high")
    store.failed(item.intervention_id, "webhook", now + 60, "boom")
    store.commit([], [], [_intervention("c1", "high")], ["webhook"])  # nor does it undo the backoff
    assert store.due(now + 1, 10) == []
    assert store.due(now + 61, 10)[0].attempts == 1
    assert store.interventions("c1")[0]["delivered"] is False
    store.delivered(item.intervention_id, "webhook", now)
    assert store.due(now + 1000, 10) == [] and store.outbox_stats() == (0, None)
    assert store.interventions("c1")[0]["delivered"] is True
    # delivered once every sink has it: one of two is not enough
    store.commit([], [], [_intervention("c2", "high")], ["webhook", "audit_log"])
    store.delivered("c2-high", "audit_log", now)
    assert store.interventions("c2")[0]["delivered"] is False and store.outbox_stats()[0] == 1
    store.delivered("c2-high", "webhook", now)
    assert store.interventions("c2")[0]["delivered"] is True


def test_due_rows_come_from_their_moment_the_earliest_first(reopen: Factory) -> None:
    """A row is due from its next attempt's time on (not only after it), and a call asking for fewer than are
    due gets the earliest: a row that has waited longest is not passed over by newer ones."""
    store = reopen()
    store.commit([], [], [_intervention(c, "high") for c in ("c1", "c2", "c3")], ["webhook"])
    t = time.time() + 100.0
    for cid, wait in (("c1", 30.0), ("c2", 10.0), ("c3", 20.0)):
        store.failed(f"{cid}-high", "webhook", t + wait, "down")
    assert store.due(t + 9.5, 10) == []
    assert [item.intervention_id for item in store.due(t + 10.0, 1)] == ["c2-high"]
    store.failed("c2-high", "webhook", t + 40.0, "down again")
    assert {item.intervention_id for item in store.due(t + 45.0, 2)} == {"c3-high", "c1-high"}


def test_forgetting_answers_takes_one_chunk_a_call(reopen: Factory) -> None:
    """``forget_answers`` keeps to its limit (the janitor's chunks keep each transaction short): a limit of 1
    forgets one answer (in Redis, one conversation's answers), not all that are due."""
    store = reopen()
    for cid in ("a", "b"):
        store.commit([Conversation(ConversationState(cid, n_messages=2))], [(cid, "m1", {}), (cid, "m2", {})], [], [])
    keys = [(cid, mid) for cid in ("a", "b") for mid in ("m1", "m2")]
    later = time.time() + 1.0
    assert store.forget_answers(0.0, later, 1) == 1
    assert len(store.answered(keys)) >= 2
    for _ in range(3):  # the rest, a chunk at a time
        store.forget_answers(0.0, later, 1)
    assert store.answered(keys) == {} and store.forget_answers(0.0, later, 1) == 0


def test_a_stale_writer_is_refused(reopen: Factory) -> None:
    first, second = reopen(), reopen()
    state = ConversationState("c1", n_messages=3)
    first.commit([Conversation(state)], [], [], [], expected={"c1": 0})
    with pytest.raises(StoreConflict):  # second loaded the conversation when it had 0 messages
        second.commit([Conversation(ConversationState("c1", n_messages=1))], [("c1", "x", {})], [], [],
                      expected={"c1": 0})
    assert second.load(["c1"])["c1"].state.n_messages == 3
    assert second.answered([("c1", "x")]) == {}
    second.commit([Conversation(ConversationState("c1", n_messages=4))], [], [], [], expected={"c1": 3})
    assert first.load(["c1"])["c1"].state.n_messages == 4
    # checked but not written (a request whose messages of c1 were all duplicates): c1 moved on, or a
    # conversation thought new is there, and nothing of the commit is written
    c2 = Conversation(ConversationState("c2", n_messages=1))
    first.commit([Conversation(ConversationState("c9", n_messages=2))], [], [], [])
    for checked in ({"c1": 3, "c2": 0}, {"c1": 4, "c2": 0, "c9": 0}, {"c1": 0, "c2": 0}):
        with pytest.raises(StoreConflict):
            second.commit([c2], [("c2", "y", {})], [], [], expected=checked)
        assert second.load(["c2"]) == {} and second.answered([("c2", "y")]) == {}
    second.commit([c2], [("c2", "y", {})], [], [], expected={"c1": 4, "c2": 0, "c8": 0})
    assert second.load(["c2"]) == {"c2": c2} and second.answered([("c2", "y")]) == {("c2", "y"): {}}


def test_answers_of_idle_conversations_are_forgotten(reopen: Factory) -> None:
    """The janitor deletes the answers (kept to recognise resends) of conversations idle past the window,
    in chunks, and nothing else; a conversation that goes on keeps its new answers until idle again."""
    store = reopen()
    store.commit([Conversation(ConversationState("old", n_messages=2))], [("old", "m1", {}), ("old", "m2", {})],
                 [_intervention("old", "high")], ["webhook"])
    time.sleep(0.02)
    cut = time.time()
    time.sleep(0.02)
    store.commit([Conversation(ConversationState("new", n_messages=1))], [("new", "m1", {})], [], [])
    now = [cut + 3600.0]
    janitor = Janitor(store, window=3600.0, chunk=1, clock=lambda: now[0])
    assert janitor.run_once() > 0
    keys = [("old", "m1"), ("old", "m2"), ("new", "m1")]
    assert store.answered(keys) == {("new", "m1"): {}}
    assert store.load(["old"])["old"].state.n_messages == 2  # its state and interventions stay
    assert [i["intervention_id"] for i in store.interventions("old")] == ["old-high"]
    assert store.outbox_stats()[0] == 1
    assert janitor.run_once() == 0
    store.commit([Conversation(ConversationState("old", n_messages=3))], [("old", "m3", {})], [], [])
    assert janitor.run_once() == 0 and store.answered([("old", "m3")]) == {("old", "m3"): {}}
    now[0] = time.time() + 3600.5  # both idle for the window now
    assert janitor.run_once() > 0
    assert store.answered([*keys, ("old", "m3")]) == {}
    # a conversation whose answers are forgotten is still known: an erasure request finds it
    assert store.erase("new") is True and store.load(["new"]) == {}


def test_a_janitor_whose_store_fails_says_so_in_a_line_and_goes_on(caplog: pytest.LogCaptureFixture,
                                                                     tmp_path: Path) -> None:
    """The store down: each try is one warning line with the error (as the outbox's passes say it), not a
    traceback at error level, and the janitor tries again."""
    class Down(SQLiteStore):
        tries = 0

        def forget_answers(self, idle_since: float, idle_before: float, limit: int) -> int:
            self.tries += 1
            if self.tries <= 2:
                raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
            return 0

    store = Down(tmp_path / "s.db")
    janitor = Janitor(store, window=3600.0, every=0.01)
    with caplog.at_level(logging.INFO, logger="riskline.store"):
        janitor.start()
        wait_until(lambda: store.tries >= 3, seconds=10)
        janitor.stop()
    said = [(r.levelname, r.getMessage(), r.exc_info, getattr(r, "error", None)) for r in caplog.records]
    assert store.tries >= 3 and said == [
        ("WARNING", "forgetting answers or conversations failed; the state store could not be read or written", None,
         "ConnectionError: Error 111 connecting to 127.0.0.1:6379. Connection refused.")] * 2


def test_erase_deletes_all_of_one_conversation_and_nothing_else(reopen: Factory) -> None:
    """A platform's erasure request: the conversation's state, answers, interventions and outbox rows
    (delivered or not) go at once; another conversation's stay; a writer that loaded the erased state
    is refused, and the conversation can then start again as new."""
    store = reopen()
    for cid in ("gone", "kept"):
        store.commit([Conversation(ConversationState(cid, n_messages=2), "critical", frozenset({"high", "critical"}))],
                     [(cid, "m1", {"n": 1}), (cid, "m2", {"n": 2})],
                     [_intervention(cid, "high"), _intervention(cid, "critical")], ["webhook", "audit_log"])
    store.delivered("gone-high", "webhook", time.time())  # one row delivered, three still due
    store.failed("gone-high", "audit_log", time.time(), "down")  # one tried once
    assert store.outbox_stats()[0] == 7
    assert store.erase("gone") is True
    store.failed("gone-high", "webhook", time.time(), "late")  # a delivery that was under way ends after it
    store.delivered("gone-critical", "webhook", time.time())
    again = reopen()  # as another replica or a restart sees it
    assert again.load(["gone", "kept"]).keys() == {"kept"}
    assert again.answered([("gone", "m1"), ("gone", "m2"), ("kept", "m1")]) == {("kept", "m1"): {"n": 1}}
    assert again.interventions("gone") == []
    assert {i["intervention_id"] for i in again.interventions("kept")} == {"kept-high", "kept-critical"}
    assert again.outbox_stats()[0] == 4
    assert {(item.intervention_id, item.sink) for item in again.due(time.time() + 1, 100)} == {
        (f"kept-{level}", sink) for level in ("high", "critical") for sink in ("webhook", "audit_log")}
    assert again.erase("gone") is False and again.erase("never") is False
    with pytest.raises(StoreConflict):  # loaded with 2 messages before the erasure
        store.commit([Conversation(ConversationState("gone", n_messages=3))], [("gone", "m3", {})], [], [],
                     expected={"gone": 2})
    assert again.answered([("gone", "m3")]) == {}
    store.commit([Conversation(ConversationState("gone", n_messages=1))], [("gone", "m3", {})],
                 [_intervention("gone", "high")], ["webhook", "audit_log"], expected={"gone": 0})
    assert again.load(["gone"])["gone"].state.n_messages == 1
    assert [i["intervention_id"] for i in again.interventions("gone")] == ["gone-high"]
    # nothing of the late delivery's bookkeeping was left behind for a row of the same id
    assert sorted((item.sink, item.attempts) for item in again.due(time.time() + 1, 100)
                  if item.intervention_id == "gone-high") == [("audit_log", 0), ("webhook", 0)]


def test_conversations_idle_past_the_retention_are_erased_whole(reopen: Factory) -> None:
    """The janitor's second pass: conversations last written before the retention are erased as ``erase``
    does (state, answers, interventions, outbox rows), in chunks; the others stay, answers included."""
    store = reopen()
    for cid in ("waiting", "old1", "old2", "old3"):  # "waiting": its intervention not yet delivered
        store.commit([Conversation(ConversationState(cid, n_messages=1))], [(cid, "m1", {})],
                     [_intervention(cid, "high")], ["webhook"])
        if cid != "waiting":
            store.delivered(f"{cid}-high", "webhook", time.time())
    time.sleep(0.02)
    cut = time.time()
    time.sleep(0.02)
    store.commit([Conversation(ConversationState("new", n_messages=1))], [("new", "m1", {})],
                 [_intervention("new", "high")], ["webhook"])
    store.delivered("new-high", "webhook", time.time())
    now = [cut + 86400.0]
    # a chunk of one: a conversation kept for its undelivered intervention does not hold back those after it
    janitor = Janitor(store, window=0.0, retention=86400.0, chunk=1, clock=lambda: now[0])
    assert janitor.run_once() == 0  # no answers' window: none forgotten
    assert janitor.retire_once() == 3
    assert store.load(["waiting", "old1", "old2", "old3", "new"]).keys() == {"waiting", "new"}
    assert store.answered([("old1", "m1"), ("new", "m1")]) == {("new", "m1"): {}}
    assert store.interventions("old2") == [] and store.outbox_stats()[0] == 1  # the waiting one's row
    assert janitor.retire_once() == 0
    # a review must not vanish for a sink's outage: kept until delivered, then erased at the next pass
    store.delivered("waiting-high", "webhook", time.time())
    now[0] += 0.01  # a later pass; "new" is still within the retention
    assert janitor.retire_once() == 1 and store.load(["waiting"]) == {}
    now[0] = time.time() + 86400.5
    assert janitor.retire_once() == 1 and store.load(["new"]) == {}
    assert store.outbox_stats() == (0, None) and store.interventions("new") == []


def test_a_full_sqlite_database_says_so_and_keeps_what_it_took(tmp_path: Path) -> None:
    """The database cannot grow (a real SQLite limit, as a full disk): the commit that needs room fails with
    SQLite's own reason (before: "cannot rollback - no transaction is active", as SQLite had already rolled
    back), what earlier commits stored stays, none of the failed commit is kept, and once there is room the
    same commit goes through."""
    store = SQLiteStore(tmp_path / "state.db")
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages + 4}")

    def commit(i: int) -> None:
        store.commit([Conversation(ConversationState(f"c{i}", n_messages=1))],
                     [(f"c{i}", "m1", {"text": "x" * 3000})], [_intervention(f"c{i}", "high")], ["webhook"])

    done = 0
    with pytest.raises(sqlite3.OperationalError, match=r"^database or disk is full$"):
        for done in range(100):
            commit(done)
    assert done > 0
    assert store.load([f"c{i}" for i in range(done + 1)]).keys() == {f"c{i}" for i in range(done)}
    assert store.answered([(f"c{done}", "m1")]) == {} and store.interventions(f"c{done}") == []
    store._db.execute(f"PRAGMA max_page_count = {pages + 1000}")
    commit(done)
    assert len(store.load([f"c{i}" for i in range(done + 1)])) == done + 1 and store.outbox_stats()[0] == done + 1


def test_a_store_refusing_writes_is_told_from_a_message_of_its_own(tmp_path: Path, redis_url: str) -> None:
    """``refuses_writes``, which tells the stream worker to hold a batch back rather than set its messages
    aside: SQLite's full database and Redis at its memory limit (both real), PostgreSQL's class 53
    (insufficient resources: a full disk), and not another failure of either."""
    import psycopg
    import redis

    from detection.redis_store import RedisStore

    full = SQLiteStore(tmp_path / "full.db")
    full._db.execute(f"PRAGMA max_page_count = {full._db.execute('PRAGMA page_count').fetchone()[0]}")
    with pytest.raises(sqlite3.OperationalError) as caught:
        full.commit([Conversation(ConversationState("c", n_messages=1))], [("c", "m", {"text": "x" * 5000})], [], [])
    assert refuses_writes(caught.value)
    with pytest.raises(sqlite3.OperationalError) as other:
        full._db.execute("SELECT * FROM no_such_table")
    assert not refuses_writes(other.value)
    client = redis.Redis.from_url(redis_url)
    store = RedisStore(redis_url, prefix=f"t{uuid.uuid4().hex[:8]}:")
    client.config_set("maxmemory", "1")  # below what the server uses already: every write is refused
    try:
        with pytest.raises(redis.exceptions.RedisError) as refused:
            store.commit([Conversation(ConversationState("c", n_messages=1))], [("c", "m", {})], [], [])
    finally:
        client.config_set("maxmemory", "0")
    assert refuses_writes(refused.value), repr(refused.value)
    assert not refuses_writes(redis.exceptions.ResponseError("WRONGTYPE Operation against a key"))
    assert refuses_writes(psycopg.errors.DiskFull("could not extend file")) and not refuses_writes(
        psycopg.errors.UniqueViolation("duplicate key"))
    assert not refuses_writes(ValueError("a message of its own kind"))


def test_a_store_that_takes_no_writes_is_not_up(tmp_path: Path, postgres_url: str, model_dir: Path) -> None:
    """A failover or a wrong address can leave the service on a Redis replica or a PostgreSQL standby, which answers
    every read and refuses every commit. Before, ``/readyz`` said ready and ``riskline_state_store_up`` 1 while every
    message got 503, and a stream worker, seeing the store answer, set each message aside as its own failure. The
    ping (behind all three) now says the store takes no writes, and its refusal is the store's (``refuses_writes``),
    so a worker holds the batch back until the store takes writes again."""
    import httpx
    import psycopg
    import redis

    from detection.metrics import Metrics
    from detection.postgres_store import PostgresStore
    from detection.redis_store import RedisStore
    from detection.store import reachable
    from tests.service_helpers import free_port, start_redis

    process, replica_url = start_redis(tmp_path)
    try:
        # a replica of a primary that is gone (as after a failover): what it holds it serves, and it takes no writes
        redis.Redis.from_url(replica_url).replicaof("127.0.0.1", free_port())
        replica = RedisStore(replica_url, prefix=f"t{uuid.uuid4().hex[:8]}:")
        replica_said = "READONLY the server is a replica, which takes no writes: --state must name the primary"
        with pytest.raises(redis.exceptions.ReadOnlyError, match=f"^{replica_said}$"):
            replica.ping()
        with pytest.raises(redis.exceptions.RedisError) as refused:
            replica.commit([Conversation(ConversationState("c", n_messages=1))], [("c", "m", {})], [], [])
        assert refuses_writes(refused.value) and not reachable(replica), repr(refused.value)
        # the commands that write to a store no service fronts say so before any work, not "run it again"
        history = write_jsonl(tmp_path / "history.jsonl", generate(3, seed=2))
        for command, nothing in ((["erase", "c"], "erased"), (["backfill", history], "loaded")):
            refused = riskline(*command, "--state", replica_url)
            assert (refused.returncode, refused.stderr) == (
                2, f"riskline: error: --state {replica_url}: ReadOnlyError: {replica_said}; nothing was {nothing}\n")
        # a service started on it says so at start, and is not ready
        port, log = free_port(), tmp_path / "serve.log"
        serving = subprocess.Popen([RISKLINE, "serve", "--port", str(port), "--model", str(model_dir), "--state",
                                    replica_url], stderr=log.open("w"))
        try:
            ready = None
            for _ in range(300):
                with contextlib.suppress(httpx.TransportError):
                    ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                    break
                time.sleep(0.1)
            assert ready is not None and ready.status_code == 503
            assert ready.json() == {"status": "not ready", "reason": f"ReadOnlyError: {replica_said}"}
            said = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
            assert [line["reason"] for line in said if line["msg"] == "state store not ready"] == [
                f"ReadOnlyError: {replica_said}"]
        finally:
            serving.terminate()
            serving.wait(20)
        metrics = Metrics()
        metrics.watch_outbox(replica)
        assert "riskline_state_store_up 0.0" in metrics.render().decode()
        redis.Redis.from_url(replica_url).replicaof("NO", "ONE")  # promoted: it takes writes, and is up again
        replica.commit([Conversation(ConversationState("c", n_messages=1))], [("c", "m", {})], [], [])
        assert reachable(replica) and "riskline_state_store_up 1.0" in metrics.render().decode()
        # a user that may not run INFO (an ACL, a managed service): its store is up where the server answers
        redis.Redis.from_url(replica_url).acl_setuser("app", enabled=True, passwords=["+pw"], keys=["*"],
                                                      commands=["+@all", "-info"])
        limited = RedisStore(replica_url.replace("redis://", "redis://app:pw@"), prefix=f"t{uuid.uuid4().hex[:8]}:")
        with pytest.raises(redis.exceptions.NoPermissionError):
            limited.r.info("replication")
        assert reachable(limited)
    finally:
        process.terminate()
        process.wait(10)
    prefix = f"r{uuid.uuid4().hex[:8]}_"
    PostgresStore(postgres_url, prefix=prefix).close()  # its tables made; then read-only, as a standby is
    standby = PostgresStore(f"{postgres_url}?options=-c%20default_transaction_read_only%3Don", prefix=prefix)
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction, match=r"^the server takes no writes here"):
        standby.ping()
    with pytest.raises(psycopg.Error) as refused_pg:
        standby.commit([Conversation(ConversationState("c", n_messages=1))], [("c", "m", {})], [], [])
    assert refuses_writes(refused_pg.value) and not reachable(standby), repr(refused_pg.value)
    standby.close()
    with pytest.raises(ValueError, match=r": the server takes no writes here .*--state must name the primary$"):
        PostgresStore(standby.url, prefix=f"n{uuid.uuid4().hex[:8]}_")  # its tables not made yet: a standby's never are
    writable = PostgresStore(postgres_url, prefix=prefix)
    assert reachable(writable)
    writable.close()
    read_only = SQLiteStore(tmp_path / "ro.db")  # a file the process may not write (root may: opened read-only)
    read_only._db = sqlite3.connect(f"file:{tmp_path / 'ro.db'}?mode=ro", uri=True, check_same_thread=False)
    with pytest.raises(sqlite3.OperationalError) as refused_file:
        read_only.commit([Conversation(ConversationState("c", n_messages=1))], [("c", "m", {})], [], [])
    assert refuses_writes(refused_file.value), repr(refused_file.value)


def test_a_sqlite_file_that_cannot_be_written_is_said_so() -> None:
    """A service account that may not write its SQLite file or folder (or a file system remounted read-only, as
    Linux does on disk errors: the same check) is told so at open, not "unable to open database file", and a
    store that can no longer write is not up. Run as a user root's access does not bypass (nobody, under root)."""
    import pwd
    import tempfile

    folder = Path(tempfile.mkdtemp())
    folder.chmod(0o777)
    read, write = os.pipe()
    if (child := os.fork()) == 0:  # pragma: no cover (it reports through the pipe)
        said: dict[str, str | None] = {}
        try:
            if os.geteuid() == 0:
                os.setuid(pwd.getpwnam("nobody").pw_uid)
            store = SQLiteStore(folder / "s.db")
            said["up"] = not_ready(store)
            (folder / "s.db").chmod(0o444)
            said["file now read-only"] = not_ready(store)
            store.close()
            reopened = open_store(str(folder / "s.db"))  # SQLite opens it read-only: serve then waits, not ready
            said["reopened"] = not_ready(reopened)
            reopened.close()
            (folder / "kept").mkdir()
            kept = SQLiteStore(folder / "kept" / "s.db")
            (folder / "kept").chmod(0o555)  # its folder no longer writable, an open store still writes
            kept.commit([Conversation(ConversationState("c", n_messages=1))], [("c", "m", {})], [], [])
            said["open in a folder made read-only"] = not_ready(kept)
            kept.close()
            (folder / "ro").mkdir(mode=0o555)
            try:
                open_store(str(folder / "ro" / "s.db"))
            except ValueError as exc:
                said["in read-only folder"] = str(exc)
        finally:
            os.write(write, json.dumps(said).encode())
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        said = json.loads(pipe.read())
    os.waitpid(child, 0)
    cannot = "the file cannot be written (a read-only file system, or no permission)"
    assert said == {
        "up": None, "file now read-only": f"OperationalError: the store takes no writes here: {cannot}",
        "reopened": f"OperationalError: the store takes no writes here: {cannot}",
        "open in a folder made read-only": None,
        "in read-only folder": f"state store {folder}/ro/s.db: its folder {folder}/ro cannot be written (a read-only "
                               "file system, or no permission) (SQLite: unable to open database file)"}


def test_bad_locations(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        open_store(str(tmp_path / "missing" / "s.db"))
    for url in (str(tmp_path), f"sqlite:///{tmp_path}"):  # SQLite's own words: "unable to open database file"
        with pytest.raises(ValueError, match=rf"^state store {re.escape(str(tmp_path))}: a folder; name a database "
                                             rf"file in it \(such as {re.escape(str(tmp_path / 'state.db'))}\)$"):
            open_store(url)
    with pytest.raises(ValueError, match=r"^--state mysql://app:\*\*\*@db/x: unsupported store"):
        open_store("mysql://app:s3cret@db/x")
    # sqlite:/// is followed by a relative path, as in SQLAlchemy: the usual slip for an absolute one is named
    relative = tmp_path.relative_to("/") / "s.db"
    with pytest.raises(ValueError, match=rf"names the relative path {relative}, whose folder .* does not exist here "
                                         rf"\(as in SQLAlchemy: sqlite:////{relative} for the absolute one\)"):
        open_store(f"sqlite:///{relative}")
    absolute = open_store(f"sqlite:////{relative}")
    absolute.close()
    assert isinstance(absolute, SQLiteStore) and (tmp_path / "s.db").exists()
    with pytest.raises(ValueError, match=r"state store redis://127\.0\.0\.1:1"):
        open_store("redis://127.0.0.1:1/0")
    for url in ("redis://:s3cret@127.0.0.1:1/0", "redis://app:s3cret@127.0.0.1:1/0", "redis://127.0.0.1:1/0?password=s3cret"):
        with pytest.raises(ValueError) as refused:  # the password never reaches an error, and so no log
            open_store(url)
        assert "s3cret" not in str(refused.value) and "***" in str(refused.value)
    for url in ("redis://127.0.0.1:1/cache", "rediss://:s3cret@127.0.0.1:1/0/x"):  # redis-py would use database 0
        with pytest.raises(ValueError, match=r"^--state redis.* is no Redis database number \(redis://HOST:PORT/N"):
            check_store_url(url)
    (tmp_path / "junk.db").write_text("this is not a database" * 100)
    with pytest.raises(ValueError, match=r"junk\.db"):
        SQLiteStore(tmp_path / "junk.db")


def test_shared_stores_lease_due_rows_to_one_worker(postgres_url: str, redis_url: str) -> None:
    """Replicas share the outbox: a due row goes to one worker until its lease ends or it is settled."""
    from detection.postgres_store import PostgresStore
    from detection.redis_store import RedisStore

    for name in ("postgres", "redis"):
        prefix = f"l{uuid.uuid4().hex[:8]}"
        a, b = ((PostgresStore(postgres_url, prefix=prefix + "_"), PostgresStore(postgres_url, prefix=prefix + "_"))
                if name == "postgres" else (RedisStore(redis_url, prefix=prefix + ":"),
                                            RedisStore(redis_url, prefix=prefix + ":")))
        a.commit([], [], [_intervention("c1", "high"), _intervention("c2", "high")], ["webhook"])
        now = time.time()
        assert sorted(i.intervention_id for i in a.due(now + 1, 1) + b.due(now + 1, 10)) == ["c1-high", "c2-high"]
        assert a.due(now + 2, 10) == [] and b.due(now + 2, 10) == [], name  # both claimed
        assert sorted(i.intervention_id for i in b.due(now + 40, 10)) == ["c1-high", "c2-high"], name  # lease over
        a.delivered("c1-high", "webhook", now)
        assert [i.intervention_id for i in b.due(now + 100, 10)] == ["c2-high"], name


def test_postgres_keeps_any_id_and_hides_the_password(postgres_url: str) -> None:
    from detection.postgres_store import PostgresStore

    store = PostgresStore(postgres_url, prefix=f"n{uuid.uuid4().hex[:8]}_")
    cid = "conv\x00with nul, é and 😀"  # text PostgreSQL itself cannot hold
    state = ConversationState(cid, n_messages=1)
    store.commit([Conversation(state)], [(cid, "m\x00", {"risk_score": 0.1})], [_intervention(cid, "high")], ["x"],
                 expected={cid: 0})
    assert store.load([cid]) == {cid: Conversation(state)}
    assert store.answered([(cid, "m\x00"), (cid, "m")]) == {(cid, "m\x00"): {"risk_score": 0.1}}
    assert [i["conversation_id"] for i in store.interventions(cid)] == [cid]
    # the longest ids events may hold, in bytes that do not compress: the key index takes them (20 kB failed)
    longest = "".join(random.choice(string.ascii_letters) for _ in range(MAX_ID_BYTES))
    other = "".join(random.choice(string.ascii_letters) for _ in range(MAX_ID_BYTES))
    store.commit([Conversation(ConversationState(longest, n_messages=1))], [(longest, other, {"risk_score": 0.2})],
                 [_intervention(longest, "high")], ["x"], expected={longest: 0})
    assert store.answered([(longest, other)]) == {(longest, other): {"risk_score": 0.2}}
    with pytest.raises(ValueError) as refused:
        open_store("postgresql://riskline:s3cret@127.0.0.1:1/db")
    assert str(refused.value).startswith("state store postgresql://riskline:***@127.0.0.1:1/db: ")
    assert "s3cret" not in str(refused.value) and "\n" not in str(refused.value)
    with pytest.raises(ValueError, match="table prefix"):
        PostgresStore(postgres_url, prefix="bad-prefix")
    with pytest.raises(ValueError) as unknown:
        open_store("postgresql://riskline:s3cret@127.0.0.1:1/db?tcp_user_timout=5")
    assert str(unknown.value) == ('state store postgresql://riskline:***@127.0.0.1:1/db?tcp_user_timout=5: '
                                  'invalid URI query parameter: "tcp_user_timout"')


@pytest.mark.slow  # it waits out the 10 s network timeout
def test_a_postgres_host_that_vanishes_fails_the_call_in_seconds_then_reconnects(postgres_url: str) -> None:
    """The server's host lost without a word (no reset: a failover, a dead machine): the call that meets
    it fails within seconds, instead of holding the store's lock for the kernel's 15 minutes, and the
    next call after the host is back connects again."""
    import threading

    import psycopg

    from detection.postgres_store import PostgresStore
    from tests.service_helpers import VanishingHost

    server = urlsplit(postgres_url)
    host = VanishingHost((str(server.hostname), int(server.port or 5432)))
    try:
        store = PostgresStore(postgres_url.replace(server.netloc, f"riskline@{host.ADDRESS}:{host.port}"),
                              prefix=f"v{uuid.uuid4().hex[:8]}_")
        state = ConversationState("c", n_messages=1)
        store.commit([Conversation(state)], [], [], [], expected={"c": 0})
        host.vanish()
        outcome: list[object] = []
        started = time.monotonic()

        def call() -> None:
            try:
                outcome.append(store.load(["c"]))
            except psycopg.Error as exc:
                outcome.append(exc)

        caller = threading.Thread(target=call, daemon=True)
        caller.start()
        caller.join(40)
        waited = time.monotonic() - started
        assert outcome and isinstance(outcome[0], psycopg.OperationalError), f"still waiting after {waited:.0f} s"
        assert 5 < waited < 20  # libpq's tcp_user_timeout of 10 s: unanswered data fails the call
        host.come_back()
        assert store.load(["c"]) == {"c": Conversation(state)}
        store.close()
    finally:
        host.close()


@pytest.mark.parametrize("kind", ["postgres", "redis"])
def test_a_call_costs_two_round_trips_to_a_server(kind: str, request: pytest.FixtureRequest, model_dir: Path) -> None:
    """Where the store is a network hop away, round trips are what a message waits for: the answers and
    states are read in one, and everything is written, under the version check, in one."""
    from detection.events import MessageEvent
    from detection.model_files import load_model
    from detection.policy import EscalationPolicy
    from detection.processor import Processor
    from tests.service_helpers import Relay

    url = request.getfixturevalue(f"{kind}_url")
    server = urlsplit(url)
    flush = b"H\x00\x00\x00\x04"  # PostgreSQL's Flush: no answer is waited for, or comes
    relay = Relay((str(server.hostname), int(server.port or 0)), asks_nothing=frozenset({flush}))
    try:
        url = url.replace(server.netloc, server.netloc.replace(f"{server.hostname}:{server.port}",
                                                               f"127.0.0.1:{relay.port}"))
        if kind == "redis":
            from detection.redis_store import RedisStore

            store: StateStore = RedisStore(url, prefix=f"rt{uuid.uuid4().hex[:8]}:")
        else:
            from detection.postgres_store import PostgresStore

            store = PostgresStore(url, prefix=f"rt{uuid.uuid4().hex[:8]}_")
        processor = Processor(load_model(model_dir), store, EscalationPolicy.load(None), ["webhook"])
        threat = "i screenshotted everything. pay $300 in gift cards or i send it to your family and followers"
        for i, text in enumerate(["hey", "how old are you", threat]):  # a new conversation, then one going on
            before = relay.turns
            answers, _ = processor.process([MessageEvent("c", f"m{i}", "a", 1.7e9 + i, text)])
            assert relay.turns - before == 2, (text, relay.turns - before)
        assert answers[0]["intervention"] is not None  # interventions and their outbox rows in the same write
        before = relay.turns
        assert processor.process([MessageEvent("c", "m2", "a", 1.7e9 + 2, threat)])[0][0]["duplicate"]
        assert relay.turns - before == 1  # a resend: read, found answered, nothing to write
        store.close()
    finally:
        relay.close()


def test_postgres_needs_only_reads_and_writes_once_its_tables_exist(postgres_url: str) -> None:
    """A deployment's owner creates the tables once; replicas may then run as a role that can only read
    and write them (as the deployment guide says). Without the tables such a role is told why, in a line."""
    import psycopg

    from detection.postgres_store import PostgresStore
    from tests.service_helpers import fresh_database

    url = fresh_database(postgres_url)
    role = f"replica_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    limited = url.replace("riskline@", f"{role}@")
    with pytest.raises(ValueError, match="permission denied for schema public"):
        PostgresStore(limited)
    PostgresStore(url).close()  # the owner makes the tables
    with psycopg.connect(url, autocommit=True) as conn:
        for table in ("conversations", "messages", "interventions", "outbox"):
            conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON riskline_{table} TO {role}")
    store = PostgresStore(limited)
    state = ConversationState("c", n_messages=1)
    store.commit([Conversation(state)], [("c", "m", {"risk_score": 0.2})], [_intervention("c", "high")], ["x"],
                 expected={"c": 0})
    with pytest.raises(StoreConflict):  # the version check, a function the owner made, runs for this role too
        store.commit([Conversation(ConversationState("c", n_messages=2))], [], [], [], expected={"c": 0})
    assert store.read([("c", "m")], ["c"]) == ({("c", "m"): {"risk_score": 0.2}}, {"c": Conversation(state)})
    assert store.due(time.time(), 10)[0].intervention_id == "c-high"
    store.close()


def _wait_for_lock(watcher: Any, table: str) -> None:
    """Until a backend waits for a lock in a statement naming ``table`` (20 s at most); ``watcher``: an
    autocommit connection (``pg_stat_activity`` holds still within a transaction)."""
    deadline = time.time() + 20
    while watcher.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s",
                          (f"%{table}%",)).fetchone() == (0,):
        assert time.time() < deadline
        time.sleep(0.02)


def test_postgres_erase_waits_out_a_writer_and_takes_what_it_wrote(postgres_url: str) -> None:
    """An erasure that comes while a writer holds the conversation (scoring a message of it) waits for it,
    then erases what that writer added too: its answer, intervention and outbox row, not only the state."""
    import threading

    import psycopg

    from detection.postgres_store import PostgresStore

    prefix = f"e{uuid.uuid4().hex[:8]}_"
    store, writer = PostgresStore(postgres_url, prefix=prefix), PostgresStore(postgres_url, prefix=prefix)
    store.commit([Conversation(ConversationState("c", n_messages=1))], [("c", "m0", {})], [], [], expected={"c": 0})

    with psycopg.connect(postgres_url) as holder, psycopg.connect(postgres_url, autocommit=True) as watcher:
        # another transaction holds the outbox row the writer will add, so the writer stops there: after
        # it has updated the conversation and added its answer and intervention, before it commits
        holder.execute(f"INSERT INTO {prefix}outbox (intervention_id, sink, created_at, next_attempt_at) "
                       "VALUES ('c-high'::bytea, 'webhook', 0, 0)")
        done: dict[str, object] = {}
        threads = [threading.Thread(target=lambda: done.update(commit=writer.commit(
            [Conversation(ConversationState("c", n_messages=2), "high", frozenset({"high"}))], [("c", "m1", {})],
            [_intervention("c", "high")], ["webhook"], expected={"c": 1}))),
            threading.Thread(target=lambda: done.update(erased=store.erase("c")))]
        threads[0].start()
        _wait_for_lock(watcher, f"{prefix}outbox")
        threads[1].start()
        _wait_for_lock(watcher, f"{prefix}conversations")
        holder.rollback()  # the writer goes on and commits; then the erasure
        for thread in threads:
            thread.join(timeout=20)
    assert done == {"commit": None, "erased": True}
    assert store.load(["c"]) == {} and store.answered([("c", "m0"), ("c", "m1")]) == {}
    assert store.interventions("c") == [] and store.outbox_stats()[0] == 0
    store.close()
    writer.close()


def test_a_message_another_writer_answers_while_it_is_read_is_a_duplicate(postgres_url: str, model_dir: Path) -> None:
    """Two replicas given the same message (a client's retry, or two stream workers in a rebalance): when
    the other one commits it between this one's reads of the states and of the answers, it is answered
    as a duplicate, and the conversation holds it once (never scored again on a state that has it)."""
    import threading

    import psycopg

    from detection.events import MessageEvent
    from detection.model_files import load_model
    from detection.policy import EscalationPolicy
    from detection.postgres_store import PostgresStore
    from detection.processor import Processor

    model = load_model(model_dir)
    race, ref = f"r{uuid.uuid4().hex[:8]}_", f"f{uuid.uuid4().hex[:8]}_"
    stores = {p: PostgresStore(postgres_url, prefix=p) for p in (race, ref)}
    processors = {p: Processor(model, s, EscalationPolicy.load(None), []) for p, s in stores.items()}
    events = [MessageEvent("c", f"m{i}", "a", 1.7e9 + i, text) for i, text in enumerate(["hey", "how old are you"])]
    processors[race].process(events[:1])
    processors[ref].process(events)  # what the other replica commits: the state after both, and m1's answer
    answers: list[dict[str, object]] = []
    with psycopg.connect(postgres_url) as other, psycopg.connect(postgres_url, autocommit=True) as watcher:
        other.execute(f"LOCK TABLE {race}conversations IN ACCESS EXCLUSIVE MODE")  # the reader's states wait
        reader = threading.Thread(target=lambda: answers.extend(processors[race].process(events[1:])[0]))
        reader.start()
        _wait_for_lock(watcher, f"{race}conversations")
        other.execute(f"UPDATE {race}conversations r SET n_messages = f.n_messages, state = f.state, level = f.level, "
                      f"raised = f.raised, updated_at = f.updated_at FROM {ref}conversations f "
                      "WHERE r.conversation_id = f.conversation_id")
        other.execute(f"INSERT INTO {race}messages SELECT * FROM {ref}messages WHERE message_id = 'm1'::bytea")
        other.commit()
        reader.join(timeout=20)
    assert [a["duplicate"] for a in answers] == [True]
    assert stores[race].load(["c"]) == stores[ref].load(["c"])  # two messages, m1 once
    for store in stores.values():
        store.close()


def test_history_loads_into_every_store_with_its_levels_raised_and_no_interventions(
        reopen: Factory, model: RiskModel, synth_rows: list[dict[str, object]]) -> None:
    """``riskline backfill``'s path (``load_history``) on each store: every message held as the service
    would hold it, the levels reached counted as raised, and no intervention made or put in the outbox;
    loaded again, every message is a duplicate and nothing moves."""
    events = [to_event(row) for row in synth_rows[:600]]
    results, _ = score_conversations(model, events)
    policy = EscalationPolicy.load(None)
    store = reopen()
    done = load_history(Processor(model, store, policy, ["webhook"]), [events])
    store.close()
    assert (done["n_messages"], done["n_duplicates"], done["n_conversations"]) == (600, 0, len(results))
    store = reopen()
    held = store.load([r.conversation_id for r in results])
    alerted = 0
    for r in results:
        assert held[r.conversation_id].state.n_messages == r.n_messages
        # a level with an action is raised once the conversation reaches it (its peak, as no level falls past it)
        assert held[r.conversation_id].raised == set(policy.due(r.risk_level, frozenset()))
        assert store.interventions(r.conversation_id) == []
        alerted += r.alert
    assert alerted >= 3 and done["reached"]["high"] == sum(r.risk_level in ("high", "critical") for r in results)
    assert store.due(time.time() + 3600, 100) == [] and store.outbox_stats()[0] == 0
    again = load_history(Processor(model, store, policy, ["webhook"]), [events])
    assert again["n_duplicates"] == 600
    assert {c: v.state.n_messages for c, v in store.load(held).items()} == {r.conversation_id: r.n_messages
                                                                            for r in results}
    store.close()


def test_backfill_refuses_a_state_it_cannot_open_before_reading_its_input(model_dir: Path, tmp_path: Path) -> None:
    """A store URL refused by its form (no such folder, an unsupported scheme) is said before the input is read:
    here the input's bad row is not reached; a history of gigabytes is not read in vain."""
    broken = write_jsonl(tmp_path / "history.jsonl", [{"conversation_id": "c", "message_id": "m"}])
    for state, said in [(tmp_path / "none" / "s.db", f"state store {tmp_path}/none/s.db: folder {tmp_path}/none does "
                         "not exist"), ("mysql://db/x", "--state mysql://db/x: unsupported store")]:
        refused = riskline("backfill", broken, "--model", model_dir, "--state", state)
        assert refused.returncode == 2 and refused.stderr.startswith(f"riskline: error: {said}"), refused.stderr
    assert riskline("backfill", broken, "--model", model_dir, "--state", tmp_path / "s.db").stderr == (
        f"riskline: error: {broken}: line 1: field 'sender_id': missing (use --errors FILE to set bad rows aside)\n")


def test_backfill_on_a_terminal_shows_its_progress_and_elsewhere_its_summary_alone(model_dir: Path,
                                                                                   tmp_path: Path) -> None:
    """A history may take an hour to load: on a terminal, bars for its reading and its loading; in a log (no
    terminal), the one summary line."""
    history = write_jsonl(tmp_path / "history.jsonl", generate(80, seed=2))
    command = [RISKLINE, "backfill", str(history), "--model", str(model_dir), "--state"]
    terminal, other_end = pty.openpty()
    with subprocess.Popen([*command, str(tmp_path / "a.db")], stdin=subprocess.DEVNULL, stdout=other_end,
                          stderr=other_end) as proc:
        os.close(other_end)
        shown = b""
        with contextlib.suppress(OSError):  # EIO once the command has ended and closed its end
            while chunk := os.read(terminal, 65536):
                shown += chunk
    os.close(terminal)
    text = shown.decode(errors="replace")
    assert proc.returncode == 0 and "reading" in text and "loading" in text, text
    assert "loaded 1" in text and "in 80 conversations" in text, text
    logged = riskline("backfill", history, "--model", model_dir, "--state", tmp_path / "b.db", "--workers", "1")
    assert logged.returncode == 0 and logged.stderr.startswith("loaded ") and logged.stderr.count("\n") == 1
    assert logged.stderr.split(" into ")[0] == re.search(r"loaded [^\r]*? into", text)[0][:-5]


def test_history_in_parts_is_read_a_part_at_a_time(model: RiskModel, synth_rows: list[dict[str, object]],
                                                    tmp_path: Path) -> None:
    """``load_history`` asks for a part only once the one before is stored (``riskline backfill`` holds one
    partition of its input at a time), and counts over all the parts."""
    events = [to_event(row) for row in synth_rows[:600]]
    ids = list(dict.fromkeys(e.conversation_id for e in events))
    parts = [[e for e in events if e.conversation_id in ids[k::3]] for k in range(3)]
    store = SQLiteStore(tmp_path / "state.db")
    told: list[int] = []

    def one_at_a_time() -> Iterator[list[MessageEvent]]:
        for k, part in enumerate(parts):
            held = store.load(ids)
            assert set(held) == {e.conversation_id for p in parts[:k] for e in p}
            yield part

    done = load_history(Processor(model, store, EscalationPolicy.load(None), []), one_at_a_time(), told.append)
    assert (done["n_messages"], done["n_conversations"]) == (600, len(ids)) and told[-1] == len(ids)
    assert told == sorted(told) and len(told) >= 3
    store.close()


def test_history_whose_working_files_change_midway_is_said_as_such_not_as_a_store_failure(
        model_dir: Path, tmp_path: Path) -> None:
    """The last of 8 partitions of a split history removed while the first ones load (the command held still,
    by SIGSTOP, once its store is made): the error names the working folder, not the store, and says how far
    the loading got; run again, the rest loads."""
    rows = generate(320, seed=5)
    history = write_jsonl(tmp_path / "history.jsonl", rows)
    state, work = tmp_path / "state.db", tmp_path / "work"
    work.mkdir()
    process = subprocess.Popen([RISKLINE, "backfill", str(history), "--model", str(model_dir), "--state", str(state),
                                "--workers", "8"], env={**os.environ, "TMPDIR": str(work)}, stderr=subprocess.PIPE,
                               text=True)
    try:
        while not state.exists():
            assert process.poll() is None, process.communicate()
            time.sleep(0.001)
        process.send_signal(signal.SIGSTOP)
        [folder] = work.iterdir()
        last = max(int(f.name[1:6]) for f in folder.glob("p*-s*.arrow"))
        for file in folder.glob(f"p{last:05d}-s*.arrow"):
            file.unlink()
        process.send_signal(signal.SIGCONT)
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()
    found = re.fullmatch(rf"riskline: error: {re.escape(str(folder))}: partition {last} of the split input read "
                         r"back 0 of the \d+ rows written to it; was the working folder changed while the run worked\? "
                         rf"\((\d+) of the 320 conversations loaded into --state {re.escape(str(state))}\); run it "
                         r"again: what was loaded is then taken as duplicates\n", err)
    assert process.returncode == 2 and found, err
    assert 0 < int(found[1]) < 320 and not any(work.iterdir())
    again = riskline("backfill", history, "--model", model_dir, "--state", state)
    assert again.returncode == 0 and f"loaded {len(rows)} messages (" in again.stderr, again.stderr


def test_history_cut_short_by_a_full_disk_says_how_far_it_got_and_loads_the_rest_when_run_again(
        model_dir: Path, tmp_path: Path) -> None:
    """A real file-size limit on ``riskline backfill`` (as a full disk): with no room for the working files its
    input is split into, it stops before a store is made, saying where; with room for those but not the store,
    the first call's conversations are stored whole, the error line says how many, and run again without the
    limit the rest load, those first ones' messages as duplicates."""
    rows = generate(320, seed=5)
    history = write_jsonl(tmp_path / "history.jsonl", rows)
    state, work = tmp_path / "state.db", tmp_path / "work"
    work.mkdir()
    unsplit = riskline("backfill", history, "--model", model_dir, "--state", state, env={"TMPDIR": str(work)},
                       max_file_bytes=100_000)  # no room for the input's partitions: stopped before the store
    assert unsplit.stderr == (f"riskline: error: {history}: the working files of its reading could not be written in "
                              f"{work} (File too large); set TMPDIR to a folder with room for a copy of the input\n")
    assert not state.exists() and not any(work.iterdir())
    cut = riskline("backfill", history, "--model", model_dir, "--state", state, max_file_bytes=3 * 1024 * 1024)
    assert cut.returncode == 2 and "Traceback" not in cut.stderr, cut.stderr[-2000:]
    found = re.search(r"loading failed \(OperationalError: .*\) after (\d+) of the 320 conversations; run it "
                      r"again: what was loaded is then taken as duplicates\n$", cut.stderr)
    assert found and 0 < int(found[1]) < 320, cut.stderr
    store = SQLiteStore(state)
    first = store.load({str(r["conversation_id"]) for r in rows})  # those stored: each whole, as the line says
    store.close()
    held = sum(c.state.n_messages for c in first.values())
    assert len(first) == int(found[1]) and held == sum(r["conversation_id"] in first for r in rows)
    again = riskline("backfill", history, "--model", model_dir, "--state", state)
    assert again.returncode == 0, again.stderr
    assert f"loaded {len(rows)} messages ({held} held already) in 320 conversations" in again.stderr


def test_a_redis_url_with_an_option_redis_lacks_is_refused_by_name(redis_url: str) -> None:
    """redis-py passes an unknown query option on to its connection, which failed with a TypeError."""
    from detection.redis_store import RedisStore

    with pytest.raises(ValueError, match=r"^state store redis://.*\?timeout=5: Redis has no connection option "
                                         r"'timeout' \(in the URL's query\)$"):
        RedisStore(f"{redis_url}?timeout=5")
    for database in ("/", "/3", "/3/"):  # what redis-py reads as a number, or as no database given
        check_store_url(redis_url.rsplit("/", 1)[0] + database)
