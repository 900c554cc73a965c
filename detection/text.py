"""Text normalisation that undoes common filter evasion before features are taken.

Works on a whole batch joined into one string, so each regular expression runs once per batch
rather than once per message: per-message Python calls would dominate the scoring time.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

_SEP = "\n"
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
# Emoji and pictographs (with their variation selectors and skin tones) become spaces: decoration
# must not change what a message says, and as n-grams they would dilute every other n-gram.
_EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2300-\u23FF\u2600-\u27BF\u2B00-\u2BFF\uFE0E\uFE0F]+")
# Accents (combining marks, once letters are decomposed) and letters of other scripts that look like Latin ones,
# in both cases: Cyrillic and Greek look-alikes pass a word filter ("рау" in Cyrillic is not "pay") while reading
# the same. Written so, a threat that alerts scored 0.01 ("і sеnd іt tо уоur fаmіlу").
_COMBINING = re.compile("[\u0300-\u036f]")
_CONFUSABLES = {
    **dict(zip("аеорсухіјѕԁһӏԛԝүкмтнвгп", "aeopcyxijsdhlqwykmthbrn", strict=True)),  # Cyrillic
    **dict(zip("АВЕКМНОРСТУХЅІЈ", "ABEKMHOPCTYXSIJ", strict=True)),
    **dict(zip("αεικνορτυχβη", "aeiknoptuxbn", strict=True)),  # Greek
    **dict(zip("ΑΒΕΗΙΚΜΝΟΡΤΥΧΖ", "ABEHIKMNOPTYXZ", strict=True)),
    **dict(zip("ıɑɡɩօսոհ", "iagiounh", strict=True)),  # Latin extensions and Armenian
    # small capitals, as "fancy text" generators write them ("ꜱᴇɴᴅ ᴍᴇ"): NFKC leaves them be
    **dict(zip("ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘǫʀꜱᴛᴜᴠᴡʏᴢ", "abcdefghijklmnopqrstuvwyz", strict=True)),
}
# found by a regular expression and replaced one by one where found: ``str.translate`` with a table looks up every
# character of a batch (90 ms on 1.9 million characters of chat against 4 ms)
_CONFUSABLE = re.compile("[" + "".join(_CONFUSABLES) + "]")
# Letters split by single separators: "s e n d", "p.i.c", "p-i-c", "c*a*s*h" -> "send", "pic", ...
_SPACED = re.compile(r"(?<![\w$@])[a-z0-9$@]([ .\-_*])(?:[a-z0-9$@]\1)+[a-z0-9$@](?![\w$@])")
# Look-alike digits and symbols inside words that also contain letters: "p1c", "c4shapp", "$nap".
_LEET_WORD = re.compile(r"(?<![\w$@!])(?:[a-z_]+[0-9$@!]|[0-9$@!]+[a-z])[\w$@!]*")
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "9": "g",
                       "$": "s", "@": "a", "!": "i"})
# A number with a unit, an ordinal or chat shorthand keeps its digits ("10min", "5pm", "2nd", "4u");
# any other word that starts with digits is look-alikes: "5end", "7he", "0ld", "4nd" are "send"...
_NUMBER_UNIT = re.compile(r"\d*1st|\d*2nd|\d*3rd|\d+(?:th|am|pm|k|m|h|hrs?|mins?|s|secs?|d|days?|wks?|yrs?|yo|x|u"
                          r"|nite|moro|mrw)")
# A whole message spelled out, letters one space apart and words two or more: "a r e  u  a l o n e".
# Word breaks are then plain, so even one- and two-letter words ("u", "m e") come back whole.
_SPACED_MESSAGE = re.compile(r"^[ \t]*\S(?: \S)*(?:[ \t]{2,}\S(?: \S)*)+[ \t]*$", re.M)
_GAP = re.compile(r"[ \t]{2,}")
_REPEAT = re.compile(r"([a-z])\1{2,}")
_MONEY = re.compile(r"(?:[$£€][ \t]?\d[\d,.]*k?|\b\d[\d,.]*[ \t]?(?:k\b|bucks|dollars|usd|eur|euros|pounds|gbp))")
_URL = re.compile(r"https?://\S+|www\.\S+")
# Words joined by underscores: "pay_$300_in_gift_cards", "cool_guy_99" read as spaced, "i_n_s_t_a" as one word.
_UNDERSCORED = re.compile(r"(?<![\w$@!])_*[a-z0-9$@!]+(?:_+[a-z0-9$@!]+)+_*(?![\w$@!])")


def _join_spaced(match: re.Match[str]) -> str:
    run, sep = match.group(0), match.group(1)
    letters = run.split(sep)
    # "send a p i c": a leading one-letter English word stays a word when three or more letters follow
    if sep == " " and letters[0] in ("a", "i") and len(letters) >= 4:
        return letters[0] + " " + "".join(letters[1:])
    return "".join(letters)


def _join_spaced_message(match: re.Match[str]) -> str:
    return " ".join(word.replace(" ", "") for word in _GAP.split(match.group(0).strip()))


def _split_underscored(match: re.Match[str]) -> str:
    run = match.group(0)
    parts = [part for part in run.split("_") if part]
    joined = "".join(parts) if all(len(part) == 1 for part in parts) else " ".join(parts)
    return (" " if run[0] == "_" else "") + joined + (" " if run[-1] == "_" else "")


def _unleet(match: re.Match[str]) -> str:
    word = match.group(0)
    # A plain amount or a number stuck to a unit ("10min", "2nite") keeps its digits.
    if (word[0] in "$£€" and word[1:2].isdigit()) or _NUMBER_UNIT.fullmatch(word):
        return word
    # "!" ending a word is an exclamation ("thanks!", "omg!!"), not an "i" as in "pr!vate"
    core = word.rstrip("!")
    return core.translate(_LEET) + word[len(core):]


def fold(text: str) -> str:
    """Letters as plain ones, before lower case: NFKC folds full-width and styled letters, zero-width marks and
    emoji go, accents come off ("sénd"), and letters of other scripts that look like Latin ones read as those
    (before lower case tells an upper-case Greek "Υ", a "Y", from a lower-case "υ", a "u"). ASCII text is
    returned as it is."""
    if text.isascii():
        return text
    text = _EMOJI.sub(" ", _ZERO_WIDTH.sub("", unicodedata.normalize("NFKC", text)))
    text = _COMBINING.sub("", unicodedata.normalize("NFD", text))
    return _CONFUSABLE.sub(lambda match: _CONFUSABLES[match.group(0)], text)


def normalize(texts: Sequence[str]) -> list[str]:
    """Lower-case and de-obfuscate a batch of messages, emoji removed; adds ``_money_`` and ``_url_`` tokens."""
    if not texts:
        return []
    joined = fold(_SEP.join(t.replace(_SEP, " ").replace("\r", " ") for t in texts)).lower()
    if "  " in joined:
        joined = _SPACED_MESSAGE.sub(_join_spaced_message, joined)
    joined = _URL.sub(" _url_ ", joined)
    if "_" in joined:
        joined = _UNDERSCORED.sub(_split_underscored, joined)
    joined = _MONEY.sub(lambda m: f" _money_ {m.group(0)} ", joined)
    joined = _SPACED.sub(_join_spaced, joined)
    joined = _LEET_WORD.sub(_unleet, joined)
    joined = _REPEAT.sub(r"\1\1", joined)
    out = joined.split(_SEP)
    if len(out) != len(texts):  # NFKC can turn exotic characters into newlines
        return [normalize([t])[0] for t in texts]
    return out


# Interjections with no meaning of their own ("lol", "haha", "ok", "um", "xd"): filler that an offender can put
# between the words of a threat, where each one dilutes the n-grams that carry it and adds n-grams of its own
# ("i lol will lol send lol it": a threat that alerts read as written scored 0.004). Words are looked up as
# ``normalize`` reads them (any case, look-alike digits, full-width letters, zero-width marks, emoji), so the
# forms here are normalised too, with the "!" that it reads as an "i" before them ("!lol" -> "ilol"; after a word,
# "!" stays punctuation, which ``_EDGES`` takes off). Punctuation and emoji between words need nothing: they make
# no n-grams.
_EDGES = re.compile(r"^[^\w]+|[^\w]+$")  # punctuation or emoji at a normalised word's ends: "lol," "...ok"


def _interjections() -> frozenset[str]:
    forms = {"rofl", "omg", "omgg", "ikr", "smh", "ngl", "tbh", "fr", "frfr", "bruh", "bruhh", "ok", "okk", "okkk",
             "okay", "okey", "okie", "kk", "kkk", "lolz", "lols", "lolol", "lololol", "lolololol"}
    forms |= {"l" + "o" * a + "l" * b for a in range(1, 6) for b in range(1, 4)}
    forms |= {"lm" + f + "a" + "o" * k for f in ("", "f") for k in range(1, 5)}
    for n in range(1, 13):
        forms |= {"ha" * n, "ha" * n + "h", "a" + "ha" * n, "ah" * n + "a"}
        forms |= {"he" * n, "he" * n + "h"} if n >= 2 else set()
    forms |= {first + second * k for first, second in (("x", "d"), ("u", "m"), ("u", "h"), ("h", "m"))
              for k in range(1, 5)}
    marked = [before + form for form in sorted(forms) for before in ("", "!", "!!")]
    return frozenset(_EDGES.sub("", word) for word in normalize(marked))


INTERJECTIONS = _interjections()  # as normalised
FILLER_SHARE = 0.2  # filler makes up at least this share of a message's words before it is read out
MIN_FILLER, MIN_KEPT = 2, 3
# A word of two or more letters that recurs at least 4 times and in 30% of a text's words or more, never twice
# in a row, in a text of at least 8 words: no message of the shipped training data or the hand-written set has one.
REPEAT_MIN_WORDS, REPEAT_MIN_TIMES, REPEAT_SHARE = 8, 4, 0.3


def without_filler(texts: Sequence[str]) -> list[str]:
    """Each text, less its filler where filler is a good part of it, with ``MIN_KEPT`` other words left:
    interjections (``INTERJECTIONS``), at least ``MIN_FILLER`` of them making up ``FILLER_SHARE`` of its
    words; and one word put between others again and again (``_repeated``: "pay bro $300 bro in bro gift bro
    cards"). A text's words are split at white space and each looked up as ``normalize`` reads it. Other
    texts are returned as they are, and so are all but a few texts of ordinary chat: of the 42,095 messages
    of the shipped training data, one changes ("lmao ok sending now" -> "sending now").

    ``MessageFeaturizer.filler_rows`` picks out the few texts worth this when scoring."""
    out = list(texts)
    split = [text.split() for text in texts]
    looked = [i for i, words in enumerate(split) if len(words) >= MIN_FILLER + MIN_KEPT]
    keys = iter(normalize([word for i in looked for word in split[i]]))
    for i in looked:
        words = split[i]
        read = [_EDGES.sub("", next(keys)) for _ in words]
        drop = {k for k in read if k in INTERJECTIONS} | _repeated(read)
        kept = [w for w, k in zip(words, read, strict=True) if k not in drop]
        if len(words) - len(kept) >= max(MIN_FILLER, FILLER_SHARE * len(words)) and len(kept) >= MIN_KEPT:
            out[i] = " ".join(kept)
    return out


def _repeated(keys: list[str]) -> set[str]:
    """The words that recur between others (``REPEAT_*``), in a text of enough words."""
    if len(keys) < REPEAT_MIN_WORDS:
        return set()
    found = {k for k, n in Counter(keys).items()
             if len(k) >= 2 and n >= REPEAT_MIN_TIMES and n >= REPEAT_SHARE * len(keys)}
    return found - {a for a, b in itertools.pairwise(keys) if a == b}  # "no no no", "please please": said so
