"""The hand-written challenge set (``benchmarks/challenge.py``): well formed, non-graphic, and no
false alert from the default model on its negatives."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from detection.events import RISK_STAGES, STAGES
from detection.model_files import default_model_path, load_model
from detection.scoring import score_conversations
from detection.text import normalize
from detection.writers import write_rows
from tests.detection.test_language import flagged
from tests.training.test_synth import FORBIDDEN, ROOT
from training.data import load_labelled
from training.synth.generator import generate


@pytest.fixture(scope="module")
def challenge() -> ModuleType:
    spec = importlib.util.spec_from_file_location("challenge", ROOT / "benchmarks" / "challenge.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# per part: conversations, and the fewest distinct lines of four words or more per conversation
# (part c is short direct extortion: two or three such lines each)
@pytest.mark.parametrize(("part", "size", "lines"),
                         [("a", 26, 4), ("b", 22, 4), ("c", 26, 1.5), ("d", 26, 2), ("e", 28, 2), ("f", 24, 2),
                          ("g", 24, 2), ("all", 128, 3)])
def test_the_set_reads_as_labelled_data(challenge: ModuleType, tmp_path: Path, part: str, size: int,
                                        lines: float) -> None:
    rows = challenge.rows(part)
    write_rows(tmp_path / "c.jsonl", rows)
    data = load_labelled(tmp_path / "c.jsonl")
    assert len(data.labels) == size and set(data.labels.values()) == {0, 1}
    assert not [t for t in normalize([str(r["text"]) for r in rows]) if FORBIDDEN.search(t)]
    assert all(r["stage"] in STAGES for r in rows)
    for cid, label in data.labels.items():  # positives are annotated, negatives carry no stage
        stages = {r["stage"] for r in rows if r["conversation_id"] == cid}
        assert bool(stages & set(RISK_STAGES)) == bool(label), cid
    written = {str(r["text"]) for r in rows if len(str(r["text"]).split()) >= 4}  # past "ok", "sent it"
    assert len(written) > lines * size and not written & {str(r["text"]) for r in generate(3000, seed=5)}


# The negatives each part's default alerts on, as the README's table reports them: none in parts a and d. Part e's
# yearbook committee that will "post the list online" came with character n-grams read within words (2026-12-02;
# punctuation had diluted it). Two more went with runs and clauses read (2026-12-02, night: part b's crush, part e's
# parents' warning about sextortion). Part b's crush came back with runs read across short replies (2026-12-03):
# its peak, its first message "i think you're really cute" read by the text path, fell from 0.831 to 0.826, but the
# default built with them has its alert threshold at 0.824 against 0.856 (docs/experiments.md, "A run across").
# Part f (2026-12-03, afternoon) had none as written, nor part g (2026-12-06).
FALSE_ALERTS = {"a": set(), "b": {"b-neg-help", "b-neg-crush"}, "c": {"c-neg-wallet"}, "d": set(),
                "e": {"e-neg-yearbook"}, "f": set(), "g": set()}


@pytest.mark.slow
@pytest.mark.parametrize("part", sorted(FALSE_ALERTS))
def test_default_model_alerts_on_no_other_negative(challenge: ModuleType, tmp_path: Path, part: str) -> None:
    if not (default_model_path() / "model.json").is_file():
        pytest.skip("no default model: run 'make model'")
    write_rows(tmp_path / "c.jsonl", challenge.rows(part))
    data = load_labelled(tmp_path / "c.jsonl")
    results, _ = score_conversations(load_model(), data.events)
    assert {r.conversation_id for r in results if r.alert and not data.labels[r.conversation_id]} <= FALSE_ALERTS[part]
    assert sum(r.alert for r in results if data.labels[r.conversation_id]) >= 1  # it is not silent either


def test_no_hand_written_conversation_reads_as_another_language(challenge: ModuleType) -> None:
    """The hand-written set is English written apart from the generator: none of it counts as another language
    (``detection.language``), slang, leetspeak, emoji and letter-spacing included."""
    rows = challenge.rows("all") + challenge.rows("f") + challenge.rows("g")
    ids = [str(r["conversation_id"]) for r in rows]
    assert len(set(ids)) == 176
    assert not flagged(ids, [str(r["text"]) for r in rows])
