"""A JSON file's top-level object read a piece at a time (``training.json_stream``): the same fields and list
elements as ``json`` reads whole, whatever the pieces' size; where ``json`` cannot read a file, neither can it,
and it names the same line; a damaged Discord export is set aside before any of its rows."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from detection.inputs import InputError
from detection.readers import Reject
from tests.training.test_exports import _discord_export, _discord_message, _snap, _telegram_chat
from training import json_stream
from training.exports import iter_export_rows
from training.json_stream import object_stream

DOCUMENT = {"guild": {"id": "0", "name": "Direct Messages"}, "count": 12345, "ok": True, "none": None,
            "messages": [{"id": "1", "content": "héllo, \"you\"\n", "n": -1.5e3}, [1, [2, {}]], 7, "x", False, {}],
            "messageCount": 6, "after": [1, 2]}


def _read(path: Path) -> tuple[list[tuple[str, object]], bool, list[object]]:
    fields, listed, items = [], False, []
    for kind, place, value in object_stream(path, [("messages",)]):
        if kind == "field":
            fields.append((".".join(place), value))
        elif kind == "list":
            listed = True
        else:
            items.append(value)
    return fields, listed, items


@pytest.mark.parametrize("chunk", [1, 2, 7, 1 << 20])
@pytest.mark.parametrize("indent", [None, 2])
def test_it_reads_what_json_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int,
                                  indent: int | None) -> None:
    """Read in pieces of 1 to 2**20 characters (a number cut at a piece's end is not taken short), indented or
    not: the fields before and after the list, the list's elements, an empty list, no list at all, an object where
    the list would be; a byte-order mark before the file's text."""
    monkeypatch.setattr(json_stream, "CHUNK", chunk)
    path = tmp_path / "export.json"
    path.write_text(json.dumps(DOCUMENT, indent=indent, ensure_ascii=False), encoding="utf-8")
    fields, listed, items = _read(path)
    assert listed and items == DOCUMENT["messages"]
    assert dict(fields) == {k: v for k, v in DOCUMENT.items() if k != "messages"}
    path.write_text(json.dumps({"channel": {"id": 5}, "messages": []}, indent=indent))
    assert _read(path) == ([("channel", {"id": 5})], True, [])
    path.write_text(json.dumps({"messages": None, "n": 10}, indent=indent))
    assert _read(path) == ([("messages", None), ("n", 10)], False, [])
    # a listed place holding an object is one field (for its reader to refuse), not gone into
    path.write_text(json.dumps({"messages": {"0": {"id": "1"}}}, indent=indent))
    assert _read(path) == ([("messages", {"0": {"id": "1"}})], False, [])
    # a byte-order mark before it (as some Windows tools write JSON) is not part of it
    path.write_text(json.dumps(DOCUMENT, indent=indent, ensure_ascii=False), encoding="utf-8-sig")
    assert _read(path)[2] == DOCUMENT["messages"]


def test_what_json_cannot_read_it_cannot_either_naming_the_same_line(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Files cut short, or with a character taken out or put in at random: it refuses exactly those ``json``
    refuses, on the line ``json`` names; it reads the others as ``json`` does."""
    monkeypatch.setattr(json_stream, "CHUNK", 5)
    text = json.dumps(DOCUMENT, indent=1, ensure_ascii=False)
    path = tmp_path / "export.json"
    rng = random.Random(7)
    refused = 0
    for trial in range(400):
        at = rng.randrange(len(text))
        damaged = text[:at] if trial % 3 == 0 else text[:at] + text[at + 1:] if trial % 3 == 1 else \
            text[:at] + rng.choice('{}[],:"0x \n') + text[at:]
        path.write_text(damaged, encoding="utf-8")
        try:
            whole = json.loads(damaged)
        except json.JSONDecodeError as exc:
            refused += 1
            with pytest.raises(InputError, match=rf"^{path}: line {exc.lineno}: not JSON \("):
                _read(path)
            continue
        if isinstance(whole, dict):
            fields, listed, items = _read(path)
            lists = isinstance(whole.get("messages"), list)
            assert listed == lists and items == (whole["messages"] if lists else [])
            assert dict(fields) == {k: v for k, v in whole.items() if not (k == "messages" and lists)}
    assert refused > 200  # most damage makes no JSON: the comparison is of refusals, mostly
    for written, said in (('{"messages": []}\n\n{}', "line 3: not JSON (Extra data)"),
                          ('[1]\n2', "line 2: not JSON (Extra data)"), ("", "line 1: not JSON (Expecting value)")):
        path.write_text(written)
        with pytest.raises(InputError) as refusal:
            _read(path)
        assert str(refusal.value) == f"{path}: {said}"
    path.write_text("[1, 2]")  # no object: read as it is, for the reader to refuse
    assert _read(path) == ([("", [1, 2])], False, [])
    path.write_bytes(b'{"messages": ["caf\xe9"]}')
    with pytest.raises(InputError, match=r"export.json: not UTF-8 text$"):
        _read(path)


def test_a_damaged_discord_export_is_set_aside_before_any_of_its_rows(tmp_path: Path) -> None:
    """A part cut short (a download that stopped) is found on the first reading, before any row is written: with
    rejects it is set aside whole and the other parts converted; without, it stops the run naming its line."""
    folder = tmp_path / "dm"
    folder.mkdir()
    whole = json.dumps(_discord_export("DirectTextChat", [_discord_message(i, "111" if i % 2 else "222",
                                                                            content=f"m{i}") for i in range(1, 4)]),
                       indent=2)
    (folder / "sam [987654321].json").write_text(whole)
    cut = whole.replace('"1180000000000000', '"1190000000000000')[:len(whole) // 2]
    (folder / "sam [987654321] [part 2].json").write_text(cut)
    with pytest.raises(json.JSONDecodeError) as raised:
        json.loads(cut)
    line = raised.value.lineno
    rejects: list[Reject] = []
    rows = list(iter_export_rows(folder, rejects=rejects))
    assert [(r["message_id"], r["sender_id"], r["recipient_id"]) for r in rows] == [
        ("1180000000000000001", "111", "222"), ("1180000000000000002", "222", "111"),
        ("1180000000000000003", "111", "222")]
    assert [(Path(r.path).name, r.location, r.reason.startswith(f"line {line}: not JSON (")) for r in rejects] == [
        ("sam [987654321] [part 2].json", "file", True)]
    with pytest.raises(InputError, match=rf"\[part 2\].json: line {line}: not JSON \(.*\) \(use --errors FILE"):
        list(iter_export_rows(folder))


def test_telegrams_every_chat_export_is_read_a_chat_at_a_time(tmp_path: Path) -> None:
    """Telegram's export of every chat (chats.list, left_chats.list) gives each chat's rows, a chat at a time; one
    cut short is found on the first reading, before any row of its chats that could be read: set aside whole."""
    export = tmp_path / "result.json"
    whole = json.dumps({"about": "Here is the data you requested.", "personal_information": {"user_id": 42},
                        "chats": {"about": "chats", "list": [_telegram_chat(5, "user5"), {"id": 6}]},
                        "left_chats": {"about": "left", "list": [_telegram_chat(7, "user7")]}}, indent=1)
    export.write_text(whole)
    rejects: list[Reject] = []
    rows = list(iter_export_rows(export, rejects=rejects))
    assert sorted({r["conversation_id"] for r in rows}) == ["5", "7"] and len(rows) == 10
    assert [(r.location, r.reason) for r in rejects] == [
        ("chats.list[1]", "chats.list[1]: no list of 'messages', as the app's export holds")]
    cut = whole[:-len(whole) // 4]  # in the left chat: the first chat's rows are not written either
    export.write_text(cut)
    with pytest.raises(json.JSONDecodeError) as raised:
        json.loads(cut)
    rejects = []
    assert list(iter_export_rows(export, rejects=rejects)) == []
    assert [(r.location, r.reason.split(":")[0]) for r in rejects] == [("file", f"line {raised.value.lineno}")]


def test_snapchats_chats_are_read_a_chat_at_a_time(tmp_path: Path) -> None:
    """Snapchat's chat_history.json gives each chat's rows, a chat at a time, the account's own username (from any
    chat) the recipient in each; one that is no list is set aside alone; a file cut short is found before any row."""
    export = tmp_path / "chat_history.json"
    whole = json.dumps({"alex": [_snap("alex", "2024-03-02 20:00:00 UTC", "hi")], "odd": {"x": 1},
                        "sam": [_snap("sam", "2024-03-02 21:00:00 UTC", "yo"),
                                _snap("me.kid", "2024-03-02 21:01:00 UTC", "hey", mine=True)]}, indent=2)
    export.write_text(whole)
    rejects: list[Reject] = []
    rows = list(iter_export_rows(export, rejects=rejects))
    assert [(r["conversation_id"], r["sender_id"], r["recipient_id"]) for r in rows] == [
        ("alex", "alex", "me.kid"), ("sam", "sam", "me.kid"), ("sam", "me.kid", "sam")]
    assert [(r.location, r.reason) for r in rejects] == [("odd", "odd: not a list of messages")]
    export.write_text(whole[:-40])
    rejects = []
    assert list(iter_export_rows(export, rejects=rejects)) == [] and [r.location for r in rejects] == ["file"]
