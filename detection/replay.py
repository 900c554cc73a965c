"""The interventions the service would raise on messages held in a file or in memory, without a service or a
store: for sizing the review load a policy makes on a platform's own logs, or checking a policy before it is
served. The same scoring core, policy and intervention builder as the real-time hook (``processor``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from detection.events import MessageEvent
from detection.explain import driven_by
from detection.messages import order_events, reading_events
from detection.model import RiskModel
from detection.policy import EscalationPolicy
from detection.processor import Due, escalate, intervention
from detection.scoring import StepScores, score_and_name


def replay_interventions(model: RiskModel, events: Sequence[MessageEvent],
                         policy: EscalationPolicy | str | Path | None = None) -> list[dict[str, Any]]:
    """The interventions the service (or a stream worker) would raise on ``events`` arriving in conversation order
    on a fresh state, under ``policy`` (an ``EscalationPolicy``, a policy YAML file, or None for the default), by
    their trigger's time (those of one message in the order raised). Each is as the service makes it (the same
    id, trigger, suspect and evidence as of the trigger, ``driven_by``) but for ``created_at``, the trigger
    message's time rather than the moment of the replay. A message id seen again in its conversation counts
    once, as the service de-duplicates it."""
    if not isinstance(policy, EscalationPolicy):
        policy = EscalationPolicy.load(policy)
    with reading_events(events):
        first: dict[tuple[str, str], MessageEvent] = {}
        for event in order_events(events):
            first.setdefault((event.conversation_id, event.message_id), event)
    levels: dict[str, str] = {}
    raised: dict[str, frozenset[str]] = {}
    decided: list[list[Due]] = []

    def raising(steps: StepScores) -> list[int]:
        decided.append(escalate(policy, model.thresholds, steps, levels, raised)[1])
        return [due.row for due in decided[0]]

    steps, states, named = score_and_name(model, list(first.values()), None, None, False, raising)
    due = decided[0] if decided else []
    reasons = driven_by(model, steps.features[[d.row for d in due]]) if due else []
    made = [(first[(d.conversation_id, d.trigger)].timestamp, i) for i, d in enumerate(due)]
    return [intervention(policy, model.model_version, states[due[i].conversation_id].first_ts, named[due[i].row],
                         reasons[i], due[i], at) for at, i in sorted(made)]
