import pytest

from detection.features import MessageFeaturizer
from detection.text import normalize


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
