import csv
import gzip
import io
import json
import os
import random
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

import detection.arrow_events
import detection.inputs
import detection.readers
import detection.records
from detection.inputs import InputError, input_files
from detection.readers import _near, read_conversation, read_events, read_rows
from tests.cli_helpers import riskline
from tests.conftest import write_csv, write_jsonl
from training.data import load_labelled

ROW = {"conversation_id": "c1", "message_id": "m1", "sender_id": "u1", "timestamp": "2024-01-01T10:00:00+00:00",
       "text": "hello"}


def test_jsonl_bad_rows_are_located(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join([
        json.dumps(ROW),
        "{not json",
        json.dumps({**ROW, "message_id": "m2", "timestamp": "last tuesday"}),
        json.dumps({**ROW, "message_id": "m1"}),
        "[1, 2]",
        json.dumps({**ROW, "message_id": "m3"}),
    ]) + "\n")
    result = read_events(path)
    assert [e.message_id for e in result.events] == ["m1", "m3"]
    described = [r.describe() for r in result.rejects]
    assert described[0].startswith(f"{path}: line 2: field 'row': not valid JSON")
    assert described[1] == f"{path}: line 3: field 'timestamp': not ISO-8601 or Unix seconds: 'last tuesday'"
    assert "line 4: field 'message_id': duplicate message id 'm1'" in described[2]
    assert "line 5: field 'row': expected a JSON object, got a JSON array" in described[3]
    assert "line ends inside" not in described[0]  # "{not json" is broken on its line, not cut


def test_json_that_is_not_json_lines_is_named(tmp_path: Path) -> None:
    """Exports often come as one JSON array, or pretty-printed: each error says what the file is."""
    pretty = tmp_path / "pretty.jsonl"
    pretty.write_text(json.dumps([ROW, {**ROW, "message_id": "m2"}], indent=2) + "\n")
    described = [r.describe() for r in read_events(pretty).rejects]
    assert described[0] == (f"{pretty}: line 1: field 'row': not valid JSON (Expecting value); the line ends inside "
                            "the value: JSON Lines holds one whole object per line (not pretty-printed)")
    array = tmp_path / "export.json"
    array.write_text(json.dumps([ROW]))
    with pytest.raises(InputError, match=r"unsupported file type '.json' .*; a JSON array of messages becomes JSON "
                                         r"Lines with one object per line, e.g. jq -c '.\[\]' IN.json > OUT.jsonl$"):
        read_events(array)
    # another chat export (a platform's own): one object, the chat's id beside its list of messages
    chat = tmp_path / "result.json"
    chat.write_text(json.dumps({"name": "x", "id": 42, "meta": {"a": 1}, "messages": [ROW]}, indent=1))
    with pytest.raises(InputError, match=r"; its list 'messages' becomes JSON Lines with one object per line, e.g. "
                                         r"jq -c '.messages\[\]' IN.json > OUT.jsonl \(the chat's own id, which its "
                                         r"messages lack, goes into each: jq -c '.id as \$c \| .messages\[\] \| "
                                         r".chat = \$c', then --map conversation_id=chat; messages without ids "
                                         r"of their own: riskline convert --number-messages\)$"):
        read_events(chat)
    # Instagram's message_1.json, Telegram's result.json, DiscordChatExporter's: convert reads them as they are
    for export, app in (({"participants": [{"name": "a"}], "messages": [{"sender_name": "a", "content": "hi"}],
                          "thread_path": "inbox/a_1"}, "Instagram or Messenger"),
                        ({"name": "a", "type": "personal_chat", "id": 1, "messages": []}, "Telegram"),
                        ({"guild": {"id": "0", "name": "Direct Messages"}, "channel": {"id": "9"}, "messages": []},
                         r"Discord \(by DiscordChatExporter\)"),
                        ({"sam": [{"From": "sam", "Media Type": "TEXT", "Created": "2024-01-02 10:00:00 UTC"}]},
                         "Snapchat"),
                        ({"participants": ["a", "b"], "threadName": "a_1", "messages": [{"senderName": "a"}]},
                         "Messenger")):
        chat.write_text(json.dumps(export))
        with pytest.raises(InputError, match=rf"unsupported file type '.json' \(.*\); a chat exported from {app} "
                                             r"becomes message events with riskline convert INPUT -o OUT.jsonl$"):
            read_events(chat)


def test_one_conversation_is_read_with_the_reference_reader_s_checks(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join([
        json.dumps({**ROW, "conversation_id": 7}),  # an integer id, read as "7" (as to_event reads it)
        json.dumps({**ROW, "conversation_id": "c2"}),
        "{not json",
        json.dumps({**ROW, "conversation_id": " 7 ", "message_id": "m2", "timestamp": "last tuesday"}),
        json.dumps({**ROW, "conversation_id": "7", "message_id": "m1"}),
        json.dumps({**ROW, "conversation_id": "c2", "timestamp": "never"}),  # another conversation's bad row
        json.dumps({**ROW, "conversation_id": "7", "message_id": "m3"}),
    ]) + "\n")
    found = read_conversation(path, "7")
    assert [(e.conversation_id, e.message_id) for e in found.read.events] == [("7", "m1"), ("7", "m3")]
    assert [r.describe() for r in found.read.rejects] == [
        f"{path}: line 4: field 'timestamp': not ISO-8601 or Unix seconds: 'last tuesday'",
        f"{path}: line 5: field 'message_id': duplicate message id 'm1' in conversation '7'"]
    assert (found.n_conversations, found.unreadable) == (2, 1)
    whole = read_events(path)  # the same rows as the whole file's reader keeps for it
    assert found.read.events == [e for e in whole.events if e.conversation_id == "7"]
    assert read_conversation(path, "c9").read.events == []
    assert found.near == ()  # found: nothing to suggest
    # none found: ids that hold the one asked for (an id cut short when copied, or in another case),
    # else ids spelt almost as it is
    assert read_conversation(path, "C").near == ("c2",) and read_conversation(path, "nobody").near == ()
    assert read_conversation(path, "").near == ()  # in every id: no likelier than any
    first = read_conversation(path, None)  # none named: the file's first conversation, as read_events keeps it
    assert first.conversation_id == "7" and first.read.events == found.read.events
    assert first.first_ids == ("7", "c2") and first.n_conversations == 2
    many = write_jsonl(tmp_path / "many.jsonl", [{**ROW, "conversation_id": c, "message_id": f"m{i}"} for i, c in
                                                 enumerate(["a1", "a2", "a3", "a4"])]
                       + [{**ROW, "conversation_id": "a12", "timestamp": "never"}])
    assert read_conversation(many, None).first_ids == ("a1", "a2", "a3")  # the file's first three
    only_bad = read_conversation(many, "a12")  # there, its one row bad: nothing to suggest
    assert (only_bad.read.events, len(only_bad.read.rejects), only_bad.near) == ([], 1, ())
    ids = {"dm-000032-6fc0195f", "dm-000033-0a1b2c3d", "group-9"}
    assert _near("dm-000032-6fc0195g", ids) == ("dm-000032-6fc0195f",)  # one letter off
    assert _near("DM-0000", ids) == ("dm-000032-6fc0195f", "dm-000033-0a1b2c3d")


