"""The risk model: message stage evidence plus a causal conversation model, saved as a directory.

A model directory holds ``model.json`` (config, labels, schema version, thresholds, metrics,
conversation-model weights and calibration) and ``arrays.npz`` (idf and stage weights, loaded
without pickle). A transformer model adds ``encoder/`` (an ONNX sentence encoder, see
``detection.encoder``) and stage weights over its embeddings. ``MODEL_CARD.md`` describes the
model for people. Loading checks the files against each other and fails loudly on any mismatch.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import hashlib
import json
import math
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from detection.encoder import EncoderError, TextEncoder
from detection.events import STAGES
from detection.features import CHUNK, FEATURE_NAMES, MessageFeaturizer
from detection.held import Held
from detection.policy import Thresholds
from detection.repair import Vocabulary, shown
from detection.text import normalize, without_filler

SCHEMA_VERSION = 5
# 2: before encoders and calibration; 3: before the text model; 4: before the text path.
# Each reads with the parts it lacks off.
READABLE_SCHEMAS = (2, 3, 4, 5)
TEXT_MEAN, LOG_MESSAGES = FEATURE_NAMES.index("text_mean"), FEATURE_NAMES.index("log_messages")
MLFLOW_SCHEMES = ("models:/", "runs:/", "mlflow-artifacts:/")
# the stage model's arrays a model may lack (a model without them reads with that part off)
OPTIONAL_ARRAYS = ("embed_coef", "text_coef", "text_embed_coef", "role_coef", "role_embed_coef")
_WORD_IN_VOCABULARY = re.compile(r"[a-z]+")
WORDS_FILE = "words.txt"  # a model's ``Vocabulary.words``, one a line


class ModelLoadError(Exception):
    """A model that cannot be found or does not describe itself correctly."""


class ModelSaveError(Exception):
    """A place a model directory cannot be written to without destroying something else."""


def check_model_target(directory: str | Path, probe: bool = False) -> Path:
    """``directory`` as a path a model may be saved to: absent, an empty directory, or a Riskline
    model directory (which the save replaces). Anything else (a file, a directory of other things)
    raises ``ModelSaveError``: replacing it would delete what the user keeps there.

    With ``probe``, its parent is also made (as the save would) and a directory made and removed
    beside it, so a place that cannot be written to is said before minutes of training, not after.
    """
    target = Path(directory)
    if probe:
        _staging(target).close()
    if not target.exists() and not target.is_symlink():
        return target
    if target.is_symlink():  # replacing it would replace the link, not what it points to
        raise ModelSaveError(f"{target}: a symbolic link; give the directory it points to, or another path")
    if not target.is_dir():
        raise ModelSaveError(f"{target}: exists and is not a directory; a model directory would replace it "
                             "(choose another path, or remove it first)")
    if any(target.iterdir()) and not (target / "model.json").is_file():
        raise ModelSaveError(f"{target}: a directory that is not a Riskline model directory (no model.json) "
                             "and not empty; saving would replace everything in it (choose another path)")
    return target


def _staging(target: Path) -> Held:
    """A new empty directory beside ``target`` (its parent made first), for a save to write into and rename,
    held while it does (one a save killed outright leaves is removed by the next save there); ``ModelSaveError``
    naming ``target`` where none can be made. It gets the usual mode (umask), not mkdtemp's private 0700: a
    model is read by whoever serves it."""
    above = next((p for p in target.absolute().parents if p.exists()), None)
    if above is not None and not above.is_dir():
        raise ModelSaveError(f"{target}: a model directory cannot be written there ({above} is not a directory)")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        return Held(target.parent, f".{target.name}.", folder=True)
    except OSError as exc:
        raise ModelSaveError(f"{target}: a model directory cannot be written there ({exc.strerror or exc})") from exc


def _set_aside(target: Path) -> Path:
    """Where a save that cannot exchange folders (``RiskModel.save``) moves the model at ``target`` meanwhile."""
    return target.with_name(f".{target.name}.old")


def _exchange(a: Path, b: Path) -> bool:
    """Swap the two existing paths ``a`` and ``b`` in one step (Linux ``renameat2`` with ``RENAME_EXCHANGE``),
    so that a process stopped at any moment, even by SIGKILL, leaves a whole model at each. False, with nothing
    changed, where the system or the file system cannot (not Linux, an older C library, a file system without
    it); any other failure is raised."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_cwd, rename_exchange = -100, 2
    if renameat2(at_cwd, os.fsencode(a), at_cwd, os.fsencode(b), rename_exchange) == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(error, os.strerror(error), str(b))


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
        """Write the model directory atomically (a temporary directory renamed into place).

        ``directory`` must pass ``check_model_target``: an existing model directory there is
        replaced, anything else is refused.
        """
        target = check_model_target(directory)
        old = _set_aside(target)
        # leaving the block removes what is at ``staging``: the replaced model, or (stopped) the unused new one
        with _staging(target) as staging:
            try:
                self._write(staging)
            except OSError as exc:  # a full disk, a quota: said of the model, not of a staging file
                raise ModelSaveError(f"{target}: the model could not be written ({exc.strerror or exc}); "
                                     "nothing there was replaced") from exc
            if not target.exists():
                os.replace(staging, target)
            elif not _exchange(staging, target):  # one step: no moment without a model at ``target``
                # a file system that cannot exchange: two renames, a moment with the old model aside
                if old.exists():
                    shutil.rmtree(old)
                os.replace(target, old)
                os.replace(staging, target)
        if old.exists():  # this save's, or left by one stopped between the two renames
            shutil.rmtree(old)
        return target

    def _write(self, staging: Path) -> None:
        """The model's files, written into the empty directory ``staging``."""
        assert self.featurizer.idf is not None
        arrays: dict[str, Any] = {"idf": self.featurizer.idf, "stage_coef": self.stage_model.coef,
                  "stage_intercept": self.stage_model.intercept}
        for name in OPTIONAL_ARRAYS:
            if getattr(self.stage_model, name) is not None:
                arrays[f"stage_{name}"] = getattr(self.stage_model, name)
        if self.stage_model.has_role:
            arrays["stage_role_intercept"] = np.array([self.stage_model.role_intercept])
        if self.trained_on is not None:
            arrays["trained_on"] = self.trained_on
        np.savez(staging / "arrays.npz", **arrays)
        if self.encoder is not None:
            shutil.copytree(self.encoder.directory, staging / "encoder")
        if self.card:
            (staging / "MODEL_CARD.md").write_text(self.card)
        vocabulary = self.featurizer.vocabulary
        if vocabulary is not None and vocabulary.words:
            (staging / WORDS_FILE).write_text("".join(f"{word}\n" for word in sorted(vocabulary.words)))
        conv = self.conversation_model
        meta = {
            "schema_version": SCHEMA_VERSION, "model_type": self.model_type,
            "model_version": self.model_version, "labels": list(STAGES), "stage_link": self.stage_model.link,
            "feature_names": list(FEATURE_NAMES), "n_features": self.featurizer.n_features,
            "chars_within_words": self.featurizer.chars_within_words,
            "conversation_model": {"weights": conv.weights.tolist(), "bias": conv.bias,
                                   "mean": conv.mean.tolist(), "scale": conv.scale.tolist(),
                                   "calibration": list(conv.calibration),
                                   "text_path": None if conv.text_path is None else asdict(conv.text_path)},
            "encoder": "encoder" if self.encoder is not None else None,
            "thresholds": self.thresholds.to_dict(), "metrics": self.metrics, "config": self.config,
            "evidence_window": self.evidence_window, "drop_filler": self.drop_filler, "run_gap": self.run_gap,
            "run_asides": self.run_asides, "read_clauses": self.read_clauses,
            "vocabulary": None if vocabulary is None else vocabulary.counts,
            "vocabulary_words": WORDS_FILE if vocabulary is not None and vocabulary.words else None,
        }
        (staging / "model.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")


