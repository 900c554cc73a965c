"""Synthetic labelled conversations: grooming and extortion paths, and hard negatives.

Every row is a message event of the contract plus training columns: ``conversation_label``,
``stage`` and, for evaluation slices, ``scenario``, ``family``, ``speed``, ``obfuscation`` and
``fold`` (the family fold of a positive, the kind fold of a negative). With ``offenders``, the positives
are written by that many offenders, each running a script of their own on many targets, and every row
has ``offender_id``.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

from training.synth.negatives import NEGATIVE_KINDS
from training.synth.noise import obfuscate
from training.synth.phrases import N_FOLDS, REFUSALS, SLOTS, SMALLTALK, STAGE_FAMILIES, VICTIM_REPLIES

# the columns of every row, in the order of their keys (``offender_id`` follows with ``offenders``)
COLUMNS = ("sender_id", "recipient_id", "timestamp", "text", "attachment", "stage", "family", "conversation_id",
           "message_id", "conversation_label", "scenario", "speed", "obfuscation", "fold")
SLOT = re.compile(r"\{(\w+)\}")
T = TypeVar("T")

# scenario -> (weight, stage plan as (stage, min repeats, max repeats), allowed speeds)
SCENARIOS: dict[str, tuple[float, list[tuple[str, int, int]], tuple[str, ...]]] = {
    "groom_slow": (0.25, [("rapport", 3, 6), ("risk_check", 1, 3), ("isolation", 1, 3),
                          ("sexual", 1, 3), ("coercion", 1, 3), ("payment", 1, 3)], ("days", "hours")),
    "groom_fast": (0.30, [("rapport", 1, 2), ("risk_check", 1, 2), ("isolation", 1, 1),
                          ("sexual", 1, 2), ("coercion", 1, 3), ("payment", 1, 3)], ("minutes", "hours")),
    "extort_direct": (0.15, [("coercion", 1, 3), ("payment", 2, 4)], ("minutes",)),
    "groom_only": (0.15, [("rapport", 2, 5), ("risk_check", 1, 3), ("isolation", 1, 2),
                          ("sexual", 1, 2)], ("days", "hours", "minutes")),
    "pushback": (0.15, [("rapport", 1, 3), ("risk_check", 1, 2), ("sexual", 2, 3),
                        ("coercion", 2, 3), ("payment", 1, 2)], ("hours", "minutes")),
}
OPEN_WITH_GREETING = 0.7  # positives and negatives alike
# Real threats often stack a claim, a demand and a consequence in one message ("i saved it. pay
# 200 or it goes to your followers"); requests often come wrapped in flattery. With this
# probability an offender's message joins a second template, drawn from the same fold, of the
# stage named here; the message keeps its own stage.
COMPOUND: dict[str, tuple[float, tuple[str, ...]]] = {
    "coercion": (0.35, ("payment", "coercion")), "payment": (0.35, ("coercion",)),
    "sexual": (0.25, ("rapport", "isolation")),
}
JOINERS = (". ", " ", ", ", "... ", " - ", "! ")
NEGATIVE_LENGTH = (3, 30)  # about the positives' range (median near 20)
GAP_SECONDS = {"minutes": (5, 120), "hours": (30, 1800), "days": (60, 3600)}
OFFSETS = [UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=1)),
           timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
# An offender's script (``generate(..., offenders=N)``): the lines they reach for at each stage, in order (the
# stage's first message, its second...), each taken with this probability (otherwise another of their fold's),
# and the slots they fill the same way every time.
SCRIPT_STICK = 0.75
SCRIPT_LINES = 3
SCRIPT_SLOTS = ("app", "pic", "private", "family", "pay", "amount", "deadline", "compliment")
# and a voice: one or two habits of their own, each put before or after some of their messages (words any teen
# uses too, so a habit says who wrote a message, not what it is)
HABITS = ("fr", "ok?", "trust me", "babe", "lol", "hun", "no cap", "😉", "x", "sweetie", "bro", "ngl", "tbh",
          "real talk", "listen", "hey u", "haha", "🙈", "cutie", "rn", "!!", "u know", "for real tho", "😜")
HANDLE_PARTS = ["sk8", "gamer", "mia", "jay", "luna", "kid", "ace", "nova", "x", "real", "its", "the",
                "boi", "girl", "wolf", "star", "ghost", "tyler", "em", "zay", "dev", "kai", "rio"]


def family_fold(index: int) -> int:
    """Fold of the family, negative kind or reply at ``index`` in its bank."""
    return index % N_FOLDS


def in_fold(bank: list[T], fold: int) -> list[T]:
    """The entries of ``bank`` that belong to ``fold``."""
    return [item for i, item in enumerate(bank) if family_fold(i) == fold]


@dataclass
class _Chat:
    """A conversation under construction."""

    rng: random.Random
    people: tuple[str, str]
    level: int
    speed: str
    clock: datetime
    rows: list[dict[str, object]]
    script: Offender | None = None  # the offender's, where one runs a script of their own (person 0)

    def say(self, who: int, text: str, stage: str, family: str | None = None,
            attachment: str | None = None) -> None:
        lo, hi = GAP_SECONDS[self.speed]
        gap = self.rng.uniform(lo, hi)
        if self.speed == "days" and self.rng.random() < 0.12:
            gap += self.rng.uniform(6, 30) * 3600
        self.clock += timedelta(seconds=gap)
        script = self.script if who == 0 else None
        filled = fill(text, self.rng, script.slots if script else None)
        for habit, before, often in script.voice if script else ():
            if self.rng.random() < often:
                filled = f"{habit} {filled}" if before else f"{filled} {habit}"
        noisy = obfuscate(filled, self.rng, self.level if who == 0 else min(self.level, 1))
        self.rows.append({
            "sender_id": self.people[who], "recipient_id": self.people[1 - who],
            "timestamp": self.clock.isoformat(timespec="seconds"), "text": noisy,
            "attachment": attachment, "stage": stage, "family": family,
        })

    def smalltalk(self, p: float) -> None:
        while self.rng.random() < p:
            self.say(self.rng.randrange(2), self.rng.choice(SMALLTALK), "none")


def fill(template: str, rng: random.Random, fixed: dict[str, str] | None = None) -> str:
    """Fill every ``{slot}`` of a template with a random filler, or the one ``fixed`` gives for it."""
    fixed = fixed or {}
    return SLOT.sub(lambda m: fixed.get(m.group(1)) or rng.choice(SLOTS[m.group(1)]), template)


def handle(rng: random.Random) -> str:
    """A random username."""
    return f"{rng.choice(HANDLE_PARTS)}{rng.choice(['', '_', '.'])}{rng.choice(HANDLE_PARTS)}{rng.randint(1, 9999)}"


@dataclass(frozen=True)
class Offender:
    """One offender's script, run on many targets: a handle, a pace, a way of writing, and at each stage the
    lines they reach for, in order, and the fillers (app, amount, deadline...) they always use."""

    handle: str
    scenario: str
    speed: str
    fold: int
    level: int
    lines: dict[str, tuple[tuple[str, str], ...]]  # stage -> (family, template) for its first messages
    slots: dict[str, str]
    voice: tuple[tuple[str, bool, float], ...]  # habits: (words, before the message or after, how often)


def offender(rng: random.Random) -> Offender:
    """A random offender's script."""
    names = list(SCENARIOS)
    scenario = rng.choices(names, weights=[SCENARIOS[n][0] for n in names])[0]
    fold = rng.randrange(N_FOLDS)
    lines = {}
    for stage, families in STAGE_FAMILIES.items():
        own = [(family, text) for family in in_fold(list(families), fold) for text in families[family]]
        lines[stage] = tuple(rng.sample(own, min(SCRIPT_LINES, len(own))))
    voice = tuple((habit, rng.random() < 0.3, rng.uniform(0.2, 0.5)) for habit in rng.sample(HABITS, rng.randint(1, 2)))
    return Offender(handle(rng), scenario, rng.choice(SCENARIOS[scenario][2]), fold,
                    rng.choices([0, 1, 2], weights=[0.4, 0.35, 0.25])[0], lines,
                    {slot: rng.choice(SLOTS[slot]) for slot in SCRIPT_SLOTS}, voice)


