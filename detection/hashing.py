"""Vectorised feature hashing: word 1-2 grams and within-word character 3-5 grams.

The whole batch is joined into one array of code points and every n-gram is hashed with numpy at
once, using polynomial prefix hashes modulo 2**64: the hash of ``c[a..b]`` is
``(S[b] - S[a-1]) * P**-a`` where ``S`` is the running sum of ``c[j] * P**j``. ``P`` is odd, so it
has an inverse modulo 2**64. No Python runs per message or per n-gram, which makes this several
times faster than a per-document analyser, and an n-gram's hash never depends on the batch.

Each n-gram family (words, bigrams, 3-, 4- and 5-grams) fills its own block of columns, one entry
per occurrence in text order. Rows are then already in order, so the CSR index pointer comes from
a count per row, with no sort; repeated n-grams stay as repeated entries, which a matrix product
sums like counts.

A few texts (the service's message, a run or a window of it) are hashed word by word in Python instead
(``_hash_few``), each word's hashes remembered: numpy's fixed cost per call made a lone message's hashing take
0.23-0.32 ms, against 0.03-0.06 ms word by word. The same hashes, the same entries in the same order (tested).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import scipy.sparse as sp

P = np.uint64(0x100000001B3)
P_INV = np.uint64(pow(0x100000001B3, -1, 2**64))
CHAR_SIZES = (3, 4, 5)
BLOCKS = 2 + len(CHAR_SIZES)
_SALTS = [np.uint64(s) for s in (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                                 0x27D4EB2F165667C5, 0x85EBCA77C2B2AE63)]
_SPACES = re.compile(r"[^\S\n]+")
_NON_WORD_HIGH = np.array([0x85, 0xA0, 0x2028, 0x2029], dtype=np.uint64)
# the same in Python integers, for ``_hash_few``
_MASK = (1 << 64) - 1
_P, _SALT = int(P), [int(s) for s in _SALTS]
# a word as ``hash_occurrences`` reads one: digits, lower-case letters, "_" and any code point from 128 on but these
_WORD_RUN = re.compile("[0-9a-z_\u0080-\u0084\u0086-\u009f\u00a1-\u2027\u202a-\U0010ffff]+")
FEW = 32  # at most this many texts are hashed by ``_hash_few`` (from about 64 on, numpy is faster)
MAX_REMEMBERED = 200_000  # words and tokens remembered with their hashes, for each width
_words: dict[int, dict[str, tuple[int, int]]] = {}  # width -> word -> (its hash, its column)
_chars: dict[int, dict[str, list[list[int]]]] = {}  # width -> token -> its character n-grams' columns


def mix(h: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads every input bit over the output (mod 2**64)."""
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def _mix(h: int) -> int:
    """``mix`` of one hash, in Python integers."""
    h ^= h >> 30
    h = (h * 0xBF58476D1CE4E5B9) & _MASK
    h ^= h >> 27
    h = (h * 0x94D049BB133111EB) & _MASK
    return h ^ (h >> 31)


def _poly(text: str) -> int:
    """The polynomial hash of ``text``'s code points, ``sum(c[k] * P**k)`` modulo 2**64."""
    h, power = 0, 1
    for letter in text:
        h = (h + ord(letter) * power) & _MASK
        power = (power * _P) & _MASK
    return h


def _powers(base: np.uint64, n: int) -> np.ndarray:
    powers = np.full(n, base, dtype=np.uint64)
    if n:
        powers[0] = 1
    return np.cumprod(powers, dtype=np.uint64)


def _assemble(blocks: list[tuple[np.ndarray, np.ndarray]], n_rows: int, width: int) -> sp.csr_matrix:
    """One CSR matrix from blocks of (rows, hashes) whose rows never decrease, without sorting.

    Within a row, block 0's entries come first, then block 1's, and so on; each entry's slot is the
    row's start, plus the row's entries in earlier blocks, plus its rank inside its own block.
    """
    counts = np.stack([np.bincount(rows, minlength=n_rows) for rows, _ in blocks])
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(counts.sum(axis=0), out=indptr[1:])
    before = np.cumsum(counts, axis=0) - counts  # entries of the same row in earlier blocks
    indices = np.empty(int(indptr[-1]), dtype=np.int32)
    for b, (rows, hashes) in enumerate(blocks):
        block_start = np.cumsum(counts[b]) - counts[b]  # where each row's run begins inside this block
        rank = np.arange(len(rows)) - block_start[rows]
        indices[indptr[rows] + before[b, rows] + rank] = (hashes % np.uint64(width)).astype(np.int64) + b * width
    return sp.csr_matrix((np.ones(len(indices)), indices, indptr), shape=(n_rows, BLOCKS * width))


