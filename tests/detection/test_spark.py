"""The Spark engine on a real local Spark (local[2]) gives exactly the local engine's output."""

from __future__ import annotations

import csv
import gzip
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from detection.batch import step_rows, write_rejects
from detection.events import EVENT_FIELDS, to_event
from detection.inputs import InputError
from detection.model import RiskModel
from detection.scoring import score_conversations
from tests.cli_helpers import RISKLINE, children, riskline, still_running
from tests.conftest import write_jsonl

pytest.importorskip("pyspark")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from detection.spark_session import spark_session

    session = spark_session("local[2]")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def events_file(tmp_path_factory: pytest.TempPathFactory, synth_rows: list[dict[str, object]]) -> Path:
    rows = [dict(r) for r in synth_rows[:2500]]
    rows[1]["timestamp"] = rows[0]["timestamp"]  # a tie: broken by input position in both engines
    assert rows[2]["conversation_id"] == rows[0]["conversation_id"] != rows[-1]["conversation_id"]
    # the first conversation's third message last: each engine's rows by conversations' first appearance, and
    # (one row per message) each conversation's in its time order, not the input's
    rows.append(rows.pop(2))
    return write_jsonl(tmp_path_factory.mktemp("spark") / "events.jsonl", rows)


def test_dataframe_api_matches_local(spark: Any, model: RiskModel, model_dir: Path, events_file: Path) -> None:
    from detection.spark import score_spark
    from detection.spark_rows import read_events_spark

    events = [to_event(json.loads(line)) for line in events_file.read_text().splitlines()]
    results, steps = score_conversations(model, events)
    frame = score_spark(read_events_spark(spark, events_file), str(model_dir))
    got = [row.asDict(recursive=True) for row in frame.collect()]
    expected = [{k: getattr(r, k) for k in r.__dataclass_fields__} for r in results]
    assert got == expected
    per_message = score_spark(read_events_spark(spark, events_file), str(model_dir), per_message=True)
    assert [row.asDict() for row in per_message.collect()] == step_rows(steps)


def test_cli_engine_spark_on_parquet_sets_bad_rows_aside(model_dir: Path, events_file: Path, tmp_path: Path) -> None:
    """Native timestamps (as Spark jobs write them), a row without one and a later copy of a message id:
    the same scores and the same rejects (place, field, reason) as the local engine's; under a policy file of
    one's own, the same file of the interventions the service would raise (``--interventions``), byte for byte."""
    rows = [json.loads(line) for line in events_file.read_text().splitlines()]
    rows = [*rows[:5], {**rows[5], "message_id": "late"}, *rows[6:30], rows[12], *rows[30:]]
    table = pa.Table.from_pylist(rows)
    stamps = pa.array([None if r["message_id"] == "late" else to_event(r).timestamp for r in rows], pa.float64())
    native = pa.compute.cast(pa.compute.multiply(stamps, 1_000_000).cast(pa.int64()), pa.timestamp("us", tz="UTC"))
    parquet = tmp_path / "events.parquet"
    pq.write_table(table.set_column(table.schema.get_field_index("timestamp"), "timestamp", native), parquet)
    policy = tmp_path / "policy.yaml"
    policy.write_text("levels:\n  high: {action: nudge, channel: in_app}\n")
    local = riskline("score", parquet, "-o", tmp_path / "local.parquet", "--model", model_dir,
                     "--errors", tmp_path / "local.rejects.jsonl", "--interventions", tmp_path / "local.iv.jsonl",
                     "--policy", policy)
    spark = riskline("score", parquet, "-o", tmp_path / "spark.parquet", "--model", model_dir, "--engine", "spark",
                     "--errors", tmp_path / "spark.rejects.jsonl", "--interventions", tmp_path / "spark.iv.jsonl.gz",
                     "--policy", policy)
    assert local.returncode == 0 and spark.returncode == 0, spark.stderr[-2000:]
    from_spark = pq.read_table(tmp_path / "spark.parquet").to_pylist()
    assert from_spark == pq.read_table(tmp_path / "local.parquet").to_pylist()
    # the local engine's one line: Spark's start-up logging is quiet on a local master, and the JVM's incubator
    # warning is held back
    n_alerts = sum(row["alert"] for row in from_spark)
    assert 0 < n_alerts < len(from_spark)
    said = f"scored {len(rows) - 2} messages in {len(from_spark)} conversations{{}}: {n_alerts} alerts, 2 rows rejected"
    made = (tmp_path / "local.iv.jsonl").read_bytes()
    assert gzip.decompress((tmp_path / "spark.iv.jsonl.gz").read_bytes()) == made
    levels = [json.loads(line)["level"] for line in made.splitlines()]
    assert len(levels) > 20 and set(levels) == {"high"}
    replayed = f"{len(levels)} interventions the service would raise ({len(levels)} high) under the policy {policy} " \
               f"-> {tmp_path}"
    assert local.stderr.splitlines() == [f"{said.format('')} -> {tmp_path / 'local.parquet'}",
                                         f"{replayed}/local.iv.jsonl"]
    assert spark.stderr.splitlines() == [f"{said.format(' with Spark')} -> {tmp_path / 'spark.parquet'}",
                                         f"{replayed}/spark.iv.jsonl.gz"]

    def places(name: str) -> list[tuple[str, str, str]]:
        found = [json.loads(line) for line in (tmp_path / name).read_text().splitlines()]
        return [(r["location"], r["field"], r["reason"]) for r in found]

    assert places("spark.rejects.jsonl") == places("local.rejects.jsonl")
    assert [p[:2] for p in places("spark.rejects.jsonl")] == [("row 6", "timestamp"), ("row 31", "message_id")]


