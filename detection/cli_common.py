"""What every ``riskline`` command shares: file options read as local paths, bad input as one line on
stderr (status 2, never a traceback), outputs that would overwrite an input refused."""

from __future__ import annotations

import functools
import os
import re
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import typer

from detection.events import EventError
from detection.inputs import InputError
from detection.model_files import ModelLoadError
from detection.model_save import ModelSaveError

F = TypeVar("F", bound=Callable[..., Any])
EVENTS_HELP = "Message events: .jsonl, .csv or .parquet (or .jsonl.gz, .csv.gz), or a folder of such files"
OUTPUT_HELP = "Where to write results (suffix picks format; .jsonl.gz, .csv.gz compressed)"
USER_ERRORS: tuple[type[Exception], ...] = (InputError, ModelLoadError, ModelSaveError, EventError, ValueError,
                                              OSError)


URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+://")


def local_path(value: str) -> Path:
    """The parser of every file option: a path on this machine, or a ``file://`` URI of one, not an empty one.
    Another URI (``s3a://``, ``hdfs://``...) is refused by name here, before pathlib folds its ``//`` into a path
    that does not exist."""
    if not value:  # an unset shell variable ("$IN"): read as ".", the working folder would be read or written
        raise typer.BadParameter("an empty path; name a file or folder")
    if not URI.match(value):
        return Path(value)
    parts = urlsplit(value)
    if parts.scheme.lower() == "file" and parts.netloc in ("", "localhost"):
        return Path(unquote(parts.path))
    raise typer.BadParameter(
        f"{value} is a URI ({parts.scheme.lower()}://), not a path on this machine; riskline reads and writes local "
        "files, so copy it here first (on a Spark cluster, detection.spark.score_spark scores a DataFrame read from "
        "anywhere: docs/deployment.md)")


def fail(message: str) -> typer.Exit:
    """Print one error line on stderr; return the exit to raise (status 2)."""
    typer.echo(f"riskline: error: {message}", err=True)
    return typer.Exit(2)


def _same_file(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return a.samefile(b)
    return a.resolve() == b.resolve()


def check_outputs(inputs: dict[str, Path | None], outputs: dict[str, Path | None]) -> None:
    """Refuse an output that is one of the inputs, or another output: writing it would destroy
    data read or written in the same run. Keys name the options, for the message."""
    given = [(name, path) for name, path in outputs.items() if path is not None]
    for i, (name, path) in enumerate(given):
        for other, source in [*((k, v) for k, v in inputs.items() if v is not None), *given[:i]]:
            if _same_file(path, source):
                raise fail(f"{name} {path} is also {other}: writing it would overwrite that; choose another path")
            if source.is_dir() and path.resolve().is_relative_to(source.resolve()):
                raise fail(f"{name} {path} is inside {other} {source}, a folder of input files: it would be read "
                           "as input the next time; choose a path outside it")


def user_errors(func: F) -> F:
    """Turn bad input into one line on stderr and exit status 2, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            result = func(*args, **kwargs)
            sys.stdout.flush()  # here, where a reader that has gone is caught, not at exit
            return result
        except BrokenPipeError:
            # What reads the output has stopped (`riskline explain ... --json | head`): stop quietly, with
            # the status a shell gives a tool that SIGPIPE ends, and nothing more for Python to flush.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(128 + signal.SIGPIPE) from None
        except USER_ERRORS as exc:
            raise fail(str(exc)) from None
        except MemoryError:  # under a limit on the process's memory (`ulimit -v`), or a machine without swap
            raise fail("out of memory: the process could not have more (the machine's, or a limit such as "
                       "`ulimit -v`); the output in hand was not written. Give it more memory") from None

    return wrapper  # type: ignore[return-value]


def check_errors_file(path: Path | None, option: str = "--errors", what: str = "bad rows are") -> None:
    """``--errors`` (or another JSON Lines ``option``, of which ``what`` is written), before any work: JSON Lines
    by name, in a folder that exists, writable (else the output would be written and not this file)."""
    from detection.inputs import input_format
    from detection.writers import check_writable

    if path is None:
        return
    if input_format(path) in (".csv", ".parquet"):  # a name promising another format
        raise fail(f"{option} {path}: {what} written as JSON Lines; name the file .jsonl (or .jsonl.gz)")
    if not path.parent.is_dir():
        raise fail(f"{option} {path}: folder {path.parent} does not exist")
    check_writable(path)
