"""Message-level models: what the stage model and the text model read, and fitting them.

``Inputs`` holds the n-gram featurizer and, for a transformer, the sentence encoder and the
embedding of every training text (computed once). The stage model gives per-message stage
evidence; the text model, fitted on whole conversations' message vectors, gives the
conversation-level view. Both end up in one ``StageModel`` and run in one product at scoring.
"""

from __future__ import annotations

import functools
import tempfile
import weakref
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.utils.class_weight import compute_class_weight

from detection.events import EXTORTION_STAGES, STAGES
from detection.features import MessageFeaturizer
from detection.held import Held
from detection.stage_model import StageModel
from training.config import TrainConfig
from training.data import LabelledData, offenders


@dataclass
class Inputs:
    """What the stage model reads, computed once per text: n-gram featurizer and embeddings."""

    featurizer: MessageFeaturizer
    encoder: Any | None = None  # TextEncoder (scoring) wrapped by _Cached during training
    embeddings: np.ndarray | None = None
    ngrams: sp.csr_matrix | None = None  # every training text's n-gram rows, when computed up front

    def design(self, rows: np.ndarray, texts: list[str], config: TrainConfig) -> Any:
        parts = []
        if config.ngrams:
            parts.append(self._ngram_rows(rows, texts))
        if self.embeddings is not None:
            parts.append(sp.csr_matrix(self.embeddings[rows]))  # unit vectors, like the n-gram rows
        return parts[0] if len(parts) == 1 else sp.hstack(parts, format="csr")

    def _ngram_rows(self, rows: np.ndarray, texts: list[str]) -> sp.csr_matrix:
        if self.ngrams is None:
            return self.featurizer.transform([texts[i] for i in rows])
        if len(rows) == self.ngrams.shape[0] and np.array_equal(rows, np.arange(len(rows))):
            return self.ngrams  # all of them, in order: no copy
        return self.ngrams[rows]


class _Cached:
    """An encoder that embeds each distinct text once and remembers it (training embeds texts often)."""

    def __init__(self, encoder: Any, workdir: Held) -> None:
        self.inner, self.dim, self.directory = encoder, encoder.dim, encoder.directory
        self.known: dict[str, np.ndarray] = {}
        weakref.finalize(self, workdir.close)  # the folder holding the encoder: removed with this object

    def encode(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.known]
        if missing:
            self.known.update(zip(missing, self.inner.encode(missing), strict=True))
        return np.array([self.known[t] for t in texts], dtype=np.float32).reshape(len(texts), self.dim)


def _exported(model: Any = None, tokenizer: Any = None) -> _Cached:
    """An encoder exported to ONNX in a temporary directory (the base encoder when none is given, from the
    cache of exports where one was made before)."""
    from detection.encoder import TextEncoder
    from training.encoder import export_base_encoder, export_encoder

    # held while this process runs: one a process killed outright left is removed by the next
    workdir = Held(Path(tempfile.gettempdir()), "riskline-encoder-", folder=True, private=True)
    target = workdir.path / "encoder"
    try:
        directory = export_base_encoder(target) if model is None else export_encoder(target, model, tokenizer)
        return _Cached(TextEncoder(directory), workdir)
    except BaseException:
        workdir.close()
        raise


@functools.cache
def _frozen_encoder() -> _Cached:
    """The base encoder, exported once per process; its embeddings are shared by every fit."""
    return _exported()


def _fine_tuned_encoder(texts: list[str], targets: list[str], config: TrainConfig) -> _Cached:
    from training.encoder import fine_tune

    model, tokenizer, _ = fine_tune(texts, targets, epochs=config.fine_tune_epochs,
                                    max_messages=config.fine_tune_messages, seed=config.seed)
    return _exported(model, tokenizer)


def prepare_inputs(data: LabelledData, targets: list[str], config: TrainConfig) -> Inputs:
    """Fit the featurizer; for a transformer, get the encoder (maybe fine-tuned) and embed every text."""
    texts = [e.text for e in data.events]
    ngrams = None  # featurised once: the cross-fitting folds and the final fit each take their rows of it
    if config.ngrams:
        featurizer, ngrams = MessageFeaturizer(config.n_features, chars_within_words=config.chars_within_words
                                               ).fit_transform(texts, repair=config.repair_words)
    else:
        featurizer = MessageFeaturizer(1, np.ones(MessageFeaturizer(1).n_columns))
    if config.model_type == "baseline":
        return Inputs(featurizer, ngrams=ngrams)
    encoder = _fine_tuned_encoder(texts, targets, config) if config.encoder == "fine-tuned" else _frozen_encoder()
    return Inputs(featurizer, encoder, encoder.encode(texts), ngrams)


def fit_stage_model(inputs: Inputs, rows: np.ndarray, design: Any, targets: list[str],
                    config: TrainConfig, *, balance: float) -> StageModel:
    """One-vs-rest logistic regression (SGD) on message features; every stage gets a column.
    A stage's messages weigh (messages / (stages * its messages)) ** ``balance`` in the loss.

    ``design`` is ``inputs.design(rows, ...)``: one feature row per message in ``rows``.
    """
    y = np.array([STAGES.index(targets[i]) for i in rows])
    if len(set(y.tolist())) < 2:
        raise ValueError(f"too few conversations to train on: the {len(rows)} messages to fit all have stage "
                         f"'{STAGES[y[0]] if len(y) else 'none'}'; give more labelled conversations of each kind")
    present = np.unique(y)
    weight = dict(zip(present.tolist(), (compute_class_weight("balanced", classes=present, y=y) ** balance).tolist(),
                      strict=True))
    # one binary fit per stage, in threads on every core (n_jobs=-1); each fit's seed is drawn
    # before they start, so the weights do not depend on the number of cores
    clf = SGDClassifier(loss="log_loss", alpha=config.stage_alpha, max_iter=config.stage_epochs, tol=None,
                        random_state=config.seed, class_weight=weight, n_jobs=-1)
    clf.fit(design, y)
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


