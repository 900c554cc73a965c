"""The Spark engine's input: rows read with their places, and checked on the executors by the local
reader's own code (``check_events_spark``).

JSON Lines are parsed line by line as locally, CSV columns are taken by name, and a bad row or a later
copy of a message id becomes a reject naming its place, so ``--errors`` works here too.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from detection.batch import bad_rows_error
from detection.events import EVENT_FIELDS, REQUIRED, EventError, to_event
from detection.inputs import (
    InputError,
    check_encoding,
    file_and_row,
    folder_place,
    gzip_errors,
    input_files,
    input_format,
    unsupported,
)
from detection.readers import Reject
from detection.records import check_columns, check_csv_file, csv_width_error, parse_json_bytes
from detection.writers import utf8_json

ROW = "_riskline_row"  # each row's 0-based position in the input, consecutive (a folder's: inputs.folder_place)
LINE = "_riskline_line"  # JSON Lines: the raw line, parsed by the same code as the local reader's
MALFORMED = "_riskline_malformed"  # CSV: Spark's copy of a row whose values do not match the header
WIDTH = "_riskline_width"  # CSV: the header's number of columns, to say whether such a row has more or fewer
FIELD, REASON, RECORD = "_riskline_field", "_riskline_reason", "_riskline_record"
OPTIONAL = ("recipient_id", "attachment")
# a checked row: the event's fields (None for a bad row), its place, and why it is bad (None for an event)
CHECKED_COLUMNS = (*((name, "double" if name == "timestamp" else "string") for name in EVENT_FIELDS),
                   (ROW, "long"), (FIELD, "string"), (REASON, "string"), (RECORD, "string"))
CHECKED_SCHEMA = ", ".join(f"{name} {kind}" for name, kind in CHECKED_COLUMNS)


def _parsed_rows(batch: Any) -> Iterator[tuple[int, Mapping[str, object] | str, str | None]]:
    """``(row, record, parse error)`` for each row of a batch, as the local reader parses them."""
    import pyarrow as pa

    rows = batch.column(ROW).to_pylist()
    if LINE in batch.schema.names:
        # as bytes: Spark reads text without checking it is UTF-8
        for row, raw in zip(rows, batch.column(LINE).cast(pa.binary()).to_pylist(), strict=True):
            first = file_and_row(row)[1] == 0  # a file's first line may open with a byte-order mark
            if (parsed := parse_json_bytes(raw, first=first)) is not None:  # None: a blank line, skipped
                yield row, *parsed
        return
    columns = [name for name in batch.schema.names if name != ROW]
    for row, record in zip(rows, batch.select(columns).to_pylist(), strict=True):
        malformed, width = record.pop(MALFORMED, None), record.pop(WIDTH, None)
        if malformed is None:
            yield row, record, None
            continue
        values = len(next(csv.reader(io.StringIO(malformed)), []))
        yield row, {k: v for k, v in record.items() if v is not None}, (
            csv_width_error(values, width) if width is not None and values != width else
            "malformed row: its values do not match the header's columns")


def _check_batches(batches: Iterator[Any]) -> Iterator[Any]:
    """Validate rows with the local reader's code: an event, or the reason it is not one (``FIELD``)."""
    import pyarrow as pa

    types = {"string": pa.string(), "double": pa.float64(), "long": pa.int64()}
    schema = pa.schema([(name, types[kind]) for name, kind in CHECKED_COLUMNS])
    for batch in batches:
        out: dict[str, list[object]] = {name: [] for name in schema.names}
        for row, parsed, error in _parsed_rows(batch):
            event, field, reason = None, "row", error
            if error is None:
                try:
                    assert isinstance(parsed, Mapping)
                    event = to_event(parsed)
                except EventError as exc:
                    field, reason = exc.field, exc.reason
            for name in EVENT_FIELDS:
                out[name].append(None if event is None else getattr(event, name))
            out[ROW].append(row)
            out[FIELD].append(None if event is not None else field)
            out[REASON].append(None if event is not None else reason)
            out[RECORD].append(None if event is not None else utf8_json(parsed, default=str))
        yield pa.RecordBatch.from_pydict(out, schema=schema)


