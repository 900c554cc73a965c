"""Structured logs: one JSON object per line. Message text never goes into a log."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from time import monotonic  # by name: a test gives Throttled a clock of its own here
from typing import NoReturn

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}


class JSONFormatter(logging.Formatter):
    """Time, level, logger, message, and every ``extra`` field of the record."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
                 "level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage()}
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "info") -> None:
    """Send every log line to stderr as JSON."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # the service logs its own requests
    logging.getLogger("httpx").setLevel(logging.WARNING)


def exit_at_once(log: logging.Logger, sig: int, left: str) -> NoReturn:
    """End the process now, at a second SIGTERM or Ctrl-C while it stops in order (as a person who will not wait
    sends one), with the status a shell gives a process that signal ended: as safe as a kill, which the store's
    commits and the outbox are made to survive. ``left`` says what is left undone and what becomes of it."""
    try:  # in the service, a signal handler: the signal may come mid-write to the log, whose stream then refuses
        log.warning(f"stopped at once by a second signal; {left}", extra={"signal": signal.Signals(sig).name})
        logging.shutdown()  # its lines written out; os._exit leaves the rest as it is, as a kill would
    finally:
        os._exit(128 + sig)


class Throttled:
    """One kind of failure logged at error level, with its traceback, at most once in ``seconds``; the next line
    counts those left out. While a store is down every call fails, and a line with a traceback for each (hundreds
    a second under load) buried what else the log had to say."""

    def __init__(self, log: logging.Logger, msg: str, seconds: float = 10.0) -> None:
        self.log, self.msg, self.seconds = log, msg, seconds
        self._said_at: float | None = None
        self._unsaid = 0

    def failed(self, exc: BaseException) -> None:
        now = monotonic()
        if self._said_at is not None and now - self._said_at < self.seconds:
            self._unsaid += 1
            return
        self.log.error(self.msg, exc_info=exc, extra={"failed_not_logged": self._unsaid,
                                                       "logged_at_most_every_s": self.seconds})
        self._said_at, self._unsaid = now, 0
