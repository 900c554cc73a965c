"""Evaluation at conversation level: accuracy, earliness, and slices by kind of conversation (the figures
from scores alone are in ``curves``, whom and what alerts name in ``attribution``)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection
from typing import Any

import numpy as np

from detection.events import EXTORTION_STAGES
from detection.messages import fingerprints
from detection.model import RiskModel
from detection.policy import Thresholds
from detection.scoring import RiskScore, StepScores, score_conversations
from detection.wording import counted
from training.attribution import offenders_identified, peak_stages_named, suspects_named
from training.curves import (
    alert_rates,
    average_precision,
    f_beta,
    intervals,
    reliability,
    roc_auc,
    threshold_for_false_alerts,
)
from training.data import LabelledData, given_folds
from training.synth.phrases import N_FOLDS

# Shares of negatives allowed to reach a threshold, for the earliness each would buy.
FALSE_ALERT_BUDGETS = (0.01, 0.02, 0.05, 0.1, 0.2)


def latency_penalty(k: np.ndarray, median_length: float) -> np.ndarray:
    """-1 + 2/(1+exp(-p(k-1))), p chosen so the penalty is 0.5 at the median conversation length."""
    p = math.log(3) / max(median_length - 1, 1.0)
    return -1 + 2 / (1 + np.exp(-p * (k - 1)))


def evaluate_results(results: list[RiskScore], data: LabelledData, thresholds: Thresholds) -> dict[str, Any]:
    """Metrics for scored conversations against their labels."""
    by_id = {r.conversation_id: r for r in results}
    ids = sorted(by_id)
    y = np.array([data.labels[c] for c in ids])
    s = np.array([by_id[c].risk_score for c in ids])
    alert = s >= thresholds.alert
    tp, fp, fn = int((alert & (y == 1)).sum()), int((alert & (y == 0)).sum()), int((~alert & (y == 1)).sum())
    n_pos, n_neg = tp + fn, int((y == 0).sum())
    rates = alert_rates(tp, fp, n_pos, n_neg)
    # without positives (a set of hard negatives alone) recall and the F-scores are not measured, nor precision
    # where nothing alerted; without negatives, the false-alert rate: none (shown "-"), not 0
    metrics: dict[str, Any] = {
        "n_conversations": len(ids), "n_positive": int(y.sum()),
        "precision": rates["precision"] if n_pos or fp else None, "recall": rates["recall"] if n_pos else None,
        "f0_5": rates["f0_5"] if n_pos else None, "f1": f_beta(tp, fp, fn, 1.0) if n_pos else None,
        "roc_auc": roc_auc(s, y) if 0 < y.sum() < len(y) else None,
        "pr_auc": average_precision(s, y) if 0 < y.sum() < len(y) else None,
        "false_alert_rate": rates["false_alert_rate"] if n_neg else None,
    }
    metrics["intervals"] = intervals(y, alert)
    metrics["calibration"] = reliability(s, y)
    metrics.update(_earliness(results, data, thresholds, by_id))
    speed = metrics.pop("_speed")
    metrics["latency_weighted_f1"] = None if metrics["f1"] is None else metrics["f1"] * speed
    metrics["slices"] = _slices(ids, y, alert, data, {r.conversation_id: r.n_messages for r in results})
    return metrics


def first_threats(data: LabelledData) -> tuple[dict[str, int], set[str]]:
    """Where each conversation's first threat or payment demand is (its 0-based message position,
    for conversations that have one), and which conversations had another risk stage before it."""
    first: dict[str, int] = {}
    groomed: set[str] = set()
    position: dict[str, int] = defaultdict(int)
    for event, stage in zip(data.events, data.stages, strict=True):
        cid = event.conversation_id
        if stage in EXTORTION_STAGES and cid not in first:
            first[cid] = position[cid]
        elif stage not in (None, "none") and cid not in first:
            groomed.add(cid)
        position[cid] += 1
    return first, groomed


def _earliness(results: list[RiskScore], data: LabelledData, thresholds: Thresholds,
               by_id: dict[str, RiskScore]) -> dict[str, Any]:
    lengths = np.array([r.n_messages for r in results])
    first_late, groomed = first_threats(data)  # groomed: some earlier risk stage came before the threat
    alerted_pos = [r for r in results if data.labels[r.conversation_id] and r.risk_score >= thresholds.alert]
    k = np.array([r.alert_index + 1 for r in alerted_pos if r.alert_index is not None], dtype=float)
    median_length = float(np.median(lengths)) if len(lengths) else 1.0
    speed = float(1 - np.median(latency_penalty(k, median_length))) if len(k) else 0.0
    with_late = [c for c, y in data.labels.items() if y and c in first_late]
    alert_at = {c: by_id[c].alert_index for c in with_late}
    before = {c for c in with_late if (index := alert_at[c]) is not None and index < first_late[c]}
    at = {c for c in with_late if alert_at[c] == first_late[c]}
    after = {c: index for c in with_late if (index := alert_at[c]) is not None and index > first_late[c]}
    with_grooming = groomed & set(with_late)

    def share(found: Collection[str]) -> float | None:
        return len(found) / len(with_late) if with_late else None

    # How late the late ones are: messages and minutes from the first threat to the alert
    times = _message_times(data, set(after))
    lag = [index - first_late[c] for c, index in after.items()]
    minutes = [(times[c][index] - times[c][first_late[c]]) / 60 for c, index in after.items()]
    return {
        "median_messages_to_alert": float(np.median(k)) if len(k) else None,
        "alerted_before_threat": share(before),
        # Extortion that opens with the threat cannot be warned of before it: the share among the others
        "alerted_before_threat_groomed": (len(before & with_grooming) / len(with_grooming)
                                          if with_grooming else None),
        "alerted_at_threat": share(at), "alerted_after_threat": share(after),
        "median_messages_after_threat": float(np.median(lag)) if lag else None,
        "median_minutes_after_threat": float(np.median(minutes)) if minutes else None,
        "n_with_threat_stage": len(with_late), "n_groomed_before_threat": len(with_grooming),
        "median_conversation_length": median_length, "_speed": speed,
    }


def _message_times(data: LabelledData, conversations: set[str]) -> dict[str, list[float]]:
    """The send times of the named conversations' messages, in conversation order."""
    times: dict[str, list[float]] = defaultdict(list)
    for event in data.events:
        if event.conversation_id in conversations:
            times[event.conversation_id].append(event.timestamp)
    return times


