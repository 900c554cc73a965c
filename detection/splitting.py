"""The partitioned engine's first step: every row of the input checked and appended to one of N partition files
in a working folder, by a hash of its conversation id (``partitioned`` scores the partitions).

Rows are read in blocks; a clean block goes through Arrow's reader with the in-memory engine's checks
(``arrow_events.clean_events``), any other row by row with the reference reader. A plain JSON Lines file is split
in parallel over byte ranges cut at line starts (``split_jobs``); CSV (values may span lines), Parquet, gzip and
JSON Lines with lone carriage returns by one process. Rows keep their place (``order``, ``location``), so errors
name the right line or row and ties keep input order.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa

from detection.arrow_events import clean_events
from detection.events import EVENT_FIELDS, EventError, to_event
from detection.inputs import (
    READ_ERRORS,
    folder_place,
    gzip_errors,
    gzipped,
    input_format,
    not_a_file,
    unsupported,
)
from detection.readers import Reject, arrow_input, arrow_table, json_lines
from detection.records import (
    check_columns,
    check_csv_file,
    iter_records,
    parquet_batches,
    parse_json_bytes,
    text_lines,
)
from detection.spill import SPILL_SCHEMA, Spill

BLOCK_BYTES = 4 * 2**20  # a splitting process reads its range in blocks of about this size


class Layout(NamedTuple):
    """Where a JSON Lines file is cut for the splitting processes."""

    ranges: list[tuple[int, int, int]]  # (start byte, end byte, line number of the first line), cut at \n
    lone_returns: bool  # a line ends at a lone \r (classic Mac), which the cuts and line counts do not see


def line_ranges(path: Path, pieces: int) -> Layout:
    """``pieces`` line-aligned ranges of the file, read a block at a time."""
    size = path.stat().st_size
    cuts = [0]
    with path.open("rb") as handle:
        for i in range(1, pieces):
            handle.seek(size * i // pieces)
            handle.readline()
            cuts.append(max(handle.tell(), cuts[-1]))
    cuts.append(size)
    out, line, lone = [], 1, False
    with path.open("rb") as handle:
        for a, b in itertools.pairwise(cuts):
            out.append((a, b, line))
            handle.seek(a)
            position = a
            while position < b:
                block = handle.read(min(BLOCK_BYTES, b - position))
                position += len(block)
                line += block.count(b"\n")
                if lone or b"\r" not in block:
                    continue
                returns = block.count(b"\r") - block.count(b"\r\n")
                if returns == 1 and block.endswith(b"\r"):  # its \n, if any, opens the next block
                    returns -= handle.read(1) == b"\n"
                    handle.seek(position)
                lone = returns > 0
    return Layout([r for r in out if r[1] > r[0]], lone)


def _blocks(path: str, start: int, end: int) -> Iterator[bytes]:
    """A line range of a file in blocks of about ``BLOCK_BYTES``, each cut at the end of a line."""
    with open(path, "rb") as handle:
        handle.seek(start)
        position = start
        while position < end:
            block = handle.read(min(BLOCK_BYTES, end - position))
            if position + len(block) < end and not block.endswith(b"\n"):
                block += handle.readline()  # ranges begin at line starts, so this never passes ``end``
            position += len(block)
            yield block


def clean_block(block: bytes, first_line: int) -> pa.Table | None:
    """A block of clean JSON lines as a table of ``SPILL_SCHEMA`` through Arrow's reader, or None when
    any line needs the row-by-row reader (``arrow_events.clean_events`` decides, as for a whole file).

    Rows must be the block's lines one for one, as their line numbers name them (``readers.json_lines``).
    """
    if (count := json_lines(block)) is None:
        return None
    events = clean_events(arrow_table(block, ".jsonl"), ".jsonl")
    if events is None or events.num_rows != count:
        return None
    lines = block.split(b"\n")[:count]
    return _placed(events, range(first_line, first_line + len(lines)), "line", pa.array(lines, pa.binary()))


def _placed(events: pa.Table, numbers: range, unit: str | None, raw: pa.Array) -> pa.Table:
    """Clean events with their place in the file (``unit`` 'line' or 'row'; None: not known), as a table of
    ``SPILL_SCHEMA``."""
    places = pa.array([f"{unit} {k}" for k in numbers] if unit else [None] * len(numbers), pa.string())
    return events.append_column("order", pa.array(numbers, pa.int64())).append_column("location", places) \
        .append_column("raw", raw).cast(SPILL_SCHEMA)


class SplitJob(NamedTuple):
    """One process's share of the reading: a line range of a plain JSON Lines file, or a whole file."""

    path: str
    kind: str  # its format (``inputs.input_format``)
    cut: tuple[int, int, int] | None  # (start byte, end byte, first line number) of a range; None: the file
    folder: str
    shard: int
    n: int
    offset: int  # where the file's rows start in the input's order (``inputs.folder_place``)


