"""`riskline convert` on chats exported by their apps: WhatsApp (an Android .txt, an iPhone's .zip), Telegram,
Instagram."""

from __future__ import annotations

import json
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from detection.events import parse_timestamp
from detection.inputs import InputError
from detection.readers import Reject, read_events
from tests.cli_helpers import riskline
from training.chat_rows import Reading
from training.data import load_labelled
from training.exports import export_kinds, iter_export_rows
from training.whatsapp import date_order

LONDON = ZoneInfo("Europe/London")
NNBSP = "\u202f"  # the narrow no-break space newer Android phones write before "PM"
LRM = "\u200e"  # the mark iPhones write before their notices and media


def _local(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC).astimezone(LONDON)


def _android(rows: list[dict[str, object]]) -> str:
    """``rows`` as an English (US) Android phone exports a chat: month first, a 12-hour clock, no seconds."""
    lines = ["1/2/24, 9:00 AM - Messages and calls are end-to-end encrypted. No one outside of this chat, not even "
             "WhatsApp, can read or listen to them. Tap to learn more."]
    for row in rows:
        at = _local(float(row["timestamp"]))  # type: ignore[arg-type]
        clock = at.strftime("%I:%M").lstrip("0") + NNBSP + at.strftime("%p")
        lines.append(f"{at.month}/{at.day}/{at:%y}, {clock} - {row['sender_id']}: {row['text']}")
    return "\n".join(lines) + "\n"


def _iphone(rows: list[dict[str, object]]) -> str:
    """``rows`` as an iPhone in the UK exports a chat: ``[day/month/year, 24-hour time]``, the encryption notice
    in the contact's name after a mark."""
    first = rows[0]["sender_id"]
    lines = [f"[02/01/2024, 09:00:00] {first}: {LRM}Messages and calls are end-to-end encrypted. No one outside of "
             "this chat, not even WhatsApp, can read or listen to them."]
    lines += [f"[{_local(float(row['timestamp'])):%d/%m/%Y, %H:%M:%S}] {row['sender_id']}: {row['text']}"  # type: ignore[arg-type]
              for row in rows]
    return "\r\n".join(lines) + "\r\n"


def _said(rows: list[dict[str, object]]) -> list[tuple[object, ...]]:
    """Each row's conversation, id, sender, recipient, time, text and attachment."""
    return [(r["conversation_id"], r["message_id"], r["sender_id"], r["recipient_id"], r["timestamp"], r["text"],
             r["attachment"]) for r in rows]


def _conversation(synth_rows: list[dict[str, object]], label: int) -> list[dict[str, object]]:
    """The first conversation labelled ``label``, its times as Unix seconds."""
    first = next(r["conversation_id"] for r in synth_rows if r["conversation_label"] == label)
    return [{**r, "timestamp": parse_timestamp(r["timestamp"])} for r in synth_rows if r["conversation_id"] == first]


