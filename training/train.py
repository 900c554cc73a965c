"""Train a risk model: a stage model per message, then a causal conversation model on its output.

``baseline``: hashed n-grams into a linear stage model. ``transformer``: MiniLM sentence
embeddings (frozen or fine-tuned, exported to ONNX) into the stage model, optionally alongside the
n-grams. Both feed the same causal sequence model (running features over order, timing and who
speaks) and, beside it, a text path over the running mean of a conversation-level text model.
Each path gets Platt calibration on held-out conversations, the score is the larger of the two,
and thresholds for target precision are chosen on the same held-out conversations.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import KMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.linear_model import LogisticRegression

from detection.conversation_model import ConversationModel, TextPath
from detection.events import EXTORTION_STAGES
from detection.features import FEATURE_NAMES, MessageFeaturizer
from detection.model import RiskModel
from detection.policy import Thresholds
from detection.scoring import StepScores, fingerprints, score_conversations, score_messages
from detection.stage_model import StageModel
from detection.text import without_filler
from training.augment import SUFFIX, augment
from training.config import TrainConfig
from training.curves import choose_thresholds
from training.data import LabelledData, given_folds, holdout_split, offender_groups, stage_targets
from training.evaluate import evaluate_results, score_and_evaluate
from training.message_models import Inputs, fit_message_models, fit_role_model, prepare_inputs

__all__ = ["TrainConfig", "choose_pooled", "fit", "train", "with_choice"]

log = logging.getLogger("riskline.train")  # progress, one line per step (``riskline train`` prints it)
CLUSTER_FEATURES = 2**14  # hashed n-gram width for clustering conversations (coarse is enough)
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


def whole_groups(groups: Sequence[Sequence[str]], k: int, rng: np.random.Generator) -> dict[str, int]:
    """A fold in ``range(k)`` for each member of ``groups``, a group's all in one: the groups in a random order,
    each to the fold that holds the fewest so far."""
    sizes = np.zeros(k, dtype=np.int64)
    folds: dict[str, int] = {}
    for i in rng.permutation(len(groups)).tolist():
        fold = int(np.argmin(sizes))
        sizes[fold] += len(groups[i])
        folds.update((c, fold) for c in groups[i])
    return folds


def _cross_fit_folds(data: LabelledData, config: TrainConfig) -> dict[str, int]:
    """Cross-fitting fold per conversation; an augmented copy always goes in its original's fold.

    With ``cross_fit_clusters``, whole clusters of similar conversations (k-means on their mean
    n-gram vectors) go to one fold, so much of the out-of-fold evidence comes from kinds of talk
    and wording the stage model has not seen, as on new data. The split is seeded random when
    there are too few conversations, or when a fold would leave only one class to train on.
    Either way, a near-duplicate on the other side of a fold would make out-of-fold evidence look
    better than evidence on new conversations is, and the sequence model would trust it too much; so
    the conversations of one offender, where the data names them (``offender_id``), share a fold.
    """
    originals = sorted({c.split(SUFFIX)[0] for c in data.labels})
    fold: dict[str, int] = {}
    n_clusters = config.cross_fit_clusters
    if n_clusters >= config.cross_fit_folds and len(originals) >= 2 * n_clusters:
        fold = _clustered(data, originals, n_clusters, config)
        for k in range(config.cross_fit_folds):  # every fold must leave both classes to train on
            rest = {data.labels[c] for c, f in fold.items() if f != k}
            if rest != {0, 1} or k not in fold.values():
                fold = {}
                break
    if not fold:
        rng = np.random.default_rng(config.seed)
        groups = offender_groups(originals, data.offender_ids)  # an augmented copy follows its original
        if len(groups) < len(originals):  # an offender's conversations in one fold
            fold = whole_groups(groups, config.cross_fit_folds, rng)
        else:
            order = rng.permutation(len(originals))
            fold = dict(zip(originals, (order % config.cross_fit_folds).tolist(), strict=True))
    return {c: fold[c.split(SUFFIX)[0]] for c in data.labels}


def conversation_means(conversation: np.ndarray, n_conversations: int) -> sp.csr_matrix:
    """A matrix that, multiplied with one row per message, gives each conversation's mean row.

    ``conversation`` is each message's conversation number, in ``range(n_conversations)``.
    """
    counts = np.bincount(conversation, minlength=n_conversations)
    return sp.csr_matrix((1.0 / counts[conversation], (conversation, np.arange(len(conversation)))),
                         shape=(n_conversations, len(conversation)))


def _clustered(data: LabelledData, ids: list[str], n_clusters: int, config: TrainConfig) -> dict[str, int]:
    """Folds for ``ids`` by whole clusters, largest cluster first into the smallest fold."""
    members = set(ids)
    rows = [i for i, e in enumerate(data.events) if e.conversation_id in members]
    texts = [data.events[i].text for i in rows]
    index = {c: i for i, c in enumerate(ids)}
    conversation = np.fromiter((index[data.events[i].conversation_id] for i in rows), dtype=np.int64, count=len(rows))
    vectors = MessageFeaturizer(CLUSTER_FEATURES).fit(texts).transform(texts)
    mean = conversation_means(conversation, len(ids)) @ vectors
    reduced = TruncatedSVD(min(50, mean.shape[1] - 1), random_state=config.seed).fit_transform(mean)
    reduced /= np.linalg.norm(reduced, axis=1, keepdims=True) + 1e-12
    cluster = KMeans(n_clusters, n_init=4, random_state=config.seed).fit_predict(reduced)
    sizes, fold_of_cluster = np.zeros(config.cross_fit_folds), {}
    for c in np.argsort(-np.bincount(cluster, minlength=n_clusters), kind="stable"):
        fold_of_cluster[int(c)] = int(np.argmin(sizes))
        sizes[fold_of_cluster[int(c)]] += int((cluster == c).sum())
    return {cid: fold_of_cluster[int(c)] for cid, c in zip(ids, cluster, strict=True)}


def _cross_fitted_features(inputs: Inputs, data: LabelledData, targets: list[str],
                           config: TrainConfig) -> np.ndarray:
    """Running features from out-of-fold stage models, so the conversation model sees honest evidence.

    For a fine-tuned encoder only the stage head is cross-fitted: the encoder itself was tuned on
    every training conversation, so these features are somewhat optimistic.
    """
    ids = sorted(data.labels)
    fold_of = _cross_fit_folds(data, config)
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


def _calibrated(model: RiskModel, calibration: Calibration) -> RiskModel:
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
    peaks = [_peaks(p.steps, (p.model if calibration is None else _calibrated(p.model, calibration))
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
    return replace(model if calibration is None else _calibrated(model, calibration), thresholds=thresholds)


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
        model = _calibrated(fit(data, config), measured.calibration)
    metrics["train_seconds"] = round(time.perf_counter() - started, 1)
    metrics["n_train_conversations"] = len(data.labels) if config.refit_on_all else len(train_ids)
    metrics["stages_annotated"] = data.has_stages
    metrics["generated_folds_trained_on"] = model.metrics["generated_folds_trained_on"]  # evaluate.in_family
    return replace(model, thresholds=thresholds, metrics=metrics,
                   trained_on=trained_on(None, data) if config.fingerprints else None)


def trained_on(model: RiskModel | None, data: LabelledData) -> np.ndarray:
    """The fingerprints of ``data``'s conversations (``scoring.fingerprints``), with those ``model`` keeps already,
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
