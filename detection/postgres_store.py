"""A PostgreSQL state store, so service replicas and stream workers share conversations durably.

Tables (names under a prefix, default ``riskline_``) mirror the SQLite store's: conversations,
answered messages, interventions and the outbox, created on first use. Ids are kept as their UTF-8
bytes (``bytea``): an id may hold characters PostgreSQL text cannot (NUL). A commit is one
transaction with the same version check as the other stores: a conversation is written only where
its message count is still the one it was loaded with (a new one only where no other writer
created it first), otherwise nothing is written and ``StoreConflict`` raised. Delivery claims due
outbox rows with ``FOR UPDATE SKIP LOCKED`` and pushes their time a lease ahead, so two replicas'
workers do not send the same row at the same moment; a worker that dies mid-delivery leaves the
row to come due again when the lease ends.

One connection, used under a lock. A connection lost (the server restarted, a network break)
fails the call that met it, which the service answers with 503; the next call connects again.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from detection.postgres_commit import commit_statements
from detection.state import ConversationState
from detection.store import LEASE_SECONDS, UNDELIVERED_NONE, Conversation, OutboxItem, StoreConflict, without_password

# libpq's network settings unless the URL sets them. A server that vanishes without closing the
# connection (its host lost in a failover) would otherwise hold every call, and the store's lock, until
# the kernel gives up (about 15 minutes): now the call fails after 10 s unanswered (503, then
# reconnection), and a connection idle in a pool of none is probed every few seconds.
NETWORK = {"connect_timeout": 10, "tcp_user_timeout": 10_000, "keepalives": 1, "keepalives_idle": 10,
           "keepalives_interval": 5, "keepalives_count": 3}
T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS {p}conversations (
    conversation_id BYTEA PRIMARY KEY, n_messages BIGINT NOT NULL, state TEXT NOT NULL, level TEXT NOT NULL,
    raised TEXT NOT NULL, updated_at DOUBLE PRECISION NOT NULL);
CREATE INDEX IF NOT EXISTS {p}conversations_updated ON {p}conversations (updated_at);
CREATE TABLE IF NOT EXISTS {p}messages (
    conversation_id BYTEA NOT NULL, message_id BYTEA NOT NULL, result TEXT NOT NULL,
    PRIMARY KEY (conversation_id, message_id));
CREATE TABLE IF NOT EXISTS {p}interventions (
    intervention_id BYTEA PRIMARY KEY, conversation_id BYTEA NOT NULL, payload TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL);
CREATE INDEX IF NOT EXISTS {p}interventions_conversation ON {p}interventions (conversation_id, created_at);
CREATE TABLE IF NOT EXISTS {p}outbox (
    intervention_id BYTEA NOT NULL, sink TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at DOUBLE PRECISION NOT NULL,
    delivered_at DOUBLE PRECISION, last_error TEXT, PRIMARY KEY (intervention_id, sink));
CREATE INDEX IF NOT EXISTS {p}outbox_due ON {p}outbox (next_attempt_at) WHERE delivered_at IS NULL;
DO $$ BEGIN
    IF to_regprocedure('{p}unchanged(boolean)') IS NULL THEN  -- made once: later, reading and writing suffice
        CREATE FUNCTION {p}unchanged(ok BOOLEAN) RETURNS BOOLEAN LANGUAGE plpgsql AS $f$
        BEGIN
            IF NOT ok THEN RAISE EXCEPTION 'a conversation moved on meanwhile' USING ERRCODE = '{conflict}'; END IF;
            RETURN ok;
        END $f$;
    END IF;
END $$;
"""
CONFLICT = "RL409"  # the SQLSTATE of a failed version check

# a standby (where a failover or a wrong address leaves a service), or a database or role read-only by default
TAKES_NO_WRITES = ("the server takes no writes here (a standby, or default_transaction_read_only on): --state must "
                   "name the primary")


