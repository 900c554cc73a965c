from dataclasses import replace

import numpy as np
import pytest

from detection.events import MessageEvent
from detection.policy import Thresholds
from detection.scoring import RiskScore, StepScores
from training.attribution import offenders_identified
from training.curves import (
    at_cuts,
    average_precision,
    choose_thresholds,
    false_alerts_allowed,
    interval_text,
    intervals,
    roc_auc,
    threshold_for_false_alerts,
    threshold_for_precision,
)
from training.data import LabelledData
from training.evaluate import earliness_by_budget, evaluate_results, latency_penalty


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


def test_areas_under_the_curves_are_scikit_learns() -> None:
    """``roc_auc`` and ``average_precision`` (written here: importing scikit-learn's took most of
    ``riskline evaluate``'s time) against scikit-learn's, with ties and without, and the points the
    report's precision-recall curve draws against ``precision_recall_curve``'s."""
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

    rng = np.random.default_rng(5)
    for n, levels in [(7, 3), (200, 5), (500, 0), (1000, 40)]:  # levels: how many distinct scores (0: any)
        labels = rng.integers(0, 2, n)
        labels[:2] = [0, 1]
        raw = labels * 0.3 + rng.random(n)
        scores = np.round(raw * levels) / levels if levels else raw
        assert roc_auc(scores, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
        assert average_precision(scores, labels) == pytest.approx(average_precision_score(labels, scores), abs=1e-12)
        precision, recall, cuts = precision_recall_curve(labels, scores)  # lowest cut first, then (1, 0)
        mine, hits, alerted = at_cuts(scores, labels)
        assert list(mine) == list(cuts[::-1])
        assert list(hits / alerted) == pytest.approx(list(precision[-2::-1]))
        assert list(hits / hits[-1]) == pytest.approx(list(recall[-2::-1]))
    assert roc_auc(np.array([0.2, 0.2, 0.9]), np.array([0, 1, 1])) == 0.75  # a tied pair counts half
    assert average_precision(np.array([0.9, 0.8, 0.1]), np.array([0, 1, 1])) == pytest.approx((1 / 2 + 2 / 3) / 2)


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


def _labelled(conversations: dict[str, list[str]]) -> LabelledData:
    events, stages = [], []
    for cid, plan in conversations.items():
        for i, stage in enumerate(plan):
            events.append(MessageEvent(cid, f"{cid}-{i}", "a", 1000.0 + i, "text"))
            stages.append(stage)
    return LabelledData(events, {cid: 1 for cid in conversations}, stages)


def _alerted(cid: str, n: int, index: int) -> RiskScore:
    return RiskScore(cid, n, 0.9, "high", True, index, f"{cid}-{index}", "payment", "a", [], "test")


def test_earliness_counts_threat_first_extortion_apart() -> None:
    data = _labelled({
        "groomed": ["none", "rapport", "sexual", "coercion", "payment"],
        "groomed_late": ["rapport", "isolation", "coercion"],
        "direct": ["coercion", "payment", "payment"],
    })
    results = [_alerted("groomed", 5, 2), _alerted("groomed_late", 3, 2), _alerted("direct", 3, 1)]
    thresholds = Thresholds(low=0.1, medium=0.2, high=0.5, critical=0.95, alert=0.5)
    metrics = evaluate_results(results, data, thresholds)
    # "groomed" alerted at the request, before its threat; "groomed_late" at the threat; "direct" after it
    assert metrics["alerted_before_threat"] == pytest.approx(1 / 3)
    assert metrics["alerted_before_threat_groomed"] == pytest.approx(1 / 2)
    assert metrics["n_groomed_before_threat"] == 2 and metrics["n_with_threat_stage"] == 3
    # where the rest alerted: at the threat, or how long after it (messages a second apart here)
    assert metrics["alerted_at_threat"] == metrics["alerted_after_threat"] == pytest.approx(1 / 3)
    assert metrics["median_messages_after_threat"] == 1.0
    assert metrics["median_minutes_after_threat"] == pytest.approx(1 / 60)
    late = evaluate_results([*results[:2], _alerted("direct", 3, 2)], data, thresholds)
    assert late["median_messages_after_threat"] == 2.0 and late["median_minutes_after_threat"] == pytest.approx(2 / 60)
    silent = evaluate_results(results[:2], data.subset({"groomed", "groomed_late"}), thresholds)
    assert silent["alerted_after_threat"] == 0.0 and silent["median_messages_after_threat"] is None


def test_messages_to_alert_and_latency_weighted_f1_count_positives_alerts_only() -> None:
    """Messages to alert counts the alert's own message (an alert at index 1 came after 2 messages), and its
    median is the speed latency-weighted F1 takes; a false alert, however early, makes neither look faster (it
    lowers F1 instead)."""
    data = _labelled({c: ["none", "rapport", "coercion", "payment"] for c in ("p1", "p2", "p3", "p4", "n1", "n2")})
    data = LabelledData(data.events, {"p1": 1, "p2": 1, "p3": 1, "p4": 1, "n1": 0, "n2": 0}, data.stages)
    quiet = [RiskScore(c, 4, 0.1, "low", False, None, None, "none", "a", [], "test") for c in ("p4", "n2")]
    results = [_alerted("p1", 4, 1), _alerted("p2", 4, 2), _alerted("p3", 4, 3), _alerted("n1", 4, 0), *quiet]
    metrics = evaluate_results(results, data, Thresholds(low=0.1, medium=0.2, high=0.5, critical=0.95, alert=0.5))
    assert metrics["median_messages_to_alert"] == 3.0  # after 2, 3 and 4 messages; n1's 1 not among them
    f1 = 2 * 3 / (2 * 3 + 1 + 1)  # 3 true alerts, 1 false, 1 missed
    speed = 1 - float(latency_penalty(np.array([3.0]), 4.0)[0])  # the median alert's: 4 the median length
    assert metrics["f1"] == pytest.approx(f1) and metrics["latency_weighted_f1"] == pytest.approx(f1 * speed)


def test_figures_a_set_of_one_class_cannot_measure_are_none_not_0() -> None:
    """Hard negatives alone (a false-alarm benchmark), or positives alone: before, precision, recall and F0.5 of 0.000
    for the first, and a false-alert rate of 0.000 for the second, read as measured."""
    thresholds = Thresholds(low=0.1, medium=0.2, high=0.5, critical=0.95, alert=0.5)
    negatives = _labelled({"a": ["none", "none"], "b": ["none"]})
    negatives = LabelledData(negatives.events, {"a": 0, "b": 0}, negatives.stages)
    quiet = RiskScore("b", 1, 0.1, "low", False, None, None, "none", "a", [], "test")
    calm = evaluate_results([replace(_alerted("a", 2, 1), risk_score=0.2, alert=False), quiet], negatives, thresholds)
    assert [calm[k] for k in ("precision", "recall", "f0_5", "f1", "latency_weighted_f1", "false_alert_rate")] == \
        [None, None, None, None, None, 0.0]
    noisy = evaluate_results([_alerted("a", 2, 1), quiet], negatives, thresholds)  # one alert, and it is false
    assert (noisy["precision"], noisy["recall"], noisy["f0_5"], noisy["false_alert_rate"]) == (0.0, None, None, 0.5)
    positives = _labelled({"c": ["none", "coercion"]})
    alone = evaluate_results([_alerted("c", 2, 1)], positives, thresholds)
    assert (alone["precision"], alone["recall"], alone["f0_5"], alone["false_alert_rate"]) == (1.0, 1.0, 1.0, None)


def test_a_false_alert_budget_allows_what_its_rate_says_despite_float_rounding() -> None:
    """0.29 of 100 negatives is 29 in decimal and 28.999999999999996 in floating point: 29 may alert."""
    assert false_alerts_allowed(100, 0.29) == 29 and false_alerts_allowed(100, 0.07) == 7
    assert false_alerts_allowed(99, 0.01) == 0 and false_alerts_allowed(100, 0.01) == 1
    scores = np.r_[np.linspace(0.0, 0.99, 100), 1.0]  # negatives 0.00 ... 0.99, a positive above them
    labels = np.r_[np.zeros(100, int), 1]
    assert np.sum(scores[:100] >= threshold_for_false_alerts(scores, labels, 0.29)) == 29


def test_false_alert_cap_raises_the_alert_threshold() -> None:
    # 1,000 negatives, 22 of them above 100 of the 1,100 positives: precision 0.98 lets all 22 alert
    rng = np.random.default_rng(1)
    negatives = np.r_[rng.uniform(0.0, 0.3, 978), np.linspace(0.81, 0.85, 22)]
    positives = np.r_[rng.uniform(0.9, 1.0, 1000), rng.uniform(0.6, 0.8, 100)]
    scores, labels = np.r_[negatives, positives], np.r_[np.zeros(1000, int), np.ones(1100, int)]
    free = choose_thresholds(scores, labels, 0.98)
    assert np.mean(negatives >= free.alert) == 0.022 and np.all(positives >= free.alert)
    capped = choose_thresholds(scores, labels, 0.98, max_false_alert_rate=0.01)
    assert np.mean(negatives >= capped.alert) == 0.01 and capped.alert > free.alert
    assert np.mean(negatives >= np.nextafter(capped.alert, 0)) > 0.01  # the lowest threshold that keeps the cap
    assert capped.low <= capped.medium <= capped.high == capped.alert <= capped.critical
    assert choose_thresholds(scores, labels, 0.98, max_false_alert_rate=0.05) == free


def test_earliness_by_budget_trades_false_alerts_for_earliness() -> None:
    # (label, per-message risk, per-message stage); negatives' peaks 0.9, 0.5 and eight of 0.1
    conversations = {
        "p1": (1, [0.6, 0.95], ["rapport", "coercion"]),  # groomed, 0.6 before its threat
        "p2": (1, [0.99], ["coercion"]),  # opens with the threat: never before it
        "p3": (1, [0.3, 0.7], ["rapport", "sexual"]),  # no threat
        "n1": (0, [0.2, 0.9], ["none", "none"]), "n2": (0, [0.5], ["none"]),
        **{f"n{i}": (0, [0.1], ["none"]) for i in range(3, 11)},
    }
    events, stages, ids, risk = [], [], [], []
    for cid, (_, risks, marks) in conversations.items():
        for i, (r, stage) in enumerate(zip(risks, marks, strict=True)):
            events.append(MessageEvent(cid, f"{cid}-{i}", "a", 1000.0 + i, "text"))
            stages.append(stage)
            ids.append(cid)
            risk.append(r)
    data = LabelledData(events, {c: v[0] for c, v in conversations.items()}, stages)
    n = len(ids)
    steps = StepScores(ids, [e.message_id for e in events], np.zeros(n, int), np.array(risk),
                       np.zeros((n, 7)), np.zeros((n, 3)))
    table = earliness_by_budget(steps, data, (0.01, 0.1, 0.2))
    strict, one, two = table["0.01"], table["0.1"], table["0.2"]
    assert strict["threshold"] > 0.9 and strict["false_alert_rate"] == 0.0
    assert (strict["alerted_before_threat"], strict["recall"]) == (0.0, pytest.approx(2 / 3))
    assert 0.5 < one["threshold"] < 0.6 and one["false_alert_rate"] == pytest.approx(0.1)
    assert (one["alerted_before_threat"], one["alerted_before_threat_groomed"], one["recall"]) == (0.5, 1.0, 1.0)
    assert 0.1 < two["threshold"] < 0.2 and two["false_alert_rate"] == pytest.approx(0.2)
    assert two["alerted_before_threat"] == 0.5  # p2's threat opens the conversation
    assert earliness_by_budget(steps, data.subset({"p1", "p2"})) == {}  # no negatives: nothing to budget
    nothing = StepScores([], [], np.zeros(0, int), np.zeros(0), np.zeros((0, 7)), np.zeros((0, 3)))
    assert earliness_by_budget(nothing, data) == {}


def _sample(scale: int) -> tuple[np.ndarray, np.ndarray]:
    """26 positives (23 alerted) and 45 negatives (1 alerted), times ``scale``."""
    labels = np.repeat([1, 1, 0, 0], [23 * scale, 3 * scale, 1 * scale, 44 * scale])
    return labels, np.repeat([True, False, True, False], [23 * scale, 3 * scale, 1 * scale, 44 * scale])


def test_intervals_hold_the_figures_and_narrow_with_more_conversations() -> None:
    labels, alert = _sample(10)
    tp, fp = 230, 10
    point = {"precision": tp / (tp + fp), "recall": tp / 260, "false_alert_rate": fp / 450}
    point["f0_5"] = 1.25 * point["precision"] * point["recall"] / (0.25 * point["precision"] + point["recall"])
    found = intervals(labels, alert)
    for key, value in point.items():
        assert 0.0 <= found[key]["low"] < value < found[key]["high"] <= 1.0, key
    small = intervals(*_sample(1))
    for key in point:
        assert small[key]["high"] - small[key]["low"] > 2 * (found[key]["high"] - found[key]["low"]), key
    assert intervals(labels, alert) == found  # seeded: the same data gives the same interval
    assert "F0.5 " in interval_text({"intervals": found}) and interval_text({}) == ""


def test_intervals_without_errors_are_not_a_point() -> None:
    labels = np.repeat([1, 0], [19, 21])
    found = intervals(labels, labels == 1)  # every positive alerted, no negative
    assert found["recall"]["high"] == 1.0 and found["recall"]["low"] < 0.95  # 19 of 19 is not certainty
    assert found["false_alert_rate"]["low"] == 0.0 and 0.01 < found["false_alert_rate"]["high"] < 0.2
    assert found["f0_5"]["high"] == 1.0 and found["f0_5"]["low"] < 0.95
    assert intervals(np.ones(5, int), np.ones(5, bool)) == {}  # one class: no interval


def test_offenders_are_counted_once_each_as_pan_2012_counts_predators() -> None:
    """PAN 2012's predator identification counts people, not conversations: p1 named in both of their
    conversations is one offender found; p2, in a conversation not alerted, one missed; x, named in an
    alerted negative, and the young person v named in p2's other conversation, two people wrongly named.
    Where a positive conversation's offender is not known, it is left out."""
    talk = {"a": ("p1", "v1"), "b": ("p1", "v2"), "c": ("p2", "v3"), "f": ("p2", "v"), "d": ("x", "y"),
            "e": ("u", "w")}
    events = [MessageEvent(cid, f"{cid}-{i}", people[i % 2], 1000.0 + i, "text")
              for cid, people in talk.items() for i in range(4)]
    labels = {"a": 1, "b": 1, "c": 1, "f": 1, "d": 0, "e": 0}
    offender_ids = {c: talk[c][0] for c, y in labels.items() if y}
    data = LabelledData(events, labels, [None] * len(events), offender_ids=offender_ids)

    def result(cid: str, suspect: str, alerted: bool = True) -> RiskScore:  # a suspect is named with no alert too
        return RiskScore(cid, 4, 0.9 if alerted else 0.1, "high" if alerted else "none", alerted,
                         1 if alerted else None, f"{cid}-1" if alerted else None, "payment", suspect, [], "test")

    results = [result("a", "p1"), result("b", "p1"), result("c", "p2", False), result("f", "v"), result("d", "x"),
               result("e", "w", False)]
    found = offenders_identified(data, results)
    assert found["n_offenders"] == 2 and found["n_offenders_named"] == 3  # p1, v and x
    assert found["offender_precision"] == pytest.approx(1 / 3) and found["offender_recall"] == pytest.approx(1 / 2)
    assert found["offender_f0_5"] == pytest.approx(1.25 * (1 / 3) * (1 / 2) / (0.25 * (1 / 3) + 1 / 2))
    right = [result("a", "p1"), result("b", "p1", False), result("c", "p2"), result("f", "v", False),
             result("d", "x", False), result("e", "w", False)]
    assert offenders_identified(data, right)["offender_f0_5"] == 1.0  # each found once is enough
    # f's offender unknown: f is left out, and v, named there alone, with it; p2 is still an offender (c)
    partly = LabelledData(events, labels, [None] * len(events), offender_ids={c: offender_ids[c] for c in "abc"})
    found = offenders_identified(partly, results)
    assert (found["n_offenders"], found["n_offenders_named"], found["n_positive_left_out"]) == (2, 2, 1)
    assert found["offender_precision"] == found["offender_recall"] == 0.5
    unknown = LabelledData(events, labels, [None] * len(events))  # labels alone
    assert set(offenders_identified(unknown, results).values()) == {None}


def test_platt_scaling_falls_back_to_the_identity_where_it_cannot_be_fitted_increasing() -> None:
    """Held-out peaks of one class (a fold of positives alone), or scores that rank backwards: the path's logit
    is left as it is rather than failing the training or turning the ranking round."""
    from training.calibration import calibrate

    logits = np.array([-2.0, -1.0, 0.5, 1.0, 2.5, 3.0])
    assert calibrate(logits, np.ones(6, int)) == calibrate(logits, np.zeros(6, int)) == (1.0, 0.0)
    assert calibrate(logits, np.array([1, 1, 1, 0, 0, 0])) == (1.0, 0.0)
    a, b = calibrate(logits, np.array([0, 0, 1, 0, 1, 1]))
    assert a > 0 and (a, b) != (1.0, 0.0)
