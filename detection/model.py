"""The risk model: message stage evidence plus a causal conversation model.

``StageModel`` gives each message's stage evidence, ``ConversationModel`` the risk after each message from the
running features; ``RiskModel`` holds both with everything scoring needs. ``model_files`` saves a model as a
directory and loads it back, checked.
"""
from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from detection.encoder import TextEncoder
from detection.events import STAGES
from detection.features import CHUNK, FEATURE_NAMES, MessageFeaturizer
from detection.policy import Thresholds
from detection.repair import shown
from detection.text import normalize, without_filler

TEXT_MEAN, LOG_MESSAGES = FEATURE_NAMES.index("text_mean"), FEATURE_NAMES.index("log_messages")


class Evidence(NamedTuple):
    """The per-message model's output, one row per message."""

    proba: np.ndarray  # stage probabilities, columns in ``STAGES`` order
    text: np.ndarray  # the text model's logit
    role: np.ndarray  # the role model's logit: written by the offender rather than the young person


MAX_WINDOW = 1000  # words in an evidence window
MAX_RUN_GAP = 3600  # seconds between two messages of one sender read together (``RiskModel.run_gap``)
RUN_MESSAGES = 4  # messages of a sender's run read together: the message and up to three before it
RUN_CHARS = 300  # of each earlier message of a run, its last this many characters are kept and read
# with ``RiskModel.run_asides``: another participant's message of at most this many words does not end a run
RUN_ASIDE_WORDS = 3
RUN_ASIDE_CHARS = 40  # nor of more than this many characters
RUN_OTHERS = 2  # the runs of up to this many other senders that a conversation's state keeps open
# a conditional threat's consequence: a message is also read in parts, each starting at one of these words
CLAUSE = re.compile(r"(?=\b(?:or|unless|otherwise)\b)", re.IGNORECASE)
CLAUSE_WORDS = 3  # the fewest words (runs of letters and digits, as "pay-$50-in" holds three) of a part read alone
WORD = re.compile(r"\w+")
CLAUSE_CHARS = 20  # a message shorter than this is not split


def valid_window(size: object) -> bool:
    """Whether ``size`` can be an ``evidence_window``: 0 (whole messages only), or 2 to ``MAX_WINDOW`` words."""
    return type(size) is int and (size == 0 or 2 <= size <= MAX_WINDOW)


def valid_run_gap(seconds: object) -> bool:
    """Whether ``seconds`` can be a ``run_gap``: 0 (each message read alone) to ``MAX_RUN_GAP``, whole seconds."""
    return type(seconds) is int and 0 <= seconds <= MAX_RUN_GAP


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


