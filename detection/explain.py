"""Explanations: the risk trajectory of a conversation and what drives the score at each message.

The conversation model's logit is the larger of two linear paths (escalation stages, and the
conversation's text as a whole), so at each message it splits exactly into one share per feature
of the path that decided it. Shares are grouped by what a reviewer can act on: each escalation
stage (the strongest evidence of that stage so far and how often it came up), the escalation
pattern (how many stages, how fast), timing, who drives the risk, media, the conversation's text
and the current message alone.
Shares are in calibrated logit units: positive pushes the risk up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from detection.events import RISK_STAGES, STAGES, MessageEvent
from detection.features import FEATURE_NAMES
from detection.messages import order_events, reading_events
from detection.model import RiskModel
from detection.runs import with_runs
from detection.scoring import RiskScore, StepScores, runs_of, score_conversations, text_units
from detection.state import QUANT

WORDING = 3  # the messages a text-path step names as the wording that drives it

GROUPS: dict[str, tuple[str, ...]] = {
    **{stage: (f"max_{i}", f"hits_{i}") for i, stage in enumerate(RISK_STAGES)},
    "current message": ("current_risk", "current_extortion"),
    "conversation text": ("text_mean",),
    "escalation pattern": ("highest_stage", "n_stages", "stages_per_hour"),
    "timing": ("log_hours", "log_messages", "log_hours_since_risk"),
    "who speaks": ("driver_share",),
    "media": ("media_after_request", "log_media"),
}
_COLUMNS = {group: [FEATURE_NAMES.index(name) for name in names] for group, names in GROUPS.items()}


def contributions(model: RiskModel, features: np.ndarray) -> tuple[list[dict[str, float]], np.ndarray, np.ndarray]:
    """Per row: each group's share of the calibrated logit, the rest that the shares sum to it
    with (bias and calibration offset of the deciding path), and whether the text path decided."""
    shares, base, text_path = model.conversation_model.contributions(features)
    groups = [{group: float(row[cols].sum()) for group, cols in _COLUMNS.items()} for row in shares]
    return groups, base, text_path


@dataclass(frozen=True)
class Step:
    """One message of a trajectory."""

    index: int
    message_id: str
    sender_id: str
    text: str
    risk_score: float
    risk_level: str
    stage: str
    stage_probability: float
    contributions: dict[str, float]
    path: str  # which path decided the score: "escalation" or "text"
    base: float  # what the contributions sum to the calibrated logit with
    # the role model's probability that the offender, not the young person, wrote this message
    # (weighing its risk evidence towards the suspect); None for a model without a role model
    offender_probability: float | None = None
    attachment: str | None = None  # what was attached (image, video, audio, file), if anything
    # what the message's strongest stage evidence was read from where that is not the message as written: a
    # window of its words, the message less its filler (``RiskModel.readings``), or its sender's run of messages
    # up to it read together (``scoring.runs_of``); None: the message itself
    read_from: str | None = None
    # where the text path decided: the messages so far (this one included) whose wording pushes its "conversation
    # text" share up the most, up to ``WORDING``, each {"index", "message_id", "share"}; the shares of every message
    # so far sum to that share exactly. Empty where the escalation path decided.
    wording: list[dict[str, int | str | float]] = field(default_factory=list)
    # each risk stage's strongest evidence so far: the position of its message (the first of equal ones), as the
    # stage's share reads it (``GROUPS``: its strongest evidence and how often it came up)
    strongest: dict[str, int] = field(default_factory=dict)

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` groups pushing the risk up the most."""
        return _top(self.contributions, k)


def _top(contributions: dict[str, float], k: int) -> list[tuple[str, float]]:
    return sorted(((g, v) for g, v in contributions.items() if v > 0), key=lambda gv: -gv[1])[:k]


def driven_by(model: RiskModel, features: np.ndarray) -> list[dict[str, Any]]:
    """Per row of running features, what drove the risk there, for an intervention raised at it: the path that
    decided and the (up to three) groups pushing the risk up the most with their shares of the calibrated
    log-odds, to three places, as ``riskline explain`` prints them at that message (``Step.top``)."""
    groups, _, text_path = contributions(model, features)
    return [{"path": "text" if text else "escalation", "shares": {g: round(v, 3) for g, v in _top(shares, 3)}}
            for shares, text in zip(groups, text_path.tolist(), strict=True)]


