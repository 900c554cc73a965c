"""Risk levels from calibrated thresholds, and the escalation policy that turns levels into actions.

Thresholds are learned and stored with the model; the policy (which level calls for which action)
is the deployment's choice, configured in YAML. Neither lives in a route handler.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

LEVELS: tuple[str, ...] = ("none", "low", "medium", "high", "critical")


@dataclass(frozen=True)
class Thresholds:
    """Score thresholds: each level starts at its threshold; ``alert`` marks an alert."""

    low: float
    medium: float
    high: float
    critical: float
    alert: float

    def __post_init__(self) -> None:
        ordered = (self.low, self.medium, self.high, self.critical)
        if any(not 0.0 <= t <= 1.0 for t in (*ordered, self.alert)):
            raise ValueError(f"thresholds must lie in [0, 1]: {self}")
        if list(ordered) != sorted(ordered):
            raise ValueError(f"level thresholds must not decrease: {self}")

    def level(self, score: float) -> str:
        """The risk level of a score."""
        for name, threshold in (("critical", self.critical), ("high", self.high),
                                ("medium", self.medium), ("low", self.low)):
            if score >= threshold:
                return name
        return "none"

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, float]) -> Thresholds:
        return cls(**{name: float(data[name]) for name in ("low", "medium", "high", "critical", "alert")})


DEFAULT_POLICY: dict[str, Any] = {
    "hysteresis": 0.05,
    "levels": {
        "high": {
            "action": "nudge_and_friction",
            "resources": [
                {"name": "NCMEC Take It Down", "url": "https://takeitdown.ncmec.org"},
                {"name": "NCMEC CyberTipline", "url": "https://report.cybertip.org"},
            ],
        },
        "critical": {"action": "human_review", "preserve_evidence": True},
    },
}


@dataclass(frozen=True)
class EscalationPolicy:
    """Which levels call for an intervention, and how far a score must fall to leave a level.

    A conversation's current level rises as soon as its score reaches a level's threshold and falls
    only when the score drops ``hysteresis`` below the threshold of the level it holds, so a score
    hovering at a threshold does not flap. Each level with an action fires at most once per
    conversation, the first time the level is reached (a jump straight to ``critical`` fires
    ``high`` too).
    """

    actions: dict[str, dict[str, Any]]
    hysteresis: float = 0.05

    def __post_init__(self) -> None:
        unknown = set(self.actions) - set(LEVELS[1:])
        if unknown:
            raise ValueError(f"policy: unknown level(s) {sorted(unknown)}; levels are {list(LEVELS[1:])}")
        for level, spec in self.actions.items():
            if not isinstance(spec, dict) or not isinstance(spec.get("action"), str) or not spec["action"].strip():
                raise ValueError(f"policy: level '{level}' needs an 'action' name")  # (blank: which action?)
            for key, value in spec.items():  # each goes into the level's interventions, which are JSON
                if (problem := _not_json(value)) is not None:
                    raise ValueError(f"policy: level '{level}', {key}: {problem}, which an intervention's JSON "
                                     "cannot hold; write it in quotes, as text")
        if not 0.0 <= self.hysteresis < 0.5:
            raise ValueError(f"policy: hysteresis must be in [0, 0.5), got {self.hysteresis}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EscalationPolicy:
        """A policy from its mapping; a key it does not know is an error, not ignored (a level written
        outside ``levels`` would leave a service that never intervenes)."""
        if not isinstance(data, dict) or not isinstance(data.get("levels"), dict):
            raise ValueError("policy: expected a mapping with a 'levels' mapping ('levels: {}' for no interventions)")
        if unknown := sorted(map(str, set(data) - {"levels", "hysteresis"})):
            raise ValueError(f"policy: unknown key(s) {unknown}; a policy holds 'levels' (each level's action) "
                             "and 'hysteresis'")
        hysteresis = data.get("hysteresis", 0.05)
        if isinstance(hysteresis, bool) or not isinstance(hysteresis, int | float):
            raise ValueError(f"policy: hysteresis must be a number in [0, 0.5), got {hysteresis!r}")
        return cls(actions=dict(data["levels"]), hysteresis=float(hysteresis))

    @classmethod
    def load(cls, path: str | Path | None) -> EscalationPolicy:
        """The policy in a YAML file, or the default policy when ``path`` is None."""
        if path is None:
            return cls.from_dict(DEFAULT_POLICY)
        from detection.settings import read_yaml

        try:
            return cls.from_dict(read_yaml(path, "policy"))
        except ValueError as exc:
            if str(exc).startswith(f"{path}:"):
                raise
            raise ValueError(f"{path}: {exc}") from None

    def next_level(self, thresholds: Thresholds, current: str, score: float) -> str:
        """The level after a message scored ``score``, given the level held before it."""
        reached = thresholds.level(score)
        if LEVELS.index(reached) >= LEVELS.index(current):
            return reached
        held_threshold = getattr(thresholds, current)
        if score >= held_threshold - self.hysteresis:
            return current
        return thresholds.level(score)

    def due(self, level: str, raised: frozenset[str]) -> list[str]:
        """Levels with an action, at or below ``level``, not yet raised; least severe first."""
        return [lv for lv in LEVELS[1:LEVELS.index(level) + 1] if lv in self.actions and lv not in raised]


def _not_json(value: Any) -> str | None:
    """What in ``value`` (as YAML reads a policy) JSON cannot hold, said for the user; None if nothing.
    YAML reads an unquoted date as a date and ``.nan`` as a number JSON has no word for."""
    if isinstance(value, dict):
        return next((found for v in value.values() if (found := _not_json(v)) is not None), None)
    if isinstance(value, list):
        return next((found for v in value if (found := _not_json(v)) is not None), None)
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value!r} (not a finite number)"
    try:
        json.dumps(value)
    except TypeError:
        said = value.isoformat() if hasattr(value, "isoformat") else repr(value)
        return f"{said} (read as a {type(value).__name__})"
    return None
