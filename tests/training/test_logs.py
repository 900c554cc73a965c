"""`riskline convert` on a platform's own logs: columns renamed, timestamps in a unit, rows checked."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from detection.events import MessageEvent, parse_timestamp, to_event
from detection.inputs import InputError
from detection.readers import Reject, read_events
from tests.cli_helpers import riskline
from tests.conftest import write_csv, write_jsonl
from training.data import load_labelled
from training.logs import iter_log_rows, parse_mapping, time_zone, unused_zone

MAP = ["conversation_id=thread", "message_id=id", "sender_id=author", "timestamp=sent_ms", "text=body",
       "conversation_label=flagged"]


def _logs(synth_rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """The synthetic rows as a platform might log them: its own column names, time in milliseconds."""
    events = _events(synth_rows)
    return [{"thread": e.conversation_id, "id": e.message_id, "author": e.sender_id,
             "sent_ms": round(e.timestamp * 1000), "body": e.text, "to": e.recipient_id,
             "flagged": r["conversation_label"], "text": "a column of the logs' own, not the message"}
            for e, r in zip(events, synth_rows, strict=True)]


def _events(rows: list[dict[str, object]]) -> list[MessageEvent]:
    return [to_event(r) for r in rows]


def test_logs_convert_to_the_events_they_hold(synth_rows: list[dict[str, object]], tmp_path: Path) -> None:
    """Converted logs are the events the synthetic rows hold (to the millisecond), with their labels,
    whatever the logs' format; a column named like a field that another column is read as is dropped."""
    rows = synth_rows[:1500]
    logs = _logs(rows)
    folder = tmp_path / "logs"
    (folder / "day=2").mkdir(parents=True)
    write_csv(folder / "day=1.csv", logs[:700])
    pq.write_table(pa.Table.from_pylist(logs[700:]), folder / "day=2" / "part-0.parquet")
    rename = parse_mapping([*MAP, "recipient_id=to"])
    converted = list(iter_log_rows(folder, rename, "ms"))
    expected = _events(rows)
    assert [(r["conversation_id"], r["message_id"], r["sender_id"], r["text"], r["recipient_id"])
            for r in converted] == [(e.conversation_id, e.message_id, e.sender_id, e.text, e.recipient_id)
                                    for e in expected]
    assert all(abs(parse_timestamp(r["timestamp"]) - e.timestamp) < 5e-4 for r, e in zip(converted, expected,
                                                                                         strict=True))
    assert [r["conversation_label"] for r in converted] == [int(str(r["conversation_label"])) for r in rows]
    out = tmp_path / "events.parquet"
    done = riskline("convert", folder, "-o", out, *(f"--map={m}" for m in [*MAP, "recipient_id=to"]),
                    "--timestamp-unit", "ms")
    assert done.returncode == 0, done.stderr
    assert f"wrote 1500 messages in {len({r['conversation_id'] for r in rows})} conversations" in done.stderr
    assert pq.read_table(out).to_pylist() == converted  # the command writes what the rows give
    labelled = load_labelled(out)  # ready to train and evaluate on
    assert labelled.labels == {str(r["conversation_id"]): int(str(r["conversation_label"])) for r in rows}
    assert [e.timestamp for e in read_events(out).events] == [parse_timestamp(r["timestamp"]) for r in converted]


