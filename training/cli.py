"""Training commands for the ``riskline`` app: train, evaluate, synth, convert.

Registered through the ``riskline.commands`` entry point; ``register(app)`` adds them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from detection.cli import fail, user_errors


def train(
    data: Annotated[Path, typer.Option(help="Labelled message events (conversation_label; stage optional)")],
    out: Annotated[Path, typer.Option(help="Model directory to write")],
    model_type: Annotated[str, typer.Option(help="baseline (transformer: not yet available)")] = "baseline",
    seed: Annotated[int, typer.Option(help="Random seed")] = 0,
    target_precision: Annotated[float, typer.Option(help="Precision the alert threshold is chosen for")] = 0.95,
    register: Annotated[str | None, typer.Option(help="Register in the MLflow registry under this name")] = None,
    alias: Annotated[str | None, typer.Option(help="With --register: set this alias (e.g. champion)")] = None,
    track: Annotated[bool, typer.Option(help="Log the run to MLflow")] = True,
) -> None:
    """Train a model on labelled conversations; thresholds are chosen on held-out conversations."""
    from training.data import load_labelled
    from training.train import TrainConfig
    from training.train import train as fit_model

    if register and not track:
        raise fail("--register needs tracking (drop --no-track)")
    config = TrainConfig(model_type=model_type, seed=seed, target_precision=target_precision)
    model = fit_model(load_labelled(data), config)
    model.save(out)
    m = model.metrics
    typer.echo(f"model {model.model_version} -> {out}", err=True)
    typer.echo(f"held-out ({m['holdout']}): precision {m['precision']:.3f} recall {m['recall']:.3f} "
               f"F0.5 {m['f0_5']:.3f} false-alert rate {m['false_alert_rate']:.3f}", err=True)
    if track:
        from training.registry import log_training_run

        logged = log_training_run(model, out, str(data), register, alias)
        typer.echo("mlflow: " + " ".join(f"{k}={v}" for k, v in logged.items()), err=True)


def evaluate(
    data: Annotated[Path, typer.Option(help="Labelled message events")],
    model: Annotated[str | None, typer.Option(help="Model directory or MLflow URI (default model if omitted)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print metrics as JSON")] = False,
) -> None:
    """Evaluate a model on labelled conversations: accuracy, earliness and slices."""
    from detection.model import load_model
    from training.data import load_labelled
    from training.evaluate import evaluate_model

    risk_model = load_model(model)
    metrics = evaluate_model(risk_model, load_labelled(data))
    metrics["model_version"] = risk_model.model_version
    if as_json:
        typer.echo(json.dumps(metrics, indent=2))
    else:
        _print_metrics(metrics)


def _print_metrics(metrics: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Evaluation of {metrics['model_version']}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        if key in ("slices", "model_version"):
            continue
        table.add_row(key, "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value))
    for name, groups in metrics["slices"].items():
        for group, cell in groups.items():
            table.add_row(f"{name}[{group}]", f"{cell['rate']:.3f} (n={cell['n']})")
    Console().print(table)


def synth(
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write (.jsonl, .csv, .parquet)")],
    n: Annotated[int, typer.Option("--n", help="Number of conversations")] = 500,
    seed: Annotated[int, typer.Option(help="Random seed")] = 0,
) -> None:
    """Write labelled synthetic conversations (stage per message, conversation_label)."""
    from detection.writers import write_rows
    from training.synth.generator import generate

    rows = generate(n, seed)
    write_rows(output, rows)
    typer.echo(f"wrote {len(rows)} messages in {n} conversations -> {output}", err=True)


def convert(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT", help="PAN 2012 conversations XML")],
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write (.jsonl, .csv, .parquet)")],
    predators: Annotated[Path | None, typer.Option(help="Predator ids (default: *predator*.txt beside INPUT)")] = None,
) -> None:
    """Convert the PAN 2012 predator-identification corpus to labelled message events."""
    from detection.writers import write_rows
    from training.pan import find_predator_file, iter_pan_rows, read_predators

    source = predators or find_predator_file(input_path)
    if source is None:
        raise fail(f"{input_path}: no predator-id list found beside it; pass --predators FILE")
    rows = list(iter_pan_rows(input_path, read_predators(source)))
    write_rows(output, rows)
    n_conv = len({r["conversation_id"] for r in rows})
    n_pos = len({r["conversation_id"] for r in rows if r["conversation_label"]})
    typer.echo(f"wrote {len(rows)} messages in {n_conv} conversations ({n_pos} with a predator) -> {output}", err=True)


def register(app: typer.Typer) -> None:
    """Add the training commands to the ``riskline`` app."""
    for command in (train, evaluate, synth, convert):
        app.command(name=command.__name__)(user_errors(command))
