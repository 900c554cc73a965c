"""Conversations that read as another language than English are counted: the model reads English only."""

from pathlib import Path

import pytest

from detection.batch import score_file
from detection.language import reads_as_other_language, trained_on_english, word_counts
from detection.model import RiskModel
from detection.partitioned import score_file_partitioned
from detection.readers import read_events
from tests.cli_helpers import riskline
from tests.conftest import write_jsonl

# Written for these tests, non-graphic, each as such a conversation opens: an extortion or an approach.
OTHER_LANGUAGES = {
    "es": ["hola, tengo tus fotos", "si no me pagas 200 dolares se las mando a tu familia", "quien eres? que quieres?",
           "tienes una hora, paga con tarjetas de regalo"],
    "pt": ["oi, você é muito bonito", "quantos anos você tem?", "seus pais olham seu celular?",
           "vamos falar em outro app, isso fica entre nós", "me manda uma foto sua"],
    "fr": ["salut, j'ai tes photos", "si tu ne paies pas, je les envoie à ta famille", "tu as une heure"],
    "de": ["hallo, ich habe deine bilder", "wenn du nicht zahlst, schicke ich sie an deine familie",
           "du hast eine stunde"],
    "it": ["ciao, ho le tue foto", "se non mi paghi, le mando alla tua famiglia", "hai un'ora"],
    "nl": ["hoi, ik heb je foto's", "als je niet betaalt, stuur ik ze naar je familie", "je hebt een uur"],
    "id": ["hai, aku punya foto kamu", "kalau kamu tidak kirim uang, aku sebar ke keluarga kamu",
           "kamu punya satu jam"],
    "tl": ["hi, may mga litrato ako ng ikaw", "magbayad ka ng 2000 o ipapadala ko sa pamilya mo", "isang oras lang"],
    "tr": ["merhaba, fotoğrafların bende", "para göndermezsen ailene gönderirim, bu bir şaka değil", "bir saatin var"],
    "pl": ["cześć, mam twoje zdjęcia", "jeśli nie zapłacisz, wyślę je twojej rodzinie",
           "masz godzinę, to nie jest żart"],
    "ru": ["привет, у меня есть твои фото", "заплати 200 или я отправлю их твоей семье", "у тебя один час"],
    "ar": ["مرحبا، عندي صورك", "ادفع 200 دولار أو أرسلها لعائلتك", "معك ساعة واحدة"],
    "zh": ["你好，我有你的照片", "付两百块，不然我发给你家人", "你只有一个小时"],
}
ENGLISH = {
    # a few words of Spanish in English chat: homework
    "homework": ["how do you say 'i want' in spanish", "quiero", "and 'where is the library'?",
                 "donde esta la biblioteca lol", "thanks!! you're the best, see you in class"],
    "greetings": ["hola amigo", "bonjour lol", "merci for the notes", "ciao, see you tomorrow"],
    "slang": ["yo wyd rn", "nm u", "ngl that game was trash", "ur trash lol", "gg ez", "bet, tmrw 4pm"],
    "threat": ["i have your pics", "pay $200 in gift cards or i send them to your family", "you have 1 hour"],
    # filter dodging: Cyrillic and Greek letters that look like Latin ones, full-width letters, accents
    "look-alikes": ["і hаvе уоur рісs", "рау $200 οr і sеnd thеm tο уοur fаmіlу", "ｙｏｕ ｈａｖｅ １ ｈｏｕｒ",
                    "sénd thé mоnеy nоw", "ΥOU ΚNOW ΤHE RULES"],
}
TOO_SHORT = {"short-es": ["hola", "que tal?"]}


def _rows(conversations: dict[str, list[str]]) -> list[dict[str, object]]:
    return [{"conversation_id": cid, "message_id": f"{cid}-{i}", "sender_id": f"{cid}-{'ab'[i % 2]}",
             "timestamp": 1_767_000_000 + 60 * i, "text": text}
            for cid, texts in conversations.items() for i, text in enumerate(texts)]


def flagged(conversation_ids: list[str], texts: list[str]) -> set[str]:
    """The conversations whose summed function words read as another language, as the state sums them."""
    totals: dict[str, list[int]] = {}
    for cid, (english, other) in zip(conversation_ids, word_counts(texts).tolist(), strict=True):
        total = totals.setdefault(cid, [0, 0])
        total[0], total[1] = total[0] + english, total[1] + other
    return {cid for cid, (english, other) in totals.items() if reads_as_other_language(english, other)}