def test_exports_convert_to_the_messages_they_hold(synth_rows: list[dict[str, object]], model_dir: Path,
                                                   tmp_path: Path) -> None:
    """An Android export (.txt) and an iPhone's (_chat.txt in a .zip) become their chats' messages: each chat a
    conversation named by its file, its messages numbered in order, their senders as named, their local times
    (BST and GMT) in UTC, the other of two people as recipient, a message's later lines kept, media as their kind
    with their captions, WhatsApp's notices left out; the result reads as message events."""
    grooming, ordinary = _conversation(synth_rows, 1), _conversation(synth_rows, 0)
    summer = [{**r, "timestamp": 1_719_900_000 + 97 * i} for i, r in enumerate(ordinary)]  # July: BST, UTC+1
    extra = [
        {"sender_id": summer[0]["sender_id"], "text": "first line\nsecond line: more", "timestamp": 1_719_990_000},
        {"sender_id": summer[1]["sender_id"], "text": "<Media omitted>", "timestamp": 1_719_990_060},
        {"sender_id": summer[0]["sender_id"], "text": "IMG-20240703-WA0001.jpg (file attached)\nlook",
         "timestamp": 1_719_990_120},
        {"sender_id": summer[1]["sender_id"], "text": "ok see you <This message was edited>",
         "timestamp": 1_719_990_180},
        {"sender_id": summer[1]["sender_id"], "text": "bye", "timestamp": 1_734_100_000},  # 13 December: GMT
    ]
    (tmp_path / "WhatsApp Chat with Jo.txt").write_text(_android(summer + extra), encoding="utf-8")
    iphone = [*grooming, {"sender_id": grooming[0]["sender_id"], "text": f"{LRM}image omitted",
                          "timestamp": float(grooming[-1]["timestamp"]) + 5},  # type: ignore[arg-type]
              {"sender_id": grooming[1]["sender_id"], "text": f"{LRM}<attached: 00000031-PHOTO-2024-01-02.jpg>",
               "timestamp": float(grooming[-1]["timestamp"]) + 6},  # type: ignore[arg-type]
              {"sender_id": grooming[1]["sender_id"], "text": f"{LRM}Missed voice call",
               "timestamp": float(grooming[-1]["timestamp"]) + 7}]  # type: ignore[arg-type]
    with zipfile.ZipFile(tmp_path / "WhatsApp Chat - Sam.zip", "w") as archive:
        archive.writestr("_chat.txt", "\ufeff" + _iphone(iphone))
        archive.writestr("00000031-PHOTO-2024-01-02.jpg", b"\xff\xd8")
    out = tmp_path / "events.jsonl"
    done = riskline("convert", tmp_path / "WhatsApp Chat with Jo.txt", "-o", out, "--timezone", "Europe/London")
    assert done.returncode == 0, done.stderr
    assert done.stderr == f"wrote {len(summer) + 5} messages in 1 conversation, 0 messages rejected, 1 notice of " \
                          f"the app's own left out -> {out}\n"
    jo = [json.loads(line) for line in out.read_text().splitlines()]
    people = [summer[0]["sender_id"], summer[1]["sender_id"]]
    assert {r["sender_id"] for r in summer} == set(people)  # two people: each the other's recipient
    minute = [datetime.fromtimestamp(int(float(r["timestamp"])) // 60 * 60, UTC).isoformat()  # type: ignore[arg-type]
              for r in summer + extra]
    assert [(r["conversation_id"], r["message_id"], r["sender_id"], r["recipient_id"], r["timestamp"]) for r in jo] \
        == [("WhatsApp Chat with Jo", str(i), r["sender_id"], people[1 - people.index(r["sender_id"])], minute[i - 1])
            for i, r in enumerate(summer + extra, 1)]
    assert [(r["text"], r["attachment"]) for r in jo[-5:]] == [
        ("first line\nsecond line: more", None), ("", "file"), ("look", "image"), ("ok see you", None),
        ("bye", None)]
    assert [r["text"] for r in jo[:-5]] == [r["text"] for r in summer]
    assert jo[0]["timestamp"] == "2024-07-02T06:00:00+00:00" and jo[-1]["timestamp"] == "2024-12-13T14:26:00+00:00"
    explained = riskline("explain", out, "--json", "--model", model_dir)  # its one chat: no need to name it
    assert explained.returncode == 0, explained.stderr
    assert [json.loads(line)["message_id"] for line in explained.stdout.splitlines()] == [r["message_id"] for r in jo]

    zipped = tmp_path / "sam.jsonl"
    done = riskline("convert", tmp_path / "WhatsApp Chat - Sam.zip", "-o", zipped, "--timezone", "Europe/London")
    assert done.returncode == 0, done.stderr
    sam = [json.loads(line) for line in zipped.read_text().splitlines()]
    seconds = [datetime.fromtimestamp(int(float(r["timestamp"])), UTC).isoformat()  # type: ignore[arg-type]
               for r in iphone[:-1]]
    assert [(r["conversation_id"], r["message_id"], r["sender_id"], r["timestamp"], r["text"], r["attachment"])
            for r in sam] == [("WhatsApp Chat - Sam", str(i), r["sender_id"], seconds[i - 1], r["text"], None)
                              for i, r in enumerate(grooming, 1)] + [
        ("WhatsApp Chat - Sam", str(len(grooming) + 1), grooming[0]["sender_id"], seconds[-2], "", "image"),
        ("WhatsApp Chat - Sam", str(len(grooming) + 2), grooming[1]["sender_id"], seconds[-1], "", "image")]
    assert "2 notices of the app's own left out" in done.stderr  # the encryption notice and the missed call
    assert len(read_events(zipped).events) == len(sam) and not read_events(zipped).rejects


def test_a_folder_of_chats_and_the_order_of_their_dates(tmp_path: Path) -> None:
    """A folder of exports (iPhones' chats all named _chat.txt) is one conversation a chat, named by its path
    there. A chat's date order is read from a day past 12; where none tells, from the folder's other chats (said
    in a note), else it is refused, asking for --time-format, which reads it as given."""
    folder = tmp_path / "donations"
    for name, lines in (("a/_chat.txt", ["[25/12/2023, 10:00:00] Kim: hi", "[26/12/2023, 10:01:00] Lee: yo"]),
                        ("b/_chat.txt", ["[01/02/2024, 10:00:00] Ana: hello", "[03/02/2024, 10:01:00] Bo: hey"])):
        (folder / name).parent.mkdir(parents=True)
        (folder / name).write_text("\n".join(lines) + "\n")
    (folder / "a" / ".DS_Store").write_bytes(b"\0")
    out = tmp_path / "events.jsonl"
    done = riskline("convert", folder, "-o", out, "--timezone", "UTC")
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[1] == (f"riskline: note: {folder / 'b/_chat.txt'}: no day past 12 tells its date "
                                           "order; read as the other chats' are")
    assert [(r["conversation_id"], r["message_id"], r["timestamp"]) for r in map(json.loads, out.open())] == [
        ("a/_chat", "1", "2023-12-25T10:00:00+00:00"), ("a/_chat", "2", "2023-12-26T10:01:00+00:00"),
        ("b/_chat", "1", "2024-02-01T10:00:00+00:00"), ("b/_chat", "2", "2024-02-03T10:01:00+00:00")]
    alone = riskline("convert", folder / "b" / "_chat.txt", "-o", tmp_path / "b.jsonl", "--timezone", "UTC")
    assert alone.returncode == 2 and alone.stderr == (
        f"riskline: error: {folder / 'b/_chat.txt'}: its dates could be day/month or month/day (no day past 12 in "
        "it): give --time-format, e.g. '%d/%m/%Y, %H:%M' or '%m/%d/%y, %I:%M %p', as its lines write them\n")
    assert not (tmp_path / "b.jsonl").exists()
    chats = list(iter_export_rows(folder / "b" / "_chat.txt", UTC, "%m/%d/%Y, %H:%M:%S"))
    assert [r["timestamp"] for r in chats] == ["2024-01-02T10:00:00+00:00", "2024-03-02T10:01:00+00:00"]
    dutch = tmp_path / "nl.txt"  # --time-format reads the line's date and time as written: here with no comma
    dutch.write_text("01-02-2024 22:15 - Sam: hoi\n")
    assert [r["timestamp"] for r in iter_export_rows(dutch, UTC, "%d-%m-%Y %H:%M")] == ["2024-02-01T22:15:00+00:00"]
    french = tmp_path / "fr.txt"  # a French phone writes "à" between them
    french.write_text("31/12/2023 à 22:15 - Sam: salut\n02/01/2024 à 9:05 - Lou: coucou\n")
    assert [(r["sender_id"], r["timestamp"], r["text"]) for r in iter_export_rows(french, UTC)] == [
        ("Sam", "2023-12-31T22:15:00+00:00", "salut"), ("Lou", "2024-01-02T09:05:00+00:00", "coucou")]
    assert date_order(iter(["2024-01-02", "2024.1.3"])) == "ymd"
    assert date_order(iter(["1/2/24", "1/13/24"])) == "mdy" and date_order(iter(["1/2/24", "2/1/24"])) is None
    with pytest.raises(ValueError, match="days past 12 both first and second"):
        date_order(iter(["13/1/24", "1/13/24"]))


def test_a_twelve_hour_clocks_midnight_and_noon(tmp_path: Path) -> None:
    """12 AM is the day's first hour and 12 PM noon; an hour 0 with AM or PM is no time of a 12-hour clock (set
    aside, not read); "p. m.", as Spanish phones write it, is PM under --time-format too."""
    chat = tmp_path / "chat.txt"
    chat.write_text("1/13/24, 12:05 AM - Sam: late\n1/13/24, 12:05 PM - Sam: noon\n1/13/24, 0:30 PM - Sam: odd\n"
                    "1/13/24, 1:05 p. m. - Ana: hola\n")
    rejects: list[Reject] = []
    rows = list(iter_export_rows(chat, UTC, rejects=rejects))
    assert [(r["text"], r["timestamp"]) for r in rows] == [
        ("late", "2024-01-13T00:05:00+00:00"), ("noon", "2024-01-13T12:05:00+00:00"),
        ("hola", "2024-01-13T13:05:00+00:00")]
    assert [(r.location, r.field, r.reason) for r in rejects] == [
        ("line 3", "timestamp", "not a time of a 12-hour clock: '1/13/24, 0:30 PM'")]
    spanish = tmp_path / "es.txt"
    spanish.write_text("13/1/24, 1:05\u202fp.\u00a0m. - Ana: hola\n")
    assert [r["timestamp"] for r in iter_export_rows(spanish, UTC, "%d/%m/%y, %I:%M %p")] == [
        "2024-01-13T13:05:00+00:00"]


def test_a_group_chats_notices_are_left_out_whatever_its_name_holds(tmp_path: Path) -> None:
    """A group's notices name no sender, even where its name, which they quote, holds ": "; a message that quotes
    something after its sender is a message. A group's messages have no one recipient."""
    group = tmp_path / "WhatsApp Chat with Squad.txt"
    group.write_text('12/30/23, 9:00 PM - Sam created group "Squad: ranked"\n'
                     "12/30/23, 9:00 PM - Sam added Alex and Jo\n"
                     '12/30/23, 9:01 PM - Sam changed the subject from "Squad: ranked" to "Squad: casual"\n'
                     "12/30/23, 9:02 PM - Alex: yo\n"
                     '12/30/23, 9:03 PM - You changed the group name to \u201cSquad: all\u201d\n'
                     '12/30/23, 9:04 PM - Jo: I changed my mind: "ok"\n'
                     "12/30/23, 9:05 PM - Jo left\n")
    reading = Reading()
    rows = list(iter_export_rows(group, UTC, reading=reading))
    assert [(r["message_id"], r["sender_id"], r["text"], r["recipient_id"]) for r in rows] == [
        ("1", "Alex", "yo", None), ("2", "Jo", 'I changed my mind: "ok"', None)]
    assert reading.notices == 5
    iphone = tmp_path / "_chat.txt"  # an iPhone writes a group's notices in its name, after a mark
    iphone.write_text(f"[30/12/2023, 21:00:00] Squad: {LRM}Sam created group \u201cSquad: ranked\u201d\n"
                      f"[30/12/2023, 21:00:01] Squad: {LRM}Sam added Alex\n"
                      "[30/12/2023, 21:02:00] Alex: yo\n[30/12/2023, 21:03:00] Sam: hi\n")
    assert [(r["sender_id"], r["recipient_id"]) for r in iter_export_rows(iphone, UTC)] == [("Alex", None),
                                                                                          ("Sam", None)]
    two = tmp_path / "two.txt"  # a chat of two: each the other's recipient, whatever the notices
    two.write_text("12/30/23, 9:00 PM - Sam changed their phone number to a new number. Tap to message.\n"
                   "12/30/23, 9:02 PM - Alex: yo\n12/30/23, 9:03 PM - Sam: hi\n")
    assert [(r["sender_id"], r["recipient_id"]) for r in iter_export_rows(two, UTC)] == [("Alex", "Sam"),
                                                                                       ("Sam", "Alex")]


def test_what_cannot_be_read_is_named(tmp_path: Path) -> None:
    """Times without --timezone, a file that is no export, an archive of several chats, a date that is none (set
    aside with --errors), and options that are for logs are each named, with nothing written."""
    chat = tmp_path / "chat.txt"
    chat.write_text("[31/01/2024, 10:00:00] Kim: hi\n[31/02/2024, 10:01:00] Lee: yo\n[01/03/2024, 1:02 PM] Kim: k\n")
    out = tmp_path / "events.jsonl"
    zone = riskline("convert", chat, "-o", out)
    assert zone.returncode == 2 and zone.stderr == (
        f"riskline: error: {chat}: WhatsApp writes times without a UTC offset, in the phone's own time zone: give it "
        "with --timezone ZONE (e.g. Europe/London)\n")
    bad = riskline("convert", chat, "-o", out, "--timezone", "UTC")
    assert bad.returncode == 2 and bad.stderr == (
        f"riskline: error: {chat}: line 2: field 'timestamp': not a date and time (day is out of range for month): "
        "'31/02/2024, 10:01:00' (use --errors FILE to set bad rows aside)\n")
    assert not out.exists()
    set_aside = riskline("convert", chat, "-o", out, "--timezone", "UTC", "--errors", tmp_path / "bad.jsonl")
    assert set_aside.returncode == 0, set_aside.stderr
    assert [(r["sender_id"], r["timestamp"]) for r in map(json.loads, out.open())] == [
        ("Kim", "2024-01-31T10:00:00+00:00"), ("Kim", "2024-03-01T13:02:00+00:00")]
    assert [(r["location"], r["field"], r["record"]["sender_id"]) for r in map(json.loads, (tmp_path / "bad.jsonl")
                                                                                 .open())] == [("line 2", "timestamp",
                                                                                                "Lee")]
    logs = riskline("convert", chat, "-o", out, "--timezone", "UTC", "--number-messages")
    assert logs.returncode == 2 and "are for message logs, not an app's chat export" in logs.stderr
    notes = tmp_path / "notes.txt"
    notes.write_text("meeting notes\n[31/01/2024, 10:00:00] Kim: hi\n")
    with pytest.raises(InputError, match=r"notes.txt: line 1: not a WhatsApp chat line, .*: 'meeting notes'$"):
        list(iter_export_rows(notes, UTC))
    with zipfile.ZipFile(tmp_path / "two.zip", "w") as archive:
        archive.writestr("_chat.txt", chat.read_text())
        archive.writestr("other.txt", chat.read_text())
    with pytest.raises(InputError, match=r"two.zip: a WhatsApp export holds its chat as one .txt file; this archive "
                                         r"holds 2 text files \(_chat.txt, other.txt\)$"):
        list(iter_export_rows(tmp_path / "two.zip", UTC))
    with zipfile.ZipFile(tmp_path / "with-media.zip", "w") as archive:  # a text file sent in the chat, beside it
        archive.writestr("_chat.txt", chat.read_text())
        archive.writestr("00000012-notes.txt", "call mum\n")
    assert [r["message_id"] for r in iter_export_rows(tmp_path / "with-media.zip", UTC, rejects=[])] == ["1", "3"]
    with zipfile.ZipFile(tmp_path / "photos.zip", "w") as archive:
        archive.writestr("1.jpg", b"\xff\xd8")
    zipped = riskline("convert", tmp_path / "photos.zip", "-o", out)  # said before --timezone is asked for
    assert zipped.returncode == 2 and zipped.stderr == (
        f"riskline: error: {tmp_path / 'photos.zip'}: a WhatsApp export holds its chat as one .txt file; this "
        "archive holds no .txt file\n")
    mixed = tmp_path / "mixed"  # message logs beside a chat: read as logs (which name the chat), none passed over
    mixed.mkdir()
    (mixed / "chat.txt").write_text(chat.read_text())
    (mixed / "logs.jsonl").write_text("{}\n")
    assert export_kinds(mixed) is None and list(export_kinds(mixed / "chat.txt") or ()) == [mixed / "chat.txt"]
    rejects: list[Reject] = []
    reading = Reading()
    assert len(list(iter_export_rows(chat, UTC, rejects=rejects, reading=reading))) == 2
    assert [r.location for r in rejects] == ["line 2"] and reading.notices == 0
    # a folder of donated chats, one of which is named as WhatsApp's export and is none, one an empty Telegram file:
    # with --errors each is set aside whole, before any of its rows, and the others are converted; without, the first
    # stops the run. Text files and zips that neither are named so nor open as a chat (sent in a chat, among a
    # download's media) are passed over, as the other media are
    donated = tmp_path / "donated"
    for name, text in (("a/_chat.txt", "[31/01/2024, 10:00:00] Kim: hi\n"),
                       ("b/WhatsApp Chat with Mum.txt", "call mum\n"),
                       ("c/result.json", '{"name": "x", "type": "personal_chat", "id": 3}'),
                       ("c/files/notes.txt", "call mum\n"), ("c/files/homework.zip", "not a zip"),
                       ("d/Mum.txt", "31/01/2024, 10:00 - Mum: hi\n")):
        (donated / name).parent.mkdir(parents=True, exist_ok=True)
        (donated / name).write_text(text)
    aside: list[Reject] = []
    assert [r["conversation_id"] for r in iter_export_rows(donated, UTC, rejects=aside)] == ["a/_chat", "d/Mum"]
    assert [(r.path, r.location, r.field, r.reason) for r in aside] == [
        (str(donated / "b/WhatsApp Chat with Mum.txt"), "file", "file", "line 1: not a WhatsApp chat line, which opens "
         "with its date and time ('[31/12/2023, 22:15:03] Sam: hi' or '12/31/23, 10:15 PM - Sam: hi'): 'call mum'"),
        (str(donated / "c/result.json"), "file", "file", "its top: no list of 'messages', as the app's export holds")]
    with pytest.raises(InputError, match=r"b/WhatsApp Chat with Mum.txt: line 1: not a WhatsApp chat line, .*: 'call "
                                         r"mum' \(use --errors FILE to set it aside and convert the other chats\)$"):
        list(iter_export_rows(donated, UTC))
    noted = riskline("convert", donated, "-o", tmp_path / "donated.jsonl", "--timezone", "UTC", "--errors",
                     tmp_path / "donated-bad.jsonl")
    assert noted.returncode == 0 and noted.stderr.splitlines()[-1] == (
        f"riskline: note: passed over 2 text files or zips that do not open as a WhatsApp chat ({donated}/c/files/"
        f"homework.zip, {donated}/c/files/notes.txt); a chat's export named as WhatsApp names it ('WhatsApp Chat with "
        "NAME.txt') is read, and what is wrong with it said")
    scored = riskline("score", chat, "-o", tmp_path / "scores.jsonl")
    assert scored.returncode == 2 and scored.stderr.rstrip().endswith(
        "a chat exported from WhatsApp becomes message events with riskline convert INPUT -o OUT.jsonl --timezone "
        "ZONE")
    pan = riskline("convert", tmp_path / "logs.csv", "-o", out, "--predators", tmp_path / "ids.txt")
    assert pan.returncode == 2 and pan.stderr == (f"riskline: error: {tmp_path / 'logs.csv'}: --predators is for PAN "
                                                  "2012 XML, whose labels it gives\n")


def _telegram_chat(chat_id: int, peer: str) -> dict[str, object]:
    """A chat as Telegram Desktop exports it: a call (a service message), text as a string or as a list of entities,
    a photo, a voice message exported without its file, a message from before exports carried Unix times."""
    def message(i: int, sender: str, **fields: object) -> dict[str, object]:
        return {"id": i, "type": "message", "date": "2024-01-02T10:00:00", "date_unixtime": str(1_704_189_600 + i),
                "from": sender.title(), "from_id": sender, **fields}
    return {"name": peer.title(), "type": "personal_chat", "id": chat_id, "messages": [
        {"id": 1, "type": "service", "date": "2024-01-02T10:00:00", "date_unixtime": "1704189600", "actor": "Sam",
         "actor_id": peer, "action": "phone_call", "text": ""},
        message(2, peer, text="hey, how old r u?"),
        message(3, "user42", text=["look ", {"type": "link", "text": "https://example.com"}, "!"]),
        message(4, peer, photo="photos/photo_1@02-01-2024_10-00-04.jpg", text="just me"),
        message(5, "user42", file="(File not included. Change data exporting settings to download.)",
                media_type="voice_message", mime_type="audio/ogg", text=""),
        message(6, peer, text=[{"type": "bold", "text": "send"}, " a private pic"]),
    ]}


def test_telegram_exports_convert_with_their_own_ids(tmp_path: Path) -> None:
    """Telegram Desktop's result.json (one chat's, or every chat's): each chat a conversation by its id, its
    messages by theirs, senders by their ids, text joined from its entities, media as their kind, Unix times; its
    service messages are left out; a message without a Unix time needs --timezone; a bad entry is set aside."""
    chat = _telegram_chat(5012345678, "user501")
    (tmp_path / "tg").mkdir()
    (tmp_path / "tg" / "result.json").write_text(json.dumps(chat, indent=1))
    (tmp_path / "tg" / "photos").mkdir()
    (tmp_path / "tg" / "photos" / "photo_1@02-01-2024_10-00-04.jpg").write_bytes(b"\xff\xd8")  # media beside
    out = tmp_path / "events.jsonl"
    done = riskline("convert", tmp_path / "tg", "-o", out)
    assert done.returncode == 0, done.stderr
    assert done.stderr == (f"wrote 5 messages in 1 conversation, 0 messages rejected, 1 notice of the app's own "
                           f"left out -> {out}\n")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    labelled = riskline("convert", tmp_path / "tg", "-o", tmp_path / "labelled.jsonl", "--label", "1")  # a known case
    assert labelled.returncode == 0 and "1 conversation labelled 1 (grooming or extortion)" in labelled.stderr
    assert load_labelled(tmp_path / "labelled.jsonl").labels == {"5012345678": 1}
    assert [json.loads(line) for line in (tmp_path / "labelled.jsonl").read_text().splitlines()] == [
        {**r, "conversation_label": 1} for r in rows]
    assert _said(rows) == [
        ("5012345678", "2", "user501", "user42", "2024-01-02T10:00:02+00:00", "hey, how old r u?", None),
        ("5012345678", "3", "user42", "user501", "2024-01-02T10:00:03+00:00", "look https://example.com!", None),
        ("5012345678", "4", "user501", "user42", "2024-01-02T10:00:04+00:00", "just me", "image"),
        ("5012345678", "5", "user42", "user501", "2024-01-02T10:00:05+00:00", "", "audio"),
        ("5012345678", "6", "user501", "user42", "2024-01-02T10:00:06+00:00", "send a private pic", None)]
    old = {"id": 7, "type": "message", "date": "2024-01-02T11:00:00", "from_id": "user42", "text": "ok"}
    full = {"about": "Here is the data you requested.", "personal_information": {"user_id": 42},
            "chats": {"list": [chat, {**_telegram_chat(77, "user77"), "messages": [
                *_telegram_chat(77, "user77")["messages"][:3], old, "not a message"]}]}}
    export = tmp_path / "result.json"
    export.write_text(json.dumps(full))
    rejects: list[Reject] = []
    every = list(iter_export_rows(export, rejects=rejects))
    assert [(r["conversation_id"], r["message_id"]) for r in every] == [("5012345678", str(i)) for i in range(2, 7)] \
        + [("77", "2"), ("77", "3")]
    assert [(r.location, r.field) for r in rejects] == [("chats.list[1].messages[3]", "timestamp"),
                                                        ("chats.list[1].messages[4]", "row")]
    assert rejects[0].reason.endswith("give --timezone for times without one")
    said = riskline("convert", export, "-o", tmp_path / "every.jsonl", "--errors", tmp_path / "bad.jsonl")
    assert said.returncode == 0 and said.stderr == (  # an entry that is no message is a message rejected, no export
        f"wrote 7 messages in 2 conversations, 2 messages rejected, 2 notices of the app's own left out -> "
        f"{tmp_path / 'every.jsonl'}\n")
    twice = tmp_path / "twice"  # a chat exported twice into one folder: its messages are written once
    twice.mkdir()
    for name in ("result.json", "result (1).json"):
        (twice / name).write_text(json.dumps(chat))
    rejects = []
    assert len(list(iter_export_rows(twice, rejects=rejects))) == 5
    assert [(r.path, r.location, r.reason) for r in rejects][-1] == (
        str(twice / "result.json"), "messages[5]", "duplicate message id '6' in conversation '5012345678' (an export "
        "read twice?)") and len(rejects) == 5
    zoned = list(iter_export_rows(export, ZoneInfo("Europe/Berlin"), rejects=[]))
    assert zoned[-1]["message_id"] == "7" and zoned[-1]["timestamp"] == "2024-01-02T10:00:00+00:00"
    # a zone given for Unix times changes nothing, and is said to; given for a time without one, it is read in it
    unzoned = riskline("convert", tmp_path / "tg", "-o", tmp_path / "unzoned.jsonl", "--timezone", "Europe/Berlin")
    assert unzoned.returncode == 0 and unzoned.stderr.splitlines()[1:] == [
        "riskline: note: --timezone Europe/Berlin changed nothing: every time read carries its own UTC offset or is a "
        "number (Unix time), and is read as it says"]
    assert [json.loads(line) for line in (tmp_path / "unzoned.jsonl").read_text().splitlines()] == rows
    used = riskline("convert", export, "-o", tmp_path / "zoned.jsonl", "--timezone", "Europe/Berlin", "--errors",
                    tmp_path / "bad.jsonl")
    assert used.returncode == 0 and used.stderr.startswith("wrote 8 messages") and "note" not in used.stderr
    group = tmp_path / "group.json"  # a group's messages have no one recipient, though two of its people wrote
    group.write_text(json.dumps({**chat, "type": "private_supergroup"}))
    assert [(r["sender_id"], r["recipient_id"]) for r in iter_export_rows(group)][:2] == [("user501", None),
                                                                                        ("user42", None)]


def test_instagram_threads_are_read_whole_and_as_written(tmp_path: Path) -> None:
    """An Instagram thread's parts (message_2.json older than message_1.json, each newest first) are one conversation
    in time order, numbered, named by its thread_path; text and names are read as written (Meta writes UTF-8 read back
    as Latin-1); photos, videos and voice notes (.mp4 too) are their kind; calls are left out. A part given alone
    while others lie beside it is refused."""
    def garbled(text: str) -> str:
        return text.encode("utf-8").decode("latin-1")
    thread = tmp_path / "download" / "your_instagram_activity" / "messages" / "inbox" / "jose_1234"
    (thread / "photos").mkdir(parents=True)
    (thread / "photos" / "1.jpg").write_bytes(b"\xff\xd8")
    people = [{"name": garbled("José")}, {"name": "max"}]
    newer = [{"sender_name": garbled("José"), "timestamp_ms": 1_704_189_900_000,
              "content": garbled("send it 😂 or else")},
             {"sender_name": "max", "timestamp_ms": 1_704_189_800_000, "call_duration": 31},
             {"sender_name": "max", "timestamp_ms": 1_704_189_700_000,
              "audio_files": [{"uri": "your_instagram_activity/messages/inbox/jose_1234/audio/2.mp4"}]}]
    older = [{"sender_name": garbled("José"), "timestamp_ms": 1_704_189_650_000,
              "photos": [{"uri": "your_instagram_activity/messages/inbox/jose_1234/photos/1.jpg"}]},
             {"sender_name": "max", "timestamp_ms": 1_704_189_600_000, "content": "hi"}]
    for number, listed in ((1, newer), (2, older)):
        (thread / f"message_{number}.json").write_text(json.dumps(
            {"participants": people, "messages": listed, "title": garbled("José"), "thread_path": "inbox/jose_1234"}))
    out = tmp_path / "events.jsonl"
    done = riskline("convert", thread, "-o", out)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert _said(rows) == [
        ("inbox/jose_1234", "1", "max", "José", "2024-01-02T10:00:00+00:00", "hi", None),
        ("inbox/jose_1234", "2", "José", "max", "2024-01-02T10:00:50+00:00", "", "image"),
        ("inbox/jose_1234", "3", "max", "José", "2024-01-02T10:01:40+00:00", "", "audio"),
        ("inbox/jose_1234", "4", "José", "max", "2024-01-02T10:05:00+00:00", "send it 😂 or else", None)]
    assert "1 notice of the app's own left out" in done.stderr
    download = list(iter_export_rows(tmp_path / "download"))  # the whole download: the thread named by its place
    assert {r["conversation_id"] for r in download} == {"your_instagram_activity/messages/inbox/jose_1234"}
    assert [r["message_id"] for r in download] == ["1", "2", "3", "4"]
    alone = riskline("convert", thread / "message_1.json", "-o", tmp_path / "part.jsonl")
    assert alone.returncode == 2 and alone.stderr == (
        f"riskline: error: {thread / 'message_1.json'}: a part of a thread whose other parts (message_2.json) lie "
        f"beside it: convert the thread's folder, {thread}, so that its messages are read as one\n")
    assert not (tmp_path / "part.jsonl").exists()


def _discord_message(i: int, author: str, **fields: object) -> dict[str, object]:
    """A message as DiscordChatExporter writes it (--format Json): a snowflake id, a time with its offset, its
    author an object."""
    return {"id": str(1_180_000_000_000_000_000 + i), "type": "Default",
            "timestamp": f"2024-01-02T22:{10 + i:02d}:00.123+01:00", "timestampEdited": None,
            "callEndedTimestamp": None, "isPinned": False, "content": "",
            "author": {"id": author, "name": f"name{author}", "discriminator": "0000", "nickname": "N",
                       "color": None, "isBot": False, "roles": [], "avatarUrl": "https://cdn.example/a.png"},
            "attachments": [], "embeds": [], "stickers": [], "reactions": [], "mentions": [], "inlineEmojis": [],
            **fields}


def _discord_export(kind: str, messages: list[dict[str, object]]) -> dict[str, object]:
    return {"guild": {"id": "0", "name": "Direct Messages", "iconUrl": "https://cdn.example/g.png"},
            "channel": {"id": "987654321", "type": kind, "categoryId": None, "category": "Private",
                        "name": "sam", "topic": None},
            "dateRange": {"after": None, "before": None}, "exportedAt": "2024-01-03T10:00:00.000+00:00",
            "messages": messages, "messageCount": len(messages)}


def test_discord_exports_as_csv_are_said_to_be_so(tmp_path: Path) -> None:
    """DiscordChatExporter's CSV names neither its messages nor its channel, and writes times as the computer shows
    them: convert asks for its JSON instead (not for columns --map cannot give); a CSV whose columns are mapped is
    logs, and what it lacks is said as for any."""
    export = tmp_path / "Guild - general [99].csv"
    export.write_text('\ufeffAuthorID,Author,Date,Content,Attachments,Reactions\n'
                      '"1","sam","1/2/2024 1:45 PM","hi","",""\n')
    done = riskline("convert", export, "-o", tmp_path / "out.jsonl")
    assert done.returncode == 2 and done.stderr == (
        f"riskline: error: {export}: line 1: DiscordChatExporter's CSV (columns AuthorID, Author, Date, Content...), "
        "which names neither its messages nor its channel, and writes times as the exporting computer shows them: "
        "export the channel as JSON (--format Json), and convert that with riskline convert\n")
    mapped = riskline("convert", export, "-o", tmp_path / "out.jsonl", "--map", "sender_id=AuthorID", "--map",
                      "text=Content", "--number-messages")
    assert mapped.returncode == 2 and "no column 'conversation_id', 'timestamp'" in mapped.stderr
    assert not (tmp_path / "out.jsonl").exists()


def test_discord_exports_convert_with_their_own_ids(tmp_path: Path) -> None:
    """A direct chat as DiscordChatExporter writes it is one conversation, the channel's: its messages keep their
    ids, their authors' ids are the senders, each the other's recipient, times in UTC; attachments (a voice
    message too), stickers and forwarded messages are read as their kind and text; calls and pins are left out. A
    group's messages have no one recipient; a partitioned export's parts are one conversation."""
    messages = [
        _discord_message(1, "111", content="yo u play ranked?"),
        _discord_message(2, "222", content="ya"),
        _discord_message(3, "111", type="Call", callEndedTimestamp="2024-01-02T22:20:00.000+01:00"),
        _discord_message(4, "111", attachments=[{"id": "5", "url": "https://cdn.example/1/IMG_1.jpg?ex=1",
                                                 "fileName": "IMG_1.jpg", "fileSizeBytes": 1000}]),
        _discord_message(5, "222", attachments=[{"id": "6", "url": "https://cdn.example/2/voice-message.ogg",
                                                 "fileName": "voice-message.ogg", "fileSizeBytes": 1000}]),
        _discord_message(6, "111", type="Reply", content="send a private pic",
                         reference={"type": "Default", "messageId": "1180000000000000002"}),
        _discord_message(7, "222", stickers=[{"id": "1", "name": "wave", "format": "Png", "sourceUrl": "x"}]),
        _discord_message(8, "111", forwardedMessage={"timestamp": "2024-01-01T00:00:00+00:00",
                                                     "content": "look at this", "attachments": []}),
        _discord_message(9, "222", type="ChannelPinnedMessage", content="Pinned a message."),
    ]
    export = tmp_path / "Direct Messages - sam [987654321].json"
    export.write_text(json.dumps(_discord_export("DirectTextChat", messages), indent=2))
    out = tmp_path / "events.jsonl"
    done = riskline("convert", export, "-o", out)
    assert done.returncode == 0, done.stderr
    assert done.stderr == (f"wrote 7 messages in 1 conversation, 0 messages rejected, 2 notices of the app's own "
                           f"left out -> {out}\n")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["conversation_id"], r["message_id"][-1], r["sender_id"], r["recipient_id"], r["timestamp"], r["text"],
             r["attachment"]) for r in rows] == [
        ("987654321", "1", "111", "222", "2024-01-02T21:11:00.123000+00:00", "yo u play ranked?", None),
        ("987654321", "2", "222", "111", "2024-01-02T21:12:00.123000+00:00", "ya", None),
        ("987654321", "4", "111", "222", "2024-01-02T21:14:00.123000+00:00", "", "image"),
        ("987654321", "5", "222", "111", "2024-01-02T21:15:00.123000+00:00", "", "audio"),
        ("987654321", "6", "111", "222", "2024-01-02T21:16:00.123000+00:00", "send a private pic", None),
        ("987654321", "7", "222", "111", "2024-01-02T21:17:00.123000+00:00", "", "image"),
        ("987654321", "8", "111", "222", "2024-01-02T21:18:00.123000+00:00", "look at this", None)]
    assert rows[0]["message_id"] == "1180000000000000001" and not read_events(out).rejects
    group = tmp_path / "group.json"
    group.write_text(json.dumps(_discord_export("DirectGroupTextChat", messages)))
    assert {r["recipient_id"] for r in iter_export_rows(group)} == {None}
    parts = tmp_path / "parts"  # --partition: "name [part 2].json"... hold the later messages, the same channel's
    parts.mkdir()
    for number, held in ((10, [_discord_message(12, "222", content="last")]), (1, messages[:1]),
                         (2, [_discord_message(10, "111", content="pay or else"),  # one of the two writes in each
                              _discord_message(11, "111", content="x", timestamp="2024-01-02T22:30:00")])):
        name = "sam.json" if number == 1 else f"sam [part {number}].json"
        (parts / name).write_text(json.dumps(_discord_export("DirectTextChat", held)))
    rejects: list[Reject] = []
    read = list(iter_export_rows(parts, rejects=rejects))
    assert [(r["conversation_id"], r["message_id"][-2:], r["sender_id"], r["recipient_id"]) for r in read] == [
        ("987654321", "01", "111", "222"), ("987654321", "10", "111", "222"), ("987654321", "12", "222", "111")]
    assert [(r.path, r.location, r.field) for r in rejects] == [  # a time with no offset
        (str(parts / "sam [part 2].json"), "messages[1]", "timestamp")]
    assert rejects[0].reason.endswith("give --timezone for times without one")
    scored = riskline("score", export, "-o", tmp_path / "scores.jsonl")
    assert scored.returncode == 2 and scored.stderr.rstrip().endswith(
        "a chat exported from Discord (by DiscordChatExporter) becomes message events with riskline convert INPUT "
        "-o OUT.jsonl")


