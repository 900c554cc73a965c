"""Shared fixtures: tiny data we write ourselves, and one small model trained per run (shared by the workers)."""

from __future__ import annotations

import csv
import fcntl
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from detection.events import MessageEvent
from detection.model import RiskModel
from detection.model_files import load_model
from training.data import load_labelled
from training.synth.generator import generate
from training.train import TrainConfig, train

# Spark's JVMs (the `spark` fixture's, and each `riskline score --engine spark` a test runs) compile with the
# quick compiler only, and collect with one thread: a JVM here lives seconds, and the optimising compiler's
# threads cost it a third more CPU (311 s against 198 s for tests/detection/test_spark.py, on two cores where
# that CPU is the other worker's); what Spark does is the same. A setting of one's own is kept.
os.environ.setdefault("SPARK_SUBMIT_OPTS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")


def write_jsonl(path: Path, rows: Sequence[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def write_csv(path: Path, rows: Sequence[dict[str, object]]) -> Path:
    """Rows as CSV with a header of the first row's columns."""
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def event(conversation_id: str, index: int, sender: str, text: str, attachment: str | None = None) -> MessageEvent:
    """A message one minute after the previous one in its conversation."""
    return MessageEvent(conversation_id, f"{conversation_id}-{index}", sender, 1_700_000_000.0 + 60 * index, text,
                        attachment=attachment)


@pytest.fixture(scope="session")
def synth_rows() -> list[dict[str, object]]:
    return generate(400, seed=11)


@pytest.fixture(scope="session")
def labelled_path(tmp_path_factory: pytest.TempPathFactory, synth_rows: list[dict[str, object]]) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("data") / "labelled.jsonl", synth_rows)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory, labelled_path: Path) -> Path:
    """The small model, trained once for the whole run: the first pytest-xdist worker to get here trains
    and saves it where every worker's temporary folders are; the others wait on the lock and find it."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # a worker's base folder is in the run's
        shared = shared.parent
    with (shared / "small-model.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        target = shared / "small-model"
        if not (target / "model.json").is_file():
            train(load_labelled(labelled_path), TrainConfig(seed=3)).save(target)
    return target


@pytest.fixture(scope="session")
def model(model_dir: Path) -> RiskModel:
    """The small model as every worker reads it, from its saved folder."""
    return load_model(model_dir)


@pytest.fixture(scope="session")
def few_labelled_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """90 conversations: for trainings whose tests check what is written and said, not how well it scores."""
    return write_jsonl(tmp_path_factory.mktemp("few") / "few.jsonl", generate(90, seed=12))


@pytest.fixture(scope="session")
def trained_and_saved(tmp_path_factory: pytest.TempPathFactory, few_labelled_path: Path) -> tuple[RiskModel, Path]:
    """A model as training leaves it in memory, and its saved folder, for the round-trip tests (``model`` is
    read back from its folder, so it cannot show what saving loses); smaller than ``model``'s data."""
    trained = train(load_labelled(few_labelled_path), TrainConfig(seed=3, augment_copies=0))
    return trained, trained.save(tmp_path_factory.mktemp("round-trip-model") / "m")


@pytest.fixture(scope="session")
def empty_mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow database with its tables made (MLflow's migrations take seconds a database)."""
    import mlflow

    path = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    mlflow.MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


def copy_mlflow_db(empty: Path, folder: Path) -> str:
    """The tracking URI of a copy of the ``empty`` database as ``folder / "mlflow.db"``."""
    shutil.copyfile(empty, folder / "mlflow.db")
    return f"sqlite:///{folder / 'mlflow.db'}"


@pytest.fixture
def mlflow_uri(tmp_path: Path, empty_mlflow_db: Path) -> str:
    """A tracking URI of this test's own, in ``tmp_path``."""
    return copy_mlflow_db(empty_mlflow_db, tmp_path)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server for the session."""
    from tests.service_helpers import start_redis

    process, url = start_redis(tmp_path_factory.mktemp("redis"))
    yield url
    process.terminate()
    process.wait(10)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server for the session (tests keep apart by table prefix or database)."""
    from tests.service_helpers import start_postgres, stop_postgres

    folder, url = start_postgres()
    yield url
    stop_postgres(folder)


# Module fixtures that take seconds to build (a training, an exported encoder, a JVM, a broker): under
# `pytest -n N --dist loadgroup` (make test) the tests that use one run on one worker, which builds it once.
ONE_WORKER = ("trained_by_cli", "transformer", "spark", "broker")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = [name for name in ONE_WORKER if name in getattr(item, "fixturenames", ())]
        if used:
            item.add_marker(pytest.mark.xdist_group(used[0]))
    # The longest first, the rest in their order: workers take tests in this order as they come free, and a
    # long one left to the end (notebook 02, the last collected, 45 s) kept one worker at it while the other
    # stood idle for as long.
    items.sort(key=_how_long)


def _how_long(item: pytest.Item) -> int:
    """0 for a group above (a fixture and its tests, a minute or more) or a notebook, 1 for another test
    marked slow, 2 for the rest."""
    if item.get_closest_marker("xdist_group") is not None or item.path.suffix == ".ipynb":
        return 0
    return 1 if item.get_closest_marker("slow") is not None else 2
