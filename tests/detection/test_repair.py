"""Words repaired against a model's vocabulary (``detection.repair``)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from detection.model import RiskModel
from detection.model_files import ModelLoadError, load_model
from detection.repair import MAX_WORD, MIN_COUNT, SLIP_RATIO, Vocabulary, english_words, skeleton
from detection.text import normalize

TRAINING = (["i will send it to your family unless you pay"] * 40 + ["send me a pic"] * 80
            + ["post it on your story"] * 60 + ["all the followers see it"] * 10 + ["in gift cards"] * 10
            + ["see you at practice"] * 5 + ["sned"] * 5 + ["yuor pic"] * 5 + ["snd"] * 4 + ["one of them"] * 10)


@pytest.fixture(scope="module")
def vocabulary() -> Vocabulary:
    return Vocabulary.fit(normalize(TRAINING))


def read(vocabulary: Vocabulary, text: str) -> str:
    return " ".join(vocabulary.repair(normalize([text]))[0].split())


def test_only_words_met_often_enough_and_not_slips_are_known(vocabulary: Vocabulary) -> None:
    assert vocabulary.counts["send"] == 120 and vocabulary.counts["your"] == 100
    assert MIN_COUNT > 4 and "snd" not in vocabulary.counts  # met too few times
    # met MIN_COUNT times but SLIP_RATIO times rarer than the word it is a slip of: a slip ("sned", "yuor")
    assert MIN_COUNT <= 5 and SLIP_RATIO * 5 <= 100 and "sned" not in vocabulary.counts
    assert "yuor" not in vocabulary.counts
    assert "practice" in vocabulary.counts  # rare, but a slip of nothing known


@pytest.mark.parametrize(("written", "meant"), [
    ("s*nd it to y*ur f*mily", "send it to your family"),  # a vowel masked
    ("snd it to yr fmly", "send it to yr family"),  # vowels left out ("yr": a skeleton too short to say)
    ("seendd it to yoourr faamiilyy", "send it to your family"),  # letters doubled ("faamiilyy" once normalised)
    ("sned it to yuor fmaily", "send it to your family"),  # two letters swapped
    ("se.nd it to your fam.ily", "send it to your family"),  # a dot inside a word
    ("se nd it to your fam ily", "send it to your family"),  # a space inside a word
    ("se\U0001F600nd it to your fam\U0001F600ily", "send it to your family"),  # an emoji (a space once normalised)
    ("isendittoyourfamily unlessyoupay", "i send it to your family unless you pay"),  # run together
])
def test_a_misspelled_word_reads_as_the_known_word(vocabulary: Vocabulary, written: str, meant: str) -> None:
    assert read(vocabulary, written) == meant


@pytest.mark.parametrize("text", [
    "send it to your family", "see you at practice",  # every word known: the very same text
    "zxq brandon qwerty",  # unknown, and near no known word
    "in to", "pay _money_ $300",  # known pieces broken by a space stay apart; markers stay as they are
    "any.one", "ok.see you",  # pieces that do not make a known word stay apart
    "s**d it", "p** now", "*see*",  # as many letters masked as shown: no telling which word
])
def test_text_with_nothing_to_repair_reads_as_written(vocabulary: Vocabulary, text: str) -> None:
    normalized = normalize([text])[0]
    assert vocabulary.repair([normalized]) == [normalized]


def test_a_word_near_no_known_word_of_its_kind_is_left_alone(vocabulary: Vocabulary) -> None:
    assert skeleton("send") == skeleton("snd") == skeleton("seend") == "snd"
    assert read(vocabulary, "sand") == "sand"  # a vowel for another is not a vowel left out
    assert read(vocabulary, "gftcrdsxzzqq") == "gftcrdsxzzqq"  # long, but not made of known words
    assert read(vocabulary, "sendpics") == "sendpics"  # made of known words, but as long as many a new word
    assert read(vocabulary, "hmm 8th") == "hmm 8th"  # short skeletons, and letters stuck to digits


def test_an_english_word_the_training_data_lacks_is_never_repaired(vocabulary: Vocabulary) -> None:
    """The training data has few of the words people write: "off" is not in it and "of" is, "off" with one "f" read
    once. English words (``english_words``) are words, not slips."""
    assert "off" not in vocabulary.counts and "off" in vocabulary.words and len(english_words()) > 20_000
    assert read(vocabulary, "get off them") == "get off them"
    assert read(replace(vocabulary, words=frozenset()), "get off them") == "get of them"
    assert read(vocabulary, "get offf them") == "get off them"  # "offf" is "off" once normalised, so English


def test_a_word_too_long_to_be_typed_is_left_as_it_is(vocabulary: Vocabulary) -> None:
    """A 200,000-letter "word" would have 200,000 swaps of 200,000 letters each, and split into known words it would
    recurse once a letter: left as it is. Run together up to MAX_WORD letters, words are still split."""
    mashed = "sendyourpic" * 18_000
    assert len(mashed) > MAX_WORD and vocabulary.repair([mashed]) == [mashed]
    run_together = "isendittoyourfamilyunlessyoupay"
    assert len(run_together) <= MAX_WORD and read(vocabulary, run_together) == "i send it to your family unless you pay"


def test_repair_reads_each_text_as_alone(vocabulary: Vocabulary) -> None:
    texts = normalize(["s*nd it", "hey", "snd it 2 yr fmly", "", "isendit"])
    together = vocabulary.repair(texts)
    assert together == [vocabulary.repair([t])[0] for t in texts]
    assert together[0] == "send it" and together[1] == "hey" and together[3] == ""


def test_a_saved_model_keeps_its_vocabulary_and_older_ones_read_without(model: RiskModel, tmp_path: Path) -> None:
    with_vocabulary = replace(model, featurizer=replace(model.featurizer,
                                                        vocabulary=Vocabulary.fit(normalize(TRAINING))))
    with_vocabulary.save(tmp_path / "with")
    loaded = load_model(tmp_path / "with")
    assert loaded.featurizer.vocabulary is not None and with_vocabulary.featurizer.vocabulary is not None
    assert loaded.featurizer.vocabulary.counts == with_vocabulary.featurizer.vocabulary.counts
    assert loaded.featurizer.vocabulary.words == english_words()
    assert loaded.model_version == with_vocabulary.model_version
    texts = ["s*nd it to y*ur f*mily", "fine thx"]
    assert (loaded.stage_proba(texts) == with_vocabulary.stage_proba(texts)).all()
    meta_path = tmp_path / "with" / "model.json"
    meta = json.loads(meta_path.read_text())
    del meta["vocabulary"], meta["vocabulary_words"]  # saved before the vocabulary: words read as written
    meta_path.write_text(json.dumps(meta))
    assert load_model(tmp_path / "with").featurizer.vocabulary is None


@pytest.mark.parametrize("bad", [["send"], {"send": 0}, {"Send": 3}, {"send": 2.5}, {"se nd": 4}, {"": 3}])
def test_a_damaged_vocabulary_is_a_clear_load_error(model: RiskModel, tmp_path: Path, bad: object) -> None:
    model.save(tmp_path / "m")
    meta_path = tmp_path / "m" / "model.json"
    meta = json.loads(meta_path.read_text())
    meta["vocabulary"] = bad
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="vocabulary must map words"):
        load_model(tmp_path / "m")


@pytest.mark.parametrize(("setting", "content", "message"), [
    ("other.txt", None, "vocabulary_words must be 'words.txt' or null"),
    ("words.txt", "send\nSend\n", "words.txt must hold one word of the letters a-z a line, got 'Send'"),
    ("words.txt", "", None),  # an empty list: no English words
])
def test_a_damaged_word_list_is_a_clear_load_error(model: RiskModel, tmp_path: Path, setting: str,
                                                   content: str | None, message: str | None) -> None:
    with_vocabulary = replace(model, featurizer=replace(model.featurizer,
                                                        vocabulary=Vocabulary.fit(normalize(TRAINING))))
    with_vocabulary.save(tmp_path / "m")
    meta_path = tmp_path / "m" / "model.json"
    meta = json.loads(meta_path.read_text())
    meta["vocabulary_words"] = setting
    meta_path.write_text(json.dumps(meta))
    if content is not None:
        (tmp_path / "m" / "words.txt").write_text(content)
    if message is None:
        assert load_model(tmp_path / "m").featurizer.vocabulary.words == frozenset()  # type: ignore[union-attr]
        return
    with pytest.raises(ModelLoadError, match=message):
        load_model(tmp_path / "m")
    (tmp_path / "m" / "words.txt").unlink()
    meta["vocabulary_words"] = "words.txt"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match=r"unreadable words\.txt"):
        load_model(tmp_path / "m")
