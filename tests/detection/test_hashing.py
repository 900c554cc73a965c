"""The vectorised hasher against plain constructions."""

import numpy as np
import scipy.sparse as sp

from detection import hashing
from detection.text import normalize


def test_direct_assembly_equals_stacking_blocks(synth_rows: list[dict[str, object]], monkeypatch) -> None:  # type: ignore[no-untyped-def]
    texts = normalize([str(r["text"]) for r in synth_rows[:3000]] + ["", "a", ""])
    seen = {}
    real = hashing._assemble

    def reference(blocks, n_rows, width):  # type: ignore[no-untyped-def]
        parts = []
        for rows, hashes in blocks:
            indptr = np.r_[0, np.cumsum(np.bincount(rows, minlength=n_rows))]
            cols = (hashes % np.uint64(width)).astype(np.int32)
            parts.append(sp.csr_matrix((np.ones(len(rows)), cols, indptr), shape=(n_rows, width)))
        seen["reference"] = sp.hstack(parts, format="csr")
        return real(blocks, n_rows, width)

    monkeypatch.setattr(hashing, "_assemble", reference)
    ours = hashing.hash_occurrences(texts, 1024)
    assert np.array_equal(ours.indptr, seen["reference"].indptr)
    assert np.array_equal(ours.indices, seen["reference"].indices)


def test_rows_do_not_depend_on_the_batch() -> None:
    texts = normalize(["send me a pic", "", "hey you", "pay $50 in gift cards now!!"])
    together = hashing.hash_occurrences(texts, 4096)
    for i, text in enumerate(texts):
        alone = hashing.hash_occurrences([text], 4096)
        assert (alone != together[i]).nnz == 0
    assert together[1].nnz == 0 and hashing.hash_occurrences([], 16).shape == (0, 16 * hashing.BLOCKS)


def test_ngram_counts_of_a_small_message() -> None:
    row = hashing.hash_occurrences(["ab cde"], 1 << 20)
    words, bigrams = 2, 1
    chars = 3 + 6  # " ab ": " ab", "ab ", " ab "; " cde ": " cd", "cde", "de ", " cde", "cde ", " cde "
    assert row.nnz == words + bigrams + chars


def test_punctuation_breaks_character_ngrams_within_words_only_when_asked() -> None:
    """Read within words, "pay." and "pay-300-in-gift" make the n-grams that "pay" and "pay 300 in gift" make; read
    within white-space tokens (models saved before), the punctuation makes n-grams of its own."""
    pairs = [("pay. $300. in. gift. cards.", "pay $300 in gift cards"),
             ("pay-300-in/gift/cards", "pay 300 in gift cards"), ("hey!! u there??", "hey u there"),
             ("i'll,send...it", "i ll send it")]
    for punctuated, plain in pairs:
        within = [hashing.hash_occurrences(normalize([t]), 1 << 20, chars_within_words=True)
                  for t in (punctuated, plain)]
        assert (within[0] != within[1]).nnz == 0, punctuated
        tokens = [hashing.hash_occurrences(normalize([t]), 1 << 20) for t in (punctuated, plain)]
        assert (tokens[0] != tokens[1]).nnz > 0, punctuated
        words = slice(0, 2 << 20)  # the word and word-pair blocks never read punctuation either way
        assert (tokens[0][:, words] != within[0][:, words]).nnz == 0
    row = hashing.hash_occurrences(["ab, cde!"], 1 << 20, chars_within_words=True)
    assert row.nnz == 2 + 1 + 3 + 6  # as "ab cde" (test_ngram_counts_of_a_small_message)
    texts = normalize(["send me a pic", "", "a-b", "pay $50 in gift cards now!!", "..."])
    together = hashing.hash_occurrences(texts, 4096, chars_within_words=True)
    for i, text in enumerate(texts):
        assert (hashing.hash_occurrences([text], 4096, chars_within_words=True) != together[i]).nnz == 0


def test_a_few_texts_hash_word_by_word_as_a_batch_does(synth_rows: list[dict[str, object]]) -> None:
    """``_hash_few`` (the service's lone message, a run, a window) gives the vectorised hasher's entries, in its
    order, read within words or within white-space tokens, on normalised and raw text alike."""
    raw = [str(r["text"]) for r in synth_rows[:600]] + [
        "", "a", "PAY. $300!!", "naïve café — ok…", "x\u00a0y\u2028z\u0085w", "ab  cd\tef", "__init__ a_b",
        "😀 send 😀", "\u0645\u0631\u062d\u0628\u0627 hi", "ｆｕｌｌ width", "a" * 70]
    texts = normalize(raw) + raw
    assert len(texts) > hashing.FEW
    for within in (True, False):
        batch = hashing.hash_occurrences(texts, 4096, chars_within_words=within)
        for i in range(0, len(texts), 3):
            group = texts[i:i + 3]
            few = hashing._hash_few(group, 4096, within)
            assert np.array_equal(few.indptr, batch[i:i + len(group)].indptr), group
            assert np.array_equal(few.indices, batch[i:i + len(group)].indices), group