def _snap(sender: str, created: str, content: str | None, media: str = "TEXT", mine: bool = False,
          title: str | None = None, finer: int = 0) -> dict[str, object]:
    """A message as Snapchat's "My Data" download writes it in json/chat_history.json."""
    return {"From": sender, "Media Type": media, "Created": created, "Content": content, "Conversation Title": title,
            "IsSender": mine, "Created(microseconds)": finer, "Media IDs": ""}


def test_snapchat_downloads_convert_chat_by_chat(tmp_path: Path) -> None:
    """Snapchat's chat_history.json: each chat (its key) a conversation, its messages in time order however listed
    (those of one second by their finer clock), numbered, those of no time last; the account's own username (its
    messages IsSender) the recipient of the other's in a chat of two, none in a group's (titled); media by their
    type; Snapchat's notices (STATUS...) left out. The older download, whose sent messages name no sender, is
    refused saying why."""
    download = tmp_path / "mydata" / "json"
    download.mkdir(parents=True)
    (download / "chat_history.json").write_text(json.dumps({
        "alex_99": [  # newest first
            _snap("alex_99", "2024-03-02 20:09:00 UTC", "now pay or i send it to ur followers"),
            _snap("alex_99", "2024-03-02 20:07:00 UTC", "", media="STATUSERASEDMESSAGE"),
            _snap("me.kid", "2024-03-02 20:06:00 UTC", "", media="MEDIA", mine=True),
            _snap("alex_99", "2024-03-02 20:05:00 UTC", "send a private pic"),
            _snap("me.kid", "2024-03-02 20:03:00 UTC", "15", mine=True),
            _snap("alex_99", "2024-03-02 20:00:00 UTC", "hey how old r u")],
        "0f3c-group": [  # newest first, both in one second: told apart by their finer clock
            _snap("me.kid", "2024-03-01 10:00:00 UTC", "hi", mine=True, title="squad", finer=1_709_287_200_700_000),
            _snap("sam", "2024-03-01 10:00:00 UTC", "yo", title="squad", finer=1_709_287_200_100_000)],
        "old_friend": [_snap("old_friend", "yesterday", "x"),
                       _snap("old_friend", "2024-02-01 10:00:00 UTC", None, media="NOTE")],
    }, indent=2))
    (download / "snap_history.json").write_text(json.dumps({"Received Snap History": [  # snaps: no chat's messages
        {"From": "alex_99", "Media Type": "IMAGE", "Created": "2024-03-02 20:08:00 UTC"}]}))
    rejects: list[Reject] = []
    reading = Reading()
    rows = list(iter_export_rows(tmp_path / "mydata", rejects=rejects, reading=reading))
    assert _said(rows) == [
        ("json/alex_99", "1", "alex_99", "me.kid", "2024-03-02T20:00:00+00:00", "hey how old r u", None),
        ("json/alex_99", "2", "me.kid", "alex_99", "2024-03-02T20:03:00+00:00", "15", None),
        ("json/alex_99", "3", "alex_99", "me.kid", "2024-03-02T20:05:00+00:00", "send a private pic", None),
        ("json/alex_99", "4", "me.kid", "alex_99", "2024-03-02T20:06:00+00:00", "", "image"),
        ("json/alex_99", "5", "alex_99", "me.kid", "2024-03-02T20:09:00+00:00", "now pay or i send it to ur followers",
         None),
        ("json/0f3c-group", "1", "sam", None, "2024-03-01T10:00:00+00:00", "yo", None),
        ("json/0f3c-group", "2", "me.kid", None, "2024-03-01T10:00:00+00:00", "hi", None),
        ("json/old_friend", "1", "old_friend", "me.kid", "2024-02-01T10:00:00+00:00", "", "audio")]
    assert [(r.location, r.field, r.record["timestamp"]) for r in rejects] == [("old_friend[0]", "timestamp",
                                                                                 "yesterday")]
    assert reading.notices == 1
    snaps = riskline("convert", download / "snap_history.json", "-o", tmp_path / "snaps.jsonl")
    assert snaps.returncode == 2 and snaps.stderr == (f"riskline: error: {download / 'snap_history.json'}: "
                                                      "Snapchat's snaps or calls, not its chats: convert its "
                                                      "chat_history.json\n")
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"Received Saved Chat History": [
        {"From": "a", "Media Type": "TEXT", "Created": "2022-02-02 12:00:00 UTC", "Text": "hi"}],
        "Sent Saved Chat History": []}))
    refused = riskline("convert", old, "-o", tmp_path / "old.jsonl")
    assert refused.returncode == 2 and refused.stderr == (
        f"riskline: error: {old}: an older Snapchat download ('Received Saved Chat History', 'Sent Saved Chat "
        "History'), whose messages sent name no sender: not read; download your data again, as Snapchat now writes "
        "it (a list of messages for each chat)\n")


