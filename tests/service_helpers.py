"""A real ``riskline serve`` process and a real webhook receiver, both on loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from tests.cli_helpers import RISKLINE


def wait_until(condition: Callable[[], bool], seconds: float = 60.0, step: float = 0.01) -> bool:
    """Poll ``condition`` until it holds or ``seconds`` have passed: whether it held."""
    deadline = time.time() + seconds
    while not condition():
        if time.time() > deadline:
            return False
        time.sleep(step)
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Receiver:
    """Records every POST; answers 500 to the first ``fail_first`` of them."""

    def __init__(self, port: int | None = None, fail_first: int = 0) -> None:
        self.received: list[dict[str, Any]] = []
        self.fail_first = fail_first
        self.port = port or free_port()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                owner.received.append({"headers": dict(self.headers), "body": body, "time": time.time()})
                status = 500 if len(owner.received) <= owner.fail_first else 204
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def delivered(self) -> list[dict[str, Any]]:
        """Bodies of deliveries that were answered 2xx."""
        return [json.loads(r["body"]) for r in self.received[self.fail_first:]]

    def wait_for(self, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        return self._wait(lambda delivered: len(delivered) >= count, timeout)

    def wait_for_high(self, conversations: set[str], timeout: float = 15.0) -> list[dict[str, Any]]:
        """Deliveries until each of ``conversations`` has had its ``high`` intervention delivered (its
        ``critical`` one may come first, so a count of deliveries would not do)."""
        return self._wait(lambda delivered: conversations <= {d["conversation_id"] for d in delivered
                                                               if d["level"] == "high"}, timeout)

    def _wait(self, done: Callable[[list[dict[str, Any]]], bool], timeout: float) -> list[dict[str, Any]]:
        """Deliveries once ``done`` holds of them, or at ``timeout`` seconds."""
        deadline = time.time() + timeout
        while not done(self.delivered()) and time.time() < deadline:
            time.sleep(0.05)
        return self.delivered()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Server:
    """``riskline serve`` in a child process."""

    def __init__(self, model_dir: Path, state: Path | str, *args: str, env: dict[str, str] | None = None,
                 log_dir: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (log_dir or Path(state).parent) / f"server.{self.port}.log"
        self.process = subprocess.Popen(
            [RISKLINE, "serve", "--port", str(self.port), "--model", str(model_dir), "--state", str(state), *args],
            stdout=subprocess.DEVNULL, stderr=self.log.open("w"), env={**os.environ, **(env or {})})
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited {self.process.returncode}: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError("server did not become ready")
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def post(self, body: Any, token: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.http.post("/v1/messages", content=json.dumps(body), headers=headers)

    def logged(self, request_id: str | None) -> list[tuple[str, int]]:
        """The route and status of each request log line naming ``request_id`` (waiting up to 10 s for one:
        the line is written after the answer is sent)."""
        deadline = time.time() + 10
        while True:
            lines = [json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{")]
            found = [(line["route"], line["status"]) for line in lines
                     if line["msg"] == "request" and line["request_id"] == request_id]
            if found or time.time() > deadline:
                return found
            time.sleep(0.05)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:  # killed, so that no server outlives the test that failed here
                self.process.kill()
                self.process.wait()
                raise
        self.http.close()
        return self.process.returncode


def start_redis(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A throwaway redis-server on loopback; skips the test where none is installed, except in CI."""
    import shutil

    import pytest

    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            raise RuntimeError("redis-server is missing: .ci/run installs it")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                                "no", "--dir", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process, f"redis://127.0.0.1:{port}/0"
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("redis-server did not start")


def _pg_bin() -> Path | None:
    """PostgreSQL's programs: on PATH, or where Debian's packages put them."""
    import shutil

    found = shutil.which("pg_ctl") or next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))[-1:]), None)
    return None if found is None else Path(found).parent


def _as_postgres() -> list[str]:
    """PostgreSQL refuses to run as root: as root, its programs run as the ``postgres`` user."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def start_postgres() -> tuple[Path, str]:
    """A throwaway PostgreSQL server on loopback: its folder (for ``stop_postgres``) and URL.

    Skips the test where PostgreSQL is not installed, except in CI."""
    import pwd
    import tempfile

    import pytest

    bin_dir = _pg_bin()
    if bin_dir is None:
        if os.environ.get("CI"):
            raise RuntimeError("PostgreSQL is missing: .ci/run installs it")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="riskline-pg-"))  # not pytest's: those only their owner may enter
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
    port = free_port()
    subprocess.run([*_as_postgres(), str(bin_dir / "initdb"), "-D", str(folder / "data"), "-U", "riskline",
                    "--auth=trust", "-E", "UTF8", "--no-sync"], check=True, stdout=subprocess.DEVNULL)
    url = f"postgresql://riskline@127.0.0.1:{port}/postgres"
    restart_postgres(folder, url)
    return folder, url


def restart_postgres(folder: Path, url: str) -> None:
    """Start (again) the server of ``start_postgres``, on its port."""
    bin_dir = _pg_bin()
    assert bin_dir is not None
    port = url.rsplit(":", 1)[1].split("/")[0]
    options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={folder} -c fsync=off"
    subprocess.run([*_as_postgres(), str(bin_dir / "pg_ctl"), "-D", str(folder / "data"), "-o", options, "-l",
                    str(folder / "log"), "-w", "-t", "30", "start"], check=True, stdout=subprocess.DEVNULL)


def fresh_database(url: str) -> str:
    """A new, empty database on the server at ``url``: its URL."""
    import uuid

    import psycopg

    name = f"t{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return url.rsplit("/", 1)[0] + "/" + name


def stop_postgres(folder: Path, mode: str = "fast", remove: bool = True) -> None:
    """Stop a server ``start_postgres`` started (``mode="immediate"``: as if it crashed)."""
    import shutil

    bin_dir = _pg_bin()
    assert bin_dir is not None
    pg_ctl = [*_as_postgres(), str(bin_dir / "pg_ctl"), "-D", str(folder / "data")]
    if subprocess.run([*pg_ctl, "status"], stdout=subprocess.DEVNULL).returncode != 3:  # 3: not running
        subprocess.run([*pg_ctl, "-m", mode, "-w", "stop"], check=True, stdout=subprocess.DEVNULL)
    if remove:
        shutil.rmtree(folder)


def throwaway_stores(kind: str, folder: Path) -> tuple[Any, Any]:
    """State stores of ``kind`` (sqlite, redis or postgres) for benchmarks: a function giving a new, empty
    store's ``--state`` URL at each call (a file, a Redis database, a PostgreSQL database), and one that
    stops the server started for them."""
    made = iter(range(1, 16))
    if kind == "postgres":
        pg_folder, pg_url = start_postgres()
        return (lambda: fresh_database(pg_url)), (lambda: stop_postgres(pg_folder))
    if kind == "redis":
        process, url = start_redis(folder)
        return (lambda: url.rsplit("/", 1)[0] + f"/{next(made)}"), process.terminate
    return (lambda: str(folder / f"state{next(made)}.db")), (lambda: None)


def samples(page: str) -> dict[str, float]:
    """A Prometheus text page's samples by name (with labels)."""
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in page.splitlines() if line and not line.startswith("#")}


