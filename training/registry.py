"""MLflow tracking and registry. The tracking URI is ``$MLFLOW_TRACKING_URI`` or a local SQLite file."""

from __future__ import annotations

import contextlib
import os
import re
import warnings
from pathlib import Path
from typing import Any

from detection.model import RiskModel

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
EXPERIMENT = "riskline"
PYFUNC = Path(__file__).with_name("mlflow_pyfunc.py")
# What the pyfunc needs installed: Riskline and what it imports itself (the list MLflow infers for
# it), pinned to this environment. Given, MLflow need not infer it by loading the model in a
# subprocess at every logged run (about 3 s).
PYFUNC_REQUIREMENTS = ("riskline", "mlflow", "cloudpickle", "numpy", "pandas", "scipy")
# What ``promote`` may compare, and whether more is better: the evaluation's figures that rank
# models (counts and the data's own lengths do not).
PROMOTION_METRICS = {
    "f0_5": True, "f1": True, "precision": True, "recall": True, "roc_auc": True, "pr_auc": True,
    "latency_weighted_f1": True, "alerted_before_threat": True, "alerted_before_threat_groomed": True,
    "false_alert_rate": False, "median_messages_to_alert": False,
}


def at_least_as_good(metric: str, new: float, old: float | None) -> bool:
    """Whether ``new`` is at least as good as ``old`` on ``metric`` (lower is better for false
    alerts and messages to alert, higher for the rest of ``PROMOTION_METRICS``). An ``old`` the data
    does not define (a champion that alerted on no positive has no messages to alert) is beaten."""
    if old is None:
        return True
    return new >= old if PROMOTION_METRICS[metric] else new <= old


def tracking_uri() -> str:
    """Where runs go: ``$MLFLOW_TRACKING_URI``, else ``mlflow.db`` in the working directory."""
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def connect() -> Any:
    """The ``mlflow`` module, pointed at ``tracking_uri()`` and the Riskline experiment, quiet."""
    import logging

    import mlflow

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # logging a model downloads its artifacts back, with a progress bar on stderr per file
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(tracking_uri())
    mlflow.set_experiment(EXPERIMENT)
    return mlflow


