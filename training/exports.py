"""Chats exported by their apps as Riskline's message events (``riskline convert EXPORT``): WhatsApp's ``.txt`` (or an
iPhone's ``.zip``), Telegram Desktop's ``result.json``, Instagram's or Messenger's ``message_1.json`` (and a chat of
Messenger's end-to-end encrypted export), a Discord channel's or direct chat's ``.json`` as DiscordChatExporter
writes it, and Snapchat's ``chat_history.json``, or a folder of them (a study's donated chats, a download with its
media beside), or a download's ``.zip`` as the app gives it (Instagram's, Facebook's, Snapchat's).

Each chat is a conversation, each message keeps the id the app gives it (Telegram's, Discord's) or is numbered by
its place in the chat (WhatsApp, Meta, Snapchat: 1, 2, ...), each sender is the app's id or name for them, and in a
chat of two people the other is the recipient. Media are kept as their kind, never the media; the apps' own notices
(encryption, calls, members joining) are left out and counted. Meta writes text as UTF-8 read back as Latin-1
("cafÃ©"): it is read as written.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import tzinfo
from pathlib import Path
from typing import Any, TypeGuard

from detection.events import ATTACHMENTS, EventError, shown
from detection.inputs import DISCORD_HTML, EXPORT_HEAD_BYTES, InputError, chat_export, input_format, not_a_file
from detection.readers import Reject
from training import whatsapp
from training.chat_rows import Reading, recipient, row_or_reject, set_aside, set_file_aside, unzipping
from training.json_stream import Place, object_stream
from training.logs import as_written, attachment_kind

_META_PART = re.compile(r"message_(\d+)\.json", re.IGNORECASE)  # a thread's parts: message_1.json newest
_META_MEDIA = (("photos", "image"), ("videos", "video"), ("gifs", "video"), ("audio_files", "audio"),
               ("sticker", "image"), ("files", "file"))
_TELEGRAM_MEDIA = {"sticker": "image", "animation": "video", "video_file": "video", "video_message": "video",
                   "voice_message": "audio", "audio_file": "audio"}


def export_kind(path: Path, alone: bool = False) -> str | None:
    """What app's export a file is, by its name and first bytes: "whatsapp" (``.txt``, ``.zip``), "telegram",
    "meta", "messenger", "discord" or "snapchat" (in a folder, only its ``chat_history.json``: Snapchat's download
    holds its snaps, calls and more alike; a file given ``alone`` whatever its name), "download" (a ``.zip`` of JSON
    and no WhatsApp chat: an app's download, read as its folder); None for anything else. In a folder, a ``.txt``
    (or a ``.zip``'s) is WhatsApp's where its name says so or its first line opens as a chat: others are files sent
    in a chat, among the media a download holds."""
    suffix = path.suffix.lower()
    if suffix in whatsapp.SUFFIXES and path.is_file() and not alone and not whatsapp.named_as_chat(path.name):
        if suffix == ".zip":
            return _zip_kind(path)
        with path.open("rb") as handle:
            return "whatsapp" if whatsapp.opens_as_chat(handle.read(whatsapp.HEAD_BYTES)) else None
    if suffix in whatsapp.SUFFIXES:  # what cannot be read as WhatsApp's export is named by its reader
        return "download" if suffix == ".zip" and path.is_file() and _zip_kind(path) == "download" else "whatsapp"
    if suffix != ".json" or not path.is_file():
        return None
    with path.open("rb") as handle:
        kind = chat_export(handle.read(EXPORT_HEAD_BYTES))
    return None if kind == "snapchat" and not alone and not path.name.lower().startswith("chat_history") else kind


def export_kinds(source: Path, passed: list[Path] | None = None) -> dict[Path, str] | None:
    """The chat exports ``source`` names, each with its kind (``export_kind``): itself where it is one; for a folder
    holding no message logs, the exports under it (hidden files and macOS's ``__MACOSX`` aside, iPhones'
    ``_chat.txt`` not: media and other files beside are passed over, and the ``.txt`` and ``.zip`` files among them
    added to ``passed``, where given), in path order; None for anything else (message logs, PAN's XML, a folder of
    logs). Each file's kind is found once: a zip is opened, a file's first bytes read, here alone."""
    if not source.is_dir():
        kind = export_kind(source, alone=True)
        return None if kind is None else {source: kind}
    found, others = {}, []
    for path in source.rglob("*"):
        if any(part.startswith(".") or part == "__MACOSX" for part in path.relative_to(source).parts) or \
                not path.is_file():
            continue
        if input_format(path) is not None:  # a folder of logs: known at its first, not after walking it all
            return None
        if (kind := export_kind(path)) is not None:
            found[path] = kind
        elif path.suffix.lower() in whatsapp.SUFFIXES:
            others.append(path)
    if passed is not None and found:
        passed.extend(sorted(others))
    return {path: found[path] for path in sorted(found)} or None


def iter_export_rows(source: Path, zone: tzinfo | None = None, form: str | None = None,
                     rejects: list[Reject] | None = None, reading: Reading | None = None,
                     kinds: Mapping[Path, str] | None = None) -> Iterator[dict[str, Any]]:
    """The chats ``source`` names (an export, or a folder of them) as message events, each chat a conversation:
    WhatsApp's, then Meta's threads, Telegram's, Discord's, Snapchat's, Messenger's encrypted chats, each in path
    order. ``zone``: the phone's time zone, which WhatsApp's times (and old Telegram exports') need; ``form``:
    WhatsApp's date and time where no day past 12 tells their order. A message with a bad field, or an export (a
    Telegram chat) that cannot be read at all, is set aside in ``rejects``, or, without it, an ``InputError`` naming
    its file, place and field. ``kinds``: what ``export_kinds`` found in ``source`` already, where it was asked."""
    kinds = kinds if kinds is not None else export_kinds(source)
    if kinds is None and (html := html_download(source)):
        raise InputError(f"{source}: {html}")
    if kinds is None:
        raise InputError(f"{source}: not a chat export (WhatsApp's .txt or .zip, Telegram's result.json, "
                         "Instagram's or Messenger's message_1.json, a Messenger encrypted chat's .json, "
                         "DiscordChatExporter's .json, Snapchat's chat_history.json), nor a folder of them, nor "
                         "an app's download as its .zip")
    reading = reading if reading is not None else Reading()
    reading.several = reading.several or len(kinds) > 1  # set already where this is a zip's among other chats
    files = list(kinds)
    if form is not None and "whatsapp" not in kinds.values():
        raise InputError(f"{source}: --time-format reads WhatsApp's dates; this export's times are the app's own")
    if kinds[files[0]] == "meta" and files[0] == source and (others := sorted(
            p.name for p in source.parent.iterdir() if p != source and _META_PART.fullmatch(p.name))):
        raise InputError(f"{source}: a part of a thread whose other parts ({', '.join(others)}) lie beside it: "
                         f"convert the thread's folder, {source.parent}, so that its messages are read as one")
    chats = [(part, _named(part, source, part.stem)) for part in files if kinds[part] == "whatsapp"]
    if chats:
        yield from whatsapp.iter_chat_rows(chats, zone, form, rejects, reading)
    threads: dict[Path, list[Path]] = {}
    for part in (p for p in files if kinds[p] == "meta"):
        threads.setdefault(part.parent, []).append(part)
    for thread, parts in threads.items():
        yield from _meta_rows(sorted(parts, key=_part_number, reverse=True), thread, source, rejects, reading)
    for part in (p for p in files if kinds[p] == "telegram"):
        yield from _telegram_rows(part, source, zone, rejects, reading)
    channels: dict[tuple[Path, str], list[Path]] = {}  # a partitioned export's parts: "name [part 2].json"...
    for part in (p for p in files if kinds[p] == "discord"):
        found = _DISCORD_PART.fullmatch(part.name)
        channels.setdefault((part.parent, found[1] if found else part.stem), []).append(part)
    for (_, name), parts in channels.items():
        yield from _discord_rows(sorted(parts, key=_discord_part), name, source, zone, rejects, reading)
    for part in (p for p in files if kinds[p] == "snapchat"):
        yield from _snapchat_rows(part, source, rejects, reading)
    for part in (p for p in files if kinds[p] == "messenger"):
        yield from _messenger_rows(part, source, rejects, reading)
    for part in (p for p in files if kinds[p] == "download"):
        yield from _download_rows(part, source, zone, rejects, reading)


# the chats of a download made as HTML, which the apps make unless told JSON, and what to do
_HTML_CHATS = ((re.compile(r"message_\d+\.html", re.IGNORECASE),
                "Instagram's or Facebook's messages as HTML (message_1.html), which riskline does not read: download "
                "your information again in the JSON format"),
               (re.compile(r"chat_history.*\.html", re.IGNORECASE),
                "Snapchat's chats as HTML (chat_history.html), which riskline does not read: download your data "
                "again with 'Export JSON Files' ticked"),
               (re.compile(r"messages\d*\.html", re.IGNORECASE),  # Telegram Desktop's export as it comes by default
                "Telegram's chats as HTML (messages.html), which riskline does not read: export them again with "
                "'Machine-readable JSON' as the format"),
               (DISCORD_HTML,
                "DiscordChatExporter's HTML, which riskline does not read: export the channel again with "
                "--format Json"))


def _html_said(name: str) -> str | None:
    return next((said for pattern, said in _HTML_CHATS if pattern.fullmatch(name.rsplit("/", 1)[-1])), None)


def html_download(source: Path) -> str | None:
    """Where ``source`` is an app's chats downloaded or exported as HTML (Instagram's or Facebook's
    ``message_1.html``, Snapchat's ``chat_history.html``, Telegram's ``messages.html``, DiscordChatExporter's
    ``Guild - channel [id].html``, or a folder holding one and no message logs), which are not read: what to do;
    None otherwise."""
    if not source.is_dir():
        return _html_said(source.name)
    html = None
    for path in source.rglob("*"):
        if input_format(path) is not None and path.is_file():  # a folder of logs, read as such
            return None
        html = html or _html_said(path.name)
    return html


def _zip_kind(path: Path) -> str | None:
    """What a ``.zip`` holds: "whatsapp" (a ``.txt`` that opens as a chat), "download" (otherwise JSON, or an app's
    chats as HTML), or None (neither, or it cannot be read)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = _unpacked_names(archive)
            if any(whatsapp.zipped_chat(archive, path, name) for name in names if name.lower().endswith(".txt")):
                return "whatsapp"
    except (zipfile.BadZipFile, OSError, InputError):
        return None
    return "download" if any(name.lower().endswith(".json") or _html_said(name) for name in names) else None


def _unpacked_names(archive: zipfile.ZipFile) -> list[str]:
    """The files of a zip that its folder's reading would look at: none hidden or under macOS's ``__MACOSX``."""
    return [info.filename for info in archive.infolist() if not info.is_dir()
            and not any(part.startswith(".") or part == "__MACOSX" for part in info.filename.split("/"))]


def _download_rows(archive: Path, source: Path, zone: tzinfo | None, rejects: list[Reject] | None,
                   reading: Reading) -> Iterator[dict[str, Any]]:
    """An app's download as its ``.zip`` holds it (Instagram's, Facebook's, Snapchat's), read as the folder it
    unzips to: its JSON files are unpacked to a temporary folder (its media are not), where the chats are read,
    and their places named as in the zip (``download.zip!your_instagram_activity/.../message_1.json``). Its chats'
    ids are their places in it, under the zip's own place (without ``.zip``) in a folder given."""
    with tempfile.TemporaryDirectory(prefix="riskline-convert-") as temp:
        root = Path(temp)
        into = root if archive == source else root / archive.relative_to(source).with_suffix("")
        try:
            names = _unpack_json(archive, into)
        except InputError as exc:
            set_file_aside(exc, str(archive), "file", rejects, reading.several)
            return
        kinds = export_kinds(root)
        if kinds is None:
            html = next(filter(None, map(_html_said, names)), None)
            set_file_aside(InputError(f"{archive}: {html}" if html else f"{archive}: a zip of JSON holding no "
                                      "chat export (Instagram's or Messenger's message_1.json, Snapchat's "
                                      "chat_history.json, ...)"), str(archive), "file", rejects, reading.several)
            return
        inside: list[Reject] | None = [] if rejects is not None else None
        try:
            yield from iter_export_rows(root, zone, None, inside, reading, kinds)  # no WhatsApp .txt in it
        except InputError as exc:
            raise InputError(_as_zipped(str(exc), root, into, archive)) from None
        finally:
            if rejects is not None and inside is not None:
                rejects.extend(replace(reject, path=_as_zipped(reject.path, root, into, archive)) for reject in inside)


def _unpack_json(archive: Path, into: Path) -> list[str]:
    """A download's JSON files unpacked ``into`` a folder, their places in the zip kept, and the names of all its
    files; an ``InputError`` naming the file that cannot be (damaged, encrypted, compressed in a way Python does not
    read, or no room for it)."""
    name = ""
    try:
        with zipfile.ZipFile(archive) as held:
            names = _unpacked_names(held)
            for name in (name for name in names if name.lower().endswith(".json")):
                with unzipping(archive, name):
                    held.extract(name, into)  # its path made safe: none outside ``into``, nor absolute
    except OSError as exc:
        said = exc.strerror or exc
        raise InputError(f"{archive}!{name}: could not be unpacked to a temporary folder, {into} ({said}): set TMPDIR "
                         "to a folder with room, or unzip it there and convert its folder") from None
    return names


def _as_zipped(said: str, root: Path, into: Path, archive: Path) -> str:
    """What was said of the files unpacked ``into`` a folder (under ``root``), said of the zip they came from."""
    return said.replace(f"{into}{os.sep}", f"{archive}!").replace(str(into), str(archive)).replace(str(root),
                                                                                                    str(archive))


def _named(part: Path, source: Path, own: str) -> str:
    """A chat's conversation id: its own (``own``) for a file given alone; in a folder, its place there first, so
    that chats named alike in several people's exports stay apart."""
    if part == source:
        return own
    place = part.relative_to(source).parent.as_posix()
    return own if place == "." else f"{place}/{own}"


def _part_number(part: Path) -> int:
    return int(found[1]) if (found := _META_PART.fullmatch(part.name)) else 0


def _load(part: Path) -> Any:
    if not part.is_file():
        raise not_a_file(part)
    try:
        with part.open(encoding="utf-8-sig") as handle:
            return json.load(handle)
    except UnicodeDecodeError:
        raise InputError(f"{part}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{part}: line {exc.lineno}: not JSON ({exc.msg})") from None


def _messages(export: object, part: Path, where: str) -> list[object]:
    messages = export.get("messages") if isinstance(export, Mapping) else None
    if not isinstance(messages, list):
        raise _no_messages(part, where)
    return messages


def _no_messages(part: Path, where: str = "") -> InputError:
    return InputError(f"{part}: {where or 'its top'}: no list of 'messages', as the app's export holds")


def _meta_rows(parts: Sequence[Path], thread: Path, source: Path, rejects: list[Reject] | None,
               reading: Reading) -> Iterator[dict[str, Any]]:
    """An Instagram or Messenger thread, its parts (message_2.json older than message_1.json) oldest first, each
    listed newest first: its messages in time order, numbered."""
    exports = []
    try:  # each part read whole, before any row: a part that cannot be read sets the thread aside
        for part in parts:
            export = _load(part)
            exports.append((part, _messages(export, part, ""), export))
    except InputError as exc:
        set_file_aside(exc, str(thread if len(parts) > 1 else parts[0]), "file", rejects, reading.several)
        return
    first = exports[-1][2] if isinstance(exports[-1][2], Mapping) else {}
    if source.is_dir() and thread != source:  # its place in the folder: threads of several people's stay apart
        conversation = thread.relative_to(source).as_posix()
    else:  # its own name ("inbox/sam_1234"), the same in every download
        own = first.get("thread_path")
        conversation = str(_repaired(own)) if isinstance(own, str) and own.strip() else thread.name
    participants = first.get("participants")
    people = [str(_repaired(p.get("name"))) for p in participants if isinstance(p, Mapping)] \
        if isinstance(participants, list) else []
    place = 0
    for part, listed, _ in exports:
        for index in range(len(listed) - 1, -1, -1):
            message = listed[index]
            where = (str(part), f"messages[{index}]")
            if not _object(message, where, rejects):
                continue
            kind = next((kind for key, kind in _META_MEDIA if message.get(key)), None)
            if message.get("content") is None and kind is None:  # a call, a message unsent, a reaction
                reading.notices += 1
                continue
            place += 1
            record = _record(conversation, _repaired(message.get("sender_name")), people,
                             _seconds(message.get("timestamp_ms")), _repaired(message.get("content")) or "", kind)
            if (row := row_or_reject(record, str(place), None, where, rejects, reading)) is not None:
                yield row


def _object(message: object, where: tuple[str, str], rejects: list[Reject] | None) -> TypeGuard[Mapping[str, Any]]:
    """Whether an export's listed message is an object, as the apps write them; one that is not is set aside."""
    if isinstance(message, Mapping):
        return True
    set_aside(EventError("row", f"expected an object, got {shown(message)}"), {}, where, rejects)
    return False


def _record(conversation: str, sender: object, people: Sequence[str], timestamp: object, text: object,
            kind: object, message_id: object = None) -> dict[str, object]:
    """A message's record as its export gives it, for ``row_or_reject``: its recipient the other of two ``people``,
    an attachment of a kind Riskline does not name a file, its own id where it has one."""
    record = {"conversation_id": conversation, "sender_id": sender, "timestamp": timestamp, "text": text,
              "attachment": kind if kind is None or (isinstance(kind, str) and kind in ATTACHMENTS) else "file",
              "recipient_id": recipient(people, sender) if isinstance(sender, str) else None}
    return record if message_id is None else {**record, "message_id": message_id}


def _seconds(milliseconds: object) -> object:
    """Meta's times, whole milliseconds, as seconds; anything else as it is, for the event's own check."""
    return milliseconds / 1000 if isinstance(milliseconds, int) and not isinstance(milliseconds, bool) \
        else milliseconds


def _repaired(value: object) -> object:
    """Text as Meta wrote it (UTF-8, read back as Latin-1 in its exports)."""
    return (as_written(value) or value) if isinstance(value, str) else value


_TELEGRAM_LISTS = (("messages",), ("chats", "list"), ("left_chats", "list"))  # one chat's messages, or every chat


def _telegram_rows(part: Path, source: Path, zone: tzinfo | None, rejects: list[Reject] | None,
                   reading: Reading) -> Iterator[dict[str, Any]]:
    """A Telegram Desktop export: one chat's, or every chat's (``chats.list``, ``left_chats.list``). Read twice, a
    message (or a chat) at a time: through, for its shape, its chat's people and whether it can be read at all,
    before any of its rows; then for its messages."""
    try:
        single, chat, senders, chats = _telegram_scan(part)
    except InputError as exc:
        set_file_aside(exc, str(part), "file", rejects, reading.several)
        return
    if single:  # one chat's: its messages at the top
        yield from _telegram_chat(part, source, "", chat, _top_messages(part), senders, zone, rejects, reading)
        return
    places: dict[Place, int] = {}
    for kind, place, value in object_stream(part, _TELEGRAM_LISTS[1:]):
        if kind != "item":
            continue
        places[place] = index = places.get(place, -1) + 1
        prefix = f"{place[0]}.list[{index}]"
        try:
            messages = _messages(value, part, prefix)
        except InputError as exc:  # this chat alone: the export's others are read
            set_file_aside(exc, str(part), prefix, rejects, reading.several or chats > 1)
            continue
        assert isinstance(value, Mapping)  # _messages found its list in it
        yield from _telegram_chat(part, source, f"{prefix}.", value, messages, _senders(messages), zone, rejects,
                                  reading)


def _telegram_scan(part: Path) -> tuple[bool, dict[str, object], dict[str, None], int]:
    """An export read through: whether it is one chat's, that chat's own fields and its senders in order; or how
    many chats it holds; an ``InputError`` where it cannot be read, or holds no chat's messages."""
    chat: dict[str, object] = {}
    senders: dict[str, None] = {}
    lists: set[Place] = set()
    chats = 0
    for kind, place, value in object_stream(part, _TELEGRAM_LISTS):
        if kind == "list":
            lists.add(place)
        elif kind == "field" and len(place) == 1:
            chat[place[0]] = value
        elif kind == "item" and place == ("messages",):
            senders.update(_senders([value]))
        elif kind == "item":
            chats += 1
    if ("messages",) in lists:
        return True, chat, senders, 1
    if not lists:
        raise _no_messages(part)
    return False, chat, {}, chats


def _top_messages(part: Path) -> Iterator[object]:
    """The messages listed at an export's top, one at a time (read through once already: it can be read)."""
    return (value for kind, _, value in object_stream(part, _MESSAGES) if kind == "item")


def _senders(listed: Iterable[object]) -> dict[str, None]:
    """The senders of a chat's messages, in order of their first."""
    return {sender: None for message in listed if isinstance(message, Mapping) and
            message.get("type", "message") == "message" and (sender := _sender(message)) is not None}


def _telegram_chat(part: Path, source: Path, prefix: str, chat: Mapping[str, object], listed: Iterable[object],
                   senders: Mapping[str, None], zone: tzinfo | None, rejects: list[Reject] | None,
                   reading: Reading) -> Iterator[dict[str, Any]]:
    """A chat's messages (``listed``, at ``prefix`` in the export), its ``senders`` each other's recipients in a
    chat of two."""
    own = str(chat.get("id", chat.get("name", part.stem)))
    conversation = _named(part, source, own)
    group = any(word in str(chat.get("type", "")) for word in ("group", "channel"))  # "private_supergroup"...
    people = [] if group else list(senders)  # a group's messages have no one recipient, whoever wrote
    for index, message in enumerate(listed):
        where = (str(part), f"{prefix}messages[{index}]")
        if not _object(message, where, rejects):
            continue
        if message.get("type", "message") != "message":  # "service": a call, a member joining, a pin
            reading.notices += 1
            continue
        kind = "image" if message.get("photo") else _TELEGRAM_MEDIA.get(str(message.get("media_type")),
                                                                         "file" if message.get("file") else None)
        record = _record(conversation, _sender(message), people, message.get("date_unixtime", message.get("date")),
                         _text(message.get("text")), kind, message.get("id"))
        if (row := row_or_reject(record, None, zone, where, rejects, reading)) is not None:
            yield row


def _sender(message: Mapping[str, object]) -> str | None:
    sender = message.get("from_id", message.get("from"))
    return None if sender is None else str(sender)


def _text(text: object) -> object:
    """Telegram's text: a string, or a list of strings and entities (a link, a mention, bold) holding theirs."""
    if isinstance(text, list):
        return "".join(part if isinstance(part, str) else str(part.get("text", "")) if isinstance(part, Mapping)
                       else "" for part in text)
    return text


_MESSAGES = (("messages",),)  # where an export's messages are listed: at its top
_DISCORD_MESSAGES = ("Default", "Reply")  # the others a member joining, a call, a pin, a rename: Discord's notices
_DISCORD_PART = re.compile(r"(.*) \[part (\d+)\]\.json", re.IGNORECASE)


def _discord_part(part: Path) -> int:
    return int(found[2]) if (found := _DISCORD_PART.fullmatch(part.name)) else 1


def _discord_rows(parts: Sequence[Path], name: str, source: Path, zone: tzinfo | None, rejects: list[Reject] | None,
                  reading: Reading) -> Iterator[dict[str, Any]]:
    """A Discord channel or direct chat as DiscordChatExporter writes it (``--format Json``), in its parts where
    the export was partitioned (``name.json``, ``name [part 2].json``..., ``name`` the channel's id where it has
    none): its messages keep their ids, their authors' ids are the senders; a direct chat's two people, of all its
    parts, are each other's recipient. Each part is read twice, a message at a time: through, for its channel and
    people (and whether it can be read at all, before any of its rows), then for its messages, so that memory
    holds a message, not the export."""
    people: dict[str, None] = {}  # in order of first message
    read: dict[Path, str | InputError] = {}  # each part's channel id, or why it cannot be read
    for part in parts:
        try:
            conversation, direct, senders = _discord_scan(part, name)
        except InputError as exc:
            read[part] = exc
            continue
        read[part] = conversation
        if direct:  # a group's, a server's, have no one recipient
            people.update(senders)
    for part in parts:
        if isinstance(found := read[part], InputError):
            set_file_aside(found, str(part), "file", rejects, reading.several)
            continue
        yield from _discord_messages(part, _named(part, source, found), _top_messages(part), list(people), zone,
                                     rejects, reading)


def _discord_scan(part: Path, name: str) -> tuple[str, bool, dict[str, None]]:
    """A part read through: its channel's id (``name`` where it has none), whether it is a direct chat, and the
    senders of its messages in order; an ``InputError`` where it cannot be read."""
    channel: Mapping[str, Any] = {}
    listed, senders = False, dict[str, None]()
    for kind, place, value in object_stream(part, _MESSAGES):
        if kind == "field" and place == ("channel",) and isinstance(value, Mapping):
            channel = value
        elif kind == "list":
            listed = True
        elif kind == "item" and isinstance(value, Mapping) and value.get("type", "Default") in _DISCORD_MESSAGES \
                and (sender := _author(value)) is not None:
            senders[sender] = None
    if not listed:
        raise _no_messages(part)
    return str(channel.get("id") or name), channel.get("type") == "DirectTextChat", senders


def _discord_messages(part: Path, conversation: str, listed: Iterable[object], people: list[str],
                      zone: tzinfo | None, rejects: list[Reject] | None, reading: Reading) -> Iterator[dict[str, Any]]:
    for index, message in enumerate(listed):
        where = (str(part), f"messages[{index}]")
        if not _object(message, where, rejects):
            continue
        if message.get("type", "Default") not in _DISCORD_MESSAGES:
            reading.notices += 1
            continue
        forwarded = message.get("forwardedMessage")
        forwarded = forwarded if isinstance(forwarded, Mapping) else {}
        text = message.get("content") or forwarded.get("content") or ""
        files = [*_listed(message.get("attachments")), *_listed(forwarded.get("attachments"))]
        kind = attachment_kind(files[0].get("fileName") or files[0].get("url")) if files else \
            "image" if _listed(message.get("stickers")) else None
        record = _record(conversation, _author(message), people, message.get("timestamp"), text, kind,
                         message.get("id"))
        if (row := row_or_reject(record, None, zone, where, rejects, reading)) is not None:
            yield row


def _author(message: Mapping[str, object]) -> str | None:
    author = message.get("author")
    sender = author.get("id") if isinstance(author, Mapping) else None
    return None if sender is None else str(sender)


def _listed(value: object) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


# what a Snapchat message's "Media Type" says it holds ("MEDIA": a photo or a video, which the export does not tell
# apart, read as the photo it mostly is); "TEXT", "SHARE" (a story, a link) and "LOCATION" carry text
_SNAPCHAT_MEDIA = {"MEDIA": "image", "IMAGE": "image", "STICKER": "image", "VIDEO": "video",
                   "VIDEO_NO_AUDIO": "video", "NOTE": "audio", "SHARE": "file"}
_SNAPCHAT_OLD = ("Received Saved Chat History", "Sent Saved Chat History")


def _snapchat_rows(part: Path, source: Path, rejects: list[Reject] | None,
                   reading: Reading) -> Iterator[dict[str, Any]]:
    """Snapchat's chats as its "My Data" download holds them (``json/chat_history.json``): each friend's or
    group's chat (its key) a conversation, its messages in time order numbered 1, 2, ...; the sender is the
    username in ``From``, the account's own (its messages ``IsSender``) the other's recipient in a chat of two;
    a chat with a ``Conversation Title`` is a group's. Read twice, a chat at a time: through, for the account's
    own username and whether it can be read at all, before any of its rows; then chat by chat."""
    try:
        own = _snapchat_scan(part)
    except InputError as exc:
        set_file_aside(exc, str(part), "file", rejects, reading.several)
        return
    for _, (key, *_), chat in object_stream(part, ()):  # each a field, its top (read through) an object
        if not isinstance(chat, list):
            set_file_aside(InputError(f"{part}: {key}: not a list of messages"), str(part), str(key), rejects,
                           True)
            continue
        conversation = _named(part, source, str(key))
        group = any(isinstance(m, Mapping) and m.get("Conversation Title") for m in chat)
        people = [] if group or own is None or own == key else [own, str(key)]
        place = 0
        for index, message, created in _in_time_order(chat, _snapchat_time, _snapchat_tie):
            where = (str(part), f"{key}[{index}]")
            if not _object(message, where, rejects):
                continue
            media = str(message.get("Media Type", "TEXT")).upper()
            if media.startswith("STATUS"):  # a message erased, saved, a member gone: Snapchat's notices
                reading.notices += 1
                continue
            place += 1
            sender = message.get("From") or (own if message.get("IsSender") is True else None)
            record = _record(conversation, sender, people, created or message.get("Created"),
                             message.get("Content") or "", _SNAPCHAT_MEDIA.get(media))
            if (row := row_or_reject(record, str(place), None, where, rejects, reading)) is not None:
                yield row


def _snapchat_scan(part: Path) -> str | None:
    """A download's chats read through: the account's own username (the sender of its messages ``IsSender``); an
    ``InputError`` where they cannot be read, or are Snapchat's snaps or calls, or its older download."""
    own, keys = None, []
    for kind, place, chat in object_stream(part, ()):
        if kind != "field" or not place:
            raise InputError(f"{part}: its top: not an object of chats, as Snapchat's chat_history.json holds")
        keys.append(place[0])
        if own is None and isinstance(chat, list):
            own = next((str(m["From"]) for m in chat if isinstance(m, Mapping) and m.get("IsSender") is True and
                        m.get("From")), None)
    if any(key.endswith(("Snap History", "Talk History")) for key in keys):
        raise InputError(f"{part}: Snapchat's snaps or calls, not its chats: convert its chat_history.json")
    if any(key in keys for key in _SNAPCHAT_OLD):
        raise InputError(f"{part}: an older Snapchat download ('Received Saved Chat History', 'Sent Saved Chat "
                         "History'), whose messages sent name no sender: not read; download your data again, as "
                         "Snapchat now writes it (a list of messages for each chat)")
    return own


def _snapchat_tie(message: object) -> float:
    """What orders a chat's messages of the same second: their ``Created(microseconds)`` (a finer clock); 0 where
    there is none, their listed order then kept."""
    finer = message.get("Created(microseconds)") if isinstance(message, Mapping) else None
    return finer if isinstance(finer, int | float) and not isinstance(finer, bool) and finer == finer else 0


def _snapchat_time(message: object) -> str | None:
    """A message's time as ISO-8601 ("2023-04-12 03:21:55 UTC" as written, its order kept); None where it has none
    in that form."""
    created = message.get("Created") if isinstance(message, Mapping) else None
    if isinstance(created, str) and (found := _SNAPCHAT_CREATED.fullmatch(created.strip())):
        return f"{found[1]}T{found[2]}+00:00"
    return None


_SNAPCHAT_CREATED = re.compile(r"(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?) UTC")


def _messenger_rows(part: Path, source: Path, rejects: list[Reject] | None,
                    reading: Reading) -> Iterator[dict[str, Any]]:
    """A chat of Messenger's end-to-end encrypted export (a file a chat: ``participants`` as names, ``threadName``,
    messages with ``senderName``, ``timestamp`` in milliseconds, ``text``, ``type``, ``media``, ``isUnsent``): its
    messages in time order, numbered; one unsent, or a placeholder for one the export could not hold, left out."""
    try:
        export = _load(part)
        listed = _messages(export, part, "")
    except InputError as exc:
        set_file_aside(exc, str(part), "file", rejects, reading.several)
        return
    own = export.get("threadName")
    conversation = _named(part, source, str(_repaired(own)) if isinstance(own, str) and own.strip() else part.stem)
    participants = export.get("participants")
    people = [str(_repaired(p)) for p in participants if isinstance(p, str)] if isinstance(participants, list) \
        else []
    place = 0
    for index, message, _ in _in_time_order(listed, _messenger_time):
        where = (str(part), f"messages[{index}]")
        if not _object(message, where, rejects):
            continue
        if message.get("isUnsent") is True or message.get("type") == "placeholder":
            reading.notices += 1
            continue
        place += 1
        media = _listed(message.get("media"))
        kind = attachment_kind(media[0].get("uri")) if media else "file" if message.get("type") == "media" else None
        record = _record(conversation, _repaired(message.get("senderName")), people,
                         _seconds(message.get("timestamp")), _repaired(message.get("text")) or "", kind)
        if (row := row_or_reject(record, str(place), None, where, rejects, reading)) is not None:
            yield row


def _messenger_time(message: object) -> float | None:
    """A message's time in milliseconds; None where it has none."""
    stamp = message.get("timestamp") if isinstance(message, Mapping) else None
    return float(stamp) if isinstance(stamp, int | float) and not isinstance(stamp, bool) else None


def _in_time_order(listed: Sequence[object], time_of: Callable[[object], Any],
                   tie: Callable[[object], float] | None = None) -> list[tuple[int, object, Any]]:
    """A chat's messages with their places in ``listed`` and their times (``time_of``, None for none), in time order
    however the export lists them (those of one time by ``tie``, where given, then as listed): those of no time
    last, in their order, so that the others' numbers hold."""
    timed = [(index, message, time_of(message)) for index, message in enumerate(listed)]
    return sorted(timed, key=lambda item: (item[2] is None, 0 if item[2] is None else item[2],
                                           0 if tie is None or item[2] is None else tie(item[1])))