def _positive(chat: _Chat, scenario: str, fold: int) -> None:
    rng, script = chat.rng, chat.script
    plan = SCENARIOS[scenario][1]
    if scenario != "extort_direct" and rng.random() < OPEN_WITH_GREETING:
        _greetings(chat)
    refusals = in_fold(REFUSALS, fold)
    for stage, lo, hi in plan:
        families, replies = in_fold(list(STAGE_FAMILIES[stage]), fold), in_fold(VICTIM_REPLIES[stage], fold)
        for j in range(rng.randint(lo, hi)):
            if script is not None and j < len(script.lines[stage]) and rng.random() < SCRIPT_STICK:
                family, text = script.lines[stage][j]
            else:
                family = rng.choice(families)
                text = rng.choice(STAGE_FAMILIES[stage][family])
            p, partners = COMPOUND.get(stage, (0.0, ()))
            if rng.random() < p:
                other_stage = rng.choice(partners)
                other = rng.choice(in_fold(list(STAGE_FAMILIES[other_stage]), fold))
                parts = [text, rng.choice(STAGE_FAMILIES[other_stage][other])]
                if stage == "sexual" or rng.random() < 0.5:  # flattery before the request
                    parts.reverse()
                text, family = rng.choice(JOINERS).join(parts), f"{family}+{other}"
            chat.say(0, text, stage, family)
            if rng.random() < 0.7:
                reply_stage, reply = rng.choice(replies)
                if scenario == "pushback" and stage == "sexual":
                    reply_stage, reply = "none", rng.choice(refusals)
                chat.say(1, reply, reply_stage)
            chat.smalltalk(0.35 if stage in ("rapport", "risk_check") else 0.1)
        if stage == "sexual" and scenario in ("groom_slow", "groom_fast") and rng.random() < 0.6:
            chat.say(1, rng.choice(["", "here", "ok"]), "none", attachment="image")


