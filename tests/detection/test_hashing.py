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