def test_interventions_replayed_with_spark_are_the_local_engines(spark: Any, model: RiskModel, model_dir: Path,
                                                                  events_file: Path) -> None:
    """Asked for, Spark's scoring replays the interventions the service would raise: those the local engine
    replays (``replay_interventions``), each field alike and in the same order, whether rows are conversations or
    messages (where each sits at the message that raised it); the scores beside them are the local engine's."""
    from detection.policy import EscalationPolicy
    from detection.readers import read_events
    from detection.replay import replay_interventions
    from detection.spark import score_spark, spark_interventions
    from detection.spark_rows import read_events_spark

    policy = EscalationPolicy.from_dict({"levels": {"medium": {"action": "watch"}, "critical": {"action": "review"}}})
    events = read_events(events_file).events
    expected = json.loads(json.dumps(replay_interventions(model, events, policy)))
    results, steps = score_conversations(model, events)
    assert len({i["conversation_id"] for i in expected}) > 20 and {i["level"] for i in expected} == {"medium",
                                                                                                      "critical"}
    for per_message in (False, True):
        scored = score_spark(read_events_spark(spark, events_file), str(model_dir), per_message, interventions=True,
                             policy=policy)
        assert list(spark_interventions(scored)) == expected
        rows = [row.asDict(recursive=True) for row in scored.collect()]
        plain = step_rows(steps) if per_message else [{k: getattr(r, k) for k in r.__dataclass_fields__}
                                                      for r in results]
        assert [{k: v for k, v in row.items() if k != "interventions"} for row in rows] == plain
        key = "message_id" if per_message else "conversation_id"
        at = {(row["conversation_id"], row[key]) for row in rows if row["interventions"]}
        assert at == {(i["conversation_id"], i["trigger_message_id" if per_message else "conversation_id"])
                      for i in expected}
    with pytest.raises(ValueError, match="interventions=True"):
        score_spark(read_events_spark(spark, events_file), str(model_dir), policy=policy)


