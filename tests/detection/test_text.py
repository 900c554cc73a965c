import pytest

from detection.features import MessageFeaturizer
from detection.text import normalize, without_filler


@pytest.mark.parametrize(("raw", "expected"), [
    ("s e n d me a p.i.c", "send me a pic"),
    ("p-r-i-v-a-t-e", "private"),
    ("send a p i c", "send a pic"),
    ("i s e n d", "i send"),
    ("c4shapp", "cashapp"),
    ("I will s3nd it 2 ur f0ll0wers", "i will send it 2 ur followers"),
    ("$nap me", "snap me"),
    ("pleeeeease", "pleease"),
    ("Ｓｅｎｄ", "send"),
    ("se\u200bnd", "send"),
    ("see you at 10pm", "see you at 10pm"),
    ("5end it 2nite, h0w 0ld r u", "send it 2nite, how old r u"),  # a look-alike digit can open a word
    ("7he 4nd 93t 0ur", "the and get our"),
    ("on the 2nd, 21st, 4th or 3rd? 5min 14yo 4u 2x", "on the 2nd, 21st, 4th or 3rd? 5min 14yo 4u 2x"),
    # a whole message spelled out, words two spaces apart: short words and a leading "a" come back whole
    ("A r e  u  a l o n e", "are u alone"),
    ("s e n d  a  p i c  f o r  m e", "send a pic for me"),
    ("i  w i l l  p o s t  i t", "i will post it"),
    ("see you  at 5", "see you  at 5"),  # ordinary text with a double space stays as it is
    ("i am  ok", "i am  ok"),
    # letters of other scripts that look like Latin ones, and accents
    ("і sеnd іt tо уоur fаmіlу", "i send it to your family"),  # Cyrillic і, е, о, у, а
    ("ΡΑΥ ΝΟW", "pay now"),  # Greek capitals: "Υ" is a "Y", a small "υ" a "u"
    ("Ѕеnd РІС", "send pic"),
    ("SÉND ME À PÍC", "send me a pic"),
    ("naïve café", "naive cafe"),
    ("ꜱᴇɴᴅ ᴍᴇ ᴀ ᴘɪᴄ", "send me a pic"),  # small capitals
    ("привет", "npиbet"),  # Russian is not read as Russian either way: the models read English
    # "!" is an "i" inside a word, an exclamation at its end ("thanks!" read "thanksi" before 2026-12-02)
    ("thanks! send it!!", "thanks! send it!!"),
    ("pr!vate p!c!", "private pic!"),
    # words joined by underscores are words; single letters so joined are one word
    ("pay_$300_in_gift_cards", "pay  _money_ $300  in gift cards"),
    ("cool_guy_99 here", "cool guy 99 here"),
    ("ur i_n_s_t_a", "ur insta"),
    ("send_a_p_i_c", "send a pic"),
    ("__init__ x__y", "__init__ xy"),
    ("it._pay_now_", "it. pay now "),
    ("pay $5k now", "pay  _money_ $5k  now"),  # an amount keeps its digits, a unit after it too
])
def test_normalize_undoes_evasion(raw: str, expected: str) -> None:
    assert normalize([raw])[0] == expected


def test_money_and_urls_get_tokens_and_batch_keeps_alignment() -> None:
    out = normalize(["pay $500 now", "line\nbreak", "", "see https://x.example/a"])
    assert len(out) == 4
    assert "_money_" in out[0] and "$500" in out[0]
    assert out[1] == "line break"
    assert out[2] == ""
    assert "_url_" in out[3]


def test_batch_equals_one_at_a_time(synth_rows: list[dict[str, object]]) -> None:
    # Messages are joined into one string for speed; nothing may leak across the joins.
    texts = [str(r["text"]) for r in synth_rows[:4000]] + ["ends with 6", "k", "50", "bucks", "$", "5"]
    assert normalize(texts) == [normalize([t])[0] for t in texts]


