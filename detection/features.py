"""Features: hashed n-grams of each message, and running conversation features after each message.

``running_features`` works on many conversations at once. Rows are sorted by conversation and
time; each conversation is a contiguous segment whose aggregates continue from a seed (the
conversation's prior state). All sums and maxima are over integers, so the result does not depend
on how messages were split into batches.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from detection.events import EXTORTION_STAGES, RISK_STAGES
from detection.hashing import BLOCKS, hash_occurrences
from detection.repair import Vocabulary
from detection.state import N_RISK, QUANT, ConversationState
from detection.text import INTERJECTIONS, MIN_FILLER, REPEAT_MIN_TIMES, normalize

HALF = QUANT // 2
CHUNK = 16384  # messages featurised at once: hashing temporaries grow with the chunk, not the file
# Columns of the threat and payment-demand stages: one message often does both ("pay $300 or i send it to
# your family"), and its evidence is then split between them, neither reaching a half.
EXTORTION = [i for i, stage in enumerate(RISK_STAGES) if stage in EXTORTION_STAGES]
FEATURE_NAMES: tuple[str, ...] = (
    *(f"max_{i}" for i in range(N_RISK)), *(f"hits_{i}" for i in range(N_RISK)),
    "current_risk", "highest_stage", "n_stages", "log_hours", "log_messages", "driver_share",
    "media_after_request", "log_media", "log_hours_since_risk", "stages_per_hour", "text_mean",
    "current_extortion",
)  # only ever appended to: a saved model reads features added after it with weight 0


@dataclass(frozen=True)
class MessageFeaturizer:
    """Hashed word 1-2 grams and within-word character 3-5 grams of normalised text, idf-weighted.

    ``n_features`` is the width of each of the ``BLOCKS`` column blocks. Each occurrence of an
    n-gram weighs its idf; a row is divided by the L2 norm of its occurrences' weights. With
    ``chars_within_words`` punctuation breaks character n-grams as a space does (``hash_occurrences``), so
    that "pay." or "pay-300-in-gift-cards" reads as the words do; models saved before 2026-12-02 read
    punctuation into them.
    """

    n_features: int = 2**17
    idf: np.ndarray | None = None
    chars_within_words: bool = False
    vocabulary: Vocabulary | None = None

    @property
    def n_columns(self) -> int:
        return BLOCKS * self.n_features

    def occurrences(self, texts: Sequence[str]) -> sp.csr_matrix:
        """One entry per n-gram occurrence in the normalised texts, ``CHUNK`` texts hashed at a time
        (a text's row does not depend on the others, and hashing needs about 100 bytes a character)."""
        if len(texts) <= CHUNK:
            return self._hashed(self.read(texts))
        return sp.vstack([self._hashed(self.read(texts[i:i + CHUNK])) for i in range(0, len(texts), CHUNK)],
                         format="csr")

    def _hashed(self, read: Sequence[str]) -> sp.csr_matrix:
        """``occurrences`` of texts already ``read``, ``CHUNK`` at a time."""
        within = self.chars_within_words
        if len(read) <= CHUNK:  # one message, on the service's path: no stacking
            return hash_occurrences(read, self.n_features, chars_within_words=within)
        return sp.vstack([hash_occurrences(read[i:i + CHUNK], self.n_features, chars_within_words=within)
                          for i in range(0, len(read), CHUNK)], format="csr")

    def read(self, texts: Sequence[str]) -> list[str]:
        """``texts`` as n-grams are taken from them: normalised, and words repaired where there is a vocabulary."""
        normalized = normalize(texts)
        return normalized if self.vocabulary is None else self.vocabulary.repair(normalized)

    def with_vocabulary(self, texts: Sequence[str]) -> MessageFeaturizer:
        """This featurizer with a ``Vocabulary`` of ``texts`` (``repair``), before it is fitted."""
        return replace(self, vocabulary=Vocabulary.fit(normalize(texts)))

    def filler_rows(self, features: sp.csr_matrix) -> np.ndarray:
        """The rows of ``transform``'s ``features`` whose texts may be mostly filler (``text.without_filler``): two
        or more interjections, or a word that recurs in a long text. A quick look at their word columns (an
        interjection's column may be another word's too), so that only these texts are read word by word."""
        n_rows = features.shape[0]
        in_words = features.indices < self.n_features  # the word block; each occurrence its own entry
        rows = np.repeat(np.arange(n_rows), np.diff(features.indptr))[in_words]
        columns = features.indices[in_words]
        fillers = np.bincount(rows[_is_interjection_column(self.n_features)[columns]], minlength=n_rows)
        maybe = fillers >= MIN_FILLER
        # a column met REPEAT_MIN_TIMES in a row (its words as hashed, not as split at white space: any length)
        enough = (np.bincount(rows, minlength=n_rows) >= REPEAT_MIN_TIMES)[rows]
        pairs, counts = np.unique(rows[enough] * np.int64(self.n_columns) + columns[enough], return_counts=True)
        maybe[pairs[counts >= REPEAT_MIN_TIMES] // self.n_columns] = True
        return np.flatnonzero(maybe)

    def fit(self, texts: Sequence[str]) -> MessageFeaturizer:
        """A featurizer with idf learned from ``texts`` (smoothed, as in scikit-learn)."""
        return self._fitted(self.occurrences(texts))

    def fit_transform(self, texts: Sequence[str], *, repair: bool = False) -> tuple[MessageFeaturizer, sp.csr_matrix]:
        """``fit(texts)`` and its ``transform(texts)``, normalising and hashing the texts once; with ``repair``, with
        a vocabulary of ``texts`` first (``with_vocabulary``), from the same normalised texts."""
        if repair:
            normalized = normalize(texts)
            featurizer = replace(self, vocabulary=Vocabulary.fit(normalized))
            assert featurizer.vocabulary is not None
            matrix = featurizer._hashed(featurizer.vocabulary.repair(normalized))
            fitted = featurizer._fitted(matrix.copy())
            return fitted, fitted._weighted(matrix)
        matrix = self.occurrences(texts)
        fitted = self._fitted(matrix.copy())
        return fitted, fitted._weighted(matrix)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Feature rows for ``texts``."""
        if self.idf is None:
            raise ValueError("featurizer is not fitted")
        return self._weighted(self.occurrences(texts))

    def _fitted(self, present: sp.csr_matrix) -> MessageFeaturizer:
        present.sum_duplicates()  # document frequency counts a message once per n-gram
        df = np.bincount(present.indices, minlength=self.n_columns)
        idf = np.log((1 + present.shape[0]) / (1 + df)) + 1.0
        return MessageFeaturizer(self.n_features, idf.astype(np.float64), self.chars_within_words, self.vocabulary)

    def _weighted(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        """``occurrences`` rows weighted by idf, each row divided by its L2 norm (in place)."""
        assert self.idf is not None
        matrix.data = self.idf[matrix.indices]
        rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
        norms = np.sqrt(np.bincount(rows, weights=matrix.data**2, minlength=matrix.shape[0]))
        norms[norms == 0] = 1.0
        matrix.data /= norms[rows]
        return matrix


@dataclass(frozen=True)
class Seeds:
    """Prior state per segment (``*_seg``) and, per row, the prior mass of the row's sender."""

    n_messages: np.ndarray
    first_ts: np.ndarray
    stage_max: np.ndarray
    stage_hits: np.ndarray
    first_risk_ts: np.ndarray
    top_mass: np.ndarray
    total_mass: np.ndarray
    n_media: np.ndarray
    media_after_request: np.ndarray
    text_sum: np.ndarray
    sender_mass_row: np.ndarray

    @classmethod
    def of(cls, priors: Sequence[ConversationState], starts: np.ndarray, sender_id: Sequence[str]) -> Seeds:
        """The seeds of conversations that begin at rows ``starts`` from their prior states; ``sender_id``: each
        row's sender."""
        nan = float("nan")
        n = len(sender_id)
        masses = [dict(p.sender_mass) for p in priors]
        if any(masses):
            seg_of_row = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, n))).tolist()
            sender_mass_row = np.fromiter((masses[s].get(sender, 0) for s, sender in zip(seg_of_row, sender_id,
                                                                                         strict=True)),
                                          dtype=np.int64, count=n)
        else:  # new conversations only, as in batch
            sender_mass_row = np.zeros(n, dtype=np.int64)
        return cls(
            n_messages=np.array([p.n_messages - p.restarted_at for p in priors], dtype=np.int64),
            first_ts=np.array([nan if p.first_ts is None else p.first_ts for p in priors]),
            stage_max=np.array([p.stage_max for p in priors], dtype=np.int64).reshape(-1, N_RISK),
            stage_hits=np.array([p.stage_hits for p in priors], dtype=np.int64).reshape(-1, N_RISK),
            first_risk_ts=np.array([nan if p.first_risk_ts is None else p.first_risk_ts for p in priors]),
            top_mass=np.array([max((m for _, m in p.sender_mass), default=0) for p in priors], dtype=np.int64),
            total_mass=np.array([sum(m for _, m in p.sender_mass) for p in priors], dtype=np.int64),
            n_media=np.array([p.n_media for p in priors], dtype=np.int64),
            media_after_request=np.array([p.media_after_request for p in priors], dtype=bool),
            text_sum=np.array([p.text_sum for p in priors], dtype=np.int64),
            sender_mass_row=sender_mass_row,
        )


