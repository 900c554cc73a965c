from pathlib import Path

import pytest

from detection.policy import EscalationPolicy, Thresholds

T = Thresholds(low=0.1, medium=0.3, high=0.6, critical=0.9, alert=0.6)


def test_default_policy_acts_on_high_and_critical() -> None:
    policy = EscalationPolicy.load(None)
    assert policy.actions["high"]["action"] == "nudge_and_friction"
    assert any("Take It Down" in r["name"] for r in policy.actions["high"]["resources"])
    assert policy.actions["critical"]["action"] == "human_review"


def test_hysteresis_keeps_a_hovering_score_from_flapping() -> None:
    policy = EscalationPolicy({"high": {"action": "nudge"}}, hysteresis=0.05)
    level, seen = "none", []
    for score in (0.61, 0.58, 0.62, 0.56, 0.59, 0.54, 0.2):
        level = policy.next_level(T, level, score)
        seen.append(level)
    assert seen == ["high", "high", "high", "high", "high", "medium", "low"]


def test_a_score_at_a_threshold_reaches_its_level_and_one_hysteresis_below_holds_it() -> None:
    """The edges: a threshold is the first score of its level (as the alert threshold is the first score
    that alerts), and a score exactly ``hysteresis`` under the level held keeps it; a hair lower leaves it."""
    assert [T.level(s) for s in (0.0, 0.1, 0.3, 0.6, 0.9, 1.0)] == ["none", "low", "medium", "high", "critical",
                                                                   "critical"]
    assert [T.level(s) for s in (0.0999, 0.2999, 0.5999, 0.8999)] == ["none", "low", "medium", "high"]
    policy = EscalationPolicy({"high": {"action": "nudge"}}, hysteresis=0.25)
    assert policy.next_level(T, "high", 0.35) == "high"  # 0.6 - 0.25, exactly (both exact in binary)
    assert policy.next_level(T, "high", 0.3499) == "medium"


def test_thresholds_and_hysteresis_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="must lie in"):
        Thresholds(low=0.1, medium=0.3, high=0.6, critical=1.2, alert=0.6)
    with pytest.raises(ValueError, match="must lie in"):
        Thresholds(low=0.1, medium=0.3, high=0.6, critical=0.9, alert=-0.1)
    with pytest.raises(ValueError, match="must not decrease"):
        Thresholds(low=0.1, medium=0.6, high=0.3, critical=0.9, alert=0.6)
    Thresholds(low=0.0, medium=0.5, high=0.5, critical=1.0, alert=1.0)  # equal neighbours, the ends: taken
    EscalationPolicy({}, hysteresis=0.0)
    with pytest.raises(ValueError, match=r"hysteresis must be in \[0, 0.5\), got 0.5"):
        EscalationPolicy({}, hysteresis=0.5)
    with pytest.raises(ValueError, match="hysteresis must be in"):
        EscalationPolicy({}, hysteresis=-0.01)


def test_each_level_fires_once_and_jumps_fire_the_levels_below() -> None:
    policy = EscalationPolicy.load(None)
    assert policy.due("critical", frozenset()) == ["high", "critical"]
    assert policy.due("critical", frozenset({"high"})) == ["critical"]
    assert policy.due("high", frozenset({"high"})) == []
    assert policy.due("medium", frozenset()) == []


def test_yaml_policy_and_its_errors(tmp_path: Path) -> None:
    good = tmp_path / "p.yaml"
    good.write_text("hysteresis: 0.1\nlevels:\n  medium: {action: soft_nudge}\n")
    policy = EscalationPolicy.load(good)
    assert policy.due("high", frozenset()) == ["medium"] and policy.hysteresis == 0.1
    for text, message in (("levels:\n  severe: {action: x}\n", "unknown level"),
                          ("levels:\n  high: {}\n", "needs an 'action'"),
                          ("levels:\n  high: {action: '  '}\n", "needs an 'action'"),  # before: taken, blank
                          ("hysteresis: 0.7\nlevels: {}\n", "hysteresis"),
                          ("[1, 2]\n", "expected a mapping"),
                          # before: accepted, a service that never intervenes (the level is not under levels)
                          ("hysteresis: 0.1\nhigh: {action: human_review}\n", "expected a mapping with a 'levels'"),
                          ("levels: {}\nhigh: {action: human_review}\n",
                           r"^.*bad.yaml: policy: unknown key\(s\) \['high'\]; a policy holds 'levels'"),
                          ("hysteresis: small\nlevels: {}\n", "hysteresis must be a number in .*, got 'small'"),
                          ("levels: [\n", r"bad.yaml: line 2, column 1: not valid YAML for the policy \("),
                          # before: the second 'high' replaced the first, as PyYAML keeps a key's last value
                          ("levels:\n  high: {action: human_review}\n  high: {action: nudge}\n",
                           r"bad.yaml: line 3, column 3: not valid YAML for the policy \('high' given twice in one "
                           r"mapping: which value is meant is not clear\)$"),
                          # before: accepted, and every message reaching the level then failed (a 503) for ever
                          ("levels:\n  high: {action: review, due: 2026-01-01}\n",
                           r"level 'high', due: 2026-01-01 \(read as a date\), which an intervention's JSON cannot"),
                          ("levels:\n  high: {action: review, resources: [{name: x, weight: .nan}]}\n",
                           r"level 'high', resources: nan \(not a finite number\)")):
        bad = tmp_path / "bad.yaml"
        bad.write_text(text)
        with pytest.raises(ValueError, match=message):
            EscalationPolicy.load(bad)


def test_a_level_may_take_another_levels_keys_by_a_yaml_merge(tmp_path: Path) -> None:
    """A merged mapping's keys may be overridden: the refusal of a key given twice leaves merges be."""
    merged = tmp_path / "merged.yaml"
    merged.write_text("levels:\n  high: &h {action: human_review, queue: t1}\n  critical:\n    <<: *h\n"
                      "    action: suspect_friction\n")
    assert EscalationPolicy.load(merged).actions == {"high": {"action": "human_review", "queue": "t1"},
                                                      "critical": {"action": "suspect_friction", "queue": "t1"}}


def test_shipped_example_is_the_default() -> None:
    example = Path(__file__).resolve().parents[2] / "docs" / "policy.example.yaml"
    assert EscalationPolicy.load(example) == EscalationPolicy.load(None)
