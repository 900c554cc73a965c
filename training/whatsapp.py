"""WhatsApp chat exports as Riskline's message events (``riskline convert "WhatsApp Chat with Sam.txt"``).

A chat exported from WhatsApp ("Export chat") is a text file with a message a line, each opened by its date
and time, then its sender's name, as the phone wrote them::

    12/31/23, 10:15 PM - Sam: hey, you play ranked?          (Android)
    [31/12/2023, 22:15:03] Sam: hey, you play ranked?       (iPhone, its _chat.txt in a .zip)

A message of several lines goes on over the lines that follow. The date's order (day or month first) is
the phone's locale's: it is read from the chat itself (a day past 12 tells), or given with
``--time-format``. The times are the phone's local time, without a UTC offset: ``--timezone`` names its zone.
Media are kept as the kind of attachment the export names (``<Media omitted>``, ``image omitted``, a file
name), never the media; WhatsApp's own notices (encryption, security codes, missed calls) are left out.
Each chat is a conversation named by its file, each message by its place in it (1, 2, ...), so that a later
export of the same chat gives its earlier messages the same ids (WhatsApp exports a chat's latest 40,000
messages, 10,000 with media: a longer chat's later export starts later, and its numbers differ).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, TextIO

from detection.events import ATTACHMENTS, EventError
from detection.inputs import InputError, not_a_file
from detection.readers import Reject
from training.chat_rows import Reading, recipient, row_or_reject, set_aside, set_file_aside, unzipping
from training.logs import attachment_kind

SUFFIXES = (".txt", ".zip")
HEAD_BYTES = 4096  # enough of a file to hold its first line's date and time
_DATE = r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}\.?"
_TIME = r"\d{1,2}[:.]\d{2}(?:[:.]\d{2})?(?:\s*[AaPp]\.?\s?[Mm]\.?)?"
# "[date, time] rest" (iPhone) or "date, time - rest" (Android; French phones write "date à time"); \s takes the
# narrow no-break space before "PM"
_HEADER = re.compile(rf"\[(?P<bdate>{_DATE}),?\s+(?P<btime>{_TIME})\]\s?(?P<brest>.*)"
                     rf"|(?P<ddate>{_DATE})(?:,|\s+à)?\s+(?P<dtime>{_TIME})\s[-\u2013]\s(?P<drest>.*)", re.S)
_TIME_PARTS = re.compile(r"(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?\s*(?:([AaPp])\.?\s?[Mm]\.?)?")
_MARKS = "\ufeff\u200e\u200f\u202a\u202b\u202c"  # byte order and direction marks before names and notices
_SENDER = re.compile(r"(?P<sender>[^:]+?): (?P<text>.*)", re.S)
# a group's notice that quotes its name, which may hold ": " ('Sam created group "Squad: ranked"', 'Sam changed the
# subject from "A" to "B"'): not a message from 'Sam created group "Squad'
_NAMED_NOTICE = re.compile(r"[^:]*? (?:created|changed)\b[^:]*? [\"\u201c].*[\"\u201d]", re.S)
# the notices only a group's export holds: a chat that holds one is a group, even where two of its people wrote
_GROUP_NOTICE = re.compile(r"[^:]*? (?:created group|added|left|removed|joined using|changed the subject|"
                           r"changed the group|changed this group's)\b.*", re.S)
# a medium sent without its file (exported "without media"), as iPhones and Android phones name it
_OMITTED = {"image omitted": "image", "photo omitted": "image", "sticker omitted": "image", "gif omitted": "video",
            "video omitted": "video", "audio omitted": "audio", "document omitted": "file",
            "contact card omitted": "file", "<media omitted>": "file"}
_ATTACHED = re.compile(r"<attached: (?P<name>[^>]+)>\s*(?P<text>.*)", re.S)  # iPhone, exported with media
_FILE_ATTACHED = re.compile(r"(?P<name>\S[^\n]*?) \(file attached\)\n?(?P<text>.*)", re.S)  # Android, with media
_EDITED = " <This message was edited>"
ORDERS = ("dmy", "mdy", "ymd")


@contextmanager
def open_chat(part: Path) -> Iterator[tuple[str, TextIO]]:
    """The chat's text, and the name its places are given under: a ``.txt`` itself, or the one ``.txt`` in a
    ``.zip`` (``_chat.txt`` beside the media, as iPhones export)."""
    if not part.is_file():
        raise not_a_file(part)
    if part.suffix.lower() != ".zip":
        with part.open(encoding="utf-8-sig", errors="strict") as handle:
            yield str(part), handle
        return
    try:
        archive = zipfile.ZipFile(part)
    except zipfile.BadZipFile:
        raise InputError(f"{part}: not a zip archive") from None
    with archive:
        texts = [info.filename for info in archive.infolist() if not info.is_dir()
                 and info.filename.lower().endswith(".txt") and not info.filename.startswith("__MACOSX/")]
        if len(texts) > 1:  # a text file sent in the chat, exported with its media: not the one that opens as a chat
            texts = [name for name in texts if zipped_chat(archive, part, name)] or texts
        if len(texts) != 1:
            held = f"{len(texts)} text files ({', '.join(texts[:5])})" if texts else "no .txt file"
            raise InputError(f"{part}: a WhatsApp export holds its chat as one .txt file; this archive holds {held}")
        with unzipping(part, texts[0]), archive.open(texts[0]) as raw, \
                io.TextIOWrapper(raw, encoding="utf-8-sig", errors="strict") as handle:
            yield f"{part}!{texts[0]}", handle


def opens_as_chat(head: bytes) -> bool:
    """Whether text (its first bytes) opens as a WhatsApp chat: its first line a message's or notice's date and
    time."""
    line = head.decode("utf-8-sig", errors="replace").split("\n", 1)[0].rstrip("\r")
    return bool(_HEADER.fullmatch(line.lstrip(_MARKS)))


def zipped_chat(archive: zipfile.ZipFile, part: Path, name: str) -> bool:
    """Whether a zip's text file opens as a WhatsApp chat."""
    with unzipping(part, name), archive.open(name) as raw:
        return opens_as_chat(raw.read(HEAD_BYTES))


