"""Spark engine: the shared scoring core applied per conversation with ``applyInPandas``.

``score_spark`` takes and returns Spark DataFrames. Each conversation is scored by the same
``score_conversations`` the local engine uses, with messages in the same order (timestamp, then
input position), so the answers are identical; rows come out in order of each conversation's first
appearance in the input, as locally (one row per message: each conversation's in its order).
Executors load the model once per Python worker, from a model directory every executor can read (on
a cluster: a shared path; MLflow URIs are resolved on the driver).

Rows are checked first, on the executors, by the local reader's own code (``spark_rows``), so
``--errors`` works here too. Under a policy, each conversation's scoring also replays the interventions the
service would raise on it (``replay.score_and_replay``, as the local engine's ``--interventions``), carried out
in a column of their JSON (``INTERVENTIONS``).
"""

from __future__ import annotations

import functools
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from detection.batch import MESSAGE_COLUMNS, by_level, step_rows
from detection.held import Held
from detection.inputs import (
    InputError,
)
from detection.messages import MEDIA, Messages
from detection.model import RiskModel
from detection.model_files import load_model, resolve_model_dir
from detection.policy import LEVELS, EscalationPolicy
from detection.replay import score_and_replay, write_interventions
from detection.scoring import score_conversations
from detection.spark_rows import ROW, check_events_spark
from detection.spark_session import jvm_ended_if_cut_short
from detection.writers import check_writable, utf8_json, write_failure_said

BUCKET_MESSAGES = 50_000
CONVERSATION_SCHEMA = (
    "conversation_id string, n_messages long, risk_score double, risk_level string, alert boolean, "
    "alert_index long, alert_message_id string, peak_stage string, suspect_id string, "
    f"evidence_message_ids array<string>, model_version string, suspect_share double, "
    f"other_language boolean, {ROW} long")
MESSAGE_SCHEMA = ("conversation_id string, message_id string, index long, risk_score double, stage string, "
                  + ", ".join(f"{c} double" for c in MESSAGE_COLUMNS[5:]) + f", {ROW} long")
INTERVENTIONS = "interventions"  # under a policy: the JSON of those a row's conversation (message) raised


@functools.lru_cache(maxsize=4)
def _model(path: str) -> RiskModel:
    return load_model(path)