def flat_metrics(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Numeric metrics flattened to ``a.b.c`` names (MLflow takes scalars only)."""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        name = re.sub(r"[^\w\-. :/]", "_", f"{prefix}{key}")  # MLflow's allowed characters
        if isinstance(value, dict):
            flat.update(flat_metrics(value, f"{name}."))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[name] = float(value)
    return flat


def pyfunc_requirements(names: tuple[str, ...] = PYFUNC_REQUIREMENTS) -> list[str]:
    """``names`` pinned to the versions installed here; one not installed as a package (Riskline run
    from a source tree) is left out, as MLflow's inference would leave it out."""
    from importlib.metadata import PackageNotFoundError, version

    pinned = []
    for name in names:
        with contextlib.suppress(PackageNotFoundError):
            pinned.append(f"{name}=={version(name)}")
    return pinned


def log_training_run(model: RiskModel, model_dir: Path, data_path: str, register: str | None = None,
                     alias: str | None = None) -> dict[str, str]:
    """Log config, metrics and the model as a pyfunc; optionally register it (and set an alias)."""
    mlflow = connect()
    with mlflow.start_run(run_name=model.model_version) as run, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.log_params({f"train.{k}": v for k, v in model.config.get("train", {}).items()})
        mlflow.log_params({"data": data_path, "model_version": model.model_version})
        mlflow.log_metrics(flat_metrics(model.metrics))
        info = mlflow.pyfunc.log_model(name="model", python_model=str(PYFUNC),
                                       artifacts={"riskline_model": str(model_dir)}, code_paths=None,
                                       pip_requirements=pyfunc_requirements())
        out = {"run_id": run.info.run_id, "model_uri": info.model_uri, "tracking_uri": tracking_uri()}
    if register:
        version = mlflow.register_model(info.model_uri, register)
        out["registered"] = f"models:/{register}/{version.version}"
        if alias:
            mlflow.MlflowClient().set_registered_model_alias(register, alias, version.version)
            out["alias"] = f"models:/{register}@{alias}"
    return out


def promote(name: str, data: Any, challenger: str = "challenger", champion: str = "champion",
            metric: str = "f0_5") -> dict[str, Any]:
    """Score ``data`` with both aliases; move ``champion`` to the challenger's version if it is at least as good.

    Without a champion yet, the challenger becomes champion; where both aliases name one version (promoted
    before), it is scored once and nothing moves (``promoted``, as the end state is the one asked for). Both
    models are loaded through their ``models:/`` URIs and scored by the same core; ``data`` is
    ``LabelledData``. ``metric`` is one of ``PROMOTION_METRICS``, compared in its own direction.
    """
    _check_promotion(name, challenger, champion, metric)
    from detection.model_files import load_model, missing_database
    from training.evaluate import evaluate_model

    if database := missing_database(tracking_uri()):  # connecting would make an empty one
        raise ValueError(f"models:/{name}@{challenger}: no MLflow database at {database} (set MLFLOW_TRACKING_URI, "
                         "or run where the models were registered)")
    client = connect().MlflowClient()
    new = _challenger(client, name, challenger)
    new_metrics = evaluate_model(load_model(f"models:/{name}@{challenger}"), data)
    if new_metrics.get(metric) is None:
        raise ValueError(f"--metric {metric}: not defined on this data "
                         "(ranking figures need both positive and negative conversations, "
                         "earliness figures an alerted positive with a threat)")
    decision = _figures("challenger", new.version, new_metrics, metric)
    old = _by_alias(client, name, champion)
    same = old is not None and str(old.version) == str(new.version)  # promoted before: scored once, nothing moves
    if old is not None:
        old_metrics = new_metrics if same else evaluate_model(load_model(f"models:/{name}@{champion}"), data)
        decision.update(_figures("champion", old.version, old_metrics, metric))
        if interval := decision.get(f"champion_{metric}_interval"):
            # the rule stays "at least as good"; this says whether the gap is more than a sample of this size shows
            decision["challenger_outside_champion_interval"] = not interval["low"] <= new_metrics[metric] <= \
                interval["high"]
        promoted = at_least_as_good(metric, new_metrics[metric], old_metrics.get(metric))
    else:
        decision["champion_version"] = None
        promoted = True
    if promoted and not same:
        client.set_registered_model_alias(name, champion, new.version)
    decision["promoted"] = promoted
    decision["reason"] = (f"no {champion} yet" if old is None else
                          f"the {challenger} is {champion} already (version {new.version}): nothing moved" if same else
                          f"challenger {metric} {'at least as good as' if promoted else 'worse than'} "
                          f"champion {metric} ({'higher' if PROMOTION_METRICS[metric] else 'lower'} is better)")
    return decision


# The MLflow registry's own rules (mlflow.utils.validation), checked before any work is done
ALIAS = re.compile(r"[\w\-]+")
RESERVED_ALIAS = re.compile(r"latest|v\d+", re.IGNORECASE)


def check_model_name(option: str, name: str) -> None:
    """Refuse a registered model's name the registry would refuse, or read as a path."""
    if not name.strip() or any(c in name for c in "/:"):
        raise ValueError(f"{option} {name!r}: a registered model's name must be non-empty, without '/' or ':'")


def check_alias(option: str, alias: str) -> None:
    """Refuse an alias the registry would refuse (an empty one too: an unset variable)."""
    if not ALIAS.fullmatch(alias) or RESERVED_ALIAS.fullmatch(alias):  # match's $ lets "champion\n" by
        raise ValueError(f"{option} {alias!r}: an alias has letters, digits, '_' and '-' only, and is not 'latest' "
                         "or 'v' and a number (MLflow keeps those for versions)")


def _check_promotion(name: str, challenger: str, champion: str, metric: str) -> None:
    """Refuse, before any connection, what ``promote`` is asked that no registry could do."""
    if metric not in PROMOTION_METRICS:
        raise ValueError(f"--metric {metric}: not a metric models can be ranked by "
                         f"(one of {', '.join(sorted(PROMOTION_METRICS))})")
    check_model_name("the registered model name", name)  # MLflow would say only "no such alias" of models:/rl@
    check_alias("--challenger", challenger)
    check_alias("--champion", champion)


def _challenger(client: Any, name: str, challenger: str) -> Any:
    """The version the ``challenger`` alias of ``name`` points to; refused, saying what is missing, where none."""
    from mlflow.exceptions import MlflowException

    if (version := _by_alias(client, name, challenger)) is not None:
        return version
    try:
        aliases = sorted(client.get_registered_model(name).aliases)
    except MlflowException:
        names = sorted(model.name for model in client.search_registered_models())
        raise ValueError(f"models:/{name}@{challenger}: no model registered as {name!r} (registered: "
                         f"{', '.join(names) or 'none'})") from None
    raise ValueError(f"models:/{name}@{challenger}: no such registered model alias ({name}'s aliases: "
                     f"{', '.join(aliases) or 'none'}; 'riskline train --register {name} --alias {challenger}' "
                     "sets one)")


def _by_alias(client: Any, name: str, alias: str) -> Any:
    """The registered model version ``alias`` points to, or None."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def _figures(role: str, version: Any, metrics: dict[str, Any], metric: str) -> dict[str, Any]:
    """What ``promote`` says of one side: its version, ``metric`` (with its interval, where there is one) and
    how many of the data's conversations it was trained on or shares phrase families with."""
    figures = {f"{role}_version": str(version), f"{role}_{metric}": metrics[metric],
               f"{role}_n_in_training": metrics["n_in_training"], f"{role}_n_in_family": metrics["n_in_family"]}
    if metric in (metrics.get("intervals") or {}):
        figures[f"{role}_{metric}_interval"] = metrics["intervals"][metric]
    return figures
