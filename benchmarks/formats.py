"""Input formats: `riskline score` on the same messages as JSON Lines, CSV and Parquet, gzipped or not,
and as folders of 16 part files.

Each file is scored as a whole process by both local engines: in memory, and partitioned (the
engine for files of 16 MiB of data or more, forced here with RISKLINE_PARALLEL_MIN_BYTES). Prints the
file's size, seconds (best of --runs), messages/s and the largest process's peak memory, all measured
in this one run, and checks that every output is the same.

    .venv/bin/python benchmarks/formats.py [--conversations 8000] [--model models/default] [--runs 2]
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from measured import RISKLINE, best_of, size  # beside this script

from detection.events import EVENT_FIELDS
from detection.writers import write_rows
from training.synth.generator import generate

PARTS = 16


def write_inputs(folder: Path, conversations: int) -> dict[str, Path]:
    plain = folder / "events.jsonl"
    write_rows(plain, generate(conversations, seed=2024))
    schema = pa.schema([(name, pa.string()) for name in EVENT_FIELDS])
    table = pa.Table.from_pylist([{k: json.loads(line).get(k) for k in EVENT_FIELDS}
                                  for line in plain.read_text().splitlines()], schema=schema)
    paths = {"JSON Lines": plain, "JSON Lines, gzip": folder / "events.jsonl.gz", "CSV": folder / "events.csv",
             "CSV, gzip": folder / "events.csv.gz", "Parquet, text times": folder / "events.parquet",
             "Parquet, timestamp type": folder / "typed.parquet"}
    paths["JSON Lines, gzip"].write_bytes(gzip.compress(plain.read_bytes()))
    pacsv.write_csv(table, paths["CSV"])
    paths["CSV, gzip"].write_bytes(gzip.compress(paths["CSV"].read_bytes()))
    pq.write_table(table, paths["Parquet, text times"])
    times = pa.array([datetime.fromisoformat(t) for t in table["timestamp"].to_pylist()], pa.timestamp("us", "UTC"))
    pq.write_table(table.set_column(table.schema.get_field_index("timestamp"), "timestamp", times),
                   paths["Parquet, timestamp type"])
    # a dataset in parts, as Spark or a daily export writes it: conversations run across the parts
    lines = plain.read_bytes().splitlines(keepends=True)
    paths["JSON Lines, 16 parts"], paths["Parquet, 16 parts"] = folder / "parts-jsonl", folder / "parts-parquet"
    for k in range(PARTS):
        part = folder / "parts-jsonl" / f"day={k // 4}" / f"part-{k % 4}.jsonl"
        part.parent.mkdir(parents=True, exist_ok=True)
        part.write_bytes(b"".join(lines[k * len(lines) // PARTS:(k + 1) * len(lines) // PARTS]))
        (folder / "parts-parquet").mkdir(exist_ok=True)
        start = k * table.num_rows // PARTS
        pq.write_table(table.slice(start, (k + 1) * table.num_rows // PARTS - start),
                       folder / "parts-parquet" / f"part-{k:05d}.parquet")
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=8000)
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    engines = {"in memory": {"RISKLINE_PARALLEL_MIN_BYTES": str(2**62)},
               "partitioned": {"RISKLINE_PARALLEL_MIN_BYTES": "0"}}
    folder = Path(tempfile.mkdtemp(prefix="riskline-formats-"))
    try:
        paths = write_inputs(folder, args.conversations)
        n = sum(1 for _ in paths["JSON Lines"].open())
        print(f"messages: {n:,} in {args.conversations:,} conversations; best of {args.runs} runs each")
        print(f"  {'format':24s} {'file MB':>8s}  {'engine':12s} {'seconds':>8s} {'messages/s':>11s} {'peak MiB':>9s}")
        outputs = set()
        for name, path in paths.items():
            for engine, env in engines.items():
                out = folder / f"out-{path.name}-{engine.replace(' ', '-')}.jsonl"
                seconds, peak = best_of(args.runs, [RISKLINE, "score", path, "-o", out, "--model", args.model], env)
                outputs.add(out.read_bytes())
                print(f"  {name:24s} {size(path) / 1e6:8.1f}  {engine:12s} {seconds:8.2f} {n / seconds:11,.0f}"
                      f" {peak:9,.0f}")
        print(f"every output the same: {'yes' if len(outputs) == 1 else 'NO'}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
