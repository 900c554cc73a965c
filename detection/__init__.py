"""Riskline's production side: events, causal scoring, policy, sinks, the engines, the service and the CLI.

The names a program or a notebook needs are importable from here, each loaded on first use (so that
``import detection`` loads nothing, and the command line starts as fast as before)::

    from detection import load_model, read_events, score_conversations

    model = load_model()  # the default model, a model directory, or an MLflow URI
    results, steps = score_conversations(model, read_events("messages.jsonl").events)

The README's "From Python" shows the rest: rows held in memory (``to_event``), scoring message by message with
states kept (``score_messages``, ``summarize``), a conversation's trajectory (``trajectory``), the service's
client (``RisklineClient``, ``AsyncRisklineClient``, ``RisklineError``) and a webhook receiver's check of the
signature (``verify_signature``), and the interventions the service would raise on messages held
(``replay_interventions``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# each public name, and the module it lives in
_HOMES = {
    "MessageEvent": "detection.events", "to_event": "detection.events",
    "load_model": "detection.model_files", "RiskModel": "detection.model",
    "read_events": "detection.readers",
    "score_conversations": "detection.scoring", "score_messages": "detection.scoring",
    "summarize": "detection.scoring", "RiskScore": "detection.scoring",
    "trajectory": "detection.explain",
    "RisklineClient": "detection.client", "AsyncRisklineClient": "detection.client",
    "RisklineError": "detection.client", "verify_signature": "detection.client",
    "replay_interventions": "detection.replay",
}

__all__ = ["AsyncRisklineClient", "MessageEvent", "RiskModel", "RiskScore", "RisklineClient", "RisklineError",
           "load_model", "read_events", "replay_interventions", "score_conversations", "score_messages", "summarize",
           "to_event", "trajectory", "verify_signature"]

if TYPE_CHECKING:
    from detection.client import AsyncRisklineClient, RisklineClient, RisklineError, verify_signature
    from detection.events import MessageEvent, to_event
    from detection.explain import trajectory
    from detection.model import RiskModel
    from detection.model_files import load_model
    from detection.readers import read_events
    from detection.replay import replay_interventions
    from detection.scoring import RiskScore, score_conversations, score_messages, summarize


def __getattr__(name: str) -> Any:
    """A public name, imported from its module the first time it is asked for (PEP 562)."""
    if (home := _HOMES.get(name)) is None:
        raise AttributeError(f"module 'detection' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # asked for again, found at once
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
