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


def test_running_features_of_a_conversation_by_hand() -> None:
    """Every running feature after each message of one conversation, worked out by hand: two senders over three
    hours, media sent before a request for images and after it, stages reached one after another."""
    h = 3600.0
    ts = np.array([0.0, 600.0, 1800.0, h, 2 * h, 3 * h])
    stages = {"rapport": 0, "isolation": 2, "sexual": 3, "coercion": 4}
    risk = np.zeros((6, N_RISK), dtype=np.int64)
    for row, stage, value in [(0, "rapport", QUANT // 4), (1, "rapport", QUANT // 4), (2, "isolation", QUANT // 2),
                              (3, "sexual", QUANT // 2), (5, "coercion", 3 * QUANT // 4)]:
        risk[row, stages[stage]] = value
    text = np.array([1, -1, 0, 2, 0, 1], dtype=np.int64) * QUANT  # the text model's logits
    sender = np.array([0, 1, 0, 0, 1, 0])  # a, b, a, a, b, a
    media = np.array([True, False, True, False, True, False])  # the first two before any request
    starts = np.array([0])
    run = running_features(risk, text, ts, sender, media, starts,
                           Seeds.of([ConversationState("c")], starts, ["ab"[s] for s in sender]))
    hours = np.array([0, 1 / 6, 0.5, 1, 2, 3])
    n_stages = np.array([0, 0, 1, 2, 2, 3])
    a, b = np.cumsum([0.25, 0, 0.5, 0.5, 0, 0.75]), np.cumsum([0, 0.25, 0, 0, 0, 0])
    expected = {
        "max_0": [0.25] * 6, "max_2": [0, 0, 0.5, 0.5, 0.5, 0.5], "max_3": [0, 0, 0, 0.5, 0.5, 0.5],
        "max_4": [0, 0, 0, 0, 0, 0.75], "max_1": [0] * 6, "max_5": [0] * 6,
        "hits_2": np.log1p([0, 0, 1, 1, 1, 1]), "hits_3": np.log1p([0, 0, 0, 1, 1, 1]),
        "hits_4": np.log1p([0, 0, 0, 0, 0, 1]), "hits_0": [0] * 6,
        "current_risk": [0.25, 0.25, 0.5, 0.5, 0, 0.75],
        "highest_stage": np.array([0, 0, 3, 4, 4, 5]) / N_RISK,  # isolation is the third risk stage
        "n_stages": n_stages / N_RISK,
        "log_hours": np.log1p(hours),
        "log_messages": np.log1p(np.arange(1, 7)),
        "driver_share": np.maximum(a, b) / (a + b),
        "media_after_request": [0, 0, 0, 0, 1, 1],  # the sexual stage's request at the fourth, media at the fifth
        "log_media": np.log1p([1, 1, 2, 2, 3, 3]),
        "log_hours_since_risk": np.log1p([0, 0, 0, 0.5, 1.5, 2.5]),  # from the first evidence of a half exactly
        "stages_per_hour": n_stages / (1 + hours),
        "text_mean": np.array([1, 0, 0, 2, 2, 3]) / np.arange(1, 7),
        "current_extortion": [0, 0, 0, 0, 0, 0.75],
    }
    for name, values in expected.items():
        got = run.features[:, FEATURE_NAMES.index(name)]
        assert got == pytest.approx(np.asarray(values, dtype=float), abs=1e-9), name
    assert run.features.shape == (6, len(FEATURE_NAMES))
    assert run.sender_mass.tolist() == [QUANT // 4 * m for m in (1, 1, 3, 5, 1, 8)]
    assert run.media_after_request.tolist() == [False, False, False, False, True, True]
    assert run.first_risk_ts[2:].tolist() == [1800.0] * 4 and np.isnan(run.first_risk_ts[:2]).all()
