"""Figures from scores and labels alone: precision-recall cuts, thresholds for a target precision or a
false-alert budget, ROC AUC, average precision, reliability, and bootstrap intervals of the alert rates."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from detection.policy import Thresholds

LEVEL_PRECISION = {"low": 0.5, "medium": 0.8, "high": 0.95, "critical": 0.99}


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


def f_beta(tp: int, fp: int, fn: int, beta: float) -> float:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    denom = beta**2 * precision + recall
    return (1 + beta**2) * precision * recall / denom if denom else 0.0


def alert_rates(tp: int, fp: int, n_pos: int, n_neg: int) -> dict[str, float]:
    """Precision, recall, F0.5 and the false-alert rate from alert counts (``INTERVAL_KEYS``)."""
    return {"precision": tp / (tp + fp) if tp + fp else 0.0, "recall": tp / n_pos if n_pos else 0.0,
            "f0_5": f_beta(tp, fp, n_pos - tp, 0.5), "false_alert_rate": fp / max(n_neg, 1)}


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
    observed = alert_rates(tp, fp, n_pos, n_neg)
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
