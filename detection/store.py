"""Where the service keeps conversation state, answered messages and the intervention outbox.

``StateStore`` is the interface; ``SQLiteStore`` (``detection.sqlite_store``) the default, one file in WAL
mode; ``RedisStore`` and ``PostgresStore`` are shared by replicas. A message's new conversation state, its
answer (for de-duplication) and any interventions it raised are committed in one transaction, so a crash
keeps all of them or none. Outbox rows are per intervention and sink, and are kept once delivered (delivery
marks them done) until their conversation is erased: ``erase`` deletes everything a store holds of one
conversation, in one transaction.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from detection.state import ConversationState

log = logging.getLogger("riskline.store")

LEASE_SECONDS = 30.0  # how long an outbox row claimed from a shared store is its worker's (StateStore.due)
# where a conversation ``c`` has no intervention still to deliver to some sink (SQLite and PostgreSQL alike)
UNDELIVERED_NONE = ("NOT EXISTS (SELECT 1 FROM {p}interventions i JOIN {p}outbox o USING (intervention_id) "
                    "WHERE i.conversation_id = c.conversation_id AND o.delivered_at IS NULL)")


@dataclass(frozen=True)
class Conversation:
    """What the service holds per conversation: scoring state plus the policy's memory."""

    state: ConversationState
    level: str = "none"
    raised: frozenset[str] = frozenset()


class StoreConflict(Exception):
    """Another writer changed a conversation since it was loaded: load, score and commit again."""


@dataclass(frozen=True)
class OutboxItem:
    intervention_id: str
    sink: str
    payload: dict[str, Any]
    attempts: int
    created_at: float


class StateStore(Protocol):
    """The interface every state store implements."""

    def load(self, conversation_ids: Iterable[str]) -> dict[str, Conversation]: ...
    def answered(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]: ...
    def read(self, keys: Sequence[tuple[str, str]], conversation_ids: Iterable[str],
             ) -> tuple[dict[tuple[str, str], dict[str, Any]], dict[str, Conversation]]:
        """``answered(keys)`` and ``load(conversation_ids)`` at once (one round trip to a server).

        The states are read first: a message another writer commits between the two reads is then found
        answered (a duplicate). Read the other way round, it would be scored again on a state that
        already holds it, and the version check, finding the count it loaded, would let it be counted
        twice."""
        ...
    def commit(self, conversations: Sequence[Conversation], answers: Sequence[tuple[str, str, dict[str, Any]]],
               interventions: Sequence[dict[str, Any]], sinks: Sequence[str],
               expected: Mapping[str, int] | None = None) -> None: ...
    def interventions(self, conversation_id: str) -> list[dict[str, Any]]: ...
    # whether ``due`` claims the rows it returns (see there); SQLite's does not, as one process uses it
    leases: bool

    def due(self, now: float, limit: int) -> list[OutboxItem]:
        """Up to ``limit`` undelivered rows due by ``now``, oldest first. Where the store ``leases``, each
        is claimed until ``now + LEASE_SECONDS``: no other call (another replica's worker, or this one's)
        gets it meanwhile, unless it is settled (``delivered``, ``failed``) or the lease runs out first;
        elsewhere a row under way is returned again until it is settled."""
        ...
    def delivered(self, intervention_id: str, sink: str, now: float) -> None: ...
    def failed(self, intervention_id: str, sink: str, next_attempt_at: float, error: str) -> None: ...
    def outbox_stats(self) -> tuple[int, float | None]: ...
    def forget_answers(self, idle_since: float, idle_before: float, limit: int) -> int: ...
    def erase(self, conversation_id: str) -> bool:
        """Delete the conversation's state, its answers, its interventions and their outbox rows (delivered
        or not), atomically: whether the store held any of them. A writer that loaded the state before
        meets ``StoreConflict`` and scores its messages again as a new conversation's."""
        ...
    def forget_conversations(self, idle_before: float, limit: int) -> int:
        """Erase (as ``erase``) up to ``limit`` conversations last written before ``idle_before``, but none
        with an intervention some sink has yet to accept (a review must not vanish for a sink's outage):
        how many (0 once none are left)."""
        ...
    def ping(self) -> None: ...
    def close(self) -> None: ...


def refuses_writes(exc: BaseException) -> bool:
    """Whether ``exc`` is a state store refusing a write while it still answers: for want of room (SQLite's full
    disk, PostgreSQL's insufficient resources, Redis at its memory limit or unable to persist), or because it takes
    no writes here (a Redis replica, a PostgreSQL standby or read-only transaction, a read-only SQLite file). The
    store's failure, not any message's: what it refused is tried again."""
    if isinstance(exc, sqlite3.OperationalError):
        return getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY)
    sqlstate = str(getattr(exc, "sqlstate", None) or "")
    if sqlstate.startswith("53") or sqlstate == "25006":  # PostgreSQL's class 53; read_only_sql_transaction
        return True
    return type(exc).__module__.startswith("redis") and (
        type(exc).__name__ in ("OutOfMemoryError", "ReadOnlyError") or str(exc).startswith("MISCONF"))


def reachable(store: StateStore) -> bool:
    """Whether ``store`` answers a ping now (and so takes writes)."""
    return not_ready(store) is None


def not_ready(store: StateStore) -> str | None:
    """Why ``store`` is not ready now (it does not answer, or takes no writes), or None where it is."""
    try:
        store.ping()
    except Exception as exc:  # any failure of the store or the way to it
        return f"{type(exc).__name__}: {exc}"
    return None


