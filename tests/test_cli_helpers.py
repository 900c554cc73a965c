"""The suite's ``riskline`` helper forks its commands from a server that has imported their modules
(``tests/fork_server.py``): each answers as the console script started afresh does, or the suite would
test something other than what users run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import cli_helpers
from tests.cli_helpers import riskline

pytestmark = pytest.mark.slow  # each runs commands both ways, on the trained model


def _head(labelled_path: Path, n: int, folder: Path) -> Path:
    """The first ``n`` rows of ``labelled_path``, as ``folder / "small.jsonl"``."""
    small = folder / "small.jsonl"
    small.write_text("".join(labelled_path.read_text().splitlines(keepends=True)[:n]))
    return small


def test_a_forked_command_answers_as_the_console_script_does(model_dir: Path, labelled_path: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The same status, standard output and error, and files written: a scoring, a table at the width the
    environment names, user mistakes (exit 2), standard input through a pipe, a disk that fills up (a
    file-size limit that reaches the command's files, not its standard streams), a working folder's own."""
    small = _head(labelled_path, 60, tmp_path)
    out = tmp_path / "out.jsonl"
    cases: list[tuple[tuple[object, ...], dict[str, object]]] = [
        (("score", small, "-o", out, "--model", model_dir, "--show", "2"), {"env": {"COLUMNS": "70"}}),
        (("score", small, "-o", tmp_path / "out.txt", "--model", model_dir), {}),
        (("score", "-", "-o", out, "--model", model_dir), {"stdin": small.read_text()}),
        (("score", "/dev/stdin", "-o", out, "--model", model_dir), {"stdin": small.read_text()}),
        (("score", labelled_path, "-o", out, "--model", model_dir, "--per-message"), {"max_file_bytes": 4096}),
        (("score", small.name, "-o", out.name, "--model", model_dir), {"cwd": tmp_path}),  # paths from there
    ]
    seen = []
    for args, options in cases:
        forked = riskline(*args, **options)  # type: ignore[arg-type]
        written = out.read_bytes() if out.exists() else None
        out.unlink(missing_ok=True)
        with monkeypatch.context() as patched:
            patched.setenv("RISKLINE_TEST_FORKS", "0")
            started = riskline(*args, **options)  # type: ignore[arg-type]
        assert (forked.args, forked.returncode, forked.stdout, forked.stderr) == (
            started.args, started.returncode, started.stdout, started.stderr), args
        assert written == (out.read_bytes() if out.exists() else None), args
        out.unlink(missing_ok=True)
        seen.append(forked.returncode)
    assert seen == [0, 2, 2, 2, 2, 0]


def test_a_variable_the_command_is_not_given_is_not_the_servers_either(model_dir: Path, labelled_path: Path,
                                                                       tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A server started where RISKLINE_MODEL names a model: a command given no RISKLINE_MODEL (``None`` in
    ``env``) scores with the default model, as the console script started so does."""
    monkeypatch.setenv("RISKLINE_MODEL", str(model_dir))
    server = cli_helpers._ForkServer()
    monkeypatch.setattr(cli_helpers, "_FORKS", server)
    small = _head(labelled_path, 30, tmp_path)
    written = []
    try:
        for forks in ("1", "0"):
            monkeypatch.setenv("RISKLINE_TEST_FORKS", forks)
            done = riskline("score", small, "-o", tmp_path / f"{forks}.jsonl", env={"RISKLINE_MODEL": None})
            assert done.returncode == 0, done.stderr
            written.append({json.loads(line)["model_version"] for line in (tmp_path / f"{forks}.jsonl").open()})
    finally:
        server.end()
    assert written[0] == written[1] != {json.loads((model_dir / "model.json").read_text())["model_version"]}
