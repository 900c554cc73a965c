"""The one scoring core. Batch, service, stream and tests all go through ``score_messages``.

``score_messages`` takes new messages and the prior state of their conversations and returns the
risk after each message plus the new states. A whole file in one call (empty prior states) and the
same messages one call each (state carried between calls) give identical results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

from detection.events import STAGES, MessageEvent
from detection.features import FEATURE_NAMES, HALF, Running, Seeds, running_features
from detection.language import word_counts
from detection.messages import Messages, order_events
from detection.model import RiskModel
from detection.runs import OpenRun, Runs, find_runs, with_runs
from detection.stage_model import offender_probability
from detection.state import EVIDENCE_SIZE, N_RISK, QUANT, ConversationState

SEVERITY = np.arange(1, N_RISK + 1, dtype=np.int64)
TEXT_LIMIT = 1000.0  # text logits are clipped here before quantising, so sums stay within int64
TEXT_EVIDENCE = 4.0  # a message with no stage whose text logit reaches this (odds about 55:1) is evidence
TEXT_EVIDENCE_SCALE = 64  # its evidence weight is logit * QUANT / this, kept below any stage message's
WORDED_FLOOR = int(TEXT_EVIDENCE * QUANT) // TEXT_EVIDENCE_SCALE  # the least weight a worded message has
WEAK_EVIDENCE = 0.25  # stage evidence summed over stages that makes a message weak evidence


@dataclass(frozen=True)
class StepScores:
    """Risk after each scored message, columnar, rows in conversation order."""

    conversation_id: list[str]
    message_id: list[str]
    index: np.ndarray
    risk_score: np.ndarray
    stage_proba: np.ndarray
    features: np.ndarray
    # the role model's probability that the offender wrote each message; None without a role model
    offender: np.ndarray | None = None

    @property
    def stage(self) -> list[str]:
        return [STAGES[i] for i in np.argmax(self.stage_proba, axis=1)]

    def __len__(self) -> int:
        return len(self.message_id)


@dataclass(frozen=True)
class RiskScore:
    """A conversation's summary: the row of ``riskline score`` output."""

    conversation_id: str
    n_messages: int
    risk_score: float
    risk_level: str
    alert: bool
    alert_index: int | None
    alert_message_id: str | None
    peak_stage: str
    suspect_id: str | None
    evidence_message_ids: list[str]
    model_version: str
    suspect_share: float | None = None  # the suspect's part of the risk evidence (ConversationState.suspect_share)
    other_language: bool = False  # reads as another language than English (ConversationState.other_language)


class Named(NamedTuple):
    """Whom and what a conversation's state names after one of its messages (``score_and_name``)."""

    suspect_id: str | None
    suspect_share: float | None
    evidence_message_ids: list[str]


def score_and_name(model: RiskModel, events: Sequence[MessageEvent] | Messages,
                   states: Mapping[str, ConversationState] | None, evidence_key: str | None, keep_other_evidence: bool,
                   rows_of: Callable[[StepScores], Iterable[int]],
                   ) -> tuple[StepScores, dict[str, ConversationState], dict[int, Named]]:
    """``score_messages``, and for each row that ``rows_of(steps)`` asks for (told the steps before the states are
    made), the suspect and evidence its conversation's state names after that row: what a call ending there would
    have left (scoring is causal), at no cost of scoring again. For interventions raised within a call of many
    messages, which name them as of their trigger."""
    return _score(model, events, states, evidence_key, keep_other_evidence, rows_of)


def score_messages(model: RiskModel, events: Sequence[MessageEvent] | Messages,
                   states: Mapping[str, ConversationState] | None = None, evidence_key: str | None = None,
                   keep_other_evidence: bool = False) -> tuple[StepScores, dict[str, ConversationState]]:
    """Score ``events`` causally, continuing from ``states``; return step scores and new states.

    With ``evidence_key`` (``model.evidence_key``, from a caller that keeps states between calls, such as
    the service) new states record it, and a state whose running evidence another model gave is set
    aside (``ConversationState.set_aside``) unless ``keep_other_evidence``: read by a model that weighs evidence
    differently, it can be far off (a model trained on conversation labels alone, continuing a stage
    model's states, alerted on a third of the negative conversations in progress).
    """
    steps, new_states, _ = _score(model, events, states, evidence_key, keep_other_evidence, None)
    return steps, new_states


