"""``riskline evaluate`` (figures and a report on labelled data) and ``promote`` (the MLflow registry's
champion moved only to a model at least as good)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from detection.cli_common import local_path
from detection.wording import counted
from training.cli_common import named, outside_data, tracking
from training.registry import PROMOTION_METRICS


def evaluate(
    data: Annotated[list[Path], typer.Option(
        metavar="DATA", parser=local_path,
        help="Labelled message events, a file or a folder of part files; repeat to read several as one")],
    model: Annotated[str | None, typer.Option(
        metavar="MODEL", help="Model directory or MLflow URI (default model if omitted)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print metrics as JSON")] = False,
    report: Annotated[Path | None, typer.Option(
        metavar="DIR", parser=local_path, help="Write an HTML and Markdown report with figures here")] = None,
    track: Annotated[bool, typer.Option(help="With --report: log metrics and figures to MLflow")] = True,
    unseen_only: Annotated[bool, typer.Option(
        "--unseen-only", help="Leave out the conversations the model was trained on (those it keeps fingerprints "
                              "of), so the figures are of conversations it has not seen")] = False,
) -> None:
    """Evaluate a model on labelled conversations.

    Accuracy, earliness, calibration and slices.
    """
    outside_data(data, "--report", report)  # before the imports below (seconds), as in train
    from detection.model_files import load_model
    from training.data import load_labelled_files
    from training.evaluate import data_warnings, evaluate_model

    risk_model = load_model(model)
    labelled = load_labelled_files(data)
    source = named(data)
    if unseen_only:
        labelled, n_left_out = _unseen(risk_model, labelled, source)
        source += f", less the {counted(n_left_out, 'conversation')} the model was trained on"
    if report is not None:
        from training.report import log_report, write_report

        metrics = write_report(risk_model, labelled, report, source)
        typer.echo(f"report -> {report / 'report.html'} and {report / 'report.md'}", err=True)
        if track:
            with tracking(f"the report is written in {report}, but logging it"):
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
    from detection.messages import fingerprints

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
    from training.curves import INTERVAL_KEYS
    from training.report import fmt

    rows: list[tuple[str, str]] = []
    for key, value in metrics.items():
        if key in ("slices", "model_version", "calibration", "earliness_by_false_alert_budget", "intervals"):
            continue
        rows.append((key, "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)))
    if found := metrics.get("intervals"):
        rows += [(f"{key}, {found['level']:.0%} interval", f"{found[key]['low']:.3f}-{found[key]['high']:.3f}")
                 for key in INTERVAL_KEYS]
    for budget, row in (metrics.get("earliness_by_false_alert_budget") or {}).items():
        rows.append((f"at most {float(budget):.0%} of negatives reaching it",
                     f"threshold {row['threshold']:.3f}: before the threat {fmt(row['alerted_before_threat'])} "
                     f"(after grooming {fmt(row['alerted_before_threat_groomed'])}), recall {row['recall']:.3f}"))
    for name, groups in metrics["slices"].items():
        rows += [(f"{name}[{group}]", f"{cell['rate']:.3f} (n={cell['n']})") for group, cell in groups.items()]
    table = Table(title=f"Evaluation of {metrics['model_version']}")
    # a metric's name whole on its line (cut in the middle, a slice's name could not be searched for); the values,
    # short but for the earliness rows', wrap at their spaces in what is left
    table.add_column("metric", no_wrap=True, min_width=max(len(key) for key, _ in rows))
    table.add_column("value", justify="right", overflow="fold")
    for key, value in rows:
        table.add_row(escape(key), value)  # a slice's [group] is no markup
    Terminal().print(table)


METRIC_HELP = ("Metric compared: " + ", ".join(m for m, up in PROMOTION_METRICS.items() if up) + " (higher is better); "
               + ", ".join(m for m, up in PROMOTION_METRICS.items() if not up) + " (lower is better)")


def promote(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Registered model name")],
    data: Annotated[list[Path], typer.Option(
        metavar="DATA", parser=local_path,
        help="Labelled evaluation data both models are scored on; repeat to read several files as one")],
    challenger: Annotated[str, typer.Option(metavar="ALIAS", help="Alias of the candidate")] = "challenger",
    champion: Annotated[str, typer.Option(
        metavar="ALIAS", help="Alias to move when the candidate is at least as good")] = "champion",
    metric: Annotated[str, typer.Option(metavar="METRIC", help=METRIC_HELP)] = "f0_5",
) -> None:
    """Make the challenger champion if it is at least as good.

    The champion alias moves to the challenger only if it is at least as good on DATA.
    """
    from training.data import load_labelled_files
    from training.registry import promote as run_promotion

    labelled = load_labelled_files(data)
    with tracking("promotion"):
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
