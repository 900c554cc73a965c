"""Training-time augmentation: each conversation again, with new noise and new participant names.

A model that memorises surface forms (exact spellings, particular usernames) fails on text written
by people other than our generator. The copies keep stages and labels and change what should not
matter: slang, typos, leetspeak and spaced-out words, emojis, and who the participants are.
"""

from __future__ import annotations

import random
from dataclasses import replace

from training.data import LabelledData
from training.synth.noise import obfuscate

SUFFIX = "~aug"


def augment(data: LabelledData, copies: int = 1, seed: int = 0) -> LabelledData:
    """``data`` plus ``copies`` noisy, renamed copies of every conversation."""
    if copies <= 0:
        return data
    rng = random.Random(seed)
    events, stages = list(data.events), list(data.stages)
    labels, meta = dict(data.labels), dict(data.meta)
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
                                  text=obfuscate(event.text, rng, level)))
            stages.append(stage)
            labels[cid] = data.labels[event.conversation_id]
            if event.conversation_id in data.meta:
                meta[cid] = data.meta[event.conversation_id]
    return LabelledData(events, labels, stages, meta)
