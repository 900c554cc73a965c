"""A platform's own message logs as Riskline's message events (``riskline convert LOGS``).

Logs rarely use Riskline's column names, nor always seconds for time. Each row is read with its
columns renamed (``--map FIELD=COLUMN``), numeric timestamps taken in a unit (``--timestamp-unit``),
text ones in a format (``--time-format``) and a zone (``--timezone``) where they lack an offset,
validated as scoring validates it, and written in the contract's shape: the event fields, time as
ISO-8601 in UTC, and the labels where the logs carry them.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from detection.batch import bad_rows_error
from detection.events import (
    ATTACHMENTS,
    EVENT_FIELDS,
    LABEL_FIELDS,
    REQUIRED,
    EventError,
    identifier,
    not_twice,
    parse_timestamp,
    shown,
    to_event,
)
from detection.inputs import InputError, MissingColumnsError, input_files
from detection.readers import Reject
from detection.records import iter_records
from training.data import parse_label, parse_stage

FIELDS = (*EVENT_FIELDS, *LABEL_FIELDS)
UNITS = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}
_NUMBER = re.compile(r"\s*-?\d+(\.\d*)?\s*")
_FILE_NAME = re.compile(r"[^/]\.([A-Za-z][A-Za-z0-9]{0,7})$")  # a name's extension: "1.jpg", not "1.5" nor "image/png"
_KINDS = {extension: kind for kind, extensions in (
    ("image", "jpg jpeg png gif webp heic heif bmp tif tiff avif svg"),
    ("video", "mp4 mov m4v webm mkv avi 3gp wmv mpeg mpg"),
    ("audio", "mp3 m4a aac ogg oga opus wav flac amr wma weba caf")) for extension in extensions.split()}
_MIME = re.compile(r"([a-z]+)/[a-z0-9][a-z0-9!#$&^_.+-]*(\s*;.*)?")  # type/subtype, parameters after ';'


def parse_mapping(items: Sequence[str]) -> dict[str, str]:
    """``FIELD=COLUMN`` items as column -> field; a ValueError naming a bad one."""
    rename: dict[str, str] = {}
    for item in items:
        field, sep, column = (part.strip() for part in item.partition("="))
        if not sep or not field or not column:
            raise ValueError(f"--map {item!r}: expected FIELD=COLUMN, e.g. text=body")
        if field not in FIELDS:
            raise ValueError(f"--map {item!r}: {field!r} is not a field (one of {', '.join(FIELDS)})")
        if field in rename.values():
            raise ValueError(f"--map {item!r}: {field} is mapped twice")
        if column in rename:
            raise ValueError(f"--map {item!r}: column {column!r} is mapped twice")
        rename[column] = field
    return rename


class GivenZone(tzinfo):
    """``--timezone``'s zone, which keeps whether a time was read in it (``used``): a time that carries its own
    UTC offset, or is a number, is read as it says, so that a zone given for such data changes nothing."""

    def __init__(self, zone: tzinfo, name: str) -> None:
        self.zone, self.name, self.used = zone, name, False

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return self.zone.utcoffset(None if dt is None else dt.replace(tzinfo=self.zone))

    def dst(self, dt: datetime | None) -> timedelta | None:
        return self.zone.dst(None if dt is None else dt.replace(tzinfo=self.zone))

    def tzname(self, dt: datetime | None) -> str | None:
        return self.zone.tzname(None if dt is None else dt.replace(tzinfo=self.zone))

    def fromutc(self, dt: datetime) -> datetime:  # the zone's own: a zone's rules are not one offset and its change
        return self.zone.fromutc(dt.replace(tzinfo=self.zone)).replace(tzinfo=self)


def time_zone(name: str | None) -> GivenZone | None:
    """``--timezone``: an IANA zone name (UTC, Europe/Berlin...), or None; a ValueError naming a bad one."""
    if name is None:
        return None
    if name.strip().upper() in ("UTC", "Z"):
        return GivenZone(UTC, name.strip())
    try:
        return GivenZone(ZoneInfo(name.strip()), name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"--timezone {name!r}: not a time zone (an IANA name, such as UTC or "
                         "America/New_York)") from None


def unused_zone(zone: tzinfo | None) -> str | None:
    """The note for a ``--timezone`` that no time was read in, else None."""
    if not isinstance(zone, GivenZone) or zone.used:
        return None
    return (f"--timezone {zone.name} changed nothing: every time read carries its own UTC offset or is a number "
            "(Unix time), and is read as it says")


def _timestamp(value: object, per_second: float, zone: tzinfo | None = None, form: str | None = None) -> str:
    """A timestamp as ISO-8601 in UTC. A number (or digits) is taken in the unit ``per_second`` gives;
    text in ``form`` (strptime) where given; a time without a UTC offset in ``zone``."""
    given = value
    if per_second != 1.0 and not isinstance(value, bool) and (
            isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value))):
        try:
            value = float(value) / per_second
        except OverflowError:  # an integer past float's range
            raise EventError("timestamp", f"out of range as {_unit(per_second)} (--timestamp-unit): an integer of "
                             f"{int(value).bit_length()} bits") from None
    elif isinstance(value, str) and form is not None:
        text = value.strip()
        try:
            value = datetime.strptime(text, form)
        except ValueError:
            raise EventError("timestamp", f"does not match --time-format {form!r}: {text[:40]!r}") from None
    elif isinstance(value, str) and zone is not None:
        with contextlib.suppress(ValueError):  # not ISO-8601: parse_timestamp says what it is
            value = datetime.fromisoformat(value.strip())
    if isinstance(value, datetime) and value.tzinfo is None and zone is not None:
        value = value.replace(tzinfo=zone)
        if isinstance(zone, GivenZone):
            zone.used = True
    try:
        seconds = parse_timestamp(value)
    except EventError as exc:
        if exc.reason.startswith("has no UTC offset"):
            raise EventError("timestamp", f"{exc.reason}; give --timezone for times without one") from None
        if per_second == 1.0 and "looks like Unix" in exc.reason:
            raise EventError("timestamp", f"{exc.reason}; give --timestamp-unit") from None
        if per_second != 1.0:  # the number it expected is in the unit given, not in seconds
            unit = _unit(per_second)
            if exc.reason.startswith("out of range"):  # the number as given, not as divided
                raise EventError("timestamp", f"out of range as {unit} (--timestamp-unit): {shown(given)}") from None
            raise EventError("timestamp", exc.reason.replace("Unix seconds", f"a number of {unit} "
                                                             "(--timestamp-unit)")) from None
        raise
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def _unit(per_second: float) -> str:
    return next(name for name, scale in UNITS.items() if scale == per_second)


@dataclass
class Garbled:
    """Texts written as UTF-8 and read back as Latin-1, as Meta's exports (Instagram, Messenger) hold them ("cafÃ©"
    for "café", an emoji as four such letters): ``found`` counts them, and with ``repair`` they are read as written;
    so are the names (senders', chats') such exports hold alike ("JosÃ©"), ``names`` counting each once."""

    repair: bool = False
    found: int = 0
    names: set[str] = field(default_factory=set)

    def read(self, text: str) -> str:
        """``text``, counted and repaired (with ``repair``) where it is such a text."""
        written = as_written(text)
        if written is None:
            return text
        self.found += 1
        return written if self.repair else text

    def read_name(self, name: str | None) -> str | None:
        """A name (an id), as ``read`` reads a text, counted once however often it comes."""
        if name is None or (written := as_written(name)) is None:
            return name
        self.names.add(name)
        return written if self.repair else name


def as_written(text: str) -> str | None:
    """``text`` as written where it is UTF-8 read as Latin-1; None where it is not (ASCII, or Latin-1 text of its own,
    "café", which is no UTF-8 so read)."""
    if text.isascii():
        return None
    try:
        return text.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return None


def iter_log_rows(source: Path, rename: Mapping[str, str], unit: str = "s", rejects: list[Reject] | None = None,
                  zone: tzinfo | None = None, form: str | None = None, numbered: bool = False,
                  garbled: Garbled | None = None) -> Iterator[dict[str, Any]]:
    """The logs' rows as message events (a file, or a folder's files as one), with their labels where
    given. A bad row (a field, a copy of a message id) is set aside in ``rejects``, or, without it,
    an ``InputError`` naming its file, place and field. ``numbered``: logs without message ids, each message
    named by its place among its conversation's rows in the logs' order ("1", "2", ...; a bad row holds its
    place too), so that the same logs, or logs that only grew at their end, give the same ids again. ``garbled``
    counts (and may repair) texts that are UTF-8 read as Latin-1."""
    if unit not in UNITS:
        raise ValueError(f"--timestamp-unit {unit!r}: expected one of {', '.join(UNITS)}")
    if numbered and "message_id" in rename.values():
        raise ValueError("--number-messages names messages where the logs have no ids: leave out --map "
                         "message_id=...")
    required = tuple(name for name in REQUIRED if not (numbered and name == "message_id"))
    places: dict[str, int] = {}  # numbered: how many rows of each conversation so far
    seen: set[tuple[str, str]] = set()
    labels: set[str] | None = None  # the first row's label fields: the output's columns follow it
    column_of = {field: column for column, field in rename.items()}
    for part in input_files(source):
        for location, record, error in _records(part, rename, required):
            try:
                if error is not None or not isinstance(record, Mapping):
                    raise EventError("row", str(error))
                named = None
                if numbered:
                    if "message_id" in record:  # ids of its own, which numbering would replace: not a bad row
                        raise InputError(f"{part}: {location}: holds a message_id of its own, which --number-messages "
                                         "would replace; leave it out for logs with ids")
                    conversation = str(record.get("conversation_id")).strip()  # as the event will hold it
                    places[conversation] = named = places.get(conversation, 0) + 1
                row = converted(record, UNITS[unit], zone, form, None if named is None else str(named))
                key = (str(row["conversation_id"]), str(row["message_id"]))
                if key in seen:
                    raise EventError("message_id", f"duplicate message id {key[1]!r} in conversation {key[0]!r}")
                given = {name for name in LABEL_FIELDS if row.get(name) is not None}
                if labels is not None and (extra := sorted(given - labels)):
                    raise EventError(extra[0], "given here but not in the first row, whose columns the output takes")
            except EventError as exc:
                reject = _in_their_names(Reject(str(part), location, exc.field, exc.reason, record), column_of)
                if rejects is None:
                    raise bad_rows_error(reject, 1) from None
                rejects.append(reject)
                continue
            seen.add(key)
            if garbled is not None:
                row["text"] = garbled.read(row["text"])
                for name in ("conversation_id", "sender_id", "recipient_id"):
                    row[name] = garbled.read_name(row[name])
            if labels is None:
                labels = {name for name in LABEL_FIELDS if name in row}
            yield row


def _in_their_names(reject: Reject, column_of: Mapping[str, str]) -> Reject:
    """A reject as the logs name it: the column a bad field was read from, and the row with its own
    column names (a column left out because another is read as its field is not shown)."""
    field, reason = reject.field, reject.reason
    if field in column_of:
        field, reason = column_of[field], f"read as {field}: {reason}"
    record = reject.record
    if isinstance(record, Mapping):
        record = {column_of.get(name, name): value for name, value in record.items()}
    return Reject(reject.path, reject.location, field, reason, record)


def _records(part: Path, rename: Mapping[str, str], required: tuple[str, ...],
             ) -> Iterator[tuple[str, Mapping[str, object] | str, str | None]]:
    try:
        yield from iter_records(part, rename, required)
    except MissingColumnsError as exc:
        ids = "; logs without message ids: --number-messages" if "'message_id'" in str(exc).split(" (its ")[0] \
            else ""
        raise MissingColumnsError(f"{exc}; read other columns as these fields with --map FIELD=COLUMN{ids}") from None


def attachment_kind(value: object) -> object:
    """An attachment given as a MIME type, as logs often keep it (``image/png``, ``video/mp4``,
    ``audio/ogg``), or as a file's name, path or URL (``photos/1.jpg``, as Instagram's exports name a photo,
    ``https://cdn.example/v.mp4?sig=x``), as its kind; any other type (``application/pdf``, ``text/plain``), a
    file whose name says none (``notes.xyz``) or a link without a name is a file. Other values are left for the
    event's own check."""
    if not isinstance(value, str):
        return value
    given = value.strip()
    path = urlsplit(given).path if "://" in given else given
    if extension := _FILE_NAME.search(path):
        return _KINDS.get(extension[1].lower(), "file")
    if "://" in given:  # a link to it, which names no kind
        return "file"
    if mime := _MIME.fullmatch(given.lower()):
        return mime[1] if mime[1] in ATTACHMENTS else "file"
    return value


