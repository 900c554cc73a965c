"""Labelled data: loading, weak stage labels for label-only corpora, and hold-out splits."""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from detection.events import LABEL_FIELDS, STAGES, EventError, MessageEvent, identifier, not_twice, shown, to_event
from detection.inputs import InputError, input_files
from detection.messages import order_events
from detection.records import iter_records
from detection.text import normalize

META_COLUMNS = ("scenario", "speed", "obfuscation", "fold")

# Labelling functions for corpora without stage annotations, most severe first.
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple((stage, re.compile(pattern)) for stage, pattern in (
    ("payment", r"gift ?cards?|cash ?app|venmo|paypal|zelle|bitcoin|crypto|wallet|_money_|pay me|send (me )?money"),
    ("coercion", r"(send|show|post|leak|share) (it|them|this|your \w+) (to|on|with)|expose|ruin|screenshot"
                 r"|recorded|everyone will (see|know)|your (parents|family|followers|school) will"),
    ("sexual", r"\b(pics?|photos?|pictures?|selfies?|nudes?|cam|webcam|video ?call)\b"),
    ("isolation", r"\b(snap(chat)?|whatsapp|kik|telegram|discord|delete|secret|don'?t tell|between us)\b"),
    ("risk_check", r"how old|your age|\b(parents?|mom|dad)\b|alone|what grade|which school"),
    ("rapport", r"\b(cute|pretty|beautiful|gorgeous|special|miss you|love you|gift)\b"),
))


@dataclass
class LabelledData:
    """Events in conversation order with conversation labels, stage labels and slice metadata."""

    events: list[MessageEvent]
    labels: dict[str, int]
    stages: list[str | None]
    meta: dict[str, dict[str, object]] = field(default_factory=dict)
    # the offender's sender_id in positive conversations, where the data names it (``offender_id``)
    offender_ids: dict[str, str] = field(default_factory=dict)

    @property
    def has_stages(self) -> bool:
        return any(s is not None for s in self.stages)

    def subset(self, conversation_ids: set[str]) -> LabelledData:
        keep = [i for i, e in enumerate(self.events) if e.conversation_id in conversation_ids]
        return LabelledData([self.events[i] for i in keep], {c: self.labels[c] for c in conversation_ids},
                            [self.stages[i] for i in keep],
                            {c: m for c, m in self.meta.items() if c in conversation_ids},
                            {c: o for c, o in self.offender_ids.items() if c in conversation_ids})

    def with_texts(self, texts: list[str]) -> LabelledData:
        """The same data with each message's text replaced by ``texts``' (in ``events`` order)."""
        events = [e if text is e.text else replace(e, text=text) for e, text in zip(self.events, texts, strict=True)]
        return LabelledData(events, self.labels, self.stages, self.meta, self.offender_ids)

    def without_stages(self) -> LabelledData:
        """The same data with its stage annotations dropped (the offenders it names are kept)."""
        return LabelledData(self.events, self.labels, [None] * len(self.events), self.meta, self.offender_ids)


def load_labelled(path: str | Path) -> LabelledData:
    """Read a labelled file, or a folder's files as one (``inputs.input_files``: a conversation may run
    across them); any bad row is an ``InputError`` naming its file and place."""
    source = Path(path)
    rows: list[tuple[MessageEvent, str | None]] = []
    labels: dict[str, int] = {}
    meta: dict[str, dict[str, object]] = {}
    offender_ids: dict[str, str] = {}
    first_seen: dict[tuple[str, str], str] = {}
    files = input_files(source)
    for part in files:
        for location, record, error in iter_records(part):
            if error is not None or not isinstance(record, dict):
                raise InputError(f"{part}: {location}: field 'row': {error}")
            try:
                event = to_event(record)
                not_twice(record, LABEL_FIELDS)
                label = parse_label(record.get("conversation_label"))
                stage = parse_stage(record.get("stage"))
            except EventError as exc:
                raise InputError(f"{part}: {location}: {exc}") from None
            place = location if part == source else f"{part}: {location}"
            if (earlier := first_seen.setdefault((event.conversation_id, event.message_id), place)) != place:
                raise InputError(f"{part}: {location}: field 'message_id': duplicate message id "
                                 f"{event.message_id!r} in conversation {event.conversation_id!r} (first at {earlier})")
            previous = labels.setdefault(event.conversation_id, label)
            if previous != label:
                raise InputError(f"{part}: {location}: field 'conversation_label': differs from earlier rows "
                                 f"of conversation {event.conversation_id!r}")
            _note_offender(offender_ids, event.conversation_id, label, record, f"{part}: {location}")
            meta.setdefault(event.conversation_id, {k: record[k] for k in META_COLUMNS if record.get(k) is not None})
            rows.append((event, stage))
    if not rows:
        raise InputError(f"{source}: no message rows in its {len(files)} data files" if source.is_dir()
                         else f"{source}: empty file: no message rows")
    senders: dict[str, set[str]] = {}
    for event, _ in rows:
        senders.setdefault(event.conversation_id, set()).add(event.sender_id)
    for cid, offender in offender_ids.items():
        if offender not in senders[cid]:
            raise InputError(f"{source}: field 'offender_id': {offender!r} sent no message in conversation {cid!r}")
    order = {id(e): s for e, s in rows}
    events = order_events([e for e, _ in rows])
    return LabelledData(events, labels, [order[id(e)] for e in events], meta, offender_ids)