def test_a_downloads_zip_is_read_as_the_folder_it_unzips_to(tmp_path: Path) -> None:
    """An app's download as its .zip (JSON, no WhatsApp .txt: Instagram's, Snapchat's) gives the rows its unzipped
    folder gives, ids and all, its media passed over; in a folder each zip's chats are named under its place, so
    two people's downloads stay apart. What cannot be read is named inside its zip (zip!path), in the error and in
    --errors; an encrypted or damaged file (a WhatsApp zip's too) is one line, not a traceback. Nothing unpacked
    is left behind."""
    instagram, snapchat = tmp_path / "instagram-kid-2024.zip", tmp_path / "mydata~1.zip"
    thread = "your_instagram_activity/messages/inbox/alex_1234"
    listed = [{"sender_name": "alex", "timestamp_ms": 1_704_189_900_000, "content": "pay or i post it"},
              {"sender_name": "kid", "timestamp_ms": 1_704_189_800_000, "photos": [{"uri": "x.jpg"}]}]
    with zipfile.ZipFile(instagram, "w") as archive:
        for number, messages in ((1, listed), (2, [{"sender_name": "alex", "timestamp_ms": 1_704_189_600_000,
                                                    "content": "hey"}])):
            archive.writestr(f"{thread}/message_{number}.json", json.dumps({
                "participants": [{"name": "alex"}, {"name": "kid"}], "messages": messages,
                "thread_path": "inbox/alex_1234"}))
        archive.writestr(f"{thread}/photos/x.jpg", b"\xff\xd8")
        archive.writestr("personal_information/personal_information.json", "{}")
        archive.writestr(f"__MACOSX/{thread}/._message_1.json", b"\x00\x05")
    with zipfile.ZipFile(snapchat, "w") as archive:
        archive.writestr("json/chat_history.json", json.dumps({"alex_99": [
            _snap("alex_99", "2024-03-02 20:00:00 UTC", "how old r u"), _snap("me", "2024-03-02 20:01:00 UTC", "15",
                                                                              mine=True)]}))
        archive.writestr("json/snap_history.json", json.dumps({"alex_99": [_snap("alex_99", "2024-03-02 19:00:00 "
                                                                                            "UTC", "")]}))
    unpacked = tmp_path / "unpacked"
    for archive_path in (instagram, snapchat):
        with zipfile.ZipFile(archive_path) as archive:
            archive.extractall(unpacked / archive_path.stem)
        zipped_rows = list(iter_export_rows(archive_path))
        assert zipped_rows == list(iter_export_rows(unpacked / archive_path.stem)) and zipped_rows
    assert [(r["conversation_id"], r["message_id"], r["attachment"]) for r in iter_export_rows(instagram)] == [
        (thread, "1", None), (thread, "2", "image"), (thread, "3", None)]
    with zipfile.ZipFile(instagram) as archive:
        newest = archive.read(f"{thread}/message_1.json")
    with zipfile.ZipFile(posts := tmp_path / "facebook-kid.zip", "w") as archive:  # a .txt that is no chat beside
        archive.writestr(f"{thread}/message_1.json", newest)
        archive.writestr("your_facebook_activity/posts/post_text.txt", "first day at school\n")
    assert [r["text"] for r in iter_export_rows(posts)] == ["", "pay or i post it"]
    people = tmp_path / "people"
    for person in ("a", "b"):
        (people / person).mkdir(parents=True)
        (people / person / instagram.name).write_bytes(instagram.read_bytes())
    assert sorted({r["conversation_id"] for r in iter_export_rows(people)}) == [
        f"a/instagram-kid-2024/{thread}", f"b/instagram-kid-2024/{thread}"]

    with zipfile.ZipFile(bad := tmp_path / "bad.zip", "w") as archive:
        archive.writestr("json/chat_history.json", json.dumps({"alex_99": [_snap("alex_99", "soon", "hi"),
                                                                           _snap("alex_99", "2024-03-02 20:00:00 UTC",
                                                                                 "hey")]}))
    temp = tmp_path / "temp"
    temp.mkdir()
    out = tmp_path / "out.jsonl"
    stopped = riskline("convert", bad, "-o", out, env={"TMPDIR": str(temp)})
    assert stopped.returncode == 2 and stopped.stderr == (
        f"riskline: error: {bad}!json/chat_history.json: alex_99[0]: field 'timestamp': not ISO-8601 or Unix seconds: "
        "'soon' (use --errors FILE to set bad rows aside)\n")
    aside = riskline("convert", bad, "-o", out, "--errors", tmp_path / "bad.jsonl", env={"TMPDIR": str(temp)})
    assert aside.returncode == 0, aside.stderr
    assert [(r["file"], r["location"]) for r in map(json.loads, (tmp_path / "bad.jsonl").open())] == [
        (f"{bad}!json/chat_history.json", "alex_99[0]")]
    assert [r["text"] for r in map(json.loads, out.open())] == ["hey"] and list(temp.iterdir()) == []
    full = riskline("convert", instagram, "-o", out, env={"TMPDIR": str(temp)}, max_file_bytes=100)  # a disk full
    assert full.returncode == 2 and re.fullmatch(
        rf"riskline: error: {re.escape(str(instagram))}!{thread}/message_1.json: could not be unpacked to a temporary "
        rf"folder, {re.escape(str(temp))}/riskline-convert-\w+ \(File too large\): set TMPDIR to a folder with room, "
        r"or unzip it there and convert its folder\n", full.stderr) and list(temp.iterdir()) == []
    with zipfile.ZipFile(other := tmp_path / "settings.zip", "w") as archive:
        archive.writestr("settings/account.json", "{}")
    with pytest.raises(InputError, match=r"settings.zip: a zip of JSON holding no chat export \(Instagram's"):
        list(iter_export_rows(other))
    html = "your_instagram_activity/messages/inbox/alex_1234/message_1.html"  # Meta's download as HTML, its default
    with zipfile.ZipFile(html_zip := tmp_path / "instagram-html.zip", "w") as archive:
        archive.writestr(html, "<html></html>")
        archive.writestr("personal_information/personal_information.html", "<html></html>")
    with zipfile.ZipFile(html_zip) as archive:
        archive.extractall(html_folder := tmp_path / "instagram-html")
    said = ("Instagram's or Facebook's messages as HTML (message_1.html), which riskline does not read: download "
            "your information again in the JSON format")
    with pytest.raises(InputError) as raised:
        list(iter_export_rows(html_zip))
    assert str(raised.value) == f"{html_zip}: {said}"
    refused = riskline("convert", html_folder, "-o", out)
    assert refused.returncode == 2 and refused.stderr == f"riskline: error: {html_folder}: {said}\n"
    (html_folder / "logs.jsonl").write_text("{}\n")  # message logs beside: read as logs, which name what is not one
    logs = riskline("convert", html_folder, "-o", out)
    assert logs.returncode == 2 and ".html: unsupported file type '.html'" in logs.stderr
    scored = riskline("score", html_folder / html, "-o", out)
    assert scored.returncode == 2 and scored.stderr.rstrip().endswith(
        "an app's chats downloaded or exported as HTML (Instagram's, Facebook's, Snapchat's, Telegram's, "
        "DiscordChatExporter's) are not read: have them as JSON, then riskline convert INPUT -o OUT.jsonl")
    # Telegram Desktop's export as it comes by default (a chat's messages.html, messages2.html..., its styles
    # beside), and DiscordChatExporter's (named by the channel and its id): said to be HTML, asking for JSON
    telegram = tmp_path / "ChatExport_2024-01-15"
    (telegram / "css").mkdir(parents=True)
    for name in ("messages.html", "messages2.html", "css/style.css"):
        (telegram / name).write_text("<html></html>")
    discord = tmp_path / "Guild - general [123456789012345678] [part 2].html"
    discord.write_text("<html></html>")
    for source, said in ((telegram, "Telegram's chats as HTML (messages.html), which riskline does not read: export "
                                    "them again with 'Machine-readable JSON' as the format"),
                         (telegram / "messages2.html", "Telegram's chats as HTML"),
                         (discord, "DiscordChatExporter's HTML, which riskline does not read: export the channel "
                                   "again with --format Json")):
        refused = riskline("convert", source, "-o", out)
        assert refused.returncode == 2 and refused.stderr.startswith(f"riskline: error: {source}: {said}")
        scored = riskline("score", source / "messages.html" if source == telegram else source, "-o", out)
        assert scored.returncode == 2 and "Telegram's, DiscordChatExporter's) are not read" in scored.stderr
    with zipfile.ZipFile(snap_html := tmp_path / "mydata~html.zip", "w") as archive:
        archive.writestr("html/chat_history.html", "<html></html>")
        archive.writestr("json/account.json", "{}")
    with pytest.raises(InputError) as raised:
        list(iter_export_rows(snap_html))
    assert str(raised.value) == (f"{snap_html}: Snapchat's chats as HTML (chat_history.html), which riskline does "
                                 "not read: download your data again with 'Export JSON Files' ticked")

    def spoilt(archive_path: Path, name: str, body: str, encrypted: bool) -> Path:
        with zipfile.ZipFile(archive_path, "w") as archive:
            archive.writestr(name, body)
        data = bytearray(archive_path.read_bytes())
        if encrypted:  # the flag zipfile reads for it, in the file's header and in the zip's directory
            data[6] |= 1
            data[data.index(b"PK\x01\x02") + 8] |= 1
        else:  # a byte of the file changed: its checksum no longer holds
            data[data.index(body[:8].encode())] ^= 1
        archive_path.write_bytes(bytes(data))
        return archive_path
    chat = "[31/01/2024, 10:00:00] Kim: hello there, long time\n"
    snaps = json.dumps({"alex_99": [_snap("alex_99", "2024-03-02 20:00:00 UTC", "hello there")]})
    for archive_path, name, body, said in (
            (tmp_path / "wa_damaged.zip", "_chat.txt", chat, "damaged (Bad CRC-32 for file '_chat.txt'): export or "
                                                             "download it again"),
            (tmp_path / "wa_locked.zip", "_chat.txt", chat, "encrypted: unzip it with its password, and convert "
                                                            "what it holds"),
            (tmp_path / "dl_damaged.zip", "json/chat_history.json", snaps,
             "damaged (Bad CRC-32 for file 'json/chat_history.json'): export or download it again"),
            (tmp_path / "dl_locked.zip", "json/chat_history.json", snaps,
             "encrypted: unzip it with its password, and convert what it holds")):
        with pytest.raises(InputError) as raised:
            list(iter_export_rows(spoilt(archive_path, name, body, "locked" in archive_path.name), UTC))
        assert str(raised.value) == f"{archive_path}!{name}: {said}"


