"""A sender's runs of messages read together: what ends a run (``scoring.runs_of`` is tested in test_scoring)."""

from detection.runs import is_aside


def test_is_aside() -> None:
    assert all(is_aside(text) for text in ("what", "??", "who is this", "wait what?!", "", "ok 👍"))
    assert not any(is_aside(text) for text in ("please dont do this", "what do you mean by that", "x" * 41))
