"""riskline as ``pip install`` leaves it: a wheel built from the source, run from where it is unpacked
(as in site-packages), outside any checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.cli_helpers import RISKLINE, riskline

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("detection", "training")


def _tracked() -> list[str]:
    """The files git tracks in the packages."""
    return subprocess.run(["git", "ls-files", *PACKAGES], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.splitlines()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the source (building writes beside it), unpacked."""
    folder = tmp_path_factory.mktemp("wheel")
    source = folder / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source)
    for name in _tracked():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, source / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                            "--disable-pip-version-check", "-w", str(folder / "dist"), str(source)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    (wheel,) = (folder / "dist").glob("riskline-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(folder / "site")
    return folder / "site"


def _installed(site: Path, *args: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The ``riskline`` command importing its packages from the unpacked wheel, which PYTHONPATH puts before the
    editable install (``where`` below shows it), with no model named by the environment."""
    return riskline(*args, env={"PYTHONPATH": str(site), "RISKLINE_MODEL": None}, cwd=cwd)


@pytest.mark.slow
def test_the_wheel_holds_every_file_of_the_packages(site: Path) -> None:
    """Each file git tracks in the packages is in the wheel (package data too: a word list that scoring
    reads, Spark's logging settings, the MLflow model's code), and nothing else of the checkout is."""
    tracked = set(_tracked())
    shipped = {str(p.relative_to(site)) for p in site.rglob("*")  # (the other test's imports leave __pycache__)
               if p.is_file() and ".dist-info" not in str(p) and "__pycache__" not in p.parts}
    assert tracked == shipped
    entry_points = next(site.glob("riskline-*.dist-info")).joinpath("entry_points.txt").read_text()
    assert "riskline = detection.cli:main" in entry_points and "training = training.cli:register" in entry_points


@pytest.mark.slow
def test_an_installed_riskline_runs_outside_a_checkout(site: Path, few_labelled_path: Path, model_dir: Path,
                                                       tmp_path: Path) -> None:
    """From the unpacked wheel, in an empty folder: the modules come from the wheel, the training commands
    are there, a model trains and scores as the checkout's does, and with no model named the error says
    what to do here (before: it named site-packages/models/default and 'make model')."""
    work = tmp_path / "work"
    work.mkdir()
    where = subprocess.run([sys.executable, "-c", "import detection, training; print(detection.__file__, "
                            "training.__file__)"], capture_output=True, text=True, env={"PYTHONPATH": str(site)},
                           cwd=work, check=True)
    assert where.stdout.split() == [str(site / "detection" / "__init__.py"), str(site / "training" / "__init__.py")]
    trained = _installed(site, "train", "--data", few_labelled_path, "--out", "m", "--no-track", "--set",
                         "augment_copies=0", cwd=work)
    assert trained.returncode == 0, trained.stderr
    scored = _installed(site, "score", few_labelled_path, "-o", "installed.jsonl", "--model", model_dir, cwd=work)
    assert scored.returncode == 0, scored.stderr
    checkout = subprocess.run([RISKLINE, "score", few_labelled_path, "-o", "checkout.jsonl", "--model", model_dir],
                              capture_output=True, text=True, cwd=work)
    assert checkout.returncode == 0 and (work / "installed.jsonl").read_text() == (work / "checkout.jsonl").read_text()
    unnamed = _installed(site, "score", few_labelled_path, "-o", "o.jsonl", cwd=work)
    assert unnamed.returncode == 2 and unnamed.stderr.splitlines() == [
        "riskline: error: no model named and none at models/default: pass --model DIR or an MLflow URI, or set "
        "RISKLINE_MODEL ('riskline train --data FILE --out DIR' makes one; in a source checkout, 'make model' "
        "makes the default)"]
    shutil.copytree(work / "m", work / "models" / "default")  # ./models/default, where an installed one looks
    assert _installed(site, "score", few_labelled_path, "-o", "o.jsonl", cwd=work).returncode == 0
