"""The interventions the service would raise on messages held in a file or in memory, without a service or a
store: for sizing the review load a policy makes on a platform's own logs, or checking a policy before it is
served. The same scoring core, policy and intervention builder as the real-time hook (``processor``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from detection.events import MessageEvent
from detection.inputs import gzipped
from detection.messages import Messages, order_events, reading_events
from detection.model import RiskModel
from detection.policy import LEVELS, EscalationPolicy
from detection.processor import Due, score_and_raise
from detection.scoring import RiskScore, StepScores, summarize
from detection.writers import atomic_path, open_text, utf8_json


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
    return score_and_replay(model, list(first.values()), policy)[2]


def score_and_replay(model: RiskModel, events: Sequence[MessageEvent] | Messages, policy: EscalationPolicy,
                     ) -> tuple[list[RiskScore], StepScores, list[dict[str, Any]]]:
    """``score_conversations`` (events with no message id twice in a conversation, as ``read_events`` gives them),
    and in the same pass the interventions ``replay_interventions`` gives: sorted by trigger time, conversation
    id and level (the order raised, within a conversation), so that any split of the conversations into parts,
    each replayed, merges into the same list (``in_order``)."""
    done = score_and_raise(model, policy, events, None, None, False, {}, {}, True, lambda due: _times(events, due))
    return [summarize(model, state) for state in done.states.values()], done.steps, \
        sorted((made for _, made in done.interventions), key=in_order)


def in_order(made: Mapping[str, Any]) -> tuple[str, str, int]:
    """An intervention's place among replayed ones: by trigger time (``created_at``, all UTC, to the
    millisecond), then conversation, then level."""
    return str(made["created_at"]), str(made["conversation_id"]), LEVELS.index(str(made["level"]))


def _times(events: Sequence[MessageEvent] | Messages, due: list[Due]) -> list[float]:
    """The times of the ``due`` interventions' trigger messages among ``events``."""
    if not due:
        return []
    wanted = {(d.conversation_id, d.trigger) for d in due}
    rows: Iterable[tuple[str, str, float]]
    if isinstance(events, Messages):
        rows = zip(events.conversation_id, events.message_id, events.timestamp.tolist(), strict=True)
    else:
        rows = ((e.conversation_id, e.message_id, e.timestamp) for e in events)
    when = {(c, m): float(t) for c, m, t in rows if (c, m) in wanted}
    return [when[(d.conversation_id, d.trigger)] for d in due]


def write_interventions(path: str | Path, made: Iterable[Mapping[str, Any]]) -> None:
    """Interventions as JSON Lines (gzipped for a name ending in .gz), as the service's audit log holds them; the
    file appears whole or not at all."""
    with atomic_path(path) as tmp, open_text(tmp, gzipped(path)) as handle:
        for one in made:
            handle.write(utf8_json(one) + "\n")
