import numpy as np
import pytest

from training.evaluate import choose_thresholds, latency_penalty, threshold_for_precision


def test_threshold_for_precision() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    labels = np.array([1, 1, 0, 1, 0, 0])
    assert threshold_for_precision(scores, labels, 1.0) == 0.8
    assert threshold_for_precision(scores, labels, 0.75) == 0.6
    assert threshold_for_precision(scores, np.zeros(6, int), 0.5) == 1.0


def test_ties_are_not_split() -> None:
    scores = np.array([0.9, 0.9, 0.5])
    labels = np.array([1, 0, 1])
    # a cut at 0.9 takes both tied rows (precision 1/2); at 0.5 all three (precision 2/3)
    assert threshold_for_precision(scores, labels, 0.6) == 0.5
    assert threshold_for_precision(scores, labels, 0.7) == 1.0


def test_levels_are_ordered() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 500)
    scores = np.clip(labels * 0.4 + rng.random(500) * 0.6, 0, 1)
    t = choose_thresholds(scores, labels, 0.95)
    assert t.low <= t.medium <= t.high <= t.critical and t.alert == t.high


def test_latency_penalty_is_half_at_median() -> None:
    assert latency_penalty(np.array([1.0]), 11.0)[0] == pytest.approx(0.0)
    assert latency_penalty(np.array([11.0]), 11.0)[0] == pytest.approx(0.5)
    assert latency_penalty(np.array([1000.0]), 11.0)[0] == pytest.approx(1.0)
