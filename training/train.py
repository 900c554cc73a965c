"""Train a risk model: a stage model per message, then a causal conversation model on its output.

``baseline``: hashed n-grams into a linear stage model. ``transformer``: MiniLM sentence
embeddings (frozen or fine-tuned, exported to ONNX) into the stage model, optionally alongside the
n-grams. Both feed the same causal sequence model (running features over order, timing and who
speaks), then Platt calibration and thresholds for target precision on held-out conversations.
"""

from __future__ import annotations

import functools
import hashlib
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression, SGDClassifier

from detection.events import STAGES
from detection.features import FEATURE_NAMES, MessageFeaturizer
from detection.model import ConversationModel, RiskModel, StageModel
from detection.policy import Thresholds
from detection.scoring import score_conversations, score_messages
from training.augment import SUFFIX, augment
from training.data import LabelledData, holdout_split, stage_targets
from training.evaluate import choose_thresholds, evaluate_results

EXTORTION = frozenset({"coercion", "payment"})  # unambiguous on their own, with or without grooming first
PLACEHOLDER = Thresholds(low=0.5, medium=0.5, high=0.5, critical=0.5, alert=0.5)
MODEL_TYPES = ("baseline", "transformer")
ENCODERS = ("frozen", "fine-tuned")


@dataclass(frozen=True)
class TrainConfig:
    """Training settings; logged whole with each run."""

    model_type: str = "baseline"
    seed: int = 0
    # transformer only: "frozen" MiniLM or "fine-tuned" on stage targets; n-grams alongside or not
    encoder: str = "frozen"
    ngrams: bool = True
    fine_tune_messages: int = 6000
    fine_tune_epochs: int = 1
    # False: the score after a message uses that message's stage evidence only (no sequence model)
    sequence: bool = True
    calibrate: bool = True
    augment_copies: int = 1
    n_features: int = 2**17
    stage_alpha: float = 3e-4
    stage_epochs: int = 15
    conversation_c: float = 1.0
    # A conversation-level text model (logistic regression on each conversation's mean message
    # vector) whose running mean feeds the sequence model; False leaves it out.
    text_model: bool = True
    text_c: float = 10.0
    cross_fit_folds: int = 3
    target_precision: float = 0.98
    refit_on_all: bool = True
    # With stage annotations, a positive's prefix counts as positive once it holds this many
    # distinct risk stages, or a threat or payment demand: flattery alone is not yet escalation.
    min_stages_for_positive: int = 3
    # With conversation labels only (stages guessed by rules, the rest counted as rapport).
    min_stages_labels_only: int = 2

    def __post_init__(self) -> None:
        if self.model_type not in MODEL_TYPES:
            raise ValueError(f"model type must be one of {list(MODEL_TYPES)}, got {self.model_type!r}")
        if self.encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {list(ENCODERS)}, got {self.encoder!r}")
        if self.model_type == "baseline" and not self.ngrams:
            raise ValueError("the baseline needs n-grams")
        if not 0.5 <= self.target_precision < 1.0:
            raise ValueError(f"target precision must be in [0.5, 1), got {self.target_precision}")
        if self.cross_fit_folds < 2:
            raise ValueError("cross_fit_folds must be at least 2")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Inputs:
    """What the stage model reads, computed once per text: n-gram featurizer and embeddings."""

    featurizer: MessageFeaturizer
    encoder: Any | None = None  # TextEncoder (scoring) wrapped by _Cached during training
    embeddings: np.ndarray | None = None

    def design(self, rows: np.ndarray, texts: list[str], config: TrainConfig) -> Any:
        parts = []
        if config.ngrams:
            parts.append(self.featurizer.transform([texts[i] for i in rows]))
        if self.embeddings is not None:
            parts.append(sp.csr_matrix(self.embeddings[rows]))  # unit vectors, like the n-gram rows
        return parts[0] if len(parts) == 1 else sp.hstack(parts, format="csr")


class _Cached:
    """An encoder whose embeddings of the training texts are already known (others are computed)."""

    def __init__(self, encoder: Any, texts: list[str], embeddings: np.ndarray, workdir: Any = None) -> None:
        self.inner, self.dim, self.directory = encoder, encoder.dim, encoder.directory
        self.known = dict(zip(texts, embeddings, strict=True))
        self.workdir = workdir  # a TemporaryDirectory holding the encoder: removed with this object

    def encode(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.known]
        if missing:
            self.known.update(zip(missing, self.inner.encode(missing), strict=True))
        return np.array([self.known[t] for t in texts], dtype=np.float32).reshape(len(texts), self.dim)


