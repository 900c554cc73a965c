"""Compare model variants on held-out synthetic folds (unseen phrase families and negative kinds).

Each variant is fitted on two folds and measured on the third, for each fold in turn; the alert
threshold is chosen on the held-out fold at the target precision, the same way for every variant.
Prints one line per variant and fold as it goes, then the mean table; ``--json`` keeps every figure.
``--families`` measures in-family figures beside the cross-family ones instead: each variant is
fitted on the two folds less a fifth kept back, then measured on that fifth (seen phrase families,
replies and negative kinds) and on the held-out fold (``training.crossval.in_and_cross_family``).

    python benchmarks/compare_models.py --data data_samples/train.parquet [--folds 0 1 2] [--families]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from typing import Any

import numpy as np

from training.crossval import in_and_cross_family
from training.data import holdout_split, load_labelled, synthetic_folds
from training.report import fmt
from training.train import TrainConfig, train

VARIANTS: dict[str, dict[str, Any]] = {
    "baseline": {"model_type": "baseline"},
    "baseline, no text path": {"model_type": "baseline", "text_path": False},
    "baseline, no text model": {"model_type": "baseline", "text_model": False},
    "baseline, no sequence": {"model_type": "baseline", "sequence": False},
    "baseline, filler read as written": {"model_type": "baseline", "drop_filler": False},
    "baseline, punctuation in character n-grams": {"model_type": "baseline", "chars_within_words": False},
    "baseline, each message alone": {"model_type": "baseline", "run_gap": 0},
    "baseline, no clauses": {"model_type": "baseline", "read_clauses": False},
    "baseline, alone and no clauses": {"model_type": "baseline", "run_gap": 0, "read_clauses": False},
    "frozen + head": {"model_type": "transformer", "ngrams": False},
    "frozen + head, no sequence": {"model_type": "transformer", "ngrams": False, "sequence": False},
    "frozen + n-grams": {"model_type": "transformer"},
    "fine-tuned + head": {"model_type": "transformer", "encoder": "fine-tuned", "ngrams": False},
    "fine-tuned + head, no sequence": {"model_type": "transformer", "encoder": "fine-tuned", "ngrams": False,
                                       "sequence": False},
    "fine-tuned + n-grams": {"model_type": "transformer", "encoder": "fine-tuned"},
}
KEYS = ("f0_5", "recall", "false_alert_rate", "alerted_before_threat", "alerted_before_threat_groomed",
        "median_messages_to_alert", "latency_weighted_f1", "roc_auc", "train_seconds")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data_samples/train.parquet")
    parser.add_argument("--folds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument("--labels-only", action="store_true", help="drop stage annotations before training")
    parser.add_argument("--families", action="store_true", help="in-family figures beside cross-family ones")
    parser.add_argument("--json", help="write every figure to this file")
    args = parser.parse_args()
    data = load_labelled(args.data)
    if args.families and synthetic_folds(data) is None:
        parser.error("--families needs the generator's fold column")
    if args.labels_only:
        data = data.without_stages()
    rows: dict[str, list[dict[str, Any]]] = {}

    def record(label: str, fold: int, metrics: dict[str, Any]) -> None:
        rows.setdefault(label, []).append(metrics)
        print(f"{label:32s} fold {fold}: " + " ".join(f"{k}={fmt(metrics.get(k))}" for k in KEYS), flush=True)

    for name in args.variants:
        for fold in args.folds:
            config = replace(TrainConfig(**VARIANTS[name]), seed=fold, refit_on_all=False)
            started = time.perf_counter()
            if args.families:
                _, test, _ = holdout_split(data, fold)
                measured = in_and_cross_family(data, test, config)
                seconds = round(time.perf_counter() - started, 1)
                for side in ("in_family", "cross_family"):
                    record(f"{name} [{side.replace('_', '-')}]", fold, {**measured[side], "train_seconds": seconds})
                continue
            metrics = train(data, config).metrics
            record(name, fold, {**metrics, "train_seconds": round(time.perf_counter() - started, 1)})
    print("\nmean over folds")
    print(f"{'variant':40s} " + " ".join(f"{k[:14]:>14s}" for k in KEYS))
    for name, runs in rows.items():
        means = [np.mean([r[k] for r in runs if r.get(k) is not None] or [np.nan]) for k in KEYS]
        print(f"{name:40s} " + " ".join(f"{m:14.3f}" for m in means))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({name: [{k: r.get(k) for k in (*KEYS, "slices", "calibration")} for r in runs]
                       for name, runs in rows.items()}, handle, indent=2, default=str)


if __name__ == "__main__":
    main()
