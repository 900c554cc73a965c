"""Training-time augmentation: each conversation again, paraphrased, with new noise and names.

A model that memorises surface forms (exact wordings and spellings, particular usernames) fails on
text written by people other than our generator. The copies keep stages and labels and change what
should not matter: everyday words for their near-synonyms, slang, typos, leetspeak and spaced-out
words, emojis, and who the participants are.
"""

from __future__ import annotations

import random
import re
from dataclasses import replace

from training.data import LabelledData
from training.synth.noise import obfuscate

SUFFIX = "~aug"

# Groups of everyday chat words and phrases that stand in for one another. Every conversation's
# copy gets them, positive or negative alike, so the model learns that the choice among them
# carries no signal. General chat vocabulary written for this list, not copied from the
# generator's phrase families; but both have one author, so held-out figures may flatter it.
# Some swaps break a sentence ("no one" -> "nah one"): taking out "no" and "later" measured
# about the same (F0.5 0.959, before the threat 52% against 53%), so the list stays as measured.
SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("pic", "photo", "picture", "selfie", "snap", "image", "pict"),
    ("pics", "photos", "pictures", "selfies", "snaps", "images"),
    ("video", "vid", "clip", "recording"),
    ("videos", "vids", "clips", "recordings"),
    ("camera", "cam", "webcam"),
    ("video call", "facetime", "video chat", "cam call"),
    ("private", "personal", "secret", "special", "exclusive"),
    ("send me", "give me", "share with me", "get me"),
    ("show me", "let me see"),
    ("money", "cash", "funds"),
    ("gift cards", "gift card codes", "store cards", "prepaid cards"),
    ("followers", "friends list", "contacts", "subscribers"),
    ("family", "parents", "relatives", "folks"),
    ("mom", "mum", "mother", "mama"),
    ("dad", "father", "pops"),
    ("school", "class", "college"),
    ("friends", "mates", "buddies", "pals"),
    ("friend", "mate", "buddy", "pal"),
    ("talk", "chat", "text"),
    ("app", "platform", "site"),
    ("now", "right now", "asap", "immediately"),
    ("tonight", "this evening", "later tonight"),
    ("tomorrow", "tmrw", "the next day"),
    ("cute", "pretty", "adorable", "sweet"),
    ("mature", "grown up", "grown-up", "older than you look"),
    ("alone", "by yourself", "on your own"),
    ("anyone", "anybody", "a soul"),
    ("everyone", "everybody", "all of them"),
    ("hey", "hi", "hello", "yo", "heyy"),
    ("thanks", "thank you", "thx", "ty"),
    ("lol", "haha", "lmao", "hahaha"),
    ("bro", "dude", "man", "fam"),
    ("game", "match", "round"),
    ("delete", "remove", "erase", "wipe"),
    ("post", "upload", "put up", "leak"),
    ("really", "so", "super", "very"),
    ("quick", "fast", "real quick"),
    ("want", "need"),
    ("phone", "cell", "mobile"),
    ("later", "after", "in a bit"),
    ("okay", "ok", "alright", "fine"),
    ("yes", "yeah", "yep", "sure"),
    ("no", "nope", "nah"),
)
_ALTERNATIVES = {phrase: tuple(g for g in group if g != phrase) for group in SYNONYMS for phrase in group}
_PHRASE = re.compile(r"(?<![\w'])(" + "|".join(re.escape(p) for p in sorted(_ALTERNATIVES, key=len, reverse=True))
                     + r")(?![\w'])", re.IGNORECASE)


def paraphrase(text: str, rng: random.Random, p: float) -> str:
    """Swap each everyday word or phrase of ``SYNONYMS`` for another of its group, each with
    probability ``p`` (a capitalised first letter stays capitalised)."""
    def swap(match: re.Match[str]) -> str:
        found = match.group(0)
        if rng.random() >= p:
            return found
        new = rng.choice(_ALTERNATIVES[found.lower()])
        return new[:1].upper() + new[1:] if found[:1].isupper() else new
    return _PHRASE.sub(swap, text) if p > 0 else text


def augment(data: LabelledData, copies: int = 1, seed: int = 0, paraphrase_p: float = 0.0) -> LabelledData:
    """``data`` plus ``copies`` noisy, renamed copies of every conversation, each word of
    ``SYNONYMS`` swapped for another of its group with probability ``paraphrase_p``."""
    if copies <= 0:
        return data
    rng = random.Random(seed)
    events, stages = list(data.events), list(data.stages)
    labels, meta, offender_ids = dict(data.labels), dict(data.meta), dict(data.offender_ids)
    for k in range(1, copies + 1):
        names: dict[tuple[str, str], str] = {}
        for event, stage in zip(data.events, data.stages, strict=True):
            cid = f"{event.conversation_id}{SUFFIX}{k}"
            key = (event.conversation_id, event.sender_id)
            sender = names.setdefault(key, f"user{rng.randrange(10**6):06d}")
            recipient = None if event.recipient_id is None else names.setdefault(
                (event.conversation_id, event.recipient_id), f"user{rng.randrange(10**6):06d}")
            level = 2 if rng.random() < 0.5 else 1
            events.append(replace(event, conversation_id=cid, sender_id=sender, recipient_id=recipient,
                                  text=obfuscate(paraphrase(event.text, rng, paraphrase_p), rng, level)))
            stages.append(stage)
            labels[cid] = data.labels[event.conversation_id]
            if event.conversation_id in data.meta:
                meta[cid] = data.meta[event.conversation_id]
            if data.offender_ids.get(event.conversation_id) == event.sender_id:  # renamed with the rest
                offender_ids[cid] = sender
    return LabelledData(events, labels, stages, meta, offender_ids)