def test_bad_rows_are_named_or_set_aside(synth_rows: list[dict[str, object]], tmp_path: Path) -> None:
    logs = _logs(synth_rows[:40])
    logs.insert(5, {**logs[3], "body": "sent again"})  # a copy of a message id
    logs[9] = {**logs[9], "sent_ms": "soon"}
    source = write_jsonl(tmp_path / "logs.jsonl", logs)
    out = tmp_path / "events.jsonl"
    args = ["convert", source, "-o", out, *(f"--map={m}" for m in MAP), "--timestamp-unit", "ms"]
    stopped = riskline(*args)
    assert stopped.returncode == 2 and not out.exists()
    assert stopped.stderr == (f"riskline: error: {source}: line 6: field 'id': read as message_id: duplicate "
                              f"message id '{logs[3]['id']}' in conversation '{logs[3]['thread']}' (use --errors "
                              "FILE to set bad rows aside)\n")
    done = riskline(*args, "--errors", tmp_path / "rejects.jsonl")
    assert done.returncode == 0 and "wrote 39 messages" in done.stderr and "2 rows rejected" in done.stderr
    rejects = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    # each named as the logs name it: the column a field was read from, the row with its own columns
    assert [(r["location"], r["field"], r["reason"]) for r in rejects] == [
        ("line 6", "id", f"read as message_id: duplicate message id '{logs[3]['id']}' in conversation "
                         f"'{logs[3]['thread']}'"),
        ("line 10", "sent_ms", "read as timestamp: not ISO-8601 or a number of ms (--timestamp-unit): 'soon'")]
    # (less the logs' own "text" column, left out because "body" is read as text)
    assert rejects[0]["record"] == {k: v for k, v in logs[5].items() if k != "text"}
    assert len(out.read_text().splitlines()) == 39


def test_a_column_given_twice_in_a_row_is_set_aside(synth_rows: list[dict[str, object]], tmp_path: Path) -> None:
    """A JSON row holding a column twice: json keeps the last, the exporter may have meant the first. Named by
    the column, as the logs name it; a column of the logs that is not read (their own "text") may repeat."""
    logs = _logs(synth_rows[:6])
    lines = [json.dumps(row) for row in logs]
    lines[2] = lines[2][:-1] + ', "body": "the other body"}'
    lines[4] = lines[4][:-1] + ', "text": "their own column again"}'
    source = tmp_path / "logs.jsonl"
    source.write_text("\n".join(lines) + "\n")
    done = riskline("convert", source, "-o", tmp_path / "events.jsonl", *(f"--map={m}" for m in MAP),
                    "--timestamp-unit", "ms", "--errors", tmp_path / "rejects.jsonl")
    assert done.returncode == 0 and "wrote 5 messages" in done.stderr, done.stderr
    rejects = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert [(r["location"], r["field"], r["reason"][:34]) for r in rejects] == [
        ("line 3", "body", "read as text: given twice in one o")]


def test_mistakes_are_named(synth_rows: list[dict[str, object]], tmp_path: Path) -> None:
    for items, message in [(["text"], "expected FIELD=COLUMN"), (["body=text"], "'body' is not a field"),
                           (["text=a", "text=b"], "text is mapped twice"),
                           (["text=a", "sender_id=a"], "column 'a' is mapped twice")]:
        with pytest.raises(ValueError, match=message):
            parse_mapping(items)
    source = write_jsonl(tmp_path / "logs.jsonl", _logs(synth_rows[:5]))
    with pytest.raises(ValueError, match="--timestamp-unit 'h': expected one of s, ms, us, ns"):
        list(iter_log_rows(source, parse_mapping(MAP), "h"))
    csv_logs = write_csv(tmp_path / "logs.csv", _logs(synth_rows[:5]))
    with pytest.raises(InputError, match=r"line 1: no column 'message_id', 'sender_id', 'sent_at' \(read as "
                                         r"'timestamp'\) .*; read other columns as these fields with --map"):
        list(iter_log_rows(csv_logs, parse_mapping(["conversation_id=thread", "timestamp=sent_at", "text=body"])))
    with pytest.raises(InputError, match=r"line 1: no column 'sender' \(read as 'sender_id'\), 'recipient' \(read "
                                         r"as 'recipient_id'\) "):  # an optional field's column must be there too
        list(iter_log_rows(csv_logs, parse_mapping(["conversation_id=thread", "message_id=id", "timestamp=sent_ms",
                                                    "sender_id=sender", "recipient_id=recipient"])))
    # a label that the first row lacks would have no column in the output: named, not dropped
    late = _logs(synth_rows[:3])
    late[0] = {k: v for k, v in late[0].items() if k != "flagged"}
    rejects: list[Reject] = []
    rows = list(iter_log_rows(write_jsonl(tmp_path / "late.jsonl", late), parse_mapping(MAP), "ms", rejects))
    assert len(rows) == 1 and [(r.location, r.field) for r in rejects] == [("line 2", "flagged"), ("line 3", "flagged")]
    assert rejects[0].reason == "read as conversation_label: given here but not in the first row, whose columns the " \
                                "output takes"
    out = tmp_path / "events.jsonl"  # before: written, and then the bad rows' file refused (its folder missing)
    nowhere = riskline("convert", tmp_path / "late.jsonl", "-o", out, "--map", "conversation_label=flagged",
                       "--errors", tmp_path / "no" / "bad.jsonl")
    assert nowhere.returncode == 2 and "folder" in nowhere.stderr and not out.exists(), nowhere.stderr
    pan = tmp_path / "corpus.xml"
    pan.write_text("<conversations/>")
    done = riskline("convert", pan, "-o", tmp_path / "x.jsonl", "--map", "text=body")
    assert done.returncode == 2 and "--number-messages and --repair-text are for message logs" in done.stderr
    pan_labelled = riskline("convert", pan, "-o", tmp_path / "x.jsonl", "--label", "1")
    assert pan_labelled.returncode == 2 and "PAN 2012's labels come from its predator list" in pan_labelled.stderr


