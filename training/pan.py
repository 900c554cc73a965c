"""Convert the PAN 2012 sexual-predator-identification corpus into labelled message events.

The corpus is one XML file of ``<conversation id>`` elements holding ``<message line>`` elements
(``<author>``, ``<time>`` as ``HH:MM``, ``<text>``), plus a text file listing predator author ids,
one per line. A conversation is labelled 1 when any of its authors is a listed predator, who is its
``offender_id`` (the first to write, if several are; the role model that names suspects learns
from it). PAN gives
times of day only, so timestamps count from a fixed date and roll over to the next day whenever
the clock goes backwards.

The texts hold HTML entities beneath the XML's own, as the web pages the logs were taken from wrote them
(``don&apos;t``, ``&lt;3``, even ``&amp;#8212;``): they are read as the characters they name, as studies of the
corpus do, so that the text is what was typed (and what a platform's logs hold).
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from detection.events import EventError
from detection.inputs import InputError
from detection.readers import Reject

EPOCH = datetime(2012, 1, 1, tzinfo=UTC)
# an HTML entity with its ';' (html.unescape alone also reads '&not' in 'this&nothing' as '¬', as browsers do)
ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
ENTITY_LAYERS = 3  # escaped again at each step from the chat to the corpus: '&amp;#8212;' is two layers
COLUMNS = ("conversation_id", "message_id", "sender_id", "recipient_id", "timestamp", "text", "attachment",
           "conversation_label", "offender_id")


def arrow_schema() -> Any:
    """The Parquet schema of converted rows, fixed so that rows can stream into row groups."""
    from training.logs import arrow_schema as schema_of

    return schema_of(COLUMNS)


def read_predators(path: str | Path) -> set[str]:
    """Predator author ids, one per line (blank lines ignored). A line of two fields is refused: PAN's
    problem-2 files (``...-diff.txt``, ``...-groundtruth-problem2.txt``) list lines, not authors, and
    read as ids they would match no one."""
    source = Path(path)
    if not source.is_file():
        raise InputError(f"{source}: no such predator-id file")
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise InputError(f"{source}: not UTF-8 text (byte {exc.start}); expected one author id per line") from None
    for number, line in enumerate(lines, 1):
        if len(line.split()) > 1:
            raise InputError(f"{source}: line {number}: expected one author id per line, got {line.strip()!r} (a "
                             "list of conversation lines, as PAN's problem-2 files are?)")
    ids = {line.strip() for line in lines if line.strip()}
    if not ids:  # every conversation would be labelled 0, and training then refuse the data for want of positives
        raise InputError(f"{source}: no author ids in it; expected one per line")
    return ids


def predator_files(xml_path: Path) -> list[Path]:
    """The predator lists beside the XML: its ``*predator*.txt`` files that hold one id per line. PAN's
    folders also hold problem-2 files of that name (``conversation line`` pairs), which are passed over."""
    def one_id_per_line(path: Path) -> bool:
        try:
            read_predators(path)
        except (InputError, OSError):
            return False
        return True

    return [path for path in sorted(xml_path.parent.glob("*predator*.txt")) if one_id_per_line(path)]


def _minutes(text: str | None) -> int:
    try:
        hours, minutes = (text or "").strip().split(":")[:2]
        value = int(hours) * 60 + int(minutes)
    except ValueError:
        raise EventError("time", f"expected HH:MM, got {text!r}") from None
    if not 0 <= value < 24 * 60:
        raise EventError("time", f"out of range: {text!r}")
    return value


def iter_pan_rows(xml_path: str | Path, predators: set[str],
                  rejects: list[Reject] | None = None) -> Iterator[dict[str, object]]:
    """Message-event rows with ``conversation_label``, in corpus order. A message that cannot be read (no author, a
    time that is no ``HH:MM``, a line number used twice) is an ``InputError`` naming it, or with ``rejects``, put
    there and passed over (the XML itself must be well-formed)."""
    source = Path(xml_path)
    if not source.is_file():
        raise InputError(f"{source}: no such file")
    if source.stat().st_size == 0:  # expat's words for it: "no element found: line 1, column 0"
        raise InputError(f"{source}: empty file: no conversations")
    seen_root, conversations = False, set()
    for event, element in _parsed(source):
        if not seen_root and element.tag != "conversations":  # another XML file than the corpus's
            raise InputError(f"{source}: the root element is <{element.tag}>, not <conversations>: "
                             "not a PAN 2012 conversations file")
        seen_root = True
        if event == "end" and element.tag == "conversation":
            if (conv_id := element.get("id")) in conversations:  # its messages would join the first's
                raise InputError(f"{source}: conversation {conv_id!r} appears twice")
            conversations.add(conv_id)
            yield from _conversation_rows(source, element, predators, rejects)
            element.clear()


def _parsed(source: Path) -> Iterator[tuple[str, ET.Element]]:
    """``ET.iterparse``'s events, its errors as ``InputError`` naming the file."""
    events = ET.iterparse(source, events=("start", "end"))
    while True:
        try:
            yield next(events)
        except StopIteration:
            return
        except ET.ParseError as exc:
            raise InputError(f"{source}: line {exc.position[0]}: not well-formed XML ({exc.msg})") from None
        except (LookupError, ValueError) as exc:  # encoding="..." names no codec, or one expat cannot use
            raise InputError(f"{source}: cannot be read in the encoding its XML declaration names "
                             f"({type(exc).__name__}: {exc})") from None


