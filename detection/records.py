"""A file's rows as records, row by row, each with its place and any reason it is no row: JSON Lines, CSV, Parquet."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from detection.events import (
    EVENT_FIELDS,
    JSON_ERRORS,
    LABEL_FIELDS,
    REQUIRED,
    JsonObject,
    loads,
)
from detection.inputs import (
    InputError,
    MissingColumnsError,
    check_encoding,
    gzip_errors,
    input_format,
    not_a_file,
    open_bytes,
    unsupported,
    utf8_error,
)
from detection.wording import counted

PARQUET_BATCH_ROWS = 65536  # Parquet is read this many rows at a time


def text_lines(path: Path) -> Iterator[bytes]:
    """A file's lines as bytes, each ending in \n (but perhaps the last), ended as Python reads text:
    at \n, \r\n or a lone \r, as Arrow's and Spark's readers end them too. Bytes that are not UTF-8 are
    carried through (surrogateescape), so that only their own line is bad."""
    with io.TextIOWrapper(open_bytes(path), encoding="utf-8", errors="surrogateescape") as handle:
        for line in handle:
            yield line.encode("utf-8", "surrogateescape")


def csv_text(path: Path) -> IO[str]:
    """A CSV file opened as its reader reads it: utf-8-sig, since Excel's "CSV UTF-8" starts with a
    byte-order mark (which would rename the first column), and newlines left to the csv module."""
    # Python's csv refuses a value over 131,072 characters by default; Arrow's reader (the fast path)
    # and Spark's take any, so a long message would make a file with one bad row unreadable as a whole
    csv.field_size_limit(2**31 - 1)
    return io.TextIOWrapper(open_bytes(path), encoding="utf-8-sig", newline="")


def check_csv_file(path: Path) -> list[str]:
    """Raise ``InputError`` for the first fault that makes a CSV file unreadable as a whole, naming its line:
    text that is not UTF-8, or broken quoting. Every engine reads a CSV file only once it passes. Returns
    the file's column names (none for an empty file), read on the way.

    Arrow and Spark do not check text they are not asked for. And Python's csv module, Arrow's and
    Spark's readers all read broken quoting without a word: a quoted value left open runs to the end of
    the file, and one closed before more text (``"hi" she said``) loses its quotes and goes on to the next
    comma. Either way one stray quote at the start of a value turns the rows after it into that value's
    text, and they are lost. So the file is read here strictly (RFC 4180: a quote inside a quoted value is
    doubled). Other faults (a NUL byte) are left to the reader proper, which names them.
    """
    ended, header = 0, []  # physical lines of the records read
    with csv_text(path) as handle:
        reader = csv.reader(handle, strict=True)
        try:
            header = next(reader, [])
            ended = reader.line_num
            for _ in reader:
                ended = reader.line_num
            return header
        except UnicodeDecodeError:  # its position is in the reader's buffer, not the file
            raise InputError(f"{path}: {utf8_error(path) or 'not UTF-8 text'}") from None
        except csv.Error as exc:
            problem, start, end = str(exc), ended + 1, reader.line_num
    twice = "a quote inside a quoted value is written twice"
    if problem == "unexpected end of data":
        rest = counted(end - ended, "line")
        raise InputError(f"{path}: line {start}: a quoted value opens here and is never closed, so the rest of the "
                         f"file ({rest}) would be read as its text (a value that starts with a quote must end with "
                         f"one; {twice})")
    if problem.endswith("expected after '\"'"):
        spans = "" if end == start else (f" that opens here and closes on line {end}; if a stray quote opened it, "
                                         f"the rows of lines {start + 1}-{end} were read into it")
        raise InputError(f"{path}: line {start}: text follows the closing quote of a quoted value{spans} ({twice}, "
                         'as "")')
    return header  # another fault, such as a NUL byte: the reader proper names it


def _jsonl_records(path: Path) -> Iterator[tuple[str, Mapping[str, object] | str, str | None]]:
    for number, line in enumerate(text_lines(path), start=1):
        if (parsed := parse_json_bytes(line, first=number == 1)) is not None:
            yield f"line {number}", *parsed


def parse_json_bytes(raw: bytes, first: bool = False) -> tuple[Mapping[str, object] | str, str | None] | None:
    """One JSON Lines row from its bytes, as every engine reads it: None for a blank line, else as
    ``parse_json_line``. A line that is not UTF-8 is a bad row (the file's other lines stand), and the
    file's first line may start with a byte-order mark (Windows tools write one), which is dropped."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return (raw.decode("utf-8", "replace").rstrip("\r\n")[:500],
                f"not UTF-8 text (byte {exc.start + 1} of the line)")
    if first:
        line = line.removeprefix("\ufeff")
    return parse_json_line(line) if line.strip() else None


