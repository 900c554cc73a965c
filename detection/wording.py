"""How the command line words what it counts, and what is wrong with a value read from a file or variable."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """A count and its noun, singular for one: ``counted(1, "alert")`` is ``1 alert``, ``counted(3, "row")``
    ``3 rows`` (``plural`` where adding an s is wrong)."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def stray_space(value: str) -> str | None:
    """What is wrong with a setting's value (or a token) that has white space or a line break at an end, or None."""
    if value == value.strip():
        return None
    at_end = value[-1].isspace()
    what = "a line break" if value[-1 if at_end else 0] in "\r\n" else "white space"
    return f"has {what} at its {'end' if at_end else 'start'}; remove it"
