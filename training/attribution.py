"""Whom and what an alert names, measured: the suspect at the alert and at the end, the peak's stage, and
offenders found by person across conversations (PAN 2012's predator identification)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, NamedTuple

from detection.events import STAGES
from detection.messages import order_events
from detection.model import RiskModel
from detection.scoring import RiskScore, score_messages
from training.curves import alert_rates
from training.data import LabelledData, offenders


def suspects_named(model: RiskModel, data: LabelledData, results: list[RiskScore]) -> dict[str, Any]:
    """Of the alerted positives whose offender the data shows (``offenders``), the share whose suspect
    is the offender at the alert (as the intervention raised there names them) and at the end
    (``score``'s ``suspect_id``); None without a known offender or alerts."""
    judged = suspect_outcomes(model, data, results)
    n = len(judged)
    return {"suspect_right_at_alert": sum(j.at_alert for j in judged.values()) / n if n else None,
            "suspect_right": sum(j.at_end for j in judged.values()) / n if n else None,
            "n_suspects_judged": n}


def peak_stages_named(data: LabelledData, results: list[RiskScore]) -> dict[str, Any]:
    """Of the alerted positives whose messages' stages are annotated (a risk stage on at least one), the share
    whose ``peak_stage`` is the most severe stage annotated (``peak_stage_right``) and the share named a less
    severe one (``peak_stage_under``: the worst of it read at under one half); None without such annotations
    or alerts. What a reviewer reads of an alert beside its level."""
    worst: dict[str, int] = {}
    for event, stage in zip(data.events, data.stages, strict=True):
        if stage not in (None, "none"):
            worst[event.conversation_id] = max(worst.get(event.conversation_id, 0), STAGES.index(stage))
    judged = [(STAGES.index(r.peak_stage), worst[r.conversation_id]) for r in results
              if r.alert and data.labels[r.conversation_id] and r.conversation_id in worst]
    n = len(judged)
    return {"peak_stage_right": sum(named == truth for named, truth in judged) / n if n else None,
            "peak_stage_under": sum(named < truth for named, truth in judged) / n if n else None,
            "n_peak_stages_judged": n}


OFFENDER_KEYS = (
    "offender_precision", "offender_recall", "offender_f0_5", "n_offenders", "n_offenders_named", "n_positive_left_out")


def offenders_identified(data: LabelledData, results: list[RiskScore]) -> dict[str, Any]:
    """Offenders found, by person rather than by conversation, as PAN 2012's predator identification
    (its problem 1) measures them: the people named suspect of an alerted conversation, each once however
    many conversations name them, against the offenders of the positive conversations (``offenders``: as
    the data names them, ``offender_id``, or as stage annotations show them). Precision is the share of
    those named who are offenders, recall the share of offenders named; F0.5 weighs precision, as PAN's
    ranking did. A positive conversation whose offender is not known (stages on both sides' messages
    alike) is left out, its suspect neither right nor wrong (``n_positive_left_out``); None where no
    offender is known (labels alone)."""
    named = offenders(data)
    positives = [c for c, y in data.labels.items() if y]
    known = [c for c in positives if c in named]
    if not known:
        return dict.fromkeys(OFFENDER_KEYS)
    left_out = set(positives) - set(known)
    truth = {named[c] for c in known}
    flagged = {r.suspect_id for r in results
               if r.alert and r.suspect_id is not None and r.conversation_id not in left_out}
    rates = alert_rates(len(truth & flagged), len(flagged - truth), len(truth), 0)
    return {"offender_precision": rates["precision"], "offender_recall": rates["recall"],
            "offender_f0_5": rates["f0_5"], "n_offenders": len(truth), "n_offenders_named": len(flagged),
            "n_positive_left_out": len(left_out)}


class SuspectOutcome(NamedTuple):
    """Whether the suspect was the offender at the alert and at the end, and the suspect's share of
    the risk evidence at the alert (``ConversationState.suspect_share``)."""

    at_alert: bool
    at_end: bool
    share_at_alert: float | None


def suspect_outcomes(model: RiskModel, data: LabelledData, results: list[RiskScore]) -> dict[str, SuspectOutcome]:
    """For each alerted positive whose offender the data shows: how the suspect was named."""
    named = offenders(data)
    alerted = {r.conversation_id: r for r in results if r.alert and r.conversation_id in named}
    position: dict[str, int] = defaultdict(int)
    prefixes = []
    for event in order_events(data.subset(set(alerted)).events):  # the alert index counts in this order
        if position[event.conversation_id] <= (alerted[event.conversation_id].alert_index or 0):
            prefixes.append(event)
        position[event.conversation_id] += 1
    at_alert = score_messages(model, prefixes)[1]
    return {c: SuspectOutcome(at_alert[c].suspect_id == named[c], r.suspect_id == named[c],
                              at_alert[c].suspect_share) for c, r in alerted.items()}