def test_counts_read_back_from_an_output_are_the_runs_own(model: RiskModel, model_dir: Path, events_file: Path,
                                                           tmp_path: Path) -> None:
    """What ``riskline score --engine spark`` says of its output (``output_counts``: conversations, alerts, other
    languages), read back from the Parquet it wrote, is what the local engine counted while scoring; one row per
    message says as many conversations and alerts. (Two conversations made to read as Spanish.)"""
    from detection.batch import score_file
    from detection.spark import output_counts

    rows = [json.loads(line) for line in events_file.read_text().splitlines()]
    spanish = sorted({r["conversation_id"] for r in rows})[:2]
    rows = [{**r, "text": "hola, que tal? no se si puedo ir, pero te digo mas tarde"}
            if r["conversation_id"] in spanish else r for r in rows]
    source = write_jsonl(tmp_path / "events.jsonl", rows)
    whole = score_file(model, source, tmp_path / "whole.parquet")
    score_file(model, source, tmp_path / "steps.parquet", per_message=True)
    assert whole.n_alerts > 0 and whole.n_other_language == 2
    alert = model.thresholds.alert
    assert output_counts(tmp_path / "whole.parquet", False, alert) == (whole.n_conversations, whole.n_alerts, 2)
    assert output_counts(tmp_path / "steps.parquet", True, alert) == (whole.n_conversations, whole.n_alerts, 0)


def test_a_bad_row_stops_spark_as_the_local_engine(spark: Any, model_dir: Path, events_file: Path,
                                                   tmp_path: Path) -> None:
    """Without --errors, the error ``riskline score --engine spark`` raises (``SparkCheck.error``, in
    process here: the command's own run with Spark is the test above) is the local engine's line."""
    from detection.spark_rows import check_events_spark, read_events_spark

    lines = events_file.read_text().splitlines()
    bad = json.loads(lines[4])
    bad["timestamp"] = "not a time"
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join([*lines[:4], json.dumps(bad), *lines[5:40]]) + "\n")
    check = check_events_spark(read_events_spark(spark, path), str(path))
    error = check.error()
    check.unpersist()
    local = riskline("score", path, "-o", tmp_path / "o.parquet", "--model", model_dir)
    line = f"{path}: line 5: field 'timestamp': not ISO-8601 or Unix seconds: 'not a time' (use --errors FILE to " \
           "set bad rows aside)"
    assert local.returncode == 2 and local.stderr.splitlines() == [f"riskline: error: {line}"]
    assert isinstance(error, InputError) and str(error) == line
    assert not (tmp_path / "o.parquet").exists()


def _bad_rows_file(path: Path, events_file: Path) -> Path:
    """Forty good rows with a bad JSON line, a bad timestamp, a line that is not UTF-8, a blank line, a
    later copy of a message id and a byte-order mark at the start; at the end a line cut inside a string
    and a timestamp that is a lone surrogate's escape, which no UTF-8 text can hold; last, a sender given twice."""
    lines = events_file.read_text().splitlines()[:40]
    late = json.loads(lines[7])
    late["timestamp"] = "yesterday"
    latin = lines[20].encode().replace(b'", "', b'\xe9", "', 1)
    text = [("\ufeff" + lines[0]).encode(), *(x.encode() for x in [*lines[1:5], "{not json", *lines[5:7],
                                                                    json.dumps(late), "", *lines[8:20]]),
            latin, *(x.encode() for x in [*lines[21:30], lines[12], *lines[30:]]),
            lines[35][:60].encode(),
            json.dumps({**json.loads(lines[36]), "message_id": "x", "timestamp": "\ud800"}).encode(),
            json.dumps({**json.loads(lines[37]), "message_id": "y"})[:-1].encode() + b', "sender_id": "someone else"}']
    path.write_bytes(b"\n".join(text) + b"\n")
    return path