def warn_if_not_ready(store: StateStore, log: logging.Logger, detail: str) -> None:
    """At a start: log that ``store`` is not ready, and why, where it is not (what started goes on, and serves once
    the store is back or primary again)."""
    if (reason := not_ready(store)) is not None:
        log.warning("state store not ready", extra={"reason": reason, "detail": detail})


class Janitor:
    """A thread that keeps the store from growing for ever.

    Once a conversation has been idle for ``window`` seconds (0: never), it forgets the answers kept for
    de-duplication: states and interventions stay, so a conversation that goes on later is scored on
    from where it was, and a message id sent again after that is scored as new. Once a conversation
    has been idle for ``retention`` seconds (0: never), it erases all of it, as ``StateStore.erase``:
    one that goes on later starts anew.

    Each pass deletes in chunks (the store is free for scoring between them). The answers' pass looks
    only at conversations gone idle since the pass before (less ``SKEW`` for replicas' clocks); the
    first pass after a start looks at all of them.
    """

    SKEW = 600.0

    def __init__(self, store: StateStore, window: float, retention: float = 0.0, every: float = 60.0,
                 chunk: int = 5000, clock: Callable[[], float] = time.time) -> None:
        self.store, self.window, self.retention, self.clock = store, window, retention, clock
        self.every, self.chunk = every, chunk
        self._since = 0.0
        self.forgotten = self.retired = 0  # totals since the start, for the metrics
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="riskline-janitor", daemon=True)

    def run_once(self) -> int:
        """One pass over answers: the number of answers (in Redis, conversations) forgotten."""
        if self.window <= 0:
            return 0
        before = self.clock() - self.window
        total = 0
        while (done := self.store.forget_answers(self._since, before, self.chunk)) > 0:
            total += done
            self.forgotten += done
        self._since = max(0.0, before - self.SKEW)
        return total

    def retire_once(self) -> int:
        """One pass over conversations: the number erased for having been idle past ``retention``."""
        if self.retention <= 0:
            return 0
        before = self.clock() - self.retention
        total = 0
        while (done := self.store.forget_conversations(before, self.chunk)) > 0:
            total += done
            self.retired += done
        return total

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                if forgotten := self.run_once():
                    log.info("answers forgotten", extra={"count": forgotten, "idle_hours": self.window / 3600})
                if erased := self.retire_once():
                    log.info("conversations erased", extra={"count": erased, "idle_days": self.retention / 86400})
            except Exception as exc:  # the store down: try again next time, one line a try as the outbox says it
                log.warning("forgetting answers or conversations failed; the state store could not be read or "
                            "written", extra={"error": f"{type(exc).__name__}: {exc}", "retry_in_s": self.every})


def without_password(url: str) -> str:
    """The URL as shown in messages and logs: a password in it is replaced by ***."""
    shown = re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)
    return re.sub(r"(password=)[^&\s]*", r"\1***", shown)


REDIS_SCHEMES = ("redis://", "rediss://", "unix://")

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def _sqlite_path(url: str) -> Path:
    """The file a ``--state`` that names no server names: ``sqlite:///path`` or a plain path."""
    return Path(url[len("sqlite:///"):] if url.startswith("sqlite:///") else url)


def check_store_url(url: str) -> None:
    """Refuse a ``--state`` that ``open_store`` would refuse by its form alone, making nothing and connecting
    to nothing: for a command that reads its input before it opens the store."""
    if url.startswith(REDIS_SCHEMES):
        _check_redis_database(url)
    if url.startswith(REDIS_SCHEMES + POSTGRES_SCHEMES):
        return
    if "://" in url and not url.startswith("sqlite:///"):
        raise ValueError(f"--state {without_password(url)}: unsupported store (use sqlite:///PATH, a file path, "
                         "redis://... or postgresql://...)")
    path = _sqlite_path(url)
    if path.is_dir():  # SQLite says only "unable to open database file"
        raise ValueError(f"state store {path}: a folder; name a database file in it (such as {path / 'state.db'})")
    if path.parent.is_dir():
        return
    if url.startswith("sqlite:///") and not path.is_absolute() and Path("/", path).parent.is_dir():
        raise ValueError(f"--state {url} names the relative path {path}, whose folder {path.parent} does not "
                         f"exist here (as in SQLAlchemy: sqlite:////{path} for the absolute one)")
    raise ValueError(f"state store {path}: folder {path.parent} does not exist")


def _check_redis_database(url: str) -> None:
    """Refuse a Redis URL whose path is no database number: redis-py would use database 0 in its place. (A
    ``unix://`` URL's path is its socket's.)"""
    parts = urlsplit(url)
    if parts.scheme != "unix" and parts.path.strip("/") and not re.fullmatch(r"/\d+/?", parts.path):
        raise ValueError(f"--state {without_password(url)}: {parts.path[1:]!r} is no Redis database number "
                         "(redis://HOST:PORT/N, N from 0; 0 where the path is left out)")


def open_store(url: str, create: bool = True) -> StateStore:
    """A store from ``--state``: ``sqlite:///path``, a plain file path, ``redis://host:port/db`` or
    ``postgresql://user:password@host:port/database``. Without ``create``, an SQLite file that does not
    exist is refused rather than made (a command that only changes what a service stored)."""
    check_store_url(url)
    if url.startswith(REDIS_SCHEMES):
        from detection.redis_store import RedisStore

        return RedisStore(url)
    if url.startswith(POSTGRES_SCHEMES):
        from detection.postgres_store import PostgresStore

        return PostgresStore(url)
    path = _sqlite_path(url)
    if not create and not path.is_file():
        raise ValueError(f"--state {url}: no state store there (give the --state the service or stream worker uses)")
    from detection.sqlite_store import SQLiteStore

    return SQLiteStore(path)
