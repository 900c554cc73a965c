"""Run the installed ``riskline`` command as a real process."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import resource
import select
import signal
import subprocess
import sys
import tempfile
import threading
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
    beside this process's environment; a name given None is left out.

    The command's process is forked from ``tests/fork_server.py``, which has imported what commands import,
    unless modules are blocked or ``env`` changes Python's own settings (``PYTHON...``: a command run from
    elsewhere), or ``RISKLINE_TEST_FORKS=0`` is set, when it starts afresh from the console script."""
    environment = {k: v for k, v in {**os.environ, **(env or {})}.items() if v is not None}
    argv = [RISKLINE, *map(str, args)]
    own_python = all(environment.get(k) == os.environ.get(k) for k in {*environment, *os.environ}
                     if k.startswith("PYTHON"))
    if not blocked and own_python and os.environ.get("RISKLINE_TEST_FORKS") != "0":
        return _FORKS.run(argv, environment, cwd, max_file_bytes, stdin)
    command = [sys.executable, "-c", BLOCKING, ",".join(blocked)] if blocked else [RISKLINE]
    return subprocess.run([*command, *argv[1:]], capture_output=True, text=True, timeout=300, input=stdin,
                          env=environment, cwd=cwd,
                          preexec_fn=None if max_file_bytes is None else lambda: _limit_files(max_file_bytes))


class _ForkServer:
    """This process's ``tests/fork_server.py``, started at its first command and ended with this process."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        # the server's own errors (a command's go to its own pipes), kept for as long as the server runs
        self.errors = tempfile.TemporaryFile()  # noqa: SIM115
        self.lock = threading.Lock()
        atexit.register(self.end)  # once, however often the server is started again

    def run(self, argv: list[str], env: dict[str, str], cwd: Path | None, max_file_bytes: int | None,
            stdin: str | None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        with self.lock, tempfile.TemporaryDirectory(prefix="riskline-command-") as folder:
            streams = {name: os.path.join(folder, name) for name in ("stdout", "stderr")}
            request = {"argv": argv, "env": env, "cwd": str(cwd or os.getcwd()), "max_file_bytes": max_file_bytes,
                       "input": stdin or "", **streams}
            server = self._started()
            assert server.stdin is not None and server.stdout is not None
            sent = json.dumps(request).encode() + b"\n"
            while sent:
                sent = sent[server.stdin.write(sent) or 0:]
            pid = int(self._line(server, 30))
            try:
                status = int(self._line(server, timeout))
            except subprocess.TimeoutExpired:
                os.kill(pid, signal.SIGKILL)
                self._line(server, 30)
                raise subprocess.TimeoutExpired(argv, timeout) from None
            read = {name: Path(streams[name]).read_text() for name in ("stdout", "stderr")}  # as text=True reads
            return subprocess.CompletedProcess(argv, status, read["stdout"], read["stderr"])

    def _started(self) -> subprocess.Popen[bytes]:
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("fork_server.py"))],
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errors,
                                            bufsize=0)  # unbuffered: a line read leaves the next in the pipe
        return self.process

    def _line(self, server: subprocess.Popen[bytes], timeout: float) -> str:
        assert server.stdout is not None
        if not select.select([server.stdout], [], [], timeout)[0]:
            raise subprocess.TimeoutExpired("fork_server", timeout)
        line = server.stdout.readline()
        if not line:
            self.errors.seek(0)
            said = self.errors.read().decode(errors="replace")[-3000:]
            raise RuntimeError(f"tests/fork_server.py ended (status {server.wait()}):\n{said}")
        return line.decode().strip()

    def end(self) -> None:
        if self.process is not None and self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()


_FORKS = _ForkServer()


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
