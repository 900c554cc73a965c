"""The partition files a split writes: checked rows buffered by partition (a hash of the conversation id)
and appended to one Arrow file per partition and splitting process, the buffer bounded over all partitions.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from detection.events import EVENT_FIELDS, MessageEvent

SPILL_ROWS = 20_000  # rows buffered per splitting process, over all partitions, before they are written


def _partition(conversation_id: str, n: int) -> int:
    return zlib.crc32(conversation_id.encode()) % n


class Spill:
    """Buffers rows per partition (one by one, or as Arrow tables) and appends them to Arrow files."""

    def __init__(self, folder: Path, shard: int, n: int, offset: int = 0) -> None:
        self.folder, self.shard, self.n = folder, shard, n
        self.offset = offset  # added to every row's order: its file's place among the input's files
        self.columns: list[list[list[Any]]] = [self._empty() for _ in range(n)]
        self.tables: list[list[pa.Table]] = [[] for _ in range(n)]
        self.buffered = 0
        self.writers: dict[int, ipc.RecordBatchFileWriter] = {}
        self.written = [0] * n  # the rows written to each partition's file

    @staticmethod
    def _empty() -> list[list[Any]]:
        return [[] for _ in SPILL_SCHEMA]

    def add(self, event: MessageEvent, order: int, location: str, raw: bytes) -> None:
        """Buffer one valid row; ``raw`` is the row as given (JSON), kept for a duplicate's reject."""
        columns = self.columns[_partition(event.conversation_id, self.n)]
        for column, value in zip(columns, (*(getattr(event, f) for f in EVENT_FIELDS), order + self.offset,
                                           location, raw),
                                 strict=True):
            column.append(value)
        self._added(1)

    def add_table(self, table: pa.Table) -> None:
        """Buffer valid rows given as a table of ``SPILL_SCHEMA``, each to its conversation's partition."""
        if self.offset:
            table = table.set_column(ORDER, "order", pc.add(table["order"], pa.scalar(self.offset, pa.int64())))
        ids = table["conversation_id"]
        distinct = pc.unique(ids)
        partition_of = np.array([_partition(c, self.n) for c in distinct.to_pylist()], dtype=np.int64)
        partitions = partition_of[pc.index_in(ids, value_set=distinct).to_numpy()]
        grouped = table.take(pa.array(np.argsort(partitions, kind="stable")))
        start = 0
        for p, count in enumerate(np.bincount(partitions, minlength=self.n).tolist()):
            if count:
                self.tables[p].append(grouped.slice(start, count))
                start += count
        self._added(table.num_rows)

    def _added(self, rows: int) -> None:
        self.buffered += rows
        if self.buffered >= SPILL_ROWS:  # bound the buffer as a whole, however many partitions there are
            for q in range(self.n):
                self.flush(q)
            self.buffered = 0

    def flush(self, p: int) -> None:
        columns, tables = self.columns[p], self.tables[p]
        if columns[0]:
            arrays = [pa.array(column, type=f.type) for column, f in zip(columns, SPILL_SCHEMA, strict=True)]
            tables.append(pa.Table.from_batches([pa.RecordBatch.from_arrays(arrays, schema=SPILL_SCHEMA)]))
        if not tables:
            return
        if p not in self.writers:
            self.writers[p] = ipc.new_file(str(self.folder / f"p{p:05d}-s{self.shard:03d}.arrow"), SPILL_SCHEMA)
        table = pa.concat_tables(tables).combine_chunks()
        self.writers[p].write_table(table)
        self.written[p] += table.num_rows
        self.columns[p], self.tables[p] = self._empty(), []

    def close(self) -> None:
        for p in range(self.n):
            self.flush(p)
        for writer in self.writers.values():
            writer.close()


SPILL_SCHEMA = pa.schema([("conversation_id", pa.string()), ("message_id", pa.string()), ("sender_id", pa.string()),
                          ("timestamp", pa.float64()), ("text", pa.string()), ("recipient_id", pa.string()),
                          ("attachment", pa.string()), ("order", pa.int64()), ("location", pa.string()),
                          ("raw", pa.binary())])  # the row as given (JSON), for a reject that names a duplicate


ORDER = SPILL_SCHEMA.get_field_index("order")