def _score(model: RiskModel, events: Sequence[MessageEvent] | Messages,
           states: Mapping[str, ConversationState] | None, evidence_key: str | None, keep_other_evidence: bool,
           rows_of: Callable[[StepScores], Iterable[int]] | None,
           ) -> tuple[StepScores, dict[str, ConversationState], dict[int, Named]]:
    states = states or {}
    ordered = (events if isinstance(events, Messages) else Messages.of(events)).ordered()
    if not len(ordered):
        empty = np.zeros(0)
        return StepScores([], [], empty.astype(np.int64), empty, np.zeros((0, len(STAGES))),
                          np.zeros((0, len(FEATURE_NAMES)))), {}, {}
    conv_ids = ordered.conversation_id
    grouped = np.array(conv_ids, dtype=object)
    starts = np.flatnonzero(np.concatenate(([True], grouped[1:] != grouped[:-1]))).astype(np.int64)
    priors = [states.get(conv_ids[s]) or ConversationState(conv_ids[s]) for s in starts.tolist()]
    if evidence_key is not None and not keep_other_evidence:
        priors = [p.set_aside() if p.built_by_another(evidence_key) else p for p in priors]
    sender = _codes(ordered.sender_id)
    read = _read(model, ordered, starts, priors, sender)
    run = running_features(read.risk, read.text, ordered.timestamp, sender, ordered.media, starts,
                           Seeds.of(priors, starts, ordered.sender_id))
    if any(p.restarted_at for p in priors):  # positions count every message, the features those since
        before = np.array([p.restarted_at for p in priors], dtype=np.int64)
        run = replace(run, index=run.index + np.repeat(before, np.diff(np.append(starts, len(ordered)))))
    scores = model.conversation_model.predict(run.features)
    steps = StepScores(conv_ids, ordered.message_id, run.index, scores, read.proba, run.features, read.offender)
    wanted = sorted(set(rows_of(steps))) if rows_of is not None else []
    rows = _Rows(ordered.sender_id, ordered.message_id, run.sender_mass.tolist(),
                 None if read.role is None else read.role.tolist())
    weights = _evidence_weights(read.risk, read.text)
    return steps, _new_states(model, ordered, starts, priors, read, run, scores, evidence_key, rows, weights), \
        _named(starts, priors, run, rows, weights, wanted)


def _named(starts: np.ndarray, priors: list[ConversationState], run: Running, rows: _Rows, weights: np.ndarray,
           wanted: list[int]) -> dict[int, Named]:
    """``score_and_name``'s: for each row of ``wanted``, what its conversation's state names after it, from the
    state before the call and the call's rows of it up to that row, as ``_advance`` takes them."""
    named = {}
    for row in wanted:
        k = int(np.searchsorted(starts, row, side="right")) - 1  # the row's conversation
        a, prior = int(starts[k]), priors[k]
        masses, roles = _sender_totals(prior, rows, a, row + 1)
        evidence = _evidence(prior, rows, run, weights, a, row + 1)
        suspect, share = ConversationState(prior.conversation_id, sender_mass=masses, sender_role=roles).suspect()
        named[row] = Named(suspect, share, [message_id for _, _, message_id in evidence])
    return named


class _Read(NamedTuple):
    """What the model reads in each message, row by row."""

    proba: np.ndarray  # stage probabilities, each with its run's reading where that says more
    risk: np.ndarray  # the risk stages' evidence, in units of 1/QUANT (integers: the same in any batching)
    text: np.ndarray  # the text model's logit, clipped, in units of 1/QUANT
    offender: np.ndarray | None  # the role model's probability that the offender wrote it; None without one
    role: np.ndarray | None  # its risk mass weighed by that probability
    runs: Runs | None  # the runs read, None for a model that reads each message alone


def _read(model: RiskModel, ordered: Messages, starts: np.ndarray, priors: list[ConversationState],
          sender: np.ndarray) -> _Read:
    """Each message's evidence: the stage, text and role models' readings, runs of a sender's messages included."""
    proba, text_logit, role_logit = model.evidence(ordered.text)
    runs = None
    if model.run_gap:
        runs = find_runs(ordered.sender_id, ordered.text, ordered.timestamp, starts, priors, model.run_gap,
                         np.rint(proba[:, 1:] * QUANT).astype(np.int64), sender, model.run_asides)
        proba = with_runs(model, runs, proba)[0]
    risk = np.rint(proba[:, 1:] * QUANT).astype(np.int64)
    text = text_units(text_logit)
    offender = offender_probability(role_logit) if model.stage_model.has_role else None
    role = None if offender is None else np.rint(risk.sum(axis=1) * offender).astype(np.int64)
    return _Read(proba, risk, text, offender, role, runs)


def text_units(text_logit: np.ndarray) -> np.ndarray:
    """The text model's logits as the running features sum them: clipped, in units of 1/QUANT."""
    return np.rint(np.clip(text_logit, -TEXT_LIMIT, TEXT_LIMIT) * QUANT).astype(np.int64)


