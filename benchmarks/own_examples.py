"""What a platform's own examples add: the shipped data with hand-written conversations beside it.

The README advises a platform that sees extortion worded unlike the generator's to retrain with
examples of its own (`riskline train --data data_samples/train.parquet --data mine.jsonl`). This
measures that advice on the hand-written challenge set (`benchmarks/challenge.py`), leaving one part
out at a time: a model is trained on the shipped data with the other four parts beside it and
measured on the part left out, beside the default configuration trained on the shipped data alone.
Each model's thresholds are its own, chosen as `riskline train` chooses them (one whole synthetic
fold held out, and a random quarter of the hand-written conversations). The parts share one author,
so the gain flatters what another platform's examples would bring; read it as the direction and
rough size of the effect.

    .venv/bin/python benchmarks/own_examples.py [--data data_samples/train.parquet] [--parts a b c d e]

About a minute per part here (two cores).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import challenge  # the hand-written set, beside this script

from detection.model import RiskModel
from detection.scoring import score_conversations
from detection.writers import write_rows
from training.data import LabelledData, load_labelled, load_labelled_files
from training.evaluate import evaluate_results
from training.train import TrainConfig, train


def measure(model: RiskModel, data: LabelledData) -> str:
    results, _ = score_conversations(model, data.events)
    m = evaluate_results(results, data, model.thresholds)
    alerted = sum(r.alert for r in results if data.labels[r.conversation_id])
    false = sum(r.alert for r in results if not data.labels[r.conversation_id])
    return f"{alerted:2d} of {m['n_positive']:2d}, {false} false, ROC AUC {m['roc_auc']:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data_samples/train.parquet"))
    parser.add_argument("--parts", nargs="+", default=list("abcde"))
    args = parser.parse_args()
    config = TrainConfig()
    with tempfile.TemporaryDirectory() as tmp:
        files = {part: Path(tmp) / f"{part}.jsonl" for part in "abcde"}
        for part, path in files.items():
            write_rows(path, challenge.rows(part))
        alone = train(load_labelled(args.data), config)
        print(f"{'part':4s}  {'shipped data alone':38s}  with the other parts beside it")
        for part in args.parts:
            others = [files[p] for p in "abcde" if p != part]
            mixed = train(load_labelled_files([args.data, *others]), config)
            held = load_labelled(files[part])
            print(f"{part:4s}  {measure(alone, held):38s}  {measure(mixed, held)} "
                  f"(threshold {alone.thresholds.alert:.3f} / {mixed.thresholds.alert:.3f})", flush=True)


if __name__ == "__main__":
    main()
