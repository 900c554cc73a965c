"""Notebook 02 trains six models (about 40 s here): it counts as slow, as the tests that train do."""

from __future__ import annotations

import pytest

SLOW = ("02_train_evaluate_compare.ipynb",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in SLOW:
            item.add_marker(pytest.mark.slow)