def _new_states(model: RiskModel, ordered: Messages, starts: np.ndarray, priors: list[ConversationState],
                read: _Read, run: Running, scores: np.ndarray, evidence_key: str | None, rows: _Rows,
                weights: np.ndarray) -> dict[str, ConversationState]:
    """Each conversation's state after its rows (``_advance``; ``weights``: ``_evidence_weights`` of every row),
    by conversation id."""
    ends = np.append(starts[1:], len(ordered))
    # each conversation's function words of English and of other languages here (integers: any batching)
    language = np.add.reduceat(word_counts(ordered.text), starts, axis=0).tolist()
    runs = read.runs
    return {
        prior.conversation_id: _advance(model, prior, rows, run, scores, weights, ordered.timestamp, int(a), int(b),
                                        evidence_key, None if runs is None else runs.open[k],
                                        () if runs is None or not runs.others else runs.others[k], language[k])
        for k, (prior, a, b) in enumerate(zip(priors, starts, ends, strict=True))
    }


def runs_of(model: RiskModel, events: Sequence[MessageEvent]) -> Runs:
    """The runs ``score_messages`` reads in one conversation's ``events`` scored from its start (none for a
    model that reads each message alone); for explanations."""
    ordered = Messages.of(order_events(events))
    if not model.run_gap or not len(ordered):
        return Runs([], [], np.zeros((0, N_RISK), dtype=np.int64), [])
    own = np.rint(model.evidence(ordered.text).proba[:, 1:] * QUANT).astype(np.int64)
    return find_runs(ordered.sender_id, ordered.text, ordered.timestamp, np.zeros(1, dtype=np.int64),
                     [ConversationState(ordered.conversation_id[0])], model.run_gap, own, _codes(ordered.sender_id),
                     model.run_asides)


def _codes(values: Sequence[str]) -> np.ndarray:
    """Each value's number, in order of first appearance (a sender's, within the batch)."""
    numbers: dict[str, int] = {}
    return np.fromiter((numbers.setdefault(v, len(numbers)) for v in values), np.int64, len(values))


class _Rows(NamedTuple):
    """What ``_advance`` reads row by row, as plain lists (a numpy scalar costs more to read)."""

    sender_id: list[str]
    message_id: list[str]
    sender_mass: list[int]  # each sender's running risk mass after the row
    role: list[int] | None  # the row's risk mass weighed by the role model; None without one


