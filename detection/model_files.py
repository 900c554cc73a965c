"""A model directory on disk: what it holds, read back with every part checked, found by path or MLflow URI.
(``model_save`` writes it, in one step.)

A model directory holds ``model.json`` (config, labels, schema version, thresholds, metrics,
conversation-model weights and calibration) and ``arrays.npz`` (idf and stage weights, loaded
without pickle). A transformer model adds ``encoder/`` (an ONNX sentence encoder, see
``detection.encoder``) and stage weights over its embeddings. ``MODEL_CARD.md`` describes the
model for people. Loading checks the files against each other and fails loudly on any mismatch.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from detection.conversation_model import ConversationModel, TextPath
from detection.encoder import EncoderError, TextEncoder
from detection.events import STAGES
from detection.features import FEATURE_NAMES, MessageFeaturizer
from detection.model import MAX_RUN_GAP, RiskModel, valid_run_gap
from detection.policy import Thresholds
from detection.repair import Vocabulary
from detection.stage_model import MAX_WINDOW, StageModel, valid_window

SCHEMA_VERSION = 5


# 2: before encoders and calibration; 3: before the text model; 4: before the text path.
# Each reads with the parts it lacks off.
READABLE_SCHEMAS = (2, 3, 4, 5)


MLFLOW_SCHEMES = ("models:/", "runs:/", "mlflow-artifacts:/")


# the stage model's arrays a model may lack (a model without them reads with that part off)
OPTIONAL_ARRAYS = ("embed_coef", "text_coef", "text_embed_coef", "role_coef", "role_embed_coef")


_WORD_IN_VOCABULARY = re.compile(r"[a-z]+")

WORDS_FILE = "words.txt"  # a model's ``Vocabulary.words``, one a line


class ModelLoadError(Exception):
    """A model that cannot be found or does not describe itself correctly."""


def aside_path(target: Path) -> Path:
    """Where a save that cannot exchange folders (``RiskModel.save``) moves the model at ``target`` meanwhile."""
    return target.with_name(f".{target.name}.old")


def _read_directory(directory: Path) -> RiskModel:
    meta_path, arrays_path = directory / "model.json", directory / "arrays.npz"
    for required in (meta_path, arrays_path):
        if not required.is_file():
            raise ModelLoadError(f"{directory}: not a Riskline model directory (missing {required.name})")
    try:
        meta = json.loads(meta_path.read_text())
        with np.load(arrays_path, allow_pickle=False) as arrays:
            idf, coef, intercept = arrays["idf"], arrays["stage_coef"], arrays["stage_intercept"]
            optional = {name: arrays[f"stage_{name}"] if f"stage_{name}" in arrays.files else None
                        for name in (*OPTIONAL_ARRAYS, "role_intercept")}
            trained_on = arrays["trained_on"] if "trained_on" in arrays.files else None
    except (ValueError, KeyError, OSError) as exc:
        raise ModelLoadError(f"{directory}: unreadable model files ({exc})") from exc
    names = _feature_names(directory, meta)
    _check_arrays(directory, MessageFeaturizer(int(meta["n_features"])).n_columns, idf, coef, intercept, optional,
                  trained_on)
    encoder = _encoder(directory, meta, coef, optional)
    if meta.get("stage_link", "softmax") not in ("softmax", "ovr"):
        raise ModelLoadError(f"{directory}: unknown stage_link {meta.get('stage_link')!r}")
    card, role_intercept = directory / "MODEL_CARD.md", optional["role_intercept"]
    return RiskModel(
        featurizer=MessageFeaturizer(int(meta["n_features"]), idf,
                                     _flag(directory, "chars_within_words", meta.get("chars_within_words", False)),
                                     _vocabulary(directory, meta.get("vocabulary"), meta.get("vocabulary_words"))),
        stage_model=StageModel(coef, intercept, str(meta.get("stage_link", "softmax")), optional["embed_coef"],
                               optional["text_coef"], optional["text_embed_coef"], optional["role_coef"],
                               optional["role_embed_coef"],
                               0.0 if role_intercept is None else float(role_intercept[0])),
        conversation_model=_conversation_model(directory, meta["conversation_model"], len(names)),
        thresholds=Thresholds.from_dict(meta["thresholds"]), model_version=str(meta["model_version"]),
        model_type=str(meta.get("model_type", "baseline")), metrics=meta.get("metrics", {}),
        config=meta.get("config", {}), encoder=encoder, card=card.read_text() if card.is_file() else "",
        evidence_window=_window(directory, meta.get("evidence_window", 0)),
        drop_filler=_flag(directory, "drop_filler", meta.get("drop_filler", False)),
        run_gap=_run_gap(directory, meta.get("run_gap", 0)),
        run_asides=_flag(directory, "run_asides", meta.get("run_asides", False)),
        read_clauses=_flag(directory, "read_clauses", meta.get("read_clauses", False)),
        trained_on=trained_on,
    )


def _feature_names(directory: Path, meta: dict[str, Any]) -> list[str]:
    """The model's feature names, once its schema, labels and names are ones this Riskline reads."""
    if meta.get("schema_version") not in READABLE_SCHEMAS:
        raise ModelLoadError(f"{directory}: schema version {meta.get('schema_version')!r}, "
                             f"this Riskline reads {READABLE_SCHEMAS}")
    names = meta.get("feature_names")
    # Features are only ever appended: an older model reads the new ones with weight 0.
    if meta.get("labels") != list(STAGES) or not isinstance(names, list) or names != list(FEATURE_NAMES[:len(names)]):
        raise ModelLoadError(f"{directory}: labels or feature names differ from this Riskline's")
    return names


