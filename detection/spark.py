"""Spark engine: the shared scoring core applied per conversation with ``applyInPandas``.

``score_spark`` takes and returns Spark DataFrames. Each conversation is scored by the same
``score_conversations`` the local engine uses, with messages in the same order (timestamp, then
input position), so the answers are identical; rows come out in order of each conversation's first
appearance in the input, as locally. Executors load the model once per Python worker, from a model
directory every executor can read (on a cluster: a shared path; MLflow URIs are resolved on the
driver).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from detection.batch import MESSAGE_COLUMNS, step_rows
from detection.events import REQUIRED, EventError, to_event
from detection.model import RiskModel, load_model, resolve_model_dir
from detection.readers import InputError
from detection.scoring import score_conversations

ROW = "_riskline_row"
BUCKET_MESSAGES = 50_000
OPTIONAL = ("recipient_id", "attachment")
CONVERSATION_SCHEMA = (
    "conversation_id string, n_messages long, risk_score double, risk_level string, alert boolean, "
    "alert_index long, alert_message_id string, peak_stage string, suspect_id string, "
    f"evidence_message_ids array<string>, model_version string, {ROW} long")
MESSAGE_SCHEMA = ("conversation_id string, message_id string, index long, risk_score double, stage string, "
                  + ", ".join(f"{c} double" for c in MESSAGE_COLUMNS[5:]) + f", {ROW} long")


@functools.lru_cache(maxsize=4)
def _model(path: str) -> RiskModel:
    return load_model(path)


def _score_group(model_path: str, per_message: bool, frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.sort_values(ROW, kind="stable")
    events = []
    for record in frame.to_dict(orient="records"):
        try:
            events.append(to_event({str(k): v for k, v in record.items()}))
        except EventError as exc:
            raise InputError(f"conversation {record.get('conversation_id')!r} message "
                             f"{record.get('message_id')!r}: {exc}") from None
    results, steps = score_conversations(_model(model_path), events)
    first = frame.groupby("conversation_id")[ROW].min().to_dict()  # the group holds whole conversations
    if per_message:
        rows = step_rows(steps)
        position = {(c, m): int(r) for c, m, r in zip(frame["conversation_id"], frame["message_id"], frame[ROW],
                                                       strict=True)}
        return pd.DataFrame([{**row, ROW: position[(row["conversation_id"], row["message_id"])]} for row in rows])
    return pd.DataFrame([{**{k: getattr(r, k) for k in r.__dataclass_fields__}, ROW: int(first[r.conversation_id])}
                         for r in results])


def score_spark(events: Any, model: str | None = None, per_message: bool = False) -> Any:
    """Score a DataFrame of message events: one row per conversation (or per message), in input order.

    ``events`` needs the contract's columns; others are ignored. It should come straight from a
    reader (or carry its own ``_riskline_row`` order column): the input position breaks timestamp
    ties exactly as the local engine does.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import TimestampType

    missing = [c for c in REQUIRED if c not in events.columns]
    if missing:
        raise InputError(f"Spark input lacks column(s) {missing}")
    path = str(resolve_model_dir(model))  # executors read this directory; MLflow URIs resolve here
    load_model(path)  # fail on the driver, with a clear message, before any executor does
    if ROW not in events.columns:
        events = events.withColumn(ROW, F.monotonically_increasing_id())
    if isinstance(events.schema["timestamp"].dataType, TimestampType):
        events = events.withColumn("timestamp", F.col("timestamp").cast("double"))
    for name in OPTIONAL:
        if name not in events.columns:
            events = events.withColumn(name, F.lit(None).cast("string"))
    events = events.select(*REQUIRED, *OPTIONAL, ROW)
    # Many conversations per call (one call per conversation costs more than the scoring); a
    # conversation never splits across buckets.
    buckets = max(8, events.count() // BUCKET_MESSAGES + 1)
    events = events.withColumn("_bucket", F.pmod(F.hash("conversation_id"), F.lit(buckets)))
    scored = events.groupBy("_bucket").applyInPandas(
        functools.partial(_score_group, path, per_message), schema=MESSAGE_SCHEMA if per_message else
        CONVERSATION_SCHEMA)
    return scored.orderBy(ROW).drop(ROW)


def spark_session(master: str | None = None) -> Any:
    """A session for the CLI: ``$RISKLINE_SPARK_MASTER`` or all local cores."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # executors run this environment's Python
    builder = SparkSession.builder.appName("riskline").master(master or os.environ.get("RISKLINE_SPARK_MASTER",
                                                                                       "local[*]"))
    return builder.config("spark.sql.session.timeZone", "UTC").config("spark.ui.enabled", "false").getOrCreate()


def read_events_spark(spark: Any, path: str | Path) -> Any:
    """Message events from JSONL, CSV or Parquet, every contract column read as text or native."""
    source = str(path)
    suffix = Path(source).suffix.lower()
    strings = ", ".join(f"{c} string" for c in (*REQUIRED, *OPTIONAL))
    if suffix == ".parquet":
        return spark.read.parquet(source)
    if suffix == ".jsonl":
        return spark.read.schema(strings).json(source)
    if suffix == ".csv":
        return spark.read.schema(strings).option("header", True).option("multiLine", True).csv(source)
    raise InputError(f"{source}: unsupported file type '{Path(source).suffix}' for --engine spark")


def write_single_parquet(frame: Any, output: str | Path) -> None:
    """Write one Parquet file at ``output`` (Spark writes a folder; its one part file is moved into place)."""
    import shutil
    import tempfile

    target = Path(output)
    if target.suffix.lower() != ".parquet":
        raise InputError(f"{target}: --engine spark writes Parquet (name the output .parquet)")
    if not target.parent.is_dir():
        raise InputError(f"{target}: output folder {target.parent} does not exist")
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        frame.coalesce(1).write.mode("overwrite").parquet(str(staging / "out"))
        (part,) = list(_parts(staging / "out"))
        os.replace(part, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _parts(folder: Path) -> Iterator[Path]:
    yield from sorted(folder.glob("part-*.parquet"))
