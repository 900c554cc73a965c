"""Read message events from JSONL, CSV or Parquet, keeping every bad row's place and reason."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from detection.events import EventError, MessageEvent, to_event

SUFFIXES = (".jsonl", ".csv", ".parquet")


class InputError(Exception):
    """Input that cannot be read at all, or a bad row when rejects are not being collected."""


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


def _jsonl_records(path: Path) -> Iterator[tuple[str, Mapping[str, object] | str, str | None]]:
    with path.open("r", encoding="utf-8", errors="strict") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield f"line {number}", line.rstrip("\n")[:500], f"not valid JSON ({exc.msg})"
                continue
            if not isinstance(record, dict):
                yield f"line {number}", line.rstrip("\n")[:500], "expected a JSON object"
                continue
            yield f"line {number}", record, None


def _csv_records(path: Path) -> Iterator[tuple[str, Mapping[str, object] | str, str | None]]:
    with path.open("r", encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        for record in reader:
            # line_num is the physical line where this row ends; quoted newlines make rows span lines
            where = f"line {reader.line_num}"
            if None in record:
                yield where, {k: v for k, v in record.items() if k is not None}, "more values than header columns"
                continue
            yield where, {k: (None if v == "" and k != "text" else v) for k, v in record.items()}, None


def _parquet_records(path: Path) -> Iterator[tuple[str, Mapping[str, object] | str, str | None]]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from exc
    row = 0
    for batch in parquet.iter_batches(batch_size=65536):
        for record in batch.to_pylist():
            row += 1
            yield f"row {row}", record, None


def iter_records(path: Path) -> Iterator[tuple[str, Mapping[str, object] | str, str | None]]:
    """Yield ``(location, record, parse_error)`` for each row of a supported file."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(f"{path}: unsupported file type '{path.suffix}' (expected one of {', '.join(SUFFIXES)})")
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    readers = {".jsonl": _jsonl_records, ".csv": _csv_records, ".parquet": _parquet_records}
    try:
        yield from readers[suffix](path)
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    except csv.Error as exc:
        raise InputError(f"{path}: malformed CSV ({exc})") from exc


def read_events(path: str | Path) -> ReadResult:
    """Read and validate every row; duplicates of a (conversation, message id) are rejected."""
    source = Path(path)
    events: list[MessageEvent] = []
    rejects: list[Reject] = []
    seen: set[tuple[str, str]] = set()
    for location, record, error in iter_records(source):
        if error is not None:
            rejects.append(Reject(str(source), location, "row", error, record))
            continue
        assert isinstance(record, Mapping)
        try:
            event = to_event(record)
        except EventError as exc:
            rejects.append(Reject(str(source), location, exc.field, exc.reason, record))
            continue
        key = (event.conversation_id, event.message_id)
        if key in seen:
            rejects.append(Reject(str(source), location, "message_id",
                                  f"duplicate message id {event.message_id!r} in conversation "
                                  f"{event.conversation_id!r}", record))
            continue
        seen.add(key)
        events.append(event)
    if not events and not rejects:
        raise InputError(f"{source}: empty file: no message rows")
    return ReadResult(events, rejects)


def record_of(reject: Reject) -> Mapping[str, object] | str:
    """The raw row of a reject, JSON-safe."""
    return json.loads(json.dumps(reject.record, default=str)) if isinstance(reject.record, Mapping) else reject.record