@functools.cache
def _frozen_encoder() -> _Cached:
    """The base encoder, exported once per process; its embeddings are shared by every fit."""
    from detection.encoder import TextEncoder
    from training.encoder import export_encoder

    workdir = tempfile.TemporaryDirectory(prefix="riskline-encoder-")
    encoder = TextEncoder(export_encoder(f"{workdir.name}/encoder"))
    return _Cached(encoder, [], np.zeros((0, encoder.dim), dtype=np.float32), workdir)


def _fine_tuned_encoder(texts: list[str], targets: list[str], config: TrainConfig) -> _Cached:
    from detection.encoder import TextEncoder
    from training.encoder import export_encoder, fine_tune

    model, tokenizer, _ = fine_tune(texts, targets, epochs=config.fine_tune_epochs,
                                    max_messages=config.fine_tune_messages, seed=config.seed)
    workdir = tempfile.TemporaryDirectory(prefix="riskline-encoder-")
    encoder = TextEncoder(export_encoder(f"{workdir.name}/encoder", model, tokenizer))
    return _Cached(encoder, [], np.zeros((0, encoder.dim), dtype=np.float32), workdir)


def prepare_inputs(data: LabelledData, targets: list[str], config: TrainConfig) -> Inputs:
    """Fit the featurizer; for a transformer, get the encoder (maybe fine-tuned) and embed every text."""
    texts = [e.text for e in data.events]
    featurizer = MessageFeaturizer(config.n_features).fit(texts) if config.ngrams else \
        MessageFeaturizer(1, np.ones(MessageFeaturizer(1).n_columns))
    if config.model_type == "baseline":
        return Inputs(featurizer)
    encoder = _fine_tuned_encoder(texts, targets, config) if config.encoder == "fine-tuned" else _frozen_encoder()
    return Inputs(featurizer, encoder, encoder.encode(texts))


def fit_stage_model(inputs: Inputs, rows: np.ndarray, texts: list[str], targets: list[str],
                    config: TrainConfig) -> StageModel:
    """One-vs-rest logistic regression (SGD) on message features; every stage gets a column."""
    y = np.array([STAGES.index(targets[i]) for i in rows])
    clf = SGDClassifier(loss="log_loss", alpha=config.stage_alpha, max_iter=config.stage_epochs, tol=None,
                        random_state=config.seed)
    clf.fit(inputs.design(rows, texts, config), y)
    coef = np.zeros((len(STAGES), clf.coef_.shape[1]))
    intercept = np.full(len(STAGES), -30.0)  # a stage absent from training is never predicted
    if len(clf.classes_) == 2:  # a binary problem has one row: the second class against the first
        coef[clf.classes_[1]], intercept[clf.classes_[1]] = clf.coef_[0], clf.intercept_[0]
        coef[clf.classes_[0]], intercept[clf.classes_[0]] = -clf.coef_[0], -clf.intercept_[0]
    else:
        coef[clf.classes_], intercept[clf.classes_] = clf.coef_, clf.intercept_
    n_ngram = inputs.featurizer.n_columns if config.ngrams else 0
    embed = None if inputs.embeddings is None else coef[:, n_ngram:]
    return StageModel(coef[:, :n_ngram].astype(np.float64), intercept, link="ovr", embed_coef=embed)