def hash_occurrences(texts: Sequence[str], width: int, *, chars_within_words: bool = False) -> sp.csr_matrix:
    """One entry per n-gram occurrence, ``BLOCKS`` column blocks of ``width`` each. Character n-grams are
    taken within white-space tokens ("pay." gives "ay." and "y. "), or with ``chars_within_words`` within
    words, where punctuation is a break like a space ("pay." as "pay", "pay-300-in-gift-cards" as its words)."""
    n_rows = len(texts)
    if 0 < n_rows <= FEW and not any("\n" in text for text in texts):
        return _hash_few(texts, width, chars_within_words)
    framed = _SPACES.sub(" ", " " + " \n ".join(texts) + " ")
    codes = np.frombuffer(framed.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    is_word = ((codes >= 48) & (codes <= 57)) | ((codes >= 97) & (codes <= 122)) | (codes == 95)
    if len(high := np.flatnonzero(codes >= 128)):  # most chat has none: no look-up at all
        is_word[high] = ~np.isin(codes[high], _NON_WORD_HIGH)
    if chars_within_words:  # a word's hash reads only its own code points, so words and bigrams stay the same
        codes = np.where(is_word | (codes == 10), codes, np.uint64(32))
    length = len(codes)
    prefix = np.zeros(length + 1, dtype=np.uint64)
    np.cumsum(codes * _powers(P, length), out=prefix[1:])
    inverse = _powers(P_INV, length)
    newline = codes == 10
    row = np.cumsum(newline)

    def span(first: np.ndarray, last: np.ndarray) -> np.ndarray:
        return (prefix[last + 1] - prefix[first]) * inverse[first]

    edge = np.diff(is_word.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts, ends = np.flatnonzero(edge == 1), np.flatnonzero(edge == -1) - 1
    words = mix(span(starts, ends) ^ _SALTS[0])
    blocks = [(row[starts], words)]
    same_row = row[starts[1:]] == row[starts[:-1]]
    bigrams = mix((words[:-1] * P + words[1:]) ^ _SALTS[1])[same_row]
    blocks.append((row[starts[1:]][same_row], bigrams))

    spaces = np.zeros(length + 1, dtype=np.int64)
    np.cumsum(codes == 32, out=spaces[1:])
    lines = np.zeros(length + 1, dtype=np.int64)
    np.cumsum(newline, out=lines[1:])
    for salt, n in zip(_SALTS[2:], CHAR_SIZES, strict=True):
        first = np.arange(max(length - n + 1, 0))
        last = first + (n - 1)
        # inside one message, with spaces only at the ends: the n-grams of " word ", as char_wb
        valid = (lines[last + 1] == lines[first]) & (spaces[last] == spaces[first + 1])
        first, last = first[valid], last[valid]
        blocks.append((row[first], mix(span(first, last) ^ salt)))
    return _assemble(blocks, n_rows, width)


def _hash_few(texts: Sequence[str], width: int, chars_within_words: bool) -> sp.csr_matrix:
    """``hash_occurrences`` of a few texts (none with a line break), word by word: each word's hash and column, and
    each token's character n-grams' columns, are worked out once and remembered."""
    words_seen = _words.setdefault(width, {})
    chars_seen = _chars.setdefault(width, {})
    if len(words_seen) >= MAX_REMEMBERED or len(chars_seen) >= MAX_REMEMBERED:
        words_seen.clear()
        chars_seen.clear()
    indices: list[int] = []
    indptr = [0]
    for text in texts:
        spaced = _SPACES.sub(" ", text)
        words = _WORD_RUN.findall(spaced)
        tokens = words if chars_within_words else spaced.split()
        hashes = []
        for word in words:
            if (found := words_seen.get(word)) is None:
                h = _mix(_poly(word) ^ _SALT[0])
                found = words_seen[word] = (h, h % width)
            hashes.append(found[0])
            indices.append(found[1])
        indices.extend(_mix(((a * _P + b) & _MASK) ^ _SALT[1]) % width + width for a, b in pairwise(hashes))
        grams = [chars_seen.get(token) or _char_columns(token, width, chars_seen) for token in tokens]
        for block in range(len(CHAR_SIZES)):
            for columns in grams:
                indices.extend(columns[block])
        indptr.append(len(indices))
    return sp.csr_matrix((np.ones(len(indices)), np.array(indices, dtype=np.int32), np.array(indptr, dtype=np.int64)),
                         shape=(len(texts), BLOCKS * width))


def _char_columns(token: str, width: int, seen: dict[str, list[list[int]]]) -> list[list[int]]:
    """The columns of ``token``'s character n-grams, of " token ", for each size of ``CHAR_SIZES``, remembered."""
    framed = f" {token} "
    found = seen[token] = [[_mix(_poly(framed[i:i + n]) ^ salt) % width + (2 + b) * width
                            for i in range(len(framed) - n + 1)]
                           for b, (salt, n) in enumerate(zip(_SALT[2:], CHAR_SIZES, strict=True))]
    return found
