"""Message events checked and converted as whole Arrow columns: every reader's fast path.

A file, a block of one or a batch of rows that is clean (every required column present as text, ids trimmed
and within their length, timestamps in one shape Arrow converts exactly as ``parse_timestamp`` does) becomes a
table of events without an object per row. Anything else, ``clean_events`` declines (None) and the caller
reads row by row with the reference reader (``readers.read_rows``), which alone says which row is bad and why.
"""

from __future__ import annotations

from typing import Any

from detection.events import (
    ATTACHMENTS,
    EVENT_FIELDS,
    ID_FIELDS,
    LATEST_TIMESTAMP,
    MAX_ID_BYTES,
    MAX_TEXT_CHARS,
    REQUIRED,
    EventError,
    parse_timestamp,
)


def clean_events(table: Any, suffix: str) -> Any:
    """``table`` (read by Arrow from a file of type ``suffix``) as valid events, or None whenever a row
    needs a closer look: an Arrow table of ``EVENT_FIELDS``, timestamps as Unix seconds (float64).

    The row-by-row path stays the reference: it runs whenever this one declines, and it alone
    reports bad rows, with their line numbers. Copies of a message id are left to the caller.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if table is None or table.num_rows == 0 or any(name not in table.column_names for name in REQUIRED) or \
            any(table.column_names.count(name) > 1 for name in EVENT_FIELDS):  # check_columns names a copy
        return None
    for name in ("conversation_id", "message_id", "sender_id", "text"):
        if not pa.types.is_string(table[name].type) or (name != "text" and table[name].null_count):
            return None
    if table["timestamp"].null_count:
        return None
    if suffix == ".jsonl" and table["text"].null_count:
        return None  # Arrow reads a line without "text" as null, as it reads "text": null; only the first is bad
    if (pc.max(pc.binary_length(table["text"])).as_py() or 0) > MAX_TEXT_CHARS:
        return None  # a long text in bytes, maybe in characters too: the reference reader counts them
    for name in ID_FIELDS:
        column = table[name]
        if not pc.all(pc.equal(pc.utf8_trim_whitespace(column), column)).as_py() or \
                pc.any(pc.equal(column, "")).as_py() or pc.max(pc.binary_length(column)).as_py() > MAX_ID_BYTES:
            return None
    optional = {}
    for name in ("recipient_id", "attachment"):
        if name not in table.column_names:
            optional[name] = pa.nulls(table.num_rows, pa.string())
            continue
        if not (pa.types.is_string(table[name].type) or pa.types.is_null(table[name].type)):
            return None
        column = table[name].cast(pa.string())
        if name == "recipient_id" and (pc.any(pc.not_equal(pc.utf8_trim_whitespace(column), column)).as_py()
                                       or (pc.max(pc.binary_length(column)).as_py() or 0) > MAX_ID_BYTES):
            return None  # an id: the row-by-row reader trims it and checks its length, as the required ones
        optional[name] = pc.if_else(pc.equal(column, ""), None, column)
    if not set(pc.unique(optional["attachment"]).to_pylist()) <= ATTACHMENTS | {None}:
        return None
    if (seconds := _seconds(table["timestamp"])) is None:
        return None
    columns = {"conversation_id": table["conversation_id"], "message_id": table["message_id"],
               "sender_id": table["sender_id"], "timestamp": seconds, "text": pc.fill_null(table["text"], ""),
               **optional}
    return pa.table([columns[name] for name in EVENT_FIELDS], names=list(EVENT_FIELDS))


def _seconds(column: Any) -> Any:
    """A timestamp column (without nulls) as Unix seconds, exactly as ``parse_timestamp`` gives them
    row by row, or None where a row needs the reference reader. Converted as whole columns: text all
    in one plain ISO-8601 shape or all Unix seconds (``_text_seconds``), a timestamp type with a time
    zone, and numbers (Unix seconds, as Parquet often holds them); any other text row by row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_string(column.type) and (column := _text_seconds(column)) is None:
        return None
    kind = column.type
    try:
        if pa.types.is_timestamp(kind) and kind.tz is not None and kind.unit in _PER_SECOND:
            # as datetime.timestamp(): the whole units over units per second, one correctly rounded division
            seconds = pc.divide(pc.cast(pc.cast(column, pa.int64()), pa.float64()), _PER_SECOND[kind.unit])
        elif pa.types.is_integer(kind) or pa.types.is_floating(kind):
            seconds = pc.cast(column, pa.float64())  # an integer beyond 2**53 is not cast, and is out of range
        else:
            return None  # no time zone, a date, nanoseconds...: the reference reader says what it makes of them
    except pa.ArrowInvalid:
        return None
    in_range = pc.and_(pc.greater_equal(seconds, 0.0), pc.less(seconds, float(LATEST_TIMESTAMP)))  # NaN is not
    return seconds if pc.all(in_range).as_py() else None


_PER_SECOND = {"s": 1.0, "ms": 1e3, "us": 1e6}
# The shapes of text timestamps converted as whole columns. Arrow and datetime.fromisoformat agree on
# these (any that Arrow refuses goes row by row); others, such as a lone "+05:60" that Python takes,
# are left to parse_timestamp. Digits are ASCII in both.
_ISO_TEXT = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?"
             r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$")
_SECONDS_TEXT = r"^[0-9]+(?:\.[0-9]+)?$"  # float() of such text: nothing parse_timestamp takes for a date


def _text_seconds(column: Any) -> Any:
    """Text timestamps (no nulls) as a timestamp column with a time zone or as float64 Unix seconds,
    for ``_seconds`` to check; None where ``parse_timestamp`` refuses a row. A column all in one of
    the shapes above is converted by Arrow (in microseconds, as datetime keeps them); any other row by
    row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        if pc.all(pc.match_substring_regex(column, _ISO_TEXT)).as_py():
            return pc.cast(column, pa.timestamp("us", "UTC"))
        if pc.all(pc.match_substring_regex(column, _SECONDS_TEXT)).as_py():
            return pc.cast(column, pa.float64())
    except pa.ArrowInvalid:
        pass  # a date Arrow refuses (February 30th): parse_timestamp says what it makes of it
    try:
        return pa.chunked_array([pa.array([parse_timestamp(s) for s in column.to_pylist()], pa.float64())])
    except EventError:
        return None
