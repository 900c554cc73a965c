"""History loading: `riskline backfill` of synthetic histories of two sizes into each state store.

Prints, per store and size: the history's size, seconds, messages/s and the peak memory of the largest
process, then the same history loaded again (every message a duplicate), all measured in this one run.
The larger history is --times times the smaller: its peak memory should stay about the smaller's (the
input is loaded a partition at a time), where its seconds grow with it.

    .venv/bin/python benchmarks/backfill.py [--conversations 4000] [--times 4] [--model models/default]
                                            [--state sqlite redis postgres]

Redis and PostgreSQL are started on loopback here (as the suite starts them), so they share the two
cores with the command; the larger history is loaded into SQLite alone.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

from measured import RISKLINE, measured  # beside this script

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def backfill(history: Path, model: str, state: str) -> tuple[float, float, int, int]:
    """Seconds, peak MiB, messages loaded and those held already, of one `riskline backfill`."""
    done = measured([RISKLINE, "backfill", history, "--model", model, "--state", state])
    said = re.search(r"loaded (\d+) messages \((\d+) held already\)", done.stderr)
    assert said, done.stderr
    return done.seconds, done.peak_mib, int(said[1]), int(said[2])


def main() -> None:
    from detection.writers import write_rows
    from tests.service_helpers import throwaway_stores
    from training.synth.generator import generate

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=4000)
    parser.add_argument("--times", type=int, default=4, help="how many times larger the larger history is")
    parser.add_argument("--model", default=str(ROOT / "models" / "default"))
    parser.add_argument("--state", nargs="+", default=["sqlite", "redis", "postgres"],
                        choices=["sqlite", "redis", "postgres"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sizes = {"small": args.conversations, "large": args.conversations * args.times}
        histories = {}
        for name, n in sizes.items():
            histories[name] = folder / f"{name}.jsonl"
            write_rows(histories[name], generate(n, seed=11))
        print(f"{'store':9s} {'history':>8s} {'MB':>6s} {'messages':>10s}   {'seconds':>7s} {'msg/s':>8s} "
              f"{'peak MiB':>8s}   {'again s':>7s} {'again msg/s':>11s}")
        peaks: dict[str, float] = {}
        for kind in args.state:
            new_store, stop = throwaway_stores(kind, folder)
            try:
                for name, path in histories.items():
                    if name == "large" and kind != "sqlite":
                        continue
                    state = new_store()
                    seconds, peak, n, held = backfill(path, args.model, state)
                    again, _, n_again, held_again = backfill(path, args.model, state)
                    assert held == 0 and n_again == held_again == n, (held, n_again, held_again, n)
                    peaks[f"{kind} {name}"] = peak
                    print(f"{kind:9s} {name:>8s} {path.stat().st_size / 1e6:6.1f} {n:10,d}   {seconds:7.1f} "
                          f"{n / seconds:8,.0f} {peak:8.0f}   {again:7.1f} {n / again:11,.0f}")
            finally:
                stop()
        if "sqlite" in args.state:
            ratio = peaks["sqlite large"] / peaks["sqlite small"]
            print(f"peak memory, larger history / smaller (SQLite): {ratio:.2f} for a history {args.times} times "
                  "as large")


if __name__ == "__main__":
    main()