def test_messengers_end_to_end_encrypted_chats_convert(tmp_path: Path) -> None:
    """Messenger's end-to-end encrypted export (a file a chat, at its root, media beside): each chat a conversation
    named by its threadName, its messages in time order however listed, numbered, their senders by name, the
    other of two participants the recipient; media by their file's kind (a file where none is listed); a message
    unsent, or a placeholder for one the export could not hold, left out; text written as Latin-1 read as
    written."""
    def message(sender: str, seconds: int, text: str = "", **fields: object) -> dict[str, object]:
        return {"senderName": sender, "timestamp": 1_709_408_400_000 + 1000 * seconds, "text": text,
                "type": "text", "media": [], "reactions": [], "isUnsent": False, **fields}
    export = tmp_path / "messages"
    (export / "media").mkdir(parents=True)
    (export / "media" / "3f2a.jpeg").write_bytes(b"\xff\xd8")
    (export / "Alex Doe_40.json").write_text(json.dumps({"participants": ["Kid", "Alex Doe"],
                                                         "threadName": "Alex Doe_40", "messages": [
        message("Alex Doe", 600, "now pay or i post it"),
        message("Kid", 300, type="media", media=[{"uri": "./media/3f2a.jpeg"}]),
        message("Alex Doe", 250, "x", isUnsent=True),
        message("Alex Doe", 200, "send a private pic"),
        message("Kid", 100, "Jos\u00c3\u00a9 here"),
        message("Kid", 400, type="placeholder"),
        message("Alex Doe", 0, "hey"),
        message("Kid", 500, type="media", media=[{"uri": "./media/9a1b.mp4"}]),
        message("Kid", 550, type="media")]}))  # its file not listed: a file all the same
    reading = Reading()
    rows = list(iter_export_rows(export, reading=reading))
    assert _said(rows) == [
        ("Alex Doe_40", "1", "Alex Doe", "Kid", "2024-03-02T19:40:00+00:00", "hey", None),
        ("Alex Doe_40", "2", "Kid", "Alex Doe", "2024-03-02T19:41:40+00:00", "José here", None),
        ("Alex Doe_40", "3", "Alex Doe", "Kid", "2024-03-02T19:43:20+00:00", "send a private pic", None),
        ("Alex Doe_40", "4", "Kid", "Alex Doe", "2024-03-02T19:45:00+00:00", "", "image"),
        ("Alex Doe_40", "5", "Kid", "Alex Doe", "2024-03-02T19:48:20+00:00", "", "video"),
        ("Alex Doe_40", "6", "Kid", "Alex Doe", "2024-03-02T19:49:10+00:00", "", "file"),
        ("Alex Doe_40", "7", "Alex Doe", "Kid", "2024-03-02T19:50:00+00:00", "now pay or i post it", None)]
    assert reading.notices == 2


