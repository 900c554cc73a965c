"""Read message events from JSONL, CSV or Parquet, keeping every bad row's place and reason."""

from __future__ import annotations

import contextlib
import csv
import difflib
import gzip
import io
import itertools
import json
import os
import re
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

from detection.arrow_events import clean_events
from detection.events import (
    EVENT_FIELDS,
    JSON_ERRORS,
    LABEL_FIELDS,
    REQUIRED,
    EventError,
    JsonObject,
    MessageEvent,
    identifier,
    loads,
    to_event,
)
from detection.wording import counted

SUFFIXES = (".jsonl", ".csv", ".parquet")
GZIP_SUFFIXES = (".jsonl.gz", ".csv.gz")  # inputs read through gzip (Parquet compresses inside the file)
FILE_TYPES = ", ".join((*SUFFIXES, *GZIP_SUFFIXES))  # as errors list them
CHUNK_BYTES = 1 << 20  # whole-file checks read this much at a time
PARQUET_BATCH_ROWS = 65536  # Parquet is read this many rows at a time
PARQUET_ROW_BYTES = 256  # a message as JSON Lines is 250-400 bytes: what a Parquet row counts for in data_bytes


class InputError(Exception):
    """Input that cannot be read at all, or a bad row when rejects are not being collected."""


class MissingColumnsError(InputError):
    """A file whose header or schema lacks a required column."""


def gzipped(path: Path | str) -> bool:
    """Whether a file is read and written through gzip: its name ends in .gz, in any case."""
    return str(path).lower().endswith(".gz")


def input_format(path: Path) -> str | None:
    """An input file's format by its name: ``.jsonl``, ``.csv`` or ``.parquet``, gzip-compressed ones
    (``.jsonl.gz``, ``.csv.gz``) included; None for any other name."""
    name = path.name.lower()
    if name.endswith(GZIP_SUFFIXES):
        return name[:-3][name[:-3].rindex("."):]
    return path.suffix.lower() if path.suffix.lower() in SUFFIXES else None


def special_file(path: Path) -> bool:
    """Whether ``path`` is a named pipe, a device or a socket (``/dev/stdin``, ``<(...)``), whatever its name."""
    return path.exists() and not path.is_file() and not path.is_dir()


def not_a_file(path: Path) -> InputError:
    """The error for an input that is not a file: missing, a folder where one file is read, or another
    kind of thing (a named pipe, a device, a socket)."""
    if path.is_dir():
        return InputError(f"{path}: a folder, not a file")
    if path.exists():
        return InputError(f"{path}: not a regular file (a named pipe, a device or a socket): save the data to a file")
    return InputError(f"{path}: no such file")


def _hidden(part: str) -> bool:
    """A name that a folder of data files holds beside its data: Spark's ``_SUCCESS``, ``_temporary``
    and ``.crc`` checksums, hidden files, a run's own temporary files."""
    return part.startswith(("_", "."))


def input_files(path: Path) -> list[Path]:
    """The files an input names: the file itself or, for a folder (a dataset written in parts, by
    Spark, by day...), every file under it, in path order, but those whose name or folder begins with
    '_' or '.', links to folders and files followed. Each is read by its own suffix; one of any other
    type, or a link to nothing, is an error naming it, as is a folder with none."""
    if not path.is_dir():
        check_encoding(path)
        return [path]
    files = _walk(path)
    for f in files:
        if not f.exists():
            raise InputError(f"{f}: a link to a file that does not exist (in input folder {path})")
        if not f.is_file():
            raise InputError(f"{not_a_file(f)} (in input folder {path})")
        if input_format(f) is None:
            raise InputError(f"{unsupported(f)} (in input folder {path}; files whose names begin with '_' or "
                             "'.' are skipped)")
        check_encoding(f)
    if not files:
        raise InputError(f"{path}: a folder with no data files (expected names ending in {FILE_TYPES})")
    return files


