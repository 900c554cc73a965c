"""How the command line words what it counts."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """A count and its noun, singular for one: ``counted(1, "alert")`` is ``1 alert``, ``counted(3, "row")``
    ``3 rows`` (``plural`` where adding an s is wrong)."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
