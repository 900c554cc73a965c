"""The files an input names, and what they are: format by name, gzip, text encoding, a row's place in a folder."""

from __future__ import annotations

import contextlib
import gzip
import io
import itertools
import os
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

SUFFIXES = (".jsonl", ".csv", ".parquet")
GZIP_SUFFIXES = (".jsonl.gz", ".csv.gz")  # inputs read through gzip (Parquet compresses inside the file)
FILE_TYPES = ", ".join((*SUFFIXES, *GZIP_SUFFIXES))  # as errors list them
CHUNK_BYTES = 1 << 20  # whole-file checks read this much at a time
PARQUET_ROW_BYTES = 256  # a message as JSON Lines is 250-400 bytes: what a Parquet row counts for in data_bytes


class InputError(Exception):
    """Input that cannot be read at all, or a bad row when rejects are not being collected."""


class MissingColumnsError(InputError):
    """A file whose header or schema lacks a required column."""


def gzipped(path: Path | str) -> bool:
    """Whether a file is read and written through gzip: its name ends in .gz, in any case."""
    return str(path).lower().endswith(".gz")


def input_format(path: Path) -> str | None:
    """An input file's format by its name: ``.jsonl``, ``.csv`` or ``.parquet``, gzip-compressed ones
    (``.jsonl.gz``, ``.csv.gz``) included; None for any other name."""
    name = path.name.lower()
    if name.endswith(GZIP_SUFFIXES):
        return name[:-3][name[:-3].rindex("."):]
    return path.suffix.lower() if path.suffix.lower() in SUFFIXES else None


def special_file(path: Path) -> bool:
    """Whether ``path`` is a named pipe, a device or a socket (``/dev/stdin``, ``<(...)``), whatever its name."""
    return path.exists() and not path.is_file() and not path.is_dir()


def not_a_file(path: Path) -> InputError:
    """The error for an input that is not a file: missing, a folder where one file is read, or another
    kind of thing (a named pipe, a device, a socket)."""
    if path.is_dir():
        return InputError(f"{path}: a folder, not a file")
    if path.exists():
        return InputError(f"{path}: not a regular file (a named pipe, a device or a socket): save the data to a file")
    return InputError(f"{path}: no such file")


def _hidden(part: str) -> bool:
    """A name that a folder of data files holds beside its data: Spark's ``_SUCCESS``, ``_temporary``
    and ``.crc`` checksums, hidden files, a run's own temporary files."""
    return part.startswith(("_", "."))


def input_files(path: Path) -> list[Path]:
    """The files an input names: the file itself or, for a folder (a dataset written in parts, by
    Spark, by day...), every file under it, in path order, but those whose name or folder begins with
    '_' or '.', links to folders and files followed. Each is read by its own suffix; one of any other
    type, or a link to nothing, is an error naming it, as is a folder with none."""
    if not path.is_dir():
        check_encoding(path)
        return [path]
    files = _walk(path)
    for f in files:
        if not f.exists():
            raise InputError(f"{f}: a link to a file that does not exist (in input folder {path})")
        if not f.is_file():
            raise InputError(f"{not_a_file(f)} (in input folder {path})")
        if input_format(f) is None:
            raise InputError(f"{unsupported(f)} (in input folder {path}; files whose names begin with '_' or "
                             "'.' are skipped)")
        check_encoding(f)
    if not files:
        raise InputError(f"{path}: a folder with no data files (expected names ending in {FILE_TYPES})")
    return files


def _walk(folder: Path) -> list[Path]:
    """Every file under ``folder`` but hidden ones (``_hidden``), in path order, following links (a
    dataset may link its days in). A folder or file reached again through a link is read once (a link
    back up would otherwise loop)."""
    found: list[Path] = []
    walked: set[str] = set()
    for root, folders, names in os.walk(folder, followlinks=True):
        if (real := os.path.realpath(root)) in walked:
            folders.clear()
            continue
        walked.add(real)
        folders[:] = sorted(name for name in folders if not _hidden(name))
        found += (Path(root) / name for name in names if not _hidden(name))
    files: list[Path] = []
    seen: set[str] = set()
    for path in sorted(found):
        if (real := os.path.realpath(path)) not in seen:
            seen.add(real)
            files.append(path)
    return files


def input_bytes(files: list[Path]) -> int:
    """``data_bytes`` of an input's files (``input_files``) together."""
    return sum(data_bytes(f) for f in files)


FILE_BITS = 40  # a row's place in a folder, as every engine orders it: its file's index << FILE_BITS | its row


def folder_place(file_index: int, row: int) -> int:
    """A row's place in a folder's input order (``input_files``): by file, then by row within the file."""
    return (file_index << FILE_BITS) + row