def _text_samples(data: LabelledData, rows: np.ndarray, targets: list[str],
                  prefixes: bool, power: float = 1.0) -> tuple[sp.csr_matrix, list[int]]:
    """A matrix that sums ``rows`` into one row per sample, divided by the sample's message count
    to the ``power`` (1: the mean row), and each sample's label.

    One sample per conversation (all its messages). With ``prefixes``, one more per conversation
    that has at least two messages before its first threat or payment demand (in ``targets``):
    those messages alone, so that the model also learns what grooming reads like before the threat.
    """
    members: dict[str, list[int]] = {}
    for position, i in enumerate(rows):
        members.setdefault(data.events[i].conversation_id, []).append(position)
    groups, labels = [], []
    for cid in sorted(members):
        ordered = sorted(members[cid], key=lambda k: (data.events[rows[k]].timestamp, k))
        groups.append(ordered)
        labels.append(data.labels[cid])
        first = next((j for j, k in enumerate(ordered) if targets[rows[k]] in EXTORTION_STAGES), None)
        if prefixes and first is not None and 2 <= first < len(ordered):
            groups.append(ordered[:first])
            labels.append(data.labels[cid])
    sample = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
    columns = np.concatenate([np.asarray(g, dtype=np.int64) for g in groups])
    weights = np.repeat([1.0 / len(g) ** power for g in groups], [len(g) for g in groups])
    return sp.csr_matrix((weights, (sample, columns)), shape=(len(groups), len(rows))), labels


def fit_text_model(inputs: Inputs, data: LabelledData, rows: np.ndarray, design: Any, targets: list[str],
                   config: TrainConfig) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Text-model weights (n-gram part, embedding part): logistic regression from each conversation's
    message vectors (summed, over the count to ``config.text_power``) to its label, the
    whole-conversation view that per-message stages miss, and (``config.text_prefixes``, with
    stage annotations only) from its messages before the first threat.

    With no text model configured, or one class only, both parts are ``None``.
    """
    if not config.text_model:
        return None, None
    prefixes = config.text_prefixes and data.has_stages  # where the threat begins must be known, not guessed
    samples, labels = _text_samples(data, rows, targets, prefixes, config.text_power)
    if len(set(labels)) < 2:
        return None, None
    weights, _ = _sparse_logistic(samples @ design, np.array(labels), config.text_c, 3000, config.seed)
    n_ngram = inputs.featurizer.n_columns if config.ngrams else 0
    return weights[:n_ngram], None if inputs.embeddings is None else weights[n_ngram:]


def _sparse_logistic(design: Any, y: np.ndarray, c: float, max_iter: int, seed: int) -> tuple[np.ndarray, float]:
    """Logistic regression weights over every column of the sparse ``design``, and the intercept.

    Fitted on the columns some row uses: with an L2 penalty a column no row uses keeps weight 0 at
    the optimum, and L-BFGS's work per step grows with the width (2**17 per n-gram block)."""
    x = design.tocsc()
    used = np.flatnonzero(np.diff(x.indptr))
    if not used.size:  # sklearn's words: "Found array with 0 feature(s) (shape=(20, 0))"
        raise ValueError("no message to fit on has any text to learn from (every text is empty or blank): "
                         "check the data's text column (convert: --map text=COLUMN)")
    clf = LogisticRegression(C=c, max_iter=max_iter, random_state=seed)
    clf.fit(x[:, used].tocsr(), y)
    weights = np.zeros(x.shape[1])
    weights[used] = clf.coef_[0]
    return weights, float(clf.intercept_[0])


def fit_role_model(inputs: Inputs, data: LabelledData, config: TrainConfig) -> dict[str, Any]:
    """The role model's fields of ``StageModel``: logistic regression on the messages of positive
    conversations, from their features to whether the offender wrote them (``offenders``). Who that
    is must be known, from ``offender_id`` or stage annotations: without either, or with
    ``config.role_model`` off, none (the suspect is then the participant with the most risk mass)."""
    named = offenders(data) if config.role_model else {}
    rows = np.array([i for i, e in enumerate(data.events) if e.conversation_id in named], dtype=np.int64)
    y = np.array([int(data.events[i].sender_id == named[data.events[i].conversation_id]) for i in rows])
    if len(set(y.tolist())) < 2:
        return {}
    weights, intercept = _sparse_logistic(inputs.design(rows, [e.text for e in data.events], config), y,
                                          config.role_c, 2000, config.seed)
    n_ngram = inputs.featurizer.n_columns if config.ngrams else 0
    return {"role_coef": weights[:n_ngram] if n_ngram else None,
            "role_embed_coef": None if inputs.embeddings is None else weights[n_ngram:],
            "role_intercept": intercept}


def fit_message_models(inputs: Inputs, data: LabelledData, rows: np.ndarray, texts: list[str],
                       targets: list[str], config: TrainConfig) -> StageModel:
    """The stage model and, riding with it, the text model, both fitted on ``rows``."""
    design = inputs.design(rows, texts, config)  # featurised once for both
    # Guessed stages (labels only) are keyword rules' guesses: weighing the rare ones up weighs up
    # the rules' mistakes (fully balanced, other-half F0.5 over 3 folds, 2 seeds: 0.943 -> 0.934, 0.923)
    balance = config.stage_balance if data.has_stages else 0.0
    stage = fit_stage_model(inputs, rows, design, targets, config, balance=balance)
    text_coef, text_embed = fit_text_model(inputs, data, rows, design, targets, config)
    return replace(stage, text_coef=text_coef, text_embed_coef=text_embed)
