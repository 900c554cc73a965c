"""Behavioural tests of the trained default model (``make model``): invariance, direction, minimum function.

Conversations are written here by hand, non-graphic, in wording the generator does not use, except
for one line of the threat (see the direct-extortion test).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from detection.events import MessageEvent
from detection.model import RiskModel
from detection.model_files import default_model_path, load_model
from detection.scoring import RiskScore, score_conversations, score_messages
from detection.state import ConversationState

pytestmark = pytest.mark.slow

GROOM = ["hey! saw ur clip, ur honestly so talented", "thx lol", "how old r u btw", "15, u?", "16 haha",
         "r ur parents strict? do they check ur phone", "not really", "add me on the other app, it's more private",
         "don't tell anyone we talk ok", "ok", "send me a private pic, just for me", "idk"]
THREAT = ["i screenshotted everything. pay $300 in gift cards or i send it to your family and followers",
          "you have 1 hour"]
FRIENDLY_MONEY = ["yo u still owe me 12 for the pizza", "oh right sorry", "just venmo me whenever",
                  "sent! thx for covering", "np see u at practice"]


@pytest.fixture(scope="module")
def default_model() -> RiskModel:
    if not (default_model_path() / "model.json").is_file():
        pytest.skip("no default model: run 'make model'")
    return load_model()


def _conversation(texts: list[str], cid: str = "c",
                  names: tuple[str, str] = ("alex_22", "sam.k")) -> list[MessageEvent]:
    """Alternating senders, except consecutive suspect lines; two minutes apart."""
    return [MessageEvent(cid, f"{cid}-{i}", names[0] if i % 2 == 0 or i >= len(GROOM) else names[1],
                         1_700_000_000.0 + 120 * i, text) for i, text in enumerate(texts)]


def _score(model: RiskModel, events: list[MessageEvent]) -> RiskScore:
    return score_conversations(model, events)[0][0]


def test_classic_fast_extortion_alerts_before_the_threat(default_model: RiskModel) -> None:
    result = _score(default_model, _conversation(GROOM + THREAT))
    assert result.alert and result.alert_index is not None and result.alert_index < len(GROOM)


def test_threat_raises_the_score(default_model: RiskModel) -> None:
    before = _score(default_model, _conversation(GROOM[:4])).risk_score
    after = _score(default_model, _conversation(GROOM[:4] + THREAT)).risk_score
    assert after > before and after >= default_model.thresholds.alert


# THREAT opens with a line the generator also writes ("i screenshotted everything"); the same
# extortion must alert without it, so the test does not rest on one memorised line.
@pytest.mark.parametrize("claim", ["i screenshotted everything. ", "i saved all of it. ", ""])
def test_direct_extortion_with_no_grooming_alerts(default_model: RiskModel, claim: str) -> None:
    demand = THREAT[0].removeprefix("i screenshotted everything. ")
    assert _score(default_model, _conversation(["hi", claim + demand, THREAT[1]])).alert


FILLER = " anyway how was school today, did you finish the homework? my mom is making pasta tonight lol"


@pytest.mark.parametrize("padding", [" lol lol lol", " lol" * 20, FILLER])
def test_direct_extortion_padded_with_small_talk_alerts(default_model: RiskModel, padding: str) -> None:
    """Small talk in the threat's own message used to dilute it: each message's n-grams are scaled to unit length
    as a whole. Read whole, this conversation scored 0.93, with " lol" three times 0.76 and with one sentence
    of small talk 0.19 (threshold 0.865). Evidence from the message's windows of words keeps the threat's."""
    demand = THREAT[0].removeprefix("i screenshotted everything. ")
    assert _score(default_model, _conversation(["hi", "i screenshotted everything. " + demand + padding,
                                                THREAT[1]])).alert


@pytest.mark.parametrize("filler", ["lol", "ok", "haha", "um"])
@pytest.mark.parametrize("every", [1, 2])
def test_direct_extortion_with_filler_between_its_words_alerts(default_model: RiskModel, filler: str,
                                                               every: int) -> None:
    """An interjection after every word or two of the threat diluted it read as written: "lol" after every word
    took it from 1.00 to 0.005, "ok" to 0.03 (threshold 0.854). A message mostly of filler is read without it."""
    words = THREAT[0].split()
    padded = " ".join(w + (f" {filler}" if (i + 1) % every == 0 else "") for i, w in enumerate(words))
    assert _score(default_model, _conversation(["hi", padded, THREAT[1]])).alert


@pytest.mark.parametrize("joiner", [". ", "-", "/", "_", ", "])
def test_direct_extortion_with_punctuation_between_its_words_alerts(default_model: RiskModel, joiner: str) -> None:
    """Punctuation after or between every word of the threat ("pay. $300. in." or "pay-$300-in-gift-cards") made
    character n-grams of its own: the conversation scored 1.000 as written, 0.32 with ". ", 0.49 with ", " and
    0.016-0.026 with "-", "/" or "_" (threshold 0.854). Character n-grams are read within words, and underscores
    between words are spaces."""
    assert _score(default_model, _conversation(["hi", joiner.join(THREAT[0].split()), THREAT[1]])).alert


def _each_word(change):  # type: ignore[no-untyped-def]
    return lambda text: " ".join(change(w) if len(w) > 2 and w.isalpha() else w for w in text.split())


MISSPELLED = {  # as in benchmarks/misspelled.py, to every word of three letters or more
    "masked": _each_word(lambda w: w[0] + next((w[1:i] + "*" + w[i + 1:] for i in range(1, len(w)) if w[i] in "aeiou"),
                                              w[1:])),
    "vowels-left-out": _each_word(lambda w: w[0] + "".join(c for c in w[1:] if c not in "aeiou")),
    "doubled": _each_word(lambda w: "".join(c * 2 if i % 2 else c for i, c in enumerate(w))),
    "swapped": _each_word(lambda w: w[0] + w[2] + w[1] + w[3:] if len(w) > 3 else w),
    "dot-inside": _each_word(lambda w: w[:len(w) // 2] + "." + w[len(w) // 2:]),
    "emoji-inside": _each_word(lambda w: w[:len(w) // 2] + "\U0001F440" + w[len(w) // 2:]),
}


@pytest.mark.parametrize("form", MISSPELLED.values(), ids=MISSPELLED.keys())
def test_direct_extortion_misspelled_to_dodge_a_filter_alerts(default_model: RiskModel, form: object) -> None:
    """Every word of the threat misspelled as filters are dodged ("p*y $300 in g*ft c*rds", "py $300 in gft crds",
    "sned", "se.nd", "se👀nd") scored 0.01-0.5 read as written (threshold about 0.85); words the model does not
    know are read as the known words they are nearest (``detection.repair``). A friend's debt misspelled the same
    way stays quiet."""
    demand = THREAT[0].removeprefix("i screenshotted everything. ")
    assert _score(default_model, _conversation(["hi", form(demand), THREAT[1]])).alert  # type: ignore[operator]
    assert not _score(default_model, _conversation([form(t) for t in FRIENDLY_MONEY])).alert  # type: ignore[operator]


BURSTS = [["i have your pics", "pay me $300", "or i send them", "to all your followers"],
          ["look at this", "it's your photo", "next to your name", "want your parents to see?", "then pay"]]


@pytest.mark.parametrize("burst", BURSTS, ids=["pics", "photo"])
@pytest.mark.parametrize("seconds", [5, 30, 90])
def test_a_threat_sent_as_a_burst_of_short_messages_alerts(default_model: RiskModel, burst: list[str],
                                                           seconds: int) -> None:
    """Offenders type a threat as several short messages. Each read alone, these scored 0.43 and 0.70 (threshold
    0.844): no message says the whole threat. Read with the sender's run of messages (``run_gap``), they alert;
    the same friend's debt sent the same way does not."""
    def burst_events(texts: list[str]) -> list[MessageEvent]:
        return [MessageEvent("c", f"c-{i}", "x", 1_700_000_000.0 + seconds * i, t) for i, t in enumerate(texts)]

    assert _score(default_model, burst_events(["hi", *burst])).alert
    assert not _score(default_model, burst_events(["bro", "pay me back the 20", "or im telling mom", "lol"])).alert