def parse_json_line(line: str) -> tuple[Mapping[str, object] | str, str | None]:
    """One JSON Lines row: ``(record, None)``, or ``(the line, why it is not a row)``. The line is read
    without its ending, as Spark hands it over: with it, a line cut inside a string was "Invalid control
    character" here and "Unterminated string" there."""
    text = line.rstrip("\r\n")
    try:
        record = loads(text)
    except JSON_ERRORS as exc:
        why = f"not valid JSON ({getattr(exc, 'msg', None) or exc})"
        if isinstance(exc, json.JSONDecodeError) and (exc.pos >= len(text.rstrip()) or  # ends before the value does
                                                      exc.msg.startswith("Unterminated string")):
            why += "; the line ends inside the value: JSON Lines holds one whole object per line (not pretty-printed)"
        return text[:500], why
    if not isinstance(record, dict):
        what = "a JSON array (JSON Lines holds one object per line)" if isinstance(record, list) else None
        return text[:500], "expected a JSON object" + (f", got {what}" if what else "")
    return record, None


def check_columns(path: Path, where: str, columns: list[str], rename: Mapping[str, str] | None = None,
                  required: tuple[str, ...] = REQUIRED) -> None:
    """One error for a header that lacks a ``required`` column (each row would otherwise be rejected
    for it, one by one), with a hint when a CSV's header is one column holding another separator.
    ``rename`` maps a column to the field it is read as (``riskline convert --map``)."""
    rename = rename or {}
    read_as = [rename.get(c, c) for c in columns if c in rename or c not in rename.values()]
    if twice := next((f for f in (*EVENT_FIELDS, *LABEL_FIELDS) if read_as.count(f) > 1), None):
        held = [c for c in columns if rename.get(c, c) == twice]
        named = f"the column {twice!r} appears {len(held)} times" if set(held) == {twice} else \
            f"{len(held)} columns are read as {twice!r} ({', '.join(map(repr, held))})"
        raise InputError(f"{path}: {where}: {named}: which one holds it is not clear; keep one, or rename the others")
    fields = set(read_as)
    missing = [name for name in required if name not in fields]
    missing += [f for c, f in rename.items() if c not in columns and f not in missing]  # a mapped column too
    if not missing:
        return
    source = {f: c for c, f in rename.items()}
    named = ", ".join(f"{source[m]!r} (read as {m!r})" if source.get(m, m) != m else repr(m) for m in missing)
    if len(columns) == 1 and (separator := next((s for s in ";\t|" if s in columns[0]), None)):
        shown = repr(columns[0][:60]) + ("..." if len(columns[0]) > 60 else "")
        raise InputError(f"{path}: {where}: the header is one column ({shown}): CSV here is "
                         f"comma-separated, and this file looks separated by {separator!r}; save it with commas "
                         "(Excel: 'CSV UTF-8 (Comma delimited)') or as JSON Lines")
    if {"AuthorID", "Author", "Date", "Content"} <= set(columns) and not rename:
        raise InputError(f"{path}: {where}: DiscordChatExporter's CSV (columns AuthorID, Author, Date, Content...), "
                         "which names neither its messages nor its channel, and writes times as the exporting "
                         "computer shows them: export the channel as JSON (--format Json), and convert that with "
                         "riskline convert")
    listed = ", ".join(columns[:12]) + (", ..." if len(columns) > 12 else "")
    raise MissingColumnsError(f"{path}: {where}: no column {named} (its columns: {listed}); "
                     f"every row needs {', '.join(required)}")


def renamed(record: Mapping[str, object], rename: Mapping[str, str]) -> dict[str, object]:
    """A row with its columns renamed to the fields they are read as (``rename``: column -> field); a
    column bearing a field's name that another column is read as is left out. A column named with
    dots that the row lacks is a path into nested objects (``author.id``: the ``id`` of ``author``), as
    exports of JSON and Parquet structs hold them; a number in the path is a place in a list, counted
    from 0 (``attachments.0.content_type``: the first attachment's), and none where the list is shorter."""
    fields = set(rename.values())
    row = {rename.get(k, k): v for k, v in record.items() if k in rename or k not in fields}
    if twice := getattr(record, "twice", None):  # what the row held twice, under the names it is read as
        row = JsonObject(row)
        row.twice = frozenset(rename.get(k, k) for k in twice if k in rename or k not in fields)
    for column, field in rename.items():
        if column not in record and "." in column and (value := _at_path(record, column)) is not None:
            row[field] = value
    return row


def _at_path(value: object, column: str) -> object:
    """What a dotted path names inside nested objects and lists, or None where it leads nowhere."""
    for key in column.split("."):
        if isinstance(value, Mapping):
            value = value.get(key)
        elif isinstance(value, list | tuple) and key.isascii() and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return None
    return value


