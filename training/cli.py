"""Training commands for the ``riskline`` app: train and thresholds here; evaluate and promote in
``cli_evaluate``, synth and convert in ``cli_data``.

Registered through the ``riskline.commands`` entry point; ``register(app)`` adds them.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from detection.cli_common import fail, local_path, user_errors
from detection.model_save import check_model_target
from detection.wording import counted
from training.cli_common import named, outside_data, tracking
from training.registry import check_alias, check_model_name

if TYPE_CHECKING:
    from detection.model import RiskModel
    from training.config import TrainConfig

# Settings that `train` takes as options of their own, not through --set.
OWN_OPTIONS = ("model_type", "seed", "encoder", "target_precision", "max_false_alert_rate")


def train(
    data: Annotated[list[Path], typer.Option(
        metavar="DATA", parser=local_path,
        help="Labelled message events (conversation_label; stage optional), a file or a folder of part files; "
             "repeat to train on several together, such as your own examples beside data_samples/train.parquet")],
    out: Annotated[Path, typer.Option(metavar="MODEL_DIR", parser=local_path, help="Model directory to write")],
    model_type: Annotated[str, typer.Option(
        metavar="baseline|transformer", help="baseline (n-grams) or transformer (MiniLM, ONNX)")] = "baseline",
    seed: Annotated[int, typer.Option(metavar="N", help="Random seed")] = 0,
    target_precision: Annotated[float | None, typer.Option(
        metavar="P", help="Precision the alert threshold is chosen for [default: 0.98]")] = None,
    max_false_alert_rate: Annotated[float | None, typer.Option(
        metavar="RATE",
        help="Share of held-out negatives allowed to alert; the threshold rises to keep it [default: 0.01]")] = None,
    register: Annotated[str | None, typer.Option(
        metavar="NAME", help="Register in the MLflow registry under this name")] = None,
    alias: Annotated[str | None, typer.Option(
        metavar="ALIAS", help="With --register: set this alias (e.g. champion)")] = None,
    track: Annotated[bool, typer.Option(help="Log the run to MLflow")] = True,
    encoder: Annotated[str, typer.Option(
        metavar="frozen|fine-tuned", help="transformer only: frozen or fine-tuned")] = "frozen",
    cv: Annotated[int, typer.Option(
        "--cv", metavar="K", help="Also cross-validate over K folds and report each", min=0)] = 0,
    labels_only: Annotated[bool, typer.Option(help="Ignore stage annotations (as with PAN data)")] = False,
    settings: Annotated[list[str] | None, typer.Option(
        "--set", metavar="KEY=VALUE",
        help="Any other training setting (training/config.py), e.g. --set stage_balance=1; repeatable")] = None,
) -> None:
    """Train a model on labelled conversations.

    Thresholds are chosen on held-out conversations.
    """
    from training.config import TrainConfig

    _check_registry_options(register, alias, track)
    check_model_target(out, probe=True)  # before minutes of training, not after
    outside_data(data, "--out", out)
    config = _with_targets(TrainConfig(model_type=model_type, seed=seed, encoder=encoder), target_precision,
                           max_false_alert_rate)
    config = config.with_settings(settings or [], reserved=OWN_OPTIONS)
    if config.model_type == "transformer":
        _check_transformer_extra()
    # the options are checked before these imports (scikit-learn, SciPy: seconds), so a mistake is said at once
    from training.card import model_card
    from training.crossval import cross_validate
    from training.data import load_labelled_files
    from training.train import train as fit_model

    labelled = load_labelled_files(data)
    if labels_only:
        labelled = labelled.without_stages()
    source = named(data)
    _show_progress()
    cv_metrics = None
    if cv:
        with _what_the_data_cannot_give(source):
            cv_metrics = cross_validate(labelled, config, cv)
        _say_cv(cv_metrics, cv)
    with _what_the_data_cannot_give(source):
        model = fit_model(labelled, config)
    if cv_metrics is not None:
        model.metrics["cv"] = cv_metrics
    model = replace(model, card=model_card(model, source))
    model.save(out)
    typer.echo(f"model {model.model_version} -> {out}", err=True)
    _saved(model, out, source, f"held-out ({model.metrics['holdout']})", register, alias, track,
           config.max_false_alert_rate)


def _say_cv(cv_metrics: dict[str, Any], k: int) -> None:
    """``train --cv K``'s figures on stderr: each fold's, their mean, with thresholds chosen on the other folds,
    and in-family beside cross-family where the data has phrase families."""
    from training.report import fmt

    for fold in cv_metrics["folds"]:
        typer.echo(f"cv {fold['fold']}: precision {fold['precision']:.3f} recall {fold['recall']:.3f} "
                   f"F0.5 {fold['f0_5']:.3f} false-alert rate {fold['false_alert_rate']:.3f} "
                   f"latency-weighted F1 {fold['latency_weighted_f1']:.3f}", err=True)
    summary = cv_metrics["mean"]
    typer.echo(f"cv mean over {k} folds: F0.5 {summary['f0_5']:.3f} (min {cv_metrics['min']['f0_5']:.3f}) "
               f"recall {summary['recall']:.3f} false-alert rate {summary['false_alert_rate']:.3f}", err=True)
    other = cv_metrics["other_folds"]
    typer.echo(f"cv with calibration and thresholds chosen on the other folds: F0.5 {other['mean']['f0_5']:.3f} "
               f"(min {other['min']['f0_5']:.3f}) recall {other['mean']['recall']:.3f} false-alert rate "
               f"{other['mean']['false_alert_rate']:.3f} (max {other['max']['false_alert_rate']:.3f})", err=True)
    if families := cv_metrics.get("families"):
        inside, across = families["in_family"]["mean"], families["cross_family"]["mean"]
        typer.echo("cv in-family / cross-family (one model per fold; in-family: a fifth of its training "
                   "conversations kept back): " + ", ".join(
                       f"{label} {fmt(inside.get(key))} / {fmt(across.get(key))}" for key, label in (
                           ("f0_5", "F0.5"), ("recall", "recall"), ("false_alert_rate", "false-alert rate"),
                           ("alerted_before_threat", "alerted before the threat"))), err=True)


def _check_transformer_extra() -> None:
    """Refuse a transformer training where the packages it needs are not installed, before any work."""
    from training.encoder import INSTALL_EXTRA, missing_for_training

    if missing := missing_for_training():
        raise fail(f"--model-type transformer: training one needs the 'transformer' extra, and {', '.join(missing)} "
                   f"{'is' if len(missing) == 1 else 'are'} not installed here: {INSTALL_EXTRA}; scoring a "
                   "transformer model needs none of it")


@contextlib.contextmanager
def _what_the_data_cannot_give(files: str) -> Iterator[None]:
    """Training's and choosing thresholds' refusals of the data (one class, too few conversations, no text) as an
    error naming the data files."""
    try:
        yield
    except ValueError as exc:
        raise fail(f"{files}: {exc}") from None


def _check_registry_options(register: str | None, alias: str | None, track: bool) -> None:
    """Refuse registry options that would fail (or be ignored) only after training."""
    if register is not None and not track:
        raise fail("--register needs tracking (drop --no-track)")
    if alias is not None and register is None:
        raise fail(f"--alias {alias} needs --register NAME (an alias names a version of a registered model)")
    if register is not None:  # a ValueError is one line and status 2, as every command is wrapped in user_errors
        check_model_name("--register", register)
    if alias is not None:
        check_alias("--alias", alias)


def _with_targets(config: TrainConfig, target_precision: float | None,
                  max_false_alert_rate: float | None) -> TrainConfig:
    """``config`` with the threshold targets given on the command line (``None``: kept)."""
    return replace(config, target_precision=config.target_precision if target_precision is None else target_precision,
                   max_false_alert_rate=config.max_false_alert_rate if max_false_alert_rate is None
                   else max_false_alert_rate)


def _show_progress() -> None:
    """Training's progress lines on stderr, each with the time (training large data takes minutes)."""
    log = logging.getLogger("riskline.train")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


