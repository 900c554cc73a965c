"""How far calibration and thresholds carry to kinds of talk they were not chosen on.

``riskline train`` chooses the calibration and thresholds on one held-out fold (its phrase families,
replies and negative kinds unseen in training), and its figures are measured on that same fold, so
precision and the false-alert budget hold there by construction. A platform's traffic holds other
kinds of talk. Here each of the generator's three folds is scored by the model trained on the other
two (training seed = fold, as ``benchmarks/compare_models.py``), and the calibration and thresholds
applied to it are chosen:

- ``own fold``: on the fold itself (what the README's held-out figures do);
- ``one other``: on one other fold, scored by its own model (each of the two in turn);
- ``two others``: on the other two folds together (``training.crossval.thresholds_from_other_folds``, as
  ``riskline train --cv`` reports);
- ``all three``: on all three together, this fold among them.

It prints each draw's and fold's figures, the false alerts by kind of negative with thresholds from
the two other folds, and the means over draws and folds.

    .venv/bin/python benchmarks/thresholds.py [--seeds 1 3 5 7] [--conversations 2000] [--set KEY=VALUE ...]

About 80 s per draw of 2,000 conversations here (two cores).
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from detection.model import RiskModel
from detection.scoring import score_conversations
from detection.writers import write_rows
from training.calibration import choose_on, read_held_out, with_choice
from training.crossval import thresholds_from_other_folds
from training.data import LabelledData, given_folds, load_labelled
from training.evaluate import evaluate_results
from training.report import fmt
from training.synth.generator import generate
from training.train import TrainConfig, fit

KEYS = ("alert", "precision", "recall", "f0_5", "false_alert_rate", "alerted_before_threat", "latency_weighted_f1")
WAYS = ("own fold", "one other", "two others", "all three")


def load_draw(seed: int, conversations: int, folder: Path) -> LabelledData:
    path = folder / f"draw{seed}.parquet"
    write_rows(path, generate(conversations, seed=seed))
    return load_labelled(path)


def judged(model: RiskModel, part: LabelledData) -> dict[str, Any]:
    """``model``'s figures on ``part`` at its thresholds (``alert``: the alert threshold)."""
    results, _ = score_conversations(model, part.events)
    return {**evaluate_results(results, part, model.thresholds), "alert": model.thresholds.alert}


def measure_draw(data: LabelledData, config: TrainConfig, label: str) -> dict[str, list[dict[str, Any]]]:
    folds = given_folds(data)
    names = sorted(set(folds.values()))
    if len(names) != 3:
        raise SystemExit(f"{label}: needs the generator's three folds, found {names}")
    parts = {n: data.subset({c for c, f in folds.items() if f == n}) for n in names}
    models = {n: fit(data.subset({c for c, f in folds.items() if f != n}), replace(config, seed=int(n)))
              for n in names}
    scored = [(models[n], parts[n]) for n in names]
    read = {n: read_held_out(models[n], parts[n]) for n in names}  # each fold read once for every choice below
    everywhere = choose_on(list(read.values()), config)
    from_others = [{**run, "alert": run["alert_threshold"]} for run in thresholds_from_other_folds(scored, config)]
    out: dict[str, list[dict[str, Any]]] = {way: [] for way in WAYS}
    for n, two_others in zip(names, from_others, strict=True):
        ways = {"own fold": [choose_on([read[n]], config)],
                "one other": [choose_on([read[o]], config) for o in names if o != n],
                "all three": [everywhere]}
        runs = {way: [judged(with_choice(models[n], *chosen), parts[n]) for chosen in choices]
                for way, choices in ways.items()}
        runs["two others"] = [two_others]
        for way in WAYS:
            for metrics in runs[way]:
                out[way].append(metrics)
                print(f"{label} fold {n} {way:10s} " + " ".join(f"{k}={fmt(metrics.get(k))}" for k in KEYS), flush=True)
        kinds = two_others["slices"].get("false_alert_rate_by_scenario", {})
        print("    false alerts by kind (thresholds from the two others): " + ", ".join(
            f"{kind} {round(v['rate'] * v['n'])}/{v['n']}" for kind, v in sorted(kinds.items())), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 3, 5, 7], help="data seeds (generator draws)")
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                        help="a training setting, as riskline train --set (repeatable)")
    args = parser.parse_args()
    if args.conversations < 30:
        parser.error("--conversations: at least 30, so that each fold holds both kinds")
    try:
        config = TrainConfig().with_settings(args.settings)
    except ValueError as exc:
        parser.error(str(exc))
    rows: dict[str, list[dict[str, Any]]] = {way: [] for way in WAYS}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for way, runs in measure_draw(load_draw(seed, args.conversations, Path(tmp)), config,
                                          f"draw {seed}").items():
                rows[way].extend(runs)
    draws = f"{len(args.seeds)} draws" if len(args.seeds) > 1 else "1 draw"
    print(f"\nmeans over {draws} and their three folds (false alerts: lowest-highest)")
    print(f"{'chosen on':12s} " + " ".join(f"{k[:14]:>14s}" for k in KEYS) + "   false alerts")
    for way, runs in rows.items():
        means = [np.mean([r[k] for r in runs if r.get(k) is not None] or [np.nan]) for k in KEYS]
        spread = [r["false_alert_rate"] for r in runs]
        print(f"{way:12s} " + " ".join(f"{m:14.3f}" for m in means) + f"   {min(spread):.1%}-{max(spread):.1%}")


if __name__ == "__main__":
    main()
