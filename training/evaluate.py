"""Evaluation at conversation level: accuracy, earliness, and slices by kind of conversation."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection
from typing import Any, NamedTuple

import numpy as np

from detection.events import EXTORTION_STAGES, STAGES
from detection.model import RiskModel
from detection.policy import Thresholds
from detection.scoring import RiskScore, StepScores, fingerprints, order_events, score_conversations, score_messages
from detection.wording import counted
from training.data import LabelledData, given_folds, offenders
from training.synth.phrases import N_FOLDS

LEVEL_PRECISION = {"low": 0.5, "medium": 0.8, "high": 0.95, "critical": 0.99}
# Shares of negatives allowed to reach a threshold, for the earliness each would buy.
FALSE_ALERT_BUDGETS = (0.01, 0.02, 0.05, 0.1, 0.2)


def at_cuts(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Alerting at each distinct score, highest first: the cuts, the true alerts and all alerts at each
    (a cut takes every row of a tie)."""
    order = np.argsort(-scores, kind="stable")
    ranked = scores[order]
    last_of_tie = np.flatnonzero(np.r_[ranked[1:] != ranked[:-1], True])
    return ranked[last_of_tie], np.cumsum(labels[order])[last_of_tie], last_of_tie + 1


def threshold_for_precision(scores: np.ndarray, labels: np.ndarray, target: float) -> float:
    """The lowest threshold whose alerts reach ``target`` precision (1.0 if none does)."""
    cuts, hits, alerted = at_cuts(scores, labels)
    ok = np.flatnonzero((hits / alerted >= target) & (hits > 0))
    return float(cuts[ok[-1]]) if len(ok) else 1.0


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """The area under the ROC curve: the chance that a positive outscores a negative, a tie counting half
    (scikit-learn's ``roc_auc_score``, which takes seconds to import, a good part of ``riskline evaluate``).
    Needs a positive and a negative."""
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2.0)[inverse]  # from 1, a tie's rows at their mean rank
    n_positive = int(labels.sum())
    return float((ranks[labels == 1].sum() - n_positive * (n_positive + 1) / 2)
                 / (n_positive * (len(labels) - n_positive)))


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """The precision at each cut weighed by the recall it adds (scikit-learn's ``average_precision_score``).
    Needs a positive."""
    _, hits, alerted = at_cuts(scores, labels)
    return float(np.sum(np.diff(hits, prepend=0) / hits[-1] * (hits / alerted)))


def false_alerts_allowed(n_negatives: int, max_rate: float) -> int:
    """How many of ``n_negatives`` may alert within a budget of ``max_rate`` of them."""
    return math.floor(max_rate * n_negatives + 1e-9)


def threshold_for_false_alerts(scores: np.ndarray, labels: np.ndarray, max_rate: float) -> float:
    """The lowest threshold at which at most ``max_rate`` of the negatives alert (0.0 without negatives)."""
    negatives = np.sort(scores[labels == 0])[::-1]
    allowed = false_alerts_allowed(len(negatives), max_rate)
    if allowed >= len(negatives):
        return 0.0
    return float(np.nextafter(negatives[allowed], np.inf))  # just above the first negative too many


def choose_thresholds(scores: np.ndarray, labels: np.ndarray, target_precision: float,
                      max_false_alert_rate: float = 1.0) -> Thresholds:
    """Level thresholds for fixed precisions; ``high`` and ``alert`` at ``target_precision``, raised
    where needed so that at most ``max_false_alert_rate`` of the negatives alert."""
    targets = dict(LEVEL_PRECISION, high=target_precision)
    targets["critical"] = max(targets["critical"], target_precision)
    values: dict[str, float] = {}
    floor = 0.0
    for level in ("low", "medium", "high", "critical"):
        floor = max(floor, threshold_for_precision(scores, labels, targets[level]))
        if level == "high":
            floor = max(floor, threshold_for_false_alerts(scores, labels, max_false_alert_rate))
        values[level] = floor
    return Thresholds(alert=values["high"], **values)


