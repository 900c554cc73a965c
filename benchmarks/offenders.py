"""Offenders who write many conversations: how much a split by conversation flatters the held-out figures.

Real offenders run one script on many targets (PAN 2012 names its predators, most in several
conversations). `riskline synth --offenders N` writes data like that: the positives by N offenders, each
with their own lines, fillers and pace, named in `offender_id`. This generates such data (no generator
folds, as in PAN or a platform's logs) and, for each draw, holds out a quarter of it two ways: conversation
by conversation, and each offender's conversations on one side (what `riskline train` does where the data
names offenders). Each model is trained on the rest as `train` fits it (calibration and thresholds chosen on
its held-out quarter) and then scores conversations by offenders it has never read (another draw's
offenders). The held-out figure minus the new offenders' figure is how much the held-out quarter
flatters. A third model keeps the offender split but cross-fits by conversation (the offenders' names
hidden from training), which shows what grouping the cross-fitting folds adds.

With `--data` (labelled data that names offenders, such as converted PAN 2012), the same splits of that
data, a draw a seed, and no new offenders' figures: the split by conversation's held-out figures minus the
split by offender's are then how much the former flatters.

    .venv/bin/python benchmarks/offenders.py [--conversations 2000] [--offenders 40] [--draws 6] [--labels-only]
    .venv/bin/python benchmarks/offenders.py --data pan.parquet [--draws 3] [--labels-only]

About a minute and a half a draw here (two cores) at the defaults.
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

from detection.scoring import score_conversations
from detection.writers import write_rows
from training.calibration import Measured
from training.data import LabelledData, holdout_split, load_labelled
from training.evaluate import evaluate_results
from training.synth.generator import generate
from training.train import TrainConfig, fit_and_measure

KEYS = ("f0_5", "recall", "false_alert_rate", "pr_auc", "median_messages_to_alert")


def as_pan(loaded: LabelledData, labels_only: bool) -> LabelledData:
    """``loaded`` without the generator's folds, so that it is split at random as PAN's data is (and without its
    stage annotations, with ``labels_only``)."""
    unfolded = replace(loaded, meta={c: {k: v for k, v in m.items() if k != "fold"} for c, m in loaded.meta.items()})
    return unfolded.without_stages() if labels_only else unfolded


def generated(n: int, seed: int, offenders: int, labels_only: bool) -> LabelledData:
    """Generated conversations by ``offenders`` offenders, read as ``riskline train`` reads them, as PAN's data."""
    with tempfile.TemporaryDirectory() as tmp:
        write_rows(Path(tmp) / "d.parquet", generate(n, seed, offenders=offenders))
        return as_pan(load_labelled(Path(tmp) / "d.parquet"), labels_only)


def figures(measured: Measured, new: LabelledData | None) -> tuple[dict[str, float], dict[str, float]]:
    """The held-out quarter's figures (thresholds chosen on its other half, as they would carry) and the
    new offenders' at the model's thresholds (NaN without them)."""
    held = {key: float(measured.metrics["other_half"].get(key, measured.metrics[key])) for key in KEYS}
    if new is None:
        return held, dict.fromkeys(KEYS, float("nan"))
    results, _ = score_conversations(measured.model, new.events)
    on_new = evaluate_results(results, new, measured.model.thresholds)
    return held, {key: float(on_new[key]) for key in KEYS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--offenders", type=int, default=40)
    parser.add_argument("--draws", type=int, default=6)
    parser.add_argument("--data", type=Path, help="labelled data naming offenders, instead of generated data")
    parser.add_argument("--labels-only", action="store_true", help="drop the stage annotations (the PAN case)")
    args = parser.parse_args()
    given = as_pan(load_labelled(args.data), args.labels_only) if args.data else None  # read once, split each draw
    if given is not None and not given.offender_ids:
        raise SystemExit(f"{args.data}: names no offender (offender_id): nothing to keep together")
    runs: dict[str, list[tuple[dict[str, float], dict[str, float]]]] = {}
    for draw in range(args.draws):
        seed = 100 + draw
        new: LabelledData | None = None
        if given is not None:
            source = given
        else:
            source = generated(args.conversations, seed, args.offenders, args.labels_only)
            new = generated(args.conversations, seed + 50, args.offenders, labels_only=False)
        written = Counter(source.offender_ids.values()).values()
        said = (f"draw {draw}: {len(source.labels)} conversations, {sum(source.labels.values())} positives by "
                f"{len(written)} offenders ({min(written)}-{max(written)} each)")
        if new is not None:
            both = set(source.offender_ids.values()) & set(new.offender_ids.values())
            said += f"; new offenders' data {len(new.labels)} conversations ({len(both)} offenders in both)"
        print(said, flush=True)
        for name, named in (("by conversation", False), ("by offender", True)):
            train_ids, test_ids, _ = holdout_split(source if named else replace(source, offender_ids={}), seed)
            train_part, held = source.subset(train_ids), source.subset(test_ids)
            variants = [(name, train_part)]
            if named:  # the same split, the cross-fitting folds drawn conversation by conversation
                variants.append(("by offender, cross-fit by conversation", replace(train_part, offender_ids={})))
            for label, part in variants:
                result = figures(fit_and_measure(part, held, TrainConfig(seed=draw)), new)
                runs.setdefault(label, []).append(result)
                print(f"  {label:40s} held out: {line(result[0])}", flush=True)
                if new is not None:
                    print(f"  {'':40s} new offenders: {line(result[1])}", flush=True)
    means = {label: [{k: float(np.mean([r[part][k] for r in results])) for k in KEYS} for part in (0, 1)]
             for label, results in runs.items()}
    print(f"\nmeans over {args.draws} draws, held out" + (", new offenders" if args.data is None else ""))
    for label, (held_out, on_new) in means.items():
        print(f"  {label:40s} held out: {line(held_out)}" + ("" if args.data else f"\n  {'':40s} new offenders: "
                                                              f"{line(on_new)}"))
    if args.data is None:
        print("held out minus new offenders (how much the held-out quarter flatters)")
        for label, (held_out, on_new) in means.items():
            print(f"  {label:40s} {line({k: held_out[k] - on_new[k] for k in KEYS}, signed=True)}")
    else:
        print("held out by conversation minus by offender (how much the split by conversation flatters)")
        by_conversation, by_offender = means["by conversation"][0], means["by offender"][0]
        print(f"  {'':40s} {line({k: by_conversation[k] - by_offender[k] for k in KEYS}, signed=True)}")


def line(values: dict[str, float], signed: bool = False) -> str:
    return " ".join(f"{k}={v:+.3f}" if signed else f"{k}={v:.3f}" for k, v in values.items())


if __name__ == "__main__":
    main()
