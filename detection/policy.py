"""Risk levels from calibrated thresholds. Thresholds are learned and stored with the model."""

from __future__ import annotations

from dataclasses import asdict, dataclass

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
