"""The real-time hook: new messages in, answers and interventions out, state kept in a store.

Used by the HTTP service (and by stream workers): de-duplicate by message id, load the
conversations' state, run the one scoring core, let the escalation policy decide, and commit
states, answers and interventions in one transaction. Callers serialise calls (one at a time),
which is what keeps concurrent requests for one conversation from losing updates.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from detection.events import STAGES, MessageEvent
from detection.explain import driven_by
from detection.messages import Messages
from detection.model import RiskModel
from detection.model_files import load_model
from detection.outbox import OutboxWorker
from detection.policy import LEVELS, EscalationPolicy, Thresholds
from detection.scoring import Named, StepScores, score_and_name
from detection.sinks import Sink, intervention_id, load_sinks
from detection.state import ConversationState
from detection.store import Conversation, Janitor, StateStore, StoreConflict, open_store


class Due(NamedTuple):
    """An intervention the policy raises: at which row of the call's steps, for which conversation and message."""

    row: int
    conversation_id: str
    trigger: str  # the message id
    level: str
    score: float


MAX_ATTEMPTS = 20
MAX_BACKOFF = 0.05  # seconds: the longest wait between two attempts


class Processor:
    """Scores messages as they arrive, exactly as ``riskline score`` would replay them."""

    def __init__(self, model: RiskModel, store: StateStore, policy: EscalationPolicy, sinks: Sequence[str],
                 clock: Callable[[], float] = time.time, on_model_change: str = "restart") -> None:
        self.model, self.store, self.policy, self.sinks, self.clock = model, store, policy, list(sinks), clock
        # stored states record the model whose evidence they hold; another model's are set aside unless
        # "continue" (``score_messages``)
        self.evidence_key, self.keep_other_evidence = model.evidence_key, on_model_change == "continue"
        self.evidence_restarts = 0  # conversations whose running evidence was set aside so far (a metric)
        self._counting = threading.Lock()

    def process(self, events: Sequence[MessageEvent], intervene: bool = True,
                ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Answers for ``events`` (input order) and the interventions raised by them.

        When another process sharing the store moved one of the conversations on in the meantime,
        the whole call is done again from the new state, after a short random wait that grows with
        each attempt, so that processes writing the same conversation stop colliding in lockstep.

        Without ``intervene`` (history loaded by ``riskline backfill``), the levels the messages reach
        are recorded as raised, as they would have been, but no intervention is made or sent for them,
        then or later.
        """
        for attempt in range(MAX_ATTEMPTS - 1):
            try:
                return self._process_once(events, intervene)
            except StoreConflict:
                time.sleep(random.uniform(0, min(MAX_BACKOFF, 0.001 * 2**attempt)))
        return self._process_once(events, intervene)

    def _process_once(self, events: Sequence[MessageEvent], intervene: bool,
                      ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        keys = [(e.conversation_id, e.message_id) for e in events]
        first: dict[tuple[str, str], MessageEvent] = {}
        for key, event in zip(keys, events, strict=True):
            first.setdefault(key, event)
        # the states of every conversation in the call, read with the answers in one round trip: a few more
        # than needed where some messages were answered before, one round trip fewer for every call
        answered, conversations = self.store.read(list(first), {key[0] for key in first})
        fresh = [e for k, e in first.items() if k not in answered]
        levels = {c: v.level for c, v in conversations.items()}
        raised = {c: v.raised for c, v in conversations.items()}
        done = score_and_raise(self.model, self.policy, fresh, {c: v.state for c, v in conversations.items()},
                               self.evidence_key, self.keep_other_evidence, levels, raised, intervene,
                               lambda due: [self.clock() for _ in due])
        states = done.states
        answers = self._answers(done.steps, done.levels)
        new_interventions = []
        for d, made in done.interventions:
            new_interventions.append(made)
            answers[(d.conversation_id, d.trigger)]["intervention"] = made  # the most severe, where one raised two
        if not states:  # every message answered before: nothing to write
            return _in_request_order(keys, answers, answered), new_interventions
        expected = {c: conversations[c].state.n_messages if c in conversations else 0 for c in states}
        self.store.commit([Conversation(states[c], levels[c], raised.get(c, frozenset())) for c in states],
                          [(cid, mid, a) for (cid, mid), a in answers.items()], new_interventions, self.sinks,
                          expected)
        if not self.keep_other_evidence and (aside := sum(
                conversations[c].state.built_by_another(self.evidence_key) for c in states if c in conversations)):
            with self._counting:
                self.evidence_restarts += aside
        return _in_request_order(keys, answers, answered), new_interventions

    @staticmethod
    def _answers(steps: StepScores, reached: list[str]) -> dict[tuple[str, str], dict[str, Any]]:
        """Each scored message's answer (no intervention in it yet): ``reached``, the level it left its conversation
        at (``escalate``)."""
        answers: dict[tuple[str, str], dict[str, Any]] = {}
        stages = steps.stage
        for i, (cid, mid) in enumerate(zip(steps.conversation_id, steps.message_id, strict=True)):
            answers[(cid, mid)] = {
                "conversation_id": cid, "message_id": mid, "risk_score": float(steps.risk_score[i]),
                "risk_level": reached[i], "stage": stages[i],
                "stage_probabilities": dict(zip(STAGES, steps.stage_proba[i].round(6).tolist(), strict=True)),
                "intervention": None, "duplicate": False,
            }
        return answers


    def erase(self, conversation_id: str) -> bool:
        """Forget everything held of one conversation (a platform's erasure request): whether it was known.
        Messages of it that come later are scored as a new conversation's, and its interventions then have
        new ids (``intervention_id``)."""
        return self.store.erase(conversation_id)

    def conversation(self, conversation_id: str) -> dict[str, Any] | None:
        """The contract's view of one conversation, or None if unknown."""
        found = self.store.load([conversation_id]).get(conversation_id)
        if found is None:
            return None
        state = found.state
        suspect, share = state.suspect()
        return {
            "conversation_id": conversation_id, "n_messages": state.n_messages, "risk_score": state.max_score,
            "risk_level": self.model.thresholds.level(state.max_score), "current_score": state.last_score,
            "current_level": found.level,
            "last_message_at": None if state.last_ts is None else
            datetime.fromtimestamp(state.last_ts, UTC).isoformat(),
            "peak_stage": state.peak_stage, "alert_index": state.alert_index,
            "alert_message_id": state.alert_message_id, "suspect_id": suspect, "suspect_share": share,
            "evidence_message_ids": state.evidence_message_ids,
            # read as another language than English: the model reads English only (README, "English only")
            "other_language": state.other_language,
            # where the running evidence begins: past 0 where another model's was set aside at that message
            "evidence_from_index": state.restarted_at,
            # in the order raised: by time, then (raised by one message, or in one millisecond) by level
            "interventions": sorted(self.store.interventions(conversation_id),
                                    key=lambda i: (i["created_at"], LEVELS.index(i["level"]))),
        }


class Raised(NamedTuple):
    """``score_and_raise``'s: the steps and new states, the level each row left its conversation at, and the
    interventions raised, each with its ``Due``, in the order raised."""

    steps: StepScores
    states: dict[str, ConversationState]
    levels: list[str]
    interventions: list[tuple[Due, dict[str, Any]]]


def score_and_raise(model: RiskModel, policy: EscalationPolicy, events: Sequence[MessageEvent] | Messages,
                    states: Mapping[str, ConversationState] | None, evidence_key: str | None,
                    keep_other_evidence: bool, levels: dict[str, str], raised: dict[str, frozenset[str]],
                    intervene: bool, dated: Callable[[list[Due]], list[float]]) -> Raised:
    """The scoring core (``score_messages``) with the escalation policy after it (``escalate``; ``levels`` and
    ``raised`` brought up to date), and the interventions due (none without ``intervene``), each naming the suspect
    and evidence as of its trigger (``score_and_name``), so that a call of many messages raises what calls of one
    message each would have, and what drove the risk there (``explain.driven_by``); ``dated`` gives their times
    (Unix seconds). The real-time hook's and the replay's (``replay``) one way of raising them."""
    decided: list[tuple[list[str], list[Due]]] = []

    def raising(steps: StepScores) -> list[int]:  # the policy decides once the scores are known
        reached, due = escalate(policy, model.thresholds, steps, levels, raised)
        decided.append((reached, due if intervene else []))
        return [d.row for d in decided[0][1]]

    steps, new_states, named = score_and_name(model, events, states, evidence_key, keep_other_evidence, raising)
    reached, due = decided[0] if decided else ([], [])
    reasons = driven_by(model, steps.features[[d.row for d in due]]) if due else []
    made = [(d, intervention(policy, model.model_version, new_states[d.conversation_id].first_ts, named[d.row], why,
                             d, at)) for d, why, at in zip(due, reasons, dated(due), strict=True)]
    return Raised(steps, new_states, reached, made)


def escalate(policy: EscalationPolicy, thresholds: Thresholds, steps: StepScores, levels: dict[str, str],
             raised: dict[str, frozenset[str]]) -> tuple[list[str], list[Due]]:
    """The policy after each scored message, in order: the level each leaves its conversation at, and the
    interventions due (each level with an action, the first time it is reached), in the order raised. ``levels``
    and ``raised`` (each conversation's level and the levels raised so far) are brought up to date."""
    reached: list[str] = []
    due_now: list[Due] = []
    for i, (cid, mid) in enumerate(zip(steps.conversation_id, steps.message_id, strict=True)):
        score = float(steps.risk_score[i])
        level = policy.next_level(thresholds, levels.get(cid, "none"), score)
        levels[cid] = level
        due = policy.due(level, raised.get(cid, frozenset()))
        raised[cid] = raised.get(cid, frozenset()) | set(due)
        due_now.extend(Due(i, cid, mid, lv, score) for lv in due)
        reached.append(level)
    return reached, due_now


def intervention(policy: EscalationPolicy, model_version: str, first_ts: float | None, named: Named,
                 why: dict[str, Any], due: Due, at: float) -> dict[str, Any]:
    """``due`` as an intervention, naming what its conversation's state names after its trigger (``named``) and what
    drove the risk there (``why``: ``explain.driven_by``); ``first_ts``: the conversation's first message's time,
    which its id derives from; ``at``: when it was raised (Unix seconds)."""
    spec = policy.actions[due.level]
    return {
        "intervention_id": intervention_id(due.conversation_id, due.level, first_ts),
        "conversation_id": due.conversation_id, "level": due.level, "action": spec["action"],
        "risk_score": due.score, "trigger_message_id": due.trigger, "suspect_id": named.suspect_id,
        "suspect_share": named.suspect_share, "evidence_message_ids": named.evidence_message_ids, "driven_by": why,
        "model_version": model_version,
        "created_at": datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds"),
        "details": {k: v for k, v in spec.items() if k != "action"},
    }


HISTORY_CALL_MESSAGES = 5000  # about how many messages ``load_history`` gives one call (whole conversations)


def load_history(processor: Processor, parts: Iterable[Sequence[MessageEvent]],
                 done: Callable[[int], None] = lambda n: None) -> dict[str, Any]:
    """Every message of ``parts`` through ``processor`` without interventions (``Processor.process``), each
    conversation whole in one call, calls of about ``HISTORY_CALL_MESSAGES`` messages (one transaction each).
    A conversation's messages are all in one part (a part is read when the one before is loaded: one part is
    held at a time); ``done`` is told how many conversations were written after each call. What it did:
    messages, those the store held already (``duplicate``), conversations, and how many reached each level
    with an action."""
    reached: dict[str, str] = {}
    messages = duplicates = loaded = 0
    for events in parts:
        by_conversation: dict[str, list[MessageEvent]] = {}
        for event in events:
            by_conversation.setdefault(event.conversation_id, []).append(event)
        call: list[MessageEvent] = []
        conversations = list(by_conversation.values())
        for k, conversation in enumerate(conversations):
            call += conversation
            if len(call) < HISTORY_CALL_MESSAGES and k + 1 < len(conversations):
                continue
            answers, _ = processor.process(call, intervene=False)
            for answer in answers:
                duplicates += answer["duplicate"]
                cid, level = answer["conversation_id"], answer["risk_level"]
                if LEVELS.index(level) > LEVELS.index(reached.get(cid, "none")):
                    reached[cid] = level
            done(loaded + k + 1)
            call = []
        messages += len(events)
        loaded += len(conversations)
    acted = [level for level in LEVELS if level in processor.policy.actions]
    return {"n_messages": messages, "n_duplicates": duplicates, "n_conversations": loaded,
            "reached": {level: sum(LEVELS.index(r) >= LEVELS.index(level) for r in reached.values())
                        for level in acted}}


def _in_request_order(keys: list[tuple[str, str]], fresh: dict[tuple[str, str], dict[str, Any]],
                      earlier: dict[tuple[str, str], dict[str, Any]]) -> list[dict[str, Any]]:
    """One answer per key; an id answered before, or repeated within this call, is a duplicate."""
    out, given = [], set()
    for key in keys:
        if key in given or key in earlier:
            out.append({**(fresh.get(key) or earlier[key]), "duplicate": True})
        else:
            out.append(fresh[key])
            given.add(key)
    return out


def build_parts(settings: Any) -> dict[str, Any]:
    """Load the model, open the store, read the policy and sinks: every startup error surfaces here."""
    model = load_model(settings.model)
    policy = EscalationPolicy.load(settings.policy)
    sinks = load_sinks(settings)
    store = open_store(settings.state)
    return {"model": model, "policy": policy, "sinks": sinks, "store": store}


def hook(parts: dict[str, Any], sinks: list[Sink], settings: Any) -> tuple[Processor, Background]:
    """The processor and its background threads (the outbox worker, for the final list of sinks, and the
    janitor forgetting answers after ``settings.dedup_hours`` and conversations after
    ``settings.retention_days``, where they are not 0)."""
    processor = Processor(parts["model"], parts["store"], parts["policy"], [s.name for s in sinks],
                          on_model_change=settings.on_model_change)
    window, retention = settings.dedup_hours * 3600, settings.retention_days * 86400
    windows = [w for w in (window, retention) if w > 0]  # it looks twice in the shortest at least
    janitor = Janitor(parts["store"], window, retention, every=min(60.0, *(w / 2 for w in windows))) \
        if windows else None
    return processor, Background(OutboxWorker(parts["store"], sinks), janitor)


class Background:
    """The threads beside the processor: the outbox worker (``wake`` it when interventions are raised)
    and the janitor."""

    def __init__(self, outbox: OutboxWorker, janitor: Janitor | None) -> None:
        self.outbox, self.janitor = outbox, janitor
        self.wake = outbox.wake

    def start(self) -> None:
        self.outbox.start()
        if self.janitor is not None:
            self.janitor.start()

    def stop(self) -> None:
        if self.janitor is not None:
            self.janitor.stop()
        self.outbox.stop()