def split(job: SplitJob) -> tuple[list[Reject], list[int]]:
    """Validate rows into partition files; return the bad ones and the rows written to each partition."""
    spill = Spill(Path(job.folder), job.shard, job.n, job.offset)
    if job.cut is not None:
        rejects = _split_range(job.path, *job.cut, spill)
    else:
        split = {".jsonl": _split_lines, ".csv": _split_csv, ".parquet": _split_parquet}[job.kind]
        with gzip_errors(Path(job.path)):
            rejects = split(job.path, spill)
    spill.close()
    pa.default_memory_pool().release_unused()  # the worker scores a partition next: give back the blocks' memory
    return rejects, spill.written


def _split_range(path: str, start: int, end: int, first_line: int, spill: Spill) -> list[Reject]:
    """One line range of a JSON Lines file: each block through Arrow's reader where it is clean, and
    line by line otherwise."""
    rejects: list[Reject] = []
    line = first_line
    for block in _blocks(path, start, end):
        if (clean := clean_block(block, line)) is not None:
            spill.add_table(clean)
            line += clean.num_rows
            continue
        line = _add_lines(spill, rejects, path, io.BytesIO(block), line)  # lines end at \n, as ``line_ranges`` counts
    return rejects


def _add_lines(spill: Spill, rejects: list[Reject], path: str, lines: Iterable[bytes], line: int) -> int:
    """JSON Lines rows given as bytes, row by row, the first numbered ``line``; the next line's number."""
    for raw in lines:
        if (parsed := parse_json_bytes(raw, first=line == 1)) is not None:
            record, error = parsed
            if error is not None:
                rejects.append(Reject(path, f"line {line}", "row", error, record))
            else:
                assert isinstance(record, Mapping)
                _add_record(spill, rejects, path, f"line {line}", line, record, raw)
        line += 1
    return line


def _split_lines(path: str, spill: Spill) -> list[Reject]:
    """JSON Lines in one process with its lines ended as Python reads text (for gzip, which cannot be
    read from the middle, and lone carriage returns, which ranges do not see), gathered in blocks of
    about ``BLOCK_BYTES``: a clean block through Arrow, any other line by line."""
    rejects: list[Reject] = []
    line, lines = 1, text_lines(Path(path))
    while block := _take(lines, BLOCK_BYTES):
        if (clean := clean_block(b"".join(block), line)) is not None:  # each line ends in \n as read
            spill.add_table(clean)
            line += clean.num_rows
        else:
            line = _add_lines(spill, rejects, path, block, line)
    return rejects


def _take(lines: Iterator[bytes], size: int) -> list[bytes]:
    """The next lines, up to about ``size`` bytes."""
    taken, total = [], 0
    for text in lines:
        taken.append(text)
        total += len(text)
        if total >= size:
            break
    return taken


def _split_rows(path: str, spill: Spill, skip: int = 0) -> list[Reject]:
    """The reference reader, after its first ``skip`` rows (for CSV, where Arrow's reading stops)."""
    rejects: list[Reject] = []
    for position, (location, record, error) in enumerate(iter_records(Path(path)), start=1):
        if position <= skip:
            continue
        if error is not None:
            rejects.append(Reject(path, location, "row", error, record))
            continue
        assert isinstance(record, Mapping)
        _add_record(spill, rejects, path, location, position, record)
    return rejects


