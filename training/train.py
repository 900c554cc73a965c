"""Train a risk model: a stage model per message, then a causal conversation model on its output.

``baseline``: hashed n-grams into a linear stage model. ``transformer``: MiniLM sentence
embeddings (frozen or fine-tuned, exported to ONNX) into the stage model, optionally alongside the
n-grams. Both feed the same causal sequence model (running features over order, timing and who
speaks) and, beside it, a text path over the running mean of a conversation-level text model.
Each path gets Platt calibration on held-out conversations, the score is the larger of the two,
and thresholds for target precision are chosen on the same held-out conversations (``calibration``).
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from detection.conversation_model import ConversationModel, TextPath
from detection.events import EXTORTION_STAGES
from detection.features import FEATURE_NAMES
from detection.messages import fingerprints
from detection.model import RiskModel
from detection.policy import Thresholds
from detection.scoring import score_messages
from detection.stage_model import StageModel
from detection.text import without_filler
from training.augment import augment
from training.calibration import Measured, calibrate_and_threshold, calibrated, thresholds_on_the_other_half
from training.config import TrainConfig
from training.data import LabelledData, given_folds, holdout_split, stage_targets
from training.folds import fold_per_conversation
from training.message_models import Inputs, fit_message_models, fit_role_model, prepare_inputs

__all__ = ["TrainConfig", "fit", "train"]

log = logging.getLogger("riskline.train")  # progress, one line per step (``riskline train`` prints it)
PLACEHOLDER = Thresholds(low=0.5, medium=0.5, high=0.5, critical=0.5, alert=0.5)


def _prefix_targets(data: LabelledData, stages: list[str], min_stages: int) -> tuple[np.ndarray, np.ndarray]:
    """Label and weight per prefix: a positive's prefix counts once escalation shows in ``stages``.

    ``stages`` are the stage-model targets: annotations where given, keyword guesses otherwise.
    A positive conversation whose stages never show escalation counts from its last message.
    """
    seen: dict[str, set[str]] = {}
    lengths: dict[str, int] = {}
    for event in data.events:
        lengths[event.conversation_id] = lengths.get(event.conversation_id, 0) + 1
    labels, weights = [], []
    position: dict[str, int] = {}
    for event, stage in zip(data.events, stages, strict=True):
        cid = event.conversation_id
        position[cid] = position.get(cid, 0) + 1
        found = seen.setdefault(cid, set())
        if stage != "none":
            found.add(stage)
        escalated = len(found) >= min_stages or bool(found & EXTORTION_STAGES) or position[cid] == lengths[cid]
        labels.append(int(data.labels[cid] == 1 and escalated))
        weights.append(1.0 / lengths[cid])
    return np.array(labels), np.array(weights)


def _cross_fitted_features(inputs: Inputs, data: LabelledData, targets: list[str],
                           config: TrainConfig) -> np.ndarray:
    """Running features from out-of-fold stage models, so the conversation model sees honest evidence.

    For a fine-tuned encoder only the stage head is cross-fitted: the encoder itself was tuned on
    every training conversation, so these features are somewhat optimistic.
    """
    ids = sorted(data.labels)
    fold_of = fold_per_conversation(data, config)
    row_fold = np.array([fold_of[e.conversation_id] for e in data.events])
    texts = [e.text for e in data.events]
    parts = []
    for k in range(config.cross_fit_folds):
        if not (held_ids := {c for c in ids if fold_of[c] == k}):  # more folds than conversations: nothing to fit
            continue
        stage = fit_message_models(inputs, data, np.flatnonzero(row_fold != k), texts, targets, config)
        held = data.subset(held_ids)
        model = _assemble(inputs, stage, None, PLACEHOLDER, config, {})
        parts.append(score_messages(model, held.events)[0])
    # score_messages returns conversation order; map back onto data's row order by message key
    position = {(e.conversation_id, e.message_id): i for i, e in enumerate(data.events)}
    features = np.zeros((len(texts), len(FEATURE_NAMES)))
    for steps in parts:
        rows = [position[key] for key in zip(steps.conversation_id, steps.message_id, strict=True)]
        features[rows] = steps.features
    return features


def _assemble(inputs: Inputs, stage: StageModel, conversation: ConversationModel | None,
              thresholds: Thresholds, config: TrainConfig, metrics: dict[str, Any]) -> RiskModel:
    if conversation is None:  # an identity model: lets score_messages compute features only
        n = len(FEATURE_NAMES)
        conversation = ConversationModel(np.zeros(n), 0.0, np.zeros(n), np.ones(n))
    extra = b"".join(a.tobytes() for a in (stage.embed_coef, stage.text_coef, stage.text_embed_coef, stage.role_coef,
                                           stage.role_embed_coef) if a is not None)
    digest = hashlib.sha256(stage.coef.tobytes() + extra + conversation.weights.tobytes()).hexdigest()[:8]
    version = f"{config.model_type}-{datetime.now(UTC):%Y%m%d%H%M%S}-{digest}"
    return RiskModel(inputs.featurizer, stage, conversation, thresholds, version, config.model_type, metrics,
                     {"train": config.to_dict()}, encoder=inputs.encoder, evidence_window=config.evidence_window,
                     drop_filler=config.drop_filler, run_gap=config.run_gap,
                     run_asides=config.run_asides, read_clauses=config.read_clauses)


# what a message-only model may read
SEQUENCE_FREE = (FEATURE_NAMES.index("current_risk"), FEATURE_NAMES.index("current_extortion"))


def fit_conversation_model(features: np.ndarray, labels: np.ndarray, weights: np.ndarray,
                           c: float, seed: int, columns: tuple[int, ...] | None = None) -> ConversationModel:
    """Logistic regression on standardised running features, each conversation weighing the same.

    ``columns`` limits the model to those features (the others get weight 0).
    """
    mean, scale = features.mean(axis=0), features.std(axis=0)
    scale[scale < 1e-9] = 1.0
    keep = list(columns) if columns is not None else list(range(features.shape[1]))
    clf = LogisticRegression(C=c, max_iter=1000, random_state=seed)
    clf.fit(((features - mean) / scale)[:, keep], labels, sample_weight=weights)
    coef = np.zeros(features.shape[1])
    coef[keep] = clf.coef_[0]
    return ConversationModel(coef, float(clf.intercept_[0]), mean, scale)


def fit_text_path(features: np.ndarray, data: LabelledData, weights: np.ndarray, config: TrainConfig) -> TextPath:
    """The text path: logistic regression from the shrunk running text mean, the log length and
    their product to the conversation's label, at every prefix, each conversation weighing the same.

    Its target is the label itself, not the escalation targets of the sequence model: it learns
    how soon a conversation's wording, taken as a whole, tells grooming from ordinary talk.
    """
    labels = np.fromiter((data.labels[e.conversation_id] for e in data.events), dtype=np.int64, count=len(data.events))
    mean, length = TextPath(0.0, 0.0, 0.0, 0.0, config.text_path_prior).inputs(features)
    clf = LogisticRegression(C=1.0, max_iter=1000, random_state=config.seed)
    clf.fit(np.column_stack([mean, length, mean * length]), labels, sample_weight=weights)
    w_mean, w_length, w_both = (float(w) for w in clf.coef_[0])
    return TextPath(w_mean, w_length, w_both, float(clf.intercept_[0]), config.text_path_prior)


def fit(data: LabelledData, config: TrainConfig) -> RiskModel:
    """Stage model and conversation model fitted on ``data`` (thresholds left as placeholders); its metrics say
    which of the generator's folds of phrase families it learned (``evaluate.in_family``)."""
    started = time.perf_counter()
    folds = sorted(set(given_folds(data).values()))
    if config.augment_copies:
        data = augment(data, config.augment_copies, config.seed, config.paraphrase)
    if config.drop_filler:  # the message models learn messages as the model will read them (RiskModel.evidence)
        data = data.with_texts(without_filler([e.text for e in data.events]))
    log.info("fitting on %d conversations, %d messages%s", len(data.labels), len(data.events),
             " (augmented copies included)" if config.augment_copies else "")
    targets = stage_targets(data)
    texts = [e.text for e in data.events]
    inputs = prepare_inputs(data, targets, config)
    features = _cross_fitted_features(inputs, data, targets, config)
    min_stages = config.min_stages_for_positive if data.has_stages else config.min_stages_labels_only
    labels, weights = _prefix_targets(data, targets, min_stages)
    conversation = fit_conversation_model(features, labels, weights, config.conversation_c, config.seed,
                                          None if config.sequence else SEQUENCE_FREE)
    if config.text_path and config.text_model and config.sequence:
        conversation = replace(conversation, text_path=fit_text_path(features, data, weights, config))
    stage = fit_message_models(inputs, data, np.arange(len(texts)), texts, targets, config)
    stage = replace(stage, **fit_role_model(inputs, data, config))
    log.info("fitted in %.0f s", time.perf_counter() - started)
    return _assemble(inputs, stage, conversation, PLACEHOLDER, config, {"generated_folds_trained_on": folds})


