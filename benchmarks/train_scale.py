"""Training at research scale: seconds and peak memory of ``riskline train`` on generated data the
size of the PAN 2012 training set (about 900,000 messages), from this one run.

    .venv/bin/python benchmarks/train_scale.py [--conversations 40000] [--with-stages]

By default the stage annotations are dropped (``--labels-only``), as with PAN data. The data
is generated into a temporary folder first (about 80,000 messages/s); that is not timed. The
held-out figures training prints are shown too: with this much data they are measured on a
held-out fold of about 13,000 conversations.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
from measured import RISKLINE, measured  # beside this script


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=40_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--with-stages", action="store_true", help="keep the stage annotations")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="riskline-train-scale-") as folder:
        data = Path(folder) / "train.parquet"
        subprocess.run([RISKLINE, "synth", "-o", str(data), "--n", str(args.conversations), "--seed",
                        str(args.seed)], check=True, capture_output=True)
        messages = pq.read_metadata(data).num_rows
        command = [RISKLINE, "train", "--data", str(data), "--out", str(Path(folder) / "model"), "--no-track"]
        if not args.with_stages:
            command.append("--labels-only")
        done = measured(command)
        for line in done.stderr.splitlines():
            if line.startswith(("held-out", "thresholds chosen")):
                print(line)
        print(f"trained on {messages:,} messages in {args.conversations:,} conversations "
              f"({'stages annotated' if args.with_stages else 'labels only'}): {done.seconds:.0f} s, "
              f"{messages / done.seconds:,.0f} messages/s, peak memory {done.peak_mib / 1024:.1f} GiB")


if __name__ == "__main__":
    main()