@pytest.mark.parametrize("packed", [False, True])  # Spark reads .jsonl.gz through gzip itself
def test_check_matches_the_local_reader(spark: Any, tmp_path: Path, events_file: Path, packed: bool) -> None:
    from detection.readers import read_rows
    from detection.spark_rows import check_events_spark, read_events_spark

    path = _bad_rows_file(tmp_path / "bad.jsonl", events_file)
    if packed:
        path = path.rename(tmp_path / "bad.jsonl.gz")
        path.write_bytes(gzip.compress(path.read_bytes()))
    check = check_events_spark(read_events_spark(spark, path), str(path))
    local = read_rows(path)
    assert check.counts() == (len(local.events), 7)
    got = [(r.location, r.field, r.reason) for r in check.iter_rejects()]  # the surrogate's raised in Spark before
    assert got == [(r.location, r.field, r.reason) for r in local.rejects]
    assert [place[:2] for place in got] == [("line 6", "row"), ("line 9", "timestamp"), ("line 23", "row"),
                                            ("line 33", "message_id"), ("line 44", "row"), ("line 45", "timestamp"),
                                            ("line 46", "sender_id")]
    assert got[2][2].startswith("not UTF-8 text (byte ")
    # before, "Invalid control character" here and "Unterminated string" in Spark, which reads lines without their end
    assert got[4][2] == ("not valid JSON (Unterminated string starting at); the line ends inside the value: JSON "
                         "Lines holds one whole object per line (not pretty-printed)")
    write_rejects(tmp_path / "rejects.jsonl", local.rejects)  # before: "'utf-8' codec can't encode character"
    written = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text(encoding="utf-8").splitlines()]
    assert written[5]["record"]["timestamp"] == "\ud800" and "\\ud800" in (tmp_path / "rejects.jsonl").read_text()
    events = sorted(check.events.collect(), key=lambda row: row["_riskline_row"])
    assert [to_event(row.asDict()) for row in events] == local.events
    check.unpersist()


def test_rows_of_a_file_read_in_several_splits_are_placed_as_the_local_reader_places_them(
        spark: Any, tmp_path: Path, events_file: Path) -> None:
    """A file Spark reads in several splits (here of 64 KiB, as large files are read in 128 MiB ones): a bad row
    and a later copy of a message id in its third split and after are named at their lines, as locally."""
    from detection.readers import read_rows
    from detection.spark_rows import check_events_spark, read_events_spark

    lines = events_file.read_text().splitlines()
    lines[1500] = "{not json"
    lines[2400] = lines[2300]  # a later copy of the message id of line 2301
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size > 4 * 64 * 1024
    spark.conf.set("spark.sql.files.maxPartitionBytes", str(64 * 1024))
    try:
        frame = read_events_spark(spark, path)
        assert frame.rdd.getNumPartitions() >= 4
        check = check_events_spark(frame, str(path))
        got = [(r.location, r.field) for r in check.iter_rejects()]
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    assert got == [(r.location, r.field) for r in read_rows(path).rejects] == [("line 1501", "row"),
                                                                             ("line 2401", "message_id")]
    check.unpersist()


def test_csv_columns_are_taken_by_name(spark: Any, model: RiskModel, model_dir: Path, tmp_path: Path,
                                       events_file: Path) -> None:
    """A CSV whose columns come in another order, with extra ones, a byte-order mark and a quoted value
    holding quotes and a line break, is read as the local reader reads it."""
    from detection.readers import read_events
    from detection.spark import score_spark
    from detection.spark_rows import read_events_spark

    rows = [json.loads(line) for line in events_file.read_text().splitlines()[:300]]
    rows[3]["text"] = 'she said "ok,\nfine" then left'
    columns = ["text", "stage", "timestamp", "sender_id", "message_id", "conversation_id", "recipient_id"]
    path = tmp_path / "mixed.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    local = read_events(path)
    assert not local.rejects and local.events[3].text == rows[3]["text"]
    results, _ = score_conversations(model, local.events)
    got = [row.asDict(recursive=True) for row in score_spark(read_events_spark(spark, path), str(model_dir)).collect()]
    assert got == [{k: getattr(r, k) for k in r.__dataclass_fields__} for r in results]