def length_group(n_messages: int) -> str:
    return "1-10" if n_messages <= 10 else "11-20" if n_messages <= 20 else "21+"


def _slices(ids: list[str], y: np.ndarray, alert: np.ndarray, data: LabelledData,
            lengths: dict[str, int]) -> dict[str, Any]:
    """Recall for each kind of positive and false-alert rate for each kind of negative, where known."""
    groups: dict[tuple[str, str, int], list[bool]] = defaultdict(list)
    for cid, label, fired in zip(ids, y, alert, strict=True):
        meta = {**data.meta.get(cid, {}), "length": length_group(lengths[cid])}
        for key in ("scenario", "speed", "obfuscation", "length"):
            if key in meta:
                groups[(key, str(meta[key]), int(label))].append(bool(fired))
    out: dict[str, Any] = {}
    for (key, value, label), fired_list in sorted(groups.items()):
        name = "recall" if label else "false_alert_rate"
        out.setdefault(f"{name}_by_{key}", {})[value] = {"rate": sum(fired_list) / len(fired_list),
                                                         "n": len(fired_list)}
    return out


def earliness_by_budget(steps: StepScores, data: LabelledData,
                       budgets: tuple[float, ...] = FALSE_ALERT_BUDGETS) -> dict[str, dict[str, Any]]:
    """What a lower threshold buys: for each budget, the lowest threshold that at most that share of
    the negatives ever reach, and the share of positives that reach it before their first threat
    (all, and those groomed first) or at all. A softer action than the alert (a safety nudge) can
    afford a larger budget; this is the trade it makes. Empty without both classes."""
    cids = np.asarray(steps.conversation_id)
    if not len(cids):
        return {}
    order = np.argsort(cids, kind="stable")
    ids, starts = np.unique(cids[order], return_index=True)
    chunks = dict(zip(ids.tolist(), np.split(steps.risk_score[order], starts[1:]), strict=True))
    negatives = np.array([chunks[c].max() for c, y in data.labels.items() if not y and c in chunks])
    positives = [c for c, y in data.labels.items() if y and c in chunks]
    if not len(negatives) or not positives:
        return {}
    first, groomed = first_threats(data)
    with_threat = [c for c in positives if c in first]
    with_grooming = groomed & set(with_threat)
    out: dict[str, dict[str, Any]] = {}
    for budget in budgets:
        threshold = threshold_for_false_alerts(negatives, np.zeros(len(negatives)), budget)
        early = {c for c in with_threat if first[c] > 0 and chunks[c][:first[c]].max() >= threshold}
        out[f"{budget:g}"] = {
            "threshold": threshold,
            "false_alert_rate": float(np.mean(negatives >= threshold)),
            "recall": float(np.mean([chunks[c].max() >= threshold for c in positives])),
            "alerted_before_threat": len(early) / len(with_threat) if with_threat else None,
            "alerted_before_threat_groomed": len(early & with_grooming) / len(with_grooming) if with_grooming else None,
        }
    return out