def test_a_label_given_to_every_conversation(synth_rows: list[dict[str, object]], tmp_path: Path) -> None:
    """--label gives every conversation of unlabelled logs a conversation_label, so that a folder of known cases and
    one of ordinary talk can train and evaluate; logs that hold labels, or read them from a column, are refused."""
    logs = [{k: v for k, v in row.items() if k != "flagged"} for row in _logs(synth_rows[:60])]
    source = write_jsonl(tmp_path / "logs.jsonl", logs)
    mapping = [f"--map={m}" for m in MAP if not m.startswith("conversation_label=")]
    out = tmp_path / "events.jsonl"
    done = riskline("convert", source, "-o", out, *mapping, "--timestamp-unit", "ms", "--label", "1")
    assert done.returncode == 0, done.stderr
    n = len({row["thread"] for row in logs})
    assert done.stderr == f"wrote 60 messages in {n} conversations labelled 1 (grooming or extortion), 0 rows " \
                          f"rejected -> {out}\n"
    data = load_labelled(out)
    assert len(data.labels) == n and set(data.labels.values()) == {1}
    mapped = riskline("convert", source, "-o", tmp_path / "m.jsonl", *mapping, "--map", "conversation_label=to",
                      "--timestamp-unit", "ms", "--label", "0")
    assert mapped.returncode == 2 and mapped.stderr == ("riskline: error: --label 0: the logs' labels are read from "
                                                        "a column already (--map conversation_label=...)\n")
    held = riskline("convert", out, "-o", tmp_path / "h.jsonl", "--label", "0")
    assert held.returncode == 2 and held.stderr == ("riskline: error: --label 0: the logs hold labels of their own, "
                                                    "in their column conversation_label\n")
    assert not (tmp_path / "m.jsonl").exists() and not (tmp_path / "h.jsonl").exists()


