"""A JSON file's top-level object read a piece at a time: its fields, and the elements of the lists named one by
one, so that an export of millions of messages (DiscordChatExporter's, a channel in one file; Telegram's, every
chat in one file) is read in the memory of one message, or one chat, rather than of the file."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import TextIO

from detection.inputs import InputError, not_a_file

CHUNK = 1 << 20  # characters read at a time, at the least
_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")


class _Text:
    """The file's text from the value being read on, read further as a value needs it, and how many lines lie
    before it (for errors)."""

    def __init__(self, handle: TextIO, path: Path) -> None:
        self.handle, self.path = handle, path
        self.text, self.pos, self.lines, self.ended = "", 0, 0, False

    def more(self) -> bool:
        """Read on, as much again as the value being read holds so far (so that a value of any length is decoded
        a few times, not once a chunk); False at the file's end."""
        if self.ended:
            return False
        chunk = self.handle.read(max(CHUNK, len(self.text) - self.pos))
        if not chunk:
            self.ended = True
            return False
        self.lines += self.text.count("\n", 0, self.pos)
        self.text = self.text[self.pos:] + chunk
        self.pos = 0
        return True

    def peek(self) -> str:
        """The next character that is not white space ("" at the end), not taken."""
        while True:
            self.pos = _SPACE.match(self.text, self.pos).end()  # type: ignore[union-attr]  # matches "" at least
            if self.pos < len(self.text) or not self.more():
                return self.text[self.pos:self.pos + 1]

    def take(self, expected: str, said: str) -> str:
        """The next character, one of ``expected``; else the error ``said``."""
        found = self.peek()
        if not found or found not in expected:
            raise self.error(said, self.pos)
        self.pos += 1
        return found

    def value(self) -> object:
        """The next value, read whole."""
        self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                if not self.more():  # the value is cut short, or is no JSON: the file's end tells
                    raise self.error(exc.msg, exc.pos) from None
                continue
            if end < len(self.text) or not self.more():  # a number, true or false may go on past the text read
                self.pos = end
                return value

    def error(self, said: str, pos: int) -> InputError:
        return InputError(f"{self.path}: line {self.lines + self.text.count(chr(10), 0, pos) + 1}: not JSON ({said})")


Place = tuple[str, ...]  # a field's names, from the top: ("chats", "list")


def object_stream(path: Path, lists: Collection[Place]) -> Iterator[tuple[str, Place, object]]:
    """A JSON file's top-level object, a piece at a time, in the file's order: for each list at a place in
    ``lists``, ("list", place, None), then ("item", place, element) for each of its elements; the objects on the way
    to them are gone into; every other field is ("field", place, value). An ``InputError`` names what cannot be
    read (not a file, not UTF-8, not JSON) as the file is read: a caller that must not act on part of a damaged
    file reads it through first. A top that is no object is ("field", (), value)."""
    if not path.is_file():
        raise not_a_file(path)
    try:
        with path.open(encoding="utf-8-sig") as handle:
            text = _Text(handle, path)
            if text.peek() == "{":
                yield from _fields(text, frozenset(lists), ())
            else:  # a value that its reader refuses, or not JSON at all
                yield "field", (), text.value()
            if text.peek():
                raise text.error("Extra data", text.pos)
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None


def _fields(text: _Text, lists: frozenset[Place], within: Place) -> Iterator[tuple[str, Place, object]]:
    text.pos += 1  # the object's "{"
    if text.peek() == "}":
        text.pos += 1
        return
    while True:
        name = text.value()
        if not isinstance(name, str):
            raise text.error("Expecting property name enclosed in double quotes", text.pos)
        text.take(":", "Expecting ':' delimiter")
        place = (*within, name)
        if place in lists and text.peek() == "[":
            yield "list", place, None
            yield from _elements(text, place)
        elif any(listed[:len(place)] == place and listed != place for listed in lists) and text.peek() == "{":
            yield from _fields(text, lists, place)
        else:
            yield "field", place, text.value()
        if text.take(",}", "Expecting ',' delimiter") == "}":
            return


def _elements(text: _Text, place: Place) -> Iterator[tuple[str, Place, object]]:
    text.pos += 1  # the list's "["
    if text.peek() == "]":
        text.pos += 1
        return
    while True:
        yield "item", place, text.value()
        if text.take(",]", "Expecting ',' delimiter") == "]":
            return