@dataclass(frozen=True)
class Running:
    """Running aggregates after each row, and the feature matrix built from them."""

    features: np.ndarray
    stage_max: np.ndarray
    stage_hits: np.ndarray
    first_risk_ts: np.ndarray
    sender_mass: np.ndarray
    n_media: np.ndarray
    media_after_request: np.ndarray
    text_sum: np.ndarray
    index: np.ndarray


def segment_ids(starts: np.ndarray, n: int) -> np.ndarray:
    """Segment number of each row, from the segments' start rows."""
    return np.repeat(np.arange(len(starts)), np.diff(np.append(starts, n)))


def seg_cumsum(values: np.ndarray, starts: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """Cumulative sum of integers restarting at each segment."""
    total = np.cumsum(values, axis=0)
    before = total[starts] - values[starts]
    return total - before[seg]


def seg_cummax(values: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """Cumulative maximum of non-negative integers restarting at each segment."""
    span = int(values.max(initial=0)) + 1
    offset = (seg * span).reshape((-1,) + (1,) * (values.ndim - 1))
    return np.maximum.accumulate(values + offset, axis=0) - offset


def group_cumsum(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Cumulative sum of integers within arbitrary groups, in row order."""
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    result = np.empty_like(values)
    result[order] = seg_cumsum(values[order], starts, segment_ids(starts, len(values)))
    return result


def running_features(risk: np.ndarray, text: np.ndarray, ts: np.ndarray, sender: np.ndarray, media: np.ndarray,
                     starts: np.ndarray, seeds: Seeds) -> Running:
    """Running aggregates and features for each row.

    ``risk`` is (n, 6) quantised stage evidence and ``text`` the quantised text-model logit per row.
    """
    n = len(ts)
    seg = segment_ids(starts, n)
    mass = risk.sum(axis=1)
    index = seeds.n_messages[seg] + np.arange(n) - starts[seg]
    stage_max = np.maximum(seg_cummax(risk, seg), seeds.stage_max[seg])
    stage_hits = seg_cumsum(np.asarray(risk >= HALF, dtype=np.int64), starts, seg) + seeds.stage_hits[seg]
    own = group_cumsum(mass, seg * (int(sender.max(initial=0)) + 1) + sender) + seeds.sender_mass_row
    top = np.maximum(seg_cummax(own, seg), seeds.top_mass[seg])
    total = seg_cumsum(mass, starts, seg) + seeds.total_mass[seg]
    first_ts = np.where(np.isnan(seeds.first_ts), ts[starts], seeds.first_ts)[seg]
    flagged = (risk >= HALF).any(axis=1)
    first_flag = np.asarray(np.minimum.reduceat(np.where(flagged, np.arange(n), n), starts)) if n else starts
    seen_flag = seg_cumsum(np.asarray(flagged, dtype=np.int64), starts, seg) > 0
    own_first = np.where(seen_flag, ts[np.minimum(first_flag, n - 1)][seg], np.nan)
    first_risk_ts = np.where(np.isnan(seeds.first_risk_ts[seg]), own_first, seeds.first_risk_ts[seg])
    n_media = seg_cumsum(media.astype(np.int64), starts, seg) + seeds.n_media[seg]
    requested = stage_max[:, 3] >= HALF  # the "sexual" stage: a request for images seen so far
    mar = np.maximum(seg_cummax((media & requested).astype(np.int64), seg),
                     seeds.media_after_request[seg].astype(np.int64))
    detected = stage_max >= HALF
    highest = np.where(detected.any(axis=1), N_RISK - np.argmax(detected[:, ::-1], axis=1), 0)
    hours = np.maximum(ts - first_ts, 0.0) / 3600.0
    since_risk = np.where(np.isnan(first_risk_ts), 0.0, np.maximum(ts - first_risk_ts, 0.0) / 3600.0)
    n_detected = detected.sum(axis=1)
    text_sum = seg_cumsum(text, starts, seg) + seeds.text_sum[seg]
    features = np.column_stack([
        stage_max / QUANT, np.log1p(stage_hits), mass / QUANT, highest / N_RISK, n_detected / N_RISK,
        np.log1p(hours), np.log1p(index + 1), np.where(total > 0, top / np.maximum(total, 1), 0.0),
        mar, np.log1p(n_media), np.log1p(since_risk), n_detected / (1.0 + hours), text_sum / QUANT / (index + 1),
        risk[:, EXTORTION].sum(axis=1) / QUANT,
    ])
    return Running(features, stage_max, stage_hits, first_risk_ts, own, n_media, mar.astype(bool), text_sum, index)


@functools.cache
def _is_interjection_column(width: int) -> np.ndarray:
    """Which word columns are an interjection's (normalised already), hashed: a mask over the ``width`` of
    them, looked up in one step per occurrence (``np.isin`` sorted the interjections' columns at each call,
    a good part of a lone message's time)."""
    occurrences = hash_occurrences(sorted(INTERJECTIONS), width)
    mask = np.zeros(width, dtype=bool)
    mask[occurrences.indices[occurrences.indices < width]] = True
    return mask