def fit_and_measure(train_part: LabelledData, held: LabelledData, config: TrainConfig) -> Measured:
    """Fit on ``train_part``; on ``held``: calibrate, choose thresholds for the target precision, measure.

    ``metrics["other_half"]`` holds the same figures with thresholds chosen on the other half.
    """
    model = fit(train_part, config)
    log.info("calibrating, choosing thresholds and measuring on %d held-out conversations", len(held.labels))
    measured = calibrate_and_threshold(model, held, config)
    other_half = thresholds_on_the_other_half(model, held, config)
    return replace(measured, metrics={**measured.metrics, "other_half": other_half})


def check_both_kinds_held_out(data: LabelledData, test_ids: set[str], how: str) -> None:
    """Thresholds for a precision are chosen on held-out conversations of both kinds: with one kind only,
    each would be 1.0, a model that never alerts."""
    if len(held_classes := {data.labels[c] for c in test_ids}) < 2:
        held = (f"the {len(test_ids)} held out ({how}) are all {'positive' if held_classes == {1} else 'negative'}"
                if held_classes else f"none is held out ({how}: one of each kind is too few to split)")
        raise ValueError(f"too few conversations to choose thresholds on: {held}; give more labelled conversations "
                         "of each kind")


def check_both_kinds(data: LabelledData) -> None:
    if len(classes := set(data.labels.values())) < 2:
        raise ValueError("training needs both positive and negative conversations "
                         f"(conversation_label is {next(iter(classes), '-')} throughout)")


