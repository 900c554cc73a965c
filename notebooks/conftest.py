"""Notebook 02 trains six models: it counts as slow, as the tests that train do, and runs here on fewer
conversations than a reader's 240 (the suite checks that every cell runs; the figures are not asserted)."""

from __future__ import annotations

import os

import pytest

SLOW = ("02_train_evaluate_compare.ipynb",)

os.environ.setdefault("RISKLINE_NOTEBOOK_CONVERSATIONS", "120")  # read by the notebook's kernel, a child process


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in SLOW:
            item.add_marker(pytest.mark.slow)
