"""Batch engine: a file of message events in, a file of scored conversations (or messages) out."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detection.events import STAGES, MessageEvent
from detection.inputs import InputError, gzipped
from detection.model import RiskModel
from detection.policy import LEVELS, EscalationPolicy
from detection.readers import Reject, read_events
from detection.scoring import RiskScore, StepScores, score_conversations
from detection.writers import atomic_path, open_text, utf8_json, write_rows

CONVERSATION_COLUMNS: tuple[str, ...] = tuple(RiskScore.__dataclass_fields__)
MESSAGE_COLUMNS: tuple[str, ...] = ("conversation_id", "message_id", "index", "risk_score", "stage",
                                    *(f"p_{s}" for s in STAGES))


def arrow_schema(per_message: bool) -> Any:
    """The Parquet schema of ``score`` output, fixed so that every writer produces the same file."""
    import pyarrow as pa

    if per_message:
        return pa.schema([("conversation_id", pa.string()), ("message_id", pa.string()), ("index", pa.int64()),
                          ("risk_score", pa.float64()), ("stage", pa.string()),
                          *((f"p_{s}", pa.float64()) for s in STAGES)])
    return pa.schema([("conversation_id", pa.string()), ("n_messages", pa.int64()), ("risk_score", pa.float64()),
                      ("risk_level", pa.string()), ("alert", pa.bool_()), ("alert_index", pa.int64()),
                      ("alert_message_id", pa.string()), ("peak_stage", pa.string()), ("suspect_id", pa.string()),
                      ("evidence_message_ids", pa.list_(pa.string())), ("model_version", pa.string()),
                      ("suspect_share", pa.float64()), ("other_language", pa.bool_())])


@dataclass(frozen=True)
class BatchResult:
    """What a batch run did."""

    n_messages: int
    n_conversations: int
    n_rejected: int
    n_alerts: int
    results: list[RiskScore]
    events: list[MessageEvent]
    n_other_language: int = 0  # conversations that read as another language than English (``detection.language``)
    interventions: dict[str, int] | None = None  # those replayed (``--interventions``), counted by level


def by_level(counts: Mapping[str, int]) -> dict[str, int]:
    """Counts of interventions by level (a ``Counter`` of their levels), in the order of severity."""
    return {level: counts[level] for level in LEVELS if counts.get(level)}


def levels_of(made: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """``by_level`` of interventions made."""
    return by_level(Counter(str(one["level"]) for one in made))


def step_rows(steps: StepScores) -> list[dict[str, object]]:
    """One output row per scored message."""
    stages = steps.stage
    proba = steps.stage_proba.round(6).tolist()
    scores = steps.risk_score.tolist()
    indexes = steps.index.tolist()
    return [
        {"conversation_id": steps.conversation_id[i], "message_id": steps.message_id[i], "index": indexes[i],
         "risk_score": scores[i], "stage": stages[i], **{f"p_{s}": p for s, p in zip(STAGES, proba[i], strict=True)}}
        for i in range(len(steps))
    ]


def write_rejects(path: str | Path, rejects: Iterable[Reject]) -> None:
    """Write rejected rows with their place and reason, as JSON Lines (gzipped for a name ending in .gz).

    Strict JSON, which any reader takes: a row's NaN or infinite number (JSON Lines input may hold
    them, as Python writes them) is written as the text "NaN", "Infinity" or "-Infinity"."""
    with atomic_path(path) as tmp, open_text(tmp, gzipped(path)) as handle:
        for reject in rejects:
            handle.write(utf8_json(_finite(reject.to_dict()), default=str, allow_nan=False) + "\n")


def _finite(value: object) -> object:
    """``value`` with every NaN or infinite float, however deeply nested, as the text JSON would spell it."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Mapping):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def rejects_error(rejects: list[Reject]) -> InputError:
    """The error for bad rows when they are not being set aside: the first one, and how many more."""
    return bad_rows_error(rejects[0], len(rejects))


def bad_rows_error(first: Reject, count: int) -> InputError:
    """``rejects_error`` given only the first bad row and how many there are."""
    more = (f" (and {count - 1} more bad rows; use --errors FILE to set them aside)" if count > 1
            else " (use --errors FILE to set bad rows aside)")
    return InputError(first.describe() + more)


def score_file(model: RiskModel, input_path: str | Path, output_path: str | Path, *,
               per_message: bool = False, errors_path: str | Path | None = None,
               interventions_path: str | Path | None = None, policy: EscalationPolicy | None = None) -> BatchResult:
    """Score every conversation of a file; bad rows abort (``InputError``) unless ``errors_path`` is set. With
    ``interventions_path``, also write the interventions the service would raise under ``policy`` (None: the
    default policy) on these messages (``replay.score_and_replay``)."""
    read = read_events(input_path)
    if read.rejects and errors_path is None:
        raise rejects_error(read.rejects)
    made: list[dict[str, Any]] | None = None
    if interventions_path is None:
        results, steps = score_conversations(model, read.events)
    else:
        from detection.replay import score_and_replay

        results, steps, made = score_and_replay(model, read.events, policy or EscalationPolicy.load(None))
    if per_message:
        write_rows(output_path, step_rows(steps), MESSAGE_COLUMNS, arrow_schema(True), for_people=True)
    else:
        write_rows(output_path, [{name: getattr(r, name) for name in CONVERSATION_COLUMNS} for r in results],
                   CONVERSATION_COLUMNS, arrow_schema(False), for_people=True)
    if errors_path is not None:
        write_rejects(errors_path, read.rejects)
    if interventions_path is not None and made is not None:  # (the one goes with the other)
        from detection.replay import write_interventions

        write_interventions(interventions_path, made)
    return BatchResult(len(read.events), len(results), len(read.rejects), sum(r.alert for r in results), results,
                       read.events, sum(r.other_language for r in results),
                       None if made is None else levels_of(made))
