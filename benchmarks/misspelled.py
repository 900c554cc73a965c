"""Threats misspelled to dodge a word filter: letters masked, left out, doubled or swapped, words broken or run
together. Each form is applied to every word of four threats (those of `benchmarks/padding.py`) and of four
ordinary messages with money, photos and family in them; each message is the middle of a three-message
conversation ("hi", the message, "you have 1 hour"; one sender, two minutes apart), and this prints its peak
risk, for the model as it reads (its vocabulary repairing words it does not know, ``detection.repair``) and for
the same model reading the words as written (no vocabulary). Read the counts, not single cells: the four threats
are few.

The forms above the line were written on 2026-12-02 (night) as probes before the repair was built, and the repair
was built for them; the forms below it were written with them and the repair was not built for them (a vowel for
another vowel, a letter for its neighbour on the keyboard, two words run together at a time): it mends a vowel
left out, not a wrong letter.

    .venv/bin/python benchmarks/misspelled.py [--model models/default]
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from dataclasses import replace

from padding import THREATS, peak  # beside this script

from detection.model_files import load_model

ORDINARY = [
    "can you send me the pictures from the trip, my mom wants them",
    "pay me back the 20 or i'm telling mom you broke it",
    "i'll post the group photo on insta later, your family is in it",
    "send $20 for the pizza when you can, no rush",
]
NEIGHBOURS = dict(zip("qwertyuiopasdfghjklzxcvbnm", "wertyuiopqsdfghjklaxcvbnmz", strict=True))


def each_word(change: Callable[[str], str]) -> Callable[[str], str]:
    """``change`` applied to each word of three letters or more (amounts and short words as written)."""
    return lambda text: " ".join(change(w) if len(w) > 2 and w.isalpha() else w for w in text.split())


def first_vowel(word: str, by: str) -> str:
    """The word with its first vowel after the first letter replaced by ``by``."""
    for i, letter in enumerate(word):
        if i and letter in "aeiou":
            return word[:i] + by + word[i + 1:]
    return word


def middle(word: str, by: str) -> str:
    return word[:len(word) // 2] + by + word[len(word) // 2:]


BUILT_FOR: dict[str, Callable[[str], str]] = {
    "as written": lambda t: t,
    "a vowel masked: s*nd": each_word(lambda w: first_vowel(w, "*")),
    "vowels left out: snd": each_word(lambda w: w[0] + re.sub("[aeiou]", "", w[1:])),
    "letters doubled: seendd": each_word(lambda w: "".join(c * 2 if i % 2 else c for i, c in enumerate(w))),
    "two letters swapped: sned": each_word(lambda w: w[0] + w[2] + w[1] + w[3:] if len(w) > 3 else w),
    "a dot inside: se.nd": each_word(lambda w: middle(w, ".")),
    "a space inside: se nd": each_word(lambda w: middle(w, " ")),
    "an emoji inside: se\U0001F600nd": each_word(lambda w: middle(w, "\U0001F600")),
    "all run together": lambda t: t.replace(" ", ""),
}
NOT_BUILT_FOR: dict[str, Callable[[str], str]] = {
    "another vowel: sand": each_word(lambda w: first_vowel(w, "a" if "a" not in w[1:2] else "o")),
    "a keyboard neighbour: sebd": each_word(lambda w: w[:-2] + NEIGHBOURS.get(w[-2], w[-2]) + w[-1]),
    "two words run together": lambda t: " ".join("".join(t.split()[i:i + 2]) for i in range(0, len(t.split()), 2)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a model directory or URI (default: the default model)")
    args = parser.parse_args()
    model = load_model(args.model) if args.model else load_model()
    if model.featurizer.vocabulary is None:
        parser.error(f"model {model.model_version} has no vocabulary (trained with repair_words off or before it)")
    models = {"as the model reads": model, "words as written": replace(model, featurizer=replace(
        model.featurizer, vocabulary=None))}
    threshold = model.thresholds.alert
    print(f"model {model.model_version}, alert threshold {threshold:.3f}, vocabulary of "
          f"{len(model.featurizer.vocabulary.counts):,} words; peak risk, * where it alerts; "
          f"columns: {' | '.join(models)}")
    for title, forms in (("forms the repair was built for", BUILT_FOR), ("forms it was not built for", NOT_BUILT_FOR)):
        print(f"{title}:")
        alerts = {(label, kind): 0 for label in models for kind in ("threats", "ordinary")}
        for name, form in forms.items():
            cells = []
            for label, variant in models.items():
                threats = [peak(variant, form(t), "you have 1 hour") for t in THREATS]
                ordinary = [peak(variant, form(t), "you have 1 hour") for t in ORDINARY]
                alerts[label, "threats"] += sum(s >= threshold for s in threats)
                alerts[label, "ordinary"] += sum(s >= threshold for s in ordinary)
                cells.append(" ".join(f"{s:.3f}{'*' if s >= threshold else ' '}" for s in threats))
            print(f"  {name:30s} " + " | ".join(cells), flush=True)
        total = len(forms) * len(THREATS)
        print("  alerts: " + "; ".join(
            f"{label}: threats {alerts[label, 'threats']} of {total}, ordinary {alerts[label, 'ordinary']} of {total}"
            for label in models))


if __name__ == "__main__":
    main()
