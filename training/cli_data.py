"""``riskline synth`` (labelled synthetic conversations) and ``convert`` (PAN 2012 XML or a platform's logs
to message events)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from detection.cli_common import check_errors_file, check_outputs, fail, local_path
from detection.wording import counted

if TYPE_CHECKING:  # not imported at start: the command line starts without them
    from detection.readers import Reject

WRITE_HELP = "File to write (.jsonl, .csv or .parquet; .jsonl.gz, .csv.gz compressed)"


def synth(
    output: Annotated[Path, typer.Option("-o", "--output", metavar="OUTPUT", parser=local_path, help=WRITE_HELP)],
    n: Annotated[int, typer.Option("--n", metavar="N", help="Number of conversations")] = 500,
    seed: Annotated[int, typer.Option(metavar="N", help="Random seed")] = 0,
    offenders: Annotated[int, typer.Option(
        metavar="N",
        min=0, help="Positives written by this many offenders, each running a script of their own (handle, lines, "
                    "amounts, pace) on many targets, named in offender_id; 0: each positive by a new offender")] = 0,
) -> None:
    """Write labelled synthetic conversations.

    Each message has its stage, each row its conversation_label.
    """
    from detection.writers import output_format, write_rows
    from training.synth.generator import arrow_schema, columns, iter_rows

    output_format(output)  # before the work, not after it
    if n < 1:
        raise fail(f"--n {n}: the number of conversations must be at least 1")
    if offenders > n:
        raise fail(f"--offenders {offenders}: more offenders than conversations (--n {n})")
    tally = itertools.count()  # advanced once a row written, after it: next() then tells how many were
    rows = (row for row, _ in zip(iter_rows(n, seed, offenders=offenders), tally, strict=False))
    write_rows(output, rows, columns(offenders), arrow_schema(offenders))  # as they come: memory stays flat
    by = f" (positives by {counted(offenders, 'offender')})" if offenders else ""
    typer.echo(f"wrote {counted(next(tally), 'message')} in {counted(n, 'conversation')}{by} -> {output}", err=True)


def convert(
    input_path: Annotated[Path, typer.Argument(
        metavar="INPUT", parser=local_path,
        help="PAN 2012 conversations XML, a platform's message logs (.jsonl, .csv, .parquet, gzipped, or a "
             "folder of such files), or an app's chat export (WhatsApp's .txt or .zip, Telegram's result.json, "
             "Instagram's or Messenger's message_1.json, a Messenger encrypted chat's .json, DiscordChatExporter's "
             ".json, Snapchat's chat_history.json, a folder of them, or an app's download as its .zip)")],
    output: Annotated[Path, typer.Option("-o", "--output", metavar="OUTPUT", parser=local_path, help=WRITE_HELP)],
    predators: Annotated[Path | None, typer.Option(
        metavar="FILE", parser=local_path,
        help="PAN: predator ids (default: *predator*.txt beside INPUT)")] = None,
    mapping: Annotated[list[str] | None, typer.Option(
        "--map", metavar="FIELD=COLUMN",
        help="Logs: read this column as this field (e.g. conversation_id=thread_id, text=body; "
             "sender_id=author.id for a nested one, attachment=attachments.0.content_type in a list); "
             "repeatable")] = None,
    timestamp_unit: Annotated[str, typer.Option(
        metavar="s|ms|us|ns",
        help="Logs: the unit of numeric timestamps: s, ms, us or ns (ISO-8601 text is read as it is)")] = "s",
    time_format: Annotated[str | None, typer.Option(
        metavar="FORMAT",
        help="Logs: the format of text timestamps that are not ISO-8601, as for strptime (e.g. '%d/%m/%Y %H:%M'); "
             "WhatsApp: of a line's date and time, where no day past 12 tells their order")
    ] = None,
    timezone: Annotated[str | None, typer.Option(
        metavar="ZONE",
        help="Logs: the time zone of timestamps without a UTC offset (e.g. UTC, Europe/Berlin); WhatsApp: the "
             "phone's (required)")] = None,
    number_messages: Annotated[bool, typer.Option(
        "--number-messages",
        help="Logs without message ids: name each message by its place among its conversation's rows, in the "
             "logs' order (1, 2, ...), the same again for the same logs or logs that only grew at their end")] = False,
    repair_text: Annotated[bool, typer.Option(
        "--repair-text",
        help="Logs: read text (and names) written as UTF-8 and read back as Latin-1, as Meta's exports hold it "
             "('cafÃ©' for 'café', four letters for an emoji), as it was written")] = False,
    label: Annotated[int | None, typer.Option(
        "--label", metavar="0|1", min=0, max=1,
        help="Logs, chat exports: give every conversation this conversation_label, for train and evaluate (chats "
             "known to be grooming or extortion: 1; ordinary ones: 0)")] = None,
    errors: Annotated[Path | None, typer.Option(
        "--errors", metavar="FILE", parser=local_path,
        help="Write bad rows (PAN: messages) here, as JSON Lines, and convert the rest")] = None,
) -> None:
    """Convert PAN 2012 XML, logs or chat exports to message events.

    The PAN 2012 predator-identification corpus, or a platform's own message logs, become
    (labelled) message events; so do chats exported from WhatsApp (read in the phone's time
    zone, --timezone), Telegram, Instagram, Messenger, Discord or Snapchat, each chat a
    conversation.
    """
    check_errors_file(errors)  # before the work: else the output would be written and not the bad rows
    from training.exports import export_kinds, html_download

    if input_path.suffix.lower() != ".xml" and predators is not None:
        raise fail(f"{input_path}: --predators is for PAN 2012 XML, whose labels it gives")
    passed: list[Path] = []  # text files and zips in a folder of exports that are no WhatsApp chat
    if (chats := export_kinds(input_path, passed)) is not None:
        if mapping or timestamp_unit != "s" or number_messages or repair_text:
            raise fail(f"{input_path}: --map, --timestamp-unit, --number-messages and --repair-text are for message "
                       "logs, not an app's chat export (read as the app writes it)")
        _convert_chats(input_path, chats, output, time_format, timezone, errors, label)
        if passed:
            listed = ", ".join(map(str, passed[:3])) + (", ..." if len(passed) > 3 else "")
            typer.echo(f"riskline: note: passed over {counted(len(passed), 'text file or zip', 'text files or zips')}"
                       f" that do not open as a WhatsApp chat ({listed}); a chat's export named as WhatsApp names it "
                       "('WhatsApp Chat with NAME.txt') is read, and what is wrong with it said", err=True)
        return
    if html := html_download(input_path):
        raise fail(f"{input_path}: {html}")
    if input_path.suffix.lower() != ".xml":
        return _convert_logs(input_path, output, mapping or [], (timestamp_unit, time_format, timezone), errors,
                             number_messages, repair_text, label)
    if mapping or timestamp_unit != "s" or time_format or timezone or number_messages or repair_text:
        raise fail(f"{input_path}: --map, --timestamp-unit, --time-format, --timezone, --number-messages and "
                   "--repair-text are for message logs, not PAN 2012 XML")
    if label is not None:
        raise fail(f"{input_path}: --label {label}: PAN 2012's labels come from its predator list (--predators)")
    from detection.batch import write_rejects
    from detection.writers import output_format, write_rows
    from training.pan import COLUMNS, arrow_schema, iter_pan_rows, predator_files, read_predators

    if predators is not None:
        source = predators
    elif len(found := predator_files(input_path)) == 1:
        source = found[0]
    else:
        beside = f"several predator-id lists beside it ({', '.join(p.name for p in found)})" if found else \
            "no predator-id list found beside it"
        raise fail(f"{input_path}: {beside}; pass --predators FILE")
    check_outputs({"INPUT": input_path, "the predator list": source}, {"--output": output, "--errors": errors})
    output_format(output)  # before the work, not after it
    tally, ids = _Tally(), read_predators(source)
    rejects: list[Reject] | None = [] if errors is not None else None
    write_rows(output, tally.count(iter_pan_rows(input_path, ids, rejects)), COLUMNS, arrow_schema())
    if errors is not None:
        write_rejects(errors, rejects or [])
    rejected = f", {counted(len(rejects), 'message')} rejected" if rejects is not None else ""
    typer.echo(f"wrote {counted(tally.messages, 'message')} in {counted(len(tally.conversations), 'conversation')} "
               f"({len(tally.positives)} with a predator){rejected} -> {output}", err=True)
    if tally.conversations and not tally.positives:
        typer.echo(f"warning: no author listed in {source} ({counted(len(ids), 'id')}) writes in {input_path}, so "
                   "every conversation is labelled 0: is it this corpus's list (PAN 2012's training and test sets "
                   "each have their own)?", err=True)


class _Tally:
    """What ``convert`` wrote, counted as the rows stream past (memory stays flat however large the input)."""

    def __init__(self) -> None:
        self.messages = 0
        self.conversations: set[object] = set()
        self.positives: set[object] = set()

    def count(self, rows: Iterable[dict[str, object]]) -> Iterator[dict[str, object]]:
        for row in rows:
            self.messages += 1
            self.conversations.add(row["conversation_id"])
            if row.get("conversation_label"):
                self.positives.add(row["conversation_id"])
            yield row


def _convert_chats(input_path: Path, chats: dict[Path, str], output: Path, form: str | None, zone: str | None,
                   errors: Path | None, label: int | None) -> None:
    """``convert`` for apps' chat exports: each chat a conversation (labelled ``label``, where given)."""
    from detection.events import EVENT_FIELDS
    from detection.writers import output_format
    from training.chat_rows import Reading
    from training.exports import iter_export_rows
    from training.logs import time_zone

    check_outputs({"INPUT": input_path}, {"--output": output, "--errors": errors})
    output_format(output)  # before the work, not after it
    rejects: list[Reject] | None = [] if errors is not None else None
    reading = Reading()
    given = time_zone(zone)
    rows = iter_export_rows(input_path, given, form, rejects, reading, chats)
    first = next(rows, None)  # an export that cannot be read is named here, before anything is written
    if first is None and not rejects:
        raise fail(f"{input_path}: no messages, only the app's own notices")
    columns = [*EVENT_FIELDS, *([] if label is None else ["conversation_label"])]
    tally = _written(output, first, rows, columns, label, errors, rejects)
    notices = f", {counted(reading.notices, 'notice')} of the app's own left out" if reading.notices else ""
    whole = sum(1 for reject in rejects or [] if reject.field in ("file", "messages"))  # a chat or export unread
    unread = f", {counted(whole, 'chat export')} that could not be read set aside" if whole else ""
    typer.echo(f"wrote {counted(tally.messages, 'message')} in {counted(len(tally.conversations), 'conversation')}"
               f"{_label_said(label)}, {counted(len(rejects or []) - whole, 'message')} rejected{unread}{notices} -> "
               f"{output}", err=True)
    for chat in reading.borrowed:
        typer.echo(f"riskline: note: {chat}: no day past 12 tells its date order; read as the other chats' are",
                   err=True)
    _note_unused(given, tally)


