import json
from datetime import UTC, datetime

import pytest

from detection.events import EventError, parse_timestamp, to_event

BASE = {"conversation_id": "c1", "message_id": "m1", "sender_id": "u1", "timestamp": 1700000000, "text": "hi"}


def test_timestamp_forms_agree() -> None:
    iso = parse_timestamp("2023-11-14T22:13:20+00:00")
    assert iso == parse_timestamp(1700000000) == parse_timestamp("1700000000") == 1700000000.0
    assert parse_timestamp("2023-11-14T23:13:20+01:00") == iso
    assert parse_timestamp("2023-11-14T22:13:20Z") == iso
    assert parse_timestamp(datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)) == iso
    assert parse_timestamp("20240101") == 20240101.0  # digits alone are Unix seconds, not a basic ISO date
    assert parse_timestamp("1.7e9") == 1.7e9


@pytest.mark.parametrize("value", ["yesterday", "2023-11-14T22:13:20", True, None, [1], -5, float("inf"),
                                   pytest.param(10**400, id="an-integer-past-float")])
def test_bad_timestamps_name_the_field(value: object) -> None:
    with pytest.raises(EventError) as info:
        parse_timestamp(value)
    assert info.value.field == "timestamp"


def test_a_timestamp_in_a_smaller_unit_is_named() -> None:
    """Platforms often export Unix milliseconds: the error says so, rather than only 'out of range'."""
    for value, unit in [(1700000000123, "milliseconds"), ("1700000000123456", "microseconds"),
                        (1.7e18, "nanoseconds")]:
        with pytest.raises(EventError, match=f"Unix seconds expected; this looks like Unix {unit}"):
            parse_timestamp(value)
    # past the year 3000, but no plausible date in a smaller unit; or a date, in no unit at all
    for value in [5e10, 1e30, -1700000000123, "9999-12-31T23:59:59+00:00", "5000-01-01T00:00:00Z",
                  datetime(9999, 12, 31, tzinfo=UTC)]:
        with pytest.raises(EventError) as info:
            parse_timestamp(value)
        assert "looks like" not in info.value.reason


@pytest.mark.parametrize(("change", "field"), [
    ({"conversation_id": None}, "conversation_id"), ({"message_id": ""}, "message_id"),
    ({"sender_id": {"a": 1}}, "sender_id"), ({"text": 5}, "text"), ({"attachment": "gif"}, "attachment"),
    ({"conversation_id": 1.5}, "conversation_id"), ({"timestamp": "soon"}, "timestamp"),
])
def test_invalid_records_name_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(EventError) as info:
        to_event({**BASE, **change})
    assert info.value.field == field


def test_a_lone_surrogate_is_no_text() -> None:
    """JSON can spell half a UTF-16 pair ("\\ud800"); such text cannot be hashed, stored or sent on as
    UTF-8, so it is a bad field, not a crash of the batch it arrives in."""
    for field in ("text", "conversation_id", "sender_id", "recipient_id"):
        with pytest.raises(EventError, match="lone surrogate") as info:
            to_event({**BASE, field: "hi \ud800"})
        assert info.value.field == field
    assert to_event({**BASE, "text": json.loads('"\\ud83d\\ude00 ok"')}).text == "\U0001f600 ok"  # a whole pair


def test_ids_longer_than_a_kilobyte_are_bad_fields() -> None:
    """An id is a key wherever it is kept, and PostgreSQL's index refuses one of a few kB (every try to
    store it failed): an id may hold up to 1,024 UTF-8 bytes, whatever its characters."""
    for field in ("conversation_id", "message_id", "sender_id", "recipient_id"):
        assert getattr(to_event({**BASE, field: "x" * 1024}), field) == "x" * 1024
        assert getattr(to_event({**BASE, field: "\u00fc" * 512}), field) == "\u00fc" * 512  # 2 bytes each
        for long in ("x" * 1025, "\u00fc" * 513, "\U0001f600" * 257):
            with pytest.raises(EventError) as info:
                to_event({**BASE, field: long})
            assert (info.value.field, info.value.reason) == (
                field, f"{len(long.encode())} bytes long: an id may be at most 1024 (UTF-8)")


def test_a_text_of_over_a_million_characters_is_a_bad_field() -> None:
    """Scoring reads a text at about 70 bytes of memory a character: one value of hundreds of megabytes (a
    corrupt export, a file in the text column) took a whole run down with it (MemoryError, or the kernel's
    out-of-memory kill, which says nothing). Chat platforms allow tens of thousands of characters at most."""
    assert to_event({**BASE, "text": "\U0001f600" * 1_000_000}).text == "\U0001f600" * 1_000_000  # characters
    for text, attachment in (("x" * 1_000_001, None), ("x" * 1_000_001, "image")):
        with pytest.raises(EventError) as info:
            to_event({**BASE, "text": text, "attachment": attachment})
        assert (info.value.field, info.value.reason) == (
            "text", "1000001 characters long: a message's text may be at most 1000000")


def test_missing_text_key_is_an_error_but_null_text_is_empty() -> None:
    record = {k: v for k, v in BASE.items() if k != "text"}
    with pytest.raises(EventError, match="text"):
        to_event(record)
    assert to_event({**BASE, "text": None}).text == ""


def test_extra_columns_are_ignored_and_ids_may_be_integers() -> None:
    event = to_event({**BASE, "conversation_id": 42, "conversation_label": 1, "stage": "payment", "x": [1]})
    assert event.conversation_id == "42"
    assert to_event({**BASE, "attachment": "IMAGE"}).attachment == "image"


def test_a_nan_says_so() -> None:
    """JSON Lines as Python writes them may hold NaN: the reason names it, where "missing" alone read as if
    the field were absent from a record that shows it."""
    for field in ("conversation_id", "message_id", "sender_id", "timestamp"):
        with pytest.raises(EventError) as info:
            to_event({**BASE, **json.loads(f'{{"{field}": NaN}}')})
        assert (info.value.field, info.value.reason) == (field, "missing (NaN)")
    with pytest.raises(EventError) as info:
        to_event({**BASE, "sender_id": None})
    assert info.value.reason == "missing"
