"""Message events: the one input shape everywhere, and their validation."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime

STAGES: tuple[str, ...] = ("none", "rapport", "risk_check", "isolation", "sexual", "coercion", "payment")
RISK_STAGES: tuple[str, ...] = STAGES[1:]
# A threat or a payment demand: extortion, unambiguous on its own, with or without grooming first.
EXTORTION_STAGES: frozenset[str] = frozenset({"coercion", "payment"})
ATTACHMENTS: frozenset[str] = frozenset({"image", "video", "audio", "file"})
REQUIRED: tuple[str, ...] = ("conversation_id", "message_id", "sender_id", "timestamp", "text")
ID_FIELDS: tuple[str, ...] = ("conversation_id", "message_id", "sender_id")


@dataclass(frozen=True, slots=True)
class MessageEvent:
    """One validated message. ``timestamp`` is Unix seconds (UTC)."""

    conversation_id: str
    message_id: str
    sender_id: str
    timestamp: float
    text: str
    recipient_id: str | None = None
    attachment: str | None = None


EVENT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(MessageEvent))  # in its order
LABEL_FIELDS: tuple[str, ...] = ("conversation_label", "stage", "offender_id")  # what training data adds
# Every way json.loads fails on input: not JSON, not UTF-8 (bytes), a number past Python's digit
# limit (ValueError), nesting past its recursion limit (RecursionError). Each place that parses
# JSON from users catches these, so that such input is a bad row or a 422, never a crash.
JSON_ERRORS = (ValueError, RecursionError)


class JsonObject(dict):  # type: ignore[type-arg]
    """A JSON object that held a key more than once: ``json`` keeps each key's last value, another reader
    (a filter in front of Riskline, Arrow) may keep the first or refuse the object. ``twice`` names them."""

    twice: frozenset[str] = frozenset()


def _object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    record = dict(pairs)
    if len(record) == len(pairs):
        return record
    seen: set[str] = set()
    held = JsonObject(record)
    held.twice = frozenset(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
    return held


def loads(text: str | bytes) -> object:
    """``json.loads``, each object that held a key twice a ``JsonObject`` naming such keys (see ``not_twice``).
    Raises as ``json.loads`` does (``JSON_ERRORS``)."""
    return json.loads(text, object_pairs_hook=_object)


def not_twice(record: Mapping[str, object], names: tuple[str, ...]) -> None:
    """Raise ``EventError`` for the first of ``names`` that ``record`` held twice (read by ``loads``): which
    value is meant is not clear, as with a CSV header naming a column twice."""
    twice = getattr(record, "twice", None)
    if twice and (field := next((name for name in names if name in twice), None)):
        raise EventError(field, "given twice in one object: which value is meant is not clear (JSON "
                                "readers differ: some keep the first, some the last, some refuse)")


class EventError(ValueError):
    """A record that is not a valid message event; ``field`` names the culprit."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"field '{field}': {reason}")
        self.field = field
        self.reason = reason


# A lone half of a UTF-16 surrogate pair: JSON may spell one ("\ud800"), but it is no character,
# and no text holding one can be encoded (hashed, stored, sent on) as UTF-8.
SURROGATE = re.compile("[\ud800-\udfff]")


def _check_unicode(field: str, value: str) -> str:
    if not value.isascii() and SURROGATE.search(value):
        raise EventError(field, "not valid Unicode (a lone surrogate, such as \\ud800 in JSON)")
    return value


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def shown(value: object, limit: int = 60) -> str:
    """``repr(value)`` for a message, cut to about ``limit`` characters: a bad value can be megabytes long (a
    whole message in the wrong field), and a reason quoting it whole outgrew what carries it (a Kafka record)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _missing(value: object) -> str:
    """Why a missing value is: a NaN (JSON Lines may hold one, as Python writes them) says so."""
    return "missing" if value is None else "missing (NaN)"


# The longest id, in UTF-8 bytes. Ids are keys everywhere they are kept: PostgreSQL's index on a message's
# (conversation id, message id) refuses a row of more than about 2.7 kB, so a longer id failed every
# try to store it (a 503 at each resend, a stream worker retrying one batch for ever). Real ids (UUIDs,
# snowflakes, hashes) are tens of bytes: one this long is content in the wrong column.
MAX_ID_BYTES = 1024
# The longest text, in characters. Scoring reads a text at about 70 bytes of memory a character, so one value of
# hundreds of megabytes (a corrupt export, a file in the text column) took a whole run down with it, by
# MemoryError or the kernel's silent out-of-memory kill. Chat platforms allow tens of thousands at most.
MAX_TEXT_CHARS = 1_000_000


def identifier(record: Mapping[str, object], field: str, required: bool = True) -> str | None:
    """A record's id field as events hold it (strings and integers, trimmed); ``EventError`` if invalid."""
    value = record.get(field)
    if type(value) is str and value and not value[0].isspace() and not value[-1].isspace() \
            and len(value) <= MAX_ID_BYTES // 4:  # at most 4 bytes a character: short enough
        return _check_unicode(field, value)  # the common case, checked first: most rows pay for nothing else
    if _is_missing(value):
        if required:
            raise EventError(field, _missing(value))
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise EventError(field, f"expected a string, got {type(value).__name__}")
    text = str(value).strip()
    if not text:
        if required:
            raise EventError(field, "empty")
        return None
    _check_unicode(field, text)
    if len(text) > MAX_ID_BYTES // 4 and (size := len(text.encode())) > MAX_ID_BYTES:
        raise EventError(field, f"{size} bytes long: an id may be at most {MAX_ID_BYTES} (UTF-8)")
    return text