def _written(output: Path, first: dict[str, object] | None, rows: Iterator[dict[str, object]], columns: list[str],
             label: int | None, errors: Path | None, rejects: list[Reject] | None) -> _Tally:
    """``first`` and the ``rows`` after it, each given the conversation label ``label`` where it is one
    (``--label``), written to ``output``, and the rows set aside to ``errors``; what was written, counted."""
    from detection.batch import write_rejects
    from detection.writers import write_rows
    from training.logs import arrow_schema

    tally = _Tally()
    read = itertools.chain([first] if first is not None else [], rows)
    labelled = read if label is None else ({**row, "conversation_label": label} for row in read)
    write_rows(output, tally.count(labelled), columns, arrow_schema(columns))
    if errors is not None:
        write_rejects(errors, rejects or [])
    return tally


def _label_said(label: int | None) -> str:
    return "" if label is None else f" labelled {label} ({'grooming or extortion' if label else 'ordinary'})"


def _convert_logs(input_path: Path, output: Path, mapping: list[str], times: tuple[str, str | None, str | None],
                  errors: Path | None, numbered: bool, repair: bool, label: int | None = None) -> None:
    """``convert`` for a platform's logs: columns renamed, rows checked, written as message events (each
    conversation labelled ``label``, where given)."""
    from detection.events import EVENT_FIELDS, LABEL_FIELDS
    from detection.writers import output_format
    from training.logs import Garbled, iter_log_rows, parse_mapping, time_zone

    check_outputs({"INPUT": input_path}, {"--output": output, "--errors": errors})
    output_format(output)  # before the work, not after it
    rename = parse_mapping(mapping)
    if label is not None and "conversation_label" in rename.values():
        raise fail(f"--label {label}: the logs' labels are read from a column already (--map conversation_label=...)")
    rejects: list[Reject] | None = [] if errors is not None else None
    unit, form, zone = times
    garbled = Garbled(repair)
    given = time_zone(zone)
    rows = iter_log_rows(input_path, rename, unit, rejects, given, form, numbered, garbled)
    first = next(rows, None)  # a missing input, or a bad first file, is named here, before anything is written
    if first is None and not rejects:
        raise fail(f"{input_path}: no message rows")
    if label is not None and first is not None and "conversation_label" in first:
        raise fail(f"--label {label}: the logs hold labels of their own, in their column conversation_label")
    columns = [*EVENT_FIELDS, *(name for name in LABEL_FIELDS if (first is not None and name in first) or
                                (name == "conversation_label" and label is not None))]
    tally = _written(output, first, rows, columns, label, errors, rejects)
    typer.echo(f"wrote {counted(tally.messages, 'message')} in {counted(len(tally.conversations), 'conversation')}"
               f"{_label_said(label)}, {counted(len(rejects or []), 'row')} rejected -> {output}", err=True)
    if garbled.found or garbled.names:
        both = " and ".join(counted(n, what) for n, what in ((garbled.found, "text"), (len(garbled.names), "name"))
                            if n)
        texts = f"{both} {'was' if garbled.found + len(garbled.names) == 1 else 'were'}"
        typer.echo(f"riskline: note: {texts} UTF-8 read as Latin-1, as Meta's exports hold text ('cafÃ©' for "
                   f"'café'): {'read as written (--repair-text)' if repair else '--repair-text reads them as written'}",
                   err=True)
    _note_unused(given, tally)


def _note_unused(zone: tzinfo | None, tally: _Tally) -> None:
    """Where messages were written and none of their times was read in the zone given (``--timezone``), a note."""
    from training.logs import unused_zone

    if tally.messages and (said := unused_zone(zone)):
        typer.echo(f"riskline: note: {said}", err=True)

