"""Human-readable tables of results (rich), for the terminal."""

from __future__ import annotations

import re
from collections.abc import Callable

from rich.console import Console
from rich.table import Table
from rich.text import Text

from detection.events import MessageEvent
from detection.explain import Step
from detection.scoring import RiskScore
from detection.wording import counted

# what was left out before a message (or None), then the message (None after the last)
Rows = list[tuple[str | None, Step | None]]
Quoted = dict[tuple[str, str], MessageEvent]  # the messages quoted, by conversation and message id

# The narrowest console ``explain`` draws a table in: narrower, its message column is a few letters wide.
TABLE_WIDTH = 120
LEVEL_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "none": "dim"}
# What a terminal acts on rather than shows: control characters (escape sequences that clear the screen,
# move the cursor or recolour what follows) and bidirectional overrides (which reorder what is shown).
# Messages and ids are the senders' own text, so they are shown with these as visible escapes, and as
# plain text, never as rich markup ("[/]" in a message would otherwise end the table in a traceback).
_ACTIVE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


class Terminal(Console):
    """A console whose reader going away (``| head``) raises ``BrokenPipeError`` for the command line
    to end on as it does for any other output, where rich would exit with status 1 itself."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


def shown(text: str) -> Text:
    """Untrusted text for the terminal: plain text, its active characters as escapes (``\\x1b``)."""
    return Text(_ACTIVE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text))


def _snippet(text: str, width: int = 48, attachment: str | None = None) -> Text:
    text = " ".join(text.split())
    text = text if len(text) <= width else text[: width - 1] + "…"
    if attachment is None:
        return shown(text) if text else Text("(no text)", style="dim")
    return Text.assemble((f"[{attachment}]", "bold"), " ", shown(text))  # what was sent matters as much


def _print_indented(console: Console, text: Text, indent: int = 4) -> None:
    """``text`` wrapped to the console's width, every line indented (by ``indent`` spaces), none ending in spaces
    (a log or a file keeps what a terminal does not show)."""
    for line in text.wrap(console, max(console.width - indent, 20)):
        line.rstrip()
        console.print(Text(" " * indent) + line)


def _level(level: str) -> Text:
    return Text(level, style=LEVEL_STYLE[level])


def print_riskiest(results: list[RiskScore], events: list[MessageEvent], top: int,
                   console: Console | None = None, total: int | None = None) -> None:
    """The ``top`` riskiest conversations, with the message where the alert fired and the top evidence: a
    table where the console is wide enough to read the messages in one (evidence from 130 columns), else
    one block per conversation, as ``explain`` prints its messages.

    ``events`` need only hold the messages quoted; ``total`` counts the conversations scored, where
    ``results`` holds only the riskiest.
    """
    console = console or Terminal()
    quoted = {(e.conversation_id, e.message_id): e for e in events}
    total = len(results) if total is None else total
    title = f"Riskiest {min(top, len(results))} of {total} conversations"
    riskiest = sorted(results, key=lambda r: -r.risk_score)[:top]
    if console.width < TABLE_WIDTH:  # a narrow terminal, or a file or pipe (80 columns to rich)
        _print_indented(console, Text(title), indent=0)
        _print_riskiest_blocks(console, riskiest, quoted)
    else:
        console.print(_riskiest_table(title, riskiest, quoted, wide=console.width >= 130))


def _print_riskiest_blocks(console: Console, riskiest: list[RiskScore], quoted: Quoted) -> None:
    """``print_riskiest`` on a narrow console: a line a conversation, then its alert message and top evidence,
    each whole and by whom."""
    for r in riskiest:
        alert = "no alert" if r.alert_index is None else f"alert at #{r.alert_index} of {r.n_messages}"
        _print_indented(console, Text.assemble(shown(r.conversation_id), f"  {r.risk_score:.3f} ",
                                               _level(r.risk_level), f"  {alert}  peak {r.peak_stage}"), indent=0)
        quotes = [("alert message", r.alert_message_id)] if r.alert_index is not None else []
        for label, message_id in [*quotes, *(("evidence", m) for m in r.evidence_message_ids[:2])]:
            if (event := quoted.get((r.conversation_id, message_id or ""))) is None:
                continue
            # who wrote it: a young person's plea ("please don't post it") is evidence too
            who = Text.assemble(shown(event.sender_id), " (suspect)" if event.sender_id == r.suspect_id else "")
            line = Text.assemble(label, ", ", who, ": ", _snippet(event.text, 300, event.attachment))
            _print_indented(console, line)


def _riskiest_table(title: str, riskiest: list[RiskScore], quoted: Quoted, wide: bool) -> Table:
    """``print_riskiest``'s table: a row a conversation, its alert message cut short, and its top evidence where
    ``wide``."""

    def said(conversation_id: str, message_id: str | None, width: int = 48) -> Text:
        if (event := quoted.get((conversation_id, message_id or ""))) is None:
            return Text("-")  # no alert
        return _snippet(event.text, width, event.attachment)

    table = Table(title=title, show_lines=False)
    for column in ("conversation", "score", "level", "alert at", "peak stage"):
        table.add_column(column, no_wrap=True)
    table.add_column("alert message", ratio=1)
    if wide:  # evidence gets its own column only where it can be read
        table.add_column("top evidence", ratio=1)
    for r in riskiest:
        evidence = [said(r.conversation_id, m, 28) for m in r.evidence_message_ids[:2]]
        table.add_row(
            shown(r.conversation_id), f"{r.risk_score:.3f}", _level(r.risk_level),
            "-" if r.alert_index is None else f"#{r.alert_index} of {r.n_messages}", r.peak_stage,
            said(r.conversation_id, r.alert_message_id), *([Text(" | ").join(evidence)] if wide else []),
        )
    return table


def _reasons(step: Step) -> str:
    """The three groups pushing the risk up the most: a stage with the message of its strongest evidence so far
    (``Step.strongest``: "coercion +4.1 (#14)"); where the text path decided, "conversation text" with the messages
    whose wording drives it most (``Step.wording``: "(#2 +2.9, #6 +2.5)")."""
    def said(group: str, value: float) -> str:
        if group in step.strongest:
            return f"{group} {value:+.1f} (#{step.strongest[group]})"
        if group != "conversation text" or not step.wording:
            return f"{group} {value:+.1f}"
        return f"{group} {value:+.1f} (" + ", ".join(f"#{w['index']} {w['share']:+.1f}" for w in step.wording) + ")"

    return ("text path: " if step.path == "text" else "") + ", ".join(said(g, v) for g, v in step.top())


def _trajectory_table(title: str, rows: Rows, mark: Callable[[Step], str]) -> Table:
    """``print_trajectory``'s table: a row a message, and a dim row for each run of messages left out."""
    table = Table(title=shown(title))
    for column in ("#", "sender", "risk", "level", "stage"):
        table.add_column(column, no_wrap=True)
    table.add_column("message", ratio=2)
    table.add_column("driven by", ratio=1)
    for gap, step in rows:
        if gap:
            table.add_row("...", "", "", "", "", Text(gap, style="dim"), "")
        if step is not None:
            message = _snippet(step.text, 60, step.attachment)
            if step.read_from is not None:
                message.append_text(Text.assemble("\n", ("read from: ", "dim"), _snippet(step.read_from, 60)))
            table.add_row(mark(step), shown(step.sender_id), f"{step.risk_score:.3f}", _level(step.risk_level),
                          f"{step.stage} {step.stage_probability:.2f}", message, _reasons(step))
    return table