LATEST_TIMESTAMP = 32503680000  # Unix seconds of 3000-01-01: anything later is a mistake


def conversation_key(value: str) -> str:
    """A conversation id given alone (to read or erase the conversation) as messages' ids are held: trimmed, and
    an ``EventError`` where no message could have it (empty, too long, a lone surrogate)."""
    return str(identifier({"conversation_id": value}, "conversation_id"))


def parse_timestamp(value: object) -> float:
    """ISO-8601 with a UTC offset, or Unix seconds (number or numeric string), as Unix seconds."""
    if _is_missing(value):
        raise EventError("timestamp", _missing(value))
    if isinstance(value, bool):
        raise EventError("timestamp", "expected ISO-8601 or Unix seconds, got a boolean")
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:  # an integer past float's range
            raise EventError("timestamp", f"out of range: an integer of {int(value).bit_length()} bits") from None
    elif isinstance(value, datetime):
        if value.tzinfo is None:
            raise EventError("timestamp", "has no UTC offset")
        seconds = value.timestamp()
    elif isinstance(value, str):
        seconds = _parse_text_timestamp(value.strip())
    else:
        raise EventError("timestamp", f"expected ISO-8601 or Unix seconds, got {type(value).__name__}")
    if not math.isfinite(seconds) or not 0 <= seconds < LATEST_TIMESTAMP:
        numeric = isinstance(value, int | float) or (isinstance(value, str) and not _looks_iso(value.strip()))
        raise EventError("timestamp", f"out of range: {shown(value)}{_unit_hint(seconds) if numeric else ''}")
    return seconds


def _unit_hint(seconds: float) -> str:
    """What a number past the year 3000 probably is: platforms often keep Unix milliseconds (or
    micro- or nanoseconds) since 1973 or later, where Unix seconds are expected."""
    for name, per_second in (("milliseconds", 1e3), ("microseconds", 1e6), ("nanoseconds", 1e9)):
        if 1e8 <= seconds / per_second < LATEST_TIMESTAMP:
            return f" (Unix seconds expected; this looks like Unix {name})"
    return ""


def _looks_iso(text: str) -> bool:
    """A date has '-', ':' or 'T' past its first character; anything else must be Unix seconds
    (so "20240101" is seconds, not a basic-format ISO date)."""
    return "-" in text[1:] or ":" in text or "T" in text


def _parse_text_timestamp(text: str) -> float:
    try:
        parsed = datetime.fromisoformat(text) if _looks_iso(text) else None
        if parsed is None:
            return float(text)
    except ValueError:
        raise EventError("timestamp", f"not ISO-8601 or Unix seconds: {text[:40]!r}") from None
    if parsed.tzinfo is None:
        raise EventError("timestamp", f"has no UTC offset: {text[:40]!r}")
    return parsed.timestamp()


def to_event(record: Mapping[str, object]) -> MessageEvent:
    """Validate one record (extra keys ignored) into a ``MessageEvent``; raise ``EventError``."""
    not_twice(record, EVENT_FIELDS)
    conversation_id = identifier(record, "conversation_id")
    message_id = identifier(record, "message_id")
    sender_id = identifier(record, "sender_id")
    timestamp = parse_timestamp(record.get("timestamp"))
    text = record.get("text")
    attachment = record.get("attachment")
    if type(text) is str and attachment is None and len(text) <= MAX_TEXT_CHARS:  # the common case
        return MessageEvent(conversation_id, message_id, sender_id, timestamp,  # type: ignore[arg-type]
                            _check_unicode("text", text), identifier(record, "recipient_id", required=False))
    if _is_missing(text):
        if "text" not in record:
            raise EventError("text", "missing")
        text = ""
    if not isinstance(text, str):
        raise EventError("text", f"expected a string, got {type(text).__name__}")
    _check_unicode("text", text)
    if len(text) > MAX_TEXT_CHARS:
        raise EventError("text", f"{len(text)} characters long: a message's text may be at most {MAX_TEXT_CHARS}")
    if _is_missing(attachment) or attachment == "":
        attachment = None
    elif not isinstance(attachment, str) or attachment.lower() not in ATTACHMENTS:
        raise EventError("attachment", f"expected one of {sorted(ATTACHMENTS)} or null, got {shown(attachment)}")
    assert conversation_id and message_id and sender_id  # required identifiers are never None
    return MessageEvent(
        conversation_id=conversation_id, message_id=message_id, sender_id=sender_id,
        timestamp=timestamp, text=text, recipient_id=identifier(record, "recipient_id", required=False),
        attachment=attachment.lower() if isinstance(attachment, str) else None,
    )
