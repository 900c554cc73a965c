"""Which conversations read as another language than English.

The model reads English only (its generator writes English): a threat or an age check in Spanish, German or
French gets at most 0.05-0.06 of any risk stage's evidence, so such conversations score near zero whatever
they say. Each conversation's state sums its function words (``word_counts``), so its output row and the
service's view of it say whether it reads as another language (``other_language``), and ``riskline score``
counts them: a platform whose users write other languages learns that those scores say little rather than
reading them as all clear. A model trained on another language's
labelled data (its n-grams are learned from whatever the data holds) does not get the note: its training
words are judged the same way (``trained_on_english``).

A conversation is judged by its function words, the short words every sentence of a language has: it reads as
another language when at least ``MIN_WORDS`` of its words are function words of Spanish, Portuguese, French,
German, Italian, Dutch, Indonesian, Tagalog, Turkish or Polish that English does not have, or words in another
script than Latin (Cyrillic, Arabic, Chinese...; letters that only look like Latin ones, as filter dodging
writes them, read as Latin), and more than ``RATIO`` times as many as its English ones. A few foreign words in
English chat ("hola", "ciao", "merci") or a conversation too short to tell are not counted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np

from detection.text import fold

MIN_WORDS = 4
RATIO = 2
_LETTERS = re.compile(r"[^\W\d_]+")
LATIN = "\u024f"  # the last letter of Latin Extended-B: a word with a letter after it is in another script


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# English function words and the chat words that stand for them ("u", "ur", "im"), as chat writes them; not those
# that other languages share ("a", "i", "as", "do", "in", "is", "me", "no", "on", "so", "was", "will", "ok", "lol").
ENGLISH = _words("""
about after all any are at be because been but by can could did does doing dont done for from get got had has
have he her here him his how if im into isnt it its ive just know like more my not now of off only or our out
really she should some than that thats the their them then there they this those to too u up ur us very we were
what when where which who why with would yeah yes you youre your yours gonna cant didnt wont idk rn tho pls
please thanks
""")

# Function words of other languages written in Latin letters, accents taken off, that are not English words
# (nor words English chat has too: "con", "todo", "hay", "ton", "mon", "dat", "wat", "ik", "com" of a web address,
# names such as "mia", "al" and "dan", "ma", "mam", "la", "die", "me", "so", "no", "ty" and the like are left out).
OTHER = _words("""
que los las por para una pero como esta estas estoy eres soy tienes tengo quiero puedes hola gracias ahora
dinero porque donde cuando tambien muy tus mis nosotros usted ellos vas voy nao voce vc uma pra isso meu minha
seu sua obrigado obrigada agora muito ele ela estou tudo voces les des je vous pas qui une avec mais tes dans
suis toi oui merci bonjour salut maintenant veux peux tres aussi cest jai quoi si se te tu mi el le et en de lo
ti es ne ou os sie den das ja nein der und ich du nicht ist mit ein eine zu auf aber dein deine mein meine wir
hallo danke jetzt geld bilder wenn oder auch wie bist habe hast kannst willst dich mich dir mir nur schon noch
il che di sono sei grazie adesso soldi tua tuo mio anche perche voglio puoi sempre molto het een niet jij mijn
jouw zijn ook maar nu geen heb
yang tidak aku kamu ini itu saya dengan untuk apa mau sudah juga bisa kalau uang
ang ng mga ako ikaw ka sa ko mo hindi ito yung kung pera naman po
ve bir bu sen icin cok degil ne var yok
nie sie jest ze jak masz pieniadze zdjecia
""") - ENGLISH


def _is_other(word: str) -> bool:
    """A function word of another language, or a word in another script than Latin."""
    return word in OTHER or (not word.isascii() and max(word) > LATIN)


def _counted(text: str) -> tuple[int, int]:
    """A text's English function words, and its other-language function words and words in other scripts, its
    letters folded as ``text.normalize`` folds them (``text.fold``)."""
    words = _LETTERS.findall(fold(text).lower().replace("'", ""))
    return sum(map(ENGLISH.__contains__, words)), sum(map(_is_other, words))


def word_counts(texts: Sequence[str]) -> np.ndarray:
    """Each text's English and other-language function words (and words in other scripts), as integer rows
    (n, 2); a text met more than once (chat repeats "ok", "lol", "hey") is read once."""
    number: dict[str, int] = {}
    rows = np.fromiter((number.setdefault(t, len(number)) for t in texts), np.int64, len(texts))
    return np.array([_counted(t) for t in number], dtype=np.int64).reshape(-1, 2)[rows]


def reads_as_other_language(english: int, other: int) -> bool:
    """Whether a conversation with these counts of function words (``word_counts`` summed) reads as another
    language than English (see the module's note)."""
    return other >= MIN_WORDS and other > RATIO * english


def trained_on_english(vocabulary: Mapping[str, int] | None) -> bool:
    """Whether a model's training words (its ``Vocabulary.counts``: each word and how often it was met) read as
    English, by the same test as a conversation's; True without a vocabulary (a model that keeps none), as the
    generator writes English."""
    if vocabulary is None:
        return True
    english = sum(n for word, n in vocabulary.items() if word in ENGLISH)
    other = sum(n for word, n in vocabulary.items() if _is_other(word))
    return not reads_as_other_language(english, other)
