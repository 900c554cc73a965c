"""A partition of a split input (``splitting``) read back: its rows in input order, each message id's first
copy, the later copies its bad rows; refused where its working files no longer hold what the split wrote. ``Split``:
an input split so (``partitioned.split_input``), read a partition at a time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from detection.events import EVENT_FIELDS, MessageEvent
from detection.inputs import InputError, file_and_row
from detection.readers import Reject
from detection.wording import counted


def partition_events(table: pa.Table) -> list[MessageEvent]:
    """A table of ``spill.SPILL_SCHEMA``'s rows as message events."""
    return [MessageEvent(**row) for row in table.select(list(EVENT_FIELDS)).to_pylist()]


class Partition(NamedTuple):
    """One partition's rows as read back: input order, each message id's first copy."""

    table: pa.Table  # of spill.SPILL_SCHEMA
    order: list[int]  # each row's place in the input (its ``order`` column)
    ids: tuple[list[str], list[str]]  # each row's conversation and message ids
    rejects: list[Reject]  # the copies of a message id read with their place
    # (position in the file, reason) of those read without it (``splitting.place_duplicates``)
    unplaced: list[tuple[int, str]]


def read_partition(folder: str, p: int, sources: list[str], written: int) -> Partition | None:
    """Partition ``p``'s rows, or None where no row fell in it. ``InputError`` where its working files do not
    read back the ``written`` rows the split wrote to them (removed or changed since, by hand or a cleaner of
    the temporary folder): a part of the input would be left out without a word."""
    try:
        files = sorted(Path(folder).glob(f"p{p:05d}-s*.arrow"))
        table = pa.concat_tables(ipc.open_file(str(f)).read_all() for f in files) if files else None
    except (OSError, pa.ArrowException) as exc:
        problem = f"could not be read back ({type(exc).__name__}: {exc})"
    else:
        if (n_read := 0 if table is None else table.num_rows) == written:
            return None if table is None else _deduplicated(table, sources)
        problem = f"read back {n_read} of the {counted(written, 'row')} written to it"
    raise InputError(f"{folder}: partition {p} of the split input {problem}; was the working folder changed while "
                     "the run worked?")


def _deduplicated(table: pa.Table, sources: list[str]) -> Partition:
    """A partition's rows in input order, each message id's first copy, the others its rejects."""
    if not (np.diff(table.column("order").to_numpy()) > 0).all():  # the shards' rows are in order as a rule
        table = table.sort_by("order")  # (it moves every column, text and all: 0.14 s of a partition's 1 s)
    order_column = table.column("order").to_pylist()
    ids = table.column("conversation_id").to_pylist(), table.column("message_id").to_pylist()
    rejects, unplaced = [], []
    if len(set(zip(*ids, strict=True))) < table.num_rows:  # copies of a message id: the first one stands
        seen: set[tuple[str, str]] = set()
        keep = []
        for i, key in enumerate(zip(*ids, strict=True)):
            if key not in seen:
                seen.add(key)
                keep.append(i)
                continue
            reason = f"duplicate message id {key[1]!r} in conversation {key[0]!r}"
            if (raw := table.column("raw")[i].as_py()) is None:  # read through Arrow: the parent places it
                unplaced.append((order_column[i], reason))
            else:
                rejects.append(Reject(sources[file_and_row(order_column[i])[0]], table.column("location")[i].as_py(),
                                      "message_id", reason, json.loads(raw)))
        table = table.take(keep)
        order_column = [order_column[i] for i in keep]
        ids = table.column("conversation_id").to_pylist(), table.column("message_id").to_pylist()
    return Partition(table, order_column, ids, rejects, unplaced)


class Split(NamedTuple):
    """An input split by conversation into partitions (``partitioned.split_input``)."""

    folder: str
    n: int  # partitions
    names: list[str]  # the input's files
    rejects: list[Reject]  # its bad rows, copies of a message id included, in input order
    n_conversations: int
    sizes: list[int]  # each partition's good messages, as split
    written: list[int]  # the rows written to each partition's working files, copies of a message id included

    @property
    def n_messages(self) -> int:
        """The input's good messages."""
        return sum(self.sizes)

    def events(self, p: int) -> list[MessageEvent]:
        """Partition ``p``'s messages (every message of its conversations), in input order, each message id's
        first copy. ``InputError`` where its working files cannot be read back whole (removed or changed since
        the split): a part of the input would be left out without a word."""
        read = read_partition(self.folder, p, self.names, self.written[p])
        return [] if read is None else partition_events(read.table)
