"""docs/alerts.yaml names only metrics and labels that the service and stream workers serve."""

import re
from pathlib import Path

import yaml

from detection.metrics import Metrics, StreamMetrics
from detection.policy import EscalationPolicy

RULES = Path(__file__).resolve().parents[2] / "docs" / "alerts.yaml"
SELECTOR = re.compile(r"\b(riskline_[a-z_]+)(?:\{([^}]*)\})?")
MATCHER = re.compile(r'(\w+)\s*(=~|!=|!~|=)\s*"([^"]*)"')


def _served() -> dict[str, set[str]]:
    """Each sample name the two endpoints expose, with the label names its samples carry."""
    metrics = StreamMetrics()  # the service's metrics and the stream's own
    assert isinstance(metrics, Metrics)
    metrics.request("POST", "/v1/messages", 200, 0.01)
    metrics.scored([{"risk_score": 0.5}], [{"level": "critical"}])
    metrics.model_info("v1")
    metrics.rejected.inc()
    metrics.retries.inc()
    metrics.lag.labels("events", "0").set(3)
    served: dict[str, set[str]] = {}
    for line in metrics.render().decode().splitlines():
        if line and not line.startswith("#"):
            name, _, rest = line.partition("{")
            name = name.split(" ")[0]
            served.setdefault(name, set()).update(key for key, _, _ in MATCHER.findall(rest))
    return served


def test_every_alert_rule_names_served_metrics_and_labels() -> None:
    served = _served()
    levels = set(EscalationPolicy.load(None).actions)
    rules = [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]
    assert len(rules) >= 10
    for rule in rules:
        assert {"alert", "expr", "labels", "annotations"} <= set(rule), rule.get("alert")
        assert rule["labels"]["severity"] in ("critical", "warning", "info")
        found = SELECTOR.findall(rule["expr"])
        assert found, rule["alert"]
        for name, matchers in found:
            assert name in served, f"{rule['alert']}: {name} is not served"
            for key, op, value in MATCHER.findall(matchers):
                assert key in served[name], f"{rule['alert']}: {name} has no label {key}"
                if key == "level" and op == "=":
                    assert value in levels, f"{rule['alert']}: no level {value!r} in the default policy"
