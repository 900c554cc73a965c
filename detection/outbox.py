"""The outbox worker: it delivers each intervention to each sink, at least once.

An intervention is written to the outbox (one row per sink) in the same transaction as the message
that raised it. ``OutboxWorker`` delivers due rows and retries failures with exponential backoff and
jitter until the sink accepts.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from detection.sinks import Sink
from detection.store import OutboxItem, StateStore

log = logging.getLogger("riskline.sinks")  # a delivery is the sinks' event: one logger for all of it

MAX_STORE_RETRY = 5.0  # seconds between outbox passes while the state store is down


def backoff(attempts: int, base: float = 0.5, cap: float = 300.0, rng: Callable[[], float] = random.random) -> float:
    """Seconds before the next try: doubling from ``base`` up to ``cap``, times a jitter in [0.5, 1.5)."""
    return min(base * 2.0**attempts, cap) * (0.5 + rng())


class OutboxWorker:
    """A thread that delivers due outbox rows to their sinks until stopped.

    Up to ``parallel`` deliveries run side by side, and a row is claimed (``StateStore.due``) only when a
    thread is free to send it: a receiver that hangs holds its own threads, while the other sinks' rows,
    and newer ones, go on through the rest. (The worker used to claim a wave and wait for all of it, so
    one hung webhook held up the audit log's rows in the same wave; before that it claimed 100 rows for
    eight threads, which could outlast their lease and go to another replica too.)"""

    def __init__(self, store: StateStore, sinks: list[Sink], poll: float = 0.25, base_delay: float = 0.5,
                 parallel: int = 8) -> None:
        self.store, self.sinks = store, {s.name: s for s in sinks}
        self.poll, self.base_delay, self.parallel = poll, base_delay, parallel
        self._pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="riskline-deliver")
        self._in_flight: set[tuple[str, str]] = set()  # (intervention, sink) rows being delivered
        self._backlog = False  # the last look found as many due rows as it asked for
        self._lock = threading.Lock()
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="riskline-outbox", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, drain_seconds: float = 2.0) -> None:
        """Stop claiming in the background, then go on delivering what is due for up to ``drain_seconds``
        (and wait for deliveries under way)."""
        self._stop.set()
        self.wake.set()
        self._thread.join(timeout=5)
        deadline = time.monotonic() + drain_seconds
        try:
            while (left := deadline - time.monotonic()) > 0:
                if not self.deliver_due():
                    with self._lock:
                        if not self._in_flight:
                            break
                    self.wake.wait(min(left, 0.05))
                    self.wake.clear()
        except Exception as exc:  # the store down: what is due stays in the outbox for the next start
            log.warning("outbox drain at stop failed; the state store could not be read or written: what is due is "
                        "sent at the next start", extra={"error": f"{type(exc).__name__}: {exc}"})
        self._pool.shutdown(wait=True)

    def deliver_due(self) -> int:
        """Claim as many due rows as there are free delivery threads and start them; return how many."""
        with self._lock:
            under_way = set(self._in_flight)
        if (free := self.parallel - len(under_way)) <= 0:
            return 0
        # a store that does not lease returns rows under way again (ask for them too, to get ``free`` new
        # ones); one that does returns such a row only when its lease ran out: neither is sent twice from here
        asked = free if self.store.leases else free + len(under_way)
        found = self.store.due(time.time(), asked)
        items = [item for item in found if (item.intervention_id, item.sink) not in under_way][:free]
        with self._lock:
            self._in_flight.update((item.intervention_id, item.sink) for item in items)
            self._backlog = len(found) >= asked  # more may be due: look again as each thread frees
        for item in items:
            self._pool.submit(self._deliver_and_free, item)
        return len(items)

    def _deliver_and_free(self, item: OutboxItem) -> None:
        try:
            self._deliver(item)
        except Exception as exc:  # the store failing to record the outcome: the row comes due again after its lease
            log.warning("recording a delivery failed", extra={"intervention_id": item.intervention_id,
                                                               "sink": item.sink,
                                                               "error": f"{type(exc).__name__}: {exc}"})
        finally:
            with self._lock:
                self._in_flight.discard((item.intervention_id, item.sink))
                backlog = self._backlog
            if backlog:  # a thread is free and rows wait: claim the next now, not at the next poll
                self.wake.set()

    def _deliver(self, item: OutboxItem) -> None:
        sink = self.sinks.get(item.sink)
        if sink is None:  # a sink no longer configured: keep the row, look again later
            self.store.failed(item.intervention_id, item.sink, time.time() + 60, "sink not configured")
            return
        try:
            sink.deliver(item.payload)
        except Exception as exc:  # any failure of any sink means: try again later
            delay = backoff(item.attempts, self.base_delay)
            self.store.failed(item.intervention_id, item.sink, time.time() + delay, str(exc))
            log.warning("delivery failed", extra={"intervention_id": item.intervention_id, "sink": item.sink,
                                                  "attempt": item.attempts + 1, "retry_in_s": round(delay, 2),
                                                  "error": f"{type(exc).__name__}: {exc}"})
        else:
            self.store.delivered(item.intervention_id, item.sink, time.time())

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            wait = self.poll
            try:
                tried = self.deliver_due()
                failures = 0
            except Exception as exc:  # the store itself failing must not kill delivery for good
                failures, tried = failures + 1, 0
                wait = min(self.poll * 2 ** failures, MAX_STORE_RETRY)  # one line a try, not four a second
                log.warning("outbox pass failed; the state store could not be read or written", extra={
                    "error": f"{type(exc).__name__}: {exc}", "retry_in_s": wait})
            if not tried:
                self.wake.wait(wait)
                self.wake.clear()
