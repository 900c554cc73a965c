"""How far the held-out figures move with the data's draw alone.

The README's figures are measured on one draw of the generator, the shipped data (``riskline
synth --n 2000 --seed 1``). This script generates the same amount of data with other seeds and
measures the same configuration on each, as ``benchmarks/compare_models.py`` does: each of the
three synthetic folds held out in turn (unseen phrase families, replies and negative kinds),
training seed = fold, thresholds chosen on the held-out fold. It prints each draw's three-fold
means, then the mean, the lowest and the highest over the draws. A difference between two
settings smaller than that spread, measured on one draw, is not a difference.

    .venv/bin/python benchmarks/data_seeds.py [--seeds 1 3 5 7 9 11] [--conversations 2000]
                                              [--labels-only] [--set KEY=VALUE ...]

About 45 s per draw of 2,000 conversations here (two cores).
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from detection.writers import write_rows
from training.data import load_labelled
from training.synth.generator import generate
from training.train import TrainConfig, train

KEYS = ("f0_5", "recall", "false_alert_rate", "alerted_before_threat", "alerted_before_threat_groomed",
        "latency_weighted_f1")
OTHER_HALF = ("f0_5", "false_alert_rate")


def measure(path: Path, config: TrainConfig, labels_only: bool) -> dict[str, float]:
    """Three-fold means of ``KEYS`` (and the other-half figures, prefixed ``other_half_``) for one file."""
    data = load_labelled(path)
    if labels_only:
        data = data.without_stages()
    runs: list[dict[str, Any]] = [train(data, replace(config, seed=fold, refit_on_all=False)).metrics
                                  for fold in (0, 1, 2)]
    out = {key: float(np.mean(values)) for key in KEYS if (values := [r[key] for r in runs if r.get(key) is not None])}
    for key in OTHER_HALF:
        if values := [r["other_half"][key] for r in runs if key in r.get("other_half", {})]:
            out[f"other_half_{key}"] = float(np.mean(values))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 3, 5, 7, 9, 11], help="data seeds")
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--labels-only", action="store_true", help="drop stage annotations before training")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                        help="a training setting, as riskline train --set (repeatable)")
    args = parser.parse_args()
    try:
        config = TrainConfig().with_settings(args.settings)
    except ValueError as exc:
        parser.error(str(exc))
    figures: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="riskline-data-seeds-") as folder:
        for seed in args.seeds:
            path = Path(folder) / f"seed{seed}.parquet"
            write_rows(path, generate(args.conversations, seed))
            figures.append(measure(path, config, args.labels_only))
            print(f"data seed {seed:3d}: " + " ".join(f"{k}={v:.3f}" for k, v in figures[-1].items()), flush=True)
    print(f"\nover {len(figures)} data seeds ({args.conversations} conversations each"
          f"{', labels only' if args.labels_only else ''}): mean (lowest-highest)")
    for key in figures[0]:
        values = [f[key] for f in figures if key in f]
        print(f"  {key:32s} {np.mean(values):.3f} ({min(values):.3f}-{max(values):.3f})")


if __name__ == "__main__":
    main()
