"""Notebook 02 trains six models and 03 scores and explains (9-13 s): they count as slow, as the tests that
train do. 02 runs here on fewer conversations than a reader's 240 (the suite checks that every cell runs; the
figures are not asserted)."""

from __future__ import annotations

import os

import pytest

SLOW = ("02_train_evaluate_compare.ipynb", "03_error_analysis.ipynb")

os.environ.setdefault("RISKLINE_NOTEBOOK_CONVERSATIONS", "120")  # read by the notebook's kernel, a child process


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in SLOW:
            item.add_marker(pytest.mark.slow)
