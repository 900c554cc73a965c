"""Data checks on the generator and the shipped samples."""

import itertools
import re
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from detection.events import STAGES, to_event
from detection.readers import read_events
from training.synth import generator
from training.synth.generator import SCENARIOS, arrow_schema, columns, generate, in_fold, iter_rows
from training.synth.negatives import NEGATIVE_KINDS
from training.synth.phrases import N_FOLDS, REFUSALS, VICTIM_REPLIES

ROOT = Path(__file__).resolve().parents[2]
# Words that must never appear: the content rules allow naming requests and threats, nothing graphic.
FORBIDDEN = re.compile(r"\b(nude|naked|sex|sexy|breasts?|genitals?|porn|undress|underwear|bra|dick|boobs)\b")


@pytest.fixture(scope="module")
def rows() -> list[dict[str, object]]:
    return generate(2000, seed=4)


def test_every_row_is_a_valid_labelled_event(rows: list[dict[str, object]]) -> None:
    for row in rows:
        to_event(row)
        assert row["stage"] in STAGES and row["conversation_label"] in (0, 1)
    ids = Counter((r["conversation_id"], r["message_id"]) for r in rows)
    assert max(ids.values()) == 1


def test_deterministic_by_seed() -> None:
    assert generate(50, seed=9) == generate(50, seed=9)
    assert generate(50, seed=9) != generate(50, seed=10)


def test_rows_come_one_conversation_at_a_time_in_the_written_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    """``riskline synth`` writes rows as they are generated, so that ``--n`` in the millions runs in flat memory:
    ``iter_rows`` makes a conversation only when its rows are asked for. The command writes ``columns()``, so
    those must be every row's keys, in order (a key added to the rows alone would be left out of the file)."""
    made: list[int] = []
    real = generator.conversation
    monkeypatch.setattr(generator, "conversation", lambda index, *rest: made.append(index) or real(index, *rest))
    rows = iter_rows(1000, seed=4)
    assert made == []
    first = list(itertools.islice(rows, 60))
    assert made == list(range(len({r["conversation_id"] for r in first}))) and len(made) > 1, made
    assert first == generate(10, seed=4)[:60]
    for offenders in (0, 3):
        assert {tuple(r) for r in generate(60, seed=6, offenders=offenders)} == {columns(offenders)}
        assert arrow_schema(offenders).names == list(columns(offenders))
    with pytest.raises(ValueError, match="n must be at least 1, got 0"):
        iter_rows(0)  # at the call, before anything is written


def test_content_rules(rows: list[dict[str, object]]) -> None:
    from detection.text import normalize

    texts = normalize([str(r["text"]) for r in rows])
    assert not [t for t in texts if FORBIDDEN.search(t)]


def test_variety_per_stage(rows: list[dict[str, object]]) -> None:
    forms: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        forms[str(r["stage"])].add(str(r["text"]).lower())
    for stage in STAGES[1:]:
        assert len(forms[stage]) >= 200, (stage, len(forms[stage]))


def test_scenarios_speeds_and_negative_kinds(rows: list[dict[str, object]]) -> None:
    first = {r["conversation_id"]: r for r in rows}
    scenarios = Counter(str(r["scenario"]) for r in first.values())
    assert set(SCENARIOS) <= set(scenarios)
    assert len(NEGATIVE_KINDS) >= 10 and set(NEGATIVE_KINDS) <= set(scenarios)
    assert {r["speed"] for r in first.values()} == {"minutes", "hours", "days"}
    assert {r["obfuscation"] for r in first.values()} == {0, 1, 2}
    direct = [c for c, r in first.items() if r["scenario"] == "extort_direct"]
    grooming = {"rapport", "risk_check", "isolation"}
    assert all(not grooming & {r["stage"] for r in rows if r["conversation_id"] == c} for c in direct[:20])
    pushback = [r for r in rows if r["scenario"] == "pushback" and r["stage"] == "none"]
    assert any(str(r["text"]) in REFUSALS for r in pushback)


def test_victim_replies_come_from_the_conversations_fold(rows: list[dict[str, object]]) -> None:
    """A held-out fold's replies are worded unlike any other fold's: the model cannot learn them."""
    banks = [{text for stage in VICTIM_REPLIES for _, text in in_fold(VICTIM_REPLIES[stage], f)}
             | set(in_fold(REFUSALS, f)) for f in range(N_FOLDS)]
    for f in range(N_FOLDS):
        assert all(banks[f].isdisjoint(banks[g]) for g in range(N_FOLDS) if g != f)
        assert all(in_fold(VICTIM_REPLIES[stage], f) for stage in VICTIM_REPLIES)
    # In clean (unobfuscated) positives, every reply that is a template without slots is the fold's
    seen = Counter()
    for r in rows:
        if r["conversation_label"] == 1 and r["obfuscation"] == 0:
            owner = [f for f in range(N_FOLDS) if r["text"] in banks[f]]
            if owner:
                assert owner == [r["fold"]], (r["text"], r["fold"])
                seen[r["fold"]] += 1
    assert min(seen[f] for f in range(N_FOLDS)) > 50, seen


def test_obfuscation_is_present(rows: list[dict[str, object]]) -> None:
    texts = [str(r["text"]) for r in rows if r["obfuscation"] == 2 and r["stage"] != "none"]
    leet = sum(bool(re.search(r"[a-z][0-9$@][a-z]", t)) for t in texts)
    spaced = sum(bool(re.search(r"\b\w([ .\-_*])\w\1\w\1\w\b", t)) for t in texts)
    assert leet / len(texts) > 0.05 and spaced / len(texts) > 0.05