def file_and_row(place: int) -> tuple[int, int]:
    """``folder_place`` undone: the file's index and the row within that file."""
    return place >> FILE_BITS, place & ((1 << FILE_BITS) - 1)


_LIST_KEY = re.compile(rb'"([A-Za-z_][A-Za-z0-9_]*)"\s*:\s*\[')
_TELEGRAM = re.compile(rb'"date_unixtime"|"personal_information"|"type"\s*:\s*"(personal_chat|private_group|'
                       rb'private_supergroup|public_supergroup|private_channel|public_channel|bot_chat|saved_messages)"')
# DiscordChatExporter's HTML as it names it by default: "Guild - channel [id].html", "... [id] [part 2].html"
DISCORD_HTML = re.compile(r".* \[\d+\]( \[part \d+\])?\.html", re.IGNORECASE)
_DISCORD = re.compile(rb'\{\s*"guild"\s*:\s*\{.*?"channel"\s*:\s*\{', re.S)  # DiscordChatExporter's, as it opens
EXPORT_HEAD_BYTES = 1 << 16
APPS = {"meta": "Instagram or Messenger", "messenger": "Messenger", "telegram": "Telegram",
        "discord": "Discord (by DiscordChatExporter)", "snapchat": "Snapchat"}


def chat_export(head: bytes) -> str | None:
    """Which app's chat export a JSON file is, by its first bytes (``EXPORT_HEAD_BYTES``): "meta" (Instagram's or
    Messenger's ``message_1.json``, a thread with its ``thread_path``), "messenger" (a chat of Messenger's
    end-to-end encrypted export, its ``senderName`` in camel case), "telegram" (Telegram Desktop's
    ``result.json``, a chat or every chat), "discord" (a channel or direct chat as DiscordChatExporter writes it, its
    ``guild`` and ``channel`` first), "snapchat" (its "My Data" download's ``chat_history.json``), or None."""
    head = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"{"):
        return None
    if b'"thread_path"' in head or (b'"participants"' in head and b'"sender_name"' in head):
        return "meta"
    if b'"participants"' in head and b'"senderName"' in head:  # Messenger's end-to-end encrypted chats' export
        return "messenger"
    if _DISCORD.match(head):
        return "discord"
    if _TELEGRAM.search(head):
        return "telegram"
    if (b'"Media Type"' in head and b'"Created"' in head) or b'Saved Chat History"' in head:
        return "snapchat"
    return None


def unsupported(path: Path) -> InputError:
    if str(path) == "-":  # `zcat events.jsonl.gz | riskline score - ...`: files are read twice, and in parallel
        return InputError("-: riskline reads files, not standard input: save the data to a file first "
                          f"({FILE_TYPES})")
    if special_file(path):
        return not_a_file(path)
    hint = ""
    if path.suffix.lower() in (".txt", ".zip"):
        hint = ("; a chat exported from WhatsApp becomes message events with riskline convert INPUT -o OUT.jsonl "
                "--timezone ZONE")
    if path.suffix.lower() == ".html" and (path.name.lower().startswith(("message", "chat_history"))
                                           or DISCORD_HTML.fullmatch(path.name)):
        hint = ("; an app's chats downloaded or exported as HTML (Instagram's, Facebook's, Snapchat's, Telegram's, "
                "DiscordChatExporter's) are not read: have them as JSON, then riskline convert INPUT -o OUT.jsonl")
    if path.suffix.lower() == ".zip":
        hint += " (an app's download as its .zip, Instagram's or Snapchat's, too, without --timezone)"
    if path.suffix.lower() == ".json":
        hint = ("; a JSON array of messages becomes JSON Lines with one object per line, e.g. "
                "jq -c '.[]' IN.json > OUT.jsonl")
        with contextlib.suppress(OSError):
            with path.open("rb") as handle:
                head = handle.read(EXPORT_HEAD_BYTES)
            # another chat export (a platform's own): one object, its messages in a list under
            # a key ("messages" where there is one)
            lists = [key[1].decode() for key in _LIST_KEY.finditer(head)] if head.lstrip().startswith(b"{") else []
            if app := chat_export(head):
                hint = f"; a chat exported from {APPS[app]} becomes message events with riskline convert INPUT -o " \
                    "OUT.jsonl"
            elif lists:
                name = "messages" if "messages" in lists else lists[0]
                hint = (f"; its list {name!r} becomes JSON Lines with one object per line, e.g. jq -c '.{name}[]' "
                        f"IN.json > OUT.jsonl (the chat's own id, which its messages lack, goes into each: jq -c "
                        f"'.id as $c | .{name}[] | .chat = $c', then --map conversation_id=chat; messages "
                        "without ids of their own: riskline convert --number-messages)")
    return InputError(f"{path}: unsupported file type '{path.suffix}' "
                      f"(expected one of {FILE_TYPES}){hint}")


