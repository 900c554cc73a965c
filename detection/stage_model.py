"""The per-message model: each message's stage probabilities, text logit and role logit, and the parts of
a message (windows of words, clauses from "or" on) that are read besides the whole."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from detection.events import STAGES


class Evidence(NamedTuple):
    """The per-message model's output, one row per message."""

    proba: np.ndarray  # stage probabilities, columns in ``STAGES`` order
    text: np.ndarray  # the text model's logit
    role: np.ndarray  # the role model's logit: written by the offender rather than the young person


MAX_WINDOW = 1000  # words in an evidence window
# a conditional threat's consequence: a message is also read in parts, each starting at one of these words
CLAUSE = re.compile(r"(?=\b(?:or|unless|otherwise)\b)", re.IGNORECASE)
CLAUSE_WORDS = 3  # the fewest words (runs of letters and digits, as "pay-$50-in" holds three) of a part read alone
WORD = re.compile(r"\w+")
CLAUSE_CHARS = 20  # a message shorter than this is not split


def valid_window(size: object) -> bool:
    """Whether ``size`` can be an ``evidence_window``: 0 (whole messages only), or 2 to ``MAX_WINDOW`` words."""
    return type(size) is int and (size == 0 or 2 <= size <= MAX_WINDOW)


def message_clauses(texts: Sequence[str]) -> tuple[list[int], list[str]]:
    """The parts of each text that start at "or", "unless" or "otherwise" (and the part before the first), where
    a text has two or more, each of ``CLAUSE_WORDS`` words or more, with the position of the text each comes
    from. "pay $300 in gift cards or i send it to your family" is a payment demand read whole; its consequence,
    "or i send it to your family", is the threat."""
    owners: list[int] = []
    clauses: list[str] = []
    for i, text in enumerate(texts):
        if len(text) < CLAUSE_CHARS:
            continue
        parts = [part for part in CLAUSE.split(text) if part]
        if len(parts) > 1:
            kept = [part for part in parts if len(WORD.findall(part)) >= CLAUSE_WORDS]
            clauses.extend(kept)
            owners.extend([i] * len(kept))
    return owners, clauses


