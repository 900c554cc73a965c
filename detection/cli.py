"""The ``riskline`` command line: one Typer app; each command is a thin wrapper over library code.

Its own commands are in ``cli_batch`` (score, explain) and ``cli_realtime`` (serve, stream, erase,
backfill). Commands from other installed packages (``training`` adds train, evaluate, synth and convert) are
found through the ``riskline.commands`` entry-point group when the app starts, never at import.
"""

from __future__ import annotations

import os
import signal
from importlib.metadata import entry_points, version
from typing import Annotated

import typer

from detection import cli_batch, cli_realtime

app = typer.Typer(name="riskline", help="Find grooming and sextortion escalation in conversations, early.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False,
                  rich_markup_mode=None, context_settings={"max_content_width": 120})


def _print_version(asked: bool) -> None:
    if asked:
        typer.echo(f"riskline {version('riskline')}")
        raise typer.Exit()


@app.callback()
def _options(show_version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True, help="Print the version and exit")] = False) -> None:
    """The options of ``riskline`` itself, before a command."""


cli_batch.register(app)
cli_realtime.register(app)


def load_plugins() -> None:
    """Add commands registered by installed packages under ``riskline.commands``."""
    for entry in entry_points(group="riskline.commands"):
        entry.load()(app)


class _Terminated(BaseException):
    """SIGTERM, raised where the command is, as Ctrl-C raises KeyboardInterrupt (no ``except Exception`` stops it)."""


def _terminated(signum: int, frame: object) -> None:
    raise _Terminated


def main() -> None:
    """Console entry point.

    SIGTERM (what ``kill``, ``timeout``, systemd and Kubernetes send) stops a command as Ctrl-C does, by an
    exception, so that its cleanup runs: no output half-written, no staging file or working folder left, no
    worker process left behind. The process then ends by SIGTERM all the same, as one without a handler would,
    which is what a shell, systemd and Kubernetes expect of a stopped process. ``serve`` and ``stream`` put
    handlers of their own in its place, to finish the work in hand.
    """
    signal.signal(signal.SIGTERM, _terminated)
    try:
        load_plugins()
        app(prog_name="riskline")
    except _Terminated:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        raise SystemExit(128 + signal.SIGTERM) from None  # where another thread takes the signal a moment later


if __name__ == "__main__":  # pragma: no cover
    main()