@dataclass(frozen=True)
class TextPath:
    """The text path: how far the conversation's wording as a whole reads as grooming.

    A logistic regression over the running mean of the text model's per-message logits, shrunk
    towards 0 as if ``prior`` neutral messages came first (a short conversation's mean is noisy),
    the log message count, and their product (the mean counts for more as the conversation
    grows). ``calibration`` is its own Platt scaling. It has its say only where its uncalibrated
    logit is above 0 (grooming more likely than not on its training data) and its text part is
    above 0 (the wording itself leans towards grooming: length alone never makes it decide, or a
    long enough benign conversation would alert), so elsewhere the escalation path alone ranks
    conversations.
    """

    w_mean: float
    w_length: float
    w_both: float
    bias: float
    prior: float
    calibration: tuple[float, float] = (1.0, 0.0)

    def inputs(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The shrunk text mean and the log message count, per row of running features."""
        length = features[:, LOG_MESSAGES]
        n = np.expm1(length)  # messages so far: log_messages is log(1 + n)
        return features[:, TEXT_MEAN] * (n / (n + self.prior)), length

    def shares(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The uncalibrated logit less its bias, split into the text's part and the length's part."""
        mean, length = self.inputs(features)
        return self.w_mean * mean + self.w_both * (mean * length), self.w_length * length

    def logit(self, features: np.ndarray) -> np.ndarray:
        """The uncalibrated logit per row."""
        return self.gated_logit(features)[0]

    def gated_logit(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The uncalibrated logit per row, and where the path may have its say (logit and text part above 0)."""
        text, length = self.shares(features)
        raw = text + length + self.bias
        return raw, (raw > 0.0) & (text > 0.0)


@dataclass(frozen=True)
class ConversationModel:
    """The escalation path (logistic regression over standardised running features), an optional
    text path, each with its own Platt calibration; the score is the larger of the two.

    ``calibration`` (a, b) maps the regression's logit z to ``sigmoid(a * z + b)``, fitted on
    held-out conversations so that the score reads as the probability that the conversation is
    grooming or extortion given what has been seen so far. (1, 0) leaves it as it is.

    The escalation path decides on its own on a threat or a payment demand; the text path alerts
    on talk that reads as grooming overall when no single message is recognisably a stage, as
    with wording the stage model has not seen. Calibrated apart, neither path's scale can drown
    the other's.
    """

    weights: np.ndarray
    bias: float
    mean: np.ndarray
    scale: np.ndarray
    calibration: tuple[float, float] = (1.0, 0.0)
    text_path: TextPath | None = None

    def escalation_logit(self, features: np.ndarray) -> np.ndarray:
        """The escalation path's uncalibrated logit for each row of running features."""
        terms = (features - self.mean) / self.scale * self.weights
        # Summed column by column, in order (a running sum: numpy's ``sum`` adds in pairs, in an order that may
        # depend on the batch's shape), so each row's arithmetic is the same whatever the batch holds; as one
        # ``cumsum`` rather than a Python loop over the columns, which cost a lone message 70 microseconds.
        return np.cumsum(np.column_stack([np.full(features.shape[0], self.bias), terms]), axis=1)[:, -1]

    def _paths(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The calibrated logit per row, and where the text path decided it."""
        a, b = self.calibration
        z = a * self.escalation_logit(features) + b
        if self.text_path is None:
            return z, np.zeros(len(z), dtype=bool)
        a_text, b_text = self.text_path.calibration
        raw, may = self.text_path.gated_logit(features)
        text = a_text * raw + b_text
        decides = may & (text > z)
        return np.where(decides, text, z), decides

    def calibrated_logit(self, features: np.ndarray) -> np.ndarray:
        """The calibrated log-odds of risk for each row of running features."""
        return self._paths(features)[0]

    def contributions(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per row: each feature's share of the calibrated logit, the rest that the shares sum to
        it with (the deciding path's bias and calibration offset), and whether the text path
        decided. Where it did, its text part counts under ``text_mean``, its length part under
        ``log_messages``.
        """
        a, b = self.calibration
        shares = np.asarray((features - self.mean) / self.scale * self.weights) * a
        base = np.full(features.shape[0], a * self.bias + b)
        _, decides = self._paths(features)
        if self.text_path is not None and decides.any():
            a_text, b_text = self.text_path.calibration
            text, length = self.text_path.shares(features[decides])
            shares[decides] = 0.0
            shares[decides, TEXT_MEAN] = a_text * text
            shares[decides, LOG_MESSAGES] = a_text * length
            base[decides] = a_text * self.text_path.bias + b_text
        return shares, base, decides

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Risk probability for each row of running features."""
        with np.errstate(over="ignore"):  # a logit under -709 (a megabyte of one token): exp is inf, the risk 0
            return 1.0 / (1.0 + np.exp(-self.calibrated_logit(features)))


@dataclass(frozen=True)
class RiskModel:
    """Everything scoring needs, and what the model says about itself."""

    featurizer: MessageFeaturizer
    stage_model: StageModel
    conversation_model: ConversationModel
    thresholds: Thresholds
    model_version: str
    model_type: str = "baseline"
    metrics: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    encoder: TextEncoder | None = None
    card: str = ""
    # A message longer than one and a half times this many words also gets evidence from each window of this
    # many words (every half window): each stage's evidence is its largest over the whole message and its
    # windows (``message_windows``). 0: the whole message only (models trained before 2026-12-02).
    evidence_window: int = 0
    # Whether a message mostly of filler (interjections, or one word again and again: "i lol will lol send lol
    # it") is read without it (``text.without_filler``), for every part of its evidence. False: read as
    # written (models trained before 2026-12-02).
    drop_filler: bool = False
    # A message sent within this many seconds of the same sender's message before it is also read joined to
    # the messages of that run (up to ``RUN_MESSAGES`` in all; ``scoring``): a stage's evidence is the run's
    # where that is more than any of its messages has alone, so a threat sent as a burst ("i have your pics",
    # "pay me $300", "or i send them", "to all your followers") is read as the one message it is. 0: each
    # message alone (models trained before 2026-12-02, night).
    run_gap: int = 0
    # Whether a sender's run goes on across another participant's short messages (``RUN_ASIDE_WORDS`` words
    # at most: "what", "??", "who is this"), as a young person answers a threat being typed in pieces; a
    # longer message of theirs still ends it. False: any other sender's message ends a run (models trained
    # before 2026-12-03).
    run_asides: bool = False
    # Whether a message is also read in parts starting at "or", "unless" or "otherwise" (``message_clauses``),
    # as windows are, so a payment demand's consequence ("... or i send it to your family") is read as the threat
    # it is. False: not (models trained before 2026-12-02, night).
    read_clauses: bool = False
    # The fingerprints (``scoring.fingerprints``) of the conversations it was fitted, calibrated or thresholded on,
    # sorted: figures measured on those conversations say how well it fits them, not how it does on new ones
    # (``in_training``). None: not known (models trained before 2026-12-03, evening).
    trained_on: np.ndarray | None = field(default=None, compare=False, repr=False)

    def in_training(self, found: Mapping[str, int]) -> list[str] | None:
        """Which of the conversations whose ``fingerprints`` are ``found`` this model was trained on (None where that
        is not known)."""
        if self.trained_on is None:
            return None
        hit = np.isin(np.fromiter(found.values(), dtype=np.uint64, count=len(found)), self.trained_on)
        return [c for c, h in zip(found, hit.tolist(), strict=True) if h]

    @functools.cached_property
    def evidence_key(self) -> str:
        """What identifies the per-message model (featurizer, encoder's head, stage, text and role
        models): two models with the same key give every message the same evidence, so a conversation's
        running state from one means the same to the other. New thresholds or calibration keep it."""
        stage, digest = self.stage_model, hashlib.blake2b(digest_size=8)
        digest.update(f"{self.model_type}|{stage.link}|{stage.role_intercept!r}|{self.featurizer.n_features}".encode())
        if self.evidence_window:
            digest.update(f"|window {self.evidence_window}".encode())
        if self.drop_filler:
            digest.update(b"|without filler")
        if self.featurizer.chars_within_words:
            digest.update(b"|characters within words")
        if self.featurizer.vocabulary is not None:
            digest.update(json.dumps(self.featurizer.vocabulary.counts, sort_keys=True).encode())
            digest.update(" ".join(sorted(self.featurizer.vocabulary.words)).encode())
        if self.run_gap:
            digest.update(f"|runs {self.run_gap} {RUN_MESSAGES} {RUN_CHARS}".encode())
            if self.run_asides:
                digest.update(f"|asides {RUN_ASIDE_WORDS} {RUN_ASIDE_CHARS} {WORD.pattern} {RUN_OTHERS}".encode())
        if self.read_clauses:
            digest.update(f"|clauses {CLAUSE.pattern} {CLAUSE_WORDS} {WORD.pattern} {CLAUSE_CHARS}".encode())
        for array in (self.featurizer.idf, stage.coef, stage.intercept, stage.embed_coef, stage.text_coef,
                      stage.text_embed_coef, stage.role_coef, stage.role_embed_coef):
            digest.update(b"-" if array is None else np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()

    def evidence(self, texts: Sequence[str]) -> Evidence:
        """Per-message stage probabilities, text and role logits (the raw per-message model).

        With ``evidence_window``, each stage's probability in a long message is its largest over the whole
        message and its windows of words, and ``none`` what the stages leave of 1 (at least 0): a message's
        n-grams are scaled to unit length as a whole, so small talk beside a threat in the same message
        (" lol lol lol", a sentence about school) took the threat's evidence down with it. The text and role
        logits stay the whole message's.

        With ``read_clauses``, its parts from "or", "unless" or "otherwise" on are read as windows are.

        With ``drop_filler``, a message that is mostly filler is read without it, whole and in windows."""
        whole, texts = self._read_whole(texts, self.drop_filler)
        owners, windows = self._parts(texts)
        if not windows:
            return whole
        proba = whole.proba.copy()
        np.maximum.at(proba[:, 1:], np.array(owners), self._read_whole(windows, False)[0].proba[:, 1:])
        read = np.unique(owners)  # ``none`` again for the texts read in parts only (the others': as read whole)
        proba[read, 0] = np.maximum(1.0 - proba[read, 1:].sum(axis=1), 0.0)
        return Evidence(proba, whole.text, whole.role)

    def readings(self, texts: Sequence[str]) -> list[str | None]:
        """For each text, what its strongest risk-stage evidence was read from (``evidence``) where that is not the
        text as written: a window of its words, a part of it from "or" on, or the text less its filler, with words
        the vocabulary repaired as repaired ("s*nd it" as "send it"); None where it is the text itself. For
        explanations: a reviewer sees which words of a long, padded or misspelled message the model went by."""
        whole, read = self._read_whole(texts, self.drop_filler)
        best = list(read)
        owners, windows = self._parts(read)
        if windows:
            window_risk = self._read_whole(windows, False)[0].proba[:, 1:]
            combined = whole.proba[:, 1:].copy()  # as ``evidence`` combines them
            np.maximum.at(combined, np.array(owners), window_risk)
            stage = np.argmax(combined, axis=1)  # each message's strongest stage
            top = whole.proba[np.arange(len(texts)), 1 + stage]
            for owner, window, row in zip(owners, windows, window_risk, strict=True):
                if row[stage[owner]] > top[owner]:
                    top[owner], best[owner] = row[stage[owner]], window
        if (vocabulary := self.featurizer.vocabulary) is not None:
            normalized = normalize(best)
            best = [shown(repaired) if repaired != before else reading
                    for reading, before, repaired in zip(best, normalized, vocabulary.repair(normalized), strict=True)]
        return [None if reading is text else reading for reading, text in zip(best, texts, strict=True)]

    def _parts(self, texts: Sequence[str]) -> tuple[list[int], list[str]]:
        """The parts of ``texts`` read besides each whole text: its windows of words (``evidence_window``) and its
        clauses (``read_clauses``), with the position of the text each comes from."""
        owners, parts = message_windows(texts, self.evidence_window) if self.evidence_window else ([], [])
        if self.read_clauses:
            clause_owners, clauses = message_clauses(texts)
            owners, parts = owners + clause_owners, parts + clauses
        return owners, parts

    def _read_whole(self, texts: Sequence[str], drop_filler: bool) -> tuple[Evidence, Sequence[str]]:
        """``evidence`` of each text read whole, in chunks, and the texts as read: with ``drop_filler``, a text
        that is mostly filler is read without it (``text.without_filler``; only the texts that the featurizer's
        ``filler_rows`` picks out are read word by word, then read again). A text met more than once ("ok", "lol")
        is read once: a text's evidence does not depend on the others read with it."""
        distinct = dict.fromkeys(texts)
        if len(distinct) < len(texts):
            unique = list(distinct)
            position = {text: i for i, text in enumerate(unique)}
            where = np.fromiter((position[text] for text in texts), dtype=np.int64, count=len(texts))
            evidence, read = self._read_whole(unique, drop_filler)
            # a text read as it is stays the caller's own object (``readings`` tells them apart by identity)
            return (Evidence(evidence.proba[where], evidence.text[where], evidence.role[where]),
                    [text if read[i] is unique[i] else read[i] for text, i in zip(texts, where.tolist(), strict=True)])
        if len(texts) > CHUNK:
            parts = [self._read_whole(texts[i:i + CHUNK], drop_filler) for i in range(0, len(texts), CHUNK)]
            return (Evidence(np.vstack([p.proba for p, _ in parts]), np.concatenate([p.text for p, _ in parts]),
                             np.concatenate([p.role for p, _ in parts])), [t for _, read in parts for t in read])
        if drop_filler and not self.stage_model.uses_ngrams:  # no word columns to look at: read every text
            texts = without_filler(texts)
        features = self.featurizer.transform(texts) if self.stage_model.uses_ngrams else None
        embeddings = self.encoder.encode(texts) if self.encoder is not None else None
        evidence = self.stage_model.evidence(features, embeddings)
        if not drop_filler or features is None:
            return evidence, texts
        rows = self.featurizer.filler_rows(features).tolist()
        changed = {i: read for i, read in zip(rows, without_filler([texts[i] for i in rows]), strict=True)
                   if read is not texts[i]}
        if not changed:
            return evidence, texts
        again, _ = self._read_whole(list(changed.values()), False)
        at = np.array(list(changed))
        proba, text, role = evidence.proba.copy(), evidence.text.copy(), evidence.role.copy()
        proba[at], text[at], role[at] = again.proba, again.text, again.role
        return Evidence(proba, text, role), [changed.get(i, t) for i, t in enumerate(texts)]

    def stage_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Per-message stage probabilities, one row per text, columns in ``STAGES`` order."""
        return self.evidence(texts).proba

    def save(self, directory: str | Path) -> Path:
        """Write the model directory atomically (``model_files.save_model``): an existing model directory at
        ``directory`` is replaced, anything else there is refused."""
        from detection.model_files import save_model  # (model_files reads and writes this module's classes)

        return save_model(self, directory)