def _meta_thread(folder: Path, messages: list[dict[str, object]]) -> Path:
    """An Instagram or Messenger thread of "sam" and "kid" holding ``messages``, under ``folder``: its folder."""
    thread = folder / "inbox" / "sam_1"
    thread.mkdir(parents=True)
    (thread / "message_1.json").write_text(json.dumps({"participants": [{"name": "sam"}, {"name": "kid"}],
                                                       "messages": messages}))
    return thread


def test_times_an_export_writes_wrongly_are_not_read_as_times(tmp_path: Path) -> None:
    """A Meta time of ``true`` (not whole milliseconds) is set aside at its field, not read as 1 ms past 1970; a
    Snapchat finer clock of NaN (which JSON readers take) is no finer clock: its message goes before one that has
    one in the same second, as where there is none."""
    thread = _meta_thread(tmp_path / "meta", [
        {"sender_name": "sam", "timestamp_ms": True, "content": "pay"},
        {"sender_name": "kid", "timestamp_ms": 1_704_189_600_000, "content": "hi"}])
    rejects: list[Reject] = []
    rows = list(iter_export_rows(thread, rejects=rejects))
    assert [r["text"] for r in rows] == ["hi"]
    assert [(r.location, r.field) for r in rejects] == [("messages[0]", "timestamp")]
    download = tmp_path / "snap" / "json"
    download.mkdir(parents=True)
    (download / "chat_history.json").write_text(json.dumps({"sam": [
        _snap("sam", "2024-03-01 10:00:00 UTC", "second", finer=1_709_287_200_100_000),
        {**_snap("kid", "2024-03-01 10:00:00 UTC", "first", mine=True), "Created(microseconds)": float("nan")}]}))
    assert [r["text"] for r in iter_export_rows(tmp_path / "snap")] == ["first", "second"]