def _note_offender(offender_ids: dict[str, str], cid: str, label: int, record: Mapping[str, object],
                   where: str) -> None:
    """Keep a row's ``offender_id`` (optional: the offender's sender_id, in a positive conversation),
    read as ids are; it must be the same in every row of its conversation that gives one."""
    try:
        offender = identifier(record, "offender_id", required=False)
    except EventError as exc:
        raise InputError(f"{where}: {exc}") from None
    if offender is None:
        return
    if label != 1:
        raise InputError(f"{where}: field 'offender_id': given for conversation {cid!r}, which is labelled 0")
    if offender_ids.setdefault(cid, offender) != offender:
        raise InputError(f"{where}: field 'offender_id': differs from earlier rows of conversation {cid!r}")


def load_labelled_files(paths: Sequence[str | Path]) -> LabelledData:
    """Several labelled files read as one (``load_labelled`` each): a platform's own examples beside
    the shipped synthetic data, say. Each conversation lives in one file: an id found in two is an
    ``InputError`` naming both."""
    if len(paths) == 1:
        return load_labelled(paths[0])
    given: dict[Path, Path] = {}
    for path in map(Path, paths):
        if (first := given.setdefault(path.resolve(), path)) is not path:
            also = "" if str(first) == str(path) else f" (also as {first})"
            raise InputError(f"{path}: given twice{also}: each file is read once")
    parts = [(Path(path), load_labelled(path)) for path in paths]
    owner: dict[str, Path] = {}
    for path, part in parts:
        for conversation_id in part.labels:
            if (first := owner.setdefault(conversation_id, path)) != path:
                raise InputError(f"{path}: conversation {conversation_id!r} is also in {first}: each conversation "
                                 "must be in one file, under an id of its own")
    # each file's events are in conversation order already, and no conversation spans two files
    return LabelledData([e for _, part in parts for e in part.events],
                        {c: y for _, part in parts for c, y in part.labels.items()},
                        [s for _, part in parts for s in part.stages],
                        {c: m for _, part in parts for c, m in part.meta.items()},
                        {c: o for _, part in parts for c, o in part.offender_ids.items()})


def _absent(value: object) -> bool:
    """No value: None, an empty string (CSV) or NaN (Parquet, pandas)."""
    return value is None or value == "" or (isinstance(value, float) and value != value)


def parse_label(value: object) -> int:
    if _absent(value):  # a row without it, or a file without the column (a file to score given as training data)
        raise EventError("conversation_label", "missing: labelled data gives every row its conversation's label, "
                                               "1 (grooming or extortion) or 0")
    if value in (0, 1, "0", "1", True, False) and not isinstance(value, float):
        return int(value)  # type: ignore[call-overload, unused-ignore]
    if isinstance(value, float) and value in (0.0, 1.0):
        return int(value)
    if isinstance(value, str) and value.lower() in ("true", "false"):  # CSV has no booleans: pandas writes True
        return int(value.lower() == "true")
    raise EventError("conversation_label", f"expected 0 or 1 (or true or false), got {shown(value)}")


def parse_stage(value: object) -> str | None:
    if _absent(value):
        return None
    if value not in STAGES:
        raise EventError("stage", f"expected one of {list(STAGES)}, got {shown(value)} (stages are optional: "
                                  "a file of other labels trains and evaluates on conversation_label alone once "
                                  "its stage column is left out or renamed)")
    return str(value)


def weak_stages(texts: Sequence[str]) -> list[str]:
    """Stage guesses from keyword rules: the most severe stage whose rule matches, else ``none``."""
    guesses = []
    for text in normalize(texts):
        guesses.append(next((stage for stage, rule in _RULES if rule.search(text)), "none"))
    return guesses


CATCH_ALL = "rapport"  # labels only: what a positive's message that no rule matches is taken to be


def stage_targets(data: LabelledData) -> list[str]:
    """Training targets for the stage model: annotations where given, else weak labels in positives.

    Without annotations, a positive's message that matches no rule counts as ``rapport``, the
    mildest stage: as when every message of a predator's conversation is labelled positive (the
    usual PAN 2012 practice), the stage model then also learns how grooming talk reads beyond the
    keywords, and the sequence model counts it. Negatives' messages are all ``none``.
    """
    targets = [stage if data.labels[e.conversation_id] and stage is not None else "none"
               for e, stage in zip(data.events, data.stages, strict=True)]
    # only a positive's unannotated messages need the rules
    guess = [i for i, (e, stage) in enumerate(zip(data.events, data.stages, strict=True))
             if data.labels[e.conversation_id] and stage is None]
    for i, stage in zip(guess, weak_stages([data.events[i].text for i in guess]), strict=True):
        targets[i] = CATCH_ALL if stage == "none" else stage
    return targets


