"""Read message events from JSONL, CSV or Parquet, keeping every bad row's place and reason."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detection.arrow_events import clean_events
from detection.events import (
    EVENT_FIELDS,
    EventError,
    MessageEvent,
    identifier,
    to_event,
)
from detection.inputs import (
    READ_ERRORS,
    InputError,
    chunks,
    gzipped,
    input_files,
    input_format,
    open_bytes,
)
from detection.records import check_csv_file, iter_records


@dataclass(frozen=True, slots=True)
class Reject:
    """A row that was not accepted: where it is, which field, why, and the row itself."""

    path: str
    location: str
    field: str
    reason: str
    record: Mapping[str, object] | str

    def describe(self) -> str:
        """One line naming the file, the row and the field."""
        return f"{self.path}: {self.location}: field '{self.field}': {self.reason}"

    def to_dict(self) -> dict[str, object]:
        return {"file": self.path, "location": self.location, "field": self.field,
                "reason": self.reason, "record": self.record}


@dataclass(frozen=True, slots=True)
class ReadResult:
    """Accepted events in input order, and the rejected rows."""

    events: list[MessageEvent]
    rejects: list[Reject]


def arrow_table(source: Path | bytes, suffix: str, columns: list[str] | None = None) -> Any:
    """A file (or JSON Lines bytes) as an Arrow table with string columns, or None if it does not parse that way.
    A CSV file's ``columns`` (``check_csv_file``) are all read as text."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.json as pajson
    import pyarrow.parquet as pq

    schema = pa.schema([(name, pa.string()) for name in EVENT_FIELDS])
    try:
        readable = pa.BufferReader(source) if isinstance(source, bytes) else arrow_input(source)
        if suffix == ".jsonl":
            return pajson.read_json(readable, parse_options=pajson.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="ignore"))
        if suffix == ".csv":  # chat text often spans lines, in quotes
            types = {name: pa.string() for name in columns or ()}
            return pacsv.read_csv(readable, parse_options=pacsv.ParseOptions(newlines_in_values=True),
                                  convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=False))
        return pq.read_table(readable)
    except (pa.ArrowException, OSError, ValueError):
        return None


def arrow_input(path: Path) -> Any:
    """A file for Arrow's readers, decompressed where its name ends in .gz in any case (Arrow itself
    knows only a lower-case .gz)."""
    import pyarrow as pa

    return pa.input_stream(str(path), compression="gzip") if gzipped(path) else path


def json_lines(data: bytes) -> int | None:
    """How many rows Arrow's JSON reader must find in ``data`` (whole lines of a JSON Lines file; the
    last may lack its newline) for its rows to be the lines one for one; None where Arrow's reading
    cannot be taken: text that is not UTF-8 (Arrow does not check text it is not asked for), a blank
    line (Arrow skips it) or a lone carriage return (Arrow ends a line there). Then a row count that
    matches also means no line held two JSON objects, which the reference reader rejects.
    """
    import numpy as np

    if not data:
        return 0
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None  # the row-by-row path names the byte
    codes = np.frombuffer(data, dtype=np.uint8)
    returns = np.flatnonzero(codes == 13)
    if len(returns) and (returns[-1] == len(codes) - 1 or (codes[returns + 1] != 10).any()):
        return None
    starts = np.concatenate(([0], np.flatnonzero(codes == 10) + 1))
    starts = starts[starts < len(codes)]
    for start in starts[np.isin(codes[starts], (9, 10, 13, 32))].tolist():  # a line opening with white space
        end = data.find(b"\n", start)
        if not data[start:end if end >= 0 else len(data)].strip(b" \t\r"):
            return None
    return len(starts)


def _jsonl_shape(path: Path) -> int | None:
    """``json_lines`` of a whole file, read a megabyte at a time."""
    lines = 0
    with open_bytes(path) as handle:
        for chunk in chunks(handle):
            if (count := json_lines(chunk)) is None:
                return None
            lines += count
    return lines


def _fast_events(path: Path) -> list[MessageEvent] | None:
    """Events from a clean file through Arrow's readers (``clean_events``); None whenever anything
    needs a closer look, copies of a message id included."""
    if (suffix := input_format(path)) is None:
        return None
    lines = _jsonl_shape(path) if suffix == ".jsonl" else None
    if suffix == ".jsonl" and lines is None:
        return None  # as json_lines: Arrow does not check text it is not asked for
    header = check_csv_file(path) if suffix == ".csv" else None
    table = clean_events(arrow_table(path, suffix, header), suffix)
    if table is None or (lines is not None and table.num_rows != lines):
        return None
    columns = [table[name].to_pylist() for name in EVENT_FIELDS]
    if len(set(zip(columns[0], columns[1], strict=True))) != table.num_rows:
        return None
    return [MessageEvent(*row) for row in zip(*columns, strict=True)]