def test_csv_rows_of_another_width_and_names_differing_by_case_read_as_locally(spark: Any, tmp_path: Path) -> None:
    """A row with more or fewer values than the header is set aside with the same reason in both engines
    (before: Spark's "malformed row" for both, and the local reader took a row short of its last values
    as one with those fields missing, so it scored 'c1,m3,u1,1700000002' with no text where Spark set
    it aside). Columns 'text' and 'Text' are two columns (before: Spark renamed both and found no
    'text' in the CSV, and refused the Parquet file as ambiguous)."""
    from detection.readers import read_rows
    from detection.spark_rows import check_events_spark, read_events_spark

    path = tmp_path / "widths.csv"
    path.write_text("conversation_id,message_id,sender_id,timestamp,text,Text\n"
                    "c1,m1,u1,1700000000,hi,HI\nc1,m2,u1,1700000001,hi,HI,extra\nc1,m3,u1,1700000002,hi\n"
                    "c1,m4,u1,1700000003,,\nc1,m5\n")
    table = pa.table({"conversation_id": ["c1"], "message_id": ["m1"], "sender_id": ["u"],
                      "timestamp": [1700000000], "text": ["hi"], "TEXT": ["HI"]})
    pq.write_table(table, parquet := tmp_path / "cased.parquet")
    for source, places in ((path, ["line 3", "line 4", "line 6"]), (parquet, [])):
        local = read_rows(source)
        check = check_events_spark(read_events_spark(spark, source), str(source))
        got = [(r.field, r.reason, r.record) for r in check.iter_rejects()]  # the record as read, no nulls added
        assert got == [(r.field, r.reason, {k: v for k, v in r.record.items() if k in EVENT_FIELDS})  # Spark reads
                       for r in local.rejects]  # only the event's columns
        assert [r.location for r in local.rejects] == places
        events = sorted(check.events.collect(), key=lambda row: row["_riskline_row"])
        assert [to_event(row.asDict()) for row in events] == local.events
        assert [e.text for e in local.events] == (["hi", ""] if source == path else ["hi"])
        check.unpersist()
    assert [r.reason for r in read_rows(path).rejects] == [
        "more values than header columns (7 for 6)", "fewer values than header columns (5 for 6)",
        "fewer values than header columns (2 for 6)"]


def test_score_spark_names_a_bad_row_of_a_dataframe(spark: Any, model_dir: Path) -> None:
    from detection.inputs import InputError
    from detection.spark import score_spark

    frame = spark.createDataFrame([("c1", "m1", "u1", "2026-01-01T00:00:00Z", "hi"),
                                   ("c1", "m2", "u2", "soon", "hello")],
                                  "conversation_id string, message_id string, sender_id string, timestamp string, "
                                  "text string")
    cache = spark._jsparkSession.sharedState().cacheManager()
    assert cache.isEmpty()
    with pytest.raises(InputError, match=r"^DataFrame: row 2: field 'timestamp': not ISO-8601"):
        score_spark(frame, str(model_dir))
    # a column missing is said once, not as every row's missing field
    with pytest.raises(InputError, match=r"^DataFrame: no column 'text' \(its columns: conversation_id, message_id, "
                                         r"sender_id, timestamp\); every row needs conversation_id, message_id, "
                                         r"sender_id, timestamp, text$"):
        score_spark(frame.drop("text"), str(model_dir))
    assert cache.isEmpty()  # the caller has no handle on the checked rows: they are not left cached, nor
    assert score_spark(frame.filter("message_id = 'm1'"), str(model_dir)).count() == 1  # after a clean run
    assert cache.isEmpty()


# Spark alone would read the byte as a replacement character, broken quoting as the other readers do, and
# a second 'text' column as 'text5' (the first as 'text4': no column 'text', it would say)
@pytest.mark.parametrize(("last", "error"), [
    (b"hi,again", "line 1: the column 'text' appears 2 times: which one holds it is not clear; keep one, or rename "
                  "the others"),
    (b"caf\xe9", "line 3: not UTF-8 text (byte 24 of the line)"),
    (b'"yes\nc1,m3,u1,1700000002,bye', "line 3: a quoted value opens here and is never closed, so the rest of the "
                                       "file (2 lines) would be read as its text (a value that starts with a quote "
                                       "must end with one; a quote inside a quoted value is written twice)"),
    (b'"yes" she said', 'line 3: text follows the closing quote of a quoted value (a quote inside a quoted value is '
                        'written twice, as "")')])
