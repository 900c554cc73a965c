"""Saving a model directory: written into a new folder beside its place, then put there in one step
(``model_files`` says what the directory holds and reads it back).
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from detection.events import STAGES
from detection.features import FEATURE_NAMES
from detection.held import Held
from detection.model import RiskModel
from detection.model_files import OPTIONAL_ARRAYS, SCHEMA_VERSION, WORDS_FILE, aside_path


class ModelSaveError(Exception):
    """A place a model directory cannot be written to without destroying something else."""


def check_model_target(directory: str | Path, probe: bool = False) -> Path:
    """``directory`` as a path a model may be saved to: absent, an empty directory, or a Riskline
    model directory (which the save replaces). Anything else (a file, a directory of other things)
    raises ``ModelSaveError``: replacing it would delete what the user keeps there.

    With ``probe``, its parent is also made (as the save would) and a directory made and removed
    beside it, so a place that cannot be written to is said before minutes of training, not after.
    """
    target = Path(directory)
    if probe:
        _staging(target).close()
    if not target.exists() and not target.is_symlink():
        return target
    if target.is_symlink():  # replacing it would replace the link, not what it points to
        raise ModelSaveError(f"{target}: a symbolic link; give the directory it points to, or another path")
    if not target.is_dir():
        raise ModelSaveError(f"{target}: exists and is not a directory; a model directory would replace it "
                             "(choose another path, or remove it first)")
    if any(target.iterdir()) and not (target / "model.json").is_file():
        raise ModelSaveError(f"{target}: a directory that is not a Riskline model directory (no model.json) "
                             "and not empty; saving would replace everything in it (choose another path)")
    return target


def _staging(target: Path) -> Held:
    """A new empty directory beside ``target`` (its parent made first), for a save to write into and rename,
    held while it does (one a save killed outright leaves is removed by the next save there); ``ModelSaveError``
    naming ``target`` where none can be made. It gets the usual mode (umask), not mkdtemp's private 0700: a
    model is read by whoever serves it."""
    above = next((p for p in target.absolute().parents if p.exists()), None)
    if above is not None and not above.is_dir():
        raise ModelSaveError(f"{target}: a model directory cannot be written there ({above} is not a directory)")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        return Held(target.parent, f".{target.name}.", folder=True)
    except OSError as exc:
        raise ModelSaveError(f"{target}: a model directory cannot be written there ({exc.strerror or exc})") from exc


def _exchange(a: Path, b: Path) -> bool:
    """Swap the two existing paths ``a`` and ``b`` in one step (Linux ``renameat2`` with ``RENAME_EXCHANGE``),
    so that a process stopped at any moment, even by SIGKILL, leaves a whole model at each. False, with nothing
    changed, where the system or the file system cannot (not Linux, an older C library, a file system without
    it); any other failure is raised."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_cwd, rename_exchange = -100, 2
    if renameat2(at_cwd, os.fsencode(a), at_cwd, os.fsencode(b), rename_exchange) == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(error, os.strerror(error), str(b))


def save_model(model: RiskModel, directory: str | Path) -> Path:
    """Write ``model``'s directory atomically (a temporary directory renamed into place).

    ``directory`` must pass ``check_model_target``: an existing model directory there is
    replaced, anything else is refused.
    """
    target = check_model_target(directory)
    old = aside_path(target)
    # leaving the block removes what is at ``staging``: the replaced model, or (stopped) the unused new one
    with _staging(target) as staging:
        try:
            _write(model, staging)
        except OSError as exc:  # a full disk, a quota: said of the model, not of a staging file
            raise ModelSaveError(f"{target}: the model could not be written ({exc.strerror or exc}); "
                                 "nothing there was replaced") from exc
        if not target.exists():
            os.replace(staging, target)
        elif not _exchange(staging, target):  # one step: no moment without a model at ``target``
            # a file system that cannot exchange: two renames, a moment with the old model aside
            if old.exists():
                shutil.rmtree(old)
            os.replace(target, old)
            os.replace(staging, target)
    if old.exists():  # this save's, or left by one stopped between the two renames
        shutil.rmtree(old)
    return target


def _write(model: RiskModel, staging: Path) -> None:
    """The model's files, written into the empty directory ``staging``."""
    assert model.featurizer.idf is not None
    arrays: dict[str, Any] = {"idf": model.featurizer.idf, "stage_coef": model.stage_model.coef,
                              "stage_intercept": model.stage_model.intercept}
    for name in OPTIONAL_ARRAYS:
        if getattr(model.stage_model, name) is not None:
            arrays[f"stage_{name}"] = getattr(model.stage_model, name)
    if model.stage_model.has_role:
        arrays["stage_role_intercept"] = np.array([model.stage_model.role_intercept])
    if model.trained_on is not None:
        arrays["trained_on"] = model.trained_on
    np.savez(staging / "arrays.npz", **arrays)
    if model.encoder is not None:
        shutil.copytree(model.encoder.directory, staging / "encoder")
    if model.card:
        (staging / "MODEL_CARD.md").write_text(model.card)
    vocabulary = model.featurizer.vocabulary
    if vocabulary is not None and vocabulary.words:
        (staging / WORDS_FILE).write_text("".join(f"{word}\n" for word in sorted(vocabulary.words)))
    conv = model.conversation_model
    meta = {
        "schema_version": SCHEMA_VERSION, "model_type": model.model_type,
        "model_version": model.model_version, "labels": list(STAGES), "stage_link": model.stage_model.link,
        "feature_names": list(FEATURE_NAMES), "n_features": model.featurizer.n_features,
        "chars_within_words": model.featurizer.chars_within_words,
        "conversation_model": {"weights": conv.weights.tolist(), "bias": conv.bias,
                               "mean": conv.mean.tolist(), "scale": conv.scale.tolist(),
                               "calibration": list(conv.calibration),
                               "text_path": None if conv.text_path is None else asdict(conv.text_path)},
        "encoder": "encoder" if model.encoder is not None else None,
        "thresholds": model.thresholds.to_dict(), "metrics": model.metrics, "config": model.config,
        "evidence_window": model.evidence_window, "drop_filler": model.drop_filler, "run_gap": model.run_gap,
        "run_asides": model.run_asides, "read_clauses": model.read_clauses,
        "vocabulary": None if vocabulary is None else vocabulary.counts,
        "vocabulary_words": WORDS_FILE if vocabulary is not None and vocabulary.words else None,
    }
    (staging / "model.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