def trajectory(model: RiskModel, events: Sequence[MessageEvent], conversation_id: str,
               ) -> tuple[RiskScore, list[Step]]:
    """Score one conversation of ``events`` causally; its summary and every step, explained."""
    with reading_events(events):
        mine = order_events([e for e in events if e.conversation_id == conversation_id])
    if not mine:
        raise KeyError(conversation_id)
    results, steps = score_conversations(model, mine)
    return results[0], _steps(model, mine, steps)


def _steps(model: RiskModel, ordered: Sequence[MessageEvent], steps: StepScores) -> list[Step]:
    shares, base, text_path = contributions(model, steps.features)
    best = np.argmax(steps.stage_proba, axis=1)
    offender = steps.offender
    read_from = model.readings([event.text for event in ordered])
    runs = runs_of(model, ordered)
    evidence = model.evidence([event.text for event in ordered])
    _, gain = with_runs(model, runs, evidence.proba)
    for k, (row, text) in enumerate(zip(runs.owners, runs.joined, strict=True)):
        if best[row] > 0 and gain[k, best[row] - 1]:  # the strongest stage came from the run read together
            read_from[row] = model.readings([text])[0] or text
    wording = _wording(ordered, model.conversation_model.text_per_unit(steps.features), text_units(evidence.text))
    strongest = _strongest(steps.stage_proba)
    return [
        Step(int(steps.index[i]), event.message_id, event.sender_id, event.text, float(steps.risk_score[i]),
             model.thresholds.level(float(steps.risk_score[i])), STAGES[best[i]],
             float(steps.stage_proba[i, best[i]]), shares[i], "text" if text_path[i] else "escalation",
             float(base[i]), None if offender is None else float(offender[i]), event.attachment,
             read_from[i] if best[i] > 0 else None,  # a message with no stage was not read for one
             wording[i], dict(zip(RISK_STAGES, strongest[i], strict=True)))
        for i, event in enumerate(ordered)
    ]


def _strongest(proba: np.ndarray) -> list[list[int]]:
    """Per step and risk stage, the position of the message with that stage's strongest evidence so far, the
    first of equal ones, in the units the running features take their ``max_`` columns in."""
    risk = np.rint(proba[:, 1:] * QUANT).astype(np.int64)
    so_far = np.maximum.accumulate(risk, axis=0)
    rises = risk > np.concatenate([np.full((1, risk.shape[1]), -1, dtype=np.int64), so_far[:-1]])
    positions = np.where(rises, np.arange(len(risk))[:, None], 0)
    return np.maximum.accumulate(positions, axis=0).tolist()


def _wording(ordered: Sequence[MessageEvent], per_unit: np.ndarray, text: np.ndarray,
             ) -> list[list[dict[str, int | str | float]]]:
    """Each step's ``Step.wording``: where ``per_unit`` (``ConversationModel.text_per_unit``) is not 0, the messages
    so far with the largest shares ``per_unit * text`` above 0 (``text``: the quantised text logits, in order),
    the earlier first among equal ones. The largest and smallest logits so far are kept as it goes, so a long
    conversation costs a pass, not a pass a message."""
    values = text.tolist()
    high: list[int] = []  # the positions of the largest logits so far, largest first
    low: list[int] = []  # of the smallest, smallest first
    wording: list[list[dict[str, int | str | float]]] = []
    for i, unit in enumerate(per_unit.tolist()):
        high = sorted([*high, i], key=lambda j: (-values[j], j))[:WORDING]
        low = sorted([*low, i], key=lambda j: (values[j], j))[:WORDING]
        shares = [(j, unit * values[j]) for j in (high if unit > 0 else low)] if unit else []
        wording.append([{"index": j, "message_id": ordered[j].message_id, "share": share}
                        for j, share in shares if share > 0])
    return wording


def around(result: RiskScore, steps: Sequence[Step], n: int) -> list[Step]:
    """The steps within ``n`` messages of those a reviewer starts from: the alert, the peak, each evidence
    message and, where the text path decided at the alert or the peak, the messages whose wording drove it
    (``Step.wording``): a long conversation's trajectory cut to what matters, in order."""
    if not steps:
        return []
    evidence = set(result.evidence_message_ids)
    peak = max(steps, key=lambda s: s.risk_score).index  # the first of equal peaks, as the summary's
    anchors = {peak, *(s.index for s in steps if s.message_id in evidence)}
    if result.alert_index is not None:
        anchors.add(result.alert_index)
    anchors |= {int(w["index"]) for s in steps if s.index in (peak, result.alert_index) for w in s.wording}
    return [s for s in steps if any(abs(s.index - a) <= n for a in anchors)]