def _list_places(column: str) -> str:
    """A dotted path with every place in a list as 0, as ``_column_paths`` names list elements."""
    return ".".join("0" if key.isascii() and key.isdigit() else key for key in column.split("."))


def _column_paths(schema: Any, prefix: str = "") -> list[str]:
    """A Parquet schema's column names, with a dotted path for every field of a struct column too, and
    for the elements of a list column (``attachments.0``, ``attachments.0.content_type``)."""
    import pyarrow as pa

    names = []
    for field in schema:
        names.append(prefix + field.name)
        kind, path = field.type, f"{prefix}{field.name}"
        while pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
            kind, path = kind.value_type, f"{path}.0"
            names.append(path)
        if pa.types.is_struct(kind):
            names += _column_paths(list(kind), f"{path}.")
    return names


def csv_width_error(values: int, columns: int) -> str:
    """Why a CSV row with ``values`` values under a header of ``columns`` is no row (RFC 4180: each has as
    many); the same words in every engine. A row cut short is often the rest of a message whose
    unquoted line break split it."""
    return f"{'more' if values > columns else 'fewer'} values than header columns ({values} for {columns})"


def _csv_records(path: Path, rename: Mapping[str, str], required: tuple[str, ...],
                 ) -> Iterator[tuple[str, Mapping[str, object] | str, str | None]]:
    check_csv_file(path)
    with csv_text(path) as handle:
        reader = csv.reader(handle)
        if (header := next(reader, None)) is None:  # an empty file, which read_rows names as such
            return
        check_columns(path, "line 1", header, rename, required)
        ended = reader.line_num  # the physical line where the last row read ended
        for values in reader:
            # a row starts on the line after the last one's end: quoted line breaks make rows span lines
            start, ended = ended + 1, reader.line_num
            if not values:  # a blank line
                continue
            where = f"line {start}" if start == ended else f"lines {start}-{ended}"
            record = dict(zip(header, values, strict=False))
            if len(values) != len(header):
                yield where, record, csv_width_error(len(values), len(header))
                continue
            row = renamed(record, rename) if rename else record
            yield where, {k: (None if v == "" and k != "text" else v) for k, v in row.items()}, None


def parquet_batches(path: Path, rename: Mapping[str, str] | None = None,
                    required: tuple[str, ...] = REQUIRED) -> Iterator[tuple[int, Any]]:
    """A Parquet file's rows in Arrow record batches, each with the number of its first row (from 1);
    ``rename`` and ``required`` as for ``check_columns``."""
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from exc
    columns = parquet.schema_arrow.names
    if rename:  # paths into structs and lists too, a place in a list standing for every place
        paths = _column_paths(parquet.schema_arrow)
        columns = paths + [c for c in rename if c not in paths and _list_places(c) in paths]
    check_columns(path, "schema", columns, rename, required)
    row = 1
    for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
        yield row, batch
        row += batch.num_rows


def _parquet_records(path: Path, rename: Mapping[str, str], required: tuple[str, ...],
                     ) -> Iterator[tuple[str, Mapping[str, object] | str, str | None]]:
    for first, batch in parquet_batches(path, rename, required):
        for row, record in enumerate(batch.to_pylist(), start=first):
            yield f"row {row}", renamed(record, rename) if rename else record, None


def _renamed_jsonl(path: Path, rename: Mapping[str, str], required: tuple[str, ...],
                   ) -> Iterator[tuple[str, Mapping[str, object] | str, str | None]]:
    for location, record, error in _jsonl_records(path):
        yield location, renamed(record, rename) if rename and isinstance(record, Mapping) else record, error


def iter_records(path: Path, rename: Mapping[str, str] | None = None, required: tuple[str, ...] = REQUIRED,
                 ) -> Iterator[tuple[str, Mapping[str, object] | str, str | None]]:
    """Yield ``(location, record, parse_error)`` for each row of a supported file; ``rename`` maps a
    column to the field it is read as (``riskline convert --map``); a header or schema without one of the
    ``required`` columns is an error (``check_columns``)."""
    suffix = input_format(path)
    if path.is_dir() or (suffix is not None and not path.is_file()):
        raise not_a_file(path)
    if suffix is None:
        raise unsupported(path)
    check_encoding(path)  # else each of its lines would be a bad row
    readers = {".jsonl": _renamed_jsonl, ".csv": _csv_records, ".parquet": _parquet_records}
    with gzip_errors(path):  # after the rows before the damage: the run stops as a whole
        try:
            yield from readers[suffix](path, rename or {}, required)
        except UnicodeDecodeError as exc:  # its position is in the reader's buffer, not the file
            raise InputError(f"{path}: {utf8_error(path) or 'not UTF-8 text'}") from exc
        except csv.Error as exc:
            raise InputError(f"{path}: malformed CSV ({exc})") from exc
