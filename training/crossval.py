"""Cross-validation for researchers (``riskline train --cv K``): each fold held out in turn, with the figures
in-family and cross-family side by side where the data is the generator's.

With the generator's ``fold`` column, each fold holds phrase families, replies and negative kinds the others do
not (``cv_folds``), so a fold's figures say how a model does on wording it has not seen; a share of the other
folds kept back (``keep_back``) says how it does on wording like its training data's.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from detection.model import RiskModel
from detection.scoring import score_conversations
from training.calibration import by_label_and_kind, calibrate_and_threshold, choose_on, read_held_out, with_choice
from training.config import TrainConfig
from training.data import LabelledData, given_folds, offender_groups
from training.evaluate import evaluate_results
from training.folds import whole_groups
from training.train import check_both_kinds, check_both_kinds_held_out, fit, fit_and_measure

log = logging.getLogger("riskline.train")  # the same lines as training's (``riskline train`` prints them)

IN_FAMILY_SHARE = 0.2


def keep_back(data: LabelledData, ids: set[str], seed: int,
              share: float = IN_FAMILY_SHARE) -> tuple[set[str], set[str]]:
    """``ids`` split into conversations to fit on and a ``share`` kept back, stratified by label and kind.

    Kept-back conversations share their phrase families, replies and negative kinds with the ones
    fitted on: measured there, a model shows how it does on wording like its training data's.
    """
    rng = np.random.default_rng(seed)
    kept: set[str] = set()
    for members in by_label_and_kind(data, ids):
        kept.update(str(c) for c in rng.permutation(members)[: round(len(members) * share)])
    return ids - kept, kept


def in_and_cross_family(data: LabelledData, test_ids: set[str], config: TrainConfig) -> dict[str, dict[str, Any]]:
    """One model, measured on wording it has seen the like of and on wording it has not.

    The model is fitted on the conversations outside ``test_ids`` less a fifth kept back
    (``keep_back``). ``in_family``: its figures on that fifth; ``cross_family``: on ``test_ids`` (a
    held-out synthetic fold: unseen phrase families, replies and negative kinds). Calibration and
    thresholds are chosen on each set in turn, as ``train`` does on its held-out conversations.
    """
    fit_ids, kept = keep_back(data, set(data.labels) - test_ids, config.seed)
    model = fit(data.subset(fit_ids), config)
    return {"in_family": calibrate_and_threshold(model, data.subset(kept), config).metrics,
            "cross_family": calibrate_and_threshold(model, data.subset(test_ids), config).metrics}


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-fold figures (numbers only) with their mean, min and max over the folds."""
    runs = [{key: v for key, v in r.items() if isinstance(v, int | float) and not isinstance(v, bool)} for r in runs]
    keys = [key for key in runs[0] if key != "fold"]
    out: dict[str, Any] = {"folds": runs}
    for name, fn in (("mean", np.mean), ("min", np.min), ("max", np.max)):
        out[name] = {key: float(fn([r[key] for r in runs if r.get(key) is not None] or [np.nan])) for key in keys}
    return out


def cv_folds(data: LabelledData, k: int, seed: int) -> tuple[dict[str, int], str, bool]:
    """Each conversation's cross-validation fold, how they were made, and whether they are the
    generator's folds alone.

    With the generator's ``fold`` column and ``k`` equal to its number of folds, each fold holds
    unseen phrase families, replies and negative kinds; conversations without a fold (a platform's
    own, beside the synthetic ones) are spread over those folds at random, stratified by label.
    Otherwise conversations are split at random, stratified by label.
    """
    if k < 2:
        raise ValueError(f"--cv needs at least 2 folds, got {k}")
    folds = given_folds(data)
    natural = sorted(set(folds.values()))
    assignment = {c: natural.index(f) for c, f in folds.items()} if len(natural) == k else {}
    how = "synthetic folds (unseen phrase families, replies and negative kinds)"
    if len(assignment) == len(data.labels):
        return assignment, how, True
    if assignment:
        how += f", the other {len(data.labels) - len(assignment)} conversations spread over them at random"
    else:
        counts = [sum(1 for y in data.labels.values() if y == label) for label in (0, 1)]
        if k > min(counts):  # a fold without both classes has no precision or false-alert rate to measure
            advice = f"use --cv {min(counts)} or fewer" if min(counts) >= 2 else "too few to cross-validate"
            raise ValueError(f"--cv {k}: every fold needs a positive and a negative conversation, and the data has "
                             f"{counts[1]} positive and {counts[0]} negative; {advice}")
        how = "random folds"
    rng = np.random.default_rng(seed)
    together = 0
    for label in (0, 1):
        ids = sorted(c for c, y in data.labels.items() if y == label and c not in assignment)
        groups = offender_groups(ids, data.offender_ids)
        if len(groups) == len(ids) or len(groups) < k:  # nothing to keep together, or too few groups for the folds
            assignment.update(zip(ids, rng.permutation(len(ids)) % k, strict=True))
            continue
        assignment.update(whole_groups(groups, k, rng))
        together += sum(len(g) > 1 for g in groups)
    how += ", stratified by label"
    if together:
        how += f", each offender's conversations in one fold ({together} offenders with more than one)"
    return assignment, how, False


