"""The Spark engine on a real local Spark (local[2]) gives exactly the local engine's output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from detection.batch import step_rows
from detection.events import to_event
from detection.model import RiskModel
from detection.scoring import score_conversations
from tests.cli_helpers import riskline
from tests.conftest import write_jsonl

pytest.importorskip("pyspark")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from detection.spark import spark_session

    session = spark_session("local[2]")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def events_file(tmp_path_factory: pytest.TempPathFactory, synth_rows: list[dict[str, object]]) -> Path:
    rows = [dict(r) for r in synth_rows[:2500]]
    rows[1]["timestamp"] = rows[0]["timestamp"]  # a tie: broken by input position in both engines
    return write_jsonl(tmp_path_factory.mktemp("spark") / "events.jsonl", rows)


def test_dataframe_api_matches_local(spark: Any, model: RiskModel, model_dir: Path, events_file: Path) -> None:
    from detection.spark import read_events_spark, score_spark

    events = [to_event(json.loads(line)) for line in events_file.read_text().splitlines()]
    results, steps = score_conversations(model, events)
    frame = score_spark(read_events_spark(spark, events_file), str(model_dir))
    got = [row.asDict(recursive=True) for row in frame.collect()]
    expected = [{k: getattr(r, k) for k in r.__dataclass_fields__} for r in results]
    assert got == expected
    per_message = score_spark(read_events_spark(spark, events_file), str(model_dir), per_message=True)
    assert [row.asDict() for row in per_message.collect()] == step_rows(steps)


def test_cli_engine_spark_on_parquet(model_dir: Path, events_file: Path, tmp_path: Path) -> None:
    rows = [json.loads(line) for line in events_file.read_text().splitlines()]
    table = pa.Table.from_pylist(rows)
    # native timestamps, as Spark jobs usually write them
    stamps = pa.array([to_event(r).timestamp for r in rows]).cast(pa.float64())
    native = pa.compute.cast(pa.compute.multiply(stamps, 1_000_000).cast(pa.int64()), pa.timestamp("us", tz="UTC"))
    parquet = tmp_path / "events.parquet"
    pq.write_table(table.set_column(table.schema.get_field_index("timestamp"), "timestamp", native), parquet)
    local = riskline("score", parquet, "-o", tmp_path / "local.parquet", "--model", model_dir)
    spark = riskline("score", parquet, "-o", tmp_path / "spark.parquet", "--model", model_dir, "--engine", "spark")
    assert local.returncode == 0 and spark.returncode == 0, spark.stderr[-2000:]
    from_spark = pq.read_table(tmp_path / "spark.parquet").to_pylist()
    assert from_spark == pq.read_table(tmp_path / "local.parquet").to_pylist()


def test_cli_engine_spark_bad_row(model_dir: Path, events_file: Path, tmp_path: Path) -> None:
    lines = events_file.read_text().splitlines()
    bad = json.loads(lines[4])
    bad["timestamp"] = "not a time"
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join([*lines[:4], json.dumps(bad), *lines[5:40]]) + "\n")
    done = riskline("score", path, "-o", tmp_path / "o.parquet", "--model", model_dir, "--engine", "spark")
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("riskline: error:") and "field 'timestamp'" in last and bad["message_id"] in last
    assert not (tmp_path / "o.parquet").exists()