def test_a_sender_outside_a_chats_two_participants_is_kept_with_no_recipient(tmp_path: Path) -> None:
    """A message from neither of a chat's two participants (an account since deactivated, renamed in the export)
    is kept, with no recipient named, rather than stopping the conversion; the others' recipient is the other
    participant."""
    thread = _meta_thread(tmp_path, [
        {"sender_name": "Instagram User", "timestamp_ms": 1_704_189_700_000, "content": "pay"},
        {"sender_name": "kid", "timestamp_ms": 1_704_189_600_000, "content": "hi"}])
    assert [(r["sender_id"], r["recipient_id"]) for r in iter_export_rows(thread)] == [
        ("kid", "sam"), ("Instagram User", None)]


def test_a_media_entry_of_an_unexpected_shape_is_a_file(tmp_path: Path) -> None:
    """An attachment whose name or address is not text (a list, an object: an export written by another tool, or
    damaged) is a file, not a crash: the message is kept."""
    listed = [{"senderName": "Alex", "timestamp": 1_709_408_400_000, "text": "", "type": "media",
               "media": [{"uri": ["a.jpeg"]}]}]
    (tmp_path / "Alex_40.json").write_text(json.dumps({"participants": ["Kid", "Alex"], "threadName": "Alex_40",
                                                      "messages": listed}))
    (tmp_path / "sam [1].json").write_text(json.dumps(_discord_export("DirectTextChat", [_discord_message(
        1, "111", attachments=[{"id": "1", "url": {"href": "a.png"}, "fileName": None, "fileSizeBytes": 3}])])))
    assert [(r["conversation_id"], r["attachment"]) for r in iter_export_rows(tmp_path)] == [
        ("987654321", "file"), ("Alex_40", "file")]
