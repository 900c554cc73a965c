"""The cache of exported base encoders (training.encoder.export_base_encoder), with the export itself replaced
by one that writes two small files: what is checked is when it runs and what is copied where."""

from __future__ import annotations

import errno
import logging
from pathlib import Path

import pytest

from tests.cli_helpers import HeldElsewhere
from training import encoder


@pytest.fixture
def exports(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Each directory the stand-in export wrote, in order."""
    done: list[Path] = []

    def export(directory: str | Path) -> Path:
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        for name in encoder.ENCODER_FILES:
            (target / name).write_text(f"{name} {len(done)}")
        done.append(target)
        return target

    monkeypatch.setattr(encoder, "export_encoder", export)
    return done


def contents(directory: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(directory.iterdir())}


def test_the_base_encoder_is_exported_once_and_copied_after(exports: list[Path], tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISKLINE_CACHE_DIR", str(tmp_path / "cache"))
    first = encoder.export_base_encoder(tmp_path / "a")
    assert len(exports) == 1 and contents(first) == {"encoder.onnx": "encoder.onnx 0",
                                                     "tokenizer.json": "tokenizer.json 0"}
    [kept] = (tmp_path / "cache").iterdir()  # the export renamed into place, nothing else left beside it
    assert kept.name.startswith("encoder-") and contents(kept) == contents(first)
    second = encoder.export_base_encoder(tmp_path / "b")
    assert len(exports) == 1 and contents(second) == contents(first)
    monkeypatch.setenv("RISKLINE_CACHE_DIR", "")  # empty: no cache, an export each time
    assert contents(encoder.export_base_encoder(tmp_path / "c")) == {"encoder.onnx": "encoder.onnx 1",
                                                                     "tokenizer.json": "tokenizer.json 1"}
    assert len(exports) == 2 and [p.name for p in (tmp_path / "cache").iterdir()] == [kept.name]


def test_another_process_exporting_at_the_same_time_is_no_error(exports: list[Path], tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The other process renames its export into place while this one exports: this one's is dropped."""
    monkeypatch.setenv("RISKLINE_CACHE_DIR", str(tmp_path / "cache"))
    kept = tmp_path / "cache" / f"encoder-{encoder._base_key()}"
    inner = encoder.export_encoder

    def racing(directory: str | Path) -> Path:
        inner(kept)  # the other process's, first
        return inner(directory)

    monkeypatch.setattr(encoder, "export_encoder", racing)
    out = encoder.export_base_encoder(tmp_path / "a")
    assert contents(out) == contents(kept) == {"encoder.onnx": "encoder.onnx 0", "tokenizer.json": "tokenizer.json 0"}
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [kept.name]  # this one's export removed


def test_a_cache_that_cannot_be_used_is_said_and_the_encoder_exported_all_the_same(
        exports: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("RISKLINE_CACHE_DIR", str(blocked))
    with caplog.at_level(logging.WARNING, "riskline.train"):
        out = encoder.export_base_encoder(tmp_path / "a")
    assert contents(out) == {"encoder.onnx": "encoder.onnx 0", "tokenizer.json": "tokenizer.json 0"}
    assert f"the encoder cache {blocked} cannot be written" in caplog.text and blocked.read_text() == "not a folder"
    monkeypatch.setenv("RISKLINE_CACHE_DIR", str(tmp_path / "cache"))
    encoder.export_base_encoder(tmp_path / "b")
    [kept] = (tmp_path / "cache").iterdir()
    (kept / "encoder.onnx").unlink()  # a file taken out of the entry: the entry is left, this run exports its own
    caplog.clear()
    with caplog.at_level(logging.WARNING, "riskline.train"):
        again = encoder.export_base_encoder(tmp_path / "c")
    assert "lacks files" in caplog.text and len(exports) == 3 and contents(again)["encoder.onnx"] == "encoder.onnx 2"
    assert list(kept.iterdir()) == [kept / "tokenizer.json"]


def test_a_cache_whose_disk_fills_part_way_is_left_and_the_encoder_exported_for_the_run(
        exports: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """The cache's disk fills during the export into it: nothing half-written is left in the cache, and this
    run exports its own where it was asked to, as where the cache cannot be written at all."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("RISKLINE_CACHE_DIR", str(cache))
    inner = encoder.export_encoder

    def filling(directory: str | Path) -> Path:
        if cache in Path(directory).parents:
            inner(directory)
            raise OSError(errno.ENOSPC, "No space left on device")  # as the last write found the disk full
        return inner(directory)

    monkeypatch.setattr(encoder, "export_encoder", filling)
    with caplog.at_level(logging.WARNING, "riskline.train"):
        out = encoder.export_base_encoder(tmp_path / "a")
    assert out == tmp_path / "a" and contents(out) == {"encoder.onnx": "encoder.onnx 1",
                                                      "tokenizer.json": "tokenizer.json 1"}
    assert f"the encoder cache {cache} cannot be written (No space left on device)" in caplog.text
    assert list(cache.iterdir()) == []


def test_the_cache_is_where_it_is_told_or_where_caches_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RISKLINE_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert encoder.cache_root() == tmp_path / "xdg" / "riskline"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert encoder.cache_root() == tmp_path / "home" / ".cache" / "riskline"
    monkeypatch.setenv("RISKLINE_CACHE_DIR", str(tmp_path / "mine"))
    assert encoder.cache_root() == tmp_path / "mine"


def test_an_export_a_killed_process_left_is_removed(exports: list[Path], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A process killed outright while exporting (10 s, and the kernel's out-of-memory killer picks training)
    leaves its half export in the cache: the next export there removes it, not one another process is making."""
    monkeypatch.setenv("RISKLINE_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    with HeldElsewhere(tmp_path / "cache", ".encoder-", folder=True) as killed, \
            HeldElsewhere(tmp_path / "cache", ".encoder-", folder=True) as busy:
        killed.kill()
        encoder.export_base_encoder(tmp_path / "a")
        assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted([busy.path.name,
                                                                                f"encoder-{encoder._base_key()}"])
