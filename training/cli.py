"""Training commands for the ``riskline`` app: train, evaluate, synth, convert.

Registered through the ``riskline.commands`` entry point; ``register(app)`` adds them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from detection.cli_common import check_outputs, fail, local_path, user_errors
from detection.model_files import check_model_target
from detection.wording import counted
from training.registry import PROMOTION_METRICS

if TYPE_CHECKING:
    from detection.model import RiskModel
    from training.config import TrainConfig

WRITE_HELP = "File to write (.jsonl, .csv or .parquet; .jsonl.gz, .csv.gz compressed)"
# Settings that `train` takes as options of their own, not through --set.
OWN_OPTIONS = ("model_type", "seed", "encoder", "target_precision", "max_false_alert_rate")


def _outside_data(data: list[Path], option: str, path: Path | None) -> None:
    """Refuse an output that is a --data file or lies inside a --data folder (it would be read as data
    the next time), before any work."""
    for given in data:
        check_outputs({"--data": given}, {option: path})


def train(
    data: Annotated[list[Path], typer.Option(
        parser=local_path,
        help="Labelled message events (conversation_label; stage optional), a file or a folder of part files; "
             "repeat to train on several together, such as your own examples beside data_samples/train.parquet")],
    out: Annotated[Path, typer.Option(parser=local_path, help="Model directory to write")],
    model_type: Annotated[str, typer.Option(help="baseline (n-grams) or transformer (MiniLM, ONNX)")] = "baseline",
    seed: Annotated[int, typer.Option(help="Random seed")] = 0,
    target_precision: Annotated[float | None, typer.Option(
        help="Precision the alert threshold is chosen for [default: 0.98]")] = None,
    max_false_alert_rate: Annotated[float | None, typer.Option(
        help="Share of held-out negatives allowed to alert; the threshold rises to keep it [default: 0.01]")] = None,
    register: Annotated[str | None, typer.Option(help="Register in the MLflow registry under this name")] = None,
    alias: Annotated[str | None, typer.Option(help="With --register: set this alias (e.g. champion)")] = None,
    track: Annotated[bool, typer.Option(help="Log the run to MLflow")] = True,
    encoder: Annotated[str, typer.Option(help="transformer only: frozen or fine-tuned")] = "frozen",
    cv: Annotated[int, typer.Option("--cv", help="Also cross-validate over K folds and report each", min=0)] = 0,
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
    _outside_data(data, "--out", out)
    config = _with_targets(TrainConfig(model_type=model_type, seed=seed, encoder=encoder), target_precision,
                           max_false_alert_rate)
    config = config.with_settings(settings or [], reserved=OWN_OPTIONS)
    if config.model_type == "transformer":
        _check_transformer_extra()
    # the options are checked before these imports (scikit-learn, SciPy: seconds), so a mistake is said at once
    from training.card import model_card
    from training.crossval import cross_validate
    from training.data import load_labelled_files
    from training.report import fmt
    from training.train import train as fit_model

    labelled = load_labelled_files(data)
    if labels_only:
        labelled = labelled.without_stages()
    source = _named(data)
    _show_progress()
    cv_metrics = None
    if cv:
        with _what_the_data_cannot_give(source):
            cv_metrics = cross_validate(labelled, config, cv)
        for fold in cv_metrics["folds"]:
            typer.echo(f"cv {fold['fold']}: precision {fold['precision']:.3f} recall {fold['recall']:.3f} "
                       f"F0.5 {fold['f0_5']:.3f} false-alert rate {fold['false_alert_rate']:.3f} "
                       f"latency-weighted F1 {fold['latency_weighted_f1']:.3f}", err=True)
        summary = cv_metrics["mean"]
        typer.echo(f"cv mean over {cv} folds: F0.5 {summary['f0_5']:.3f} (min {cv_metrics['min']['f0_5']:.3f}) "
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
    with _what_the_data_cannot_give(source):
        model = fit_model(labelled, config)
    if cv_metrics is not None:
        model.metrics["cv"] = cv_metrics
    model = replace(model, card=model_card(model, source))
    model.save(out)
    typer.echo(f"model {model.model_version} -> {out}", err=True)
    _saved(model, out, source, f"held-out ({model.metrics['holdout']})", register, alias, track,
           config.max_false_alert_rate)


def _check_transformer_extra() -> None:
    """Refuse a transformer training where the packages it needs are not installed, before any work."""
    from training.encoder import INSTALL_EXTRA, missing_for_training

    if missing := missing_for_training():
        raise fail(f"--model-type transformer: training one needs the 'transformer' extra, and {', '.join(missing)} "
                   f"{'is' if len(missing) == 1 else 'are'} not installed here: {INSTALL_EXTRA}; scoring a "
                   "transformer model needs none of it")


def _named(paths: list[Path]) -> str:
    """The data files as the model card, MLflow and the printout name them: ``a + b``."""
    return " + ".join(map(str, paths))


@contextlib.contextmanager
def _what_the_data_cannot_give(files: str) -> Iterator[None]:
    """Training's and choosing thresholds' refusals of the data (one class, too few conversations, no text) as an
    error naming the data files."""
    try:
        yield
    except ValueError as exc:
        raise fail(f"{files}: {exc}") from None


@contextlib.contextmanager
def _tracking(what: str) -> Iterator[None]:
    """MLflow's refusals (a tracking URI it cannot use, a registry conflict) as one error line naming
    ``what`` was being done, not a traceback."""
    from mlflow.exceptions import MlflowException
    from sqlalchemy.exc import SQLAlchemyError  # a database MLflow cannot write (a full disk) comes as this

    try:
        yield
    except (MlflowException, SQLAlchemyError, OSError) as exc:
        from training.registry import tracking_uri

        text = str(getattr(exc, "message", exc)).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        raise fail(f"MLflow ({tracking_uri()}): {what} failed: {first}") from None


# The MLflow registry's own rules (mlflow.utils.validation), checked before any work is done
ALIAS = re.compile(r"^[\w\-]+$")
RESERVED_ALIAS = re.compile(r"^(latest|v\d+)$", re.IGNORECASE)


def _check_registry_options(register: str | None, alias: str | None, track: bool) -> None:
    """Refuse registry options that would fail (or be ignored) only after training."""
    if register is not None and not track:
        raise fail("--register needs tracking (drop --no-track)")
    if alias is not None and register is None:
        raise fail(f"--alias {alias} needs --register NAME (an alias names a version of a registered model)")
    if register is not None and (not register.strip() or any(c in register for c in "/:")):
        raise fail(f"--register {register!r}: a registered model's name must be non-empty, without '/' or ':'")
    if alias is not None and (not ALIAS.match(alias) or RESERVED_ALIAS.match(alias)):
        raise fail(f"--alias {alias!r}: an alias has letters, digits, '_' and '-' only, and is not 'latest' "
                   "or 'v' and a number (MLflow keeps those for versions)")


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
    from training.evaluate import false_alerts_allowed, interval_text

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

        with _tracking(f"the model is saved in {out}, but logging it"):
            logged = log_training_run(model, out, str(data), register, alias)
        typer.echo("mlflow: " + " ".join(f"{k}={v}" for k, v in logged.items()), err=True)


def evaluate(
    data: Annotated[list[Path], typer.Option(
        parser=local_path,
        help="Labelled message events, a file or a folder of part files; repeat to read several as one")],
    model: Annotated[str | None, typer.Option(help="Model directory or MLflow URI (default model if omitted)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print metrics as JSON")] = False,
    report: Annotated[Path | None, typer.Option(
        parser=local_path, help="Write an HTML and Markdown report with figures here")] = None,
    track: Annotated[bool, typer.Option(help="With --report: log metrics and figures to MLflow")] = True,
    unseen_only: Annotated[bool, typer.Option(
        "--unseen-only", help="Leave out the conversations the model was trained on (those it keeps fingerprints "
                              "of), so the figures are of conversations it has not seen")] = False,
) -> None:
    """Evaluate a model on labelled conversations.

    Accuracy, earliness, calibration and slices.
    """
    _outside_data(data, "--report", report)  # before the imports below (seconds), as in train
    from detection.model_files import load_model
    from training.data import load_labelled_files
    from training.evaluate import data_warnings, evaluate_model

    risk_model = load_model(model)
    labelled = load_labelled_files(data)
    source = _named(data)
    if unseen_only:
        labelled, n_left_out = _unseen(risk_model, labelled, source)
        source += f", less the {counted(n_left_out, 'conversation')} the model was trained on"
    if report is not None:
        from training.report import log_report, write_report

        metrics = write_report(risk_model, labelled, report, source)
        typer.echo(f"report -> {report / 'report.html'} and {report / 'report.md'}", err=True)
        if track:
            with _tracking(f"the report is written in {report}, but logging it"):
                run_id = log_report(risk_model, metrics, report, source)
            typer.echo(f"mlflow: run_id={run_id}", err=True)
    else:
        metrics = evaluate_model(risk_model, labelled)
    metrics["model_version"] = risk_model.model_version
    if as_json:
        typer.echo(json.dumps(metrics, indent=2))
    else:
        _print_metrics(metrics)
    for warning in data_warnings(metrics):
        typer.echo(warning, err=True)


def _unseen(model: Any, labelled: Any, source: str) -> tuple[Any, int]:
    """``labelled`` without the conversations ``model`` was trained on (``evaluate --unseen-only``), and how many
    those were, said on stderr; a ``ValueError`` where the model keeps no fingerprints or nothing is left."""
    from detection.scoring import fingerprints

    seen = model.in_training(fingerprints(labelled.events))
    if seen is None:
        raise ValueError(f"--unseen-only: model {model.model_version} keeps no fingerprints of its training "
                         "conversations (trained before 2026-12-03, evening), so they cannot be told apart")
    kept = set(labelled.labels) - set(seen)
    if not kept:
        raise ValueError(f"--unseen-only: the model was trained on every one of the "
                         f"{counted(len(labelled.labels), 'conversation')} of {source}; nothing is left to measure "
                         "it on")
    typer.echo(f"left out {len(seen)} of the {counted(len(labelled.labels), 'conversation')}, "
               f"{'one' if len(seen) == 1 else 'ones'} the model was trained on; "
               f"measuring on the other {len(kept)}", err=True)
    return labelled.subset(kept), len(seen)


def _print_metrics(metrics: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    from detection.display import Terminal
    from training.evaluate import INTERVAL_KEYS
    from training.report import fmt

    table = Table(title=f"Evaluation of {metrics['model_version']}")
    table.add_column("metric", overflow="fold")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        if key in ("slices", "model_version", "calibration", "earliness_by_false_alert_budget", "intervals"):
            continue
        table.add_row(key, "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value))
    if found := metrics.get("intervals"):
        for key in INTERVAL_KEYS:
            table.add_row(f"{key}, {found['level']:.0%} interval",
                          f"{found[key]['low']:.3f}-{found[key]['high']:.3f}")
    for budget, row in (metrics.get("earliness_by_false_alert_budget") or {}).items():
        table.add_row(f"at most {float(budget):.0%} of negatives reaching it",
                      f"threshold {row['threshold']:.3f}: before the threat {fmt(row['alerted_before_threat'])} "
                      f"(after grooming {fmt(row['alerted_before_threat_groomed'])}), recall {row['recall']:.3f}")
    for name, groups in metrics["slices"].items():
        for group, cell in groups.items():
            table.add_row(escape(f"{name}[{group}]"), f"{cell['rate']:.3f} (n={cell['n']})")  # [x] is no markup
    Terminal().print(table)


METRIC_HELP = ("Metric compared: " + ", ".join(m for m, up in PROMOTION_METRICS.items() if up) + " (higher is better); "
               + ", ".join(m for m, up in PROMOTION_METRICS.items() if not up) + " (lower is better)")


def promote(
    name: Annotated[str, typer.Argument(help="Registered model name")],
    data: Annotated[list[Path], typer.Option(
        parser=local_path,
        help="Labelled evaluation data both models are scored on; repeat to read several files as one")],
    challenger: Annotated[str, typer.Option(help="Alias of the candidate")] = "challenger",
    champion: Annotated[str, typer.Option(help="Alias to move when the candidate is at least as good")] = "champion",
    metric: Annotated[str, typer.Option(help=METRIC_HELP)] = "f0_5",
) -> None:
    """Make the challenger champion if it is at least as good.

    The champion alias moves to the challenger only if it is at least as good on DATA.
    """
    from training.data import load_labelled_files
    from training.registry import promote as run_promotion

    labelled = load_labelled_files(data)
    with _tracking("promotion"):
        decision = run_promotion(name, labelled, challenger, champion, metric)
    typer.echo(json.dumps(decision, indent=2))
    for role in ("challenger", "champion"):
        if seen := decision.get(f"{role}_n_in_training"):
            typer.echo(f"warning: the {role} was trained on {seen} of these {len(labelled.labels)} conversations: "
                       "compared on them, it is measured on how well it fits its training data; compare on "
                       "conversations neither model has seen", err=True)
        if in_family := decision.get(f"{role}_n_in_family"):
            typer.echo(f"warning: {in_family} of these {len(labelled.labels)} conversations are in phrase families "
                       f"of the synthetic generator that the {role} was trained on: compared on them, it is measured "
                       "on wording like its training data's", err=True)
    if not decision["promoted"]:
        raise typer.Exit(1)


def thresholds(
    data: Annotated[list[Path], typer.Option(
        parser=local_path,
        help="Labelled conversations of your own (conversation_label; stage optional); repeat for several files")],
    out: Annotated[Path, typer.Option(
        parser=local_path, help="Model directory to write: the same weights, new thresholds")],
    model: Annotated[str | None, typer.Option(help="Model directory or MLflow URI (default model if omitted)")] = None,
    target_precision: Annotated[float | None, typer.Option(
        help="Precision the alert threshold is chosen for [default: the model's own]")] = None,
    max_false_alert_rate: Annotated[float | None, typer.Option(
        help="Share of negatives allowed to alert [default: the model's own]")] = None,
    recalibrate: Annotated[bool, typer.Option(help="Also refit the score calibration on DATA")] = True,
    register: Annotated[str | None, typer.Option(help="Register in the MLflow registry under this name")] = None,
    alias: Annotated[str | None, typer.Option(help="With --register: set this alias (e.g. challenger)")] = None,
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
    _outside_data(data, "--out", out)
    from detection.model_files import load_model
    from detection.scoring import fingerprints
    from training.card import model_card
    from training.config import TrainConfig
    from training.data import load_labelled_files
    from training.evaluate import in_family
    from training.train import rethreshold

    source = load_model(model)
    trained = {k: v for k, v in source.config.get("train", {}).items() if k in ("target_precision",
                                                                                 "max_false_alert_rate")}
    config = _with_targets(TrainConfig(**trained, calibrate=recalibrate), target_precision, max_false_alert_rate)
    files = _named(data)
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
    _saved(chosen, out, files, f"on {files}", register, alias, track, config.max_false_alert_rate)


def synth(
    output: Annotated[Path, typer.Option("-o", "--output", parser=local_path, help=WRITE_HELP)],
    n: Annotated[int, typer.Option("--n", help="Number of conversations")] = 500,
    seed: Annotated[int, typer.Option(help="Random seed")] = 0,
    offenders: Annotated[int, typer.Option(
        min=0, help="Positives written by this many offenders, each running a script of their own (handle, lines, "
                    "amounts, pace) on many targets, named in offender_id; 0: each positive by a new offender")] = 0,
) -> None:
    """Write labelled synthetic conversations.

    Each message has its stage, each row its conversation_label.
    """
    from detection.writers import output_format, write_rows
    from training.synth.generator import generate

    output_format(output)  # before the work, not after it
    rows = generate(n, seed, offenders=offenders)
    write_rows(output, rows)
    by = f" (positives by {counted(offenders, 'offender')})" if offenders else ""
    typer.echo(f"wrote {counted(len(rows), 'message')} in {counted(n, 'conversation')}{by} -> {output}", err=True)


def convert(
    input_path: Annotated[Path, typer.Argument(
        metavar="INPUT", parser=local_path,
        help="PAN 2012 conversations XML, or a platform's message logs (.jsonl, .csv, .parquet, gzipped, or a "
             "folder of such files)")],
    output: Annotated[Path, typer.Option("-o", "--output", parser=local_path, help=WRITE_HELP)],
    predators: Annotated[Path | None, typer.Option(
        parser=local_path,
        help="PAN: predator ids (default: *predator*.txt beside INPUT)")] = None,
    mapping: Annotated[list[str] | None, typer.Option(
        "--map", metavar="FIELD=COLUMN",
        help="Logs: read this column as this field (e.g. conversation_id=thread_id, text=body; "
             "sender_id=author.id for a nested one, attachment=attachments.0.content_type in a list); "
             "repeatable")] = None,
    timestamp_unit: Annotated[str, typer.Option(
        help="Logs: the unit of numeric timestamps: s, ms, us or ns (ISO-8601 text is read as it is)")] = "s",
    time_format: Annotated[str | None, typer.Option(
        help="Logs: the format of text timestamps that are not ISO-8601, as for strptime (e.g. '%d/%m/%Y %H:%M')")
    ] = None,
    timezone: Annotated[str | None, typer.Option(
        help="Logs: the time zone of timestamps without a UTC offset (e.g. UTC, Europe/Berlin)")] = None,
    errors: Annotated[Path | None, typer.Option(
        "--errors", parser=local_path, help="Logs: write bad rows here (JSON Lines) and convert the rest")] = None,
) -> None:
    """Convert PAN 2012 XML or a platform's logs to message events.

    The PAN 2012 predator-identification corpus, or a platform's own message logs, become
    (labelled) message events.
    """
    if input_path.suffix.lower() != ".xml":
        return _convert_logs(input_path, output, mapping or [], (timestamp_unit, time_format, timezone), errors)
    if mapping or timestamp_unit != "s" or time_format or timezone or errors is not None:
        raise fail(f"{input_path}: --map, --timestamp-unit, --time-format, --timezone and --errors are for message "
                   "logs, not PAN 2012 XML")
    from detection.writers import output_format, write_rows
    from training.pan import COLUMNS, arrow_schema, iter_pan_rows, predator_files, read_predators

    if predators is not None:
        source = predators
    elif len(found := predator_files(input_path)) == 1:
        source = found[0]
    else:
        beside = f"several predator-id lists beside it ({', '.join(p.name for p in found)})" if found else \
            "no predator-id list found beside it"
        raise fail(f"{input_path}: {beside}; pass --predators FILE")
    check_outputs({"INPUT": input_path, "the predator list": source}, {"--output": output})
    output_format(output)  # before the work, not after it
    tally = _Tally()
    write_rows(output, tally.count(iter_pan_rows(input_path, read_predators(source))), COLUMNS, arrow_schema())
    typer.echo(f"wrote {counted(tally.messages, 'message')} in {counted(len(tally.conversations), 'conversation')} "
               f"({len(tally.positives)} with a predator) -> {output}", err=True)


class _Tally:
    """What ``convert`` wrote, counted as the rows stream past (memory stays flat however large the input)."""

    def __init__(self) -> None:
        self.messages = 0
        self.conversations: set[object] = set()
        self.positives: set[object] = set()

    def count(self, rows: Iterable[dict[str, object]]) -> Iterator[dict[str, object]]:
        for row in rows:
            self.messages += 1
            self.conversations.add(row["conversation_id"])
            if row.get("conversation_label"):
                self.positives.add(row["conversation_id"])
            yield row


def _convert_logs(input_path: Path, output: Path, mapping: list[str], times: tuple[str, str | None, str | None],
                  errors: Path | None) -> None:
    """``convert`` for a platform's logs: columns renamed, rows checked, written as message events."""
    import itertools

    from detection.batch import write_rejects
    from detection.events import EVENT_FIELDS, LABEL_FIELDS
    from detection.readers import Reject
    from detection.writers import output_format, write_rows
    from training.logs import arrow_schema, iter_log_rows, parse_mapping, time_zone

    check_outputs({"INPUT": input_path}, {"--output": output, "--errors": errors})
    output_format(output)  # before the work, not after it
    rename = parse_mapping(mapping)
    rejects: list[Reject] | None = [] if errors is not None else None
    unit, form, zone = times
    rows = iter_log_rows(input_path, rename, unit, rejects, time_zone(zone), form)
    first = next(rows, None)  # a missing input, or a bad first file, is named here, before anything is written
    if first is None and not rejects:
        raise fail(f"{input_path}: no message rows")
    columns = [*EVENT_FIELDS, *(name for name in LABEL_FIELDS if first is not None and name in first)]
    tally = _Tally()
    write_rows(output, tally.count(itertools.chain([first] if first is not None else [], rows)), columns,
               arrow_schema(columns))
    if errors is not None:
        write_rejects(errors, rejects or [])
    typer.echo(f"wrote {counted(tally.messages, 'message')} in {counted(len(tally.conversations), 'conversation')}, "
               f"{counted(len(rejects or []), 'row')} rejected -> {output}", err=True)


def register(app: typer.Typer) -> None:
    """Add the training commands to the ``riskline`` app."""
    for command in (train, evaluate, thresholds, promote, synth, convert):
        app.command(name=command.__name__)(user_errors(command))