def _numbered(frame: Any, files: list[Path] | None = None) -> Any:
    """``frame`` with ``ROW``, its rows' consecutive positions: Spark reads a file's splits in order, and
    ``monotonically_increasing_id`` holds the partition in its upper bits and the row within it below.
    Read from ``files`` (a folder's), a row's position is ``inputs.folder_place`` of its file and its row
    in that file (Spark may read several small files in one partition, largest first)."""
    from pyspark.sql import functions as F

    ids = frame.withColumn("_riskline_id", F.monotonically_increasing_id())
    part = F.shiftright("_riskline_id", 33)
    if files is None:
        key, file_of = part, {}
    else:
        ids = ids.withColumn("_riskline_file", F.input_file_name())
        key = F.concat_ws("|", F.col("_riskline_file"), part.cast("string"))
        place = {f.resolve(): i for i, f in enumerate(files)}
        file_of = {uri: place[_local(uri)] for (uri,) in ids.select("_riskline_file").distinct().collect()}
    counts = ids.groupBy(key.alias("k"), part.alias("p")).agg(F.count(F.lit(1)).alias("n"),
                                                              F.min("_riskline_id").alias("first"))
    offsets: list[Any] = []
    totals: dict[int, int] = {}  # rows counted so far, by file
    for k, _, n, first in sorted(counts.collect(), key=lambda r: r["p"]):  # a file's partitions in order
        f = 0 if files is None else file_of[k.rsplit("|", 1)[0]]
        offsets += [F.lit(k), F.lit(folder_place(f, totals.get(f, 0)) - first)]  # ROW: this + the row's id
        totals[f] = totals.get(f, 0) + n
    if not offsets:
        return frame.withColumn(ROW, F.lit(None).cast("long"))
    numbered = ids.withColumn(ROW, F.create_map(*offsets)[key] + F.col("_riskline_id"))
    return numbered.drop("_riskline_id", *(["_riskline_file"] if files is not None else []))


def _local(uri: str) -> Path:
    """The local path of a file Spark names by URI (``file:///...``, its characters %-escaped)."""
    from urllib.parse import unquote, urlparse

    return Path(unquote(urlparse(uri).path)).resolve()


class SparkCheck:
    """Rows validated as the local reader does: ``events`` (the first row of each message id) and
    ``rejects`` (bad rows and later copies of a message id, with place and reason).

    ``frame`` (every row, checked) is persisted, as each view reads it; ``unpersist()`` when done.
    """

    def __init__(self, frame: Any, source: str, unit: str, files: list[Path] | None = None) -> None:
        self.frame, self.source, self.unit = frame, source, unit  # unit: a place is a 'line' or a 'row'
        self.files = files  # a folder's files, which its rows' places name (``_numbered``)
        self._counts: tuple[int, int, int] | None = None

    def _valid(self) -> Any:
        from pyspark.sql import functions as F

        return self.frame.filter(F.col(FIELD).isNull())

    def _copies(self) -> Any:
        """The later copies of a message id: only the keys are shuffled, and they sum as they go."""
        from pyspark.sql import functions as F

        repeated = (self._valid().groupBy("conversation_id", "message_id")
                    .agg(F.count(F.lit(1)).alias("n"), F.min(ROW).alias("first")).filter("n > 1"))
        return (self._valid().join(F.broadcast(repeated), ["conversation_id", "message_id"])
                .filter(F.col(ROW) > F.col("first")).drop("n", "first"))

    def counts(self) -> tuple[int, int]:
        """How many events and how many rejected rows."""
        from pyspark.sql import functions as F

        if self._counts is None:
            got = {row["bad"]: row["count"]
                   for row in self.frame.groupBy(F.col(FIELD).isNotNull().alias("bad")).count().collect()}
            copies = (self._valid().groupBy("conversation_id", "message_id").count().filter("count > 1")
                      .agg(F.sum(F.col("count") - 1)).first())
            self._counts = got.get(False, 0), got.get(True, 0), int(copies[0] or 0) if copies else 0
        valid, bad, copies = self._counts
        return valid - copies, bad + copies

    @property
    def events(self) -> Any:
        """The accepted events (contract columns and ``ROW``), for ``score_checked_spark``."""
        events = self._valid()
        if self._copy_count():  # later copies of a message id: drop them
            events = events.join(self._copies().select(ROW), ROW, "left_anti")
        return events.select(*REQUIRED, *OPTIONAL, ROW)

    @property
    def rejects(self) -> Any:
        from pyspark.sql import functions as F

        bad = self.frame.filter(F.col(FIELD).isNotNull())
        return bad.unionByName(self._copies()) if self._copy_count() else bad

    def _copy_count(self) -> int:
        self.counts()
        assert self._counts is not None
        return self._counts[2]

    def iter_rejects(self) -> Iterator[Reject]:
        """The rejected rows in input order, with their place and reason as the local reader gives them."""
        for row in self.rejects.orderBy(ROW).toLocalIterator():
            yield self._reject(row)

    def error(self) -> InputError | None:
        """The error for bad rows when they are not being set aside (the first, and how many), or None."""
        n_rejects = self.counts()[1]
        first = self.rejects.orderBy(ROW).first() if n_rejects else None
        return None if first is None else bad_rows_error(self._reject(first), n_rejects)

    def _reject(self, row: Any) -> Reject:
        source, position = self.source, row[ROW]
        if self.files is not None:
            index, position = file_and_row(position)
            source = str(self.files[index])
        where = f"{self.unit} {position + 1}"
        if row[FIELD] is not None:
            return Reject(source, where, row[FIELD], row[REASON], json.loads(row[RECORD]))
        # a later copy of a message id: its record is the event as read
        record = {name: row[name] for name in (*REQUIRED, *OPTIONAL)}
        return Reject(source, where, "message_id", f"duplicate message id {row['message_id']!r} in "
                      f"conversation {row['conversation_id']!r}", record)

    def unpersist(self) -> None:
        self.frame.unpersist()