def test_a_csv_the_local_engine_refuses_stops_spark_alike(spark: Any, tmp_path: Path, last: bytes, error: str) -> None:
    from detection.inputs import InputError
    from detection.readers import read_events
    from detection.spark_rows import read_events_spark

    path = tmp_path / "odd.csv"
    header = b"conversation_id,message_id,sender_id,timestamp,text" + (b",text" if b"again" in last else b"")
    path.write_bytes(header + b"\nc1,m1,u1,1700000000,hi" + (b",hi" if b"again" in last else b"") + b"\n"
                     b"c1,m2,u1,1700000001," + last + b"\n")
    with pytest.raises(InputError) as local:
        read_events(path)
    with pytest.raises(InputError) as spark_error:
        read_events_spark(spark, path)
    assert str(spark_error.value) == str(local.value) == f"{path}: {error}"


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_utf16_file_is_named_so_as_in_the_local_engine(spark: Any, tmp_path: Path, suffix: str) -> None:
    """Windows PowerShell's ``>`` writes UTF-16: Spark would read it as text of NUL bytes, each line a bad row."""
    from detection.inputs import InputError
    from detection.readers import read_events
    from detection.spark_rows import read_events_spark

    path = tmp_path / f"powershell{suffix}"
    text = ('{"conversation_id": "c1", "message_id": "m1", "sender_id": "u1", "timestamp": 1700000000, "text": "hi"}\n'
            if suffix == ".jsonl" else "conversation_id,message_id,sender_id,timestamp,text\nc1,m1,u1,1700000000,hi\n")
    path.write_text(text, encoding="utf-16")
    with pytest.raises(InputError) as local:
        read_events(path)
    with pytest.raises(InputError) as spark_error:
        read_events_spark(spark, path)
    assert str(spark_error.value) == str(local.value)
    assert str(local.value).startswith(f"{path}: UTF-16 text (it starts with a UTF-16 byte order mark)")


def test_an_empty_csv_and_a_discord_one_are_named_so_as_in_the_local_engine(spark: Any, tmp_path: Path) -> None:
    from detection.inputs import InputError
    from detection.readers import read_events
    from detection.spark_rows import read_events_spark

    path = tmp_path / "empty.csv"
    path.write_text("")
    discord = tmp_path / "Guild - general [99].csv"  # DiscordChatExporter's CSV: said to be, by both
    discord.write_text('\ufeffAuthorID,Author,Date,Content,Attachments,Reactions\n'
                       '"1","sam","1/2/2024 1:45 PM","hi","",""\n')
    for reader in (read_events, lambda p: read_events_spark(spark, p)):
        with pytest.raises(InputError, match=rf"^{path}: empty file: no message rows$"):
            reader(path)
        with pytest.raises(InputError, match=r"line 1: DiscordChatExporter's CSV \(columns AuthorID, Author, Date, "
                                             r"Content...\), which names neither its messages nor its channel"):
            reader(discord)


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
def test_a_folder_of_part_files_reads_as_in_the_local_engine(spark: Any, model: RiskModel, model_dir: Path,
                                                             tmp_path: Path, events_file: Path, suffix: str) -> None:
    """Parts in subfolders, the last the largest (Spark reads small files together, largest first), a
    timestamp tie across parts, a copy of a message id and a bad row in a later part: the same events in
    the same order, and rejects naming their own file and place, as the local engine reads the folder."""
    from detection.readers import read_events
    from detection.spark import score_checked_spark
    from detection.spark_rows import check_events_spark, read_events_spark

    rows = [json.loads(line) for line in events_file.read_text().splitlines()]
    rows.reverse()  # conversations run across the parts
    parts = [rows[:300], rows[300:700], rows[700:]]
    tie = next(r for r in parts[1] if r["conversation_id"] == parts[0][-1]["conversation_id"])
    parts[1][parts[1].index(tie)] = {**tie, "timestamp": parts[0][-1]["timestamp"]}  # first part's first
    copies = [{**rows[10], "text": "sent again"}, {**rows[900], "timestamp": "soon"}]  # a copy; a bad row
    parts[2] = [*parts[2][:50], *copies, *parts[2][50:]]
    folder = tmp_path / "my events"  # Spark names each file by URI: "my%20events"
    names = [f"day=1/part-0{suffix}", f"day=1/part-1{suffix}", f"day=2/part-0{suffix}"]
    for name, part in zip(names, parts, strict=True):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".parquet":
            pq.write_table(pa.Table.from_pylist(part), folder / name)
        else:
            write_jsonl(folder / name, part)
    (folder / "_SUCCESS").write_text("")
    local = read_events(folder)
    check = check_events_spark(read_events_spark(spark, folder), str(folder))
    got = [(r.path, r.location, r.field) for r in check.iter_rejects()]
    unit = "row" if suffix == ".parquet" else "line"
    assert got == [(r.path, r.location, r.field) for r in local.rejects] == [
        (str(folder / names[2]), f"{unit} 51", "message_id"), (str(folder / names[2]), f"{unit} 52", "timestamp")]
    results, _ = score_conversations(model, local.events)
    scored = score_checked_spark(check.events, str(model_dir)).collect()
    assert [row.asDict(recursive=True) for row in scored] == [{k: getattr(r, k) for k in r.__dataclass_fields__}
                                                              for r in results]
    check.unpersist()