def score_and_evaluate(model: RiskModel, data: LabelledData) -> tuple[list[RiskScore], StepScores, dict[str, Any]]:
    """Score ``data`` with ``model`` (the real scoring core); every metric, with earliness by budget
    and who is named the suspect."""
    results, steps = score_conversations(model, data.events)
    metrics = evaluate_results(results, data, model.thresholds)
    metrics["earliness_by_false_alert_budget"] = earliness_by_budget(steps, data)
    metrics.update(suspects_named(model, data, results))
    metrics.update(offenders_identified(data, results))
    metrics.update(peak_stages_named(data, results))
    seen = model.in_training(fingerprints(data.events))
    metrics["n_in_training"] = None if seen is None else len(seen)
    metrics["n_in_family"] = in_family(model, data)
    return results, steps, metrics


def generated_folds_trained_on(model: RiskModel) -> set[str] | None:
    """The synthetic generator's folds (``riskline synth``'s ``fold`` column: each a fixed share of its phrase
    families, replies and negative kinds, the same at any seed) that ``model`` was fitted on, or None where that is
    not known (weights trained before this was kept, then rethresholded)."""
    if (folds := model.metrics.get("generated_folds_trained_on")) is not None:
        return {str(f) for f in folds}
    holdout = model.metrics.get("holdout")  # trained before 2026-12-04 and refitted on all: every fold there was
    if not isinstance(holdout, str) or "weights from" in holdout:
        return None
    return {str(k) for k in range(N_FOLDS)} if holdout.startswith("held-out fold") else set()


def in_family(model: RiskModel, data: LabelledData) -> int | None:
    """How many of ``data``'s conversations are the generator's in a fold ``model`` was fitted on: in phrase families,
    replies and negative kinds it learned, whatever the seed, so that figures on them flatter it. 0 where none
    is, None where that is not known."""
    if (folds := generated_folds_trained_on(model)) is None:
        return None
    return sum(fold in folds for fold in given_folds(data).values())


def data_warnings(metrics: dict[str, Any]) -> list[str]:
    """The warnings on what figures measured on these conversations say (``in_training_warning``,
    ``in_family_warning``), those that apply, as ``evaluate`` prints them and its report heads with them."""
    return [w for w in (in_training_warning(metrics), in_family_warning(metrics)) if w]


def in_family_warning(metrics: dict[str, Any]) -> str | None:
    """A line saying how many of the conversations measured are in the generator's families the model was
    trained on (``n_in_family``), where any: then the figures say how it does on wording like its training data's."""
    if not (n := metrics.get("n_in_family")):
        return None
    return (f"warning: {n} of the {counted(metrics['n_conversations'], 'conversation')} "
            f"{'is' if n == 1 else 'are'} in phrase families of the synthetic generator (riskline synth) that this "
            "model was trained on (the same at any seed): these figures say how it does on wording like its "
            "training data's, not on text written otherwise; for unseen families see riskline train --cv K, and "
            "measure on labelled conversations of your own")


def in_training_warning(metrics: dict[str, Any]) -> str | None:
    """A line saying how many of the conversations measured the model was trained on (``n_in_training``), where
    any: then the figures say how well it fits its training data rather than how it does on new conversations."""
    if not (seen := metrics.get("n_in_training")):
        return None
    return (f"warning: {seen} of the {counted(metrics['n_conversations'], 'conversation')} "
            f"{'is one' if seen == 1 else 'are ones'} this model was trained on (fitted, calibrated or thresholded "
            "on): these figures say how well it fits its training data, not how it does on new conversations; "
            "measure on conversations it has not seen (evaluate --unseen-only leaves these out)")


def evaluate_model(model: RiskModel, data: LabelledData) -> dict[str, Any]:
    """Score ``data`` with ``model`` (the real scoring core) and compute every metric."""
    return score_and_evaluate(model, data)[2]
