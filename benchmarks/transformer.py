"""Transformer path speed on CPU: ONNX encoder alone, and whole causal scoring in batch.

    python benchmarks/transformer.py [--model DIR] [--n 1500]

Without ``--model`` a small frozen-encoder model is trained first (not timed). Figures are
messages per second on this machine, measured in this run; the target is 500 msg/s in batch.
The encoder figure counts distinct texts only (every text is new to the encoder), which is the
worst case; the scoring figure is a synthetic log, where repeated short messages ("ok", "lol")
are embedded once per call. The last figure is the real-time path's: one message per call, as the
service and the stream score a message that arrives alone.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a transformer model directory (default: train a small one)")
    parser.add_argument("--n", type=int, default=1500, help="conversations in the scored log")
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: every core)")
    args = parser.parse_args()
    if args.threads:
        os.environ["RISKLINE_ENCODER_THREADS"] = str(args.threads)
    from detection.events import to_event
    from detection.model_files import load_model
    from detection.scoring import score_conversations, score_messages
    from training.synth.generator import generate

    if args.model:
        model = load_model(args.model)
    else:
        from training.data import LabelledData
        from training.train import TrainConfig, fit

        rows = generate(200, seed=21)
        events = [to_event(r) for r in rows]
        labels = {str(r["conversation_id"]): int(r["conversation_label"]) for r in rows}  # type: ignore[call-overload]
        data = LabelledData(events, labels, [str(r["stage"]) for r in rows])
        model = fit(data, TrainConfig(model_type="transformer", ngrams=False, augment_copies=0))
        with tempfile.TemporaryDirectory() as tmp:
            model = load_model(model.save(f"{tmp}/m"))  # score with the loaded model, as production would
    assert model.encoder is not None, "not a transformer model"
    events = [to_event(r) for r in generate(args.n, seed=99)]
    texts = list(dict.fromkeys(e.text for e in events))
    print(f"cores: {os.cpu_count()}, messages: {len(events)}, distinct texts: {len(texts)}")
    model.encoder.encode(texts[:64])  # warm up
    started = time.perf_counter()
    model.encoder.encode(texts)
    encoder_rate = len(texts) / (time.perf_counter() - started)
    started = time.perf_counter()
    results, _ = score_conversations(model, events)
    scoring_rate = len(events) / (time.perf_counter() - started)
    print(f"encoder alone (distinct texts): {encoder_rate:8.0f} msg/s")
    print(f"causal scoring, whole log:      {scoring_rate:8.0f} msg/s  (target 500: "
          f"{'met' if scoring_rate >= 500 else 'missed'}; ratio to target {scoring_rate / 500:.2f})")
    states: dict = {}  # the real-time path: one message per call, state carried between calls
    waits = []
    for e in events[:300]:
        started = time.perf_counter()
        _, new = score_messages(model, [e], states)
        waits.append(time.perf_counter() - started)
        states.update(new)
    print(f"one message per call (300):     {np.median(waits) * 1000:8.1f} ms median, "
          f"{np.percentile(waits, 99) * 1000:.1f} ms p99")
    print(f"alerts: {sum(r.alert for r in results)} of {len(results)} conversations; "
          f"mean peak {np.mean([r.risk_score for r in results]):.3f}")


if __name__ == "__main__":
    main()
