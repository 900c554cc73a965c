"""Batch throughput: `riskline score` as a whole process beside the raw per-message model.

Prints messages/s for (1) the raw per-message model (featurise + stage probabilities, batched,
in-process), (2) causal conversation scoring in-process, (3) the whole `riskline score` process
(start-up, reading, scoring, writing), peak memory of that process, and the ratios, all measured in
this one run. Targets (issue 2): whole-process >= 30,000 messages/s and >= half the raw rate.

    .venv/bin/python benchmarks/batch.py [--conversations 8000] [--model models/default]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from measured import RISKLINE, best_of  # beside this script

from detection.model_files import load_model
from detection.readers import read_events
from detection.scoring import score_conversations
from detection.writers import write_rows
from training.synth.generator import generate


def best_call(runs: int, func) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=8000)
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        source, out = Path(tmp) / "events.jsonl", Path(tmp) / "scores.jsonl"
        write_rows(source, generate(args.conversations, seed=2024))
        events = read_events(source).events
        texts = [e.text for e in events]
        n = len(events)
        model = load_model(args.model)
        raw = best_call(args.runs, lambda: model.stage_proba(texts))
        causal = best_call(args.runs, lambda: score_conversations(model, events))
        whole, peak_mib = best_of(args.runs, [RISKLINE, "score", source, "-o", out, "--model", args.model])

    rates = {"raw per-message model (in-process)": n / raw, "causal scoring (in-process)": n / causal,
             "riskline score (whole process)": n / whole}
    print(f"messages: {n:,} in {args.conversations:,} conversations ({len(set(texts)):,} distinct texts, each "
          f"read once a call); best of {args.runs} runs each")
    for name, rate in rates.items():
        print(f"  {name:38s} {rate:12,.0f} messages/s")
    print(f"  peak memory of riskline score          {peak_mib:12,.0f} MiB")
    whole_rate, raw_rate = rates["riskline score (whole process)"], rates["raw per-message model (in-process)"]
    print(f"ratio causal in-process / raw:  {rates['causal scoring (in-process)'] / raw_rate:.2f}")
    print(f"ratio whole process / raw:      {whole_rate / raw_rate:.2f}  (target >= 0.5: "
          f"{'met' if whole_rate >= 0.5 * raw_rate else 'MISSED'})")
    print(f"whole process >= 30,000 msg/s:  {'met' if whole_rate >= 30_000 else 'MISSED'}")


if __name__ == "__main__":
    main()