def _evidence_weights(risk: np.ndarray, text: np.ndarray) -> np.ndarray:
    """Each message's weight as evidence, or -1 where it is none.

    Evidence in three tiers, each ranked below the one before: messages that show a stage (evidence
    of one half or more); messages with no stage whose wording alone the text model weighs strongly
    towards grooming (a text-path alert may have no recognisable stage); and messages whose stage
    evidence adds up to WEAK_EVIDENCE without any one stage reaching one half (an escalation-path
    score can climb on several such messages, and an alert must still name what moved it).
    """
    detected = (risk >= HALF).any(axis=1)
    worded = ~detected & (text >= TEXT_EVIDENCE * QUANT)
    mass = risk.sum(axis=1)
    weak = ~detected & ~worded & (mass >= WEAK_EVIDENCE * QUANT)
    weights = np.select([detected, worded],
                        [risk @ SEVERITY, np.minimum(text // TEXT_EVIDENCE_SCALE, HALF - 1)],
                        np.minimum(mass * (WORDED_FLOOR - 1) // QUANT, WORDED_FLOOR - 1))
    return np.where(detected | worded | weak, weights, -1)


def _advance(model: RiskModel, prior: ConversationState, rows: _Rows, run: Running, scores: np.ndarray,
             weights: np.ndarray, ts: np.ndarray, a: int, b: int, evidence_key: str | None,
             open_run: OpenRun | None, other_runs: tuple[OpenRun, ...], language: list[int]) -> ConversationState:
    """The state after rows ``a..b-1`` of one conversation (``weights``: ``_evidence_weights`` of every
    row; ``open_run``: its last sender's run, from ``find_runs``, None for a model that reads no runs;
    ``other_runs``: other senders' runs still open, for a model whose runs go on across asides; ``language``: the
    rows' English and other-language function words)."""
    last = b - 1
    segment = scores[a:b]
    masses, roles = _sender_totals(prior, rows, a, b)
    max_score, peak_index, peak_id = _peak(prior, segment, rows, run, a)
    alert_index, alert_id = _alert(model, prior, segment, rows, run, a)
    first_risk = run.first_risk_ts[last]
    return ConversationState(
        conversation_id=prior.conversation_id, n_messages=int(run.index[last]) + 1,
        first_ts=prior.first_ts if prior.first_ts is not None else float(ts[a]),
        last_ts=float(ts[last]) if prior.last_ts is None else max(prior.last_ts, float(ts[last])),  # a late arrival
        stage_max=tuple(run.stage_max[last].tolist()), stage_hits=tuple(run.stage_hits[last].tolist()),
        first_risk_ts=None if np.isnan(first_risk) else float(first_risk),
        sender_mass=masses, n_media=int(run.n_media[last]),
        media_after_request=bool(run.media_after_request[last]), text_sum=int(run.text_sum[last]),
        last_score=float(segment[-1]),
        max_score=max_score, peak_index=peak_index, peak_message_id=peak_id,
        alert_index=alert_index, alert_message_id=alert_id, evidence=_evidence(prior, rows, run, weights, a, b),
        sender_role=roles, evidence_key=evidence_key or prior.evidence_key, restarted_at=prior.restarted_at,
        earlier_stage_max=prior.earlier_stage_max,
        run_sender=None if open_run is None else open_run.sender, run_texts=() if open_run is None else open_run.texts,
        run_evidence=() if open_run is None else open_run.evidence,
        other_runs=tuple((other.sender or "", other.ts, other.texts, other.evidence) for other in other_runs),
        language_words=(prior.language_words[0] + language[0], prior.language_words[1] + language[1]),
    )


def _sender_totals(prior: ConversationState, rows: _Rows, a: int,
                   b: int) -> tuple[tuple[tuple[str, int], ...], tuple[tuple[str, int], ...]]:
    """Each sender's running risk mass after rows ``a..b-1``, and their mass weighed by the role model."""
    senders = rows.sender_id[a:b]
    masses = dict(prior.sender_mass)
    masses.update(zip(senders, rows.sender_mass[a:b], strict=True))  # the last value per sender: their running total
    roles = dict(prior.sender_role)
    if rows.role is not None:  # integers: the same sums however the messages were batched
        for sender, mass in zip(senders, rows.role[a:b], strict=True):
            roles[sender] = roles.get(sender, 0) + mass
    return tuple(masses.items()), tuple(roles.items())


def _peak(prior: ConversationState, segment: np.ndarray, rows: _Rows, run: Running,
          a: int) -> tuple[float, int | None, str | None]:
    """The highest score so far, its position and its message id: the state's, or a higher one among these rows."""
    peak = int(np.argmax(segment))  # position within this batch's rows of the conversation
    if prior.peak_index is None or segment[peak] > prior.max_score:
        return float(segment[peak]), int(run.index[a + peak]), rows.message_id[a + peak]
    return prior.max_score, prior.peak_index, prior.peak_message_id


def _alert(model: RiskModel, prior: ConversationState, segment: np.ndarray, rows: _Rows, run: Running,
           a: int) -> tuple[int | None, str | None]:
    """Where the alert first fired: the state's, or the first of these rows whose score crosses the threshold."""
    if prior.alert_index is None:
        crossed = np.flatnonzero(segment >= model.thresholds.alert)
        if len(crossed):
            return int(run.index[a + crossed[0]]), rows.message_id[a + int(crossed[0])]
    return prior.alert_index, prior.alert_message_id


def _evidence(prior: ConversationState, rows: _Rows, run: Running, weights: np.ndarray, a: int,
              b: int) -> tuple[tuple[int, int, str], ...]:
    """The EVIDENCE_SIZE heaviest evidence messages so far (weight, position, message id): the state's and
    these rows', the heaviest first and the earliest of equal weight."""
    segment_weights = weights[a:b]
    best = np.flatnonzero(segment_weights >= 0)
    best = best[np.lexsort((best, -segment_weights[best]))][:EVIDENCE_SIZE]  # this batch's best, before any tuple
    candidates = list(prior.evidence) + [(int(segment_weights[i]), int(run.index[a + i]),
                                          rows.message_id[a + int(i)]) for i in best]
    return tuple(sorted(candidates, key=lambda c: (-c[0], c[1]))[:EVIDENCE_SIZE])


def summarize(model: RiskModel, state: ConversationState) -> RiskScore:
    """The conversation-level result for a state."""
    suspect, share = state.suspect()
    return RiskScore(
        conversation_id=state.conversation_id, n_messages=state.n_messages, risk_score=state.max_score,
        risk_level=model.thresholds.level(state.max_score), alert=state.alert_index is not None,
        alert_index=state.alert_index, alert_message_id=state.alert_message_id, peak_stage=state.peak_stage,
        suspect_id=suspect, evidence_message_ids=state.evidence_message_ids,
        model_version=model.model_version, suspect_share=share, other_language=state.other_language,
    )


def score_conversations(model: RiskModel, events: Sequence[MessageEvent] | Messages,
                        ) -> tuple[list[RiskScore], StepScores]:
    """Score whole conversations from scratch: one summary per conversation, and every step."""
    steps, states = score_messages(model, events)
    return [summarize(model, state) for state in states.values()], steps