@pytest.mark.parametrize("decorated", ["thx lol 😂🔥", "thx😂 lol", "🔥🔥 thx lol ❤️", "thx lol 👍🏽", "thx ⭐ lol ☺︎"])
def test_emoji_do_not_change_features(decorated: str) -> None:
    """Decoration must not change what a message says: its n-gram features equal the plain text's."""
    featurizer = MessageFeaturizer(2**12).fit(["thx lol", "send a pic"])
    plain, other = featurizer.transform(["thx lol"]), featurizer.transform([decorated])
    assert (plain != other).nnz == 0
    assert normalize([decorated])[0].split() == ["thx", "lol"]


THREAT = "pay $300 in gift cards or i send it to your family"


@pytest.mark.parametrize("filler", ["lol", "LOL", "l0l", "haha", "hahaha", "ok", "okay", "um", "uhh", "xD", "lmao",
                                    "lol,", "...ok", "hehe", "LOL!", "lol!!", "!lol", "lol😂", "ｌｏｌ", "l\u200bol",
                                    "l.o.l"])
@pytest.mark.parametrize("every", [1, 2, 4])
def test_filler_between_the_words_of_a_threat_is_read_out(filler: str, every: int) -> None:
    words = THREAT.split()
    padded = " ".join(w + (f" {filler}" if (i + 1) % every == 0 else "") for i, w in enumerate(words))
    assert without_filler([padded]) == [THREAT]


@pytest.mark.parametrize("filler", ["bro", "Bro.", "banana", "B4N4N4"])
def test_one_word_put_between_the_words_again_and_again_is_read_out(filler: str) -> None:
    for every in (1, 2):  # 11 or 5 times in 22 or 16 words; after every fourth word, 2 times: too few to tell
        padded = " ".join(w + (f" {filler}" if (i + 1) % every == 0 else "") for i, w in enumerate(THREAT.split()))
        assert without_filler([padded]) == [THREAT]


@pytest.mark.parametrize("text", [
    THREAT,
    "he said he will send it",  # "he" is a word, "hehe" filler
    "h4$ h4$ your pics and h4$",  # look-alikes for "has", not "ha"
    "lol ok",  # too short to read out: nothing would be left
    "lol ok thanks",
    "lmao ok see u",  # fewer than three words left
    "ok so i was thinking we could meet at the mall lol",  # two of twelve: under a fifth
    "lol",
    "",
    "i will l.o.l send it",  # one filler word
    "lol lol haha ok bye",  # one word would be left
    "no no no no no i will not send it",  # a word said again and again in a row is meant
    "i said i know i can and i will",  # a one-letter word is not filler however often
    "yes i yes u yes we yes",  # too short to tell a word put between others
])
def test_text_that_is_not_mostly_filler_stays_as_written(text: str) -> None:
    assert without_filler([text]) == [text]


def test_the_featurizer_picks_out_every_text_with_filler_to_read_out(synth_rows: list[dict[str, object]]) -> None:
    """Scoring reads word by word only the texts that ``filler_rows`` picks out from their word columns: it must
    miss none that ``without_filler`` changes, in any case, look-alikes, punctuation or emoji."""
    texts = [str(r["text"]) for r in synth_rows[:4000]]
    fillers = ["lol", "LOL", "l0l", "lol,", "lol😂", "haha", "ok", "um", "lol haha ok um", "bro", "Bro.", "banana",
               "LOL!", "lol!!", "!lol", "ｌｏｌ", "l\u200bol", "l.o.l", "OK. lol! ha!! xd"]
    padded = [" ".join(w + (f" {f.split()[i % len(f.split())]}" if (i + 1) % n == 0 else "")
                       for i, w in enumerate(THREAT.split())) for f in fillers for n in (1, 2, 3)]
    texts += [*padded, "please dont please dont please dont please dont", "no no no no no i will not send it"]
    changed = {i for i, (a, b) in enumerate(zip(texts, without_filler(texts), strict=True)) if a != b}
    assert len(changed & set(range(4000, 4000 + len(padded)))) >= 30  # most padded forms are read out
    for width in (2**10, 2**17):  # narrow: most words share a column with an interjection, which costs only time
        featurizer = MessageFeaturizer(width).fit(texts)
        picked = set(featurizer.filler_rows(featurizer.transform(texts)).tolist())
        assert changed <= picked, sorted(changed - picked)
        assert width < 2**17 or len(picked) < 0.02 * len(texts), len(picked)