def _saved(model: RiskModel, out: Path, data: str, where: str, register: str | None, alias: str | None,
           track: bool, budget: float) -> None:
    """Print a saved model's figures (and with thresholds chosen on the other half); log it to MLflow.
    ``budget``: the share of negatives the thresholds were chosen to let alert."""
    from training.curves import false_alerts_allowed, interval_text

    m = model.metrics
    typer.echo(f"{where}: precision {m['precision']:.3f} recall {m['recall']:.3f} "
               f"F0.5 {m['f0_5']:.3f} false-alert rate {m['false_alert_rate']:.3f}", err=True)
    if text := interval_text(m):
        typer.echo(f"  {text}", err=True)
    if model.thresholds.alert >= 1.0:  # ``threshold_for_precision``'s "none reaches the target"
        typer.echo(f"warning: no threshold reaches the target precision on these "
                   f"{counted(m['n_conversations'], 'conversation')} ({m['n_positive']} positive), so the alert "
                   "threshold is 1.0 and this model will all but never alert; give more labelled conversations of "
                   "each kind", err=True)
    negatives = m["n_conversations"] - m["n_positive"]
    if budget < 1.0 and false_alerts_allowed(negatives, budget) == 0:
        typer.echo(f"note: a false-alert budget of {budget * 100:g}% of these {negatives} negative conversations is "
                   "less than one of them, so the alert threshold is above every one; the budget means what it says "
                   f"from {math.ceil(1 / budget - 1e-9)} negatives on", err=True)
    if other := m.get("other_half"):
        typer.echo(f"thresholds chosen on the other half of it: precision {other['precision']:.3f} "
                   f"recall {other['recall']:.3f} F0.5 {other['f0_5']:.3f} "
                   f"false-alert rate {other['false_alert_rate']:.3f}", err=True)
    if track:
        from training.registry import log_training_run

        with tracking(f"the model is saved in {out}, but logging it"):
            logged = log_training_run(model, out, str(data), register, alias)
        typer.echo("mlflow: " + " ".join(f"{k}={v}" for k, v in logged.items()), err=True)