def thresholds_from_other_folds(scored: Sequence[tuple[RiskModel, LabelledData]],
                                config: TrainConfig) -> list[dict[str, Any]]:
    """Each held-out fold's figures (``scored``: each fold with the model that did not train on it) with
    calibration and thresholds chosen on the other folds together (``choose_pooled``): how far the choice
    carries to conversations, and with the generator's folds kinds of talk, it was not made on. The
    main figures choose them on the fold they measure, where the false-alert budget holds by construction."""
    read = [read_held_out(model, part) for model, part in scored]  # each part read once, for every other's choice
    runs = []
    for fold, (model, part) in enumerate(scored):
        calibration, thresholds = choose_on([r for other, r in enumerate(read) if other != fold], config)
        results, _ = score_conversations(with_choice(model, calibration, thresholds), part.events)
        runs.append({"fold": fold, **evaluate_results(results, part, thresholds), "alert_threshold": thresholds.alert})
    return runs


def cross_validate(data: LabelledData, config: TrainConfig, k: int) -> dict[str, Any]:
    """K-fold figures: each fold held out in turn (whole synthetic folds where the data has them,
    ``cv_folds``). Thresholds are chosen on each held-out fold, as in ``train``; ``other_folds`` holds
    the same figures with them chosen on the other folds (``thresholds_from_other_folds``). On synthetic
    data alone, ``families`` sets in-family figures beside cross-family ones (``in_and_cross_family``).
    """
    check_both_kinds(data)  # before any fold: the same error as training without --cv
    assignment, how, synthetic = cv_folds(data, k, config.seed)
    runs, families, scored = [], [], []
    for fold in range(k):
        test = {c for c, f in assignment.items() if f == fold}
        # folds are named from 0, as the generator's fold column and the per-fold lines and figures name them
        log.info("cross-validation: fold %d (%d of %d; %d conversations held out)", fold, fold + 1, k, len(test))
        try:
            check_both_kinds_held_out(data, test, f"fold {fold}")
            held = data.subset(test)
            measured = fit_and_measure(data.subset(set(data.labels) - test), held, config)
            runs.append({"fold": fold, **measured.metrics, "alert_threshold": measured.model.thresholds.alert})
            scored.append((measured.model, held))
            if synthetic:
                families.append(in_and_cross_family(data, test, replace(config, seed=config.seed + fold)))
        except ValueError as exc:
            raise ValueError(f"--cv {k}, fold {fold} ({len(data.labels) - len(test)} conversations to train on, "
                             f"{len(test)} held out): {exc}") from exc
    out = {"k": k, "how": how, **_summary(runs), "other_folds": _summary(thresholds_from_other_folds(scored, config))}
    if families:
        out["families"] = {
            "how": f"one model per fold, fitted on the other folds less a {IN_FAMILY_SHARE:.0%} share kept back; "
                   "in-family: that share (seen phrase families, replies and negative kinds); "
                   "cross-family: the held-out fold",
            **{side: _summary([{"fold": fold, **run[side]} for fold, run in enumerate(families)])
               for side in ("in_family", "cross_family")}}
    return out