def _flagged_texts(conversations: dict[str, list[str]]) -> set[str]:
    return flagged([cid for cid, texts in conversations.items() for _ in texts],
                    [text for texts in conversations.values() for text in texts])


def test_conversations_in_other_languages_are_counted_and_english_ones_are_not() -> None:
    assert _flagged_texts({**OTHER_LANGUAGES, **ENGLISH, **TOO_SHORT}) == set(OTHER_LANGUAGES)


def test_no_shipped_or_generated_conversation_reads_as_another_language(synth_rows: list[dict[str, object]]
                                                                            ) -> None:
    events = read_events(Path(__file__).parents[2] / "data_samples" / "train.parquet").events
    assert not flagged([e.conversation_id for e in events], [e.text for e in events])
    assert not flagged([str(r["conversation_id"]) for r in synth_rows],
                                            [str(r["text"]) for r in synth_rows])


@pytest.mark.parametrize("engine", ["local", "partitioned"])
def test_batch_engines_count_them(engine: str, model: RiskModel, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "mixed.jsonl", _rows({**OTHER_LANGUAGES, **ENGLISH}))
    out = tmp_path / "scores.jsonl"
    result = (score_file(model, source, out) if engine == "local"
              else score_file_partitioned(model, source, out, workers=2, partitions=3))
    assert (result.n_conversations, result.n_other_language) == (len(OTHER_LANGUAGES) + len(ENGLISH),
                                                                 len(OTHER_LANGUAGES))


def test_score_says_how_many_read_as_another_language(model_dir: Path, tmp_path: Path) -> None:
    mixed = write_jsonl(tmp_path / "mixed.jsonl", _rows({"es": OTHER_LANGUAGES["es"], **ENGLISH}))
    done = riskline("score", mixed, "-o", tmp_path / "a.jsonl", "--model", model_dir)
    assert done.returncode == 0, done.stderr
    assert f"note: 1 of the {1 + len(ENGLISH)} conversations read as another language than English" in done.stderr
    english = write_jsonl(tmp_path / "english.jsonl", _rows(ENGLISH))
    done = riskline("score", english, "-o", tmp_path / "b.jsonl", "--model", model_dir)
    assert done.returncode == 0, done.stderr
    assert "another language" not in done.stderr


def test_explain_says_when_a_conversation_reads_as_another_language(model_dir: Path, tmp_path: Path) -> None:
    mixed = write_jsonl(tmp_path / "mixed.jsonl", _rows({"de": OTHER_LANGUAGES["de"], **ENGLISH}))
    done = riskline("explain", mixed, "--conversation", "de", "--model", model_dir)
    assert done.returncode == 0, done.stderr
    assert "this conversation reads as another language than English" in done.stderr
    done = riskline("explain", mixed, "--conversation", "threat", "--model", model_dir)
    assert done.returncode == 0, done.stderr
    assert "another language" not in done.stderr


def test_a_model_trained_on_another_language_gets_no_note(model: RiskModel) -> None:
    """n-grams read any language a platform labels: a model whose training words are Spanish reads Spanish."""
    assert model.featurizer.vocabulary is not None
    assert trained_on_english(model.featurizer.vocabulary.counts)
    spanish = {word: 10 for text in OTHER_LANGUAGES["es"] for word in text.replace(",", " ").replace("?", " ").split()}
    assert not trained_on_english(spanish)
    assert trained_on_english(None)


def test_the_counts_carry_in_the_state_message_by_message_as_in_one_batch(model: RiskModel) -> None:
    """Function words are summed in the conversation's state, so the service (a message a call) and a batch
    judge a conversation alike; a state saved before them reads as none counted."""
    from detection.events import to_event
    from detection.scoring import score_conversations, score_messages
    from detection.state import ConversationState

    events = [to_event(row) for row in _rows({"fr": OTHER_LANGUAGES["fr"], **ENGLISH})]
    states: dict[str, ConversationState] = {}
    for event in events:
        states.update(score_messages(model, [event], states)[1])
    results, _ = score_conversations(model, events)
    assert {r.conversation_id for r in results if r.other_language} == {"fr"}
    assert {cid for cid, state in states.items() if state.other_language} == {"fr"}
    assert states["fr"].language_words == (0, 11)
    saved = {k: v for k, v in states["fr"].to_dict().items() if k != "language_words"}
    assert ConversationState.from_dict(saved).language_words == (0, 0)