def _conversation_rows(source: Path, element: ET.Element, predators: set[str],
                       rejects: list[Reject] | None) -> Iterator[dict[str, object]]:
    conv_id = element.get("id")
    if not conv_id:
        raise InputError(f"{source}: a <conversation> has no id attribute")
    messages = element.findall("message")
    authors = [(m.findtext("author") or "").strip() for m in messages]
    participants = list(dict.fromkeys(a for a in authors if a))
    offender = next((a for a in participants if a in predators), None)
    label = int(offender is not None)
    day, previous, lines = 0, -1, set()
    for position, (message, author) in enumerate(zip(messages, authors, strict=True)):
        line = message.get("line") or str(position + 1)
        try:
            if line in lines:  # the message id is the line: two messages would share it
                raise EventError("line", "a second message with this line number")
            if not author:
                raise EventError("author", "missing")
            minute = _minutes(message.findtext("time"))
        except EventError as bad:
            _set_aside(Reject(str(source), f"conversation {conv_id!r} message line {line}", bad.field, bad.reason,
                              {"line": line, **{tag: message.findtext(tag) for tag in ("author", "time", "text")}}),
                       rejects)
            continue
        lines.add(line)
        if minute < previous:
            day += 1
        previous = minute
        others = [p for p in participants if p != author]
        yield {
            "conversation_id": conv_id, "message_id": f"{conv_id}-{line}", "sender_id": author,
            "recipient_id": others[0] if len(others) == 1 else None,
            "timestamp": (EPOCH + timedelta(days=day, minutes=minute)).isoformat(),
            "text": decoded(message.findtext("text") or ""), "attachment": None, "conversation_label": label,
            "offender_id": offender,
        }


def _set_aside(problem: Reject, rejects: list[Reject] | None) -> None:
    """A message that cannot be read: put in ``rejects``, or without them an ``InputError`` naming it."""
    if rejects is None:
        raise InputError(f"{problem.describe()} (use --errors FILE to set bad messages aside)") from None
    rejects.append(problem)


def decoded(text: str) -> str:
    """``text`` with the HTML entities in it read as the characters they name, layer by layer (up to
    ``ENTITY_LAYERS``); an '&' that begins none stays as it is."""
    for _ in range(ENTITY_LAYERS):
        if "&" not in text or (read := ENTITY.sub(lambda m: html.unescape(m[0]), text)) == text:
            break
        text = read
    return text
