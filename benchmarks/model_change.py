"""A new model on a store of conversations in progress: restart their running evidence, or continue it.

The service keeps each conversation's running evidence (stage maxima, the text model's sum, risk mass)
between messages. When another model is served on the same store, conversations in progress hold the
old model's evidence. This cuts every held-out conversation in half, scores the first half with one
model and the second with another, both ways (``--on-model-change continue`` and ``restart``), and
counts the conversations alerting in their second halves against the second model scoring the whole
conversation itself.

    .venv/bin/python benchmarks/model_change.py [--n 600] [--held-out 200] [--model models/default]

Two models are trained on data generated with seed 7 (``--n`` conversations): a baseline, and one on
conversation labels alone (stage annotations dropped); the held-out conversations are generated with
seed 9. Each pair is measured: the default model then each of them, and each of them then the default.
"""

from __future__ import annotations

import argparse
import tempfile
from collections import defaultdict
from pathlib import Path

from detection.events import MessageEvent, to_event
from detection.model import RiskModel
from detection.model_files import load_model
from detection.scoring import StepScores, score_messages
from detection.writers import write_rows
from training.data import load_labelled
from training.synth.generator import generate
from training.train import TrainConfig, train


def halves(events: list[MessageEvent]) -> tuple[list[MessageEvent], list[MessageEvent]]:
    """Every conversation's first half and second half (in conversation order)."""
    by: dict[str, list[MessageEvent]] = defaultdict(list)
    for event in sorted(events, key=lambda e: e.timestamp):
        by[event.conversation_id].append(event)
    first = [e for messages in by.values() for e in messages[: len(messages) // 2]]
    second = [e for messages in by.values() for e in messages[len(messages) // 2:]]
    return first, second


def alerting(steps: StepScores, threshold: float) -> set[str]:
    return {c for c, s in zip(steps.conversation_id, steps.risk_score.tolist(), strict=True) if s >= threshold}


def compare(old: RiskModel, new: RiskModel, events: list[MessageEvent], labels: dict[str, int]) -> dict[str, str]:
    first, second = halves(events)
    _, old_states = score_messages(old, first, {}, old.evidence_key)
    _, own_states = score_messages(new, first, {}, new.evidence_key)
    threshold = new.thresholds.alert
    rows = {"alone": alerting(score_messages(new, second, own_states, new.evidence_key)[0], threshold)}
    for how, keep in (("continue", True), ("restart", False)):
        rows[how] = alerting(score_messages(new, second, old_states, new.evidence_key, keep)[0], threshold)
    return {how: f"{sum(labels[c] for c in got)} positives, {sum(1 - labels[c] for c in got)} negatives"
            for how, got in rows.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=600, help="conversations to train each model on")
    parser.add_argument("--held-out", type=int, default=200)
    parser.add_argument("--model", default=None, help="the first model (default: the shipped default)")
    args = parser.parse_args()
    default = load_model(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.parquet"
        write_rows(path, generate(args.n, seed=7))
        data = load_labelled(path)
    trained = {"baseline on other data": train(data, TrainConfig()),
               "labels only": train(data.without_stages(), TrainConfig())}
    rows = generate(args.held_out, seed=9)
    events = [to_event(r) for r in rows]
    labels = {str(r["conversation_id"]): int(str(r["conversation_label"])) for r in rows}
    print(f"{len(labels)} held-out conversations ({sum(labels.values())} positive), each cut in half; "
          "conversations alerting in their second halves:")
    for name, model in trained.items():
        for old, new, title in ((default, model, f"default, then {name}"), (model, default, f"{name}, then default")):
            figures = compare(old, new, events, labels)
            print(f"{title}:\n  second model alone: {figures['alone']}\n  continue: {figures['continue']}\n"
                  f"  restart: {figures['restart']}")


if __name__ == "__main__":
    main()