def reliability(scores: np.ndarray, labels: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Reliability curve in equal-width bins, expected calibration error and Brier score."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(scores, edges[1:-1]), 0, bins - 1)
    curve, ece = [], 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            predicted, observed = float(scores[inside].mean()), float(labels[inside].mean())
            curve.append({"bin": b, "predicted": predicted, "observed": observed, "n": int(inside.sum())})
            ece += inside.sum() / len(scores) * abs(predicted - observed)
    brier = float(np.mean((scores - labels) ** 2)) if len(scores) else None
    return {"ece": float(ece), "brier": brier, "curve": curve}


def _binary(tp: int, fp: int, fn: int, beta: float) -> float:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    denom = beta**2 * precision + recall
    return (1 + beta**2) * precision * recall / denom if denom else 0.0


def _rates(tp: int, fp: int, n_pos: int, n_neg: int) -> dict[str, float]:
    """Precision, recall, F0.5 and the false-alert rate from alert counts (``INTERVAL_KEYS``)."""
    return {"precision": tp / (tp + fp) if tp + fp else 0.0, "recall": tp / n_pos if n_pos else 0.0,
            "f0_5": _binary(tp, fp, n_pos - tp, 0.5), "false_alert_rate": fp / max(n_neg, 1)}


INTERVAL_KEYS = ("precision", "recall", "f0_5", "false_alert_rate")


def intervals(labels: np.ndarray, alert: np.ndarray, level: float = 0.95, draws: int = 2000,
              seed: int = 0) -> dict[str, Any]:
    """Intervals for precision, recall, F0.5 and the false-alert rate at the thresholds used.

    Recall and the false-alert rate are binomial shares of the positives and of the negatives:
    each is drawn from its Jeffreys posterior, Beta(hits + 1/2, misses + 1/2), which stays honest
    when there are no errors at all (19 of 19 alerted is not a recall of exactly 1). Precision and
    F0.5 follow from each pair of draws at these numbers of positives and negatives. Seeded, so
    the same data gives the same interval.

    They show how far the figures could move on another sample of the same size and kind, at the
    same thresholds; they say nothing of other kinds of data, nor of the optimism of thresholds
    chosen on these same conversations. Empty without both classes.
    """
    labels, alert = np.asarray(labels), np.asarray(alert, dtype=bool)
    n_pos, n_neg = int((labels == 1).sum()), int((labels == 0).sum())
    if not n_pos or not n_neg:
        return {}
    tp, fp = int((alert & (labels == 1)).sum()), int((alert & (labels == 0)).sum())
    rng = np.random.default_rng(seed)
    recall = rng.beta(tp + 0.5, n_pos - tp + 0.5, draws)
    false_alerts = rng.beta(fp + 0.5, n_neg - fp + 0.5, draws)
    precision = recall * n_pos / (recall * n_pos + false_alerts * n_neg)
    f0_5 = 1.25 * precision * recall / (0.25 * precision + recall)
    tails = (50 * (1 - level), 50 * (1 + level))
    values = {"precision": precision, "recall": recall, "f0_5": f0_5, "false_alert_rate": false_alerts}
    observed = _rates(tp, fp, n_pos, n_neg)
    out: dict[str, Any] = {"level": level, "draws": draws}
    for key in INTERVAL_KEYS:
        low, high = (float(v) for v in np.percentile(values[key], tails))
        # as for a share with no misses (or no hits), the bound reaches the figure itself (Brown, Cai
        # and DasGupta's convention for Jeffreys intervals at 0 and n)
        out[key] = {"low": min(low, observed[key]), "high": max(high, observed[key])}
    return out


def interval_text(metrics: dict[str, Any]) -> str:
    """The intervals as one line of text ("" without them)."""
    found = metrics.get("intervals") or {}
    if not found:
        return ""
    names = {"precision": "precision", "recall": "recall", "f0_5": "F0.5", "false_alert_rate": "false-alert rate"}
    return (f"{found['level']:.0%} intervals (Jeffreys, from {found['draws']} draws): "
            + ", ".join(f"{names[k]} {found[k]['low']:.3f}-{found[k]['high']:.3f}" for k in INTERVAL_KEYS))


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
    rates = _rates(tp, fp, tp + fn, int((y == 0).sum()))
    metrics: dict[str, Any] = {
        "n_conversations": len(ids), "n_positive": int(y.sum()),
        "precision": rates["precision"], "recall": rates["recall"], "f0_5": rates["f0_5"],
        "f1": _binary(tp, fp, fn, 1.0),
        "roc_auc": roc_auc(s, y) if 0 < y.sum() < len(y) else None,
        "pr_auc": average_precision(s, y) if 0 < y.sum() < len(y) else None,
        "false_alert_rate": rates["false_alert_rate"],
    }
    metrics["intervals"] = intervals(y, alert)
    metrics["calibration"] = reliability(s, y)
    metrics.update(_earliness(results, data, thresholds, by_id))
    metrics["latency_weighted_f1"] = metrics["f1"] * metrics.pop("_speed")
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


def suspects_named(model: RiskModel, data: LabelledData, results: list[RiskScore]) -> dict[str, Any]:
    """Of the alerted positives whose offender the data shows (``offenders``), the share whose suspect
    is the offender at the alert (as the intervention raised there names them) and at the end
    (``score``'s ``suspect_id``); None without a known offender or alerts."""
    judged = suspect_outcomes(model, data, results)
    n = len(judged)
    return {"suspect_right_at_alert": sum(j.at_alert for j in judged.values()) / n if n else None,
            "suspect_right": sum(j.at_end for j in judged.values()) / n if n else None,
            "n_suspects_judged": n}


def peak_stages_named(data: LabelledData, results: list[RiskScore]) -> dict[str, Any]:
    """Of the alerted positives whose messages' stages are annotated (a risk stage on at least one), the share
    whose ``peak_stage`` is the most severe stage annotated (``peak_stage_right``) and the share named a less
    severe one (``peak_stage_under``: the worst of it read at under one half); None without such annotations
    or alerts. What a reviewer reads of an alert beside its level."""
    worst: dict[str, int] = {}
    for event, stage in zip(data.events, data.stages, strict=True):
        if stage not in (None, "none"):
            worst[event.conversation_id] = max(worst.get(event.conversation_id, 0), STAGES.index(stage))
    judged = [(STAGES.index(r.peak_stage), worst[r.conversation_id]) for r in results
              if r.alert and data.labels[r.conversation_id] and r.conversation_id in worst]
    n = len(judged)
    return {"peak_stage_right": sum(named == truth for named, truth in judged) / n if n else None,
            "peak_stage_under": sum(named < truth for named, truth in judged) / n if n else None,
            "n_peak_stages_judged": n}


OFFENDER_KEYS = (
    "offender_precision", "offender_recall", "offender_f0_5", "n_offenders", "n_offenders_named", "n_positive_left_out")


def offenders_identified(data: LabelledData, results: list[RiskScore]) -> dict[str, Any]:
    """Offenders found, by person rather than by conversation, as PAN 2012's predator identification
    (its problem 1) measures them: the people named suspect of an alerted conversation, each once however
    many conversations name them, against the offenders of the positive conversations (``offenders``: as
    the data names them, ``offender_id``, or as stage annotations show them). Precision is the share of
    those named who are offenders, recall the share of offenders named; F0.5 weighs precision, as PAN's
    ranking did. A positive conversation whose offender is not known (stages on both sides' messages
    alike) is left out, its suspect neither right nor wrong (``n_positive_left_out``); None where no
    offender is known (labels alone)."""
    named = offenders(data)
    positives = [c for c, y in data.labels.items() if y]
    known = [c for c in positives if c in named]
    if not known:
        return dict.fromkeys(OFFENDER_KEYS)
    left_out = set(positives) - set(known)
    truth = {named[c] for c in known}
    flagged = {r.suspect_id for r in results
               if r.alert and r.suspect_id is not None and r.conversation_id not in left_out}
    rates = _rates(len(truth & flagged), len(flagged - truth), len(truth), 0)
    return {"offender_precision": rates["precision"], "offender_recall": rates["recall"],
            "offender_f0_5": rates["f0_5"], "n_offenders": len(truth), "n_offenders_named": len(flagged),
            "n_positive_left_out": len(left_out)}


class SuspectOutcome(NamedTuple):
    """Whether the suspect was the offender at the alert and at the end, and the suspect's share of
    the risk evidence at the alert (``ConversationState.suspect_share``)."""

    at_alert: bool
    at_end: bool
    share_at_alert: float | None


def suspect_outcomes(model: RiskModel, data: LabelledData, results: list[RiskScore]) -> dict[str, SuspectOutcome]:
    """For each alerted positive whose offender the data shows: how the suspect was named."""
    named = offenders(data)
    alerted = {r.conversation_id: r for r in results if r.alert and r.conversation_id in named}
    position: dict[str, int] = defaultdict(int)
    prefixes = []
    for event in order_events(data.subset(set(alerted)).events):  # the alert index counts in this order
        if position[event.conversation_id] <= (alerted[event.conversation_id].alert_index or 0):
            prefixes.append(event)
        position[event.conversation_id] += 1
    at_alert = score_messages(model, prefixes)[1]
    return {c: SuspectOutcome(at_alert[c].suspect_id == named[c], r.suspect_id == named[c],
                              at_alert[c].suspect_share) for c, r in alerted.items()}


def evaluate_model(model: RiskModel, data: LabelledData) -> dict[str, Any]:
    """Score ``data`` with ``model`` (the real scoring core) and compute every metric."""
    return score_and_evaluate(model, data)[2]
