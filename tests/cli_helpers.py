"""Run the installed ``riskline`` command as a real process."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

RISKLINE = str(Path(sys.executable).with_name("riskline"))


# ``riskline`` (its entry point, detection.cli:main) with the modules named in argv[1] not importable
BLOCKING = ("import sys\nfor name in sys.argv[1].split(','):\n    sys.modules[name] = None\n"
            "sys.argv[:2] = ['riskline']\nfrom detection.cli import main\nmain()\n")


def riskline(*args: object, env: dict[str, str | None] | None = None, cwd: Path | None = None,
             max_file_bytes: int | None = None, stdin: str | None = None,
             blocked: Iterable[str] = ()) -> subprocess.CompletedProcess[str]:
    """``max_file_bytes``: no file the command writes may grow past this, as on a full disk (a real
    limit, RLIMIT_FSIZE: a write past it fails with EFBIG, "File too large"). ``stdin``: written to the
    command through a pipe. ``blocked``: modules the command cannot import, as where they are not
    installed (an import of one raises ImportError, and ``importlib.util.find_spec`` finds none). ``env``: set
    beside this process's environment; a name given None is left out."""
    command = [sys.executable, "-c", BLOCKING, ",".join(blocked)] if blocked else [RISKLINE]
    return subprocess.run([*command, *map(str, args)], capture_output=True, text=True, timeout=300, input=stdin,
                          env={k: v for k, v in {**os.environ, **(env or {})}.items() if v is not None}, cwd=cwd,
                          preexec_fn=None if max_file_bytes is None else lambda: _limit_files(max_file_bytes))


def _limit_files(size: int) -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails instead of killing


@contextlib.contextmanager
def file_size_limit(size: int) -> Iterator[None]:
    """In this process, as ``riskline(max_file_bytes=...)`` in a command's: no file may grow past ``size``
    (a write past it fails with EFBIG, as on a full disk) until the block ends."""
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.getsignal(signal.SIGXFSZ)
    _limit_files(size)
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, handler)


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (not gone, not a zombie waiting for its parent to read its status)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def still_running(pids: Iterable[int], within: float) -> list[int]:
    """Those of ``pids`` still running after waiting up to ``within`` seconds for them to end."""
    pids = list(pids)
    deadline = time.monotonic() + within
    while any(map(running, pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [pid for pid in pids if running(pid)]


class HeldElsewhere:
    """A ``Held`` file or folder made by another process, which holds it until ``kill()`` kills it outright
    (SIGKILL, as the kernel's out-of-memory killer would): then it is left there, its lock let go. As a ``with``
    block, the process is killed on leaving, if still running."""

    def __init__(self, parent: Path, prefix: str, suffix: str = "", folder: bool = False) -> None:
        script = ("import sys, time; from pathlib import Path; from detection.held import Held; "
                  f"h = Held(Path(sys.argv[1]), {prefix!r}, {suffix!r}, folder={folder}); "
                  "(h.path / 'part.arrow' if h.folder else h.path).write_text('half written'); "
                  "print(h.path, flush=True); time.sleep(600)")
        self.process = subprocess.Popen([sys.executable, "-c", script, str(parent)], stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.path = Path(self.process.stdout.readline().strip())

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> HeldElsewhere:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()