def test_logs_without_message_ids_are_numbered(synth_rows: list[dict[str, object]], tmp_path: Path) -> None:
    """Logs that keep no message ids (Instagram's own export, many chat logs): ``--number-messages`` names each
    message by its place among its conversation's rows in the logs' order, a bad row holding its place, across
    the parts of a folder; logs that only grew at their end keep their messages' ids. Without it, the error of the
    missing column says so; with ids of the logs' own, or a column read as them, it is refused."""
    logs = [{k: v for k, v in row.items() if k != "id"} for row in _logs(synth_rows[:300])]
    logs[40] = {**logs[40], "sent_ms": "soon"}
    logs[12] = {**logs[12], "thread": f" {logs[12]['thread']} "}  # read trimmed: the same conversation's place
    folder = tmp_path / "logs"
    folder.mkdir()
    write_csv(folder / "day=1.csv", logs[:150])  # conversations run on into the next part
    pq.write_table(pa.Table.from_pylist(logs[150:]), folder / "day=2.parquet")
    mapping = [m for m in MAP if not m.startswith("message_id=")]
    out = tmp_path / "events.jsonl"
    args = ["convert", folder, "-o", out, *(f"--map={m}" for m in mapping), "--timestamp-unit", "ms",
            "--number-messages", "--errors", tmp_path / "rejects.jsonl"]
    done = riskline(*args)
    assert done.returncode == 0, done.stderr
    places: dict[object, int] = {}
    expected = []
    for row in logs:
        thread = str(row["thread"]).strip()
        places[thread] = places.get(thread, 0) + 1
        expected.append((thread, str(places[thread]), row["body"]))
    converted = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["conversation_id"], r["message_id"], r["text"]) for r in converted] == expected[:40] + expected[41:]
    assert max(places.values()) > 10 and len({r["conversation_id"] for r in converted}) > 5
    rejects = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert [(r["location"], r["field"]) for r in rejects] == [("line 42", "sent_ms")]
    # the logs grew: a later part, and rows of the conversations already held
    grown = [{**row, "body": f"later {i}", "sent_ms": 1_900_000_000_000 + i} for i, row in enumerate(logs[:30])]
    write_jsonl(folder / "day=3.jsonl", grown)
    assert riskline(*args[:3], tmp_path / "again.jsonl", *args[4:]).returncode == 0
    again = [json.loads(line) for line in (tmp_path / "again.jsonl").read_text().splitlines()]
    assert again[:len(converted)] == converted and len(again) == len(converted) + 30
    assert [r["message_id"] for r in again[len(converted):]] == [
        str(places[str(row["thread"]).strip()] + sum(str(r["thread"]).strip() == str(row["thread"]).strip()
                                                     for r in grown[:i + 1]))
        for i, row in enumerate(grown)]
    (folder / "day=3.jsonl").unlink()
    without = riskline(*[a for a in args if a != "--number-messages"])
    assert without.returncode == 2 and without.stderr.rstrip().endswith(
        "read other columns as these fields with --map FIELD=COLUMN; logs without message ids: --number-messages")
    mapped = riskline(*args, "--map", "message_id=to")
    assert mapped.returncode == 2 and mapped.stderr == ("riskline: error: --number-messages names messages where the "
                                                        "logs have no ids: leave out --map message_id=...\n")
    own = write_csv(tmp_path / "own.csv", [{**row, "message_id": f"m{i}"} for i, row in enumerate(logs[:5])])
    refused = riskline("convert", own, "-o", tmp_path / "own.jsonl", *(f"--map={m}" for m in mapping),
                       "--timestamp-unit", "ms", "--number-messages", "--errors", tmp_path / "own.rejects.jsonl")
    assert refused.returncode == 2 and refused.stderr == (
        f"riskline: error: {own}: line 2: holds a message_id of its own, which --number-messages would replace; "
        "leave it out for logs with ids\n")
    assert not (tmp_path / "own.jsonl").exists() and not (tmp_path / "own.rejects.jsonl").exists()


def test_text_garbled_as_meta_exports_hold_it_is_noted_and_repaired(tmp_path: Path) -> None:
    """Meta's exports write text as UTF-8 read back as Latin-1 ("I\u00e2\u0080\u0099ll" for "I’ll"): convert
    counts such texts (and names, each once) and says so; with --repair-text it reads them as written. Latin-1 text
    of its own ("café", which is no UTF-8 so read) and plain ASCII are left as they are, with the option too."""
    written = ["I’ll send it to everyone 😂", "ça va? à demain", "café at 5", "ok see you", "naïve 👍 lol"]
    garbled = [text if i in (2, 3) else text.encode("utf-8").decode("latin-1") for i, text in enumerate(written)]
    assert garbled[0].startswith("I\u00e2\u0080\u0099ll") and garbled[2] == written[2]
    source = write_jsonl(tmp_path / "meta.jsonl", [
        {"chat": "c1", "sender_name": ["a", "Jos\u00c3\u00a9"][i % 2], "timestamp_ms": 1_700_000_000_000 + i,
         "content": text} for i, text in enumerate(garbled)])
    args = ["convert", source, "--map", "conversation_id=chat", "--map", "sender_id=sender_name", "--map",
            "timestamp=timestamp_ms", "--map", "text=content", "--timestamp-unit", "ms", "--number-messages"]
    for repair, expected, said in ((False, garbled, "--repair-text reads them as written"),
                                   (True, written, "read as written (--repair-text)")):
        out = tmp_path / f"out-{repair}.jsonl"
        done = riskline(*args, "-o", out, *(["--repair-text"] if repair else []))
        assert done.returncode == 0, done.stderr
        assert [json.loads(line)["text"] for line in out.read_text().splitlines()] == expected
        assert [json.loads(line)["sender_id"] for line in out.read_text().splitlines()] == [
            "a", "José" if repair else "Jos\u00c3\u00a9", "a", "José" if repair else "Jos\u00c3\u00a9", "a"]
        assert done.stderr.splitlines()[-1] == ("riskline: note: 3 texts and 1 name were UTF-8 read as Latin-1, as "
                                                f"Meta's exports hold text ('cafÃ©' for 'café'): {said}")
    clean = write_jsonl(tmp_path / "clean.jsonl", [{"chat": "c", "sender_name": "a", "timestamp_ms": 1, "content": t}
                                                   for t in written])
    done = riskline(*args[:1], clean, *args[2:], "-o", tmp_path / "clean.out.jsonl", "--repair-text")
    assert done.returncode == 0 and "note" not in done.stderr, done.stderr
    assert [json.loads(line)["text"] for line in (tmp_path / "clean.out.jsonl").read_text().splitlines()] == written