class Relay:
    """A TCP relay to ``target``, listening on ``address`` (port ``self.port``), that holds each chunk
    ``delay`` seconds in each direction: a server that far away (a round trip of twice ``delay``).
    ``asks_nothing`` are client messages the server answers with nothing (PostgreSQL's Flush, which psycopg
    sends after a pipeline's Sync, however soon the Sync's answer comes): sent alone, they are no turn."""

    def __init__(self, target: tuple[str, int], address: str = "127.0.0.1", delay: float = 0.0,
                 asks_nothing: frozenset[bytes] = frozenset()) -> None:
        self.target, self.delay, self.asks_nothing = target, delay, asks_nothing
        self.turns = 0  # times the client spoke again after the server answered: round trips, as a client waits
        self._last = ""
        self.listener = socket.create_server((address, 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
                server = socket.create_connection(self.target)
            except OSError:
                return
            for a, b, way in ((client, server, "up"), (server, client, "down")):
                a.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                threading.Thread(target=self._pipe, args=(a, b, way), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, way: str) -> None:
        import queue

        held: queue.Queue[tuple[float, bytes]] = queue.Queue()

        def send() -> None:  # each chunk leaves ``delay`` after it came, however many wait
            while data := (item := held.get())[1]:
                time.sleep(max(0.0, item[0] + self.delay - time.monotonic()))
                try:
                    sink.sendall(data)
                except OSError:
                    return

        threading.Thread(target=send, daemon=True).start()
        try:
            while data := source.recv(65536):
                if way == "down" or data not in self.asks_nothing:
                    self.turns += way == "up" and self._last != "up"
                    self._last = way
                held.put((time.monotonic(), data))
        except OSError:
            pass
        held.put((0.0, b""))

    def close(self) -> None:
        self.listener.close()


class VanishingHost(Relay):
    """A relay on an address of its own (192.0.2.77, kept for documentation, on loopback) that can
    vanish as a host lost in a failover does: ``vanish()`` takes the address away, so packets to it go
    unanswered (no reset, no refusal) until ``come_back()``. Needs root and the right to change
    addresses (``ip``); skips the test otherwise."""

    ADDRESS = "192.0.2.77"

    def __init__(self, target: tuple[str, int]) -> None:
        import pytest

        if os.geteuid() != 0 or subprocess.run(["ip", "addr", "add", f"{self.ADDRESS}/32", "dev", "lo"],
                                               capture_output=True).returncode != 0:
            pytest.skip("needs root and `ip addr add` (CAP_NET_ADMIN) to make a host vanish")
        super().__init__(target, self.ADDRESS)

    def vanish(self) -> None:
        subprocess.run(["ip", "addr", "del", f"{self.ADDRESS}/32", "dev", "lo"], check=True)

    def come_back(self) -> None:
        subprocess.run(["ip", "addr", "add", f"{self.ADDRESS}/32", "dev", "lo"], capture_output=True)

    def close(self) -> None:
        super().close()
        subprocess.run(["ip", "addr", "del", f"{self.ADDRESS}/32", "dev", "lo"], capture_output=True)


def contended_app(model_dir: Path, folder: Path) -> tuple[Any, Any]:
    """The service in process on the real SQLite store, which loses its next ``store.busy`` commit races
    (each a ``StoreConflict``; the service tries ``MAX_ATTEMPTS`` times a request, then answers 503) and
    counts every commit it is asked for in ``store.tries``: the app, for a TestClient, and the store."""
    from detection.processor import build_parts
    from detection.service import create_app
    from detection.settings import ServiceSettings
    from detection.sqlite_store import SQLiteStore
    from detection.store import StoreConflict

    class Contended(SQLiteStore):
        busy, tries = 0, 0

        def commit(self, *args: Any, **kwargs: Any) -> None:
            self.tries += 1
            if self.busy:
                self.busy -= 1
                raise StoreConflict("c")
            super().commit(*args, **kwargs)

    settings = ServiceSettings(model=str(model_dir), state=str(folder / "state.db"))
    parts = build_parts(settings)
    parts["store"].close()
    store = parts["store"] = Contended(folder / "state.db")
    return create_app(settings, parts), store