def _score_group(model_path: str, per_message: bool, policy: EscalationPolicy | None,
                 frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.sort_values(ROW, kind="stable")
    # checked already (SparkCheck.events): the values only need unboxing, a missing one being NaN or None
    messages = Messages(frame["conversation_id"].tolist(), frame["message_id"].tolist(), frame["sender_id"].tolist(),
                        frame["timestamp"].to_numpy(dtype="float64"), frame["text"].tolist(),
                        frame["attachment"].isin(sorted(MEDIA)).to_numpy())
    if policy is None:
        results, steps = score_conversations(_model(model_path), messages)
    else:
        results, steps, made = score_and_replay(_model(model_path), messages, policy)
        raised: dict[tuple[str, ...], list[str]] = {}
        for one in made:  # at the message that raised it, or its conversation's row
            where = (one["conversation_id"], one["trigger_message_id"]) if per_message else (one["conversation_id"],)
            raised.setdefault(where, []).append(utf8_json(one))
    first = frame.groupby("conversation_id")[ROW].min().to_dict()  # the group holds whole conversations
    if per_message:  # by its conversation's first row, then (``score_checked_spark``) its place in it, as locally
        rows = step_rows(steps)
        out = [{**row, ROW: int(first[str(row["conversation_id"])])} for row in rows]
        keys: list[tuple[str, ...]] = [(str(row["conversation_id"]), str(row["message_id"])) for row in rows]
    else:
        out = [{**{k: getattr(r, k) for k in r.__dataclass_fields__}, ROW: int(first[r.conversation_id])}
               for r in results]
        keys = [(r.conversation_id,) for r in results]
    if policy is not None:
        for row, key in zip(out, keys, strict=True):
            row[INTERVENTIONS] = raised.get(key, [])
    return pd.DataFrame(out)


def model_path_spark(model: str | None) -> str:
    """The model directory executors read (on a cluster: a shared path; MLflow URIs resolve here), loaded
    once on the driver so that a bad model fails here, with a clear message, before any executor does."""
    return spark_model(model)[0]


def spark_model(model: str | None) -> tuple[str, RiskModel]:
    """``model_path_spark``'s directory and the model loaded from it on the driver (its thresholds, for what the
    command says of a run)."""
    path = str(resolve_model_dir(model))
    return path, load_model(path)


def score_checked_spark(events: Any, model_path: str, per_message: bool = False,
                        policy: EscalationPolicy | None = None) -> Any:
    """Score ``SparkCheck.events``: one row per conversation (or per message), in the local engine's order.
    Under ``policy``, each row also holds (``INTERVENTIONS``) the JSON of the interventions the service would raise
    at it: each conversation's at its row, or at the message that raised each (``spark_interventions`` reads them
    out)."""
    from pyspark.sql import functions as F

    # Many conversations per call (one call per conversation costs more than the scoring); a
    # conversation never splits across buckets.
    buckets = max(8, events.count() // BUCKET_MESSAGES + 1)
    events = events.withColumn("_bucket", F.pmod(F.hash("conversation_id"), F.lit(buckets)))

    def score(frame: pd.DataFrame) -> pd.DataFrame:  # a plain function: Spark reads its type hints
        return _score_group(model_path, per_message, policy, frame)

    schema = MESSAGE_SCHEMA if per_message else CONVERSATION_SCHEMA
    if policy is not None:
        schema += f", {INTERVENTIONS} array<string>"
    scored = events.groupBy("_bucket").applyInPandas(score, schema=schema)
    return scored.orderBy(ROW, *(["index"] if per_message else [])).drop(ROW)


def spark_interventions(scored: Any) -> Iterator[dict[str, Any]]:
    """The interventions of ``score_checked_spark``'s rows under a policy, in the order the local engine gives them
    (``replay.in_order``: sorted by Spark, then brought here a partition at a time, so that the driver holds few
    whatever the input's size)."""
    import json

    from pyspark.sql import functions as F

    one = F.col("one")
    found = (scored.select(F.explode(INTERVENTIONS).alias("one"))
             .orderBy(F.get_json_object(one, "$.created_at"), F.get_json_object(one, "$.conversation_id"),
                      F.array_position(F.array(*map(F.lit, LEVELS)), F.get_json_object(one, "$.level"))))
    for row in found.toLocalIterator():
        yield json.loads(row["one"])


def write_spark_interventions(scored: Any, path: str | Path) -> dict[str, int]:
    """``spark_interventions`` written to ``path`` as the local engine writes them (``replay.write_interventions``),
    counted by level as they go (``batch.by_level``), held nowhere."""
    levels: Counter[str] = Counter()

    def tallied() -> Iterator[dict[str, Any]]:
        for one in spark_interventions(scored):
            levels[str(one["level"])] += 1
            yield one

    write_interventions(path, tallied())
    return by_level(levels)


def score_spark(events: Any, model: str | None = None, per_message: bool = False, interventions: bool = False,
                policy: EscalationPolicy | str | Path | None = None) -> Any:
    """Score a DataFrame of message events: one row per conversation (or per message), in the local engine's order
    (conversations by first appearance in the input, each one's messages in its order: time, then input).

    With ``interventions``, each row also holds, in an ``interventions`` column, the JSON of the interventions
    the service would raise under ``policy`` (an ``EscalationPolicy``, a policy YAML file, or None for the default)
    on these messages (``detection.replay_interventions``): a conversation's at its row, or each at the message
    that raised it; ``spark_interventions`` gives them in the order raised.

    ``events`` needs the contract's columns; others are ignored. From ``read_events_spark`` it keeps
    each row's place in the file, which breaks timestamp ties exactly as the local engine does and
    names bad rows. A bad row raises ``InputError`` naming the first; to set bad rows aside, use
    ``check_events_spark`` and ``score_checked_spark``. The result is computed here and held by Spark
    (``localCheckpoint``) for as long as the returned DataFrame is in use.
    """
    path = model_path_spark(model)
    escalation = None
    if interventions:
        escalation = policy if isinstance(policy, EscalationPolicy) else EscalationPolicy.load(policy)
    elif policy is not None:
        raise ValueError("policy: the policy of the interventions, which were not asked for (interventions=True)")
    check = check_events_spark(events)
    try:
        if error := check.error():
            raise error
        # computed here, so that the checked rows, which the caller has no handle on, are not left cached
        return score_checked_spark(check.events, path, per_message, escalation).localCheckpoint()
    finally:
        check.unpersist()


def write_single_parquet(frame: Any, output: str | Path) -> None:
    """Write one Parquet file at ``output`` (Spark writes a folder; its one part file is moved into place)."""
    target = Path(output)
    if target.suffix.lower() != ".parquet":
        raise InputError(f"{target}: --engine spark writes Parquet (name the output .parquet)")
    check_writable(target)
    try:
        with Held(target.parent, f".{target.name}.", folder=True, private=True) as staging:
            with jvm_ended_if_cut_short():  # before the staging folder goes: the JVM would write on into it
                frame.coalesce(1).write.mode("overwrite").parquet(str(staging / "out"))
            (part,) = list(_parts(staging / "out"))
            os.replace(part, target)
    except Exception as exc:  # Spark's Java IOException arrives as a Py4JJavaError, its reason in the text
        if (reason := write_failure_said(str(exc))) is None:
            raise
        raise InputError(f"{target}: could not be written ({reason}); nothing was written there") from None


def output_counts(output: str | Path, per_message: bool, alert: float) -> tuple[int, int, int]:
    """What ``riskline score`` says of a run, read back from its Parquet ``output``: the conversations, those that
    alerted and those that read as another language than English. An output of one row per message holds no
    language judgement (0 then), and a conversation alerted where any of its messages scored ``alert`` or more,
    as ``scoring`` decides it."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(output, columns=["conversation_id", "risk_score"] if per_message
                          else ["alert", "other_language"])
    if not per_message:
        alerts, other = (int(pc.sum(table[name]).as_py() or 0) for name in ("alert", "other_language"))
        return table.num_rows, alerts, other
    ids = table["conversation_id"]
    alerted = pc.filter(ids, pc.greater_equal(table["risk_score"], alert))
    return len(pc.unique(ids)), len(pc.unique(alerted)), 0


def _parts(folder: Path) -> Iterator[Path]:
    yield from sorted(folder.glob("part-*.parquet"))