def test_shipped_samples_are_reproducible_from_synth() -> None:
    train = pq.read_table(ROOT / "data_samples" / "train.parquet").to_pylist()
    assert train == generate(2000, seed=1)
    sample = read_events(ROOT / "data_samples" / "sample.jsonl")
    assert [e.message_id for e in sample.events] == [str(r["message_id"]) for r in generate(40, seed=2)]
    assert not sample.rejects


def test_length_and_opening_do_not_give_the_label_away(rows: list[dict[str, object]]) -> None:
    lengths: dict[int, Counter[str]] = defaultdict(Counter)
    openers: dict[int, list[str]] = defaultdict(list)
    for row in rows:
        label, cid = int(row["conversation_label"]), str(row["conversation_id"])  # type: ignore[call-overload]
        if cid not in lengths[label]:
            openers[label].append(str(row["text"]))
        lengths[label][cid] += 1
    medians = {label: sorted(c.values())[len(c) // 2] for label, c in lengths.items()}
    assert abs(medians[0] - medians[1]) <= 3, medians
    greets = {label: sum(len(t.split()) <= 2 for t in texts) / len(texts) for label, texts in openers.items()}
    assert abs(greets[0] - greets[1]) < 0.15, greets


def test_compound_messages_keep_their_stage_and_fold(rows: list[dict[str, object]]) -> None:
    from training.synth.generator import COMPOUND
    from training.synth.phrases import STAGE_FAMILIES

    staged = [r for r in rows if r["conversation_label"] == 1 and r["stage"] in COMPOUND and r["family"]]
    compound = [r for r in staged if "+" in str(r["family"])]
    for stage, (p, _) in COMPOUND.items():
        share = sum(r["stage"] == stage for r in compound) / sum(r["stage"] == stage for r in staged)
        assert abs(share - p) < 0.06, (stage, share)
    for r in compound:
        own, other = str(r["family"]).split("+")
        fold = int(r["fold"])  # type: ignore[call-overload]
        assert own in in_fold(list(STAGE_FAMILIES[str(r["stage"])]), fold)
        assert any(other in in_fold(list(STAGE_FAMILIES[s]), fold) for s in COMPOUND[str(r["stage"])][1])


def test_offenders_run_their_own_script_on_many_targets(tmp_path: Path) -> None:
    """``--offenders N``: the positives are written by N offenders, each with lines, fillers and habits of their own
    used again from target to target, named in ``offender_id`` as PAN 2012's predator list names them."""
    from tests.cli_helpers import riskline
    from training.data import load_labelled

    rows = generate(600, seed=5, offenders=12)
    assert all("offender_id" in r for r in rows)
    by_conversation: dict[str, list[dict[str, object]]] = defaultdict(list)
    for r in rows:
        by_conversation[str(r["conversation_id"])].append(r)
    written: dict[str, list[str]] = defaultdict(list)
    for cid, messages in by_conversation.items():
        named = {m["offender_id"] for m in messages}
        assert len(named) == 1
        (offender,) = named
        if messages[0]["conversation_label"] == 0:
            assert offender is None
            continue
        assert offender in {m["sender_id"] for m in messages}
        staged = Counter(m["sender_id"] for m in messages if m["stage"] != "none")
        assert staged.most_common(1)[0][0] == offender  # the one who escalates
        assert len({m["fold"] for m in messages}) == 1 and len({m["scenario"] for m in messages}) == 1
        written[str(offender)].append(cid)
    assert len(written) == 12 and sum(map(len, written.values())) > 200
    # an offender's escalating lines come back from target to target, far more often than in others' conversations
    said = {o: [{str(m["text"]) for m in by_conversation[c] if m["sender_id"] == o and m["stage"] != "none"}
                for c in cids] for o, cids in written.items()}
    own, others = [], []
    for offender, conversations in said.items():
        by_others = set().union(*(lines for o, cs in said.items() if o != offender for lines in cs))
        for i, lines in enumerate(conversations):
            again = set().union(*conversations[:i], *conversations[i + 1:])
            own.append(len(lines & again) / len(lines))
            others.append(len(lines & by_others) / len(lines))
    assert np.mean(own) > 0.2 and np.mean(own) > 3 * np.mean(others), (np.mean(own), np.mean(others))
    assert FORBIDDEN.search(" ".join(str(r["text"]) for r in rows)) is None
    assert generate(600, seed=5, offenders=12) == rows
    assert generate(50, seed=5, offenders=0) == generate(50, seed=5)  # none: the data as before
    assert "offender_id" not in generate(50, seed=5)[0]
    for wrong in (-1, 6):
        with pytest.raises(ValueError, match=fr"from 0 to the number of conversations \(5\), got {wrong}$"):
            generate(5, offenders=wrong)
    # written by the command, read back for training with its offenders
    done = riskline("synth", "-o", tmp_path / "s.parquet", "--n", 300, "--seed", 3, "--offenders", 7)
    assert done.returncode == 0, done.stderr
    written = pq.read_table(tmp_path / "s.parquet")
    assert written.column_names == list(columns(7)) and written.schema == arrow_schema(7)
    assert done.stderr == f"wrote {written.num_rows} messages in 300 conversations (positives by 7 offenders) -> " \
                          f"{tmp_path / 's.parquet'}\n"
    data = load_labelled(tmp_path / "s.parquet")
    assert len(set(data.offender_ids.values())) == 7
    assert set(data.offender_ids) == {c for c, y in data.labels.items() if y == 1}
    for args, said in ((("--n", 0), "--n 0: the number of conversations must be at least 1"),
                       (("--n", 3, "--offenders", 4), "--offenders 4: more offenders than conversations (--n 3)")):
        done = riskline("synth", "-o", tmp_path / "bad.jsonl", *args)  # named as given, nothing written
        assert (done.returncode, done.stderr) == (2, f"riskline: error: {said}\n")
        assert not (tmp_path / "bad.jsonl").exists()
