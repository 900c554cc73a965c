"""Train the baseline: a stage model per message, then a causal conversation model on its output."""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression, SGDClassifier

from detection.events import STAGES
from detection.features import FEATURE_NAMES, MessageFeaturizer
from detection.model import ConversationModel, RiskModel, StageModel
from detection.policy import Thresholds
from detection.scoring import score_conversations, score_messages
from training.data import LabelledData, holdout_split, stage_targets
from training.evaluate import choose_thresholds, evaluate_results

EXTORTION = frozenset({"coercion", "payment"})  # unambiguous on their own, with or without grooming first
PLACEHOLDER = Thresholds(low=0.5, medium=0.5, high=0.5, critical=0.5, alert=0.5)


@dataclass(frozen=True)
class TrainConfig:
    """Training settings; logged whole with each run."""

    model_type: str = "baseline"
    seed: int = 0
    n_features: int = 2**17
    stage_alpha: float = 1e-5
    stage_epochs: int = 15
    conversation_c: float = 1.0
    cross_fit_folds: int = 3
    target_precision: float = 0.95
    refit_on_all: bool = True
    # With stage annotations, a positive's prefix counts as positive once it holds this many
    # distinct risk stages, or a threat or payment demand: flattery alone is not yet escalation.
    min_stages_for_positive: int = 3

    def __post_init__(self) -> None:
        if self.model_type != "baseline":
            raise ValueError(f"model type {self.model_type!r} is not available yet (only 'baseline')")
        if not 0.5 <= self.target_precision < 1.0:
            raise ValueError(f"target precision must be in [0.5, 1), got {self.target_precision}")
        if self.cross_fit_folds < 2:
            raise ValueError("cross_fit_folds must be at least 2")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fit_stage_model(featurizer: MessageFeaturizer, texts: list[str], targets: list[str],
                    config: TrainConfig) -> StageModel:
    """One-vs-rest logistic regression (SGD) on message features; every stage gets a column."""
    y = np.array([STAGES.index(t) for t in targets])
    clf = SGDClassifier(loss="log_loss", alpha=config.stage_alpha, max_iter=config.stage_epochs, tol=None,
                        random_state=config.seed)
    clf.fit(featurizer.transform(texts), y)
    coef = np.zeros((len(STAGES), clf.coef_.shape[1]))
    intercept = np.full(len(STAGES), -30.0)  # a stage absent from training is never predicted
    if len(clf.classes_) == 2:  # a binary problem has one row: the second class against the first
        coef[clf.classes_[1]], intercept[clf.classes_[1]] = clf.coef_[0], clf.intercept_[0]
        coef[clf.classes_[0]], intercept[clf.classes_[0]] = -clf.coef_[0], -clf.intercept_[0]
    else:
        coef[clf.classes_], intercept[clf.classes_] = clf.coef_, clf.intercept_
    return StageModel(coef.astype(np.float64), intercept, link="ovr")


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


def _cross_fitted_features(featurizer: MessageFeaturizer, data: LabelledData, targets: list[str],
                           config: TrainConfig) -> np.ndarray:
    """Running features from out-of-fold stage models, so the conversation model sees honest evidence."""
    ids = sorted(data.labels)
    rng = np.random.default_rng(config.seed)
    fold_of = dict(zip(ids, rng.permutation(len(ids)) % config.cross_fit_folds, strict=True))
    row_fold = np.array([fold_of[e.conversation_id] for e in data.events])
    texts = [e.text for e in data.events]
    parts = []
    for k in range(config.cross_fit_folds):
        inside = np.flatnonzero(row_fold != k)
        stage = fit_stage_model(featurizer, [texts[i] for i in inside], [targets[i] for i in inside], config)
        held = data.subset({c for c in ids if fold_of[c] == k})
        model = _assemble(featurizer, stage, None, PLACEHOLDER, config, {})
        parts.append(score_messages(model, held.events)[0])
    # score_messages returns conversation order; map back onto data's row order by message key
    position = {(e.conversation_id, e.message_id): i for i, e in enumerate(data.events)}
    features = np.zeros((len(texts), len(FEATURE_NAMES)))
    for steps in parts:
        rows = [position[key] for key in zip(steps.conversation_id, steps.message_id, strict=True)]
        features[rows] = steps.features
    return features


def _assemble(featurizer: MessageFeaturizer, stage: StageModel, conversation: ConversationModel | None,
              thresholds: Thresholds, config: TrainConfig, metrics: dict[str, Any]) -> RiskModel:
    if conversation is None:  # an identity model: lets score_messages compute features only
        n = len(FEATURE_NAMES)
        conversation = ConversationModel(np.zeros(n), 0.0, np.zeros(n), np.ones(n))
    digest = hashlib.sha256(stage.coef.tobytes() + conversation.weights.tobytes()).hexdigest()[:8]
    version = f"{config.model_type}-{datetime.now(UTC):%Y%m%d%H%M%S}-{digest}"
    return RiskModel(featurizer, stage, conversation, thresholds, version, config.model_type, metrics,
                     {"train": config.to_dict()})


def fit_conversation_model(features: np.ndarray, labels: np.ndarray, weights: np.ndarray,
                           c: float, seed: int) -> ConversationModel:
    """Logistic regression on standardised running features, each conversation weighing the same."""
    mean, scale = features.mean(axis=0), features.std(axis=0)
    scale[scale < 1e-9] = 1.0
    clf = LogisticRegression(C=c, max_iter=1000, random_state=seed)
    clf.fit((features - mean) / scale, labels, sample_weight=weights)
    return ConversationModel(clf.coef_[0].astype(np.float64), float(clf.intercept_[0]), mean, scale)


def fit(data: LabelledData, config: TrainConfig) -> RiskModel:
    """Stage model and conversation model fitted on ``data`` (thresholds left as placeholders)."""
    targets = stage_targets(data)
    texts = [e.text for e in data.events]
    featurizer = MessageFeaturizer(config.n_features).fit(texts)
    features = _cross_fitted_features(featurizer, data, targets, config)
    labels, weights = _prefix_targets(data, targets, config.min_stages_for_positive)
    conversation = fit_conversation_model(features, labels, weights, config.conversation_c, config.seed)
    stage = fit_stage_model(featurizer, texts, targets, config)
    return _assemble(featurizer, stage, conversation, PLACEHOLDER, config, {})


def train(data: LabelledData, config: TrainConfig) -> RiskModel:
    """Fit on a training split, choose thresholds and measure on held-out conversations, then refit."""
    started = time.perf_counter()
    train_ids, test_ids, how = holdout_split(data, config.seed)
    held = data.subset(test_ids)
    model = fit(data.subset(train_ids), config)
    results, _ = score_conversations(model, held.events)
    scores = np.array([r.risk_score for r in results])
    labels = np.array([held.labels[r.conversation_id] for r in results])
    thresholds = choose_thresholds(scores, labels, config.target_precision)
    metrics: dict[str, Any] = {"holdout": how, **evaluate_results(results, held, thresholds)}
    if config.refit_on_all:
        model = fit(data, config)
    metrics["train_seconds"] = round(time.perf_counter() - started, 1)
    metrics["n_train_conversations"] = len(data.labels) if config.refit_on_all else len(train_ids)
    metrics["stages_annotated"] = data.has_stages
    return replace(model, thresholds=thresholds, metrics=metrics)