def fit_text_model(inputs: Inputs, data: LabelledData, rows: np.ndarray, texts: list[str],
                   config: TrainConfig) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Text-model weights (n-gram part, embedding part): logistic regression from each conversation's
    mean message vector to its label, the whole-conversation view that per-message stages miss.

    With no text model configured, or one class only, both parts are ``None``.
    """
    conversations = [data.events[i].conversation_id for i in rows]
    ids, inverse = np.unique(conversations, return_inverse=True)
    labels = [data.labels[c] for c in ids]
    if not config.text_model or len(set(labels)) < 2:
        return None, None
    counts = np.bincount(inverse)
    mean = sp.csr_matrix((1.0 / counts[inverse], (inverse, np.arange(len(rows)))), shape=(len(ids), len(rows)))
    clf = LogisticRegression(C=config.text_c, max_iter=3000, random_state=config.seed)
    clf.fit(mean @ inputs.design(rows, texts, config), labels)
    n_ngram = inputs.featurizer.n_columns if config.ngrams else 0
    weights = clf.coef_[0].astype(np.float64)
    return weights[:n_ngram], None if inputs.embeddings is None else weights[n_ngram:]


def fit_message_models(inputs: Inputs, data: LabelledData, rows: np.ndarray, texts: list[str],
                       targets: list[str], config: TrainConfig) -> StageModel:
    """The stage model and, riding with it, the text model, both fitted on ``rows``."""
    stage = fit_stage_model(inputs, rows, texts, targets, config)
    text_coef, text_embed = fit_text_model(inputs, data, rows, texts, config)
    return replace(stage, text_coef=text_coef, text_embed_coef=text_embed)


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
        escalated = len(found) >= min_stages or bool(found & EXTORTION) or position[cid] == lengths[cid]
        labels.append(int(data.labels[cid] == 1 and escalated))
        weights.append(1.0 / lengths[cid])
    return np.array(labels), np.array(weights)


def _cross_fit_folds(data: LabelledData, config: TrainConfig) -> dict[str, int]:
    """Cross-fitting fold per conversation, seeded; an augmented copy goes in its original's fold.

    A near-duplicate on the other side of a fold would make out-of-fold evidence look better than
    evidence on new conversations is, and the sequence model would learn to trust it too much.
    """
    originals = sorted({c.split(SUFFIX)[0] for c in data.labels})
    rng = np.random.default_rng(config.seed)
    fold = dict(zip(originals, rng.permutation(len(originals)) % config.cross_fit_folds, strict=True))
    return {c: fold[c.split(SUFFIX)[0]] for c in data.labels}


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
        stage = fit_message_models(inputs, data, np.flatnonzero(row_fold != k), texts, targets, config)
        held = data.subset({c for c in ids if fold_of[c] == k})
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
    extra = b"".join(a.tobytes() for a in (stage.embed_coef, stage.text_coef, stage.text_embed_coef) if a is not None)
    digest = hashlib.sha256(stage.coef.tobytes() + extra + conversation.weights.tobytes()).hexdigest()[:8]
    version = f"{config.model_type}-{datetime.now(UTC):%Y%m%d%H%M%S}-{digest}"
    return RiskModel(inputs.featurizer, stage, conversation, thresholds, version, config.model_type, metrics,
                     {"train": config.to_dict()}, encoder=inputs.encoder)


SEQUENCE_FREE = (FEATURE_NAMES.index("current_risk"),)  # what a message-only model may read


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


def fit(data: LabelledData, config: TrainConfig) -> RiskModel:
    """Stage model and conversation model fitted on ``data`` (thresholds left as placeholders)."""
    if config.augment_copies:
        data = augment(data, config.augment_copies, config.seed)
    targets = stage_targets(data)
    texts = [e.text for e in data.events]
    inputs = prepare_inputs(data, targets, config)
    features = _cross_fitted_features(inputs, data, targets, config)
    min_stages = config.min_stages_for_positive if data.has_stages else config.min_stages_labels_only
    labels, weights = _prefix_targets(data, targets, min_stages)
    conversation = fit_conversation_model(features, labels, weights, config.conversation_c, config.seed,
                                          None if config.sequence else SEQUENCE_FREE)
    stage = fit_message_models(inputs, data, np.arange(len(texts)), texts, targets, config)
    return _assemble(inputs, stage, conversation, PLACEHOLDER, config, {})


def calibrate(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Platt scaling of the conversation model's logit, fitted on held-out conversations' peak scores.

    ``scores`` come from the uncalibrated model. The map is increasing, so which message first
    crosses a threshold does not change; only what the numbers mean does. Falls back to (1, 0)
    when the fit is not increasing or the labels are all one class.
    """
    if len(set(labels.tolist())) < 2:
        return 1.0, 0.0
    clipped = np.clip(scores, 1e-12, 1 - 1e-12)
    clf = LogisticRegression(C=1.0, max_iter=1000)
    clf.fit(np.log(clipped / (1 - clipped)).reshape(-1, 1), labels)
    a, b = float(clf.coef_[0, 0]), float(clf.intercept_[0])
    return (a, b) if a > 0 else (1.0, 0.0)