def converted(record: Mapping[str, object], per_second: float, zone: tzinfo | None,
              form: str | None, message_id: str | None = None) -> dict[str, Any]:
    """A record, its fields under Riskline's names, as a message event's row (time as ISO-8601 in UTC) with its
    labels where it has them; an ``EventError`` naming a bad field. ``message_id``: the id it is given, where the
    record has none of its own."""
    not_twice(record, FIELDS)  # before the record is copied, and what it held twice with it
    stamp = _timestamp(record.get("timestamp"), per_second, zone, form) if record.get("timestamp") is not None \
        else None
    named = {} if message_id is None else {"message_id": message_id}
    kind = attachment_kind(record.get("attachment"))
    if "text" not in record and kind is not None:  # a photo sent alone, as logs keep it: a message with no text
        named["text"] = ""
    event = to_event({**record, **named, "timestamp": stamp, "attachment": kind})
    row: dict[str, Any] = {**{name: getattr(event, name) for name in EVENT_FIELDS}, "timestamp": stamp}
    if "conversation_label" in record:
        row["conversation_label"] = parse_label(record["conversation_label"])
    if "stage" in record:
        row["stage"] = parse_stage(record["stage"])
    if "offender_id" in record:
        row["offender_id"] = identifier(record, "offender_id", required=False)
    return row


def arrow_schema(columns: Sequence[str], integers: Collection[str] = ("conversation_label",)) -> Any:
    """The Parquet schema of written rows (converted here, or PAN's, or generated), so that they stream into row
    groups: ``integers`` are whole numbers, every other column text."""
    import pyarrow as pa

    return pa.schema([(name, pa.int64() if name in integers else pa.string()) for name in columns])