def read_events(path: str | Path) -> ReadResult:
    """Read and validate every row of a file, or of a folder's files in turn (``input_files``);
    duplicates of a (conversation, message id) are rejected, across files too."""
    source = Path(path)
    if not source.is_dir():
        fast = _fast_or_none(source)
        return ReadResult(fast, []) if fast is not None else read_rows(source)
    read, seen = ReadResult([], []), set[tuple[str, str]]()
    files = input_files(source)
    for part in files:
        fast = _fast_or_none(part)
        keys = {(e.conversation_id, e.message_id) for e in fast or ()}
        if fast is not None and seen.isdisjoint(keys):
            read.events.extend(fast)
            seen |= keys
        else:  # bad rows, or a copy of a message of an earlier file: the reference reader places them
            _read_rows_into(part, seen, read)
    if not read.events and not read.rejects:
        raise InputError(f"{source}: no message rows in its {len(files)} data files")
    return read


def _fast_or_none(source: Path) -> list[MessageEvent] | None:
    if input_format(source) is None or not source.is_file():
        return None
    try:
        return _fast_events(source)
    except READ_ERRORS:  # a damaged gzip file: the reference reader names it
        return None


def read_rows(source: Path) -> ReadResult:
    """The reference reader: row by row, every bad row kept with its place and reason."""
    read = ReadResult([], [])
    _read_rows_into(source, set(), read)
    if not read.events and not read.rejects:
        raise InputError(f"{source}: empty file: no message rows")
    return read


def _read_rows_into(source: Path, seen: set[tuple[str, str]], read: ReadResult) -> None:
    for location, record, error in iter_records(source):
        if error is not None:
            read.rejects.append(Reject(str(source), location, "row", error, record))
            continue
        assert isinstance(record, Mapping)
        _accept(source, location, record, seen, read)


def _accept(source: Path, location: str, record: Mapping[str, object], seen: set[tuple[str, str]],
            read: ReadResult) -> None:
    """Validate one parsed row into ``read``: an event, or a reject (bad field, duplicate message id)."""
    try:
        event = to_event(record)
    except EventError as exc:
        read.rejects.append(Reject(str(source), location, exc.field, exc.reason, record))
        return
    key = (event.conversation_id, event.message_id)
    if key in seen:
        read.rejects.append(Reject(str(source), location, "message_id",
                                   f"duplicate message id {event.message_id!r} in conversation "
                                   f"{event.conversation_id!r}", record))
        return
    seen.add(key)
    read.events.append(event)


def conversation_key(record: Mapping[str, object]) -> str | None:
    """A row's conversation id as ``to_event`` reads it, or None where it has no valid one."""
    try:
        return identifier(record, "conversation_id")
    except EventError:
        return None


@dataclass
class ConversationRead:
    """One conversation's rows of a file (``read``), how many conversations the file names, and
    how many of its rows could not be parsed at all (so belong to no known conversation). Where it has
    none, ``near`` holds up to three ids like the one asked for (an id cut short when copied, another case).
    ``conversation_id``: the conversation read; ``first_ids``: the file's first three conversations, in order."""

    read: ReadResult
    n_conversations: int
    unreadable: int
    near: tuple[str, ...] = ()
    conversation_id: str | None = None
    first_ids: tuple[str, ...] = ()


def read_conversation(path: str | Path, conversation_id: str | None) -> ConversationRead:
    """The rows of one conversation of a file or folder, validated and de-duplicated as ``read_events`` does;
    None: the file's first (where it holds one, the one it holds).

    Other conversations' rows are parsed for their conversation id only and not kept, so memory
    grows with the conversation and the number of conversations, not with the file.
    """
    read, unreadable = ReadResult([], []), 0
    seen: set[tuple[str, str]] = set()
    names: dict[str | None, None] = {}  # in order of first row
    for source in input_files(Path(path)):
        for location, record, error in iter_records(source):
            if error is not None or not isinstance(record, Mapping):
                unreadable += 1
                continue
            key = conversation_key(record)
            names[key] = None
            if conversation_id is None:
                conversation_id = key
            if key == conversation_id:
                _accept(source, location, record, seen, read)
    known = [name for name in names if name is not None]
    return ConversationRead(read, len(known), unreadable,
                            () if read.events or read.rejects or conversation_id is None
                            else _near(conversation_id, set(known)), conversation_id, tuple(known[:3]))


def _near(wanted: str, ids: set[str]) -> tuple[str, ...]:
    """Up to three of ``ids`` that hold ``wanted`` (case aside), else that are spelt almost as it is."""
    if not (folded := wanted.casefold()):
        return ()  # an empty id is in every id: no suggestion is a likely one
    holding = sorted(i for i in ids if folded in i.casefold())
    return tuple(holding[:3] if holding else difflib.get_close_matches(wanted, ids, n=3, cutoff=0.8))