def _calibrated(model: RiskModel, calibration: tuple[float, float]) -> RiskModel:
    return replace(model, conversation_model=replace(model.conversation_model, calibration=calibration))


@dataclass(frozen=True)
class Measured:
    """A model fitted on a training part, calibrated and thresholded on a held-out part, and its figures."""

    model: RiskModel
    calibration: tuple[float, float]
    metrics: dict[str, Any]


def fit_and_measure(train_part: LabelledData, held: LabelledData, config: TrainConfig) -> Measured:
    """Fit on ``train_part``; on ``held``: calibrate, choose thresholds for the target precision, measure."""
    model = fit(train_part, config)
    results, _ = score_conversations(model, held.events)
    labels = np.array([held.labels[r.conversation_id] for r in results])
    calibration = calibrate(np.array([r.risk_score for r in results]), labels) if config.calibrate else (1.0, 0.0)
    model = _calibrated(model, calibration)
    results, _ = score_conversations(model, held.events)
    thresholds = choose_thresholds(np.array([r.risk_score for r in results]), labels, config.target_precision)
    model = replace(model, thresholds=thresholds)  # alert positions depend on the threshold: score again
    results, _ = score_conversations(model, held.events)
    return Measured(model, calibration, evaluate_results(results, held, thresholds))


def train(data: LabelledData, config: TrainConfig) -> RiskModel:
    """Fit on a training split, calibrate, choose thresholds and measure on held-out conversations, refit."""
    started = time.perf_counter()
    train_ids, test_ids, how = holdout_split(data, config.seed)
    measured = fit_and_measure(data.subset(train_ids), data.subset(test_ids), config)
    model, thresholds = measured.model, measured.model.thresholds
    metrics: dict[str, Any] = {"holdout": how, **measured.metrics}
    if config.refit_on_all:
        model = _calibrated(fit(data, config), measured.calibration)
    metrics["train_seconds"] = round(time.perf_counter() - started, 1)
    metrics["n_train_conversations"] = len(data.labels) if config.refit_on_all else len(train_ids)
    metrics["stages_annotated"] = data.has_stages
    return replace(model, thresholds=thresholds, metrics=metrics)


def cross_validate(data: LabelledData, config: TrainConfig, k: int) -> dict[str, Any]:
    """K-fold figures: each fold held out in turn (whole synthetic folds where the data has them).

    With the generator's ``fold`` column and ``k`` equal to its number of folds, each fold holds
    unseen phrase families and negative kinds; otherwise conversations are split at random,
    stratified by label. Thresholds are chosen on each held-out fold, as in ``train``.
    """
    if k < 2:
        raise ValueError(f"--cv needs at least 2 folds, got {k}")
    folds = {c: m.get("fold") for c, m in data.meta.items()}
    natural = sorted({str(f) for f in folds.values() if f is not None})
    if len(natural) == k and all(f is not None for f in folds.values()) and len(folds) == len(data.labels):
        assignment = {c: natural.index(str(f)) for c, f in folds.items()}
        how = "synthetic folds (unseen phrase families and negative kinds)"
    else:
        rng = np.random.default_rng(config.seed)
        assignment = {}
        for label in (0, 1):
            ids = sorted(c for c, y in data.labels.items() if y == label)
            assignment.update(zip(ids, rng.permutation(len(ids)) % k, strict=True))
        how = "random folds, stratified by label"
    runs = []
    for fold in range(k):
        test = {c for c, f in assignment.items() if f == fold}
        metrics = fit_and_measure(data.subset(set(data.labels) - test), data.subset(test), config).metrics
        runs.append({"fold": fold, **{key: v for key, v in metrics.items() if isinstance(v, int | float)}})
    keys = [key for key in runs[0] if key != "fold"]
    summary = {name: {key: float(fn([r[key] for r in runs if r.get(key) is not None] or [np.nan])) for key in keys}
               for name, fn in (("mean", np.mean), ("min", np.min), ("max", np.max))}
    return {"k": k, "how": how, "folds": runs, **summary}