@pytest.mark.parametrize("unit, value, expected", [
    ("s", 1700000000, "2023-11-14T22:13:20+00:00"), ("ms", "1700000000250", "2023-11-14T22:13:20.250000+00:00"),
    ("us", 1700000000250001, "2023-11-14T22:13:20.250001+00:00"), ("ns", 1.7e18, "2023-11-14T22:13:20+00:00"),
    ("ms", "2023-11-14T23:13:20+01:00", "2023-11-14T22:13:20+00:00"),  # text in ISO-8601 is read as it is
])
def test_timestamps_in_a_unit(tmp_path: Path, unit: str, value: object, expected: str) -> None:
    row = {"conversation_id": "c", "message_id": "m", "sender_id": "s", "timestamp": value, "text": "hi"}
    assert next(iter_log_rows(write_jsonl(tmp_path / "t.jsonl", [row]), {}, unit))["timestamp"] == expected


@pytest.mark.parametrize("value, zone, form, expected", [
    ("2024-03-31 01:30:00", "Europe/Berlin", None, "2024-03-31T00:30:00+00:00"),  # before the clocks go forward
    ("2024-03-31 03:30:00", "Europe/Berlin", None, "2024-03-31T01:30:00+00:00"),  # after
    ("2024-01-01T10:00:00+05:00", "Europe/Berlin", None, "2024-01-01T05:00:00+00:00"),  # an offset wins
    ("31/12/2023 23:59", "UTC", "%d/%m/%Y %H:%M", "2023-12-31T23:59:00+00:00"),
    (" 31/12/2023 23:59\t", "UTC", "%d/%m/%Y %H:%M", "2023-12-31T23:59:00+00:00"),  # spaces around it are no part
    ("31/12/2023 23:59 -0500", None, "%d/%m/%Y %H:%M %z", "2024-01-01T04:59:00+00:00"),
    (1700000000, "America/New_York", None, "2023-11-14T22:13:20+00:00"),  # Unix seconds are UTC already
])
def test_timestamps_without_an_offset_in_a_zone_or_format(tmp_path: Path, value: object, zone: str | None,
                                                          form: str | None, expected: str) -> None:
    row = {"conversation_id": "c", "message_id": "m", "sender_id": "s", "timestamp": value, "text": "hi"}
    rows = iter_log_rows(write_jsonl(tmp_path / "t.jsonl", [row]), {}, "s", None, time_zone(zone), form)
    assert next(rows)["timestamp"] == expected