def _walk(folder: Path) -> list[Path]:
    """Every file under ``folder`` but hidden ones (``_hidden``), in path order, following links (a
    dataset may link its days in). A folder or file reached again through a link is read once (a link
    back up would otherwise loop)."""
    found: list[Path] = []
    walked: set[str] = set()
    for root, folders, names in os.walk(folder, followlinks=True):
        if (real := os.path.realpath(root)) in walked:
            folders.clear()
            continue
        walked.add(real)
        folders[:] = sorted(name for name in folders if not _hidden(name))
        found += (Path(root) / name for name in names if not _hidden(name))
    files: list[Path] = []
    seen: set[str] = set()
    for path in sorted(found):
        if (real := os.path.realpath(path)) not in seen:
            seen.add(real)
            files.append(path)
    return files


def input_bytes(files: list[Path]) -> int:
    """``data_bytes`` of an input's files (``input_files``) together."""
    return sum(data_bytes(f) for f in files)


FILE_BITS = 40  # a row's place in a folder, as every engine orders it: its file's index << FILE_BITS | its row


def folder_place(file_index: int, row: int) -> int:
    """A row's place in a folder's input order (``input_files``): by file, then by row within the file."""
    return (file_index << FILE_BITS) + row


def file_and_row(place: int) -> tuple[int, int]:
    """``folder_place`` undone: the file's index and the row within that file."""
    return place >> FILE_BITS, place & ((1 << FILE_BITS) - 1)


_LIST_KEY = re.compile(rb'"([A-Za-z_][A-Za-z0-9_]*)"\s*:\s*\[')


def unsupported(path: Path) -> InputError:
    if str(path) == "-":  # `zcat events.jsonl.gz | riskline score - ...`: files are read twice, and in parallel
        return InputError("-: riskline reads files, not standard input: save the data to a file first "
                          f"({FILE_TYPES})")
    if special_file(path):
        return not_a_file(path)
    hint = ""
    if path.suffix.lower() == ".json":
        hint = ("; a JSON array of messages becomes JSON Lines with one object per line, e.g. "
                "jq -c '.[]' IN.json > OUT.jsonl")
        with contextlib.suppress(OSError):
            with path.open("rb") as handle:
                head = handle.read(65536)
            # a chat export (Telegram, DiscordChatExporter): one object, its messages in a list under a key
            if head.lstrip().startswith(b"{") and (key := _LIST_KEY.search(head)):
                name = key[1].decode()
                hint = (f"; its list {name!r} becomes JSON Lines with one object per line, e.g. jq -c '.{name}[]' "
                        f"IN.json > OUT.jsonl (the chat's own id, which its messages lack, goes into each: jq -c "
                        f"'.id as $c | .{name}[] | .chat = $c', then --map conversation_id=chat)")
    return InputError(f"{path}: unsupported file type '{path.suffix}' "
                      f"(expected one of {FILE_TYPES}){hint}")


def data_bytes(path: Path) -> int:
    """About how many bytes of data a file holds, to choose an engine: its size; for Parquet at least
    ``PARQUET_ROW_BYTES`` a row; for gzip the size its trailer records. That is the size modulo 4 GiB:
    under the file's own size, it wrapped when the file is large (compressed text is rarely larger
    than the text), and the text is tiny when it is not."""
    size = path.stat().st_size
    if path.suffix.lower() == ".parquet":  # compressed and encoded by column: its rows tell more
        import pyarrow.parquet as pq

        try:
            return max(size, pq.ParquetFile(path).metadata.num_rows * PARQUET_ROW_BYTES)
        except Exception:  # the reader says what is wrong with it
            return size
    if not gzipped(path) or size < 18:  # under gzip's header and trailer: not gzip
        return size
    with path.open("rb") as handle:
        handle.seek(-4, io.SEEK_END)
        recorded = int.from_bytes(handle.read(4), "little")
    if recorded >= size:
        return recorded
    return recorded + (1 << 32) if size >= 1 << 24 else size


def open_bytes(path: Path) -> BinaryIO:
    """An input file's bytes, decompressed where its name ends in .gz."""
    return gzip.open(path, "rb") if gzipped(path) else path.open("rb")  # type: ignore[return-value]


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