def data_bytes(path: Path) -> int:
    """About how many bytes of data a file holds, to choose an engine: its size; for Parquet at least
    ``PARQUET_ROW_BYTES`` a row; for gzip the size its trailer records. That is the size modulo 4 GiB:
    under the file's own size, it wrapped when the file is large (compressed text is rarely larger
    than the text), and the text is tiny when it is not."""
    size = path.stat().st_size
    if path.suffix.lower() == ".parquet":  # compressed and encoded by column: its rows tell more
        import pyarrow.parquet as pq

        try:
            return max(size, pq.ParquetFile(path).metadata.num_rows * PARQUET_ROW_BYTES)
        except Exception:  # the reader says what is wrong with it
            return size
    if not gzipped(path) or size < 18:  # under gzip's header and trailer: not gzip
        return size
    with path.open("rb") as handle:
        handle.seek(-4, io.SEEK_END)
        recorded = int.from_bytes(handle.read(4), "little")
    if recorded >= size:
        return recorded
    return recorded + (1 << 32) if size >= 1 << 24 else size


def open_bytes(path: Path) -> BinaryIO:
    """An input file's bytes, decompressed where its name ends in .gz."""
    return gzip.open(path, "rb") if gzipped(path) else path.open("rb")  # type: ignore[return-value]


# What reading a file through gzip raises when it is cut or damaged (EOFError, zlib.error) or is not
# gzip at all (gzip.BadGzipFile, an OSError), besides any other failure to read (OSError)
READ_ERRORS = (OSError, EOFError, zlib.error)


@contextlib.contextmanager
def gzip_errors(path: Path) -> Iterator[None]:
    """A file named .gz that is not gzip, or is cut or damaged, as an ``InputError`` naming it."""
    try:
        yield
    except gzip.BadGzipFile as exc:
        raise InputError(f"{path}: not a gzip file ({exc})") from None
    except (EOFError, zlib.error) as exc:
        raise InputError(f"{path}: a cut or damaged gzip file ({exc})") from None


def chunks(handle: BinaryIO) -> Iterator[bytes]:
    """A file about ``CHUNK_BYTES`` at a time, cut after a newline: no character or \r\n is split."""
    while chunk := handle.read(CHUNK_BYTES) + handle.readline():
        yield chunk


def _line_ends(data: bytes) -> int:
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")


_BYTE_ORDER_MARKS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe", "UTF-16"),
                     (b"\xfe\xff", "UTF-16"))


def other_encoding(path: Path) -> str | None:
    """Why a text file (JSON Lines, CSV) that starts with a UTF-16 or UTF-32 byte order mark cannot be read, or
    None. Windows tools write such files: Windows PowerShell's ``>`` and ``Out-File``, Excel's "Unicode Text"."""
    if input_format(path) not in (".jsonl", ".csv") or not path.is_file():
        return None
    try:
        with open_bytes(path) as handle:
            start = handle.read(4)
    except READ_ERRORS:  # a damaged gzip file: its reader names it
        return None
    encoding = next((name for mark, name in _BYTE_ORDER_MARKS if start.startswith(mark)), None)
    if encoding is None:
        return None
    return (f"{encoding} text (it starts with a {encoding} byte order mark); riskline reads UTF-8: convert it first "
            f"(iconv -f {encoding} -t UTF-8, or PowerShell's Out-File -Encoding utf8, or Excel's \"CSV UTF-8\")")


def check_encoding(path: Path) -> None:
    """``InputError`` naming ``path`` where ``other_encoding`` says why it cannot be read."""
    if reason := other_encoding(path):
        raise InputError(f"{path}: {reason}")


def utf8_error(path: Path) -> str | None:
    """Where a file's first bytes that are not UTF-8 lie, as ``line N: not UTF-8 text (byte K of the
    line)``, or None for UTF-8 text. Lines end at \n, \r\n or a lone \r, as Python's readers end them. A file
    in UTF-16 or UTF-32 with its byte order mark is said as that (``other_encoding``)."""
    if reason := other_encoding(path):
        return reason
    with open_bytes(path) as handle:
        for index, chunk in enumerate(chunks(handle)):
            try:
                chunk.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad, chunks_before = exc.start, index
                break
        else:
            return None
        handle.seek(0)  # lines are counted only now, to keep the common case fast
        line = 1 + sum(_line_ends(earlier) for earlier in itertools.islice(chunks(handle), chunks_before))
    before = chunk[:bad]
    start = max(before.rfind(b"\n"), before.rfind(b"\r")) + 1
    return f"line {line + _line_ends(before)}: not UTF-8 text (byte {bad - start + 1} of the line)"