def train(data: LabelledData, config: TrainConfig) -> RiskModel:
    """Fit on a training split, calibrate, choose thresholds and measure on held-out conversations, refit."""
    started = time.perf_counter()
    check_both_kinds(data)
    train_ids, test_ids, how = holdout_split(data, config.seed)
    log.info("%d conversations to fit on, %d held out: %s", len(train_ids), len(test_ids), how)
    if len({data.labels[c] for c in train_ids}) < 2:
        raise ValueError(f"too few conversations to train on: the {len(train_ids)} left to fit on after holding out "
                         f"{len(test_ids)} ({how}) are all of one kind; give more labelled conversations of each kind")
    check_both_kinds_held_out(data, test_ids, how)
    measured = fit_and_measure(data.subset(train_ids), data.subset(test_ids), config)
    model, thresholds = measured.model, measured.model.thresholds
    metrics: dict[str, Any] = {"holdout": how, **measured.metrics}
    if config.refit_on_all:
        log.info("refitting on all %d conversations", len(data.labels))
        model = calibrated(fit(data, config), measured.calibration)
    metrics["train_seconds"] = round(time.perf_counter() - started, 1)
    metrics["n_train_conversations"] = len(data.labels) if config.refit_on_all else len(train_ids)
    metrics["stages_annotated"] = data.has_stages
    metrics["generated_folds_trained_on"] = model.metrics["generated_folds_trained_on"]  # evaluate.in_family
    return replace(model, thresholds=thresholds, metrics=metrics,
                   trained_on=trained_on(None, data) if config.fingerprints else None)


def trained_on(model: RiskModel | None, data: LabelledData) -> np.ndarray:
    """The fingerprints of ``data``'s conversations (``messages.fingerprints``), with those ``model`` keeps already,
    sorted: everything a model fitted, calibrated or thresholded on them has seen."""
    found = np.fromiter(fingerprints(data.events).values(), dtype=np.uint64)
    earlier = model.trained_on if model is not None and model.trained_on is not None else np.zeros(0, np.uint64)
    return np.unique(np.concatenate([earlier, found]))


def rethreshold(model: RiskModel, data: LabelledData, config: TrainConfig) -> RiskModel:
    """``model``'s weights as they are, with calibration (unless ``config.calibrate`` is False) and
    thresholds chosen on ``data``, such as a platform's own labelled conversations, and its figures
    there. ``metrics["other_half"]`` shows how far choices made on half of ``data`` carry to the other."""
    if len(classes := set(data.labels.values())) < 2:
        raise ValueError("choosing thresholds needs both positive and negative conversations "
                         f"(conversation_label is {next(iter(classes), '-')} throughout)")
    measured = calibrate_and_threshold(model, data, config)
    metrics: dict[str, Any] = {
        "holdout": f"thresholds chosen on these {len(data.labels)} conversations (weights from {model.model_version})",
        **measured.metrics, "other_half": thresholds_on_the_other_half(model, data, config),
        "stages_annotated": data.has_stages, "n_train_conversations": model.metrics.get("n_train_conversations"),
        "generated_folds_trained_on": model.metrics.get("generated_folds_trained_on"),
        "rethresholded_from": {"model_version": model.model_version, "thresholds": model.thresholds.to_dict()},
    }
    version = f"{model.model_version}-t{datetime.now(UTC):%Y%m%d%H%M%S}"
    # a model that keeps no fingerprints (trained before they were kept, or without them) is not known to have
    # seen only ``data``: it keeps none
    seen = None if model.trained_on is None else trained_on(model, data)
    return replace(measured.model, metrics=metrics, model_version=version, trained_on=seen)