def _read_directory(directory: Path) -> RiskModel:
    meta_path, arrays_path = directory / "model.json", directory / "arrays.npz"
    for required in (meta_path, arrays_path):
        if not required.is_file():
            raise ModelLoadError(f"{directory}: not a Riskline model directory (missing {required.name})")
    try:
        meta = json.loads(meta_path.read_text())
        with np.load(arrays_path, allow_pickle=False) as arrays:
            idf, coef, intercept = arrays["idf"], arrays["stage_coef"], arrays["stage_intercept"]
            optional = {name: arrays[f"stage_{name}"] if f"stage_{name}" in arrays.files else None
                        for name in (*OPTIONAL_ARRAYS, "role_intercept")}
            trained_on = arrays["trained_on"] if "trained_on" in arrays.files else None
    except (ValueError, KeyError, OSError) as exc:
        raise ModelLoadError(f"{directory}: unreadable model files ({exc})") from exc
    if meta.get("schema_version") not in READABLE_SCHEMAS:
        raise ModelLoadError(f"{directory}: schema version {meta.get('schema_version')!r}, "
                             f"this Riskline reads {READABLE_SCHEMAS}")
    names = meta.get("feature_names")
    # Features are only ever appended: an older model reads the new ones with weight 0.
    if meta.get("labels") != list(STAGES) or not isinstance(names, list) or names != list(FEATURE_NAMES[:len(names)]):
        raise ModelLoadError(f"{directory}: labels or feature names differ from this Riskline's")
    n_columns = MessageFeaturizer(int(meta["n_features"])).n_columns
    text_coef, role_coef, role_intercept = optional["text_coef"], optional["role_coef"], optional["role_intercept"]
    has_role = role_coef is not None or optional["role_embed_coef"] is not None
    if (idf.shape != (n_columns,) or coef.shape not in ((len(STAGES), n_columns), (len(STAGES), 0))
            or intercept.shape != (len(STAGES),)
            or any(c is not None and c.shape != (coef.shape[1],) for c in (text_coef, role_coef))
            or (has_role != (role_intercept is not None))
            or (role_intercept is not None and (role_intercept.shape != (1,) or not np.isfinite(role_intercept[0])))):
        raise ModelLoadError(f"{directory}: array shapes do not match the config")
    if trained_on is not None and (trained_on.dtype != np.uint64 or trained_on.ndim != 1
                                   or (trained_on[1:] <= trained_on[:-1]).any()):  # (unsigned: no np.diff)
        raise ModelLoadError(f"{directory}: trained_on must be increasing 64-bit fingerprints")
    encoder = _encoder(directory, meta, coef, optional)
    if meta.get("stage_link", "softmax") not in ("softmax", "ovr"):
        raise ModelLoadError(f"{directory}: unknown stage_link {meta.get('stage_link')!r}")
    card = directory / "MODEL_CARD.md"
    return RiskModel(
        featurizer=MessageFeaturizer(int(meta["n_features"]), idf,
                                     _flag(directory, "chars_within_words", meta.get("chars_within_words", False)),
                                     _vocabulary(directory, meta.get("vocabulary"), meta.get("vocabulary_words"))),
        stage_model=StageModel(coef, intercept, str(meta.get("stage_link", "softmax")), optional["embed_coef"],
                               text_coef, optional["text_embed_coef"], role_coef, optional["role_embed_coef"],
                               0.0 if role_intercept is None else float(role_intercept[0])),
        conversation_model=_conversation_model(directory, meta["conversation_model"], len(names)),
        thresholds=Thresholds.from_dict(meta["thresholds"]), model_version=str(meta["model_version"]),
        model_type=str(meta.get("model_type", "baseline")), metrics=meta.get("metrics", {}),
        config=meta.get("config", {}), encoder=encoder, card=card.read_text() if card.is_file() else "",
        evidence_window=_window(directory, meta.get("evidence_window", 0)),
        drop_filler=_flag(directory, "drop_filler", meta.get("drop_filler", False)),
        run_gap=_run_gap(directory, meta.get("run_gap", 0)),
        run_asides=_flag(directory, "run_asides", meta.get("run_asides", False)),
        read_clauses=_flag(directory, "read_clauses", meta.get("read_clauses", False)),
        trained_on=trained_on,
    )


