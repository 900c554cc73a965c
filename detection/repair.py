"""Words repaired against the vocabulary a model was trained on, before its n-grams are taken.

A model of n-grams knows the spellings its training data had. Typed to dodge a word filter, or in a
hurry, a word it knows becomes one it does not: a letter masked ("s*nd"), vowels left out ("fmly"),
letters doubled or swapped ("seendd", "sned"), a word broken by a dot, a dash, a space or an emoji
("se.nd", "se nd") or words run together ("isendittoyourfamily"). Every word of a threat so written
took its conversation from 0.99 and more to 0.01-0.5 (``benchmarks/misspelled.py``).

``Vocabulary`` holds the words of the training texts (as ``normalize`` reads them) met at least
``MIN_COUNT`` times, less the slips among them (a known word ``SLIP_RATIO`` times rarer than the one
a swap or its consonants would repair it to: the generator's own typos recur), and English words
(``english_words``). A word it does not know is read as a training word near it in a way typing
makes: the most frequent one that its masked letters, its letters typed twice read once, or two of
its letters after the first swapped give; for a word with no vowel after its first letter, the most
frequent one with its consonants ("snd" -> "send"); two pieces broken by a space, one of them
unknown, or by a dot or a dash, that make a training word, joined; a long word that is training
words run together, split. A known word stays as it is (but for pieces joined across a dot or a
dash), so text in the training data's spellings or in English reads as before, and a word near no
training word (a name) is left alone. A word neither the data nor the English list has can still
be read as a word near it: the repair knows spellings, not meanings.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

MIN_COUNT = 5  # a spelling met fewer times in training is taken for a slip, not a word
MAX_REMEMBERED = 100_000  # unknown words remembered with how they read (names, slips recur)
# an unknown word this long or longer may be words run together ("isenditto..."); shorter ones are more often words
# the training data did not have, which split into known pieces wrongly ("security" -> "i sec ty ur")
MIN_SPLIT = 12
MAX_WORD = 64  # a longer "word" is no typed word (a pasted hash, a key mashed): left as it is, at no cost
# vowels left out: a word whose letters after the first are consonants reads as the known word of its skeleton, when
# the skeleton has this many letters ("snd", "fmly"); shorter ones are chat's own ("hmm", "hr", "jk")
MIN_SKELETON = 3
_VOWELS = frozenset("aeiou")
_LETTERS = re.compile(r"[a-z]+")
_TOKEN = re.compile(r"[a-z]+|[^a-z]+")  # letters, and what lies between them
_BREAKS = frozenset((" ", ".", "-"))  # what may break a word in two ("se nd", "gi.ft"; an emoji is a space by then)
_STUCK = frozenset("0123456789_")
# a word with letters masked by stars ("s*nd", "f*mily"): each star one letter
_MASKED = re.compile(r"(?<![a-z0-9_*])[a-z]*(?:\*+[a-z]+)+\**(?![a-z0-9_*])|(?<![a-z0-9_*])[a-z]+\*+(?![a-z0-9_*])")
_DOUBLED = re.compile(r"([a-z])\1")
MIN_SWAPPED = 4  # shorter words swap into other words too readily ("its" -> "tis")
MAX_DOUBLED = 6  # letters typed twice in one word, each read once or twice: 2 ** 6 spellings at most
SLIP_RATIO = 20  # a known word this many times rarer than the word it is a slip of is read as that word


@functools.cache
def english_words() -> frozenset[str]:
    """English words of two letters or more (``english_words.txt`` beside this file), which are never repaired: the
    training data has few of the words people write ("off" would read as "of", "form" as "from")."""
    lines = (Path(__file__).with_name("english_words.txt")).read_text().splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def shown(text: str) -> str:
    """A normalised (and repaired) text as a reviewer reads it: its markers out, its spaces single."""
    return " ".join(word for word in text.replace("_url_", "[link]").split() if word != "_money_")


def skeleton(word: str) -> str:
    """The first letter and the other consonants, a letter typed twice in a row once: "send", "snd", "sned",
    "seend" -> "snd"."""
    out = [word[0]]
    for before, letter in itertools.pairwise(word):
        if letter not in _VOWELS and letter != before:
            out.append(letter)
    return "".join(out)


@dataclass(frozen=True)
class Vocabulary:
    """The words a model was trained on, with how often each was met (``fit``), and ``words`` that are words too
    (``english_words``): a word in either is never repaired; only the words of ``counts`` are read for others."""

    counts: dict[str, int]
    words: frozenset[str] = frozenset()
    _by_skeleton: dict[str, str] = field(init=False, repr=False, compare=False)
    _by_length: dict[int, list[str]] = field(init=False, repr=False, compare=False)
    _read: dict[str, str] = field(init=False, repr=False, compare=False)  # unknown words met, as read

    def __post_init__(self) -> None:
        by_skeleton: dict[str, str] = {}
        by_length: dict[int, list[str]] = {}
        for word, _ in sorted(self.counts.items(), key=lambda item: (-item[1], item[0])):  # most frequent first
            if len(word) >= 3 and any(letter in _VOWELS for letter in word[1:]):
                by_skeleton.setdefault(skeleton(word), word)
            by_length.setdefault(len(word), []).append(word)
        object.__setattr__(self, "_by_skeleton", by_skeleton)
        object.__setattr__(self, "_by_length", by_length)
        object.__setattr__(self, "_read", {})

    @classmethod
    def fit(cls, texts: Iterable[str], min_count: int = MIN_COUNT, words: frozenset[str] | None = None) -> Vocabulary:
        """The alphabetic words of normalised ``texts`` met at least ``min_count`` times, with ``words`` (by default
        ``english_words``)."""
        words = english_words() if words is None else words
        counts = Counter(word for text in texts for word in _LETTERS.findall(text))
        vocabulary = cls({word: n for word, n in counts.items() if n >= min_count}, words)
        # a slip met often enough to pass (the same typo of a frequent word, "sned") is still a slip; a letter typed
        # twice is not taken for one here, as many words are others with a letter twice ("off", "too", "soon")
        slips = {word for word, n in vocabulary.counts.items()
                 if word not in words and (near := vocabulary._nearest(word, doubled=False)) != word
                 and " " not in near and vocabulary.counts[near] >= SLIP_RATIO * n}
        return cls({word: n for word, n in vocabulary.counts.items() if word not in slips}, words)

    def repair(self, texts: Sequence[str]) -> list[str]:
        """Normalised ``texts`` with the words this vocabulary does not know read as words it does."""
        return [self._repaired(text) for text in texts]

    def _repaired(self, text: str) -> str:
        counts, words = self.counts, self.words
        if "*" not in text and all(word in counts or word in words for word in _LETTERS.findall(text)):
            return text  # most texts: every word known
        if "*" in text:
            text = _MASKED.sub(self._unmasked, text)
        tokens = _TOKEN.findall(text)
        out: list[str] = []
        i = 0
        while i < len(tokens):
            token = tokens[i]
            if token[0].isalpha():
                # two pieces that make a known word: joined where one is unknown, or a dot or dash breaks them
                if (i + 2 < len(tokens) and tokens[i + 1] in _BREAKS and token + tokens[i + 2] in counts
                        and (token not in counts or tokens[i + 2] not in counts or tokens[i + 1] in ".-")
                        and (i == 0 or tokens[i - 1][-1] not in _STUCK)
                        and (i + 3 == len(tokens) or tokens[i + 3][0] not in _STUCK)):
                    out.append(token + tokens[i + 2])
                    i += 3
                    continue
                # a word stuck to digits or an underscore is a number's ("8th", "2nite") or a marker's ("_money_")
                if (token not in counts and token not in words and (i == 0 or tokens[i - 1][-1] not in _STUCK)
                        and (i + 1 == len(tokens) or tokens[i + 1][0] not in _STUCK)):
                    token = self._word(token)
            out.append(token)
            i += 1
        return "".join(out)

    def _unmasked(self, match: re.Match[str]) -> str:
        masked = match.group(0)
        if masked.count("*") * 2 >= len(masked):  # as many letters masked as shown: anything ("s**t" is no "sent")
            return masked
        pattern = re.compile(re.escape(masked).replace(r"\*", "[a-z]"))
        for word in self._by_length.get(len(masked), ()):  # the most frequent first
            if pattern.fullmatch(word):
                return word
        return masked

    def _word(self, word: str) -> str:
        """A known word for an unknown ``word``, where one is near enough; else ``word``."""
        if (read := self._read.get(word)) is None:
            if len(self._read) >= MAX_REMEMBERED:
                self._read.clear()
            read = self._read[word] = self._nearest(word)
        return read

    def _nearest(self, word: str, doubled: bool = True) -> str:
        counts = self.counts
        if len(word) > MAX_WORD:  # its swaps alone would be len(word) ** 2 letters
            return word
        candidates = []
        pieces = _DOUBLED.split(word)  # letters typed twice read once or twice each: "wiill" -> "will", "wil"...
        if doubled and 1 < len(pieces) <= 2 * MAX_DOUBLED + 1:
            for once in itertools.product((1, 2), repeat=len(pieces) // 2):
                candidates.append("".join(piece if k % 2 == 0 else piece * once[k // 2]
                                          for k, piece in enumerate(pieces)))
        if len(word) >= MIN_SWAPPED:  # two letters swapped after the first: "sned", "tihs"
            candidates += [word[:i] + word[i + 1] + word[i] + word[i + 2:] for i in range(1, len(word) - 1)]
        known = [c for c in candidates if c in counts]
        if known:
            return max(known, key=lambda c: (counts[c], c))
        if (not any(letter in _VOWELS for letter in word[1:]) and len(bones := skeleton(word)) >= MIN_SKELETON
                and (found := self._by_skeleton.get(bones)) is not None):  # vowels left out: "snd", "fmly"
            return found
        if len(word) >= MIN_SPLIT and (parts := self._split(word)) is not None:
            return " ".join(parts)
        return word

    def _split(self, word: str) -> list[str] | None:
        """``word`` as the fewest known words (ties: the more frequent), or None where it is not made of them."""
        counts = self.counts

        @functools.cache
        def best(start: int) -> tuple[int, float, tuple[str, ...]] | None:
            if start == len(word):
                return 0, 0.0, ()
            found = None
            for end in range(start + 1, min(len(word), start + 20) + 1):
                piece = word[start:end]
                if piece not in counts or (len(piece) == 1 and piece not in ("a", "i")):
                    continue
                rest = best(end)
                if rest is not None:
                    candidate = (rest[0] + 1, rest[1] - math.log(counts[piece]), (piece, *rest[2]))
                    if found is None or candidate[:2] < found[:2]:
                        found = candidate
            return found

        result = best(0)
        return list(result[2]) if result is not None else None