def _print_trajectory_blocks(console: Console, title: str, rows: Rows, mark: Callable[[Step], str]) -> None:
    """``print_trajectory`` on a narrow console: a block a message, its text and reasons on lines of their own."""
    _print_indented(console, shown(title), indent=0)
    for gap, step in rows:
        if gap:
            console.print(Text(f"... {gap} ...", style="dim"))
        if step is not None:
            _print_indented(console, Text.assemble(f"#{mark(step)}  ", shown(step.sender_id),
                                                   f"  risk {step.risk_score:.3f} ", _level(step.risk_level),
                                                   f"  stage {step.stage} {step.stage_probability:.2f}"), indent=0)
            _print_indented(console, _snippet(step.text, 300, step.attachment))
            if step.read_from is not None:
                _print_indented(console, Text.assemble(("read from: ", "dim"), _snippet(step.read_from, 300)))
            _print_indented(console, Text(f"driven by: {_reasons(step)}", style="dim"))


def _with_gaps(steps: list[Step], n_messages: int) -> Rows:
    """Each step with a line for the messages left out before it (``explain --around``; None where none
    were), then the line for those after the last (with no step)."""
    def left_out(n: int) -> str | None:
        return f"{counted(n, 'message')} left out" if n > 0 else None

    rows: list[tuple[str | None, Step | None]] = []
    previous = -1
    for step in steps:
        rows.append((left_out(step.index - previous - 1), step))
        previous = step.index
    rows.append((left_out(n_messages - previous - 1), None))
    return rows


def print_trajectory(result: RiskScore, steps: list[Step], alert_threshold: float,
                     console: Console | None = None) -> None:
    """The risk after every message of one conversation and the three strongest reasons: a table where
    the console is wide enough to read the messages in one, else (a narrow terminal, or a file or pipe,
    which rich takes as 80 columns) one block per message, its text and reasons on lines of their own."""
    console = console or Terminal()
    title = (f"{result.conversation_id}: peak {result.risk_score:.3f} ({result.risk_level}), "
             + (f"alert at #{result.alert_index} (threshold {alert_threshold:.3f})" if result.alert
                else f"no alert (threshold {alert_threshold:.3f})")
             + (f", suspect {result.suspect_id}" if result.suspect_id is not None else ""))
    evidence = set(result.evidence_message_ids)

    def mark(step: Step) -> str:
        return f"{step.index} {'ALERT ' if step.index == result.alert_index else ''}" \
               f"{'*' if step.message_id in evidence else ''}".rstrip()

    rows = _with_gaps(steps, result.n_messages)
    if console.width >= TABLE_WIDTH:
        console.print(_trajectory_table(title, rows, mark))
    else:
        _print_trajectory_blocks(console, title, rows, mark)
    _print_indented(console, Text(
        "* evidence message; 'read from': the words of a long or padded message, or of its sender's run of messages, "
        "its stage was read from, misspelled words as the model read them; 'driven by': shares of the calibrated "
        "log-odds, by stage (#: the message of its strongest evidence so far) and pattern, or of the text path (the "
        "conversation's wording as a whole) where it scored higher, with the messages whose wording counts most in it "
        "(#2 +2.9)"), indent=0)