def test_nested_fields_are_read_by_their_path(tmp_path: Path) -> None:
    """Exports nest ids (Discord: author.id); a dotted --map column is a path into nested objects, in
    JSON Lines and in Parquet structs alike, and a wrong path is named with the paths there are."""
    rows = [{"thread": "t1", "id": f"m{i}", "author": {"id": f"u{i % 2}", "name": "x"}, "ts": 1_700_000_000_000 + i,
             "content": f"hi {i}"} for i in range(3)]
    mapping = {"thread": "conversation_id", "id": "message_id", "author.id": "sender_id", "ts": "timestamp",
               "content": "text"}
    source = write_jsonl(tmp_path / "nested.jsonl", rows)
    parquet = tmp_path / "nested.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    for path in (source, parquet):
        converted = list(iter_log_rows(path, mapping, "ms"))
        assert [(r["message_id"], r["sender_id"]) for r in converted] == [("m0", "u0"), ("m1", "u1"), ("m2", "u0")]
    lost = write_jsonl(tmp_path / "lost.jsonl", [{**rows[0], "author": "u0"}])  # no object to look into
    with pytest.raises(InputError, match=r"line 1: field 'author.id': read as sender_id: missing"):
        list(iter_log_rows(lost, mapping, "ms"))
    with pytest.raises(InputError, match=r"schema: no column 'author.uid' \(read as 'sender_id'\) \(its columns: "
                                         r"thread, id, author, author.id, author.name, ts, content\)"):
        list(iter_log_rows(parquet, {**mapping, "author.uid": "sender_id"} | {"author.id": "recipient_id"}, "ms"))


def test_attachments_in_a_list_and_as_mime_types(tmp_path: Path) -> None:
    """Exports keep attachments as a list of objects with a MIME type (Discord: attachments[].content_type);
    a number in a --map path is a place in a list, and convert reads a MIME type as its kind. Before, the
    path found nothing and 'image/png' was a bad row (the message lost to scoring)."""
    types = [["image/png"], ["video/mp4", "image/gif"], [], ["audio/ogg; codecs=opus"], ["application/pdf"], None]
    rows = [{"thread": "t1", "id": f"m{i}", "author": {"id": "u1"}, "ts": 1_700_000_000 + i, "content": "look",
             "attachments": None if kinds is None else [{"content_type": k, "size": 10} for k in kinds]}
            for i, kinds in enumerate(types)]
    mapping = {"thread": "conversation_id", "id": "message_id", "author.id": "sender_id", "ts": "timestamp",
               "content": "text", "attachments.0.content_type": "attachment"}
    source = write_jsonl(tmp_path / "attached.jsonl", rows)
    parquet = tmp_path / "attached.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    for path in (source, parquet):
        converted = list(iter_log_rows(path, mapping))
        assert [r["attachment"] for r in converted] == ["image", "video", None, "audio", "file", None], path
    second = list(iter_log_rows(parquet, {**mapping, "attachments.1.content_type": "recipient_id"}))
    assert [r["recipient_id"] for r in second] == [None, "image/gif", None, None, None, None]
    superscript = list(iter_log_rows(source, {**mapping, "attachments.\u00b2.content_type": "recipient_id"}))
    assert [r["recipient_id"] for r in superscript] == [None] * 6  # '²' is no place (int() raised on it before)
    flat = write_jsonl(tmp_path / "flat.jsonl", [{**rows[0], "attachments": None, "mime": "IMAGE/JPEG"},
                                                 {**rows[1], "attachments": None, "mime": "gif"}])
    rejects: list[Reject] = []
    kept = list(iter_log_rows(flat, {**mapping, "mime": "attachment"} | {"attachments.0.content_type": "offender_id"},
                              rejects=rejects))
    assert [r["attachment"] for r in kept] == ["image"]  # a flat column of MIME types too
    assert [(r.location, r.field) for r in rejects] == [("line 2", "mime")] and "got 'gif'" in rejects[0].reason
    with pytest.raises(InputError, match=r"no column 'attachments.0.kind' \(read as 'attachment'\) \(its columns: "
                                         r".*attachments, attachments.0, attachments.0.content_type, "
                                         r"attachments.0.size"):
        list(iter_log_rows(parquet, {**mapping, "attachments.0.kind": "attachment"} |
                           {"attachments.0.content_type": "offender_id"}))


