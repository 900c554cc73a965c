"""Chat exports: `riskline convert` on the same messages as each app exports them.

The same messages (the synthetic generator's texts, two people taking turns, half a minute apart) are written
as WhatsApp's Android .txt and iPhone .zip, Telegram Desktop's result.json (one chat's, and every chat's), an
Instagram download (a thread's folder each, as unzipped and as its .zip), DiscordChatExporter's JSON (one file,
and in four parts), Snapchat's chat_history.json and a Messenger end-to-end encrypted chat. Each is converted as
a whole process. Prints the input's size, seconds (best of --runs), messages/s and the largest process's peak
memory, all measured in this one run, and checks that every conversion wrote every message, and that the
Instagram download gives the same rows zipped as unzipped.

    .venv/bin/python benchmarks/convert.py [--messages 200000] [--runs 1]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import zipfile
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

from measured import RISKLINE, best_of, size  # beside this script

from training.synth.generator import generate

START = 1_705_708_800  # 2024-01-20T00:00:00Z: a day past 12 tells WhatsApp's date order
PEOPLE = ("Sam", "Kim")
THREADS, CHATS, PARTS = 200, 20, 4


def texts(n: int) -> list[str]:
    """``n`` message texts from the synthetic generator, on one line each (as the apps write them, a line a
    message for WhatsApp)."""
    rows = generate(max(1, n // 15), seed=2024)
    found = [" ".join(str(row["text"]).split()) or "ok" for row in islice(rows, n)]
    return (found * (n // len(found) + 1))[:n]


def whatsapp(folder: Path, said: list[str]) -> dict[str, Path]:
    android = folder / "WhatsApp Chat with Sam.txt"
    with android.open("w", encoding="utf-8") as handle:
        for i, text in enumerate(said):
            handle.write(f"{datetime.fromtimestamp(START + 60 * i, UTC):%d/%m/%Y, %H:%M} - {PEOPLE[i % 2]}: {text}\n")
    iphone = folder / "WhatsApp Chat - Sam.zip"
    lines = (f"[{datetime.fromtimestamp(START + 30 * i, UTC):%d/%m/%Y, %H:%M:%S}] {PEOPLE[i % 2]}: {text}\n"
             for i, text in enumerate(said))
    with zipfile.ZipFile(iphone, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("_chat.txt", "".join(lines))
    return {"WhatsApp, Android .txt": android, "WhatsApp, iPhone .zip": iphone}


def telegram(folder: Path, said: list[str]) -> dict[str, Path]:
    path = folder / "ChatExport" / "result.json"
    path.parent.mkdir()
    messages = [{"id": i + 1, "type": "message", "date": datetime.fromtimestamp(START + 30 * i, UTC).strftime(
        "%Y-%m-%dT%H:%M:%S"), "date_unixtime": str(START + 30 * i), "from": PEOPLE[i % 2],
        "from_id": f"user{100 + i % 2}", "text": text, "text_entities": [{"type": "plain", "text": text}]}
        for i, text in enumerate(said)]
    path.write_text(json.dumps({"name": "Sam", "type": "personal_chat", "id": 5012345678, "messages": messages},
                               ensure_ascii=False, indent=1))
    every = folder / "DataExport" / "result.json"  # the export of every chat: the same messages in CHATS chats
    every.parent.mkdir()
    chats = [{"name": f"friend{c}", "type": "personal_chat", "id": 5012345678 + c,
              "messages": messages[c * len(said) // CHATS:(c + 1) * len(said) // CHATS]} for c in range(CHATS)]
    every.write_text(json.dumps({"about": "Here is the data you requested.", "personal_information": {"user_id": 100},
                                 "chats": {"about": "chats", "list": chats}}, ensure_ascii=False, indent=1))
    return {"Telegram, one chat's": path, f"Telegram, every chat's ({CHATS})": every}


def instagram(folder: Path, said: list[str]) -> dict[str, Path]:
    download = folder / "instagram-kid"
    archive = folder / "instagram-kid.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for t in range(THREADS):
            chunk = said[t * len(said) // THREADS:(t + 1) * len(said) // THREADS]
            thread = f"your_instagram_activity/messages/inbox/friend{t}_{1000 + t}"
            listed = [{"sender_name": PEOPLE[i % 2], "timestamp_ms": (START + 30 * i) * 1000, "content": text}
                      for i, text in enumerate(chunk)][::-1]  # newest first, as Meta lists them
            body = json.dumps({"participants": [{"name": p} for p in PEOPLE], "messages": listed,
                               "title": f"friend{t}", "thread_path": f"inbox/friend{t}_{1000 + t}"}, indent=2)
            (download / thread).mkdir(parents=True)
            (download / thread / "message_1.json").write_text(body)
            zipped.writestr(f"{thread}/message_1.json", body)
    return {"Instagram, download folder": download, "Instagram, download .zip": archive}


def discord(folder: Path, said: list[str]) -> dict[str, Path]:
    def export(chunk: list[tuple[int, str]]) -> str:
        messages = [{"id": str(1_180_000_000_000_000_000 + i), "type": "Default",
                     "timestamp": datetime.fromtimestamp(START + 30 * i, UTC).isoformat(), "timestampEdited": None,
                     "callEndedTimestamp": None, "isPinned": False, "content": text,
                     "author": {"id": str(111 + i % 2), "name": PEOPLE[i % 2].lower(), "discriminator": "0000",
                                "nickname": PEOPLE[i % 2], "color": None, "isBot": False, "roles": [],
                                "avatarUrl": "https://cdn.example/a.png"},
                     "attachments": [], "embeds": [], "stickers": [], "reactions": [], "mentions": [],
                     "inlineEmojis": []} for i, text in chunk]
        return json.dumps({"guild": {"id": "0", "name": "Direct Messages", "iconUrl": "https://cdn.example/g.png"},
                           "channel": {"id": "987654321", "type": "DirectTextChat", "categoryId": None,
                                       "category": "Private", "name": "sam", "topic": None},
                           "dateRange": {"after": None, "before": None},
                           "exportedAt": "2024-06-01T00:00:00+00:00", "messages": messages,
                           "messageCount": len(messages)}, ensure_ascii=False, indent=2)
    numbered = list(enumerate(said))
    one = folder / "Direct Messages - sam [987654321].json"
    one.write_text(export(numbered))
    parts = folder / "discord-parts"
    parts.mkdir()
    for k in range(PARTS):
        name = "Direct Messages - sam [987654321]" + ("" if k == 0 else f" [part {k + 1}]") + ".json"
        (parts / name).write_text(export(numbered[k * len(said) // PARTS:(k + 1) * len(said) // PARTS]))
    return {"Discord, one file": one, f"Discord, {PARTS} parts": parts}


def snapchat(folder: Path, said: list[str]) -> dict[str, Path]:
    path = folder / "mydata" / "json" / "chat_history.json"
    path.parent.mkdir(parents=True)
    chats = {}
    for c in range(CHATS):
        chunk = said[c * len(said) // CHATS:(c + 1) * len(said) // CHATS]
        chats[f"friend{c}"] = [{"From": f"friend{c}" if i % 2 else "kid", "Media Type": "TEXT",
                                "Created": f"{datetime.fromtimestamp(START + 30 * i, UTC):%Y-%m-%d %H:%M:%S} UTC",
                                "Content": text, "Conversation Title": None, "IsSender": not i % 2,
                                "Created(microseconds)": (START + 30 * i) * 1000, "Media IDs": ""}
                               for i, text in enumerate(chunk)][::-1]  # newest first
    path.write_text(json.dumps(chats, ensure_ascii=False, indent=2))
    return {"Snapchat, chat_history.json": path}


def messenger(folder: Path, said: list[str]) -> dict[str, Path]:
    path = folder / "messenger" / "Sam_40.json"
    path.parent.mkdir()
    listed = [{"senderName": PEOPLE[i % 2], "timestamp": (START + 30 * i) * 1000, "text": text, "type": "text",
               "media": [], "reactions": [], "isUnsent": False} for i, text in enumerate(said)][::-1]
    path.write_text(json.dumps({"participants": list(PEOPLE), "threadName": "Sam_40", "messages": listed}))
    return {"Messenger, encrypted chat": path}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="riskline-convert-bench-"))
    try:
        said = texts(args.messages)
        paths: dict[str, Path] = {}
        for write in (whatsapp, telegram, instagram, discord, snapchat, messenger):
            paths.update(write(folder, said))
        print(f"messages: {args.messages:,} in each export; best of {args.runs} run(s) each")
        print(f"  {'export':30s} {'input MB':>9s} {'seconds':>8s} {'messages/s':>11s} {'peak MiB':>9s}  written")
        written_all, rows = True, {}
        for name, path in paths.items():
            out = folder / f"out-{len(rows)}.jsonl"
            zone = ["--timezone", "UTC"] if name.startswith("WhatsApp") else []
            seconds, peak = best_of(args.runs, [RISKLINE, "convert", path, "-o", out, *zone])
            lines = out.read_text(encoding="utf-8").splitlines()
            rows[name] = lines
            written_all = written_all and len(lines) == args.messages
            print(f"  {name:30s} {size(path) / 1e6:9.1f} {seconds:8.2f} {args.messages / seconds:11,.0f}"
                  f" {peak:9,.0f}  {len(lines):,}")
        print(f"every message written from every export: {'yes' if written_all else 'NO'}")
        same = rows["Instagram, download .zip"] == rows["Instagram, download folder"]
        print(f"Instagram's download the same zipped as unzipped: {'yes' if same else 'NO'}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