def test_csv_rows_and_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("conversation_id,message_id,sender_id,timestamp,text,attachment\n"
                    "c1,m1,u1,1700000000,\"hi, there\",\n"
                    "c1,m2,u2,1700000060,,image\n"
                    "c1,,u2,1700000060,oops,\n")
    result = read_events(path)
    assert [(e.text, e.attachment) for e in result.events] == [("hi, there", None), ("", "image")]
    assert result.rejects[0].describe() == f"{path}: line 4: field 'message_id': missing"


def test_a_csv_row_over_several_lines_is_named_by_the_lines_it_spans(tmp_path: Path) -> None:
    """A quoted value may hold line breaks: a bad row is named by where it starts and ends (it used to be named
    by its last line alone, which holds none of the field at fault), and blank lines between rows are counted."""
    path = tmp_path / "in.csv"
    path.write_text("conversation_id,message_id,sender_id,timestamp,text\n"
                    "c1,m1,u1,1700000000,\"hello\nthere\nfriend\"\n"
                    "c1,m2,u2,not-a-time,\"two\nlines\"\n"
                    "\n"
                    "c1,,u1,1700000060,ok\n"
                    "c1,m4,u1,1700000120,\"one\ntoo many\",x,y\n")
    for result in (read_events(path), read_rows(path)):
        assert [e.message_id for e in result.events] == ["m1"] and result.events[0].text == "hello\nthere\nfriend"
        assert [r.describe() for r in result.rejects] == [
            f"{path}: lines 5-6: field 'timestamp': not ISO-8601 or Unix seconds: 'not-a-time'",
            f"{path}: line 8: field 'message_id': missing",
            f"{path}: lines 9-10: field 'row': more values than header columns (7 for 5)"]


def test_parquet_with_native_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "in.parquet"
    table = pa.table({
        "conversation_id": ["c1", "c1"], "message_id": ["m1", "m2"], "sender_id": ["a", "b"],
        "timestamp": pa.array([1_700_000_000_000_000, 1_700_000_060_000_000], pa.timestamp("us", tz="UTC")),
        "text": ["x", None], "conversation_label": [1, 1],
    })
    pq.write_table(table, path)
    result = read_events(path)
    assert [e.timestamp for e in result.events] == [1_700_000_000.0, 1_700_000_060.0]
    assert result.events[1].text == ""


