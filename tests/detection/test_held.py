"""Files and folders held while written (detection.held): what a command killed outright leaves is removed by
the next command writing in the same place, and nothing else is."""

from __future__ import annotations

import errno
import fcntl
import os
import re
import stat
from pathlib import Path

import pytest

from detection.held import Held, remove_abandoned
from detection.model import RiskModel
from tests.cli_helpers import HeldElsewhere, riskline
from tests.conftest import write_jsonl


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_held_file_is_named_once_locked_and_removed_on_close(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        held = Held(tmp_path, ".out.jsonl.", ".tmp")
    finally:
        os.umask(umask)
    assert re.fullmatch(r"\.out\.jsonl\.[0-9a-f]{12}\.tmp", held.path.name) and mode(held.path) == 0o644
    with open(held.path, "rb") as other, pytest.raises(BlockingIOError):  # another open of it cannot lock it
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with held as path:
        path.write_text("written")
    assert list(tmp_path.iterdir()) == []


def test_a_private_folder_is_its_owners_alone(tmp_path: Path) -> None:
    """Working files hold message text: 0700, whatever the umask, as mkdtemp makes them."""
    with Held(tmp_path, ".riskline-", folder=True, private=True) as folder:
        (folder / "part.arrow").write_text("x")
        assert folder.is_dir() and mode(folder) == 0o700
    assert list(tmp_path.iterdir()) == []


def test_only_what_no_process_holds_is_removed(tmp_path: Path) -> None:
    """A killed command's file and folder go; one a live command holds stays, and so does every entry of another
    name: one being made, another program's, an older version's (mkdtemp's names), and a link of the right name
    (removing through it could reach anything)."""
    outside = tmp_path / "kept.txt"
    outside.write_text("not ours")
    place = tmp_path / "out"
    place.mkdir()
    others = [".s.jsonl.0123456789ab.tmp~", ".s.jsonl.abcd1234.tmp", "s.jsonl.0123456789ab.tmp",
              ".s.jsonl.0123456789ab.tmp.bak"]
    for name in others:
        (place / name).write_text("x")
    (place / ".s.jsonl.ba9876543210.tmp").symlink_to(outside)
    with HeldElsewhere(place, ".s.jsonl.", ".tmp") as file, HeldElsewhere(place, ".s.jsonl.", ".tmp") as busy, \
            HeldElsewhere(place, ".s.jsonl.", ".tmp", folder=True) as folder:
        assert (file.path.read_text(), (folder.path / "part.arrow").read_text()) == ("half written",) * 2
        file.kill()
        folder.kill()
        remove_abandoned(place, ".s.jsonl.", ".tmp")
        assert sorted(p.name for p in place.iterdir()) == sorted([*others, busy.path.name,
                                                                  ".s.jsonl.ba9876543210.tmp"])
        assert outside.read_text() == "not ours"


def test_without_locks_a_held_file_keeps_the_name_no_command_removes(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Where no lock can be taken (ENOLCK: some network and FUSE file systems), nothing can be told abandoned."""
    def no_locks(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    with HeldElsewhere(tmp_path, ".s.jsonl.", ".tmp") as killed:
        killed.kill()
    monkeypatch.setattr(fcntl, "flock", no_locks)
    with Held(tmp_path, ".s.jsonl.", ".tmp") as path:
        assert path.name.endswith(".tmp~") and path.is_file()
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted([killed.path.name, path.name])
    assert [p.name for p in tmp_path.iterdir()] == [killed.path.name]


def test_score_removes_an_output_a_killed_run_left(model_dir: Path, synth_rows: list[dict[str, object]],
                                                   tmp_path: Path) -> None:
    """The kernel's out-of-memory killer can stop `riskline score` while it writes gigabytes of output: the next
    run writing in that folder removes the half-written file, not one another run is still writing."""
    source = write_jsonl(tmp_path / "m.jsonl", synth_rows[:100])
    out = tmp_path / "out"
    out.mkdir()
    with HeldElsewhere(out, ".s.jsonl.", ".tmp") as killed, HeldElsewhere(out, ".other.csv.", ".tmp") as busy:
        killed.kill()
        other = HeldElsewhere(out, ".other.csv.", ".tmp")
        other.kill()  # another output's, killed: not this run's to remove
        done = riskline("score", source, "-o", out / "s.jsonl", "--model", model_dir)
        assert done.returncode == 0, done.stderr
        left = sorted(p.name for p in out.iterdir())
        assert left == sorted(["s.jsonl", busy.path.name, other.path.name])


def test_a_save_removes_a_staging_folder_a_killed_save_left(model: RiskModel, tmp_path: Path) -> None:
    with HeldElsewhere(tmp_path, ".m.", folder=True) as killed:
        killed.kill()
        model.save(tmp_path / "m")
        assert [p.name for p in tmp_path.iterdir()] == ["m"] and (tmp_path / "m" / "model.json").is_file()