def named_as_chat(name: str) -> bool:
    """Whether a file's name is one WhatsApp gives its exports (``WhatsApp Chat with Sam.txt``, in every language
    naming the app; an iPhone's ``_chat.txt``)."""
    return "whatsapp" in name.lower() or name.lower() == "_chat.txt"


@dataclass
class _Line:
    """A message as the export holds it: where it begins, its date and time as written, and the rest."""

    number: int
    date: str
    time: str
    stamp: str  # the date and time as the line writes them, with what lies between
    rest: str


def _messages(handle: TextIO, name: str) -> Iterator[_Line]:
    """The export's messages, their later lines joined to their first; an ``InputError`` where the file does not
    open as a WhatsApp export, or is not UTF-8 text."""
    current: _Line | None = None
    number = 0
    try:
        for number, raw in enumerate(handle, 1):
            line = raw.rstrip("\r\n")
            if match := _HEADER.fullmatch(line.lstrip(_MARKS)):
                if current is not None:
                    yield current
                side = "b" if match["bdate"] else "d"
                stamp = match.string[match.start(f"{side}date"):match.end(f"{side}time")]  # as written
                current = _Line(number, match[f"{side}date"], match[f"{side}time"], stamp, match[f"{side}rest"])
            elif current is not None:
                current.rest += "\n" + line
            elif line.strip(_MARKS + " \t"):
                raise InputError(f"{name}: line {number}: not a WhatsApp chat line, which opens with its date and "
                                 f"time ('[31/12/2023, 22:15:03] Sam: hi' or '12/31/23, 10:15 PM - Sam: hi'): "
                                 f"{line.strip()[:60]!r}")
    except UnicodeDecodeError:
        raise InputError(f"{name}: line {number + 1}: not UTF-8 text") from None
    if current is not None:
        yield current