def _vocabulary(directory: Path, value: Any, words_file: Any) -> Vocabulary | None:
    if value is None:
        return None
    if not (isinstance(value, dict) and all(isinstance(word, str) and _WORD_IN_VOCABULARY.fullmatch(word)
                                            and type(count) is int and count > 0 for word, count in value.items())):
        raise ModelLoadError(f"{directory}: vocabulary must map words of the letters a-z to counts of 1 or more")
    if words_file is None:
        return Vocabulary(value)
    if words_file != WORDS_FILE:
        raise ModelLoadError(f"{directory}: vocabulary_words must be {WORDS_FILE!r} or null, got {words_file!r}")
    try:
        words = (directory / WORDS_FILE).read_text().split()
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{directory}: unreadable {WORDS_FILE} ({exc})") from exc
    if bad := next((word for word in words if not _WORD_IN_VOCABULARY.fullmatch(word)), None):
        raise ModelLoadError(f"{directory}: {WORDS_FILE} must hold one word of the letters a-z a line, got {bad!r}")
    return Vocabulary(value, frozenset(words))


def _flag(directory: Path, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ModelLoadError(f"{directory}: {name} must be true or false, got {value!r}")
    return value


def _window(directory: Path, value: Any) -> int:
    if not valid_window(value):
        raise ModelLoadError(f"{directory}: evidence_window must be 0 or a whole number from 2 to {MAX_WINDOW}, "
                             f"got {value!r}")
    return value


def _run_gap(directory: Path, value: Any) -> int:
    if not valid_run_gap(value):
        raise ModelLoadError(f"{directory}: run_gap must be a whole number of seconds from 0 to {MAX_RUN_GAP}, "
                             f"got {value!r}")
    return value


def _encoder(directory: Path, meta: dict[str, Any], coef: np.ndarray,
             optional: dict[str, np.ndarray | None]) -> TextEncoder | None:
    """The model's encoder, checked against the stage, text and role weights over its embeddings."""
    embed_coef, text_embed, role_embed = (optional[n] for n in ("embed_coef", "text_embed_coef", "role_embed_coef"))
    if not meta.get("encoder"):
        if embed_coef is not None or text_embed is not None or role_embed is not None or coef.shape[1] == 0:
            raise ModelLoadError(f"{directory}: stage weights need an encoder, and the model has none")
        return None
    try:
        encoder = TextEncoder(directory / str(meta["encoder"]))
    except EncoderError as exc:
        raise ModelLoadError(f"{directory}: {exc}") from exc
    if (embed_coef is None or embed_coef.shape != (len(STAGES), encoder.dim)
            or any(e is not None and e.shape != (encoder.dim,) for e in (text_embed, role_embed))):
        raise ModelLoadError(f"{directory}: stage weights do not match the encoder's {encoder.dim} dimensions")
    return encoder


def _conversation_model(directory: Path, conv: dict[str, Any], n_saved: int) -> ConversationModel:
    """The conversation model, its arrays padded for features added after it was saved."""
    arrays = [np.asarray(conv[k], dtype=np.float64) for k in ("weights", "mean", "scale")]
    if any(a.shape != (n_saved,) for a in arrays):
        raise ModelLoadError(f"{directory}: conversation model does not match the feature names")
    pad = len(FEATURE_NAMES) - n_saved
    weights, mean, scale = (np.append(a, np.full(pad, fill)) for a, fill in zip(arrays, (0.0, 0.0, 1.0), strict=True))
    calibration = _platt(conv.get("calibration", [1.0, 0.0]))
    if calibration is None:
        raise ModelLoadError(f"{directory}: calibration must be [a > 0, b], got {conv.get('calibration')!r}")
    return ConversationModel(weights, float(conv["bias"]), mean, scale, calibration,
                             _text_path(directory, conv.get("text_path")))


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _platt(value: Any) -> tuple[float, float] | None:
    """A saved Platt scaling [a > 0, b] as a pair, or None if it is not one."""
    if not (isinstance(value, list) and len(value) == 2 and all(map(_finite, value)) and value[0] > 0):
        return None
    return float(value[0]), float(value[1])


def _text_path(directory: Path, saved: Any) -> TextPath | None:
    if saved is None:
        return None
    names = [f.name for f in fields(TextPath) if f.name != "calibration"]
    valid = (isinstance(saved, dict) and sorted(saved) == sorted([*names, "calibration"])
             and all(_finite(saved[n]) for n in names) and saved["prior"] >= 0)
    calibration = _platt(saved["calibration"]) if valid else None
    if calibration is None:
        raise ModelLoadError(f"{directory}: text_path must hold finite numbers {names} (prior >= 0) "
                             f"and a calibration [a > 0, b], got {saved!r}")
    return TextPath(**{n: float(saved[n]) for n in names}, calibration=calibration)


SOURCE_TREE = Path(__file__).resolve().parents[1]  # a source checkout, or (installed) site-packages


def default_model_path() -> Path:
    """The model used where none is named: ``./models/default``, else, running from a source checkout (as
    after ``make demo``), the checkout's ``models/default``."""
    local = Path("models/default")
    if (local / "model.json").is_file() or not (SOURCE_TREE / "pyproject.toml").is_file():
        return local
    return SOURCE_TREE / "models" / "default"


def missing_database(store_uri: str) -> Path | None:
    """The file of an MLflow ``sqlite:///`` store URI where there is none yet (else ``None``)."""
    if not store_uri.startswith("sqlite:///"):
        return None
    database = Path(store_uri.removeprefix("sqlite:///").split("?")[0]).absolute()
    return None if database.is_file() else database


def _from_mlflow(uri: str) -> Path:
    try:
        import mlflow
    except ImportError as exc:  # pragma: no cover - mlflow is a dependency
        raise ModelLoadError(f"{uri}: loading MLflow URIs needs the mlflow package") from exc
    store = mlflow.get_registry_uri() if uri.startswith("models:/") else mlflow.get_tracking_uri()
    if database := missing_database(store):  # MLflow would make an empty one, say so on stderr, then not find it
        raise ModelLoadError(f"{uri}: no MLflow database at {database} (set MLFLOW_TRACKING_URI, or run where "
                             "the model was registered)")
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
    except Exception as exc:  # MLflow raises many types for unknown names, versions and runs
        raise ModelLoadError(f"{uri}: cannot fetch from MLflow ({str(exc).splitlines()[0]})") from exc
    found = sorted(local.rglob("model.json"), key=lambda p: len(p.parts))
    if not found:
        raise ModelLoadError(f"{uri}: the MLflow artifact holds no Riskline model")
    return found[0].parent


def resolve_model_dir(source: str | Path | None = None) -> Path:
    """The local directory of a model given as a directory or an MLflow URI; ``None``: the one
    ``$RISKLINE_MODEL`` names, as either, else the default (``default_model_path``)."""
    if source is None and (named := os.environ.get("RISKLINE_MODEL")):
        try:
            return resolve_model_dir(named)
        except ModelLoadError as exc:
            raise ModelLoadError(f"RISKLINE_MODEL: {exc}") from None
    if source is None:
        path = default_model_path()
        if not (path / "model.json").is_file():
            raise ModelLoadError(f"no model named and none at {path}: pass --model DIR or an MLflow URI, or set "
                                 "RISKLINE_MODEL ('riskline train --data FILE --out DIR' makes one; in a source "
                                 "checkout, 'make model' makes the default)")
        return path.resolve()
    text = str(source)
    if text.startswith(MLFLOW_SCHEMES):
        return _from_mlflow(text)
    path = Path(text)
    if not path.exists():
        aside = _set_aside(path)
        if (aside / "model.json").is_file():  # a save stopped between its two renames (see ``RiskModel.save``)
            raise ModelLoadError(f"{path}: no such model directory; a save stopped midway left the model that was "
                                 f"there at {aside} (rename it back to {path.name}, or save again)")
        raise ModelLoadError(f"{path}: no such model directory")
    return path.resolve()


def load_model(source: str | Path | None = None) -> RiskModel:
    """Load a model from a directory, an MLflow URI, or (``None``) as ``resolve_model_dir`` finds it."""
    return _read_directory(resolve_model_dir(source))