def offenders(data: LabelledData) -> dict[str, str]:
    """Each positive conversation's offender: as the data names it (``offender_id``, as PAN 2012's
    predator list does), else where stage annotations show one, the participant who wrote the most
    messages with a stage (the young person's replies are ``none``; a tie names none)."""
    counts: dict[str, Counter[str]] = {}
    for event, stage in zip(data.events, data.stages, strict=True):
        if stage not in (None, "none") and data.labels[event.conversation_id] == 1:
            counts.setdefault(event.conversation_id, Counter())[event.sender_id] += 1
    named = {}
    for cid, senders in counts.items():
        (first, n), *rest = senders.most_common(2)
        if not rest or rest[0][1] < n:
            named[cid] = first
    return {**named, **data.offender_ids}


def given_folds(data: LabelledData) -> dict[str, str]:
    """The generator's fold (as text) of each conversation that has one."""
    return {c: str(m["fold"]) for c, m in data.meta.items() if m.get("fold") is not None}


def synthetic_folds(data: LabelledData) -> dict[str, str] | None:
    """Each conversation's generator fold (as text), where every conversation with metadata has one
    and there are at least two; otherwise ``None`` (data not made by ``riskline synth``)."""
    folds = given_folds(data)
    if not folds or len(folds) != len(data.meta):
        return None
    return folds if len(set(folds.values())) > 1 else None


def holdout_split(data: LabelledData, seed: int = 0, fraction: float = 0.25) -> tuple[set[str], set[str], str]:
    """Split conversations into train and held-out sets; return them and how the split was made.

    With a ``fold`` column (the synthetic generator's), one whole fold is held out: its phrase
    families and replies for positives, its kinds for negatives. Otherwise a random share of
    conversations, stratified by label. Synthetic data with other conversations beside it (a
    platform's own, from a second file) holds out both: one whole fold of the synthetic ones, so
    that thresholds are still chosen on wording the model has not seen, and a random share of the
    rest.
    """
    rng = random.Random(seed)
    folds = given_folds(data)
    names = sorted(set(folds.values()))
    if len(names) < 2:
        train, test, together = _random_split(set(data.labels), data.labels, rng, fraction, data.offender_ids)
        return train, test, f"random {fraction:.0%} of conversations, stratified by label{together}"
    held = names[seed % len(names)]
    test = {c for c, f in folds.items() if f == held}
    how = f"held-out fold {held} (unseen phrase families, replies and negative kinds)"
    if rest := set(data.labels) - set(folds):
        _, more, together = _random_split(rest, data.labels, rng, fraction, data.offender_ids)
        test |= more
        how += (f", and a random {fraction:.0%} of the {len(rest)} conversations without one (stratified by "
                f"label{together})")
    return set(data.labels) - test, test, how


def offender_groups(ids: Sequence[str], offender_ids: Mapping[str, str]) -> list[list[str]]:
    """``ids`` in groups that a split keeps on one side: the conversations of one offender, where the data names
    them (``offender_id``: an offender's wording on both sides of a split would flatter the held-out figures, and
    real offenders run one script on many targets), each other conversation alone; in order of first member."""
    groups: dict[tuple[str, str], list[str]] = {}
    for c in ids:
        offender = offender_ids.get(c)
        groups.setdefault(("conversation", c) if offender is None else ("offender", offender), []).append(c)
    return list(groups.values())


def _random_split(ids: set[str], labels: dict[str, int], rng: random.Random, fraction: float,
                  offender_ids: Mapping[str, str] | None = None) -> tuple[set[str], set[str], str]:
    """A random ``fraction`` of ``ids`` held out, stratified by label, an offender's conversations kept together
    (``offender_groups``) as long as both sides keep some of each label; and what is to be said of the latter."""
    test: set[str] = set()
    together = 0
    for label in (0, 1):
        pool = sorted(c for c in ids if labels[c] == label)
        groups = offender_groups(pool, offender_ids or {})
        if len(groups) < 2 or len(groups) == len(pool):  # nothing to keep together: conversation by conversation
            rng.shuffle(pool)
            test.update(pool[: max(1, round(len(pool) * fraction))] if len(pool) > 1 else [])
            continue
        rng.shuffle(groups)
        wanted, taken = max(1, round(len(pool) * fraction)), 0
        for group in groups:  # whole groups, in a random order, as long as they fit in the share
            if taken + len(group) <= wanted:
                test.update(group)
                taken += len(group)
        if not taken:  # every group is larger than the share: the smallest that leaves some to train on
            smallest = min(groups, key=lambda group: len(group))
            test.update(smallest if len(smallest) < len(pool) else [])
        together += sum(len(g) > 1 for g in groups)
    said = f", each offender's conversations on one side ({together} offenders with more than one)" if together else ""
    return ids - test, test, said
