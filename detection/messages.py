"""Message events as the scoring core reads them: columns rather than an object per message, put in
conversation order (grouped by first appearance, each sorted by time, ties kept in input order); and each
conversation's fingerprint, by which a model knows the conversations it was trained on.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from os import PathLike

import numpy as np

from detection.events import MessageEvent


def order_events(events: Sequence[MessageEvent]) -> list[MessageEvent]:
    """Group by conversation (first appearance) and sort by (timestamp, input order) within each."""
    return [events[i] for i in Messages.of(events).order().tolist()]


@dataclass(frozen=True)
class Messages:
    """Message events as columns, the scoring core's input: what it reads of each event, without an
    object per message (a batch of a million builds none)."""

    conversation_id: list[str]
    message_id: list[str]
    sender_id: list[str]
    timestamp: np.ndarray  # float64, Unix seconds
    text: list[str]
    media: np.ndarray  # bool: an image or a video is attached

    @classmethod
    def of(cls, events: Sequence[MessageEvent]) -> Messages:
        """Raises TypeError, saying what it got, where ``events`` are not ``MessageEvent`` values."""
        with reading_events(events):
            n = len(events)
            return cls([e.conversation_id for e in events], [e.message_id for e in events],
                       [e.sender_id for e in events], np.fromiter((e.timestamp for e in events), np.float64, n),
                       [e.text for e in events], np.fromiter((e.attachment in MEDIA for e in events), bool, n))

    def __len__(self) -> int:
        return len(self.message_id)

    def order(self) -> np.ndarray:
        """The row order that groups conversations (first appearance) and sorts each by (timestamp, input
        order): a stable sort, so ties keep input order."""
        first_seen: dict[str, int] = {}
        conversation = np.fromiter((first_seen.setdefault(c, len(first_seen)) for c in self.conversation_id),
                                   dtype=np.int64, count=len(self))
        return np.lexsort((self.timestamp, conversation))

    def ordered(self) -> Messages:
        """These rows in ``order()``: the same object where they are in it already (as a rule in batch)."""
        order = self.order()
        if (np.diff(order) > 0).all():
            return self
        rows = order.tolist()
        return Messages([self.conversation_id[i] for i in rows], [self.message_id[i] for i in rows],
                        [self.sender_id[i] for i in rows], self.timestamp[order], [self.text[i] for i in rows],
                        self.media[order])


MEDIA = frozenset({"image", "video"})  # attachments that count as media sent
FINGERPRINT_MIN_MESSAGES = 3  # shorter conversations ("hi", "hey") are too alike across data sets to tell apart


def fingerprints(events: Sequence[MessageEvent] | Messages) -> dict[str, int]:
    """Each conversation's fingerprint, for one of ``FINGERPRINT_MIN_MESSAGES`` messages or more: a 64-bit hash of
    its texts in conversation order (ids, senders and times left out, so the same conversation exported again under
    other ids is the same). A model keeps its training conversations' (``RiskModel.trained_on``), so that figures
    measured on them can be told for what they are."""
    ordered = (events if isinstance(events, Messages) else Messages.of(events)).ordered()
    found: dict[str, int] = {}
    for conversation, rows in itertools.groupby(zip(ordered.conversation_id, ordered.text, strict=True),
                                                key=lambda row: row[0]):
        texts = [text for _, text in rows]
        if len(texts) >= FINGERPRINT_MIN_MESSAGES:  # a lone surrogate (JSON may spell one) hashed as written
            joined = "\x1e".join(texts).encode("utf-8", "surrogatepass")
            found[conversation] = int.from_bytes(hashlib.blake2b(joined, digest_size=8).digest(), "little")
    return found


@contextmanager
def reading_events(events: object) -> Iterator[None]:
    """Where reading ``events`` fails because they are not message events, a TypeError that says what they are
    (``_not_events``) in place of the AttributeError or TypeError it met."""
    try:
        yield
    except (AttributeError, TypeError):
        said = _not_events(events)
        if said is None:
            raise
        raise TypeError(said) from None


def _not_events(events: object) -> str | None:
    """Why ``events`` cannot be scored, where they are not message events: rows, a path or a dataframe passed
    by a caller of the library (an AttributeError on a dict said only that it has no attribute
    'conversation_id'). None where they are all ``MessageEvent`` values."""
    if isinstance(events, (str, bytes, PathLike)):
        got = f"a path ({events!r})"
    elif hasattr(events, "events"):  # read_events' result, passed whole
        got = f"a {type(events).__name__} (its .events are the message events)"
    elif hasattr(events, "columns"):  # a pandas or pyarrow table: iterating gives its column names
        rows = ".to_dict('records')" if hasattr(events, "to_dict") else ".to_pylist()"
        got = f"a {type(events).__name__} (its {rows} gives its rows)"
    elif isinstance(events, Sequence):
        at = next((i for i, e in enumerate(events) if not isinstance(e, MessageEvent)), None)
        if at is None:
            return None
        got = f"{type(events[at]).__name__} at position {at}"
    else:
        got = "None" if events is None else type(events).__name__
    return ("expected a sequence of MessageEvent values (detection.to_event(row) makes one of a row's dict; "
            f"detection.read_events(path) reads a file); got {got}")
