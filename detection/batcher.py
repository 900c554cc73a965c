"""The service's scoring queue: whatever requests have queued up are scored together, in one call on one
thread (no added wait when idle, larger batches under load), so updates to a conversation never race.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from detection.events import MessageEvent
from detection.logs import Throttled

# the service's logger: a failed scoring is the service's event, where log searches for the service look
log = logging.getLogger("riskline.service")


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
        self._failed = Throttled(log, "scoring failed")

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
            self._failed.failed(exc)
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
