"""Calibration and thresholds, chosen on held-out conversations: each path's Platt scaling, thresholds for a
target precision within a false-alert budget, and how far those choices carry to conversations they never saw."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from detection.model import RiskModel
from detection.policy import Thresholds
from detection.scoring import StepScores, score_conversations, score_messages
from training.config import TrainConfig
from training.curves import choose_thresholds
from training.data import LabelledData
from training.evaluate import evaluate_results, score_and_evaluate


def calibrate(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Platt scaling (a, b) of one path's logit, fitted on held-out conversations' peak logits.

    The map is increasing, so which message first crosses a threshold on that path does not
    change; only what the numbers mean does. Falls back to (1, 0) when the fit is not increasing
    or the labels are all one class.
    """
    if len(set(labels.tolist())) < 2:
        return 1.0, 0.0
    clf = LogisticRegression(C=1.0, max_iter=1000)
    clf.fit(np.asarray(logits, dtype=np.float64).reshape(-1, 1), labels)
    a, b = float(clf.coef_[0, 0]), float(clf.intercept_[0])
    return (a, b) if a > 0 else (1.0, 0.0)


@dataclass(frozen=True)
class Calibration:
    """Platt scaling of the escalation path and of the text path (None without one)."""

    escalation: tuple[float, float] = (1.0, 0.0)
    text: tuple[float, float] | None = None