def test_friendly_money_request_does_not_alert(default_model: RiskModel) -> None:
    assert not _score(default_model, _conversation(FRIENDLY_MONEY)).alert


@pytest.mark.parametrize("names", [("jordan_b", "kid123"), ("xx_dark_xx", "emma.w"), ("u1", "u2")])
def test_names_do_not_change_the_alert(default_model: RiskModel, names: tuple[str, str]) -> None:
    base = _score(default_model, _conversation(GROOM + THREAT))
    renamed = _score(default_model, _conversation(GROOM + THREAT, names=names))
    assert (renamed.alert, renamed.alert_index) == (base.alert, base.alert_index)


# Cyrillic letters that look like Latin ones: read as written, "i sеnd it tо уоur fаmily" scored 0.01
HOMOGLYPHS = str.maketrans(dict(zip("aeopcyxi", "аеорсухі", strict=True)))
SMALL_CAPITALS = str.maketrans(dict(zip("abcdefghijklmnopqrstuvwyz", "ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘǫʀꜱᴛᴜᴠᴡʏᴢ", strict=True)))  # 0.01


@pytest.mark.parametrize("change", [
    lambda t: t + " 😂🔥",
    lambda t: t.replace("pic", "p1c").replace("private", "pr1v4te").replace("send", "$end"),
    lambda t: t.replace("pic", "p i c").replace("gift cards", "g.i.f.t c.a.r.d.s"),
    lambda t: t.upper(),
    lambda t: t.translate(HOMOGLYPHS),
    lambda t: t.translate(SMALL_CAPITALS),
    lambda t: t.replace("e", "é").replace("a", "à"),
])
def test_surface_changes_do_not_change_the_alert(default_model: RiskModel, change: object) -> None:
    base = _score(default_model, _conversation(GROOM + THREAT))
    changed = _score(default_model, _conversation([change(t) for t in GROOM + THREAT]))  # type: ignore[operator]
    assert changed.alert == base.alert
    assert changed.alert_index is not None and abs(changed.alert_index - (base.alert_index or 0)) <= 1