def test_attachments_named_by_file_and_sent_without_text(tmp_path: Path) -> None:
    """Exports often keep an attachment as its file's path or a link (Instagram: photos[].uri) and a photo sent
    alone without any text: the file's extension gives its kind (a link's query left aside; a name that says no
    kind, or a link without a name, is a file), and a message with an attachment and no text is one of empty
    text. Before, both were bad rows: the photo, of all messages, lost to scoring. Without an attachment, a
    missing text is still a bad row; a value that is no file, type or kind is still named."""
    given = [("messages/inbox/x_1/photos/1.jpg", None), ("IMG 0042.HEIC", "look"), ("clips/v.mov", None),
             ("https://cdn.example/a/voice.m4a?sig=1&e=2", None), ("https://cdn.example/share/abc", "see this"),
             ("notes.xyz", None), ("image/png", None), (None, "hi")]
    rows = [{"chat": "c", "from": "ab"[i % 2], "ms": 1_700_000_000_000 + i,
             **({} if text is None else {"content": text}), **({} if uri is None else {"photos": [{"uri": uri}]})}
            for i, (uri, text) in enumerate(given)]
    rows += [{"chat": "c", "from": "a", "ms": 1_700_000_000_100}, {**rows[0], "photos": [{"uri": "1.5"}]}]
    mapping = {"chat": "conversation_id", "from": "sender_id", "ms": "timestamp", "content": "text",
               "photos.0.uri": "attachment"}
    rejects: list[Reject] = []
    converted = list(iter_log_rows(write_jsonl(tmp_path / "ig.jsonl", rows), mapping, "ms", rejects, numbered=True))
    assert [(r["attachment"], r["text"]) for r in converted] == [
        ("image", ""), ("image", "look"), ("video", ""), ("audio", ""), ("file", "see this"), ("file", ""),
        ("image", ""), (None, "hi")]
    assert [(r.location, r.field, r.reason) for r in rejects] == [
        ("line 9", "content", "read as text: missing"), ("line 10", "photos.0.uri", rejects[1].reason)]
    assert "'1.5'" in rejects[1].reason


def test_numbers_in_another_unit_are_named(tmp_path: Path) -> None:
    row = {"conversation_id": "c", "message_id": "m", "sender_id": "s", "timestamp": 1700000000123, "text": "hi"}
    source = write_jsonl(tmp_path / "ms.jsonl", [row])
    with pytest.raises(InputError, match=r"out of range: 1700000000123 \(Unix seconds expected; this looks like "
                                         r"Unix milliseconds\); give --timestamp-unit"):
        list(iter_log_rows(source, {}))
    assert next(iter_log_rows(source, {}, "ms"))["timestamp"] == "2023-11-14T22:13:20.123000+00:00"
    nanoseconds = write_jsonl(tmp_path / "ns.jsonl", [{**row, "timestamp": 1700000000123456789}])
    with pytest.raises(InputError, match=r"out of range as ms \(--timestamp-unit\): 1700000000123456789 \("):
        list(iter_log_rows(nanoseconds, {}, "ms"))  # the number as given, not as divided into seconds
    huge = write_jsonl(tmp_path / "huge.jsonl", [{**row, "timestamp": 10**400}])  # past float's range
    with pytest.raises(InputError, match=r"field 'timestamp': out of range as ms \(--timestamp-unit\): an integer "
                                         r"of 1329 bits"):
        list(iter_log_rows(huge, {}, "ms"))  # an OverflowError's traceback before
    with pytest.raises(InputError, match=r"field 'timestamp': out of range: an integer of 1329 bits"):
        list(iter_log_rows(huge, {}))
    true = write_jsonl(tmp_path / "true.jsonl", [{**row, "timestamp": True}])  # no number of ms: not 1970
    with pytest.raises(InputError, match=r"field 'timestamp': expected ISO-8601 or a number of ms "
                                         r"\(--timestamp-unit\), got a boolean"):
        list(iter_log_rows(true, {}, "ms"))