def _numbers(date: str) -> tuple[str, str, str]:
    first, second, third = re.split(r"[./-]", date.rstrip("."))
    return first, second, third


def date_order(dates: Iterator[str]) -> str | None:
    """The order of a chat's dates ("dmy", "mdy" or "ymd"), as a day past 12 tells it; None where no date tells
    (every day and month 12 or under); a ValueError where they disagree."""
    day_first = month_first = False
    for date in dates:
        first, second, _ = _numbers(date)
        if len(first) == 4:
            return "ymd"
        day_first |= int(first) > 12
        month_first |= int(second) > 12
        if day_first and month_first:
            raise ValueError("its dates have days past 12 both first and second, so they cannot be read in one "
                             "order")
    return "dmy" if day_first else "mdy" if month_first else None


def _stamp_text(stamp: str) -> str:
    """The date and time as ``--time-format`` reads them: as written, any space as a plain one, "p. m." as PM."""
    text = " ".join(stamp.split())
    return re.sub(r"([AaPp])\.?\s?[Mm]\.?$", lambda m: m[1].upper() + "M", text)


def parse_stamp(date: str, time: str, stamp: str, order: str | None, form: str | None) -> datetime:
    """A message's local date and time (``stamp``: both as written); an ``EventError`` naming what is wrong."""
    if form is not None:
        text = _stamp_text(stamp)
        try:
            return datetime.strptime(text, form)
        except ValueError:
            raise EventError("timestamp", f"does not match --time-format {form!r}: {text!r}") from None
    assert order is not None
    first, second, third = (int(n) for n in _numbers(date))
    year, month, day = (first, second, third) if order == "ymd" else (third, second, first) if order == "dmy" \
        else (third, first, second)
    if year < 100:
        year += 2000
    match = _TIME_PARTS.fullmatch(" ".join(time.split()))
    assert match is not None  # _HEADER matched it
    hour, minute, second_ = int(match[1]), int(match[2]), int(match[3] or 0)
    if match[4]:  # a 12-hour clock
        if not 1 <= hour <= 12:
            raise EventError("timestamp", f"not a time of a 12-hour clock: {_stamp_text(stamp)!r}")
        hour = hour % 12 + (12 if match[4].lower() == "p" else 0)
    try:
        return datetime(year, month, day, hour, minute, second_)
    except ValueError as exc:
        raise EventError("timestamp", f"not a date and time ({exc}): {_stamp_text(stamp)!r}") from None


def _content(text: str) -> tuple[str, str | None]:
    """A message's text and attachment: a medium the export names becomes its kind, its caption the text."""
    text = text.removesuffix(_EDITED)
    bare = text.strip(_MARKS + " ")
    if (kind := _OMITTED.get(bare.lower())) is not None:
        return "", kind
    if (found := _ATTACHED.fullmatch(bare)) or (found := _FILE_ATTACHED.fullmatch(bare)):
        named = attachment_kind(found["name"].strip(_MARKS + " "))  # a name's kind, "file" where it tells none
        return found["text"].strip(), named if named in ATTACHMENTS else "file"
    return text, None