PLEADED = [  # (offender?, text): the young person pleads more often than the offender threatens
    [(True, "hi"), (False, "hey who is this"), (True, THREAT[0]), (False, "what?? please dont"),
     (False, "i dont have money"), (True, "ok"), (False, "please")],
    [(True, "i got ur pics from ur cloud. 200 on cashapp in an hour or ur whole family sees them"),
     (False, "please dont send them to anyone"), (False, "i cant pay that much im 15"),
     (False, "please im begging u dont post it"), (True, "clock is ticking")],
]


@pytest.mark.parametrize("lines", PLEADED)
def test_the_suspect_is_who_threatens_not_who_pleads(default_model: RiskModel,
                                                    lines: list[tuple[bool, str]]) -> None:
    """Friction goes to the suspect: from the threat on, after every message (as an intervention
    raised there would name them), it is the offender. A young person's pleas carry threat and payment
    words; by risk mass alone (the role model taken out) they made the young person the suspect."""
    def suspects(model: RiskModel) -> list[str | None]:
        states: dict[str, ConversationState] = {}
        named = []
        for i, (offender, text) in enumerate(lines):
            event = MessageEvent("c", f"m{i}", "offender" if offender else "young", 1_700_000_000.0 + 60 * i, text)
            states.update(score_messages(model, [event], states)[1])
            named.append(states["c"].suspect_id)
        return named

    threat = next(i for i, (offender, text) in enumerate(lines) if offender and "or" in text.split())
    assert suspects(default_model)[threat:] == ["offender"] * (len(lines) - threat)
    by_mass = replace(default_model, stage_model=replace(default_model.stage_model, role_coef=None,
                                                         role_embed_coef=None))
    assert "young" in suspects(by_mass)[threat:]


def test_a_message_of_one_token_many_times_scores_without_overflow(default_model: RiskModel) -> None:
    """"the " 80,000 times drives the default's logit past -709, where exp overflows: the risk is 0 as it
    should be, but numpy warned on stderr (the service's log) each time."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        steps = score_messages(default_model, _conversation(["the " * 80_000]))[0]  # as a conversation's first
    assert default_model.conversation_model.calibrated_logit(steps.features)[-1] < -709  # where exp overflows
    assert steps.risk_score[-1] < 0.01
