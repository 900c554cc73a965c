"""What a run over every core stands on: its pool of worker processes, which stop with it however it stops,
its private working folder, and its progress bar.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from detection.held import Held


def working_folder(place: Path) -> Held:
    """A new working folder in ``place``, readable by its owner alone (it holds message text), held while the run
    works (one a run killed outright leaves is removed by the next run in the same place) and removed when the
    ``with`` block it opens ends."""
    return Held(place, ".riskline-", folder=True, private=True)


@contextlib.contextmanager
def worker_pool(n: int, context: Any) -> Iterator[ProcessPoolExecutor]:
    """A pool of ``n`` worker processes that stop with this one. A block left by an exception (Ctrl-C, SIGTERM)
    stops them at once, their work in hand and to come undone, rather than waiting for it: the working files
    they write can then be removed. A worker also dies with this process where it is killed outright (SIGKILL,
    the kernel's OOM killer), rather than waiting forever for work that will not come."""
    pool = ProcessPoolExecutor(n, mp_context=context, initializer=_worker_start, initargs=(os.getpid(),))
    try:
        yield pool
    except BaseException:
        for process in list((pool._processes or {}).values()):  # Python 3.14 has pool.terminate_workers()
            process.kill()
        # then wait for the pool's own thread, which sees them gone, reaps them and closes its pipes: left to run
        # on, it raced the interpreter's exit, which wrote to a pipe it had just closed ("Exception ignored ...
        # Bad file descriptor" after the command's one line, 1 run in 30)
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()


def _worker_start(parent: int) -> None:
    """In each worker, first: this process's signals are its parent's to act on (Ctrl-C reaches every process
    of a terminal's group; the parent stops the workers), and it gets SIGKILL when the parent dies (Linux: when
    the thread that forked it ends, here the main thread, where the pool's first task starts every worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # it died before this worker asked
            os._exit(1)


_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


class ProgressBar:
    """A progress bar on stderr for long runs, shown only on a terminal (``with`` it open)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.bar: Any = None

    def __enter__(self) -> ProgressBar:
        if self.enabled:
            from rich.progress import Progress

            self.bar = Progress(transient=True)
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def counter(self, total: int, label: str) -> Callable[[int], None]:
        """A bar of ``total`` things: the function given how many are done so far."""
        if self.bar is None:
            return lambda done: None
        task = self.bar.add_task(label, total=total)
        return lambda done: self.bar.update(task, completed=done)

    def track(self, items: Iterator[Any], total: int, label: str) -> Iterator[Any]:
        if self.bar is None:
            yield from items
            return
        task = self.bar.add_task(label, total=total)
        for item in items:
            self.bar.advance(task)
            yield item
