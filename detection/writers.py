"""Write rows as JSONL, CSV or Parquet (JSONL and CSV also gzipped), atomically: a temporary file renamed
into place."""

from __future__ import annotations

import contextlib
import csv
import errno
import gzip
import io
import itertools
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from detection.events import SURROGATE
from detection.held import Held
from detection.inputs import FILE_TYPES, InputError, gzipped, input_format, special_file

# A text cell a spreadsheet would run as a formula (CSV injection): one that starts with one of these and is not a
# plain number ("-1001234", a chat id some platforms give, stays as it is).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def check_writable(path: Path) -> None:
    """Raise ``InputError`` where no file can be written at ``path``: a folder of that name, or no folder
    to hold it. Commands check their outputs before the work, so that a long run does not fail at its end."""
    if path.is_dir():
        raise InputError(f"{path}: is a folder; name a file to write")
    if not path.parent.is_dir():
        raise InputError(f"{path}: output folder {path.parent} does not exist")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (``Held``); rename it onto ``path`` only if the block succeeds."""
    target = Path(path)
    check_writable(target)
    try:  # held while written: one a run killed outright leaves is removed by the next writing here
        held = Held(target.parent, f".{target.name}.", ".tmp")
    except OSError as exc:
        raise InputError(f"{target}: cannot write a file in {target.parent} ({exc.strerror})") from None
    with held as tmp:
        try:
            yield tmp
            os.replace(tmp, target)
        except OSError as exc:
            if (reason := write_failure(exc)) is None:
                raise
            raise InputError(f"{target}: could not be written ({reason}); nothing was written there") from None


# a place that cannot take the output: a full disk, a quota, a file-size limit, a read-only file system
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}


def write_failure(exc: OSError) -> str | None:
    """The reason, where ``exc`` is a failure to write the output; None for another OSError (reading the input,
    say), which keeps its own message."""
    return os.strerror(exc.errno) if exc.errno in _WRITE_ERRNOS else write_failure_said(str(exc))


def write_failure_said(message: str) -> str | None:
    """The reason, where an error's ``message`` says the output could not be written for want of room
    (Java's IOException carries the C library's words, "No space left on device"); else None."""
    return next((os.strerror(n) for n in sorted(_WRITE_ERRNOS) if os.strerror(n) in message), None)


def _csv_value(value: object, guarded: bool) -> object:
    """A CSV cell's value: lists and mappings as JSON, None empty, and with ``guarded`` a text a spreadsheet would
    run as a formula (``FORMULA_STARTS``) after a ``'``, which makes a spreadsheet show it as text."""
    if isinstance(value, list | dict):
        return json.dumps(value)
    if guarded and isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(value):
        return "'" + value
    return "" if value is None else value


def _write_parquet(path: Path, rows: Iterable[Mapping[str, object]], names: list[str], schema: Any) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if schema is None:
        listed = [{k: row.get(k) for k in names} for row in rows]
        table = pa.Table.from_pylist(listed) if listed else pa.table({k: pa.array([], pa.string()) for k in names})
        pq.write_table(table, path)
        return
    stream = iter(rows)
    with pq.ParquetWriter(path, schema) as writer:
        while True:  # row groups of 50,000: memory stays flat however many rows come
            chunk = [{k: row.get(k) for k in names} for row in itertools.islice(stream, 50_000)]
            writer.write_table(pa.Table.from_pylist(chunk, schema=schema))
            if len(chunk) < 50_000:
                break


def _write_csv(handle: IO[str], rows: Iterable[Mapping[str, object]], columns: Sequence[str], guarded: bool) -> None:
    writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_value(row.get(k), guarded) for k in columns})


def output_format(path: Path) -> str:
    """The format an output's name asks for (``.jsonl``, ``.csv`` or ``.parquet``; ``.jsonl.gz`` and
    ``.csv.gz`` are written through gzip), or an ``InputError`` naming the path (``check_writable`` too)."""
    check_writable(path)
    if str(path) == "-" or special_file(path):  # /dev/stdout
        what = "standard output" if str(path) == "-" else "a pipe or a device"
        raise InputError(f"{path}: riskline writes files, not {what} (an output is moved into place when whole); "
                         f"name a file ({FILE_TYPES})")
    if (suffix := input_format(path)) is None:
        raise InputError(f"{path}: unsupported output type '{path.suffix}' "
                         f"(expected one of {FILE_TYPES})")
    return suffix


def utf8_json(value: object, **options: Any) -> str:
    """``json.dumps(value)`` with other scripts as they are, for a UTF-8 file, except that a lone surrogate
    stays escaped (``\\ud800``): JSON input may spell one, which no UTF-8 text can hold. JSON puts
    such a character only inside a string, where its escape is the same string read back."""
    text = json.dumps(value, ensure_ascii=False, **options)
    return text if text.isascii() else SURROGATE.sub(lambda m: f"\\u{ord(m[0]):04x}", text)


@contextlib.contextmanager
def open_text(path: Path, gzipped: bool) -> Iterator[IO[str]]:
    """``path`` opened to write UTF-8 text, through gzip if asked (with no name or time in its header,
    so that the same rows make the same bytes)."""
    if not gzipped:
        with path.open("w", encoding="utf-8", newline="") as handle:
            yield handle
        return
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as packed, \
            io.TextIOWrapper(packed, encoding="utf-8", newline="") as handle:
        yield handle


def write_rows(path: str | Path, rows: Iterable[Mapping[str, object]], columns: Sequence[str] | None = None,
               schema: Any = None, *, for_people: bool = False) -> None:
    """Write ``rows`` to ``path`` in the format its suffix names, all or nothing.

    Rows are consumed as they come. For Parquet, a ``schema`` lets rows stream in row groups; without
    one, the rows are gathered first so that the column types can be inferred from all of them.

    ``for_people``: results a reviewer may open in a spreadsheet, whose ids (a user name as a sender id) come from
    the people scored; in CSV a text that a spreadsheet would run as a formula is written after a ``'``
    (``FORMULA_STARTS``). JSON Lines and Parquet, and message events, are written as they are.
    """
    target = Path(path)
    suffix = output_format(target)
    if columns is None or (suffix == ".parquet" and schema is None):
        rows = list(rows)
    names = list(columns) if columns is not None else list(dict.fromkeys(k for row in rows for k in row))
    with atomic_path(target) as tmp:
        if suffix == ".parquet":
            _write_parquet(tmp, rows, names, schema)
        else:
            with open_text(tmp, gzipped(target)) as handle:
                if suffix == ".csv":
                    _write_csv(handle, rows, names, for_people)
                else:
                    for row in rows:
                        handle.write(json.dumps({k: row.get(k) for k in names}, ensure_ascii=False, default=str) + "\n")