class PostgresStore:
    """``StateStore`` on PostgreSQL (``postgresql://user:password@host:port/database``)."""

    leases = True  # replicas share the outbox: each claims the rows it sends

    def __init__(self, url: str, prefix: str = "riskline_") -> None:
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", prefix):
            raise ValueError(f"state store: table prefix {prefix!r} is not a lower-case SQL name")
        self.url, self.prefix = url, prefix
        self.shown = without_password(url)
        try:
            given = conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:  # an unknown parameter in the URL
            raise ValueError(f"state store {self.shown}: {str(exc).strip()}") from None
        self._conninfo = make_conninfo(url, **{k: v for k, v in NETWORK.items() if k not in given})  # the URL's win
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        try:
            with self._lock:
                conn = self._connection()
                if not self._schema_made(conn):  # made already, only reading and writing is needed
                    with conn.transaction():  # replicas starting together create the tables once
                        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (prefix + "schema",))
                        conn.execute(SCHEMA.format(p=prefix, conflict=CONFLICT))
        except psycopg.errors.ReadOnlySqlTransaction as exc:  # the tables are made on the primary only
            self.close()
            raise ValueError(f"state store {self.shown}: {TAKES_NO_WRITES}") from exc
        except psycopg.Error as exc:
            self.close()
            raise ValueError(f"state store {self.shown}: {_reason(exc)}") from exc

    def _schema_made(self, conn: psycopg.Connection[Any]) -> bool:
        """Whether every table, index and function of ``SCHEMA`` exists (as the search path finds them)."""
        names = [self.prefix + name for name in re.findall(r"EXISTS \{p\}(\w+)", SCHEMA)]
        row = conn.execute("SELECT bool_and(to_regclass(n) IS NOT NULL) AND to_regprocedure(%s) IS NOT NULL "
                           "FROM unnest(%s::text[]) AS n", (self.prefix + "unchanged(boolean)", names)).fetchone()
        return bool(row and row[0])

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            if self._conn is not None:
                self._conn.close()
            # plans made for each call: a plan cached while a table was small would scan it whole later
            self._conn = psycopg.connect(self._conninfo, autocommit=True, prepare_threshold=None)
        return self._conn

    def _run(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        with self._lock:
            return work(self._connection())

    def _t(self, name: str) -> str:
        return self.prefix + name

    def load(self, conversation_ids: Iterable[str]) -> dict[str, Conversation]:
        return self.read([], conversation_ids)[1]

    def answered(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        return self.read(keys, [])[0]

    def read(self, keys: Sequence[tuple[str, str]], conversation_ids: Iterable[str],
             ) -> tuple[dict[tuple[str, str], dict[str, Any]], dict[str, Conversation]]:
        ids = [c.encode() for c in dict.fromkeys(conversation_ids)]

        def work(conn: psycopg.Connection[Any]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
            found = states = None
            with conn.pipeline():  # both queries in one round trip; the states first (``StateStore.read``)
                if ids:
                    states = conn.execute(f"SELECT conversation_id, state, level, raised FROM "
                                          f"{self._t('conversations')} WHERE conversation_id = ANY(%b)", (ids,))
                if keys:
                    found = conn.execute(
                        f"SELECT m.conversation_id, m.message_id, m.result FROM {self._t('messages')} m JOIN "
                        "unnest(%b::bytea[], %b::bytea[]) AS k(c, i) ON m.conversation_id = k.c AND m.message_id = k.i",
                        ([c.encode() for c, _ in keys], [m.encode() for _, m in keys]))
            return (found.fetchall() if found is not None else [],
                    states.fetchall() if states is not None else [])

        if not keys and not ids:
            return {}, {}
        found, states = self._run(work)
        return ({(bytes(c).decode(), bytes(m).decode()): json.loads(r) for c, m, r in found},
                {bytes(cid).decode(): Conversation(ConversationState.from_dict(json.loads(state)), level,
                                                   frozenset(json.loads(raised)))
                 for cid, state, level, raised in states})

    def commit(self, conversations: Sequence[Conversation], answers: Sequence[tuple[str, str, dict[str, Any]]],
               interventions: Sequence[dict[str, Any]], sinks: Sequence[str],
               expected: Mapping[str, int] | None = None) -> None:
        """As ``SQLiteStore.commit``: all of it in one transaction, or nothing and ``StoreConflict``."""
        expected = expected or {}
        statements = commit_statements(self.prefix, time.time(), conversations, answers, interventions, sinks,
                                       expected)

        def work(conn: psycopg.Connection[Any]) -> None:
            # One round trip: every statement goes out at once and runs in the implicit transaction that
            # ends at the pipeline's sync. A version check that fails raises inside it, undoing all of it.
            with conn.pipeline():
                for statement in statements:
                    conn.execute(*statement)

        try:
            self._run(work)
        except pg_errors.DeadlockDetected as exc:  # writers crossing: as a conflict, done again
            raise StoreConflict(",".join(expected)) from exc
        except psycopg.DatabaseError as exc:
            if exc.sqlstate == CONFLICT:  # another writer got there first: nothing was written
                raise StoreConflict(",".join(expected)) from exc
            raise

    def interventions(self, conversation_id: str) -> list[dict[str, Any]]:
        rows = self._run(lambda conn: conn.execute(
            f"SELECT i.payload, COUNT(o.sink), COUNT(o.delivered_at) FROM {self._t('interventions')} i "
            f"LEFT JOIN {self._t('outbox')} o USING (intervention_id) WHERE i.conversation_id = %s "
            "GROUP BY i.intervention_id ORDER BY i.created_at, i.intervention_id",
            (conversation_id.encode(),)).fetchall())
        return [{**json.loads(payload), "delivered": done == total} for payload, total, done in rows]

    def due(self, now: float, limit: int) -> list[OutboxItem]:
        """Due rows, each claimed for ``LEASE_SECONDS`` (another replica's worker skips it meanwhile)."""
        outbox = self._t("outbox")
        rows = self._run(lambda conn: conn.execute(
            f"WITH due AS (SELECT intervention_id, sink FROM {outbox} WHERE delivered_at IS NULL "
            "AND next_attempt_at <= %s ORDER BY next_attempt_at LIMIT %s FOR UPDATE SKIP LOCKED) "
            f"UPDATE {outbox} o SET next_attempt_at = %s FROM due "
            "WHERE o.intervention_id = due.intervention_id AND o.sink = due.sink "
            f"RETURNING o.intervention_id, o.sink, o.attempts, o.created_at, "
            f"(SELECT payload FROM {self._t('interventions')} i WHERE i.intervention_id = o.intervention_id)",
            (now, limit, now + LEASE_SECONDS)).fetchall())
        return sorted((OutboxItem(bytes(iid).decode(), sink, json.loads(payload), attempts, created)
                       for iid, sink, attempts, created, payload in rows if payload is not None),
                      key=lambda item: (item.created_at, item.intervention_id, item.sink))

    def delivered(self, intervention_id: str, sink: str, now: float) -> None:
        self._run(lambda conn: conn.execute(
            f"UPDATE {self._t('outbox')} SET delivered_at = %s, attempts = attempts + 1 "
            "WHERE intervention_id = %s AND sink = %s", (now, intervention_id.encode(), sink)))

    def failed(self, intervention_id: str, sink: str, next_attempt_at: float, error: str) -> None:
        self._run(lambda conn: conn.execute(
            f"UPDATE {self._t('outbox')} SET attempts = attempts + 1, next_attempt_at = %s, last_error = %s "
            "WHERE intervention_id = %s AND sink = %s", (next_attempt_at, error[:500], intervention_id.encode(), sink)))

    def outbox_stats(self) -> tuple[int, float | None]:
        """Undelivered rows and the creation time of the oldest."""
        row = self._run(lambda conn: conn.execute(
            f"SELECT COUNT(*), MIN(created_at) FROM {self._t('outbox')} WHERE delivered_at IS NULL").fetchone())
        assert row is not None
        return int(row[0]), row[1]

    def forget_answers(self, idle_since: float, idle_before: float, limit: int) -> int:
        """As ``SQLiteStore.forget_answers``."""
        return self._run(lambda conn: conn.execute(
            f"DELETE FROM {self._t('messages')} WHERE ctid = ANY(ARRAY(SELECT m.ctid FROM {self._t('conversations')} c "
            f"JOIN {self._t('messages')} m USING (conversation_id) WHERE c.updated_at >= %s AND c.updated_at < %s "
            "LIMIT %s))", (idle_since, idle_before, limit)).rowcount)

    def erase(self, conversation_id: str) -> bool:
        """As ``SQLiteStore.erase``: one transaction. The conversation's row is locked first, by a statement
        of its own: a writer holding it (scoring a message of it) is waited for, and the deletes, in the
        next statement, then see what that writer added (its answers, interventions and outbox rows), which
        a snapshot taken before it committed would have left behind."""
        cid = conversation_id.encode()

        def work(conn: psycopg.Connection[Any]) -> tuple[int, int]:
            with conn.transaction():
                conn.execute(f"SELECT 1 FROM {self._t('conversations')} WHERE conversation_id = %b FOR UPDATE",
                             (cid,))
                return self._erase(conn, "SELECT %b::bytea", (cid,))

        return self._run(work)[1] > 0

    def forget_conversations(self, idle_before: float, limit: int) -> int:
        """As ``SQLiteStore.forget_conversations``; rows a writer holds now are passed over this time (so no
        writer's rows can come after the deletes' snapshot: one that wrote since it was taken is no longer
        idle, and is passed over too)."""
        return self._run(lambda conn: self._erase(
            conn, f"SELECT conversation_id FROM {self._t('conversations')} c WHERE updated_at < %s AND "
            f"{UNDELIVERED_NONE.format(p=self.prefix)} LIMIT %s FOR UPDATE OF c SKIP LOCKED",
            (idle_before, limit)))[0]

    def _erase(self, conn: psycopg.Connection[Any], ids: str, params: tuple[Any, ...]) -> tuple[int, int]:
        """Erase the conversations ``ids`` (a query) names, in one statement: how many states and how many
        rows in all were deleted."""
        t = self._t
        row = conn.execute(
            f"WITH ids AS ({ids}), "
            f"c AS (DELETE FROM {t('conversations')} WHERE conversation_id IN (SELECT * FROM ids) RETURNING 1), "
            f"m AS (DELETE FROM {t('messages')} WHERE conversation_id IN (SELECT * FROM ids) RETURNING 1), "
            f"i AS (DELETE FROM {t('interventions')} WHERE conversation_id IN (SELECT * FROM ids) "
            "RETURNING intervention_id), "
            f"o AS (DELETE FROM {t('outbox')} WHERE intervention_id IN (SELECT intervention_id FROM i) RETURNING 1) "
            "SELECT (SELECT count(*) FROM c), (SELECT count(*) FROM c) + (SELECT count(*) FROM m) + "
            "(SELECT count(*) FROM i) + (SELECT count(*) FROM o)", params).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    def ping(self) -> None:
        """The server answers, and takes writes: a standby (where a failover or a wrong address leaves the
        service), or a database or role read-only by default, answers every read and refuses every commit."""
        read_only = self._run(lambda conn: conn.execute("SHOW transaction_read_only").fetchone())
        if read_only is not None and read_only[0] == "on":
            raise psycopg.errors.ReadOnlySqlTransaction(TAKES_NO_WRITES)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()


def _reason(exc: psycopg.Error) -> str:
    """psycopg's message on one line (a connection failure lists every address tried)."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
