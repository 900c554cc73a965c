"""Group-aware running aggregates against plain per-conversation loops."""

import numpy as np
import pytest

from detection.features import group_cumsum, seg_cummax, seg_cumsum, segment_ids


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
