"""What the readers of apps' chat exports (WhatsApp, Telegram, Instagram, Messenger, Discord, Snapchat) share: the
tally of what they leave out, a chat's recipients, and a message made a row or set aside."""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Any

from detection.batch import bad_rows_error
from detection.events import EventError
from detection.inputs import InputError
from detection.readers import Reject
from training.logs import converted


@dataclass
class Reading:
    """What a reading of exports keeps besides the messages: the apps' own notices (encryption, calls, members
    joining) left out, the WhatsApp chats whose date order the input's other chats told (none of their own days past
    12), and the messages written, by conversation and id, so that one read twice (two copies of an export in a
    folder) is set aside rather than written twice."""

    notices: int = 0
    borrowed: list[str] = field(default_factory=list)
    seen: set[tuple[str, str]] = field(default_factory=set)
    several: bool = False  # the input holds other chats, which an unreadable one need not stop


def recipient(senders: Sequence[str], sender: str) -> str | None:
    """In a chat of two people, the other one: the message's recipient; None in a group."""
    return senders[1 - senders.index(sender)] if len(senders) == 2 and sender in senders else None


def row_or_reject(record: Mapping[str, object], message_id: str | None, zone: tzinfo | None, where: tuple[str, str],
                  rejects: list[Reject] | None, reading: Reading) -> dict[str, Any] | None:
    """``record`` as a message event's row, its id ``message_id`` where given (else its own); where a field is bad,
    or the message was read already, None, the message set aside (``set_aside``)."""
    try:
        row = converted(record, 1.0, zone, None, message_id)
        key = (str(row["conversation_id"]), str(row["message_id"]))
        if key in reading.seen:
            raise EventError("message_id", f"duplicate message id {key[1]!r} in conversation {key[0]!r} (an export "
                                           "read twice?)")
    except EventError as exc:
        set_aside(exc, record, where, rejects)
        return None
    reading.seen.add(key)
    return row


@contextmanager
def unzipping(archive: Path, name: str) -> Iterator[None]:
    """A file of a zip read (``name``): where it cannot be (encrypted, damaged, compressed in a way Python does
    not read), an ``InputError`` naming it, and saying what to do."""
    try:
        yield
    except RuntimeError as exc:  # zipfile's word for an encrypted file
        if "encrypted" not in str(exc):
            raise
        raise InputError(f"{archive}!{name}: encrypted: unzip it with its password, and convert what it holds") \
            from None
    except NotImplementedError as exc:
        raise InputError(f"{archive}!{name}: {exc} here: unzip it with another tool, and convert what it holds") \
            from None
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise InputError(f"{archive}!{name}: damaged ({exc}): export or download it again") from None


def set_aside(problem: EventError, record: Mapping[str, object], where: tuple[str, str],
              rejects: list[Reject] | None) -> None:
    """A message with a bad field, set aside in ``rejects`` or, without it, an ``InputError`` naming its file and
    place (``where``) and the field."""
    reject = Reject(where[0], where[1], problem.field, problem.reason, dict(record))
    if rejects is None:
        raise bad_rows_error(reject, 1) from None
    rejects.append(reject)


def set_file_aside(problem: InputError, path: str, where: str, rejects: list[Reject] | None,
                   several: bool = False) -> None:
    """An export (or a chat of one) that cannot be read at all, set aside in ``rejects`` as one entry (``where``:
    "file", or the chat's place), so that a folder's other chats are converted; without ``rejects``, ``problem``
    raised, saying how to convert the others where there are ``several``."""
    if rejects is None:
        if several:
            raise InputError(f"{problem} (use --errors FILE to set it aside and convert the other chats)") from None
        raise problem
    reason = str(problem).removeprefix(f"{path}: ")
    rejects.append(Reject(path, where, "file" if where == "file" else "messages", reason, {}))
