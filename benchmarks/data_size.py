"""What more generated training data buys: the same held-out folds, a model trained on all of the
other folds against one trained on a third of them.

The default is trained on the shipped 2,000 conversations (`data_samples/train.parquet`). This
generates more with the same generator (`--conversations`, default 6,000: the shipped 2,000 and
4,000 more, as `generate` draws conversation after conversation), and for each of its three folds
trains the default configuration on the other two folds, whole and a random third of them (about
the shipped size), then measures both on the held-out fold (unseen phrase families, replies and
negative kinds; thresholds chosen there, as `riskline train --cv 3` does) and on the 128
hand-written conversations of `benchmarks/challenge.py` at those thresholds. It prints each fold and
the means.

    .venv/bin/python benchmarks/data_size.py [--conversations 6000] [--seed 1]

About four minutes here (two cores) at the defaults.
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path
from typing import Any

import challenge  # the hand-written set, beside this script
import numpy as np

from detection.scoring import score_conversations
from detection.writers import write_rows
from training.data import LabelledData, given_folds, load_labelled
from training.evaluate import evaluate_results
from training.synth.generator import generate
from training.train import TrainConfig, fit_and_measure

KEYS = ("f0_5", "recall", "false_alert_rate", "alerted_before_threat", "alerted_before_threat_groomed",
        "latency_weighted_f1")


def hand_written() -> LabelledData:
    with tempfile.TemporaryDirectory() as tmp:
        write_rows(Path(tmp) / "c.jsonl", challenge.rows("all"))
        return load_labelled(Path(tmp) / "c.jsonl")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=1, help="data seed (1: the shipped data comes first)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        write_rows(Path(tmp) / "d.parquet", generate(args.conversations, args.seed))
        data = load_labelled(Path(tmp) / "d.parquet")
    hand = hand_written()
    folds = given_folds(data)
    runs: dict[str, list[dict[str, Any]]] = {"a third": [], "all": []}
    for k, name in enumerate(sorted(set(folds.values()))):
        held = {c for c, f in folds.items() if f == name}
        rest = sorted(set(data.labels) - held)
        for label, ids in (("a third", set(random.Random(k).sample(rest, len(rest) // 3))), ("all", set(rest))):
            measured = fit_and_measure(data.subset(ids), data.subset(held), TrainConfig(seed=k))
            results, _ = score_conversations(measured.model, hand.events)
            row = {key: measured.metrics[key] for key in KEYS}
            row["hand_alerted"] = sum(r.alert for r in results if hand.labels[r.conversation_id])
            row["hand_false"] = sum(r.alert for r in results if not hand.labels[r.conversation_id])
            row["hand_roc_auc"] = evaluate_results(results, hand, measured.model.thresholds)["roc_auc"]
            runs[label].append(row)
            print(f"fold {name}, {label} of the other folds ({len(ids)} conversations): "
                  + " ".join(f"{key}={value:.3f}" for key, value in row.items()), flush=True)
    n_pos, n_neg = sum(hand.labels.values()), len(hand.labels) - sum(hand.labels.values())
    print(f"\nmeans over the folds (hand-written: of {n_pos} positives and {n_neg} negatives)")
    for label, rows in runs.items():
        print(f"  {label:8s} " + " ".join(f"{key}={np.mean([r[key] for r in rows]):.3f}" for key in rows[0]))


if __name__ == "__main__":
    main()