def test_cli_engine_spark_without_java_says_so_in_one_line(events_file: Path, tmp_path: Path) -> None:
    done = riskline("score", events_file, "-o", tmp_path / "o.parquet", "--engine", "spark",
                    env={"JAVA_HOME": str(tmp_path / "no-java")})
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("riskline: error: --engine spark: Spark did not start (JAVA_GATEWAY_EXITED); it needs "
                           "Java 17, as `java` on PATH or JAVA_HOME: ")
    assert f"{tmp_path / 'no-java'}/bin/java: No such file or directory" in line  # the launcher's own reason
    assert not (tmp_path / "o.parquet").exists()


def test_cli_engine_spark_with_a_master_it_cannot_use_says_why_in_one_line(events_file: Path, tmp_path: Path) -> None:
    """Java runs and Spark refuses the master: before, "it needs Java 17" and the launcher's first log line. An
    empty RISKLINE_SPARK_MASTER (an unset variable) is refused before Spark starts."""
    for master, said in (("bogus", "Spark did not start (JAVA_GATEWAY_EXITED): Master must either be yarn or start "
                                   "with spark, k8s, or local"),
                         ("", "RISKLINE_SPARK_MASTER is empty (an unset variable?); unset it to run on every local "
                              "core (local[*]), or name a master")):
        done = riskline("score", events_file, "-o", tmp_path / "o.parquet", "--engine", "spark",
                        env={"RISKLINE_SPARK_MASTER": master})
        assert done.returncode == 2 and done.stderr.splitlines() == [f"riskline: error: --engine spark: {said}"]
    assert list(tmp_path.iterdir()) == []


def test_cli_engine_spark_out_of_room_says_so_without_a_traceback(model_dir: Path, events_file: Path,
                                                                  tmp_path: Path) -> None:
    """A full disk (a real file-size limit on the process and the JVM it starts): at 64 KiB the output is past
    it, at 8 KiB already Spark's shuffle files. The last line says which, after Spark's own log lines; no
    Python traceback, nothing left where the output would be."""
    out = tmp_path / "o.parquet"
    for limit, said in ((64, f"{out}: could not be written (File too large); nothing was written there"),
                        (8, "--engine spark: Spark could not write its working files (File too large); they go to "
                            "spark.local.dir, by default the system's temporary folder")):
        done = riskline("score", events_file, "-o", out, "--engine", "spark", "--per-message", "--model", model_dir,
                        max_file_bytes=limit * 1024)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
        assert done.stderr.splitlines()[-1] == f"riskline: error: {said}"
        assert list(tmp_path.iterdir()) == []


def test_a_java_write_failure_is_read_as_a_full_disk() -> None:
    """Spark's Java IOException reaches Python as text only; the C library's words in it are read back."""
    from detection.writers import write_failure_said

    said = ("An error occurred while calling o233.parquet.\n: org.apache.spark.SparkException: [TASK_WRITE_FAILED] "
            "Task failed while writing rows to file:/tmp/x/.o.parquet.pel5pfik/out.\nCaused by: "
            "org.apache.hadoop.fs.FSError: java.io.IOException: No space left on device")
    assert write_failure_said(said) == "No space left on device"
    assert write_failure_said("java.io.IOException: Disk quota exceeded") == "Disk quota exceeded"
    assert write_failure_said("[PATH_NOT_FOUND] Path does not exist: file:/tmp/x.") is None