def test_times_without_an_offset_need_a_zone(tmp_path: Path) -> None:
    from datetime import datetime

    naive = pa.Table.from_pylist([{"conversation_id": "c", "message_id": "m", "sender_id": "s", "text": "hi",
                                   "timestamp": datetime(2024, 7, 1, 12, 0)}])  # a timestamp type without a zone
    source = tmp_path / "naive.parquet"
    pq.write_table(naive, source)
    with pytest.raises(InputError, match=r"row 1: field 'timestamp': has no UTC offset; give --timezone"):
        list(iter_log_rows(source, {}))
    assert next(iter_log_rows(source, {}, zone=time_zone("Asia/Tokyo")))["timestamp"] == "2024-07-01T03:00:00+00:00"
    with pytest.raises(ValueError, match=r"--timezone 'Mars/Olympus': not a time zone"):
        time_zone("Mars/Olympus")
    # the zone given reads a local time as the zone itself does (summer, winter, the hour skipped, the hour told
    # twice, each time of it), and keeps whether any time was read in it
    berlin, given = ZoneInfo("Europe/Berlin"), time_zone("Europe/Berlin")
    assert given is not None and not given.used
    for local in (datetime(2024, 7, 1, 12), datetime(2024, 1, 1, 12), datetime(2024, 3, 31, 2, 30),
                  datetime(2024, 10, 27, 2, 30), datetime(2024, 10, 27, 2, 30, fold=1)):
        assert local.replace(tzinfo=given).timestamp() == local.replace(tzinfo=berlin).timestamp()
        assert local.replace(tzinfo=given).tzname() == local.replace(tzinfo=berlin).tzname()
    for moment in (datetime(2024, 7, 1, 12, tzinfo=UTC), datetime(2024, 10, 27, 0, 30, tzinfo=UTC),
                   datetime(2024, 10, 27, 1, 30, tzinfo=UTC)):  # and a moment in its zone: the hour told twice
        assert moment.astimezone(given).isoformat() == moment.astimezone(berlin).isoformat()
    offsets = write_jsonl(tmp_path / "offsets.jsonl", [{**naive.to_pylist()[0], "timestamp": "2024-07-01T12:00:00Z"},
                                                       {**naive.to_pylist()[0], "timestamp": 1719835200,
                                                        "message_id": "m2"}])
    assert [r["timestamp"] for r in iter_log_rows(offsets, {}, zone=given)] == ["2024-07-01T12:00:00+00:00"] * 2
    assert not given.used and unused_zone(given) is not None
    assert next(iter_log_rows(source, {}, zone=given))["timestamp"] == "2024-07-01T10:00:00+00:00"
    assert given.used and unused_zone(given) is None and unused_zone(None) is None
    done = riskline("convert", offsets, "-o", tmp_path / "o.jsonl", "--timezone", "Asia/Tokyo")
    assert done.returncode == 0 and done.stderr.splitlines()[1:] == [
        "riskline: note: --timezone Asia/Tokyo changed nothing: every time read carries its own UTC offset or is a "
        "number (Unix time), and is read as it says"]
    done = riskline("convert", source, "-o", tmp_path / "o.jsonl", "--timezone", "Asia/Tokyo")
    assert done.returncode == 0 and len(done.stderr.splitlines()) == 1
    text = write_jsonl(tmp_path / "t.jsonl", [{**naive.to_pylist()[0], "timestamp": "1 July"}])
    with pytest.raises(InputError, match=r"line 1: field 'timestamp': does not match --time-format '%d/%m/%Y': '1 "):
        list(iter_log_rows(text, {}, form="%d/%m/%Y"))


def test_a_reported_offender_is_carried_through(synth_rows: list[dict[str, object]], tmp_path: Path) -> None:
    """A platform's reports name who the offender was: ``--map offender_id=COLUMN`` carries it to
    training, where it teaches the role model who the suspect is."""
    rows = synth_rows[:200]
    offender = {}
    for r in rows:
        if r["conversation_label"] == 1 and r["stage"] != "none":
            offender.setdefault(r["conversation_id"], r["sender_id"])
    logs = [{**log, "reported": offender.get(log["thread"], "")} for log in _logs(rows)]
    source = write_csv(tmp_path / "logs.csv", logs)
    out = tmp_path / "events.parquet"
    done = riskline("convert", source, "-o", out, *(f"--map={m}" for m in MAP), "--map", "offender_id=reported",
                    "--timestamp-unit", "ms")
    assert done.returncode == 0, done.stderr
    assert load_labelled(out).offender_ids == offender and offender
