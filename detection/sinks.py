"""Intervention sinks: the signed webhook, the audit log and those of the ``riskline.sinks`` entry-point group.

Each entry of the group is a factory taking the service settings and returning a ``Sink`` or None (not
configured). The outbox worker (``detection.outbox``) delivers each intervention to each sink, at least once.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import socket
import threading
import time
import uuid
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol

import httpcore
import httpx

log = logging.getLogger("riskline.sinks")

NAMESPACE = uuid.UUID("6f1d3c1e-52a4-4c7e-9a57-0b6f2f6d8e11")


def intervention_id(conversation_id: str, level: str, opened: float | None = None) -> str:
    """Stable id: the same conversation, level and first message's time always give the same id.

    ``opened`` (the time of the first message the conversation's state holds) tells a conversation
    erased and then resumed from the one it was: its interventions get new ids, which receivers that
    de-duplicate by id would otherwise drop as redeliveries of the erased ones. A level is raised at most
    once while a state lives, so within one the id is the conversation's and level's alone."""
    key = f"{conversation_id}\x00{level}" if opened is None else f"{conversation_id}\x00{level}\x00{opened!r}"
    return str(uuid.uuid5(NAMESPACE, key))


def canonical_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent and signed."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def sign(secret: str | bytes, body: bytes) -> str:
    """The ``X-Riskline-Signature`` header value for ``body``."""
    key = secret if isinstance(secret, bytes) else secret.encode()
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify_signature(secret: str | bytes, body: bytes | bytearray | memoryview | str, header: str | None) -> bool:
    """True when ``header`` is the signature of the raw ``body`` under ``secret`` (constant time).

    ``body`` as received: its bytes, or the text a framework decoded them to (the body is ASCII JSON, so the
    two sign alike); ``secret`` as text or bytes. Any header at all, one a sender made up included, gives True or
    False: hmac refuses to compare text outside ASCII, which a receiver would answer with a 500.

    A ``secret`` no service signs with is a ValueError saying why, where it would make every delivery False:
    none or empty (a variable not set here), or with white space or a line break at an end (a secret file read
    whole; the service refuses such a secret, ``RISKLINE_WEBHOOK_SECRET``).
    """
    if not secret:
        raise ValueError(f"no webhook secret to check the signature with ({secret!r}): set the receiver's copy of "
                         "the service's (RISKLINE_WEBHOOK_SECRET)")
    if secret != secret.strip():
        raise ValueError("the webhook secret has white space or a line break at an end (a secret file read whole?), "
                         "which the service's cannot have: strip it")
    if header is None or not header.isascii():
        return False
    return hmac.compare_digest(sign(secret, body.encode() if isinstance(body, str) else bytes(body)), header)


class Sink(Protocol):
    """Something that takes interventions. ``deliver`` raises on failure; it may be called again."""

    name: str

    def deliver(self, payload: dict[str, Any]) -> None: ...


def loopback(host: str) -> bool:
    """Whether ``host`` (an address or a name) is this machine alone: a webhook sent there, or a service
    bound there, is out of the network's reach."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


class _Deadline(threading.local):
    """When the call under way on this thread must be over (``time.monotonic``), or None: no limit."""

    at: float | None = None

    def left(self, timeout: float | None, late: type[Exception]) -> float | None:
        """The time one network step may take: its own ``timeout``, cut to what is left of the call."""
        if self.at is None:
            return timeout
        if (left := self.at - time.monotonic()) <= 0:
            raise late("the webhook's whole call took longer than its timeout")
        return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream, deadline: _Deadline) -> None:
        self._stream, self._deadline = stream, deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._deadline.left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._deadline.left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        stream = self._stream.start_tls(ssl_context, server_hostname,
                                        self._deadline.left(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(stream, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


def _addresses(host: str, port: int, timeout: float | None) -> list[str]:
    """The addresses of ``host``, in the resolver's order. ``socket.getaddrinfo`` takes no timeout and a
    resolver that does not answer holds it for its own retries (tens of seconds), so the lookup runs on a
    thread of its own and is given up after ``timeout``; the thread ends when the resolver does."""
    try:
        ipaddress.ip_address(host)
        return [host]
    except ValueError:
        pass
    found: list[Any] = []
    done = threading.Event()

    def look_up() -> None:
        try:
            found.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except (OSError, UnicodeError) as exc:
            found.append(exc)
        finally:
            done.set()

    threading.Thread(target=look_up, name="riskline-resolve", daemon=True).start()
    if not done.wait(timeout):
        raise httpcore.ConnectTimeout(f"looking up {host} took longer than the webhook's timeout")
    if isinstance(found[0], Exception):
        raise httpcore.ConnectError(f"looking up {host}: {found[0]}")
    return list(dict.fromkeys(str(info[4][0]) for info in found[0]))


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's own network I/O, each step's timeout cut to what is left of the whole call, the host's
    name lookup included (``_addresses``)."""

    def __init__(self, deadline: _Deadline) -> None:
        self._backend, self._deadline = httpcore.SyncBackend(), deadline

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:
        failed: Exception | None = None
        for address in _addresses(host, port, self._deadline.left(timeout, httpcore.ConnectTimeout)):
            try:  # each address in turn, as socket.create_connection tries them (TLS still checks the name)
                stream = self._backend.connect_tcp(address, port, self._deadline.left(timeout, httpcore.ConnectTimeout),
                                                   local_address, socket_options)
            except httpcore.ConnectError as exc:
                failed = exc
                continue
            return _DeadlineStream(stream, self._deadline)
        raise failed or httpcore.ConnectError(f"{host} has no address")

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> httpcore.NetworkStream:
        stream = self._backend.connect_unix_socket(path, self._deadline.left(timeout, httpcore.ConnectTimeout),
                                                   socket_options)
        return _DeadlineStream(stream, self._deadline)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


MAX_ANSWER_BYTES = 65_536  # of a webhook's answer read (only its status counts); the rest is left unread


class WebhookSink:
    """POSTs the intervention JSON, signed with HMAC-SHA256; any non-2xx answer is a failure.

    ``timeout`` bounds the whole call (the name lookup, connecting, sending, the answer), not each network
    read as httpx's own does: a receiver that trickles its answer a byte at a time would otherwise hold a
    delivery thread for as long as it went on."""

    name = "webhook"

    def __init__(self, url: str, secret: str, timeout: float = 5.0) -> None:
        self.url, self.secret, self.timeout = url, secret, timeout
        self._deadline = _Deadline()
        self._client = httpx.Client(timeout=timeout)
        # httpx has no limit on a whole call: each connection pool (the direct one, and any proxy's from
        # the environment) does its I/O through a backend that knows this thread's deadline
        for transport in (self._client._transport, *self._client._mounts.values()):
            pool = getattr(transport, "_pool", None)
            if isinstance(pool, httpcore.ConnectionPool):
                pool._network_backend = _DeadlineBackend(self._deadline)
        parts = httpx.URL(url)
        if parts.scheme == "http" and not loopback(parts.host):
            # where it goes, not the URL: a webhook's path or query often is its secret (Slack's, Discord's)
            host = f"[{parts.host}]" if ":" in parts.host else parts.host
            log.warning("webhook over plain http", extra={
                "to": f"{host}:{parts.port or 80}", "detail": "interventions (conversation, suspect and message "
                "ids) cross the network unencrypted: the signature proves who sent them but hides nothing; use https"})

    def deliver(self, payload: dict[str, Any]) -> None:
        body = canonical_body(payload)
        self._deadline.at = time.monotonic() + self.timeout
        try:
            with self._client.stream("POST", self.url, content=body, headers={
                    "Content-Type": "application/json", "X-Riskline-Intervention-Id": payload["intervention_id"],
                    "X-Riskline-Signature": sign(self.secret, body)}) as response:
                read = 0
                for chunk in response.iter_raw():  # read to its end, so the connection is kept, unless long
                    if (read := read + len(chunk)) > MAX_ANSWER_BYTES:
                        break
        finally:
            self._deadline.at = None
        if not 200 <= response.status_code < 300:
            raise RuntimeError(f"webhook answered {response.status_code}")


class AuditLogSink:
    """Appends each intervention as one JSON line and syncs it to disk."""

    name = "audit_log"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise ValueError(f"audit log {self.path}: folder {self.path.parent} does not exist")
        if self.path.is_dir():
            raise ValueError(f"audit log {self.path}: a folder; name a file to append to")
        # opened once now (and made, where it is not there): a log that cannot be written is said at start, not
        # found by every delivery failing while the outbox holds the interventions back
        try:
            os.close(self._open())
        except OSError as exc:
            raise ValueError(f"audit log {self.path}: cannot be written ({exc.strerror or exc})") from None

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)

    def deliver(self, payload: dict[str, Any]) -> None:
        """Append the line whole or not at all: a write cut short (a full disk) is cut back off, so that
        the retry's line does not follow half of this one."""
        line = (json.dumps(payload, sort_keys=True) + "\n").encode()
        fd = self._open()
        try:
            start, done = os.fstat(fd).st_size, 0
            try:
                while done < len(line):
                    done += os.write(fd, line[done:])
                os.fsync(fd)
            except OSError:
                if done < len(line) and os.fstat(fd).st_size == start + done:  # no other writer since
                    with contextlib.suppress(OSError):
                        os.ftruncate(fd, start)
                raise
        finally:
            os.close(fd)


def webhook_sink(settings: Any) -> Sink | None:
    if not settings.webhook_url:
        if settings.webhook_secret:  # a URL left out or misspelt (RISKLINE_WEBHOOK_URI) more likely than meant
            log.warning("webhook secret without a webhook url", extra={
                "detail": "interventions are raised and kept (GET /v1/conversations/ID) but sent to no webhook; "
                          "set --webhook-url (RISKLINE_WEBHOOK_URL) to deliver them"})
        return None
    if not settings.webhook_secret:
        raise ValueError("--webhook-url needs --webhook-secret (RISKLINE_WEBHOOK_SECRET) to sign deliveries")
    return WebhookSink(settings.webhook_url, settings.webhook_secret, settings.webhook_timeout)


def audit_log_sink(settings: Any) -> Sink | None:
    return AuditLogSink(settings.audit_log) if settings.audit_log else None


def load_sinks(settings: Any) -> list[Sink]:
    """Every configured sink from the ``riskline.sinks`` entry points."""
    sinks = []
    for entry in entry_points(group="riskline.sinks"):
        sink = entry.load()(settings)
        if sink is not None:
            sinks.append(sink)
    return sinks
