"""Group-aware running aggregates against plain per-conversation loops; running features by hand."""

import numpy as np
import pytest

from detection.events import MessageEvent
from detection.features import (
    EXTORTION,
    FEATURE_NAMES,
    Seeds,
    group_cumsum,
    running_features,
    seg_cummax,
    seg_cumsum,
    segment_ids,
)
from detection.state import N_RISK, QUANT, ConversationState


@pytest.mark.parametrize("seed", range(5))
def test_segment_operations_match_loops(seed: int) -> None:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 9, size=30)
    starts = np.r_[0, np.cumsum(lengths)[:-1]]
    n = int(lengths.sum())
    values = rng.integers(0, 65537, size=n)
    seg = segment_ids(starts, n)
    groups = seg * 3 + rng.integers(0, 3, size=n)
    cummax, cumsum, gsum = seg_cummax(values, seg), seg_cumsum(values, starts, seg), group_cumsum(values, groups)
    for s, (a, length) in enumerate(zip(starts, lengths, strict=True)):
        part = values[a:a + length]
        assert (cummax[a:a + length] == np.maximum.accumulate(part)).all()
        assert (cumsum[a:a + length] == np.cumsum(part)).all()
        assert s == seg[a]
    for g in np.unique(groups):
        rows = np.flatnonzero(groups == g)
        assert (gsum[rows] == np.cumsum(values[rows])).all()


def test_current_extortion_adds_threat_and_payment_evidence_of_this_message_only() -> None:
    # one message that both threatens and demands payment: evidence split 0.35 / 0.42, neither a half
    risk = np.zeros((3, N_RISK), dtype=np.int64)
    risk[1, EXTORTION[0]], risk[1, EXTORTION[1]] = int(0.35 * QUANT), int(0.42 * QUANT)
    risk[2, 0] = QUANT // 4  # a later message with flattery only
    events = [MessageEvent("c", f"c-{i}", "ab"[i // 2], 60.0 * i, "text") for i in range(3)]
    starts = np.array([0])
    run = running_features(risk, np.zeros(3, dtype=np.int64), np.array([e.timestamp for e in events]),
                           np.array([0, 0, 1]), np.zeros(3, dtype=bool), starts,
                           Seeds.of([ConversationState("c")], starts, [e.sender_id for e in events]))
    column = run.features[:, FEATURE_NAMES.index("current_extortion")]
    assert column == pytest.approx([0.0, 0.77, 0.0], abs=1e-4)
    assert run.features[1, FEATURE_NAMES.index("n_stages")] == 0  # neither stage counts as detected


def test_texts_are_hashed_in_chunks_with_the_same_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Training featurises every message at once; hashing needs about 100 bytes a character, so
    texts are hashed CHUNK at a time, and the matrix must be the one hashed in one go."""
    import detection.features
    from detection.features import MessageFeaturizer
    from detection.hashing import hash_occurrences
    from detection.text import normalize

    texts = [f"msg {i} s e n d a p1c {'x' * (i % 5)}" for i in range(50)] + ["", "\u3000wide", "$20 now"]
    whole = hash_occurrences(normalize(texts), 64)
    monkeypatch.setattr(detection.features, "CHUNK", 7)
    chunked = MessageFeaturizer(64).occurrences(texts)
    assert chunked.shape == whole.shape and (chunked != whole).nnz == 0
    assert np.array_equal(chunked.indptr, whole.indptr) and np.array_equal(chunked.indices, whole.indices)