def check_events_spark(events: Any, source: str = "DataFrame") -> SparkCheck:
    """Validate a DataFrame of message events row by row, as the local reader does, without stopping.

    ``events`` comes from ``read_events_spark`` (which keeps each row's place in the file) or is any
    DataFrame with the contract's columns. ``source`` names it in rejects; read from a local folder
    (``source`` naming it), a reject names its own file.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    if LINE not in events.columns:
        missing = [c for c in REQUIRED if c not in events.columns]
        if missing:
            raise InputError(f"{source}: no column {', '.join(repr(m) for m in missing)} "
                             f"(its columns: {', '.join(events.columns[:12])}); every row needs {', '.join(REQUIRED)}")
        for name in OPTIONAL:
            if name not in events.columns:
                events = events.withColumn(name, F.lit(None).cast("string"))
    if ROW not in events.columns:
        events = _numbered(events)
    keep = [c for c in (*REQUIRED, *OPTIONAL, LINE, MALFORMED, WIDTH, ROW) if c in events.columns]
    checked = events.select(*keep).mapInArrow(_check_batches, CHECKED_SCHEMA)
    files = input_files(Path(source)) if Path(source).is_dir() else None
    return SparkCheck(checked.persist(StorageLevel.MEMORY_AND_DISK), source, "line" if LINE in keep else "row",
                      files)


def spark_input(source: str) -> tuple[str | None, list[Path] | None]:
    """An input's format (Spark reads .jsonl.gz and .csv.gz through gzip itself) and, for a local folder,
    its files (``inputs.input_files``), which must share one format."""
    if not Path(source).is_dir():
        check_encoding(Path(source))
        return input_format(Path(source)), None
    files = input_files(Path(source))
    kinds = sorted({str(input_format(f)) for f in files})
    if len(kinds) > 1:
        raise InputError(f"{source}: --engine spark reads a folder of one format; this one holds "
                         f"{' and '.join(kinds)} files (the local engine reads them together)")
    return kinds[0], files


def read_events_spark(spark: Any, path: str | Path) -> Any:
    """Rows of a JSONL, CSV or Parquet file, or of a local folder's files of one format (as the local
    engines read folders: ``inputs.input_files``), each with its place in its file, for
    ``check_events_spark``.

    JSON Lines are kept as raw lines and parsed later by the local reader's code; CSV columns are taken by
    their header's names (not their order), with quotes doubled inside quoted values as in RFC 4180.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    source = str(path)
    suffix, files = spark_input(source)
    paths = [str(f) for f in files] if files is not None else [source]
    if suffix == ".jsonl":
        return _numbered(spark.read.text(paths).withColumnRenamed("value", LINE), files)
    if suffix == ".csv":
        # Spark reads bytes that are not UTF-8 as replacement characters, broken quoting and a header naming
        # a column twice, without a word: a local file is checked here as the local reader checks it (a file
        # on a cluster's storage cannot be, from here)
        for local in (Path(p) for p in paths):
            if local.is_file():
                with gzip_errors(local):
                    if header := check_csv_file(local):  # a column named twice: Spark renames the copies
                        check_columns(local, "line 1", header)
        reader = spark.read.option("header", True).option("multiLine", True).option("escape", '"')
        names = reader.csv(paths).columns
        if not names:
            raise InputError(f"{source}: empty file: no message rows")
        names[0] = names[0].removeprefix("\ufeff")  # Excel's "CSV UTF-8" starts with a byte-order mark
        check_columns(Path(source), "line 1", names)
        schema = StructType([StructField(n, StringType()) for n in (*names, MALFORMED)])
        frame = (reader.schema(schema).option("mode", "PERMISSIVE").option("columnNameOfCorruptRecord", MALFORMED)
                 .csv(paths))
        wanted = [c for c in (*REQUIRED, *OPTIONAL) if c in names]
        return _numbered(frame.select(*wanted, MALFORMED, F.lit(len(names)).alias(WIDTH)), files)
    if suffix == ".parquet":
        frame = spark.read.parquet(*paths)
        check_columns(Path(source), "schema", frame.columns)
        return _numbered(frame.select(*(c for c in (*REQUIRED, *OPTIONAL) if c in frame.columns)), files)
    raise unsupported(Path(source))