def _greetings(chat: _Chat) -> None:
    chat.say(0, chat.rng.choice(SLOTS["greet"]), "none")
    chat.say(1, chat.rng.choice(SLOTS["greet"]), "none")


def _negative(chat: _Chat, kind: str) -> None:
    """The kind's script, run again (other alternatives, small talk between) until a drawn length.

    Lengths and openers are drawn like the positives', so neither length nor a greeting tells a
    model which class a conversation is in: only what is said does.
    """
    rng = chat.rng
    if rng.random() < OPEN_WITH_GREETING:
        _greetings(chat)
    target = rng.randint(*NEGATIVE_LENGTH)
    while True:
        for speaker, options in NEGATIVE_KINDS[kind]:
            if speaker.startswith("?") and rng.random() < 0.4:
                continue
            who = int(speaker.lstrip("?"))
            text = rng.choice(options)
            attach = "image" if re.search(r"\b(sending|here|sent you)\b", text) and rng.random() < 0.5 else None
            chat.say(who, text, "none", kind, attachment=attach)
            chat.smalltalk(0.35)
        if len(chat.rows) >= target:
            return
        chat.smalltalk(0.6)


def conversation(index: int, rng: random.Random, positive_rate: float = 0.4,
                 offenders: tuple[Offender, ...] = ()) -> list[dict[str, object]]:
    """Generate one labelled conversation as message rows; a positive's offender drawn from ``offenders``
    where there are any (every row then has ``offender_id``)."""
    positive = rng.random() < positive_rate
    script = rng.choice(offenders) if positive and offenders else None
    if script is not None:
        scenario, speed, fold = script.scenario, script.speed, script.fold
    elif positive:
        names = list(SCENARIOS)
        scenario = rng.choices(names, weights=[SCENARIOS[n][0] for n in names])[0]
        speed = rng.choice(SCENARIOS[scenario][2])
        fold = rng.randrange(N_FOLDS)
    else:
        kinds = list(NEGATIVE_KINDS)
        k = rng.randrange(len(kinds))
        scenario, fold = kinds[k], family_fold(k)
        speed = rng.choice(["minutes", "hours", "days"])
    level = rng.choices([0, 1, 2], weights=[0.4, 0.35, 0.25])[0] if script is None else script.level
    start = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.uniform(0, 640 * 86400))
    people = (handle(rng), handle(rng)) if script is None else (script.handle, handle(rng))
    chat = _Chat(rng, people, level, speed, start.astimezone(rng.choice(OFFSETS)), [], script)
    if positive:
        _positive(chat, scenario, fold)
    else:
        _negative(chat, scenario)
    conv_id = f"syn-{index:06d}-{rng.getrandbits(32):08x}"
    for i, row in enumerate(chat.rows):
        row.update({"conversation_id": conv_id, "message_id": f"{conv_id}-m{i:03d}",
                    "conversation_label": int(positive), "scenario": scenario, "speed": speed,
                    "obfuscation": level, "fold": fold})
        if offenders:
            row["offender_id"] = script.handle if script is not None else None
    return chat.rows


def generate(n: int, seed: int = 0, positive_rate: float = 0.4, offenders: int = 0) -> list[dict[str, object]]:
    """Generate ``n`` conversations reproducibly from ``seed``, as a flat list of message rows
    (``iter_rows``, gathered)."""
    return list(iter_rows(n, seed, positive_rate, offenders))


def iter_rows(n: int, seed: int = 0, positive_rate: float = 0.4, offenders: int = 0) -> Iterator[dict[str, object]]:
    """Generate ``n`` conversations reproducibly from ``seed``, their message rows one conversation at a time,
    so that memory stays flat however many are asked for. The arguments are checked at the call.

    ``offenders``: the positives are written by that many offenders (``Offender``), each running a script of
    their own on many targets, as real offenders do, named in every row's ``offender_id`` (null in negatives);
    0, every positive by an offender of its own, and no such column (the data as before, draw for draw).
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if not 0 <= offenders <= n:
        raise ValueError(f"offenders must be from 0 to the number of conversations ({n}), got {offenders}")
    scripts_rng = random.Random(f"offenders-{seed}")  # apart from the conversations' draws
    scripts: dict[str, Offender] = {}
    while len(scripts) < offenders:  # handles are random: a second offender drawing one already taken draws again
        script = offender(scripts_rng)
        scripts.setdefault(script.handle, script)
    pool = tuple(scripts.values())
    rng = random.Random(seed)
    return itertools.chain.from_iterable(conversation(i, rng, positive_rate, pool) for i in range(n))


def columns(offenders: int = 0) -> tuple[str, ...]:
    """The columns of ``iter_rows``' rows, in the order of their keys."""
    return (*COLUMNS, "offender_id") if offenders else COLUMNS


def arrow_schema(offenders: int = 0) -> Any:
    """The Arrow schema of ``iter_rows``' rows, to write Parquet as they come."""
    from training.logs import arrow_schema as schema_of

    return schema_of(columns(offenders), ("conversation_label", "obfuscation", "fold"))
