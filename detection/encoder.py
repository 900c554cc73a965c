"""Sentence encoder for transformer models: a MiniLM exported to ONNX, run with onnxruntime.

A transformer model directory holds ``encoder/encoder.onnx`` (input ids and attention mask in,
one L2-normalised, mean-pooled embedding per text out) and ``encoder/tokenizer.json``. Scoring
needs only ``onnxruntime`` and ``tokenizers``: no torch, no model hub.

Each distinct text is embedded once per call. Texts are embedded one length bucket at a time,
every text padded to the same width of ``PAD_TO`` tokens, in batches of up to ``BATCH`` rows, so
the embedding of a message does not depend on which other messages share its call: a
conversation replayed message by message gets the same scores as one scored in a batch.

A batch holds at least ``MIN_ROWS`` rows (a lone text gets a filler row). onnxruntime's CPU
kernels compute each row of a batch of two or more alike, whatever the batch's size (measured:
bit-identical from 2 to 32 rows at widths of 16 to 64 tokens, on one and two threads), but take
another path for a single row, whose embedding then differs in its last bits. Padding a lone text
to two rows instead of a whole batch made a message scored alone, as the service and the stream
score one, about eight times faster (72.5 ms to 9.3 ms, ``benchmarks/transformer.py``). Kernels
differ by processor, so each encoder checks this when it loads (``rows_alike``: a few random
batches, about half a second) and pads every batch to ``BATCH`` rows where it does not hold.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from detection.text import normalize

MAX_TOKENS = 64  # synthetic and real chat messages are short; longer ones are cut
FILES = ("encoder.onnx", "tokenizer.json")  # an encoder folder: the ONNX graph, the tokenizer
PAD_TO = 16  # token widths are rounded up to a multiple of this
BATCH = 32
MIN_ROWS = 2
ROUND = 1e-4  # embeddings are rounded to this grid: float noise below it never reaches a score


class EncoderError(Exception):
    """An encoder that cannot be loaded."""


def _threads_from_environment() -> int:
    """``RISKLINE_ENCODER_THREADS``: onnxruntime's threads for the encoder (unset or 0: every core)."""
    raw = os.environ.get("RISKLINE_ENCODER_THREADS", "").strip() or "0"
    if not raw.isascii() or not raw.isdigit():
        raise EncoderError(f"RISKLINE_ENCODER_THREADS={raw!r}: expected a whole number of threads (0: every core)")
    return int(raw)


class TextEncoder:
    """Embeds texts with an ONNX sentence encoder."""

    def __init__(self, directory: str | Path, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:  # pragma: no cover - both are dependencies
            raise EncoderError(f"transformer models need onnxruntime and tokenizers ({exc})") from exc
        self.directory = Path(directory)
        onnx_path, tokenizer_path = (self.directory / name for name in FILES)
        for required in (onnx_path, tokenizer_path):
            if not required.is_file():
                raise EncoderError(f"{self.directory}: missing {required.name}")
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_TOKENS)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or _threads_from_environment()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self.dim = int(self.session.get_outputs()[0].shape[-1])
        self.min_rows = MIN_ROWS if self.rows_alike() else BATCH

    def _run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        (emb,) = self.session.run(None, {"input_ids": ids, "attention_mask": mask})
        return np.asarray(emb)

    def rows_alike(self) -> bool:
        """Whether this runtime embeds the rows of a ``MIN_ROWS``-row batch bit for bit as it embeds
        them in a full batch of ``BATCH``, at every width a text can be padded to (random tokens,
        ragged lengths). Where it does not, every batch is padded to ``BATCH`` rows."""
        rng = np.random.default_rng(0)
        vocabulary = self.tokenizer.get_vocab_size()
        for width in range(PAD_TO, MAX_TOKENS + PAD_TO, PAD_TO):
            ids = rng.integers(1000, vocabulary, (BATCH, width))
            lengths = rng.integers(1, width + 1, BATCH)
            mask = (np.arange(width) < lengths[:, None]).astype(np.int64)
            ids *= mask
            full = self._run(ids, mask)
            for start in (0, BATCH - MIN_ROWS):
                rows = slice(start, start + MIN_ROWS)
                if not np.array_equal(self._run(ids[rows], mask[rows]), full[rows]):
                    return False
        return True

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One embedding row per text (float32, L2-normalised, rounded to ``ROUND``)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        normalised = normalize(list(texts))
        unique = list(dict.fromkeys(normalised))
        index = {t: i for i, t in enumerate(unique)}
        where = np.fromiter((index[t] for t in normalised), dtype=np.int64, count=len(texts))
        encodings = self.tokenizer.encode_batch(unique)
        widths = np.array([len(e.ids) for e in encodings])
        padded = -(-widths // PAD_TO) * PAD_TO
        out = np.zeros((len(unique), self.dim), dtype=np.float32)
        for width in np.unique(padded):
            rows = np.flatnonzero(padded == width)
            for start in range(0, len(rows), BATCH):
                chunk = rows[start:start + BATCH]
                n_rows = max(len(chunk), self.min_rows)
                ids = np.zeros((n_rows, width), dtype=np.int64)
                mask = np.zeros((n_rows, width), dtype=np.int64)
                mask[len(chunk):, 0] = 1  # filler rows: one token, so pooling never divides by zero
                for r, u in enumerate(chunk):
                    ids[r, :widths[u]] = encodings[u].ids
                    mask[r, :widths[u]] = 1
                out[chunk] = self._run(ids, mask)[:len(chunk)]
        rounded: np.ndarray = np.round(out / ROUND) * ROUND
        return rounded.astype(np.float32)[where]