def _peaks(steps: StepScores, values: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Each conversation's largest of ``values`` (one per step), conversations in sorted order."""
    ids, rows = np.unique(np.asarray(steps.conversation_id), return_inverse=True)
    out = np.full(len(ids), -np.inf)
    np.maximum.at(out, rows, values)
    return ids.tolist(), out


def current_calibration(model: RiskModel) -> Calibration:
    """The calibration ``model`` carries now (identity for a model just fitted)."""
    conv = model.conversation_model
    return Calibration(conv.calibration, conv.text_path.calibration if conv.text_path else None)


def calibrated(model: RiskModel, calibration: Calibration) -> RiskModel:
    conv = model.conversation_model
    text_path = conv.text_path
    if text_path is not None and calibration.text is not None:
        text_path = replace(text_path, calibration=calibration.text)
    return replace(model, conversation_model=replace(conv, calibration=calibration.escalation, text_path=text_path))


@dataclass(frozen=True)
class Measured:
    """A model fitted on a training part, calibrated and thresholded on a held-out part, and its figures."""

    model: RiskModel
    calibration: Calibration
    metrics: dict[str, Any]


@dataclass(frozen=True)
class HeldOut:
    """A held-out part as the model that did not train on it reads it (``read_held_out``): what choosing a
    calibration and thresholds on it needs, read once however many choices it takes part in."""

    model: RiskModel
    steps: StepScores
    labels: np.ndarray  # per conversation, in the order of the peaks below
    escalation: np.ndarray  # each conversation's highest escalation logit
    text: np.ndarray | None  # each conversation's highest text-path logit, where the model has a text path


def read_held_out(model: RiskModel, part: LabelledData) -> HeldOut:
    """``part`` scored by ``model``, with each conversation's label and peak logits."""
    steps, _ = score_messages(model, part.events)  # calibration changes neither evidence nor running features
    conv = model.conversation_model
    ids, escalation = _peaks(steps, conv.escalation_logit(steps.features))
    text = None if conv.text_path is None else _peaks(steps, conv.text_path.logit(steps.features))[1]
    return HeldOut(model, steps, np.array([part.labels[c] for c in ids]), escalation, text)


def choose_on(parts: Sequence[HeldOut], config: TrainConfig) -> tuple[Calibration | None, Thresholds]:
    """``choose_pooled`` on parts already read (``read_held_out``)."""
    y = np.concatenate([p.labels for p in parts])
    calibration = None
    if config.calibrate:
        texts = [p.text for p in parts if p.text is not None]
        calibration = Calibration(calibrate(np.concatenate([p.escalation for p in parts]), y),
                                  calibrate(np.concatenate(texts), y) if len(texts) == len(parts) else None)
    peaks = [_peaks(p.steps, (p.model if calibration is None else calibrated(p.model, calibration))
                    .conversation_model.predict(p.steps.features))[1] for p in parts]
    return calibration, choose_thresholds(np.concatenate(peaks), y, config.target_precision,
                                          config.max_false_alert_rate)


def choose_pooled(scored: Sequence[tuple[RiskModel, LabelledData]],
                  config: TrainConfig) -> tuple[Calibration | None, Thresholds]:
    """Calibration and thresholds chosen on held-out conversations in one or more parts at once, each
    part scored by its own model (one that did not train on it): each path's Platt scaling fitted on
    every part's peak logits together, so that neither path's scale drowns the other's when the larger
    of the two is taken, then the thresholds on every part's calibrated peaks. One part is what
    ``train`` does with its held-out fold; several spread the choice over more kinds of talk
    (``benchmarks/thresholds.py``). Calibration None: ``config.calibrate`` is off and each model keeps
    its own."""
    return choose_on([read_held_out(model, part) for model, part in scored], config)


def with_choice(model: RiskModel, calibration: Calibration | None, thresholds: Thresholds) -> RiskModel:
    """``model`` with a calibration (None: its own) and thresholds chosen as ``choose_pooled`` does."""
    return replace(model if calibration is None else calibrated(model, calibration), thresholds=thresholds)


def _choose(model: RiskModel, part: LabelledData, config: TrainConfig) -> tuple[RiskModel, Calibration]:
    """``model`` calibrated on ``part`` (unless ``config.calibrate`` is off) with thresholds chosen there."""
    calibration, thresholds = choose_pooled([(model, part)], config)
    return with_choice(model, calibration, thresholds), calibration or current_calibration(model)


def calibrate_and_threshold(model: RiskModel, part: LabelledData, config: TrainConfig) -> Measured:
    """``model`` calibrated on ``part``, thresholds chosen there, and its figures there."""
    model, calibration = _choose(model, part, config)
    # alert positions depend on the threshold: score again
    return Measured(model, calibration, score_and_evaluate(model, part)[2])


TRANSFER_KEYS = ("precision", "recall", "f0_5", "false_alert_rate", "alerted_before_threat",
                 "alerted_before_threat_groomed", "median_messages_to_alert", "latency_weighted_f1")


def by_label_and_kind(data: LabelledData, ids: set[str]) -> list[list[str]]:
    """``ids`` grouped by label and kind of conversation (``scenario``), in a fixed order, for
    splits that keep every group's share."""
    groups: dict[tuple[int, str], list[str]] = {}
    for c in sorted(ids):
        groups.setdefault((data.labels[c], str(data.meta.get(c, {}).get("scenario"))), []).append(c)
    return [members for _, members in sorted(groups.items())]


def thresholds_on_the_other_half(model: RiskModel, held: LabelledData, config: TrainConfig) -> dict[str, float]:
    """Held-out figures with calibration and thresholds chosen on the other half of the held-out
    conversations (halves stratified by label and kind), the mean of the two halves.

    The main figures choose thresholds on the conversations they measure, so precision and the
    false-alert rate meet their targets there by construction. These show how far the targets
    carry to conversations the thresholds never saw (from half as many conversations).
    """
    rng = np.random.default_rng(config.seed)
    halves: tuple[set[str], set[str]] = (set(), set())
    for ids in by_label_and_kind(held, set(held.labels)):
        for i, c in enumerate(rng.permutation(ids)):
            halves[i % 2].add(str(c))
    if min(len({held.labels[c] for c in half}) for half in halves) < 2:
        return {}  # too few conversations for two halves with both classes
    runs = []
    for choose, judge in (halves, halves[::-1]):
        chosen, _ = _choose(model, held.subset(choose), config)
        judged = held.subset(judge)
        results, _ = score_conversations(chosen, judged.events)
        runs.append(evaluate_results(results, judged, chosen.thresholds))
    return {k: float(np.mean([r[k] for r in runs])) for k in TRANSFER_KEYS if all(r.get(k) is not None for r in runs)}
