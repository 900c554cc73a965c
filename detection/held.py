"""Files and folders a command writes before moving them into place, each held by a lock while its command runs.

An output, a model or a report is written under a temporary name beside where it goes and renamed there when
whole. A command stopped normally removes what it was writing; one killed outright (SIGKILL, the kernel's
out-of-memory killer) cannot, but the kernel lets go of its locks, and the next command that writes in the same
place removes what no process holds any more (``remove_abandoned``), a half-written output of gigabytes
included. Only names this module makes are touched: a prefix, 12 random hex digits, a suffix.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import secrets
import shutil
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)

_MAKING = "~"  # the end of a name while it is made and locked: never taken for abandoned


class Held:
    """A new empty file (``folder=False``) or folder in ``parent``, named ``prefix``, 12 random hex digits and
    ``suffix``, held by a lock until ``close()`` (or the end of a ``with`` block, which gives its path), which also
    removes whatever is still at that path. Those left in ``parent`` by commands killed outright go first.

    It is made under a name ending in ``~``, locked, then renamed, so that no other command can take it for
    abandoned meanwhile. Where no lock can be taken (ENOLCK: some network and FUSE file systems) it keeps that
    name: never removed by another command, nor removed by one if abandoned. ``private`` makes it readable by
    its owner alone (0600/0700, for working files that hold message text); else it gets the usual mode (umask),
    as an output, a model or a report should."""

    def __init__(self, parent: Path, prefix: str, suffix: str = "", *, folder: bool = False,
                 private: bool = False) -> None:
        remove_abandoned(parent, prefix, suffix)
        self.folder, self.fd = folder, -1
        while True:
            name = f"{prefix}{secrets.token_hex(6)}{suffix}"
            making = parent / (name + _MAKING)
            try:
                if folder:
                    making.mkdir(0o700 if private else 0o777)
                else:  # made and opened in one call: the descriptor the lock is taken on
                    self.fd = os.open(making, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o666)
                break
            except FileExistsError:
                continue
        self.path = making
        try:
            if folder:
                self.fd = os.open(making, os.O_RDONLY)
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # no locks here: keep the name no other command takes for abandoned
                return
            os.rename(making, parent / name)
            self.path = parent / name
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Remove what is still at the path (nothing, once renamed into place) and let go of the lock."""
        try:
            if self.folder:
                shutil.rmtree(self.path, ignore_errors=True)
            else:
                self.path.unlink(missing_ok=True)
        finally:
            if self.fd >= 0:
                os.close(self.fd)
                self.fd = -1

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def remove_abandoned(parent: Path, prefix: str, suffix: str = "") -> None:
    """Remove the files and folders ``Held`` made in ``parent`` with this ``prefix`` and ``suffix`` whose
    commands ended without removing them: those no process holds a lock on. A place that cannot be listed, an
    entry that cannot be opened (another user's, a symbolic link) or locked (held, or no locks here) is left."""
    pattern = re.compile(re.escape(prefix) + "[0-9a-f]{12}" + re.escape(suffix))
    try:
        entries = [e for e in os.scandir(parent) if pattern.fullmatch(e.name)]
    except OSError:
        return
    for entry in entries:
        try:
            folder = entry.is_dir(follow_symlinks=False)
            fd = os.open(entry.path, (os.O_RDONLY if folder else os.O_RDWR) | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if folder:
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
            log.info("removed %s, left there by a command killed before it could remove it", entry.path)
        except OSError:  # held: a command is writing it (or gone since)
            pass
        finally:
            os.close(fd)