def thresholds(
    data: Annotated[list[Path], typer.Option(
        metavar="DATA", parser=local_path,
        help="Labelled conversations of your own (conversation_label; stage optional); repeat for several files")],
    out: Annotated[Path, typer.Option(
        metavar="MODEL_DIR", parser=local_path, help="Model directory to write: the same weights, new thresholds")],
    model: Annotated[str | None, typer.Option(
        metavar="MODEL", help="Model directory or MLflow URI (default model if omitted)")] = None,
    target_precision: Annotated[float | None, typer.Option(
        metavar="P", help="Precision the alert threshold is chosen for [default: the model's own]")] = None,
    max_false_alert_rate: Annotated[float | None, typer.Option(
        metavar="RATE", help="Share of negatives allowed to alert [default: the model's own]")] = None,
    recalibrate: Annotated[bool, typer.Option(help="Also refit the score calibration on DATA")] = True,
    register: Annotated[str | None, typer.Option(
        metavar="NAME", help="Register in the MLflow registry under this name")] = None,
    alias: Annotated[str | None, typer.Option(
        metavar="ALIAS", help="With --register: set this alias (e.g. challenger)")] = None,
    track: Annotated[bool, typer.Option(help="Log the run to MLflow")] = True,
) -> None:
    """Choose a model's thresholds on your own labelled data.

    Thresholds (and, by default, calibration) are chosen on your own labelled conversations; the
    weights are kept.

    Thresholds chosen on one kind of talk carry only roughly to another: the shipped ones were
    chosen on synthetic hard negatives.
    """
    _check_registry_options(register, alias, track)  # before the imports below (seconds), as in train
    check_model_target(out, probe=True)
    outside_data(data, "--out", out)
    from detection.messages import fingerprints
    from detection.model_files import load_model, resolve_model_dir
    from training.card import model_card
    from training.config import TrainConfig
    from training.data import load_labelled_files
    from training.evaluate import in_family
    from training.train import rethreshold

    source_dir = resolve_model_dir(model)
    source = load_model(source_dir)
    trained = {k: v for k, v in source.config.get("train", {}).items() if k in ("target_precision",
                                                                                 "max_false_alert_rate")}
    config = _with_targets(TrainConfig(**trained, calibrate=recalibrate), target_precision, max_false_alert_rate)
    files = named(data)
    labelled = load_labelled_files(data)
    if seen := source.in_training(fingerprints(labelled.events)):
        typer.echo(f"warning: {len(seen)} of these {counted(len(labelled.labels), 'conversation')} "
                   f"{'is one' if len(seen) == 1 else 'are ones'} the model was trained on: its scores there are "
                   "surer than on new conversations, so thresholds chosen on them are too; choose them on "
                   "conversations it has not seen", err=True)
    if n_family := in_family(source, labelled):
        typer.echo(f"warning: {n_family} of these {counted(len(labelled.labels), 'conversation')} "
                   f"{'is' if n_family == 1 else 'are'} in phrase families of the synthetic generator that the model "
                   "was trained on: its scores there are surer than on text written otherwise, so thresholds chosen "
                   "on them are too; choose them on conversations of your own", err=True)
    with _what_the_data_cannot_give(files):
        chosen = rethreshold(source, labelled, config)
    chosen = replace(chosen, card=model_card(chosen, files))
    chosen.save(out)
    typer.echo(f"model {chosen.model_version} -> {out}: alert threshold {source.thresholds.alert:.3f} -> "
               f"{chosen.thresholds.alert:.3f}", err=True)
    if out.resolve() == source_dir:  # by design, as --out replaces any model directory; said, as it is easy to miss
        typer.echo(f"note: {out} was the model read ({source.model_version}): it is replaced, and its thresholds "
                   "are gone; --out elsewhere keeps both", err=True)
    _saved(chosen, out, files, f"on {files}", register, alias, track, config.max_false_alert_rate)


def register(app: typer.Typer) -> None:
    """Add the training commands to the ``riskline`` app."""
    from training.cli_data import convert, synth  # here, not above: they import helpers from this module
    from training.cli_evaluate import evaluate, promote

    for command in (train, evaluate, thresholds, promote, synth, convert):
        app.command(name=command.__name__)(user_errors(command))