def check_columns(path: Path, where: str, columns: list[str], rename: Mapping[str, str] | None = None) -> None:
    """One error for a header that lacks a required column (each row would otherwise be rejected
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
    missing = [name for name in REQUIRED if name not in fields]
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
    listed = ", ".join(columns[:12]) + (", ..." if len(columns) > 12 else "")
    raise MissingColumnsError(f"{path}: {where}: no column {named} (its columns: {listed}); "
                     f"every row needs {', '.join(REQUIRED)}")


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


def _csv_records(path: Path, rename: Mapping[str, str]) -> Iterator[tuple[str, Mapping[str, object] | str,
                                                                           str | None]]:
    check_csv_file(path)
    with csv_text(path) as handle:
        reader = csv.reader(handle)
        if (header := next(reader, None)) is None:  # an empty file, which read_rows names as such
            return
        check_columns(path, "line 1", header, rename)
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


def parquet_batches(path: Path, rename: Mapping[str, str] | None = None) -> Iterator[tuple[int, Any]]:
    """A Parquet file's rows in Arrow record batches, each with the number of its first row (from 1);
    ``rename`` as for ``check_columns``."""
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from exc
    columns = parquet.schema_arrow.names
    if rename:  # paths into structs and lists too, a place in a list standing for every place
        paths = _column_paths(parquet.schema_arrow)
        columns = paths + [c for c in rename if c not in paths and _list_places(c) in paths]
    check_columns(path, "schema", columns, rename)
    row = 1
    for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
        yield row, batch
        row += batch.num_rows


def _parquet_records(path: Path, rename: Mapping[str, str]) -> Iterator[tuple[str, Mapping[str, object] | str,
                                                                               str | None]]:
    for first, batch in parquet_batches(path, rename):
        for row, record in enumerate(batch.to_pylist(), start=first):
            yield f"row {row}", renamed(record, rename) if rename else record, None


def _renamed_jsonl(path: Path, rename: Mapping[str, str]) -> Iterator[tuple[str, Mapping[str, object] | str,
                                                                            str | None]]:
    for location, record, error in _jsonl_records(path):
        yield location, renamed(record, rename) if rename and isinstance(record, Mapping) else record, error


def iter_records(path: Path, rename: Mapping[str, str] | None = None) -> Iterator[tuple[str, Mapping[str, object] | str,
                                                                                      str | None]]:
    """Yield ``(location, record, parse_error)`` for each row of a supported file; ``rename`` maps a
    column to the field it is read as (``riskline convert --map``)."""
    suffix = input_format(path)
    if path.is_dir() or (suffix is not None and not path.is_file()):
        raise not_a_file(path)
    if suffix is None:
        raise unsupported(path)
    check_encoding(path)  # else each of its lines would be a bad row
    readers = {".jsonl": _renamed_jsonl, ".csv": _csv_records, ".parquet": _parquet_records}
    with gzip_errors(path):  # after the rows before the damage: the run stops as a whole
        try:
            yield from readers[suffix](path, rename or {})
        except UnicodeDecodeError as exc:  # its position is in the reader's buffer, not the file
            raise InputError(f"{path}: {utf8_error(path) or 'not UTF-8 text'}") from exc
        except csv.Error as exc:
            raise InputError(f"{path}: malformed CSV ({exc})") from exc


# What reading a file through gzip raises when it is cut or damaged (EOFError, zlib.error) or is not
# gzip at all (gzip.BadGzipFile, an OSError), besides any other failure to read (OSError)
READ_ERRORS = (OSError, EOFError, zlib.error)


@contextlib.contextmanager
def gzip_errors(path: Path) -> Iterator[None]:
    """A file named .gz that is not gzip, or is cut or damaged, as an ``InputError`` naming it."""
    try:
        yield
    except gzip.BadGzipFile as exc:
        raise InputError(f"{path}: not a gzip file ({exc})") from None
    except (EOFError, zlib.error) as exc:
        raise InputError(f"{path}: a cut or damaged gzip file ({exc})") from None


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
        for chunk in _chunks(handle):
            if (count := json_lines(chunk)) is None:
                return None
            lines += count
    return lines


def _chunks(handle: BinaryIO) -> Iterator[bytes]:
    """A file about ``CHUNK_BYTES`` at a time, cut after a newline: no character or \r\n is split."""
    while chunk := handle.read(CHUNK_BYTES) + handle.readline():
        yield chunk


def _line_ends(data: bytes) -> int:
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")


_BYTE_ORDER_MARKS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe", "UTF-16"),
                     (b"\xfe\xff", "UTF-16"))


def other_encoding(path: Path) -> str | None:
    """Why a text file (JSON Lines, CSV) that starts with a UTF-16 or UTF-32 byte order mark cannot be read, or
    None. Windows tools write such files: Windows PowerShell's ``>`` and ``Out-File``, Excel's "Unicode Text"."""
    if input_format(path) not in (".jsonl", ".csv") or not path.is_file():
        return None
    try:
        with open_bytes(path) as handle:
            start = handle.read(4)
    except READ_ERRORS:  # a damaged gzip file: its reader names it
        return None
    encoding = next((name for mark, name in _BYTE_ORDER_MARKS if start.startswith(mark)), None)
    if encoding is None:
        return None
    return (f"{encoding} text (it starts with a {encoding} byte order mark); riskline reads UTF-8: convert it first "
            f"(iconv -f {encoding} -t UTF-8, or PowerShell's Out-File -Encoding utf8, or Excel's \"CSV UTF-8\")")


def check_encoding(path: Path) -> None:
    """``InputError`` naming ``path`` where ``other_encoding`` says why it cannot be read."""
    if reason := other_encoding(path):
        raise InputError(f"{path}: {reason}")


def utf8_error(path: Path) -> str | None:
    """Where a file's first bytes that are not UTF-8 lie, as ``line N: not UTF-8 text (byte K of the
    line)``, or None for UTF-8 text. Lines end at \n, \r\n or a lone \r, as Python's readers end them. A file
    in UTF-16 or UTF-32 with its byte order mark is said as that (``other_encoding``)."""
    if reason := other_encoding(path):
        return reason
    with open_bytes(path) as handle:
        for index, chunk in enumerate(_chunks(handle)):
            try:
                chunk.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad, chunks_before = exc.start, index
                break
        else:
            return None
        handle.seek(0)  # lines are counted only now, to keep the common case fast
        line = 1 + sum(_line_ends(earlier) for earlier in itertools.islice(_chunks(handle), chunks_before))
    before = chunk[:bad]
    start = max(before.rfind(b"\n"), before.rfind(b"\r")) + 1
    return f"line {line + _line_ends(before)}: not UTF-8 text (byte {bad - start + 1} of the line)"


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
    none, ``near`` holds up to three ids like the one asked for (an id cut short when copied, another case)."""

    read: ReadResult
    n_conversations: int
    unreadable: int
    near: tuple[str, ...] = ()