@pytest.mark.parametrize(("name", "content", "message"), [
    ("empty.jsonl", "", "empty file"),
    ("blank.jsonl", "\n\n", "empty file"),
    ("data.txt", "x", "unsupported file type '.txt'"),
    ("data.txt.gz", "x", r"unsupported file type '.gz' \(expected one of .jsonl, .csv, .parquet, .jsonl.gz, .csv.gz\)"),
    ("bad.parquet", "not parquet", "not a readable Parquet file"),
])
def test_unreadable_files(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        read_events(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_events(tmp_path / "absent.jsonl")
    (tmp_path / "exports").mkdir()  # a folder of any name is read as its data files: here, none
    for read in (read_events, load_labelled):
        with pytest.raises(InputError, match=r"exports: a folder with no data files"):
            read(tmp_path / "exports")
    os.mkfifo(pipe := tmp_path / "exports" / "live.jsonl")  # before: "no such file", and Spark read it as empty
    for read in (read_events, load_labelled):
        folder = re.escape(str(tmp_path / "exports"))
        for given, where in ((pipe, ""), (tmp_path / "exports", rf" \(in input folder {folder}\)")):
            with pytest.raises(InputError, match=rf"live.jsonl: not a regular file \(a named pipe, a device or a "
                                                 rf"socket\): save the data to a file{where}$"):
                read(given)


def test_standard_input_output_and_pipes_are_refused_by_what_they_are(tmp_path: Path) -> None:
    """`... | riskline score - -o ...`, `/dev/stdin`, `-o -`: named as what they are, not as a file type ''."""
    rows = json.dumps(ROW) + "\n"
    said = riskline("score", "-", "-o", tmp_path / "out.jsonl", stdin=rows)
    files = ".jsonl, .csv, .parquet, .jsonl.gz, .csv.gz"
    assert said.stderr.splitlines() == [f"riskline: error: -: riskline reads files, not standard input: save the data "
                                        f"to a file first ({files})"]
    said = riskline("score", "/dev/stdin", "-o", tmp_path / "out.jsonl", stdin=rows)
    assert said.stderr.splitlines() == ["riskline: error: /dev/stdin: not a regular file (a named pipe, a device or a "
                                        "socket): save the data to a file"]
    assert said.returncode == 2 and list(tmp_path.iterdir()) == []
    for output, what in (("-", "standard output"), ("/dev/stdout", "a pipe or a device")):
        said = riskline("score", write_jsonl(tmp_path / "in.jsonl", [ROW]), "-o", output, stdin="")
        assert said.stderr.splitlines() == [f"riskline: error: {output}: riskline writes files, not {what} (an output "
                                            f"is moved into place when whole); name a file ({files})"]


@pytest.mark.parametrize("fast", [True, False])  # clean files through Arrow, or every file row by row
def test_a_folder_is_read_as_its_data_files_in_path_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          fast: bool) -> None:
    """A dataset written in parts (by Spark, by day): every data file under the folder, each by its own
    suffix, in path order; Spark's _SUCCESS, checksums and hidden files are skipped; a copy of a message
    in a later file is that file's bad row."""
    folder = tmp_path / "events"
    (folder / "day=2").mkdir(parents=True)
    (folder / "day=1").mkdir()
    write_jsonl(folder / "day=2" / "part-0.jsonl", [{**ROW, "message_id": "m3"}, {**ROW, "message_id": "m1"}])
    pq.write_table(pa.Table.from_pylist([ROW, {**ROW, "message_id": "m2"}]), folder / "day=1" / "part-1.parquet")
    with (folder / "day=1" / "part-0.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(ROW))
        writer.writeheader()
        writer.writerow({**ROW, "conversation_id": "c0"})
    (folder / "day=1" / "empty.jsonl").write_text("")  # an empty part is no error while others have rows
    (folder / "_SUCCESS").write_text("")
    (folder / "day=1" / ".part-1.parquet.crc").write_text("not data")
    (folder / "_temporary").mkdir()
    (folder / "_temporary" / "part-9.jsonl").write_text("half-written")
    if not fast:
        monkeypatch.setattr(detection.readers, "_fast_events", lambda path: None)
    result = read_events(folder)
    assert [(e.conversation_id, e.message_id) for e in result.events] == [("c0", "m1"), ("c1", "m1"), ("c1", "m2"),
                                                                          ("c1", "m3")]
    assert [r.describe() for r in result.rejects] == [
        f"{folder / 'day=2' / 'part-0.jsonl'}: line 2: field 'message_id': duplicate message id 'm1' in "
        "conversation 'c1'"]
    assert read_conversation(folder, "c1").n_conversations == 2
    assert [e.message_id for e in read_conversation(folder, "c1").read.events] == ["m1", "m2", "m3"]


def test_links_under_a_folder_are_followed_once(tmp_path: Path) -> None:
    """A dataset may link its days in from elsewhere: their files are read (they were skipped without a
    word). A link back up, or a second link to a file, reads nothing twice; a link to nothing is named."""
    elsewhere = tmp_path / "archive" / "day=1"
    elsewhere.mkdir(parents=True)
    write_jsonl(elsewhere / "part-0.jsonl", [ROW, {**ROW, "message_id": "m2"}])
    folder = tmp_path / "events"
    (folder / "day=2").mkdir(parents=True)
    write_jsonl(folder / "day=2" / "part-0.jsonl", [{**ROW, "message_id": "m3"}])
    (folder / "day=1").symlink_to(elsewhere, target_is_directory=True)
    (folder / "day=2" / "back").symlink_to(folder, target_is_directory=True)  # a loop
    (folder / "day=2" / "same.jsonl").symlink_to(elsewhere / "part-0.jsonl")  # the same file again
    assert input_files(folder) == [folder / "day=1" / "part-0.jsonl", folder / "day=2" / "part-0.jsonl"]
    result = read_events(folder)
    assert [e.message_id for e in result.events] == ["m1", "m2", "m3"] and not result.rejects
    (folder / "day=2" / "gone.csv").symlink_to(tmp_path / "deleted.csv")
    with pytest.raises(InputError, match=rf"^{folder / 'day=2' / 'gone.csv'}: a link to a file that does not "
                                         rf"exist \(in input folder {folder}\)$"):
        read_events(folder)


def test_a_folder_without_data_or_with_other_files_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "events"
    folder.mkdir()
    (folder / "_SUCCESS").write_text("")
    with pytest.raises(InputError, match=rf"^{folder}: a folder with no data files \(expected names ending in "
                                         r"\.jsonl, \.csv, \.parquet, \.jsonl\.gz, \.csv\.gz\)$"):
        read_events(folder)
    (folder / "a.jsonl").write_text("")
    (folder / "b.csv").write_text("conversation_id,message_id,sender_id,timestamp,text\n")
    with pytest.raises(InputError, match=rf"^{folder}: no message rows in its 2 data files$"):
        read_events(folder)
    (folder / "b.csv").write_text("conversation_id,message_id,sender_id,timestamp,text\nc,m,u,never,hi\n")
    bad = read_events(folder)  # rows, none of them good: its rejects, not "no message rows"
    assert bad.events == [] and [r.describe() for r in bad.rejects] == [
        f"{folder / 'b.csv'}: line 2: field 'timestamp': not ISO-8601 or Unix seconds: 'never'"]
    (folder / "notes.txt").write_text("not messages")  # never skipped without a word: its rows would be lost
    with pytest.raises(InputError, match=rf"^{folder / 'notes.txt'}: unsupported file type '.txt' .*\(in input "
                                         rf"folder {folder}; files whose names begin with '_' or '.' are skipped\)$"):
        read_events(folder)


@pytest.mark.parametrize("name, content", [
    ("text.jsonl", json.dumps(ROW).encode().replace(b'"hello"', b'"caf\xe9"') + b"\n"),
    ("ignored.jsonl", json.dumps({**ROW, "note": "@"}).encode().replace(b'"@"', b'"caf\xe9"') + b"\n"),
    ("alone.jsonl", b"\xff\xfe\n"),
])
def test_a_json_line_that_is_not_utf8_is_a_bad_row(tmp_path: Path, name: str, content: bytes) -> None:
    """The line is named (Arrow's reader took such bytes without a word, or failed on first use of the
    text); the file's other lines stand, as in the partitioned and Spark engines."""
    path = tmp_path / name
    path.write_bytes(json.dumps({**ROW, "message_id": "m0"}).encode() + b"\n" + content + json.dumps(ROW).encode())
    read = read_events(path)
    assert [e.message_id for e in read.events] == ["m0", "m1"]
    (reject,) = read.rejects
    assert (reject.location, reject.field) == ("line 2", "row")
    assert re.fullmatch(r"not UTF-8 text \(byte \d+ of the line\)", reject.reason)


def test_lines_ending_in_a_lone_carriage_return(tmp_path: Path) -> None:
    """Old Mac line ends: each is a line, as Arrow's reader (clean files) and Spark's read them, so a bad
    row is one line, not the whole file."""
    path = tmp_path / "cr.jsonl"
    path.write_bytes(b"\r".join([json.dumps(ROW).encode(), b"{bad", json.dumps({**ROW, "message_id": "m2"}).encode()]))
    read = read_events(path)
    assert [e.message_id for e in read.events] == ["m1", "m2"]
    assert [(r.location, r.field) for r in read.rejects] == [("line 2", "row")]


def test_json_that_python_cannot_take_is_a_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "odd.jsonl"
    untimed = json.dumps({k: v for k, v in ROW.items() if k != "timestamp"} | {"message_id": "m2"})
    path.write_text("\n".join([json.dumps(ROW), "[" * 100_000 + "]" * 100_000,
                               untimed[:-1] + ', "timestamp": 1' + "0" * 5000 + "}",
                               json.dumps({**ROW, "message_id": "m3", "timestamp": 10**400}),
                               '{"conversation_id": "c1", "message_id": "m4", "sender_id": "u1", "timestamp": 1, '
                               '"text": "\\ud800"}']) + "\n")
    read = read_events(path)
    assert [e.message_id for e in read.events] == ["m1"]
    assert [(r.location, r.field) for r in read.rejects] == [("line 2", "row"), ("line 3", "row"),
                                                             ("line 4", "timestamp"), ("line 5", "text")]
    assert "recursion" in read.rejects[0].reason and "digits" in read.rejects[1].reason
    assert "1329 bits" in read.rejects[2].reason and "lone surrogate" in read.rejects[3].reason


def test_a_field_given_twice_in_one_object_is_a_bad_row_however_the_file_is_read(tmp_path: Path) -> None:
    """json keeps a key's last value, Arrow refuses the row, another reader (a filter before Riskline) may keep the
    first: a field given twice is a bad row, as a CSV column named twice is refused. Keys outside the event
    (ignored) may repeat, and whether a file goes through Arrow or line by line (a bad line elsewhere) changes
    nothing."""
    base = json.dumps(ROW)[:-1]
    twice = base + ', "text": "pay me"}'
    extra = base.replace('"m1"', '"m2"') + ', "meta": {"text": 1, "text": 2}, "x": 1, "x": 2}'
    clean, mixed = tmp_path / "clean.jsonl", tmp_path / "mixed.jsonl"
    clean.write_text(extra + "\n")  # Arrow reads it whole
    mixed.write_text("\n".join([twice, extra, "{bad"]) + "\n")  # Arrow refuses it: line by line
    assert [e.message_id for e in read_events(clean).events] == ["m2"]
    read = read_events(mixed)
    assert [e.message_id for e in read.events] == ["m2"] and read.events[0].text == ROW["text"]
    assert [(r.location, r.field) for r in read.rejects] == [("line 1", "text"), ("line 3", "row")]
    assert read.rejects[0].reason.startswith("given twice in one object: which value is meant is not clear")
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text(json.dumps({**ROW, "conversation_label": 1})[:-1] + ', "conversation_label": 0}\n')
    with pytest.raises(InputError, match=r"line 1: field 'conversation_label': given twice"):
        load_labelled(labelled)


def test_a_long_csv_value_reads_as_the_fast_path_reads_it(tmp_path: Path) -> None:
    long = "x" * 200_000  # over Python csv's default limit of 131,072 characters a value
    path = tmp_path / "long.csv"
    header = "conversation_id,message_id,sender_id,timestamp,text\n"
    path.write_text(header + f"c1,m1,u1,1700000000,{long}\n")
    assert [e.text for e in read_events(path).events] == [long]  # Arrow's reader
    path.write_text(header + f"c1,m1,u1,1700000000,{long}\nc1,m2,u1,soon,x\n")  # a bad row: row by row
    read = read_events(path)
    assert [e.text for e in read.events] == [long] and [r.field for r in read.rejects] == ["timestamp"]


@pytest.mark.parametrize("chunk", [100, 1 << 20])  # the file read in many pieces, or one
@pytest.mark.parametrize("end", [b"\n", b"\r\n", b"\r"])
def test_csv_that_is_not_utf8_names_the_line_and_byte(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, end: bytes,
                                                      chunk: int) -> None:
    monkeypatch.setattr(detection.inputs, "CHUNK_BYTES", chunk)
    # far past the reader's buffer, which is where Python's codec counts its byte from
    rows = [",".join(ROW).encode(), b'c0,m0,u1,1700000000,"two\nlines"']
    rows += [f"c1,m{i},u1,{1700000000 + i},hello {i}".encode() for i in range(3000)]
    rows[2502] = rows[2502].replace(b"hello", b"caf\xe9")
    path = tmp_path / "text.csv"
    path.write_bytes(end.join(rows) + end)
    with pytest.raises(InputError, match=rf"^{path}: line 2504: not UTF-8 text \(byte 27 of the line\)$"):
        read_events(path)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_a_file_in_utf16_or_utf32_is_said_as_that_by_every_reader(tmp_path: Path, model_dir: Path,
                                                                   encoding: str) -> None:
    """Windows PowerShell's ``>`` writes UTF-16: each line used to be a bad row "not UTF-8 text (byte 1...)", a CSV
    one such error. Now the file as a whole, with what it is and how to convert it, in each engine and reader."""
    name = "UTF-" + encoding.split("-")[1]
    lines = [json.dumps({**ROW, "message_id": f"m{i}"}) for i in range(3)]
    table = io.StringIO()
    write = csv.DictWriter(table, fieldnames=list(ROW))
    write.writeheader()
    write.writerow(ROW)
    mark = "\ufeff" if encoding.endswith("-be") else ""  # the codec without an order writes no mark
    files = []
    for suffix, text in ((".jsonl", "\n".join(lines) + "\n"), (".csv", table.getvalue())):
        files.append(tmp_path / f"events{suffix}")
        files[-1].write_bytes((mark + text).encode(encoding))
    files.append(tmp_path / "events.jsonl.gz")
    files[-1].write_bytes(gzip.compress(files[0].read_bytes()))
    said = (f"{name} text (it starts with a {name} byte order mark); riskline reads UTF-8: convert it first "
            f"(iconv -f {name} -t UTF-8, ")
    for path in files:
        for read in (read_events, read_rows, input_files):
            with pytest.raises(InputError, match=re.escape(f"{path}: {said}")):
                read(path)
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "b.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "a.csv").write_bytes(files[1].read_bytes())
    with pytest.raises(InputError, match=re.escape(f"{folder / 'a.csv'}: {said}")):
        read_events(folder)
    out = tmp_path / "out" / "scores.parquet"
    out.parent.mkdir()
    for engine, env in (("local", {}), ("local", {"RISKLINE_PARALLEL_MIN_BYTES": "0"}), ("spark", {})):
        run = riskline("score", files[0], "-o", out, "--model", model_dir, "--engine", engine, env=env)
        assert (run.returncode, run.stderr.count("\n")) == (2, 1) and f"{files[0]}: {said}" in run.stderr, run.stderr
    assert list(out.parent.iterdir()) == []
    files[0].write_bytes("\n".join(lines).encode("utf-8-sig"))  # UTF-8's own mark is read as before
    assert len(read_events(files[0]).events) == 3


def test_a_header_without_a_required_column_is_one_error(tmp_path: Path) -> None:
    semicolons = tmp_path / "excel.csv"  # Excel in many locales separates with ';'
    semicolons.write_text("conversation_id;message_id;sender_id;timestamp;text\nc1;m1;u1;2024-01-01T10:00:00Z;hi\n")
    with pytest.raises(InputError, match=r"excel.csv: line 1: the header is one column .* separated by ';'"):
        read_events(semicolons)
    renamed = tmp_path / "renamed.csv"
    renamed.write_text("conv,message_id,sender_id,timestamp,text\nc1,m1,u1,2024-01-01T10:00:00Z,hi\n")
    with pytest.raises(InputError, match=r"renamed.csv: line 1: no column 'conversation_id' \(its columns: conv, "):
        read_events(renamed)
    parquet = tmp_path / "t.parquet"
    pq.write_table(pa.Table.from_pylist([{k: v for k, v in ROW.items() if k != "text"}]), parquet)
    with pytest.raises(InputError, match=r"t.parquet: schema: no column 'text'"):
        read_events(parquet)


@pytest.mark.parametrize("packed", [False, True])
def test_broken_csv_quoting_is_one_error_naming_its_line(tmp_path: Path, packed: bool) -> None:
    """Every CSV reader here reads broken quoting without a word, and one stray quote makes the rows after
    it one message's text: before, the first two files below read as 2 messages of 4 each, the third's
    last message ran to the end of the file, and the fourth's first was 'say yo" now"'."""
    header = ",".join(ROW)
    files = {  # lines, and the error
        "stray": ([header, "c1,m1,u1,1700000000,hi", 'c1,m2,u1,1700000001,"yes', "c1,m3,u1,1700000002,hello",
                   "c1,m4,u1,1700000003,bye"],
                  r"line 3: a quoted value opens here and is never closed, so the rest of the file \(3 lines\) would "
                  r"be read as its text \(a value that starts with a quote must end with one; a quote inside a "
                  r"quoted value is written twice\)"),
        "stray later closed": ([header, 'c1,m1,u1,1700000000,"yes', "c1,m2,u1,1700000001,hello",
                                'c1,m3,u1,1700000002,"bye" she said', "c1,m4,u1,1700000003,ok"],
                               r"line 2: text follows the closing quote of a quoted value that opens here and closes "
                               r"on line 4; if a stray quote opened it, the rows of lines 3-4 were read into it "
                               r'\(a quote inside a quoted value is written twice, as ""\)'),
        "cut": ([header, 'c1,m1,u1,1700000000,"line one', 'line two"', 'c1,m2,u1,1700000001,"a ""quote"" and',
                 "more"], r"line 4: a quoted value opens here and is never closed, so the rest of the file \(2 "),
        "not doubled": ([header, 'c1,m1,u1,1700000000,"say "yo" now"', "c1,m2,u1,1700000001,ok"],
                        r"line 2: text follows the closing quote of a quoted value \(a quote inside"),
    }
    for name, (lines, error) in files.items():
        data = "\n".join(lines).encode() + b"\n"
        path = tmp_path / f"{name}.csv{'.gz' if packed else ''}"
        path.write_bytes(gzip.compress(data) if packed else data)
        for reader in (read_events, read_rows, load_labelled):  # fast path, reference reader, training data
            with pytest.raises(InputError, match=rf"^{re.escape(str(path))}: {error}"):
                reader(path)
    fine = tmp_path / "fine.csv"  # quotes doubled inside quoted values, and quotes inside an unquoted one
    fine.write_text(header + '\nc1,m1,u1,1700000000,"say ""yo"""\nc1,m2,u1,1700000001,he said "hi" ok')
    assert [e.text for e in read_events(fine).events] == [e.text for e in read_rows(fine).events] == \
        ['say "yo"', 'he said "hi" ok']


def test_a_column_named_twice_is_one_error(tmp_path: Path) -> None:
    """Which of two 'text' columns holds the text is not clear: before, the CSV fast path ended in a
    KeyError traceback, the reference reader took the last, and training read the last label."""
    csv_path = tmp_path / "twice.csv"
    csv_path.write_text(",".join(ROW) + ",text\n" + ",".join(map(str, ROW.values())) + ",again\n")
    parquet = tmp_path / "twice.parquet"
    pq.write_table(pa.table([pa.array([v]) for v in [*ROW.values(), "again"]], names=[*ROW, "text"]), parquet)
    for path, where in ((csv_path, "line 1"), (parquet, "schema")):
        for reader in (read_events, read_rows, load_labelled):
            with pytest.raises(InputError, match=rf"^{re.escape(str(path))}: {where}: the column 'text' appears 2 "
                                                 "times: which one holds it is not clear; keep one, or rename the "
                                                 "others$"):
                reader(path)
    labels = tmp_path / "labels.csv"
    labels.write_text(",".join(ROW) + ",conversation_label,conversation_label\n"
                      + ",".join(map(str, ROW.values())) + ",0,1\n")
    assert len(read_events(labels).events) == 1  # scoring reads no label
    with pytest.raises(InputError, match="the column 'conversation_label' appears 2 times"):
        load_labelled(labels)
    mapped = tmp_path / "mapped.csv"  # two columns read as one field
    mapped.write_text("thread,thread,message_id,sender_id,timestamp,text\nc1,c2,m1,u1,1700000000,hi\n")
    with pytest.raises(InputError, match=r"2 columns are read as 'conversation_id' \('thread', 'thread'\)"):
        list(detection.records.iter_records(mapped, {"thread": "conversation_id"}))


def test_header_only_csv_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("conversation_id,message_id,sender_id,timestamp,text\n")
    with pytest.raises(InputError, match="empty file"):
        read_events(path)


def test_write_helper_round_trip(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "ok.jsonl", [ROW, {**ROW, "message_id": "m2"}])
    assert len(read_events(path).events) == 2


def test_fast_path_matches_reference_reader(tmp_path: Path, synth_rows: list[dict[str, object]]) -> None:
    import csv

    from detection.readers import _fast_events, read_rows

    rows = [dict(r) for r in synth_rows[:500]]
    rows[3]["text"] = ""
    rows[4]["timestamp"] = "1700000000"
    rows[5]["recipient_id"] = None
    jsonl = write_jsonl(tmp_path / "a.jsonl", rows)
    csv_path = tmp_path / "a.csv"
    with csv_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    parquet = tmp_path / "a.parquet"
    pq.write_table(pa.Table.from_pylist([{k: (str(v) if k == "timestamp" else v) for k, v in r.items()}
                                         for r in rows]), parquet)
    for path in (jsonl, csv_path, parquet):
        fast = _fast_events(path)
        assert fast is not None, path
        assert fast == read_rows(path).events


def test_fast_path_declines_what_it_cannot_vouch_for(tmp_path: Path) -> None:
    from detection.readers import _fast_events

    cases = [{**ROW, "conversation_id": 7}, {**ROW, "timestamp": "2024-01-01T10:00:00"},
             {**ROW, "attachment": "gif"}, {**ROW, "sender_id": " padded"},
             {k: v for k, v in ROW.items() if k != "text"}, {**ROW, "recipient_id": "u2 "},
             {**ROW, "recipient_id": " "}, {**ROW, "message_id": "m" * 1025}, {**ROW, "recipient_id": "\u00fc" * 513},
             {**ROW, "text": "x" * 1_000_001}]
    for i, row in enumerate(cases):
        path = write_jsonl(tmp_path / f"{i}.jsonl", [row])
        assert _fast_events(path) is None, row
    two = tmp_path / "two.jsonl"  # Arrow reads two objects on one line as two rows; the reference reader, one bad row
    two.write_text(json.dumps(ROW) + "\n" + json.dumps({**ROW, "message_id": "m2"})
                   + json.dumps({**ROW, "message_id": "m3"}) + "\n")
    assert _fast_events(two) is None
    assert [(r.location, r.reason) for r in read_events(two).rejects] == [("line 2", "not valid JSON (Extra data)")]
    for blank in ("\n", "  \r\n"):  # the reference reader skips a blank line, as Arrow does, but counts it
        path = tmp_path / "blank.jsonl"
        path.write_text(json.dumps(ROW) + "\n" + blank + json.dumps({**ROW, "message_id": "m2"}) + "\n")
        assert _fast_events(path) is None and len(read_events(path).events) == 2
    for blank in ("  ", "\t", "\r"):  # and one of white space alone makes up the count of two objects on one line
        path = tmp_path / "both.jsonl"
        path.write_text(json.dumps(ROW) + " " + json.dumps({**ROW, "message_id": "m2"}) + "\n" + blank + "\n"
                        + json.dumps({**ROW, "message_id": "m3"}) + "\n")
        assert _fast_events(path) is None, repr(blank)
        rejects = read_events(path).rejects
        assert [(r.location, r.reason) for r in rejects] == [("line 1", "not valid JSON (Extra data)")]
    no_text = read_events(write_jsonl(tmp_path / "no-text.jsonl", [ROW, {k: v for k, v in ROW.items() if k != "text"}]))
    assert [(r.location, r.field, r.reason) for r in no_text.rejects] == [("line 2", "text", "missing")]
    long = read_events(write_jsonl(tmp_path / "long.jsonl", [ROW, {**ROW, "message_id": "m" * 1025}]))
    assert [(r.location, r.field) for r in long.rejects] == [("line 2", "message_id")]
    longest = [ROW, {**ROW, "message_id": "m2", "text": "x" * 1_000_001}]
    for path, where in ((write_jsonl(tmp_path / "longest.jsonl", longest), "line 2"),
                        (write_csv(tmp_path / "longest.csv", longest), "line 3")):
        assert [(r.location, r.field) for r in read_events(path).rejects] == [(where, "text")]
    dup = write_jsonl(tmp_path / "dup.jsonl", [ROW, ROW])
    assert _fast_events(dup) is None
    assert len(read_events(dup).rejects) == 1


def test_arrow_paths_never_disagree_with_the_reference_reader(tmp_path: Path) -> None:
    """Random small files with odd values, keys, lines and line ends: wherever the in-memory fast path
    or a partitioned block accepts Arrow's reading, it is the reference reader's, with no bad row."""
    import random

    from detection.events import to_event
    from detection.readers import _fast_events, read_rows
    from detection.splitting import clean_block

    rng = random.Random(7)
    values = ["", " ", "x", " x", "x ", "\u3000x", "7", 7, 7.5, None, True, [], {}, "IMAGE", "image", "gif",
              "1700000000", "2024-01-01T10:00:00Z", "2024-01-01 10:00:00+01:00", "2024-01-01T10:00:00", "1e3",
              "2024-13-01T10:00:00+00:00", "\x1fx", "a\u0000b", "9999-01-01T00:00:00+00:00"]
    base = {**ROW, "recipient_id": "u2", "attachment": None}

    def line(n: int) -> str:
        row: dict[str, object] = {**base, "message_id": f"m{n}", "conversation_id": rng.choice(["c1", "c2"])}
        for _ in range(rng.choice([0, 0, 0, 1, 2])):
            key = rng.choice([*base, "extra"])
            if rng.random() < 0.2:
                row.pop(key, None)
            else:
                row[key] = rng.choice(values)
        text = json.dumps(row, ensure_ascii=rng.random() < 0.5)
        odd = rng.random()  # two objects on a line, leading spaces, a repeated key, a cut line
        return text + json.dumps({**row, "message_id": f"x{n}"}) if odd < 0.03 else "  " + text if odd < 0.05 else \
            text.replace('"text"', '"text": 1, "text"', 1) if odd < 0.07 else text[:-1] if odd < 0.08 else text

    accepted = 0
    for trial in range(400):
        end = rng.choice(["\n", "\n", "\r\n"])
        lines = [line(n) for n in range(rng.randint(1, 6))]
        text = end.join(lines + ([lines[0]] if rng.random() < 0.1 else [])) + rng.choice([end, ""])
        if rng.random() < 0.05:
            text = text.replace(end, end * 2, 1)
        path = tmp_path / f"{trial}.jsonl"
        path.write_bytes(text.encode())
        reference = read_rows(path)
        if (fast := _fast_events(path)) is not None:
            accepted += 1
            assert (fast, reference.rejects) == (reference.events, []), text
        if (block := clean_block(path.read_bytes(), 1)) is not None:  # blocks leave copies to the scoring step
            records = [json.loads(x) for x in text.splitlines() if x.strip()]
            assert [to_event(r) for r in records] == [to_event(r) for r in block.select(list(base)).to_pylist()]
            assert all(r.field == "message_id" for r in reference.rejects), text
    assert accepted > 50  # the paths are exercised, not all declined


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_gzip_files_read_as_the_plain_ones(tmp_path: Path, suffix: str) -> None:
    rows = [{**ROW, "message_id": f"m{i}", "timestamp": f"2024-01-01T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z"}
            for i in range(3000)]
    plain = tmp_path / f"e{suffix}"
    if suffix == ".jsonl":
        write_jsonl(plain, rows)
    else:
        pa_csv.write_csv(pa.Table.from_pylist(rows), plain)
    packed = tmp_path / f"e{suffix}.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert detection.readers._fast_events(packed) is not None  # clean: Arrow reads it through gzip
    upper = tmp_path / f"E{suffix.upper()}.GZ"  # Arrow alone would not know the name for gzip
    upper.write_bytes(packed.read_bytes())
    assert detection.readers._fast_events(upper) == read_events(plain).events
    assert detection.inputs.data_bytes(packed) == plain.stat().st_size  # the size that picks the engine
    tiny = tmp_path / f"tiny{suffix}.gz"
    tiny.write_bytes(gzip.compress(b"x"))  # larger compressed than not
    assert detection.inputs.data_bytes(tiny) == tiny.stat().st_size
    assert read_events(packed).events == read_events(plain).events
    lines = plain.read_bytes().splitlines(keepends=True)
    bad = b"".join([*lines[:2000], lines[5], *lines[2000:]])  # a later copy of a message id: the row-by-row path
    plain.write_bytes(bad)
    packed.write_bytes(gzip.compress(bad))
    got, expected = read_events(packed), read_events(plain)
    assert got.events == expected.events and len(got.events) == 3000
    assert [(r.location, r.field, r.reason, r.record) for r in got.rejects] == \
        [(r.location, r.field, r.reason, r.record) for r in expected.rejects]
    assert [(r.path, r.location) for r in got.rejects] == [(str(packed), "line 2001")]


def test_gzip_files_that_cannot_be_read_are_named(tmp_path: Path) -> None:
    data = (json.dumps(ROW) + "\n").encode() * 5000
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(gzip.compress(data)[:-300])
    with pytest.raises(InputError, match=rf"^{cut}: a cut or damaged gzip file \(Compressed file ended"):
        read_events(cut)
    plain = tmp_path / "plain.jsonl.gz"  # named .gz, never compressed
    plain.write_bytes(data)
    with pytest.raises(InputError, match=rf"^{plain}: not a gzip file"):
        read_events(plain)


def test_typed_parquet_timestamps_read_as_row_by_row(tmp_path: Path) -> None:
    """Timestamps stored as a timestamp type or as numbers are converted as whole columns; wherever
    that is taken, it must be exactly what the reference reader gives row by row."""
    rng = random.Random(5)
    base = 1_700_000_000_123_456  # microseconds
    kinds = [pa.timestamp("s", "UTC"), pa.timestamp("ms", "UTC"), pa.timestamp("us", "UTC"),
             pa.timestamp("us", "+05:30"), pa.timestamp("us"), pa.timestamp("ns", "UTC"),
             pa.int64(), pa.int32(), pa.float64(), pa.float32(), pa.uint64()]
    taken = 0
    for trial in range(120):
        kind = kinds[trial % len(kinds)]
        n = rng.randint(1, 30)
        micros = [base + rng.randint(-10**12, 10**12) for _ in range(n)]
        if pa.types.is_timestamp(kind):
            per = {"s": 10**6, "ms": 10**3, "us": 1, "ns": 1}[kind.unit]
            values = [m // per * (1000 if kind.unit == "ns" else 1) for m in micros]
            column = pa.array(values, pa.int64()).cast(kind)
        elif pa.types.is_floating(kind):
            column = pa.array([m / 10**6 for m in micros], pa.float64()).cast(kind)
        else:
            column = pa.array([m // 10**6 for m in micros], pa.int64()).cast(kind)
        odd = rng.random()
        if odd < 0.15 and pa.types.is_floating(kind):
            column = pa.array([*column.to_pylist()[:-1], float("nan")], kind)
        elif odd < 0.3 and not pa.types.is_timestamp(kind):
            wrong = [40_000_000_000] if pa.types.is_unsigned_integer(kind) else [-1, 40_000_000_000] \
                if kind == pa.int64() else [-1]  # what each type can hold
            column = pa.array([*column.to_pylist()[:-1], rng.choice(wrong)], kind)
        table = pa.table({"conversation_id": ["c1"] * n, "message_id": [f"m{i}" for i in range(n)],
                          "sender_id": ["u1"] * n, "timestamp": column, "text": ["hi"] * n})
        path = tmp_path / f"t{trial}.parquet"
        pq.write_table(table, path)
        fast = detection.readers._fast_events(path)
        reference = read_rows(path)
        if fast is not None:
            taken += 1
            assert fast == reference.events and not reference.rejects, (kind, trial)
        elif not reference.rejects:  # declined, though every row is good: only for the kinds left to rows
            assert kind in (pa.timestamp("ns", "UTC"),), (kind, trial)
    assert taken >= 60


def _random_timestamp(rng: random.Random) -> str:
    """Text timestamps in the shapes converted as whole columns, and past their edges now and then."""
    def odd(plain: object, *edges: object) -> object:
        return rng.choice(edges) if rng.random() < 0.04 else plain

    if rng.random() < 0.25:  # Unix seconds
        whole = str(rng.randint(0, 40_000_000_000)).zfill(rng.choice([1, 1, 12]))
        fraction = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 25)))
        return str(odd(rng.choice([whole, f"{whole}.{fraction}"]), f"{whole}e3", f"-{whole}", f".{fraction}",
                       f"{whole}.", f" {whole}", "1" * 400, f"{whole}.{'9' * 40}", f"{whole}.{fraction}Z"))
    parts = [odd(rng.randint(1970, 2200), 0, 1, 1969, 2256, 2999, 3000, 9999), rng.randint(1, 12),
             odd(rng.randint(1, 28), 29, 30, 31, 32, 0), odd(rng.randint(0, 23), 24), odd(rng.randint(0, 59), 60),
             odd(rng.randint(0, 59), 60)]
    text = "{:04d}-{:02d}-{:02d}{}{:02d}:{:02d}:{:02d}".format(*parts[:3], odd(rng.choice("T "), "t", "_"), *parts[3:])
    if rng.random() < 0.5:
        text += "." + "".join(rng.choice("0123456789") for _ in range(odd(rng.randint(1, 6), 7, 9)))
    sign = rng.choice("+-")
    hours, minutes = odd(rng.choice([0, 1, 5, 14, 23]), 24), odd(rng.choice([0, 30, 45]), 59, 60)
    return text + str(odd(rng.choice(["Z", f"{sign}{hours:02d}:{minutes:02d}"]),
                          "z", f"{sign}{hours:02d}{minutes:02d}", f"{sign}{hours:02d}", "", " ", "+05:60"))


def test_text_timestamps_converted_as_columns_read_as_row_by_row(monkeypatch: pytest.MonkeyPatch) -> None:
    """Text timestamps in one plain shape are converted by Arrow as whole columns; wherever that is
    taken, it is exactly what parse_timestamp gives row by row, and refused wherever it refuses a row."""
    from detection.events import EventError, parse_timestamp

    rng = random.Random(11)
    taken = 0
    for trial in range(3000):
        if trial % 2:  # one shape for the whole column, as files have
            values = [_random_timestamp(random.Random(trial))]
            values += [_random_timestamp(random.Random(trial)) for _ in range(rng.randint(0, 4))]
        else:
            values = [_random_timestamp(rng) for _ in range(rng.randint(1, 5))]
        try:
            expected = [parse_timestamp(v) for v in values]
        except EventError:
            expected = None
        got = detection.arrow_events._seconds(pa.chunked_array([pa.array(values, pa.string())]))
        if got is None and expected is not None:  # microseconds past 2**53 (the year 2255) are not exact as floats
            assert max(expected) * 10**6 > 2**53, values
            continue
        assert (got if got is None else got.to_pylist()) == expected, values
        taken += expected is not None
    assert taken > 1200

    def refuse(value: object) -> float:
        raise AssertionError(f"parsed row by row: {value!r}")

    monkeypatch.setattr(detection.arrow_events, "parse_timestamp", refuse)  # whole columns, no row by row
    for values in (["2024-01-01T10:00:00Z", "2024-01-01 10:00:00.5+05:30"], ["1700000000", "1700000000.25"]):
        assert detection.arrow_events._seconds(pa.chunked_array([pa.array(values)])) is not None


def test_csv_fast_path_reads_as_the_reference_reader(tmp_path: Path) -> None:
    """Random small CSV files (values spanning lines in quotes, \r\n and lone \r inside and between
    rows, quoting, reordered and extra columns): wherever Arrow's reading is taken, it is the
    reference reader's."""
    rng = random.Random(2)
    pieces = ["hi", "line one\nline two", "a\r\nb", "a\rb", "x, y", 'say "yo"', " padded ", "", "\n", "é ✓ 🙂",
              '""', "a\n\nb", "\r\n\r\n", "tab\there"]
    taken = opened = 0
    for trial in range(600):
        fields = ["conversation_id", "message_id", "sender_id", "timestamp", "text"]
        if rng.random() < 0.3:
            fields.append("recipient_id")
        if rng.random() < 0.3:
            fields.insert(rng.randrange(len(fields)), "note")
        rows = []
        for i in range(rng.randint(1, 12)):
            row = {"conversation_id": f"c{i % 3}", "message_id": f"m{i}",
                   "sender_id": rng.choice(["u1", "u2", "u\n4"] + ([" u3"] if rng.random() < 0.05 else [])),
                   "timestamp": rng.choice(["2024-01-01T10:00:00Z", "1700000000"] if rng.random() < 0.9 else
                                           ["soon", "2024-01-01T10:00:00\n+00:00"]),
                   "text": "".join(rng.choice(pieces) for _ in range(rng.randint(0, 3))),
                   "recipient_id": rng.choice(["", "u2", "a\nb"]), "note": rng.choice(["", "x\ny", "z"])}
            rows.append({k: row[k] for k in fields})
        out = io.StringIO(newline="")
        writer = csv.DictWriter(out, fieldnames=fields, lineterminator=rng.choice(["\n", "\r\n", "\r"]),
                                quoting=rng.choice([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
        writer.writeheader()
        writer.writerows(rows)
        path = tmp_path / f"{trial}.csv"
        data = out.getvalue().encode()
        if rng.random() < 0.2:  # cut anywhere: inside a quoted value, the file ends with it open
            data = data[:rng.randrange(len(",".join(fields)) + 2, len(data) + 1)]  # after the header
        path.write_bytes(data.rstrip(b"\r\n") if rng.random() < 0.2 else data)
        try:
            fast = detection.readers._fast_events(path)
        except InputError as exc:  # a quoted value left open, or a character cut in two: the same error both ways
            with pytest.raises(InputError) as reference_error:
                read_rows(path)
            assert str(reference_error.value) == str(exc), data
            opened += "never closed" in str(exc)
            continue
        if fast is None:
            continue
        taken += 1
        reference = read_rows(path)
        assert fast == reference.events and not reference.rejects, data
    assert taken > 200 and opened > 10
    # and past Arrow's first block (1 MB), where a value spanning lines used to stop its reading
    rows = [{**ROW, "message_id": f"m{i}", "text": rng.choice(pieces) * 9} for i in range(40_000)]
    path = tmp_path / "large.csv"
    pa_csv.write_csv(pa.Table.from_pylist(rows), path)
    assert path.stat().st_size > 2**21
    assert detection.readers._fast_events(path) == read_rows(path).events


@pytest.mark.parametrize("n", [50_000, 50_001, 120_000])
def test_parquet_streamed_in_row_groups_keeps_every_row(tmp_path: Path, n: int) -> None:
    """Parquet with a schema is written 50,000 rows at a time (memory flat however long the input): the rows
    of every group, the last short or empty one too, all reach the file, in order."""
    from detection.writers import write_rows

    out = tmp_path / "o.parquet"
    write_rows(out, ({"i": k, "s": f"m{k}"} for k in range(n)), ["i", "s"],
               pa.schema([("i", pa.int64()), ("s", pa.string())]))
    written = pq.ParquetFile(out)
    assert written.read().column("i").to_pylist() == list(range(n))
    assert max(written.metadata.row_group(g).num_rows for g in range(written.metadata.num_row_groups)) == 50_000
