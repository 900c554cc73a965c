"""The risk model: message stage evidence plus a causal conversation model.

``StageModel`` (``stage_model``) gives each message's stage evidence, ``ConversationModel`` (``conversation_model``)
the risk after each message from the running features; ``RiskModel`` holds both with everything scoring needs,
and reads messages whole, in windows, in clauses and without filler. ``model_files`` saves a model as a
directory and loads it back, checked.
"""
from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from detection.conversation_model import ConversationModel
from detection.encoder import TextEncoder
from detection.features import CHUNK, MessageFeaturizer
from detection.policy import Thresholds
from detection.repair import shown
from detection.stage_model import (
    CLAUSE,
    CLAUSE_CHARS,
    CLAUSE_WORDS,
    WORD,
    Evidence,
    StageModel,
    message_clauses,
    message_windows,
)
from detection.text import normalize, without_filler

MAX_RUN_GAP = 3600  # seconds between two messages of one sender read together (``RiskModel.run_gap``)
RUN_MESSAGES = 4  # messages of a sender's run read together: the message and up to three before it
RUN_CHARS = 300  # of each earlier message of a run, its last this many characters are kept and read
# with ``RiskModel.run_asides``: another participant's message of at most this many words does not end a run
RUN_ASIDE_WORDS = 3
RUN_ASIDE_CHARS = 40  # nor of more than this many characters
RUN_OTHERS = 2  # the runs of up to this many other senders that a conversation's state keeps open


def valid_run_gap(seconds: object) -> bool:
    """Whether ``seconds`` can be a ``run_gap``: 0 (each message read alone) to ``MAX_RUN_GAP``, whole seconds."""
    return type(seconds) is int and 0 <= seconds <= MAX_RUN_GAP


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
    # The fingerprints (``messages.fingerprints``) of the conversations it was fitted, calibrated or thresholded on,
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
        from detection.model_save import save_model  # (model_save writes and model_files reads this module's classes)

        return save_model(self, directory)
