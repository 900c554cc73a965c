"""The layout's two rules that no other test would notice broken: ``detection`` (what production runs) never
imports ``training``, and every name the benchmarks import from the packages is still there (they run by hand,
not in the suite, so a module moved or a function renamed would otherwise show only when one is next run)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> list[tuple[int, str, str | None]]:
    """Every import in a file, at any depth (inside functions too): line, module and the name taken from it
    (None for ``import module``)."""
    found: list[tuple[int, str, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found += [(node.lineno, node.module, alias.name) for alias in node.names]
    return found


def _ours(module: str) -> bool:
    return module.split(".")[0] in ("detection", "training")


def test_detection_never_imports_training() -> None:
    files = sorted((ROOT / "detection").rglob("*.py"))
    assert len(files) > 40
    found = [f"{path.relative_to(ROOT)}:{line}: {module}" for path in files
             for line, module, name in _imports(path)
             if module.split(".")[0] == "training" or (module == "detection" and name == "training")]
    assert found == []


def test_every_name_the_benchmarks_import_is_there() -> None:
    files = sorted((ROOT / "benchmarks").glob("*.py"))
    taken = [(path, line, module, name) for path in files for line, module, name in _imports(path) if _ours(module)]
    assert len(taken) > 50  # the benchmarks do import from the packages: an empty list would pass anything
    missing = []
    for path, line, module, name in taken:
        place = f"{path.relative_to(ROOT)}:{line}"
        try:
            imported = importlib.import_module(module)
        except ImportError as exc:
            missing.append(f"{place}: {module} ({exc})")
            continue
        if name is not None and not hasattr(imported, name):
            try:  # a submodule, as in ``from training import synth``
                importlib.import_module(f"{module}.{name}")
            except ImportError:
                missing.append(f"{place}: {module}.{name}")
    assert missing == []