@pytest.mark.parametrize(("sent", "status"), [(signal.SIGTERM, -signal.SIGTERM), (signal.SIGINT, 130)])
def test_cli_engine_spark_stopped_by_a_signal_ends_quietly_leaving_nothing(model_dir: Path, events_file: Path,
                                                                           tmp_path: Path, sent: int,
                                                                           status: int) -> None:
    """SIGTERM or Ctrl-C while Spark writes the output (its job has begun in the staging folder): the command
    ends as stopped (by the signal; 130, as on Ctrl-C elsewhere), without a traceback from Spark or py4j, with
    no staging folder left and no JVM. The job goes on in the JVM after Python's call into it is cut short, so
    the command ends the JVM before removing the folder: a JVM left to end after the command could write (and
    commit) there after."""
    out = tmp_path / "out" / "o.parquet"
    out.parent.mkdir()
    process = subprocess.Popen([RISKLINE, "score", str(events_file), "-o", str(out), "--engine", "spark",
                                "--per-message", "--model", str(model_dir)], stderr=subprocess.PIPE, text=True)
    try:
        while not list(out.parent.glob(".o.parquet.*/out")):
            assert process.poll() is None, process.communicate()
            time.sleep(0.002)
        jvm = children(process.pid)
        process.send_signal(sent)
        _, err = process.communicate(timeout=60)
        ended_before = not still_running(jvm, within=0)
    finally:
        process.kill()
    assert (process.returncode, err) == (status, "")
    assert jvm and ended_before
    time.sleep(0.5)  # anything still writing would have written by now
    assert list(out.parent.iterdir()) == []


IN_PROCESS = """
import json, os, signal, sys, time, warnings
from typer.testing import CliRunner
from detection.cli import app

def ctrl_c():  # what a Ctrl-C does to the caller now
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.5)
        return "nothing"
    except BaseException as exc:
        return type(exc).__name__

def left(run):  # the command's status, and the caller's SIGINT handler, warning filters and Ctrl-C after it
    return [run.exit_code, signal.getsignal(signal.SIGINT) is before, warnings.filters == filters, ctrl_c()]

before, filters, seen = signal.getsignal(signal.SIGINT), list(warnings.filters), {}
events, out, model, no_java = sys.argv[1:]
java = os.environ.get("JAVA_HOME")
os.environ["JAVA_HOME"] = no_java  # Spark does not start: the command fails, its work undone
failed = CliRunner().invoke(app, ["score", events, "-o", out, "--engine", "spark", "--model", model])
os.environ.pop("JAVA_HOME") if java is None else os.environ.update(JAVA_HOME=java)
seen["no java"] = left(failed)
scored = CliRunner().invoke(app, ["score", events, "-o", out, "--engine", "spark", "--model", model])
seen["scored"] = left(scored)
print(json.dumps(seen))
"""


def test_cli_engine_spark_run_in_process_leaves_the_callers_ctrl_c_as_it_was(model_dir: Path, events_file: Path,
                                                                            tmp_path: Path) -> None:
    """The command in-process (a notebook, a test runner): it held SIGINT blocked while Spark started, put its
    own handler in PySpark's place and a filter of Spark's pandas warning among the caller's, and left all three
    so. Where Spark did not start, a later Ctrl-C did nothing (still blocked); after a run, it raised
    ``_Interrupted`` (no KeyboardInterrupt: nothing stopped the caller's loop)."""
    done = subprocess.run([sys.executable, "-c", IN_PROCESS, str(events_file), str(tmp_path / "o.parquet"),
                           str(model_dir), str(tmp_path / "no-java")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"no java": [2, True, True, "KeyboardInterrupt"],
                                                                "scored": [0, True, True, "KeyboardInterrupt"]}
    assert pq.read_table(tmp_path / "o.parquet").num_rows > 0