def _check_arrays(directory: Path, n_columns: int, idf: np.ndarray, coef: np.ndarray, intercept: np.ndarray,
                  optional: dict[str, np.ndarray | None], trained_on: np.ndarray | None) -> None:
    """A ``ModelLoadError`` unless the stage model's arrays have the shapes the config says."""
    text_coef, role_coef, role_intercept = optional["text_coef"], optional["role_coef"], optional["role_intercept"]
    has_role = role_coef is not None or optional["role_embed_coef"] is not None
    if (idf.shape != (n_columns,) or coef.shape not in ((len(STAGES), n_columns), (len(STAGES), 0))
            or intercept.shape != (len(STAGES),)
            or any(c is not None and c.shape != (coef.shape[1],) for c in (text_coef, role_coef))
            or (has_role != (role_intercept is not None))
            or (role_intercept is not None and (role_intercept.shape != (1,) or not np.isfinite(role_intercept[0])))):
        raise ModelLoadError(f"{directory}: array shapes do not match the config")
    if trained_on is not None and (trained_on.dtype != np.uint64 or trained_on.ndim != 1
                                   or (trained_on[1:] <= trained_on[:-1]).any()):  # (unsigned: no np.diff)
        raise ModelLoadError(f"{directory}: trained_on must be increasing 64-bit fingerprints")


def _vocabulary(directory: Path, value: Any, words_file: Any) -> Vocabulary | None:
    if value is None:
        return None
    if not (isinstance(value, dict) and all(isinstance(word, str) and _WORD_IN_VOCABULARY.fullmatch(word)
                                            and type(count) is int and count > 0 for word, count in value.items())):
        raise ModelLoadError(f"{directory}: vocabulary must map words of the letters a-z to counts of 1 or more")
    if words_file is None:
        return Vocabulary(value)
    if words_file != WORDS_FILE:
        raise ModelLoadError(f"{directory}: vocabulary_words must be {WORDS_FILE!r} or null, got {words_file!r}")
    try:
        words = (directory / WORDS_FILE).read_text().split()
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{directory}: unreadable {WORDS_FILE} ({exc})") from exc
    if bad := next((word for word in words if not _WORD_IN_VOCABULARY.fullmatch(word)), None):
        raise ModelLoadError(f"{directory}: {WORDS_FILE} must hold one word of the letters a-z a line, got {bad!r}")
    return Vocabulary(value, frozenset(words))