def read_conversation(path: str | Path, conversation_id: str) -> ConversationRead:
    """The rows of one conversation of a file or folder, validated and de-duplicated as ``read_events`` does.

    Other conversations' rows are parsed for their conversation id only and not kept, so memory
    grows with the conversation and the number of conversations, not with the file.
    """
    read, unreadable = ReadResult([], []), 0
    seen: set[tuple[str, str]] = set()
    names: set[str | None] = set()
    for source in input_files(Path(path)):
        for location, record, error in iter_records(source):
            if error is not None or not isinstance(record, Mapping):
                unreadable += 1
                continue
            key = conversation_key(record)
            names.add(key)
            if key == conversation_id:
                _accept(source, location, record, seen, read)
    known = {name for name in names if name is not None}
    return ConversationRead(read, len(known), unreadable,
                            () if read.events or read.rejects else _near(conversation_id, known))


def _near(wanted: str, ids: set[str]) -> tuple[str, ...]:
    """Up to three of ``ids`` that hold ``wanted`` (case aside), else that are spelt almost as it is."""
    if not (folded := wanted.casefold()):
        return ()  # an empty id is in every id: no suggestion is a likely one
    holding = sorted(i for i in ids if folded in i.casefold())
    return tuple(holding[:3] if holding else difflib.get_close_matches(wanted, ids, n=3, cutoff=0.8))
