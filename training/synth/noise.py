"""Surface noise for synthetic messages: slang, typos, leetspeak, spaced-out words, emojis.

Offenders dodge keyword filters ("p i c", "c4shapp", "$nap"); teens write loosely. Each function
takes a ``random.Random`` so generation stays reproducible from one seed.
"""

from __future__ import annotations

import random

SLANG = {
    "you": ["u", "ya", "yu"], "your": ["ur", "yr"], "you're": ["ur", "youre", "u r"],
    "are": ["r"], "please": ["pls", "plz", "plez"], "tonight": ["2nite", "tonite"],
    "because": ["bc", "cuz", "coz"], "right now": ["rn"], "what": ["wut", "wat"],
    "pics": ["pix", "piccs"], "picture": ["pic", "pix"], "photos": ["fotos", "pix"],
    "send": ["snd", "sennd"], "money": ["cash", "bread", "$$"], "okay": ["k", "okk"],
    "really": ["rly", "rlly"], "going to": ["gonna"], "want to": ["wanna"], "don't": ["dont", "dnt"],
    "i'm": ["im", "i am"], "to": ["2"], "for": ["4"], "everyone": ["every1", "evry1"],
    "minutes": ["mins", "min"], "tomorrow": ["tmrw", "2moro"], "people": ["ppl"],
}
LEET = {"a": "4@", "e": "3", "i": "1!", "o": "0", "s": "5$", "t": "7", "l": "1", "g": "9"}
EMOJIS = ["😂", "🙏", "😘", "🔥", "💀", "😭", "👀", "😈", "💯", "🤫", "😏", "❤️", "🥺", "😡", "⏰", "💰"]


def slangify(text: str, rng: random.Random, p: float = 0.5) -> str:
    """Swap common words for chat slang, each with probability ``p``."""
    for word, subs in SLANG.items():
        if f" {word} " in f" {text} " and rng.random() < p:
            padded = f" {text} ".replace(f" {word} ", f" {rng.choice(subs)} ", 1)
            text = padded[1:-1]
    return text


def typo(word: str, rng: random.Random) -> str:
    """One keyboard slip: a swap, a drop or a doubled letter."""
    if len(word) < 4 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == 1:
        return word[:i] + word[i + 1:]
    return word[:i] + word[i] + word[i:]


def leet(word: str, rng: random.Random) -> str:
    """Replace some letters with look-alike digits or symbols."""
    out = [rng.choice(LEET[c]) if c in LEET and rng.random() < 0.6 else c for c in word]
    return "".join(out)


def space_out(word: str, rng: random.Random) -> str:
    """Split a word to dodge filters: ``s e n d``, ``p.i.c``, ``p-i-c``."""
    return rng.choice([" ", ".", "-", "_", "*"]).join(word)


def obfuscate(text: str, rng: random.Random, level: int) -> str:
    """Apply noise at ``level`` 0 (clean), 1 (casual chat) or 2 (deliberate filter evasion)."""
    if level == 0:
        return text
    text = slangify(text, rng, p=0.35 * level)
    words = text.split(" ")
    for i, word in enumerate(words):
        r = rng.random()
        if r < 0.06 * level:
            words[i] = typo(word, rng)
        elif level >= 2 and len(word) >= 3 and word.isalpha() and r < 0.25:
            words[i] = leet(word, rng) if rng.random() < 0.6 else space_out(word, rng)
    text = " ".join(words)
    if rng.random() < 0.15 * level:
        text = text + " " + "".join(rng.choice(EMOJIS) for _ in range(rng.randint(1, 3)))
    if rng.random() < 0.05 * level:
        text = text.upper()
    elif rng.random() < 0.2:
        text = text[:1].upper() + text[1:]
    return text