def _flag(directory: Path, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ModelLoadError(f"{directory}: {name} must be true or false, got {value!r}")
    return value


def _window(directory: Path, value: Any) -> int:
    if not valid_window(value):
        raise ModelLoadError(f"{directory}: evidence_window must be 0 or a whole number from 2 to {MAX_WINDOW}, "
                             f"got {value!r}")
    return value


def _run_gap(directory: Path, value: Any) -> int:
    if not valid_run_gap(value):
        raise ModelLoadError(f"{directory}: run_gap must be a whole number of seconds from 0 to {MAX_RUN_GAP}, "
                             f"got {value!r}")
    return value


def _encoder(directory: Path, meta: dict[str, Any], coef: np.ndarray,
             optional: dict[str, np.ndarray | None]) -> TextEncoder | None:
    """The model's encoder, checked against the stage, text and role weights over its embeddings."""
    embed_coef, text_embed, role_embed = (optional[n] for n in ("embed_coef", "text_embed_coef", "role_embed_coef"))
    if not meta.get("encoder"):
        if embed_coef is not None or text_embed is not None or role_embed is not None or coef.shape[1] == 0:
            raise ModelLoadError(f"{directory}: stage weights need an encoder, and the model has none")
        return None
    try:
        encoder = TextEncoder(directory / str(meta["encoder"]))
    except EncoderError as exc:
        raise ModelLoadError(f"{directory}: {exc}") from exc
    if (embed_coef is None or embed_coef.shape != (len(STAGES), encoder.dim)
            or any(e is not None and e.shape != (encoder.dim,) for e in (text_embed, role_embed))):
        raise ModelLoadError(f"{directory}: stage weights do not match the encoder's {encoder.dim} dimensions")
    return encoder


def _conversation_model(directory: Path, conv: dict[str, Any], n_saved: int) -> ConversationModel:
    """The conversation model, its arrays padded for features added after it was saved."""
    arrays = [np.asarray(conv[k], dtype=np.float64) for k in ("weights", "mean", "scale")]
    if any(a.shape != (n_saved,) for a in arrays):
        raise ModelLoadError(f"{directory}: conversation model does not match the feature names")
    pad = len(FEATURE_NAMES) - n_saved
    weights, mean, scale = (np.append(a, np.full(pad, fill)) for a, fill in zip(arrays, (0.0, 0.0, 1.0), strict=True))
    calibration = _platt(conv.get("calibration", [1.0, 0.0]))
    if calibration is None:
        raise ModelLoadError(f"{directory}: calibration must be [a > 0, b], got {conv.get('calibration')!r}")
    return ConversationModel(weights, float(conv["bias"]), mean, scale, calibration,
                             _text_path(directory, conv.get("text_path")))


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _platt(value: Any) -> tuple[float, float] | None:
    """A saved Platt scaling [a > 0, b] as a pair, or None if it is not one."""
    if not (isinstance(value, list) and len(value) == 2 and all(map(_finite, value)) and value[0] > 0):
        return None
    return float(value[0]), float(value[1])


def _text_path(directory: Path, saved: Any) -> TextPath | None:
    if saved is None:
        return None
    names = [f.name for f in fields(TextPath) if f.name != "calibration"]
    valid = (isinstance(saved, dict) and sorted(saved) == sorted([*names, "calibration"])
             and all(_finite(saved[n]) for n in names) and saved["prior"] >= 0)
    calibration = _platt(saved["calibration"]) if valid else None
    if calibration is None:
        raise ModelLoadError(f"{directory}: text_path must hold finite numbers {names} (prior >= 0) "
                             f"and a calibration [a > 0, b], got {saved!r}")
    return TextPath(**{n: float(saved[n]) for n in names}, calibration=calibration)


SOURCE_TREE = Path(__file__).resolve().parents[1]  # a source checkout, or (installed) site-packages


def default_model_path() -> Path:
    """The model used where none is named: ``./models/default``, else, running from a source checkout (as
    after ``make demo``), the checkout's ``models/default``."""
    local = Path("models/default")
    if (local / "model.json").is_file() or not (SOURCE_TREE / "pyproject.toml").is_file():
        return local
    return SOURCE_TREE / "models" / "default"


def missing_database(store_uri: str) -> Path | None:
    """The file of an MLflow ``sqlite:///`` store URI where there is none yet (else ``None``)."""
    if not store_uri.startswith("sqlite:///"):
        return None
    database = Path(store_uri.removeprefix("sqlite:///").split("?")[0]).absolute()
    return None if database.is_file() else database


def _from_mlflow(uri: str) -> Path:
    try:
        import mlflow
    except ImportError as exc:  # pragma: no cover - mlflow is a dependency
        raise ModelLoadError(f"{uri}: loading MLflow URIs needs the mlflow package") from exc
    store = mlflow.get_registry_uri() if uri.startswith("models:/") else mlflow.get_tracking_uri()
    if database := missing_database(store):  # MLflow would make an empty one, say so on stderr, then not find it
        raise ModelLoadError(f"{uri}: no MLflow database at {database} (set MLFLOW_TRACKING_URI, or run where "
                             "the model was registered)")
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
    except Exception as exc:  # MLflow raises many types for unknown names, versions and runs
        raise ModelLoadError(f"{uri}: cannot fetch from MLflow ({str(exc).splitlines()[0]})") from exc
    found = sorted(local.rglob("model.json"), key=lambda p: len(p.parts))
    if not found:
        raise ModelLoadError(f"{uri}: the MLflow artifact holds no Riskline model")
    return found[0].parent


def resolve_model_dir(source: str | Path | None = None) -> Path:
    """The local directory of a model given as a directory or an MLflow URI; ``None``: the one
    ``$RISKLINE_MODEL`` names, as either, else the default (``default_model_path``)."""
    if source is None and (named := os.environ.get("RISKLINE_MODEL")) is not None:
        try:
            return resolve_model_dir(named)
        except ModelLoadError as exc:
            raise ModelLoadError(f"RISKLINE_MODEL: {exc}") from None
    if source is None:
        path = default_model_path()
        if not (path / "model.json").is_file():
            raise ModelLoadError(f"no model named and none at {path}: pass --model DIR or an MLflow URI, or set "
                                 "RISKLINE_MODEL ('riskline train --data FILE --out DIR' makes one; in a source "
                                 "checkout, 'make model' makes the default)")
        return path.resolve()
    text = str(source)
    if not text.strip():  # read as a path, the working folder; left unset, the default model: neither is asked for
        raise ModelLoadError(f"{text!r}: an empty model name (an unset variable?); name a model directory or an "
                             "MLflow URI, or leave it out for the default model")
    if text.startswith(MLFLOW_SCHEMES):
        return _from_mlflow(text)
    path = Path(text)
    if not path.exists():
        aside = aside_path(path)
        if (aside / "model.json").is_file():  # a save stopped between its two renames (see ``RiskModel.save``)
            raise ModelLoadError(f"{path}: no such model directory; a save stopped midway left the model that was "
                                 f"there at {aside} (rename it back to {path.name}, or save again)")
        if re.match(r"[A-Za-z][\w+.-]*://", text):  # Path would read s3://b/m as s3:/b/m, a folder
            raise ModelLoadError(f"{text}: neither a model directory nor an MLflow model URI (models:/NAME/VERSION, "
                                 "models:/NAME@ALIAS, runs:/RUN/PATH); copy a model stored elsewhere to a folder "
                                 "first")
        if text != text.strip():  # a secret file read whole, its last line break kept: said in one line
            raise ModelLoadError(f"{text!r}: no such model directory (white space or a line break at an end; "
                                 "remove it)")
        raise ModelLoadError(f"{path}: no such model directory")
    return path.resolve()


def load_model(source: str | Path | None = None) -> RiskModel:
    """Load a model from a directory, an MLflow URI, or (``None``) as ``resolve_model_dir`` finds it."""
    return _read_directory(resolve_model_dir(source))
