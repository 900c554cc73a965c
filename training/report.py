"""Evaluation report: Markdown and HTML with PR and calibration curves, trajectories, earliness, slices.

``write_report`` scores the data with the real scoring core, computes every metric of
``training.evaluate`` and writes ``report.md``, ``report.html``, ``metrics.json`` and the PNG
figures into one directory. ``log_report`` puts the same metrics and files into an MLflow run.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from detection.held import Held
from detection.model import RiskModel
from detection.scoring import RiskScore, StepScores
from training.curves import at_cuts, interval_text
from training.data import LabelledData
from training.evaluate import data_warnings, score_and_evaluate

FIGURES = ("pr_curve.png", "calibration.png", "trajectories.png", "messages_to_alert.png")
REPORT_FILES = ("report.md", "report.html", "metrics.json", *FIGURES)  # what ``write_report`` writes


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _pr_curve(path: Path, scores: np.ndarray, labels: np.ndarray, threshold: float) -> None:
    plt = _pyplot()
    cuts, hits, alerted = at_cuts(scores, labels)
    precision, recall = hits / alerted, hits / hits[-1]
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(np.r_[0.0, recall], np.r_[1.0, precision], lw=2)
    reached = np.flatnonzero(cuts >= threshold)
    if len(reached):  # the alerts at the threshold: those of its lowest cut
        at = reached[-1]
        ax.scatter([recall[at]], [precision[at]], color="red", zorder=3, label=f"alert threshold {threshold:.3f}")
        ax.legend(loc="lower left")
    ax.set(xlabel="recall (conversations)", ylabel="precision", title="Precision-recall", ylim=(0, 1.02))
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _calibration(path: Path, curve: list[dict[str, Any]], ece: float) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot([0, 1], [0, 1], ls="--", color="grey", label="perfect")
    if curve:
        ax.plot([c["predicted"] for c in curve], [c["observed"] for c in curve], marker="o", label="model")
    ax.set(xlabel="predicted risk (peak score)", ylabel="share that are positive",
           title=f"Reliability (ECE {ece:.3f})", xlim=(0, 1), ylim=(0, 1))
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def example_conversations(results: list[RiskScore], data: LabelledData, k: int = 2) -> dict[str, list[str]]:
    """Examples for trajectories: earliest alerts, missed positives, riskiest negatives."""
    pos = [r for r in results if data.labels[r.conversation_id]]
    neg = [r for r in results if not data.labels[r.conversation_id]]
    alerted = sorted((r for r in pos if r.alert), key=lambda r: (r.alert_index, r.conversation_id))
    missed = sorted((r for r in pos if not r.alert), key=lambda r: -r.risk_score)
    riskiest = sorted(neg, key=lambda r: -r.risk_score)
    return {"caught": [r.conversation_id for r in alerted[:k]], "missed": [r.conversation_id for r in missed[:k]],
            "riskiest negatives": [r.conversation_id for r in riskiest[:k]]}


def _trajectories(path: Path, steps: StepScores, examples: dict[str, list[str]], threshold: float) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    ids = np.array(steps.conversation_id)
    styles = {"caught": "-", "missed": "--", "riskiest negatives": ":"}
    for kind, conversation_ids in examples.items():
        for cid in conversation_ids:
            rows = np.flatnonzero(ids == cid)
            ax.plot(steps.index[rows], steps.risk_score[rows], styles[kind], marker=".", label=f"{kind}: {cid}")
    ax.axhline(threshold, color="red", lw=1, label="alert threshold")
    ax.set(xlabel="message", ylabel="risk after the message", title="Risk trajectories", ylim=(-0.02, 1.02))
    ax.legend(fontsize=6, loc="center right")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _messages_to_alert(path: Path, results: list[RiskScore], data: LabelledData) -> None:
    plt = _pyplot()
    k = [r.alert_index + 1 for r in results if data.labels[r.conversation_id] and r.alert_index is not None]
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.hist(k, bins=range(1, max(k, default=1) + 2), color="tab:blue")
    ax.set(xlabel="messages read when the alert fired", ylabel="positive conversations",
           title=f"Messages to alert (median {np.median(k) if k else float('nan'):.0f})")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


HEADLINE = ("n_conversations", "n_positive", "precision", "recall", "f0_5", "f1", "false_alert_rate", "roc_auc",
            "pr_auc", "alerted_before_threat", "alerted_before_threat_groomed", "alerted_at_threat",
            "alerted_after_threat", "median_messages_after_threat", "median_minutes_after_threat",
            "median_messages_to_alert",
            "latency_weighted_f1", "suspect_right_at_alert", "suspect_right", "offender_precision", "offender_recall",
            "offender_f0_5", "peak_stage_right", "peak_stage_under")


def fmt(value: Any) -> str:
    """A metric for a table: three decimals, ``-`` for none."""
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def metrics_table(metrics: dict[str, Any], keys: tuple[str, ...]) -> list[str]:
    """A Markdown table of the named metrics."""
    return ["| metric | value |", "|---|---|", *(f"| {key} | {fmt(metrics.get(key))} |" for key in keys)]


def slices_table(slices: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """A Markdown table of slice rates (recall for positives, false-alert rate for negatives)."""
    return ["| slice | group | rate | n |", "|---|---|---|---|",
            *(f"| {name} | {group} | {cell['rate']:.3f} | {cell['n']} |"
              for name, groups in slices.items() for group, cell in groups.items())]


def budget_table(metrics: dict[str, Any]) -> list[str]:
    """Earliness against the share of negatives allowed to reach a threshold (Markdown, with its lead)."""
    budgets = metrics.get("earliness_by_false_alert_budget") or {}
    if not budgets:
        return []
    return ["The alert threshold is chosen for the target precision and false-alert cap. A softer action "
            "(a safety nudge) can act at a lower threshold; this is what each budget of negatives reaching "
            "it buys:", "",
            "| negatives reaching it (at most) | threshold | false-alert rate | alerted before the first threat "
            "| after grooming | recall |", "|---|---|---|---|---|---|",
            *(f"| {float(budget):.0%} | {row['threshold']:.3f} | {row['false_alert_rate']:.3f} | "
              f"{fmt(row['alerted_before_threat'])} | {fmt(row['alerted_before_threat_groomed'])} | "
              f"{row['recall']:.3f} |" for budget, row in budgets.items()), ""]


def _markdown(model: RiskModel, metrics: dict[str, Any], examples: dict[str, list[str]], source: str) -> str:
    lines = [f"# Evaluation of {model.model_version}", "", f"Data: `{source}`. Model type: {model.model_type}. "
             f"Alert threshold {model.thresholds.alert:.3f}.", ""]
    for warning in data_warnings(metrics):
        lines += [warning[0].upper() + warning[1:] + ".", ""]
    lines += metrics_table(metrics, HEADLINE)
    if text := interval_text(metrics):
        lines += ["", text + " (thresholds as they are; another sample of the same kind could land anywhere "
                  "in these ranges)."]
    cal = metrics["calibration"]
    lines += ["", f"Calibration: expected calibration error {cal['ece']:.3f}, Brier score {fmt(cal['brier'])}.", ""]
    lines += ["![Precision-recall](pr_curve.png) ![Calibration](calibration.png)", "",
              "## Risk trajectories", ""]
    lines += [f"- {kind}: " + (", ".join(f"`{c}`" for c in ids) or "none") for kind, ids in examples.items()]
    lines += ["", "![Trajectories](trajectories.png)", "", "## Earliness", "",
              "![Messages to alert](messages_to_alert.png)", "", *budget_table(metrics), "## Slices", "",
              "Recall for positives, false-alert rate for negatives.", "", *slices_table(metrics["slices"])]
    return "\n".join(lines) + "\n"


def _html(markdown: str) -> str:
    """A small Markdown subset (headings, tables, images, lists, paragraphs) as standalone HTML."""
    import re

    body: list[str] = []
    table: list[list[str]] = []

    def flush() -> None:
        if table:
            head, *rows = [r for r in table if not set("".join(r)) <= set("-")]
            body.append("<table><tr>" + "".join(f"<th>{c}</th>" for c in head) + "</tr>"
                        + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows) + "</table>")
            table.clear()

    for raw in markdown.splitlines():
        line = html.escape(raw)
        line = re.sub(r"!\[([^\]]*)\]\(([^)]+)\)", r'<img alt="\1" src="\2">', line)
        line = re.sub(r"`([^`]+)`", r"<code>\1</code>", line)
        if raw.startswith("|"):
            table.append([c.strip() for c in line.strip("|").split("|")])
            continue
        flush()
        if raw.startswith("#"):
            level = len(raw) - len(raw.lstrip("#"))
            body.append(f"<h{level}>{line.lstrip('#').strip()}</h{level}>")
        elif raw.startswith("- "):
            body.append(f"<li>{line[2:]}</li>")
        elif raw.strip():
            body.append(f"<p>{line}</p>")
    flush()
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:2px 8px}img{max-width:48%}")
    head = f"<meta charset='utf-8'><title>Riskline evaluation</title><style>{style}</style>"
    return f"<!doctype html><html><head>{head}</head><body>{''.join(body)}</body></html>\n"


def write_report(model: RiskModel, data: LabelledData, directory: str | Path, source: str = "") -> dict[str, Any]:
    """Score ``data``, write the report into ``directory`` and return the metrics."""
    out = Path(directory)
    made = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        what = "exists and is not a directory" if out.exists() else f"cannot be created ({exc.strerror})"
        raise ValueError(f"--report {out}: {what}") from None
    # written into a folder of its own inside ``out``, then each file moved into place: a report that
    # cannot be finished (a full disk) leaves ``out`` as it was, not half old and half new
    try:
        with Held(out, ".report-", folder=True) as staging:
            metrics = _write_report(model, data, staging, source)
            for written in staging.iterdir():
                os.replace(written, out / written.name)
    except OSError as exc:
        raise ValueError(f"--report {out}: the report could not be written ({exc.strerror or exc}); "
                         "nothing there was replaced") from None
    finally:
        if made and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
    return metrics


def _write_report(model: RiskModel, data: LabelledData, out: Path, source: str) -> dict[str, Any]:
    results, steps, metrics = score_and_evaluate(model, data)
    metrics["model_version"] = model.model_version
    by_id = {r.conversation_id: r for r in results}
    ids = sorted(by_id)
    scores = np.array([by_id[c].risk_score for c in ids])
    labels = np.array([data.labels[c] for c in ids])
    examples = example_conversations(results, data)
    if 0 < labels.sum() < len(labels):
        _pr_curve(out / "pr_curve.png", scores, labels, model.thresholds.alert)
    _calibration(out / "calibration.png", metrics["calibration"]["curve"], metrics["calibration"]["ece"])
    _trajectories(out / "trajectories.png", steps, examples, model.thresholds.alert)
    _messages_to_alert(out / "messages_to_alert.png", results, data)
    markdown = _markdown(model, metrics, examples, source)
    (out / "report.md").write_text(markdown)
    (out / "report.html").write_text(_html(markdown))
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str) + "\n")
    return metrics


def log_report(model: RiskModel, metrics: dict[str, Any], directory: str | Path, source: str) -> str:
    """Log the report's metrics and files to an MLflow run; return the run id."""
    import warnings

    from training.registry import connect, flat_metrics

    mlflow = connect()
    with mlflow.start_run(run_name=f"evaluate {model.model_version}") as run, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.log_params({"data": source, "model_version": model.model_version, "kind": "evaluation"})
        mlflow.log_metrics(flat_metrics({k: v for k, v in metrics.items() if k != "calibration"}))
        mlflow.log_metric("calibration.ece", metrics["calibration"]["ece"])
        # the report's own files only: its folder may hold others (the working folder, MLflow's own mlruns)
        for path in (Path(directory) / name for name in REPORT_FILES):
            if path.is_file():
                mlflow.log_artifact(str(path), artifact_path="report")
        return str(run.info.run_id)
