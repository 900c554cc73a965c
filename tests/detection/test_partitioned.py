"""The multi-process, partitioned local engine gives exactly the in-memory engine's output."""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import itertools
import json
import multiprocessing
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import detection.partitioned
import detection.records
import detection.spill
import detection.splitting
from detection.batch import BatchResult, score_file
from detection.events import MessageEvent
from detection.inputs import InputError
from detection.model import RiskModel
from detection.partitioned import score_file_partitioned, split_input
from detection.readers import Reject, read_events
from detection.splitting import clean_block, line_ranges
from detection.workers import worker_pool, working_folder
from tests.cli_helpers import RISKLINE, HeldElsewhere, children, riskline, running, still_running
from tests.conftest import write_jsonl


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, synth_rows: list[dict[str, object]]) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("partitioned")
    rows = [dict(r) for r in synth_rows[:4000]]
    rows.reverse()  # conversations arrive out of time order
    rows.append(rows.pop(3))  # and interleave: a conversation's first rows before all others, one row after them
    rows.insert(0, rows.pop(2000))  # and a row from the middle of the file first
    first = rows[0]  # and one conversation in Spanish, which reads as another language
    rows += [{**first, "conversation_id": "es", "message_id": f"es-{i}", "text": text} for i, text in enumerate(
        ["hola que tal estas", "muy bien y tu que haces ahora", "nada, estoy en casa con mis padres"])]
    paths = {".jsonl": write_jsonl(folder / "e.jsonl", rows)}
    with (folder / "e.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    paths[".csv"] = folder / "e.csv"
    pq.write_table(pa.Table.from_pylist(rows), folder / "e.parquet")
    paths[".parquet"] = folder / "e.parquet"
    return paths


def _content(path: Path) -> list[dict[str, object]]:
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    if path.suffix == ".csv":
        with path.open() as handle:
            return list(csv.DictReader(handle))
    return [json.loads(line) for line in path.read_text().splitlines()]


def _written(path: Path, rows: list[dict[str, object]]) -> Path:
    """``rows`` written to ``path`` in the format its suffix names, the first row's fields as CSV's header."""
    if path.suffix == ".csv":
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    elif path.suffix == ".parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
    else:
        write_jsonl(path, rows)
    return path


@pytest.mark.parametrize("source", [".jsonl", ".csv", ".parquet"])
@pytest.mark.parametrize("per_message", [False, True])
def test_same_output_as_in_memory(model: RiskModel, inputs: dict[str, Path], tmp_path: Path, source: str,
                                  per_message: bool) -> None:
    out = ".csv" if source == ".jsonl" else ".parquet" if source == ".csv" else ".jsonl"
    expected, got = tmp_path / f"a{out}", tmp_path / f"b{out}"
    a = score_file(model, inputs[source], expected, per_message=per_message)
    b = score_file_partitioned(model, inputs[source], got, per_message=per_message, workers=2, partitions=5)
    assert _content(got) == _content(expected)
    assert (b.n_messages, b.n_conversations, b.n_alerts, b.n_other_language) == \
        (a.n_messages, a.n_conversations, a.n_alerts, a.n_other_language)
    assert a.n_other_language >= 1


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_duplicates_are_rejected_as_in_memory(model: RiskModel, synth_rows: list[dict[str, object]],
                                              tmp_path: Path, suffix: str) -> None:
    rows = [dict(r) for r in synth_rows[:600]]
    rows += [{**rows[5], "text": "sent again"}, rows[300]]  # the first row of an id wins
    source = _written(tmp_path / f"d{suffix}", rows)
    score_file(model, source, tmp_path / "a.jsonl", errors_path=tmp_path / "a.rejects.jsonl")
    score_file_partitioned(model, source, tmp_path / "b.jsonl", errors_path=tmp_path / "b.rejects.jsonl",
                           workers=2, partitions=3)
    assert (tmp_path / "a.jsonl").read_text() == (tmp_path / "b.jsonl").read_text()
    rejects = [json.loads(line) for line in (tmp_path / "b.rejects.jsonl").read_text().splitlines()]
    assert rejects == [json.loads(line) for line in (tmp_path / "a.rejects.jsonl").read_text().splitlines()]
    assert [r["field"] for r in rejects] == ["message_id", "message_id"]
    assert str(rejects[0]["record"]["text"]) == "sent again"  # the rejected row as given, not the kept one


def test_bad_rows_same_as_in_memory(model: RiskModel, inputs: dict[str, Path], tmp_path: Path) -> None:
    lines = inputs[".jsonl"].read_text().splitlines()
    broken = json.loads(lines[2500])
    broken["timestamp"] = "whenever"
    latin = json.dumps({**json.loads(lines[7]), "message_id": "latin"}).encode().replace(b'", "', b'\xe9", "', 1)
    bad = tmp_path / "bad.jsonl"  # a timestamp, a line that is not UTF-8, a blank line, a repeated row, an array
    bad.write_bytes(b"\n".join([*(x.encode() for x in [*lines[:2500], json.dumps(broken), *lines[2501:]]), latin,
                                b"", lines[10].encode(), b"[]"]) + b"\n")
    for engine in ("memory", "partitioned"):
        run = score_file if engine == "memory" else \
            lambda *a, **k: score_file_partitioned(*a, **k, workers=2, partitions=3)  # type: ignore[misc]
        with pytest.raises(InputError) as info:
            run(model, bad, tmp_path / f"{engine}.jsonl")
        assert "line 2501: field 'timestamp'" in str(info.value) and "and 3 more bad rows" in str(info.value)
        assert not (tmp_path / f"{engine}.jsonl").exists()
        run(model, bad, tmp_path / f"{engine}.jsonl", errors_path=tmp_path / f"{engine}.rejects.jsonl")
    assert (tmp_path / "memory.jsonl").read_text() == (tmp_path / "partitioned.jsonl").read_text()
    rejects = (tmp_path / "memory.rejects.jsonl").read_text()
    assert rejects == (tmp_path / "partitioned.rejects.jsonl").read_text()
    assert [json.loads(r)["location"] for r in rejects.splitlines()] == [
        "line 2501", f"line {len(lines) + 1}", f"line {len(lines) + 3}", f"line {len(lines) + 4}"]
    assert json.loads(rejects.splitlines()[1])["reason"].startswith("not UTF-8 text (byte ")


def test_clean_blocks_go_through_arrow_and_keep_their_line_numbers(inputs: dict[str, Path]) -> None:
    lines = inputs[".jsonl"].read_bytes().splitlines()[:50]
    block = b"\n".join(lines) + b"\n"
    table = clean_block(block, 101)
    assert table is not None and table.num_rows == 50
    assert table["order"].to_pylist() == list(range(101, 151)) and table["location"][0].as_py() == "line 101"
    assert [json.loads(r) for r in table["raw"].to_pylist()] == [json.loads(x) for x in lines]
    assert table["timestamp"].type == pa.float64() and table["text"].null_count == 0
    assert clean_block(block.replace(b"\n", b"\r\n"), 1) is not None
    # anything that would put a row on the wrong line, or that Arrow would not check, goes line by line
    for unclear in (block.replace(b"\n", b"\n\n", 1), block.replace(b"\n", b"\r", 1),
                    block.replace(b"\n", b"\r", 1).replace(b"\n", b"\n\n", 1),  # as many rows as lines, shifted
                    block.replace(b'"text": "', b'"text": "\xe9', 1), block + b"{not json\n",
                    block.replace(b"}\n", b"} ", 1), block.replace(b"}\n", b"}", 1).replace(b"\n", b"\n\n", 1)):
        assert clean_block(unclear, 1) is None


@pytest.mark.slow
@pytest.mark.parametrize("block", [512, 1 << 20])  # many blocks to a range, a line crossing each cut; or one
def test_blocks_clean_and_not_give_the_in_memory_output(model: RiskModel, inputs: dict[str, Path], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    monkeypatch.setattr(detection.splitting, "BLOCK_BYTES", block)  # the forked workers inherit it
    lines = inputs[".jsonl"].read_bytes().splitlines()
    dirty = [*lines[:900], b"", *lines[900:1800], b"{not json", *lines[1800:], lines[42]]  # a blank line, a bad row,
    source = tmp_path / "e.jsonl"                                                          # a repeated message
    source.write_bytes(b"\r\n".join(dirty) + b"\r\n")
    a = score_file(model, source, tmp_path / "a.jsonl", errors_path=tmp_path / "a.rejects.jsonl")
    b = score_file_partitioned(model, source, tmp_path / "b.jsonl", errors_path=tmp_path / "b.rejects.jsonl",
                               workers=2, partitions=3)
    assert (tmp_path / "a.jsonl").read_text() == (tmp_path / "b.jsonl").read_text()
    assert (tmp_path / "a.rejects.jsonl").read_text() == (tmp_path / "b.rejects.jsonl").read_text()
    assert (b.n_messages, b.n_rejected) == (a.n_messages, a.n_rejected) == (len(lines), 2)


@pytest.mark.parametrize("block", [333, 1 << 20])  # a block may end between a \r and its \n
def test_line_ranges_cover_the_file_once(inputs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         block: int) -> None:
    monkeypatch.setattr(detection.splitting, "BLOCK_BYTES", block)
    crlf = tmp_path / "crlf.jsonl"
    crlf.write_bytes(inputs[".jsonl"].read_bytes().replace(b"\n", b"\r\n"))
    for path in (inputs[".jsonl"], crlf):
        ranges, lone_returns = line_ranges(path, 7)
        assert not lone_returns
        assert ranges[0][:1] == (0,) and ranges[-1][1] == path.stat().st_size
        assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
        data = path.read_bytes()
        for start, _, line in ranges:
            assert start == 0 or data[start - 1:start] == b"\n"
            assert data[:start].count(b"\n") + 1 == line
    for lone in (b"\r" + crlf.read_bytes(), crlf.read_bytes() + b"\r", crlf.read_bytes().replace(b"\r\n", b"\r", 1)):
        crlf.write_bytes(lone)
        assert line_ranges(crlf, 7).lone_returns


@pytest.mark.slow
def test_cli_uses_the_parallel_engine_for_large_files(model_dir: Path, inputs: dict[str, Path],
                                                      tmp_path: Path) -> None:
    env = {"RISKLINE_PARALLEL_MIN_BYTES": "0"}
    one = riskline("score", inputs[".jsonl"], "-o", tmp_path / "one.jsonl", "--model", model_dir)
    many = riskline("score", inputs[".jsonl"], "-o", tmp_path / "many.jsonl", "--model", model_dir, "--workers", "2",
                    env=env)
    assert one.returncode == 0 and many.returncode == 0, many.stderr
    assert (tmp_path / "one.jsonl").read_text() == (tmp_path / "many.jsonl").read_text()


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_byte_order_mark_is_not_part_of_the_first_row(model: RiskModel, inputs: dict[str, Path], tmp_path: Path,
                                                        suffix: str) -> None:
    # Excel's "CSV UTF-8" and other Windows tools start the file with one; the CSV's first column
    # would otherwise be named "\ufeffconversation_id" and every row would lack a conversation id
    marked = tmp_path / f"marked{suffix}"
    marked.write_bytes(b"\xef\xbb\xbf" + inputs[suffix].read_bytes())
    plain = score_file(model, inputs[suffix], tmp_path / "plain.jsonl")
    for engine in (score_file, score_file_partitioned):
        out = tmp_path / f"{engine.__name__}.jsonl"
        got = engine(model, marked, out)
        assert (got.n_messages, got.n_rejected) == (plain.n_messages, 0), engine.__name__
        assert _content(out) == _content(tmp_path / "plain.jsonl")
    bad = tmp_path / f"bad{suffix}"  # a bad row sends the in-memory engine to the row-by-row reader
    tail = b"\n{not json\n" if suffix == ".jsonl" else b"only,one,row\n"
    bad.write_bytes(marked.read_bytes() + tail)
    with pytest.raises(InputError, match=rf"{bad}: line {plain.n_messages + 2}"):
        score_file(model, bad, tmp_path / "x.jsonl")


def test_a_quoted_value_left_open_stops_both_engines_alike(model: RiskModel, inputs: dict[str, Path],
                                                          tmp_path: Path) -> None:
    # Arrow reads a stray quote's value to the end of the file: every row after it would be its text
    data = inputs[".csv"].read_bytes()
    header = next(csv.reader(io.StringIO(data.decode())))
    rows = [",".join([*({"conversation_id": "cx", "message_id": f"x{i}", "sender_id": "u", "timestamp": "1700000000",
                         "text": "hi"}.get(name, "") for name in header[:-1]),
                      last]) for i, last in enumerate(['"yes', "hello", "bye"])]  # the quote opens the last column
    stray = tmp_path / "stray.csv"
    stray.write_bytes(data + "\n".join(rows).encode() + b"\n")
    errors = []
    for engine in (score_file, score_file_partitioned):
        out = tmp_path / f"{engine.__name__}.jsonl"
        with pytest.raises(InputError) as error:
            engine(model, stray, out)
        assert not out.exists(), engine.__name__
        errors.append(str(error.value))
    assert errors[0] == errors[1]
    opens = data.count(b"\n") + 1
    assert errors[0].startswith(f"{stray}: line {opens}: a quoted value opens here and is never closed, so the rest "
                                "of the file (3 lines) would be read as its text")


def test_a_text_too_long_is_set_aside_by_both_engines_alike(model: RiskModel, synth_rows: list[dict[str, object]],
                                                            tmp_path: Path) -> None:
    rows = [dict(r) for r in synth_rows[:300]]
    rows[150]["text"] = "pay " * 250_001  # 1,000,004 characters
    source = write_jsonl(tmp_path / "long.jsonl", rows)
    said = []
    for engine in (score_file, score_file_partitioned):
        rejects = tmp_path / f"{engine.__name__}.rejects.jsonl"
        assert engine(model, source, tmp_path / f"{engine.__name__}.jsonl", errors_path=rejects).n_messages == 299
        found = [json.loads(line) for line in rejects.read_text().splitlines()]
        said.append([(r["location"], r["field"], r["reason"]) for r in found])
    assert said[0] == said[1] == [("line 151", "text",
                                   "1000004 characters long: a message's text may be at most 1000000")]
    assert (tmp_path / "score_file.jsonl").read_text() == (tmp_path / "score_file_partitioned.jsonl").read_text()


def test_a_column_named_twice_or_none_stops_both_engines_alike(model: RiskModel, tmp_path: Path) -> None:
    twice = tmp_path / "twice.csv"  # before: the partitioned engine read one of the two, the other a traceback
    twice.write_text("conversation_id,message_id,sender_id,timestamp,text,text\nc1,m1,u1,1700000000,hi,again\n")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    for path, error in ((twice, "line 1: the column 'text' appears 2 times"), (empty, "empty file: no message rows")):
        for engine in (score_file, score_file_partitioned):
            with pytest.raises(InputError, match=rf"^{path}: {error}"):
                engine(model, path, tmp_path / "out.jsonl")


def test_show_gives_the_in_memory_table(model: RiskModel, synth_rows: list[dict[str, object]],
                                        tmp_path: Path) -> None:
    """``--show`` on a large file: the riskiest conversations and the messages the table quotes come back
    from the workers, not the whole file, and the table is the in-memory engine's, ties included."""
    from rich.console import Console

    from detection.display import print_riskiest

    rows = [dict(r) for r in synth_rows[:1500]]
    base = score_file(model, write_jsonl(tmp_path / "base.jsonl", rows), tmp_path / "base.out.jsonl")
    alerted = max(base.results, key=lambda r: r.risk_score).conversation_id
    # six copies score alike; they tie, and are ordered by first appearance (copy 5 first) in both engines
    copies = [{**r, "conversation_id": f"copy{k}-{alerted}"} for k in range(5, -1, -1)
              for r in rows if r["conversation_id"] == alerted]
    path = write_jsonl(tmp_path / "e.jsonl", rows + copies)
    a = score_file(model, path, tmp_path / "a.jsonl")
    b = score_file_partitioned(model, path, tmp_path / "b.jsonl", workers=2, partitions=5, show=12)
    assert len(b.results) == 12 and 12 <= len(b.events) <= 36 and b.n_conversations == a.n_conversations
    tied = [r.conversation_id for r in b.results if r.conversation_id.startswith("copy")]
    assert tied == [f"copy{k}-{alerted}" for k in range(5, -1, -1)]
    tables = []
    for result in (a, b):
        console = Console(record=True, width=160)
        print_riskiest(result.results, result.events, 12, console, total=result.n_conversations)
        tables.append(console.export_text())
    assert tables[1] == tables[0] and f"Riskiest 12 of {a.n_conversations} conversations" in tables[1]


def test_cli_show_on_a_large_file(model_dir: Path, inputs: dict[str, Path], tmp_path: Path) -> None:
    done = riskline("score", inputs[".jsonl"], "-o", tmp_path / "o.jsonl", "--model", model_dir, "--show", "3",
                    env={"RISKLINE_PARALLEL_MIN_BYTES": "0", "COLUMNS": "160"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Riskiest 3 of" in done.stdout and "top evidence" in done.stdout
    total = int(done.stdout.split("Riskiest 3 of ")[1].split()[0])
    assert len((tmp_path / "o.jsonl").read_text().splitlines()) == total


@pytest.mark.slow
@pytest.mark.parametrize("block", [4096, 1 << 22])  # many blocks, or one
def test_lone_carriage_returns_end_lines_as_in_memory(model: RiskModel, inputs: dict[str, Path], tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    # classic Mac line ends, alone or mixed with \n: every engine reads lines as Python reads text
    monkeypatch.setattr(detection.splitting, "BLOCK_BYTES", block)  # such a file is split in this process
    lines = inputs[".jsonl"].read_bytes().splitlines()
    mixed = b"\r".join(lines[:1500]) + b"\r" + b"\n".join([*lines[1500:3000], b"{not json"]) + b"\r" \
        + b"\r\n".join(lines[3000:]) + b"\r"
    for name, data in (("mac", b"\r".join(lines) + b"\r"), ("mixed", mixed)):
        source = tmp_path / f"{name}.jsonl"
        source.write_bytes(data)
        a = score_file(model, source, tmp_path / f"{name}.a.jsonl", errors_path=tmp_path / f"{name}.a.rejects.jsonl")
        b = score_file_partitioned(model, source, tmp_path / f"{name}.b.jsonl", workers=2, partitions=3,
                                   errors_path=tmp_path / f"{name}.b.rejects.jsonl")
        assert (b.n_messages, b.n_rejected) == (a.n_messages, a.n_rejected) == (len(lines), int(name == "mixed"))
        assert (tmp_path / f"{name}.a.jsonl").read_text() == (tmp_path / f"{name}.b.jsonl").read_text()
        assert (tmp_path / f"{name}.a.rejects.jsonl").read_text() == (tmp_path / f"{name}.b.rejects.jsonl").read_text()


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_gzip_inputs_give_the_plain_files_output(model: RiskModel, inputs: dict[str, Path], tmp_path: Path,
                                                 suffix: str) -> None:
    packed = tmp_path / f"e{suffix}.gz"  # read by one process: gzip cannot be read from the middle
    packed.write_bytes(gzip.compress(inputs[suffix].read_bytes()))
    score_file(model, inputs[suffix], tmp_path / "plain.jsonl")
    got = score_file_partitioned(model, packed, tmp_path / "packed.jsonl", workers=2, partitions=3)
    assert got.n_messages == 4003
    assert (tmp_path / "packed.jsonl").read_text() == (tmp_path / "plain.jsonl").read_text()
    for name, data, reason in (("cut", packed.read_bytes()[:-500], "a cut or damaged gzip file"),
                               ("plain", inputs[suffix].read_bytes(), "not a gzip file")):
        broken = tmp_path / f"{name}{suffix}.gz"
        broken.write_bytes(data)
        with pytest.raises(InputError, match=rf"^{broken}: {reason} \("):
            score_file_partitioned(model, broken, tmp_path / "x.jsonl", workers=2, partitions=3)


def _arrow_taken(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """For each batch the partitioned engine offers Arrow (in this process: CSV and Parquet are split
    here), whether its reading was taken."""
    taken, clean = [], detection.splitting.clean_events

    def spy(table: pa.Table, suffix: str) -> pa.Table | None:
        taken.append((events := clean(table, suffix)) is not None)
        return events

    monkeypatch.setattr(detection.splitting, "clean_events", spy)
    return taken


def _both_engines(model: RiskModel, source: Path, tmp_path: Path) -> tuple[BatchResult, BatchResult, str]:
    """Score ``source`` in memory and partitioned, with bad rows set aside; both must give the same output
    and rejects, returned as text."""
    a = score_file(model, source, tmp_path / "a.jsonl", errors_path=tmp_path / "a.rejects.jsonl")
    b = score_file_partitioned(model, source, tmp_path / "b.jsonl", errors_path=tmp_path / "b.rejects.jsonl",
                               workers=2, partitions=3)
    assert (tmp_path / "a.jsonl").read_text() == (tmp_path / "b.jsonl").read_text()
    rejects = (tmp_path / "b.rejects.jsonl").read_text()
    assert rejects == (tmp_path / "a.rejects.jsonl").read_text()
    return a, b, rejects


def test_parquet_batches_give_the_in_memory_output(model: RiskModel, synth_rows: list[dict[str, object]],
                                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(detection.records, "PARQUET_BATCH_ROWS", 100)
    taken = _arrow_taken(monkeypatch)
    rows = [dict(r) for r in synth_rows[:1500]]
    rows += [{**rows[400], "text": "sent again"}, {**rows[1200], "text": "and again"}]  # copies in later batches
    rows[700] = {**rows[700], "timestamp": "whenever"}  # its batch goes row by row
    source = tmp_path / "e.parquet"
    pq.write_table(pa.Table.from_pylist(rows), source, row_group_size=97)  # numbered across row groups
    a, b, rejects = _both_engines(model, source, tmp_path)
    assert [json.loads(r)["location"] for r in rejects.splitlines()] == ["row 701", "row 1501", "row 1502"]
    assert [json.loads(r)["record"]["text"] for r in rejects.splitlines()][1:] == ["sent again", "and again"]
    assert (b.n_messages, b.n_rejected) == (a.n_messages, a.n_rejected) == (1499, 3)
    assert len(taken) == 16 and taken.count(False) == 1  # the batch with the bad timestamp


@pytest.mark.parametrize("bad_row", [False, True])
def test_csv_batches_give_the_in_memory_output(model: RiskModel, synth_rows: list[dict[str, object]],
                                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad_row: bool) -> None:
    monkeypatch.setattr(detection.splitting, "BLOCK_BYTES", 20_000)  # many batches (CSV is split in this process)
    taken = _arrow_taken(monkeypatch)
    rows = [dict(r) for r in synth_rows[:1500]]
    for i in range(0, 1500, 7):
        rows[i]["text"] = f"{rows[i]['text']}\nsecond line, \"quoted\""  # rows and lines part ways
    rows += [{**rows[400], "text": "sent again"}, {**rows[1200], "text": "and again"}]  # copies read by Arrow
    if bad_row:
        rows[900] = {**rows[900], "timestamp": "whenever"}  # Arrow's reading stops at its batch
    source = tmp_path / "e.csv"
    with source.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    a, b, rejects = _both_engines(model, source, tmp_path)
    places = [json.loads(r)["location"] for r in rejects.splitlines()]
    assert len(places) == 2 + bad_row and places[-2:] == ["line 1717", "line 1718"]  # header + 1500 rows + 215
    assert [json.loads(r)["record"]["text"] for r in rejects.splitlines()][-2:] == ["sent again", "and again"]
    assert (b.n_messages, b.n_rejected) == (a.n_messages, a.n_rejected) == (1500 - bad_row, 2 + bad_row)
    assert len(taken) > 5 and taken[-1] == (not bad_row) and all(taken[:-1])


def _write(path: Path, rows: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    name = path.name.removesuffix(".gz")
    if name.endswith(".parquet"):
        pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=97)
        return
    text = io.StringIO()
    if name.endswith(".csv"):
        writer = csv.DictWriter(text, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    else:
        text.writelines(json.dumps(r) + "\n" for r in rows)
    path.write_bytes(gzip.compress(text.getvalue().encode()) if path.suffix == ".gz" else text.getvalue().encode())


@pytest.mark.parametrize("per_message", [False, True])
def test_a_folder_of_part_files_is_one_input(model: RiskModel, synth_rows: list[dict[str, object]], tmp_path: Path,
                                             per_message: bool) -> None:
    """A dataset in parts of every format, conversations running across them: both engines score it as the
    one file of its rows in path order, and name each bad row's own file and place, copies of a message
    in a later file included (read through Arrow, or row by row)."""
    rows = [dict(r) for r in synth_rows[:3000]]
    rows.reverse()  # conversations interleave, so most run across several parts
    parts = ["day=1/part-0.parquet", "day=1/part-1.csv", "day=2/part-0.jsonl", "day=2/part-1.jsonl.gz",
             "day=3/part-0.csv.gz", "day=3/part-1.parquet"]
    pieces = [rows[i * 500:(i + 1) * 500] for i in range(6)]
    copies = {3: [{**rows[10], "text": "sent again"}], 5: [rows[1200], {**rows[2400], "text": "and again"}]}
    for i, extra in copies.items():
        pieces[i] = pieces[i][:100] + extra + pieces[i][100:]  # in a later part, read through Arrow
    pieces[2][7] = {**pieces[2][7], "timestamp": "whenever"}  # its part goes row by row
    pieces[4][1] = {**pieces[4][1], "sender_id": ""}  # a later part's bad row, on an earlier line
    folder = tmp_path / "events"
    for name, piece in zip(parts, pieces, strict=True):
        _write(folder / name, piece)
    (folder / "_SUCCESS").write_text("")
    (folder / "day=1" / ".part-0.parquet.crc").write_bytes(b"\x00\x01")
    whole = tmp_path / "whole.jsonl"
    write_jsonl(whole, [r for piece in pieces for r in piece])
    suffix = ".parquet" if per_message else ".jsonl"
    expected = score_file(model, whole, tmp_path / f"whole{suffix}", per_message=per_message,
                          errors_path=tmp_path / "whole.rejects.jsonl")
    a = score_file(model, folder, tmp_path / f"a{suffix}", per_message=per_message,
                   errors_path=tmp_path / "a.rejects.jsonl")
    b = score_file_partitioned(model, folder, tmp_path / f"b{suffix}", per_message=per_message,
                               errors_path=tmp_path / "b.rejects.jsonl", workers=2, partitions=3)
    assert _content(tmp_path / f"a{suffix}") == _content(tmp_path / f"whole{suffix}")
    assert _content(tmp_path / f"b{suffix}") == _content(tmp_path / f"whole{suffix}")
    assert (a.n_messages, a.n_rejected) == (b.n_messages, b.n_rejected) == (expected.n_messages, 5) == (2998, 5)
    rejects = [json.loads(line) for line in (tmp_path / "b.rejects.jsonl").read_text().splitlines()]
    assert rejects == [json.loads(line) for line in (tmp_path / "a.rejects.jsonl").read_text().splitlines()]
    assert [(r["file"], r["location"], r["field"]) for r in rejects] == [
        (str(folder / "day=2/part-0.jsonl"), "line 8", "timestamp"),
        (str(folder / "day=2/part-1.jsonl.gz"), "line 101", "message_id"),
        (str(folder / "day=3/part-0.csv.gz"), "line 3", "sender_id"),
        (str(folder / "day=3/part-1.parquet"), "row 101", "message_id"),
        (str(folder / "day=3/part-1.parquet"), "row 102", "message_id")]
    assert [r["record"]["text"] for r in rejects[1:]] == ["sent again", pieces[4][1]["text"], rows[1200]["text"],
                                                          "and again"]
    with pytest.raises(InputError, match=rf"^{folder / 'day=2/part-0.jsonl'}: line 8: field 'timestamp'.* \(and 4 "):
        score_file_partitioned(model, folder, tmp_path / "c.jsonl", workers=2, partitions=3)


def test_rejects_are_strict_json_whatever_the_row_held(model: RiskModel, synth_rows: list[dict[str, object]],
                                                       tmp_path: Path) -> None:
    """JSON Lines input may hold NaN and Infinity (Python writes them); a rejects file is read by other
    tools (jq, Spark, pandas) that refuse them, so they are written as text, by both engines."""
    lines = [json.dumps(row) for row in synth_rows[:30]]
    lines[3] = '{"conversation_id": "c", "message_id": "m1", "sender_id": NaN, "timestamp": 1, "text": "x"}'
    lines[7] = ('{"conversation_id": "c", "message_id": "m2", "sender_id": "u", "timestamp": Infinity, "text": "x", '
                '"extra": [-Infinity, {"deep": NaN}]}')
    source = tmp_path / "odd.jsonl"
    source.write_text("\n".join(lines) + "\n")
    expected = [{"file": str(source), "location": "line 4", "field": "sender_id", "reason": "missing (NaN)",
                 "record": {"conversation_id": "c", "message_id": "m1", "sender_id": "NaN", "timestamp": 1,
                            "text": "x"}},
                {"file": str(source), "location": "line 8", "field": "timestamp", "reason": "out of range: inf",
                 "record": {"conversation_id": "c", "message_id": "m2", "sender_id": "u", "timestamp": "Infinity",
                            "text": "x", "extra": ["-Infinity", {"deep": "NaN"}]}}]

    def strict(constant: str) -> object:
        raise ValueError(f"not strict JSON: {constant}")

    for name, score in (("memory", score_file), ("partitioned", lambda *a, **k: score_file_partitioned(
            *a, **k, workers=2, partitions=3))):
        errors = tmp_path / f"{name}.rejects.jsonl"
        score(model, source, tmp_path / f"{name}.jsonl", errors_path=errors)
        assert [json.loads(line, parse_constant=strict) for line in errors.read_text().splitlines()] == expected


class _Midway(NamedTuple):
    process: subprocess.Popen[str]
    source: Path
    out: Path  # in a folder of its own
    workers: list[int]


@contextlib.contextmanager
def _large_score_midway(model_dir: Path, synth_rows: list[dict[str, object]], tmp_path: Path) -> Iterator[_Midway]:
    """A large `riskline score` with two workers, caught once its workers have begun splitting the input; on
    leaving, whatever of it still runs is killed."""
    source = write_jsonl(tmp_path / "many.jsonl", [{**r, "conversation_id": f"{r['conversation_id']}-{i}"}
                                                   for i in range(30) for r in synth_rows])
    out = tmp_path / "out" / "scores.jsonl"
    out.parent.mkdir()
    process = subprocess.Popen([RISKLINE, "score", str(source), "-o", str(out), "--model", str(model_dir),
                                "--workers", "2"], env={**os.environ, "RISKLINE_PARALLEL_MIN_BYTES": "0"},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while len(workers) < 2 or not any(out.parent.glob(".riskline-*/*.arrow")):  # splitting has begun
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            workers = children(process.pid)
            time.sleep(0.01)
        yield _Midway(process, source, out, workers)
    finally:
        for worker in filter(running, workers):
            os.kill(worker, signal.SIGKILL)
        process.kill()
        process.communicate()


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_run_stopped_midway_leaves_no_worker_running(model_dir: Path, synth_rows: list[dict[str, object]],
                                                       tmp_path: Path, stop: signal.Signals) -> None:
    """`kill`, `timeout`, systemd and Kubernetes stop a command with SIGTERM: its workers stop with it and its
    working files go. Killed outright (SIGKILL, the kernel's OOM killer), it can clean nothing, but its workers
    still stop rather than wait for it forever."""
    with _large_score_midway(model_dir, synth_rows, tmp_path) as run:
        run.process.send_signal(stop)
        assert still_running(run.workers, within=20) == []
        _, err = run.process.communicate(timeout=20)
    out = run.out
    if stop == signal.SIGTERM:
        assert (run.process.returncode, err) == (-signal.SIGTERM, "")  # ended by the signal, as without a handler
        assert list(out.parent.iterdir()) == []  # no output, no working files
    else:
        assert run.process.returncode == -signal.SIGKILL
        [left] = out.parent.iterdir()  # its working folder: the next run here removes it
        assert left.name.startswith(".riskline-") and any(left.glob("*.arrow"))
        again = riskline("score", run.source, "-o", out, "--model", model_dir, "--workers", "2",
                         env={"RISKLINE_PARALLEL_MIN_BYTES": "0"})
        assert again.returncode == 0 and list(out.parent.iterdir()) == [out], again.stderr


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
def test_a_worker_killed_midway_is_said_in_one_line(model_dir: Path, synth_rows: list[dict[str, object]],
                                                     tmp_path: Path) -> None:
    """The kernel's out-of-memory killer picks the largest process, often a worker: the run ends with one line
    naming the input and the likely cause (not the pool's traceback), its other worker and working files gone."""
    with _large_score_midway(model_dir, synth_rows, tmp_path) as run:
        os.kill(run.workers[0], signal.SIGKILL)
        _, err = run.process.communicate(timeout=60)
    assert run.process.returncode == 2 and err == (
        f"riskline: error: {run.source}: a worker process was killed while scoring it (most often by the kernel's "
        f"out-of-memory killer, which `dmesg` names); nothing was written to {run.out}. Give the command more "
        "memory, or fewer workers (--workers 1 holds one partition at a time)\n")
    assert list(run.out.parent.iterdir()) == [] and still_running(run.workers, within=10) == []


def test_leaving_the_pool_by_an_exception_stops_its_workers_at_once() -> None:
    """Not after their work in hand (an hour's, here): a run stopped by SIGTERM must exit before Kubernetes's
    grace period ends, and its working files can go only once nothing writes them."""
    with pytest.raises(KeyboardInterrupt), worker_pool(2, multiprocessing.get_context("fork")) as pool:
        work = [pool.submit(time.sleep, 3600) for _ in range(2)]
        processes = list(pool._processes.values())
        while not all(job.running() for job in work):
            time.sleep(0.01)
        raise KeyboardInterrupt
    # reaped by this thread or the pool's own: read /proc, not the objects
    assert len(processes) == 2 and still_running((p.pid for p in processes), within=10) == []
    assert all(job.cancelled() or job.done() for job in work)


def test_only_working_folders_no_run_holds_are_removed(model: RiskModel, synth_rows: list[dict[str, object]],
                                                        tmp_path: Path) -> None:
    """A run removes the working folders left beside its output by runs killed outright, known by the lock no
    process holds any more; not one a run is working in, nor a folder of another name (an older version's)."""
    with HeldElsewhere(tmp_path, ".riskline-", folder=True) as killed, \
            HeldElsewhere(tmp_path, ".riskline-", folder=True) as busy:
        killed.kill()
        (tmp_path / ".riskline-older123").mkdir()
        with working_folder(tmp_path) as running_now:  # a run in this process: its lock is as good as another's
            score_file_partitioned(model, write_jsonl(tmp_path / "e.jsonl", synth_rows[:200]), tmp_path / "s.jsonl",
                                   workers=2)
            assert running_now.is_dir()
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted([busy.path.name, ".riskline-older123",
                                                                     "e.jsonl", "s.jsonl"])


def test_a_file_system_without_locks_still_scores_and_keeps_every_folder(
        model: RiskModel, synth_rows: list[dict[str, object]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where no lock can be taken (ENOLCK: some network and FUSE file systems), a run goes on without one and
    removes no other folder: none can be told abandoned."""
    import errno
    import fcntl

    def no_locks(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    with HeldElsewhere(tmp_path, ".riskline-", folder=True) as abandoned:
        abandoned.kill()
    monkeypatch.setattr(fcntl, "flock", no_locks)
    rows = synth_rows[:200]
    result = score_file_partitioned(model, write_jsonl(tmp_path / "e.jsonl", rows), tmp_path / "s.jsonl", workers=2)
    assert result.n_messages == len(rows)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([abandoned.path.name, "e.jsonl", "s.jsonl"])


def test_a_partition_changed_after_the_split_is_said_rather_than_left_out(synth_rows: list[dict[str, object]],
                                                                          tmp_path: Path) -> None:
    """A partition's working files removed or cut after the split (by hand, or a cleaner of the temporary
    folder): reading it back is an error naming the folder and the partition, not fewer messages in silence."""
    source = write_jsonl(tmp_path / "d.jsonl", synth_rows[:900])
    with split_input(source, workers=2, partitions=3) as split:
        folder = Path(split.folder)
        assert len(split.events(0)) == split.sizes[0] > 0 and sum(split.sizes) == split.n_messages == 900
        assert split.written == split.sizes  # no copies of a message id here
        for file in folder.glob("p00001-s*.arrow"):
            file.unlink()
        with pytest.raises(InputError) as gone:
            split.events(1)
        assert str(gone.value) == (f"{folder}: partition 1 of the split input read back 0 of the {split.sizes[1]} "
                                   "rows written to it; was the working folder changed while the run worked?")
        cut = sorted(folder.glob("p00002-s*.arrow"))[0]
        cut.write_bytes(cut.read_bytes()[:200])
        said = rf"^{re.escape(str(folder))}: partition 2 of the split input could not be read back \(ArrowInvalid: "
        with pytest.raises(InputError, match=said + r".+\); was the working folder changed while the run worked\?$"):
            split.events(2)


def test_scoring_a_partition_cut_after_the_split_is_said_and_writes_nothing(
        model: RiskModel, synth_rows: list[dict[str, object]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``riskline score``'s partitioned engine: a partition's working files cut between the split and its scoring
    (by hand, or a cleaner of the folder) is an error naming the partition, nothing written, rather than an output
    short of that partition's conversations. Each partition's rows are counted as the split writes them, copies of
    a message id included (the count is checked before they are set aside), over every time a buffer is written."""
    monkeypatch.setattr(detection.splitting, "BLOCK_BYTES", 8192)  # several writes to each partition's files
    monkeypatch.setattr(detection.spill, "SPILL_ROWS", 100)
    rows = synth_rows[:900]
    rows = [*rows, {**rows[7], "text": "sent again"}]
    source, output = write_jsonl(tmp_path / "d.jsonl", rows), tmp_path / "s.jsonl"
    full = score_file_partitioned(model, source, output, workers=2, partitions=3, errors_path=tmp_path / "r.jsonl")
    assert (full.n_messages, full.n_rejected) == (900, 1)
    output.unlink()
    split = detection.partitioned._read_into
    cut: list[tuple[int, int]] = []

    def then_cut(folder: Path, *args: object) -> tuple[list[Reject], list[int]]:
        rejects, written = split(folder, *args)  # type: ignore[arg-type]
        files = sorted(folder.glob("p00001-s*.arrow"))
        kept = pa.concat_tables(pa.ipc.open_file(str(f)).read_all() for f in files).slice(0, 10)
        for f in files:
            f.unlink()
        with pa.ipc.new_file(str(files[0]), kept.schema) as writer:
            writer.write_table(kept)
        cut.append((written[1], kept.num_rows))
        return rejects, written

    monkeypatch.setattr(detection.partitioned, "_read_into", then_cut)
    with pytest.raises(InputError) as said:
        score_file_partitioned(model, source, output, workers=2, partitions=3, errors_path=tmp_path / "r.jsonl")
    [(written, kept)] = cut
    assert written > kept == 10
    assert re.fullmatch(rf"{re.escape(str(tmp_path))}/\.riskline-[^/]+: partition 1 of the split input read back 10 "
                        rf"of the {written} rows written to it; was the working folder changed while the run worked\?",
                        str(said.value)), said.value
    assert not output.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.jsonl", "r.jsonl"]  # the working folder removed


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_an_input_split_by_conversation_holds_the_in_memory_events_and_rejects(
        synth_rows: list[dict[str, object]], tmp_path: Path, suffix: str) -> None:
    """``split_input`` (``riskline backfill``'s reading): each conversation whole in one partition, its messages
    those the in-memory reader gives, in their order, copies of a message id and bad rows its rejects."""
    rows = [dict(r) for r in synth_rows[:900]]
    rows.reverse()  # conversations interleave
    rows += [{**rows[5], "text": "sent again"}, {"conversation_id": "c", "message_id": "m"}, rows[300]]
    source = _written(tmp_path / f"d{suffix}", rows)  # in Parquet, the bad row's missing fields are nulls
    read = read_events(source)
    by_conversation: dict[str, list[MessageEvent]] = {}
    for event in read.events:
        by_conversation.setdefault(event.conversation_id, []).append(event)
    with split_input(source, workers=2, partitions=4) as split:
        parts = [split.events(p) for p in range(split.n)]
        assert split.rejects == read.rejects and len(read.rejects) == 3
        assert (split.n_messages, split.n_conversations) == (len(read.events), len(by_conversation))
        assert sum(bool(part) for part in parts) == 4
        got: dict[str, list[MessageEvent]] = {}
        for part in parts:
            held = {e.conversation_id for e in part}
            assert not held & got.keys()  # no conversation in two partitions
            for event in part:
                got.setdefault(event.conversation_id, []).append(event)
        assert got == by_conversation
    assert not Path(split.folder).exists()  # the working folder is removed


def test_a_file_of_bad_rows_only_gives_its_rejects_as_in_memory(model: RiskModel, tmp_path: Path) -> None:
    """No row good, an errors file asked for: both engines write every row to it and an output of no rows,
    rather than calling the file empty."""
    source = write_jsonl(tmp_path / "bad.jsonl", [{"conversation_id": "c", "message_id": f"m{i}", "sender_id": "a",
                                                   "timestamp": "whenever", "text": "hi"} for i in range(3)])
    a, b, rejects = _both_engines(model, source, tmp_path)  # the same output and rejects
    assert (a.n_messages, a.n_rejected) == (b.n_messages, b.n_rejected) == (0, 3)
    assert (tmp_path / "b.jsonl").read_text() == "" and len(rejects.splitlines()) == 3


@pytest.mark.parametrize("there", [True, False])
def test_a_file_of_an_unknown_type_is_refused_by_its_name_as_in_memory(model: RiskModel, tmp_path: Path,
                                                                       there: bool) -> None:
    """By its name, whether or not it is there: a path mistyped is told the types read, as one misnamed is."""
    source = tmp_path / "events.txt"
    if there:
        source.write_text('{"conversation_id": "c"}\n')
    with pytest.raises(InputError) as in_memory:
        score_file(model, source, tmp_path / "a.jsonl")
    with pytest.raises(InputError) as partitioned:
        score_file_partitioned(model, source, tmp_path / "b.jsonl", workers=2)
    assert str(partitioned.value) == str(in_memory.value)
    assert str(in_memory.value).startswith(f"{source}: unsupported file type '.txt'")
    assert not (tmp_path / "b.jsonl").exists()


def test_partitions_grow_with_the_input(inputs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Unless told, a run has a partition for about each ``PARTITION_BYTES`` of input, one a worker at least."""
    size = inputs[".jsonl"].stat().st_size
    monkeypatch.setattr(detection.partitioned, "PARTITION_BYTES", size // 5)
    with split_input(inputs[".jsonl"], workers=2) as split:
        assert split.n == -(-size // (size // 5)) == 6
        assert sum(split.sizes) == 4003 and sum(bool(n) for n in split.sizes) == 6
    monkeypatch.setattr(detection.partitioned, "PARTITION_BYTES", size * 2)
    with split_input(inputs[".jsonl"], workers=2) as split:
        assert split.n == 2


@pytest.mark.parametrize("raw", ["16M", "-1", "1e6", "²", "١٦"])
def test_a_size_from_which_to_partition_is_whole_bytes_in_ascii_digits(raw: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """``RISKLINE_PARALLEL_MIN_BYTES`` in plain digits (Python's int() reads "١٦" as 16, and fails on "²")."""
    monkeypatch.setenv("RISKLINE_PARALLEL_MIN_BYTES", f" {raw} ")
    with pytest.raises(InputError, match=rf"^RISKLINE_PARALLEL_MIN_BYTES='{raw}': expected a whole number of bytes"):
        detection.partitioned.parallel_min_bytes()
    monkeypatch.setenv("RISKLINE_PARALLEL_MIN_BYTES", " 0 ")
    assert detection.partitioned.parallel_min_bytes() == 0