def _split_csv(path: str, spill: Spill) -> list[Reject]:
    """CSV in one process: Arrow's streaming reader while its batches are clean (``arrow_events.clean_events``),
    then the reference reader from the first row of the first batch that is not.

    Rows read through Arrow are numbered by position; their lines are not known (quoted values may span
    lines), nor kept as given: a duplicate's reject finds both again (``place_duplicates``).
    """
    import pyarrow.csv as pacsv

    source, consumed = Path(path), 0
    try:
        # Arrow does not check text it is not asked for, nor quoting; no header: an empty file, which the
        # reference reader names as such
        if names := check_csv_file(source):
            check_columns(source, "line 1", names)
        reader = pacsv.open_csv(arrow_input(source), read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES),
                                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                                convert_options=pacsv.ConvertOptions(
                                    column_types={name: pa.string() for name in names},
                                    include_columns=[name for name in EVENT_FIELDS if name in names],
                                    strings_can_be_null=False))
        for batch in reader:
            if (events := clean_events(pa.Table.from_batches([batch]), ".csv")) is None:
                break
            numbers = range(consumed + 1, consumed + 1 + batch.num_rows)
            spill.add_table(_placed(events, numbers, None, pa.nulls(batch.num_rows, pa.binary())))
            consumed += batch.num_rows
        else:
            return []
    except (pa.ArrowException, csv.Error, *READ_ERRORS):
        pass  # the reference reader says what is wrong, from the first row Arrow did not take
    return _split_rows(path, spill, skip=consumed)


def _split_parquet(path: str, spill: Spill) -> list[Reject]:
    """Parquet in one process, a batch at a time: a clean batch through Arrow (``arrow_events.clean_events``),
    any other row by row. A clean row keeps no copy of itself: a duplicate's reject reads it again."""
    rejects: list[Reject] = []
    for first, batch in parquet_batches(Path(path)):
        if (events := clean_events(pa.Table.from_batches([batch]), ".parquet")) is not None:
            numbers = range(first, first + batch.num_rows)
            spill.add_table(_placed(events, numbers, "row", pa.nulls(batch.num_rows, pa.binary())))
            continue
        for number, record in enumerate(batch.to_pylist(), start=first):
            _add_record(spill, rejects, path, f"row {number}", number, record)
    return rejects


def split_jobs(files: list[Path], folder: Path, n: int, workers: int) -> list[SplitJob]:
    """The reading cut into jobs: a plain JSON Lines file in line ranges (``workers * 4`` of them over
    the input as a whole, by size), any other file whole (CSV values may span lines; gzip cannot be
    read from the middle...)."""
    jobs: list[SplitJob] = []
    total = sum(f.stat().st_size for f in files) or 1
    for i, path in enumerate(files):
        if (kind := input_format(path)) is None:
            raise unsupported(path)
        if not path.is_file():
            raise not_a_file(path)
        pieces = max(1, round(workers * 4 * path.stat().st_size / total))
        layout = line_ranges(path, pieces) if kind == ".jsonl" and not gzipped(path) else None
        cuts = layout.ranges if layout is not None and not layout.lone_returns else [None]
        jobs += [SplitJob(str(path), kind, cut, str(folder), len(jobs) + k, n, folder_place(i, 0))
                 for k, cut in enumerate(cuts)]
    return jobs


def _add_record(spill: Spill, rejects: list[Reject], path: str, location: str, order: int,
                record: Mapping[str, object], raw: bytes | None = None) -> None:
    """One row, or its reject; ``raw`` is the row as given (JSON), else written from ``record``."""
    try:
        event = to_event(record)
    except EventError as exc:
        rejects.append(Reject(path, location, exc.field, exc.reason, record))
        return
    spill.add(event, order, location, raw if raw is not None else
              json.dumps(record, ensure_ascii=False, default=str).encode())


def place_duplicates(path: str, unplaced: list[tuple[int, str]]) -> list[Reject]:
    """Rejects for duplicates read through Arrow, which kept neither their place nor a copy of
    themselves: one pass of the reference reader finds both, by the row's position in the file."""
    reasons, found = dict(unplaced), []
    for position, (location, record, _) in enumerate(iter_records(Path(path)), start=1):
        if position in reasons:
            record = json.loads(json.dumps(record, ensure_ascii=False, default=str))  # as _add_record keeps it
            found.append(Reject(path, location, "message_id", reasons[position], record))
            if len(found) == len(reasons):
                break
    return found