def message_windows(texts: Sequence[str], size: int) -> tuple[list[int], list[str]]:
    """The windows of ``size`` words (split at white space), one starting every ``size // 2`` words, of each
    text longer than ``size + size // 2`` words, with the position of the text each comes from; the last
    window may be shorter. A text only a few words longer than a window is read whole: its windows would
    only drop words at its ends, and with them what the text is about ("screenshot it and send it to me,
    i'll show the principal", eleven words, read as a request for an image without its last)."""
    owners: list[int] = []
    windows: list[str] = []
    step = max(size // 2, 1)
    for i, text in enumerate(texts):
        if len(text) <= 2 * (size + step):  # too short to hold more than ``size + step`` words, not split
            continue
        words = text.split()
        if len(words) <= size + step:
            continue
        starts = range(0, len(words) - size + step, step)
        windows.extend(" ".join(words[start:start + size]) for start in starts)
        owners.extend([i] * len(starts))
    return owners, windows


def offender_probability(role_logit: np.ndarray) -> np.ndarray:
    """The role model's logit as the probability that the offender, not the young person, wrote a message."""
    return 1.0 / (1.0 + np.exp(-np.clip(role_logit, -50.0, 50.0)))


@dataclass(frozen=True)
class StageModel:
    """Linear model over message features; classes are ``STAGES`` in order.

    ``link`` is ``softmax`` (multinomial) or ``ovr`` (one-vs-rest sigmoids, normalised to sum to 1).
    ``coef`` covers the hashed n-gram columns (none when a model uses embeddings only) and
    ``embed_coef`` the sentence-embedding dimensions (none for the baseline).

    ``text_coef`` and ``text_embed_coef`` (optional) are a conversation-level text model: trained on
    whole conversations' message vectors, it gives each message a logit whose running mean is
    what that model would say of the conversation so far. It rides in the same product as the stages.

    ``role_coef``, ``role_embed_coef`` and ``role_intercept`` (optional) are a role model: the log-odds
    that a message of a grooming or extortion conversation was written by the offender rather than
    the young person. A victim's pleas ("please don't send it", "i don't have money") carry threat
    and payment words, so stage evidence alone would often name the victim as the suspect; each
    message's evidence counts for its sender weighed by this probability (``scoring``). It rides in
    the same product too.
    """

    coef: np.ndarray
    intercept: np.ndarray
    link: str = "ovr"
    embed_coef: np.ndarray | None = None
    text_coef: np.ndarray | None = None
    text_embed_coef: np.ndarray | None = None
    role_coef: np.ndarray | None = None
    role_embed_coef: np.ndarray | None = None
    role_intercept: float = 0.0
    weights: np.ndarray = field(init=False, repr=False, compare=False)
    embed_weights: np.ndarray | None = field(init=False, repr=False, compare=False)
    biases: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        coef, embed, biases = self.coef, self.embed_coef, self.intercept
        # the text logit, then the role logit, each where the model has one: rows after the stages'
        for present, row, embed_row, bias in ((self.has_text, self.text_coef, self.text_embed_coef, 0.0),
                                              (self.has_role, self.role_coef, self.role_embed_coef,
                                               self.role_intercept)):
            if not present:
                continue
            coef = np.vstack([coef, np.zeros(coef.shape[1]) if row is None else row])
            if embed is not None:
                embed = np.vstack([embed, np.zeros(embed.shape[1]) if embed_row is None else embed_row])
            biases = np.append(biases, bias)
        # (columns, classes) in C order: a sparse product reads it row by row with no copy per call
        object.__setattr__(self, "weights", np.ascontiguousarray(coef.T))
        object.__setattr__(self, "embed_weights", embed)
        object.__setattr__(self, "biases", biases)

    @property
    def uses_ngrams(self) -> bool:
        return self.coef.shape[1] > 0

    @property
    def has_text(self) -> bool:
        return self.text_coef is not None or self.text_embed_coef is not None

    @property
    def has_role(self) -> bool:
        return self.role_coef is not None or self.role_embed_coef is not None

    def _products(self, features: Any, embeddings: np.ndarray | None) -> np.ndarray:
        """Stage logits, then the text logit and the role logit where the model has them, one row per message."""
        if self.uses_ngrams:
            out = np.asarray(features @ self.weights) + self.biases
        else:
            out = np.tile(self.biases, (0 if embeddings is None else embeddings.shape[0], 1))
        if self.embed_weights is not None and embeddings is not None:
            # Dimension by dimension: each row's sum is then the same whatever else is in the batch.
            for j in range(embeddings.shape[1]):
                out += embeddings[:, j:j + 1].astype(np.float64) * self.embed_weights[:, j]
        return out

    def _proba(self, logits: np.ndarray) -> np.ndarray:
        if self.link == "ovr":
            with np.errstate(over="ignore"):  # a logit under -709: exp is inf, the probability 0, as it should be
                proba = 1.0 / (1.0 + np.exp(-logits))
        else:
            proba = np.exp(logits - logits.max(axis=1, keepdims=True))
        proba /= proba.sum(axis=1, keepdims=True)
        return proba

    def logits(self, features: Any, embeddings: np.ndarray | None = None) -> np.ndarray:
        """Per-stage logits from n-gram features and/or embeddings."""
        return self._products(features, embeddings)[:, :len(STAGES)]

    def predict_proba(self, features: Any, embeddings: np.ndarray | None = None) -> np.ndarray:
        """Stage probabilities, one row per message, columns in ``STAGES`` order."""
        return self._proba(self.logits(features, embeddings))

    def evidence(self, features: Any, embeddings: np.ndarray | None = None) -> Evidence:
        """Stage probabilities, the text model's logit and the role model's logit per message (zeros
        without a text or role model)."""
        products = self._products(features, embeddings)
        n, k = products.shape[0], len(STAGES)
        text = products[:, k] if self.has_text else np.zeros(n)
        role = products[:, k + self.has_text] if self.has_role else np.zeros(n)
        return Evidence(self._proba(products[:, :k]), text, role)
