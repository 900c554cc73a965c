"""Threats padded to dodge the model: filler or punctuation between their words, small talk beside them.

Each threat is the middle message of a three-message conversation ("hi", the threat, "you have 1 hour"),
as in the behavioural tests; this prints the conversation's peak risk as the threat is written, with an
interjection after every word, every second or every third word, with punctuation between every two
words ("pay. $300. in.", "pay-$300-in") and with a sentence of small talk after it, for the model, for
the same model reading messages as written (``drop_filler`` off), for it reading punctuation into
character n-grams (``chars_within_words`` off) and for it reading each message alone (``run_gap`` 0: the
three messages are one sender's, two minutes apart, so a model that reads a sender's runs reads the threat
with "hi" and "you have 1 hour" too). The filler is one word repeated, or four taken in turn
("lol haha ok um"); the last, four ordinary words in turn, is a form the model does not read out
(docs/experiments.md, "Padding").

    .venv/bin/python benchmarks/padding.py [--model models/default]
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from detection.events import MessageEvent
from detection.model import RiskModel
from detection.model_files import load_model
from detection.scoring import score_conversations

THREATS = [  # the first is the behavioural tests' (tests/training/test_behaviour.py)
    "i screenshotted everything. pay $300 in gift cards or i send it to your family and followers",
    "pay $300 in gift cards or i send it to your family",
    "i will post your pic to all your followers unless you pay",
    "i saved all of it. send $200 on cashapp in an hour or everyone sees it",
]
# interjections; an ordinary word again and again; four ordinary words in turn (not read out: see docs)
FILLERS = ["lol", "ok", "haha", "um", "lol haha ok um", "bro", "bro like so man"]
JOINERS = [". ", ", ", "! ", "... ", "-", "/", "_"]  # put between every two words
SMALL_TALK = " anyway how was school today, did you finish the homework? my mom is making pasta tonight lol"


def padded(text: str, filler: str, every: int) -> str:
    """``text`` with a filler word after every ``every`` words (several fillers taken in turn)."""
    words, fillers, out = text.split(), filler.split(), []
    for i, word in enumerate(words, start=1):
        out.append(word)
        if i % every == 0:
            out.append(fillers[(i // every - 1) % len(fillers)])
    return " ".join(out)


def peak(model: RiskModel, *lines: str, seconds: float = 120.0) -> float:
    """The peak risk of a conversation of "hi" then ``lines``, all from one sender ``seconds`` apart."""
    events = [MessageEvent("c", f"c-{i}", "a", 1_700_000_000.0 + seconds * i, text)
              for i, text in enumerate(["hi", *lines])]
    return score_conversations(model, events)[0][0].risk_score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a model directory or URI (default: the default model)")
    args = parser.parse_args()
    model = load_model(args.model) if args.model else load_model()
    models = {"as the model reads": model, "read as written": replace(model, drop_filler=False),
              "punctuation in n-grams": replace(model, featurizer=replace(model.featurizer, chars_within_words=False)),
              "each message alone": replace(model, run_gap=0)}
    threshold = model.thresholds.alert
    print(f"model {model.model_version}, alert threshold {threshold:.3f}; peak risk, * where it alerts")
    forms = [("as written", lambda t: t), ("+ small talk", lambda t: t + SMALL_TALK)]
    forms += [(f"{f!r} every {n}", lambda t, f=f, n=n: padded(t, f, n)) for f in FILLERS for n in (1, 2, 3)]
    forms += [(f"{j!r} between words", lambda t, j=j: j.join(t.split())) for j in JOINERS]
    alerts = {name: 0 for name in models}
    for name, form in forms:
        cells = []
        for label, variant in models.items():
            scores = [peak(variant, form(t), "you have 1 hour") for t in THREATS]
            alerts[label] += sum(s >= threshold for s in scores)
            cells.append(" ".join(f"{s:.3f}{'*' if s >= threshold else ' '}" for s in scores))
        print(f"{name:24s} " + " | ".join(cells), flush=True)
    total = len(forms) * len(THREATS)
    print("alerts: " + ", ".join(f"{label} {n} of {total}" for label, n in alerts.items()))


if __name__ == "__main__":
    main()