def iter_chat_rows(chats: Sequence[tuple[Path, str]], zone: tzinfo | None, form: str | None = None,
                   rejects: list[Reject] | None = None, reading: Reading | None = None) -> Iterator[dict[str, Any]]:
    """The WhatsApp exports ``chats`` names (each a file and the conversation id it is given) as message events.
    A message that cannot be read (a date that is none) is set aside in ``rejects``, or, without it, an
    ``InputError`` naming its file, line and field. Each export is read twice: first for its date order (where a
    chat's own dates do not tell it, the other chats' do) and senders (a chat of two people: each message's
    recipient is the other), then for its messages."""
    reading = reading if reading is not None else Reading()
    shapes = {}
    for part, _ in chats:
        try:
            shapes[part] = _shape(part, form)  # reads it whole: what cannot be read is found before any row is
        except InputError as exc:
            set_file_aside(exc, str(part), "file", rejects, reading.several)
    if not shapes:  # each set aside
        return
    if zone is None:  # once they are known to be WhatsApp's (a zip may be another app's download)
        raise InputError(f"{next(iter(shapes))}: WhatsApp writes times without a UTC offset, in the phone's own time "
                         "zone: give it with --timezone ZONE (e.g. Europe/London)")
    known = {order for order, _ in shapes.values() if order is not None}
    for part, conversation in ((part, name) for part, name in chats if part in shapes):
        order, senders = shapes[part]
        if order is None and form is None:
            if len(known) != 1:
                set_file_aside(InputError(
                    f"{part}: its dates could be day/month or month/day (no day past 12 in it): give --time-format, "
                    "e.g. '%d/%m/%Y, %H:%M' or '%m/%d/%y, %I:%M %p', as its lines write them"), str(part), "file",
                    rejects, reading.several)
                continue
            order = next(iter(known))
            reading.borrowed.append(str(part))
        yield from _chat_rows(part, conversation, order, form, zone, senders, rejects, reading)


@dataclass
class _Read:
    """A line's sender (None for a notice on Android, which names none), its text as written (a notice's without
    its marks), and whether it is one of WhatsApp's notices."""

    sender: str | None
    text: str
    notice: bool


def _message(rest: str) -> _Read:
    named = ('"' in rest or "\u201c" in rest) and _NAMED_NOTICE.fullmatch(rest)  # the test first: it is quicker
    found = None if named else _SENDER.fullmatch(rest)
    if found is None:
        return _Read(None, rest.strip(_MARKS + " "), True)
    text = found["text"]
    # "Messages and calls are end-to-end encrypted...": iPhones put their notices in a name (the contact's, the
    # group's), after a mark, as they do a medium ("\u200eimage omitted")
    notice = text.startswith("\u200e") and _content(text)[1] is None
    return _Read(found["sender"].strip(_MARKS + " "), text.strip(_MARKS + " ") if notice else text, notice)


def _shape(part: Path, form: str | None) -> tuple[str | None, list[str]]:
    """A chat's date order (None where no date tells, or ``form`` gives it) and its senders in order of first
    message (none for a group's, whose messages have no one recipient)."""
    senders: dict[str, None] = {}
    dates: list[str] = []
    group = False
    with open_chat(part) as (name, handle):
        for line in _messages(handle, name):
            read = _message(line.rest)
            if read.sender is not None:
                senders[read.sender] = None
            group |= read.notice and _GROUP_NOTICE.fullmatch(read.text) is not None
            dates.append(line.date)
        if not dates:
            raise InputError(f"{name}: no messages: not a WhatsApp chat export")
        try:
            return (None if form is not None else date_order(iter(dates))), [] if group else list(senders)
        except ValueError as exc:
            raise InputError(f"{name}: {exc}: is it one chat export?") from None


def _chat_rows(part: Path, conversation: str, order: str | None, form: str | None, zone: tzinfo,
               senders: list[str], rejects: list[Reject] | None, reading: Reading) -> Iterator[dict[str, Any]]:
    place = 0
    with open_chat(part) as (name, handle):
        for line in _messages(handle, name):
            read = _message(line.rest)
            if read.notice or read.sender is None:
                reading.notices += 1
                continue
            place += 1
            sender, (text, kind) = read.sender, _content(read.text)
            record: dict[str, object] = {"conversation_id": conversation, "sender_id": sender, "text": text,
                                         "attachment": kind, "recipient_id": recipient(senders, sender)}
            where = (name, f"line {line.number}")
            try:
                record["timestamp"] = parse_stamp(line.date, line.time, line.stamp, order, form)
            except EventError as exc:
                set_aside(exc, {**record, "timestamp": line.stamp}, where, rejects)
                continue
            if (row := row_or_reject(record, str(place), zone, where, rejects, reading)) is not None:
                yield row
