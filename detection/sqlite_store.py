"""The default state store: one SQLite file in WAL mode, for the service or a stream worker on one machine
(``StateStore`` in ``detection.store`` says what each call does)."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from detection.state import ConversationState
from detection.store import UNDELIVERED_NONE, Conversation, OutboxItem, StoreConflict

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    conversation_id TEXT PRIMARY KEY, state TEXT NOT NULL, level TEXT NOT NULL, raised TEXT NOT NULL,
    updated_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS conversations_updated ON conversations (updated_at);
CREATE TABLE IF NOT EXISTS messages (
    conversation_id TEXT NOT NULL, message_id TEXT NOT NULL, result TEXT NOT NULL,
    PRIMARY KEY (conversation_id, message_id));
CREATE TABLE IF NOT EXISTS interventions (
    intervention_id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL, payload TEXT NOT NULL, created_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS interventions_conversation ON interventions (conversation_id, created_at);
CREATE TABLE IF NOT EXISTS outbox (
    intervention_id TEXT NOT NULL, sink TEXT NOT NULL, created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL NOT NULL, delivered_at REAL, last_error TEXT,
    PRIMARY KEY (intervention_id, sink));
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (delivered_at, next_attempt_at);
"""


class SQLiteStore:
    """SQLite in WAL mode. Safe across threads (one connection, one lock)."""

    # claiming would make each look for due rows a write (a lease), held under the one lock scoring
    # needs too: the service's p99 at 500 requests/s went from 19-23 ms to 53-102 ms
    leases = False

    def __init__(self, path: str | Path, synchronous: str = "NORMAL") -> None:
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise ValueError(f"state store {self.path}: folder {self.path.parent} does not exist")
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL survives a crash of the process (kill -9); FULL also survives losing power.
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            self._db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            why = _unwritable(self.path)  # SQLite's words for it are "unable to open database file"
            raise ValueError(f"state store {self.path}: {why} (SQLite: {exc})" if why else
                             f"state store {self.path}: {exc}") from exc

    def load(self, conversation_ids: Iterable[str]) -> dict[str, Conversation]:
        ids = list(dict.fromkeys(conversation_ids))
        out: dict[str, Conversation] = {}
        with self._lock:
            for chunk in _chunks(ids, 500):
                rows = self._db.execute(
                    f"SELECT conversation_id, state, level, raised FROM conversations WHERE conversation_id IN "
                    f"({','.join('?' * len(chunk))})", chunk).fetchall()
                for cid, state, level, raised in rows:
                    out[cid] = Conversation(ConversationState.from_dict(json.loads(state)), level,
                                            frozenset(json.loads(raised)))
        return out

    def answered(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        out: dict[tuple[str, str], dict[str, Any]] = {}
        with self._lock:
            for start in range(0, len(keys), 400):  # one query per chunk, under SQLite's parameter limit
                chunk = keys[start:start + 400]
                rows = self._db.execute(
                    "WITH k(c, m) AS (VALUES " + ",".join(["(?, ?)"] * len(chunk)) + ") SELECT conversation_id, "
                    "message_id, result FROM messages JOIN k ON conversation_id = k.c AND message_id = k.m",
                    [v for key in chunk for v in key]).fetchall()
                out.update({(c, m): json.loads(r) for c, m, r in rows})
        return out

    def read(self, keys: Sequence[tuple[str, str]], conversation_ids: Iterable[str],
             ) -> tuple[dict[tuple[str, str], dict[str, Any]], dict[str, Conversation]]:
        conversations = self.load(conversation_ids)  # first (``StateStore.read``)
        return self.answered(keys), conversations

    def commit(self, conversations: Sequence[Conversation], answers: Sequence[tuple[str, str, dict[str, Any]]],
               interventions: Sequence[dict[str, Any]], sinks: Sequence[str],
               expected: Mapping[str, int] | None = None) -> None:
        """Store states, answers and new interventions (with an outbox row per sink) atomically.

        ``expected`` maps conversation ids to the message count they had when loaded (0: new);
        if another process has moved one on since, nothing is written and ``StoreConflict`` raised.
        """
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for cid, count in (expected or {}).items():
                    row = self._db.execute("SELECT state FROM conversations WHERE conversation_id=?",
                                           (cid,)).fetchone()
                    if (json.loads(row[0])["n_messages"] if row else 0) != count:
                        raise StoreConflict(cid)
                self._db.executemany(
                    "INSERT OR REPLACE INTO conversations VALUES (?, ?, ?, ?, ?)",
                    [(c.state.conversation_id, json.dumps(c.state.to_dict()), c.level, json.dumps(sorted(c.raised)),
                      now) for c in conversations])
                self._db.executemany("INSERT OR IGNORE INTO messages VALUES (?, ?, ?)",
                                     [(cid, mid, json.dumps(result)) for cid, mid, result in answers])
                self._db.executemany("INSERT OR IGNORE INTO interventions VALUES (?, ?, ?, ?)",
                                     [(i["intervention_id"], i["conversation_id"], json.dumps(i), now)
                                      for i in interventions])
                self._db.executemany(
                    "INSERT OR IGNORE INTO outbox (intervention_id, sink, created_at, next_attempt_at) "
                    "VALUES (?, ?, ?, ?)",
                    [(i["intervention_id"], sink, now, now) for i in interventions for sink in sinks])
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # SQLite has rolled back itself where COMMIT failed on a full disk
                    self._db.execute("ROLLBACK")
                raise

    def interventions(self, conversation_id: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT i.payload, COUNT(o.sink), COUNT(o.delivered_at) FROM interventions i "
                "LEFT JOIN outbox o USING (intervention_id) WHERE i.conversation_id=? "
                "GROUP BY i.intervention_id ORDER BY i.created_at, i.intervention_id", (conversation_id,)).fetchall()
        return [{**json.loads(payload), "delivered": done == total} for payload, total, done in rows]

    def due(self, now: float, limit: int) -> list[OutboxItem]:
        with self._lock:
            rows = self._db.execute(
                "SELECT o.intervention_id, o.sink, i.payload, o.attempts, o.created_at FROM outbox o "
                "JOIN interventions i USING (intervention_id) "
                "WHERE o.delivered_at IS NULL AND o.next_attempt_at <= ? ORDER BY o.next_attempt_at LIMIT ?",
                (now, limit)).fetchall()
        return [OutboxItem(iid, sink, json.loads(payload), attempts, created) for iid, sink, payload, attempts, created
                in rows]

    def delivered(self, intervention_id: str, sink: str, now: float) -> None:
        with self._lock:
            self._db.execute("UPDATE outbox SET delivered_at=?, attempts=attempts+1 WHERE intervention_id=? AND sink=?",
                             (now, intervention_id, sink))

    def failed(self, intervention_id: str, sink: str, next_attempt_at: float, error: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE outbox SET attempts=attempts+1, next_attempt_at=?, last_error=? "
                "WHERE intervention_id=? AND sink=?", (next_attempt_at, error[:500], intervention_id, sink))

    def outbox_stats(self) -> tuple[int, float | None]:
        """Undelivered rows and the creation time of the oldest."""
        with self._lock:
            depth, oldest = self._db.execute(
                "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE delivered_at IS NULL").fetchone()
        return int(depth), oldest

    def forget_answers(self, idle_since: float, idle_before: float, limit: int) -> int:
        """Delete up to ``limit`` answers of conversations last written in [``idle_since``, ``idle_before``):
        how many (0 once none are left). Their states and interventions stay."""
        with self._lock:
            return self._db.execute(
                "DELETE FROM messages WHERE rowid IN (SELECT m.rowid FROM conversations c JOIN messages m "
                "USING (conversation_id) WHERE c.updated_at >= ? AND c.updated_at < ? LIMIT ?)",
                (idle_since, idle_before, limit)).rowcount

    def erase(self, conversation_id: str) -> bool:
        return self._erase("VALUES (?)", (conversation_id,))[1] > 0

    def forget_conversations(self, idle_before: float, limit: int) -> int:
        return self._erase("SELECT conversation_id FROM conversations c WHERE updated_at < ? AND "
                           f"{UNDELIVERED_NONE.format(p='')} LIMIT ?", (idle_before, limit))[0]

    def _erase(self, ids: str, params: tuple[Any, ...]) -> tuple[int, int]:
        """Erase the conversations ``ids`` (a query) names, in one transaction: how many states and how
        many rows in all were deleted."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("CREATE TEMP TABLE IF NOT EXISTS gone (conversation_id TEXT PRIMARY KEY)")
                self._db.execute("DELETE FROM temp.gone")
                self._db.execute(f"INSERT INTO temp.gone {ids}", params)
                rows = self._db.execute(
                    "DELETE FROM outbox WHERE intervention_id IN (SELECT intervention_id FROM interventions "
                    "WHERE conversation_id IN (SELECT conversation_id FROM temp.gone))").rowcount
                for table in ("interventions", "messages"):
                    rows += self._db.execute(f"DELETE FROM {table} WHERE conversation_id IN "
                                             "(SELECT conversation_id FROM temp.gone)").rowcount
                states = self._db.execute("DELETE FROM conversations WHERE conversation_id IN "
                                          "(SELECT conversation_id FROM temp.gone)").rowcount
                rows += states
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # SQLite has rolled back itself where COMMIT failed on a full disk
                    self._db.execute("ROLLBACK")
                raise
        return states, rows

    def ping(self) -> None:
        """The file answers, and can be written: a file system remounted read-only (as Linux does on disk
        errors) leaves every read answered and every commit refused."""
        with self._lock:
            self._db.execute("SELECT 1").fetchone()
        if (why := _unwritable(self.path, folder=False)) is not None:  # the folder matters only at open, where
            # the journal is made beside the file: one opened goes on working in a folder it may no longer write
            raise sqlite3.OperationalError(f"the store takes no writes here: {why}")

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _unwritable(path: Path, folder: bool = True) -> str | None:
    """Why SQLite cannot write ``path`` (the file, or with ``folder`` its folder, where its journal goes beside
    it), or None."""
    why = "cannot be written (a read-only file system, or no permission)"
    if path.exists() and not os.access(path, os.W_OK):
        return f"the file {why}"
    if folder and not os.access(path.parent, os.W_OK):
        return f"its folder {path.parent} {why}"
    return None


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
