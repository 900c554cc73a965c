"""Service throughput and latency, with load from a second process on loopback.

Prints, measured in this one run: sustained single-message requests/s, batched messages/s, p50/p99
request latency at half the sustained rate (and at 500 requests/s), message -> webhook-received
p99, and service throughput over in-process throughput (the same hook, no HTTP).
Targets (issue 3, two cores, baseline model): >= 1,000 single-message requests/s, p99 < 50 ms at
500 requests/s, message -> webhook p99 < 200 ms.

    .venv/bin/python benchmarks/service.py [--seconds 8] [--model models/default] [--state sqlite|postgres|redis]
        [--store-delay-ms 1]

``--state postgres`` and ``--state redis`` start a throwaway server on loopback (as the test suite does)
and keep the service's state there, the in-process figures' too; ``--store-delay-ms`` puts that server
a given time away (a relay on loopback holding its traffic), where round trips to the store count.
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

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.service_helpers import Receiver, Relay, Server, throwaway_stores  # noqa: E402  (the suite's real-process helpers)

FIELDS = ("conversation_id", "message_id", "sender_id", "recipient_id", "timestamp", "text", "attachment")


async def _closed(url: str, bodies: list[bytes], concurrency: int, seconds: float) -> dict[str, Any]:
    import aiohttp

    latencies: list[float] = []
    queue = iter(bodies)
    deadline = time.perf_counter() + seconds
    async with aiohttp.ClientSession() as session:
        async def worker() -> None:
            while time.perf_counter() < deadline:
                body = next(queue, None)
                if body is None:
                    return
                start = time.perf_counter()
                async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as r:
                    await r.read()
                    assert r.status == 200, r.status
                latencies.append(time.perf_counter() - start)
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {"count": len(latencies), "seconds": elapsed, "latencies": latencies}


async def _open(url: str, bodies: list[bytes], rate: float, seconds: float) -> dict[str, Any]:
    import aiohttp

    n = min(len(bodies), int(rate * seconds))
    latencies: list[float] = []
    sent: list[tuple[float, dict[str, Any]]] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        async def one(body: bytes) -> None:
            wall, start = time.time(), time.perf_counter()
            async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as r:
                answer = await r.json()
            latencies.append(time.perf_counter() - start)
            sent.append((wall, answer))
        tasks, begin = [], time.perf_counter()
        for i in range(n):
            delay = begin + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(bodies[i])))
        await asyncio.gather(*tasks)
    interventions = {r["intervention"]["intervention_id"]: wall for wall, a in sent for r in a["results"]
                     if r["intervention"]}
    return {"count": n, "latencies": latencies, "interventions": interventions}


def load_worker(spec_path: str) -> None:
    """Runs in the second process: read a job, generate the load, write the measurements."""
    spec = json.loads(Path(spec_path).read_text())
    bodies = [line.encode() for line in Path(spec["bodies"]).read_text().splitlines()]
    if spec["mode"] == "closed":
        out = asyncio.run(_closed(spec["url"], bodies, spec["concurrency"], spec["seconds"]))
    else:
        out = asyncio.run(_open(spec["url"], bodies, spec["rate"], spec["seconds"]))
    Path(spec["out"]).write_text(json.dumps(out))


def run_load(tmp: Path, name: str, bodies: list[str], **job: Any) -> dict[str, Any]:
    (tmp / f"{name}.bodies").write_text("\n".join(bodies))
    spec = {**job, "bodies": str(tmp / f"{name}.bodies"), "out": str(tmp / f"{name}.out")}
    (tmp / f"{name}.json").write_text(json.dumps(spec))
    subprocess.run([sys.executable, __file__, "--load-worker", str(tmp / f"{name}.json")], check=True)
    return json.loads((tmp / f"{name}.out").read_text())


def outbox_depth(server: Server) -> int:
    text = server.http.get("/metrics").text
    return int(float(next(line.split()[1] for line in text.splitlines() if line.startswith("riskline_outbox_depth "))))


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000 if values else float("nan")


def in_process_rate(model_dir: str, events: list[dict[str, Any]], stores: Any) -> tuple[float, float]:
    """Messages/s through the same hook without HTTP: one message a call, and 100 a call."""
    from detection.events import to_event
    from detection.model_files import load_model
    from detection.policy import EscalationPolicy
    from detection.processor import Processor
    from detection.store import open_store

    model = load_model(model_dir)
    parsed = [to_event(e) for e in events]
    single = Processor(model, open_store(stores()), EscalationPolicy.load(None), [])
    start = time.perf_counter()
    for event in parsed[:2000]:
        single.process([event])
    one = 2000 / (time.perf_counter() - start)
    batched = Processor(model, open_store(stores()), EscalationPolicy.load(None), [])
    start = time.perf_counter()
    for i in range(0, len(parsed[:20000]), 100):
        batched.process(parsed[i:i + 100])
    return one, min(len(parsed), 20000) / (time.perf_counter() - start)


def delayed(stores: Any, delay: float) -> Any:
    """``stores`` with each URL's server reached through a ``Relay`` that holds traffic ``delay`` s each way."""
    from urllib.parse import urlsplit

    relays: dict[tuple[str, int], Relay] = {}

    def make() -> str:
        url = stores()
        parts = urlsplit(url)
        target = (str(parts.hostname), int(parts.port or 0))
        relay = relays.setdefault(target, Relay(target, delay=delay))
        return url.replace(f"{target[0]}:{target[1]}", f"127.0.0.1:{relay.port}", 1)

    return make


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--model", default=str(ROOT / "models" / "default"))
    parser.add_argument("--state", choices=["sqlite", "postgres", "redis"], default="sqlite")
    parser.add_argument("--store-delay-ms", type=float, default=0.0,
                        help="hold the state store's traffic this long each way (a relay): a store that far away")
    parser.add_argument("--load-worker")
    args = parser.parse_args()
    if args.store_delay_ms and args.state == "sqlite":
        parser.error("--store-delay-ms needs --state postgres or redis")
    if args.load_worker:
        return load_worker(args.load_worker)

    from training.synth.generator import generate

    rows = generate(6000, seed=77)
    events = [{k: r[k] for k in FIELDS} for r in rows]
    singles = [json.dumps(e) for e in events]
    hook = Receiver()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        stores, stop_stores = throwaway_stores(args.state, tmp)
        if args.store_delay_ms:
            stores = delayed(stores, args.store_delay_ms / 1000)
        one_rate, batch_rate = in_process_rate(args.model, events, stores)
        server = Server(Path(args.model), stores(), "--webhook-url", hook.url, "--webhook-secret", "s", log_dir=tmp)
        url = f"{server.url}/v1/messages"
        try:
            third = len(singles) // 3
            sustained = run_load(tmp, "closed", singles[:third], mode="closed", url=url, concurrency=32,
                                 seconds=args.seconds)
            rps = sustained["count"] / sustained["seconds"]
            batches = [json.dumps({"messages": events[i:i + 100]}) for i in range(third, 2 * third, 100)]
            batched = run_load(tmp, "batched", batches, mode="closed", url=url, concurrency=4, seconds=args.seconds)
            batched_mps = batched["count"] * 100 / batched["seconds"]
            backlog, drain_start = outbox_depth(server), time.perf_counter()
            while outbox_depth(server):  # the batched phase raised many: let them land before timing
                time.sleep(0.05)
            drain_s = time.perf_counter() - drain_start
            rest = singles[2 * third:]
            half = run_load(tmp, "half", rest[: len(rest) // 2], mode="open", url=url, rate=rps / 2,
                            seconds=args.seconds)
            at500 = run_load(tmp, "at500", rest[len(rest) // 2:], mode="open", url=url, rate=500,
                             seconds=min(args.seconds, len(rest) / 2 / 500))
            time.sleep(2)  # let the last deliveries land
        finally:
            server.stop()
            hook.close()
            stop_stores()
    received = {r["headers"]["X-Riskline-Intervention-Id"]: r["time"] for r in hook.received}
    sent = {**half["interventions"], **at500["interventions"]}
    webhook = [received[i] - t for i, t in sent.items() if i in received]
    print(f"state store: {args.state}" + (f", {args.store_delay_ms:g} ms away each way (a relay)"
                                          if args.store_delay_ms else ""))
    print(f"in-process hook: {one_rate:,.0f} messages/s one per call, {batch_rate:,.0f} messages/s 100 per call")
    print(f"sustained single-message requests/s: {rps:,.0f}  (target >= 1,000: "
          f"{'met' if rps >= 1000 else 'MISSED'}); ratio to in-process one-per-call: {rps / one_rate:.2f}")
    print(f"batched (100/request) messages/s:    {batched_mps:,.0f}; ratio to in-process: "
          f"{batched_mps / batch_rate:.2f}")
    print("outbox backlog after the batched phase: " + (
        f"{backlog} deliveries, drained at {backlog / drain_s:,.0f}/s" if backlog
        else "none (the worker kept up with every intervention the phase raised)"))
    print(f"latency at {rps / 2:,.0f} requests/s (half): p50 {pct(half['latencies'], 50):.1f} ms, "
          f"p99 {pct(half['latencies'], 99):.1f} ms")
    p99_500 = pct(at500["latencies"], 99)
    print(f"latency at 500 requests/s: p50 {pct(at500['latencies'], 50):.1f} ms, p99 {p99_500:.1f} ms  "
          f"(target p99 < 50 ms: {'met' if p99_500 < 50 else 'MISSED'})")
    p99_hook = pct(webhook, 99)
    print(f"message -> webhook received: {len(webhook)} of {len(sent)} interventions timed, "
          f"p50 {pct(webhook, 50):.1f} ms, p99 {p99_hook:.1f} ms  "
          f"(target p99 < 200 ms: {'met' if p99_hook < 200 else 'MISSED'})")


if __name__ == "__main__":
    main()
