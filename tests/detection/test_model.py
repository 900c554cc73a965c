import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import detection.model_files as model_files
import detection.model_save as model_save
from detection.events import STAGES, MessageEvent, to_event
from detection.explain import contributions
from detection.model import RiskModel
from detection.model_files import ModelLoadError, load_model, resolve_model_dir
from detection.model_save import ModelSaveError, check_model_target
from detection.scoring import score_conversations, score_messages
from detection.stage_model import message_clauses, message_windows
from tests.cli_helpers import file_size_limit
from training.data import load_labelled


@pytest.mark.slow
def test_round_trip_scores_identically(trained_and_saved: tuple[RiskModel, Path],
                                      synth_rows: list[dict[str, object]]) -> None:
    model, directory = trained_and_saved
    loaded = load_model(directory)
    texts = ["send me a private pic", "hey", "pay $50 in gift cards"]
    assert np.array_equal(loaded.stage_proba(texts), model.stage_proba(texts))
    assert loaded.thresholds == model.thresholds
    assert loaded.model_version == model.model_version
    assert loaded.conversation_model.calibration == model.conversation_model.calibration
    assert loaded.conversation_model.text_path == model.conversation_model.text_path
    assert model.trained_on is not None and loaded.trained_on is not None
    assert np.array_equal(loaded.trained_on, model.trained_on) and loaded.trained_on.dtype == np.uint64
    events = [to_event(r) for r in synth_rows[:3000]]
    (mine, steps), (theirs, loaded_steps) = score_conversations(model, events), score_conversations(loaded, events)
    assert mine == theirs and np.array_equal(steps.risk_score, loaded_steps.risk_score)


def _copy(model_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(model_dir, tmp_path / "copy"))


@pytest.mark.parametrize(("edit", "message"), [
    (lambda m: m.update(schema_version=99), "schema version 99"),
    (lambda m: m.update(labels=["none", "bad"]), "labels or feature names"),
    (lambda m: m.update(n_features=16), "array shapes"),
    (lambda m: m["conversation_model"].update(weights=[1.0]), "conversation model"),
    (lambda m: m["thresholds"].update(high=2.0), "thresholds must lie"),
    (lambda m: m["conversation_model"].update(calibration=["x", 1.0]), "calibration must be"),
    (lambda m: m["conversation_model"]["text_path"].update(prior=-1.0), "text_path must hold"),
    (lambda m: m["conversation_model"]["text_path"].update(calibration=[0.0, 1.0]), "text_path must hold"),
    (lambda m: m["conversation_model"]["text_path"].pop("w_both"), "text_path must hold"),
    (lambda m: m.update(evidence_window=1), "evidence_window must be 0 or"),
    (lambda m: m.update(evidence_window="10"), "evidence_window must be 0 or"),
    (lambda m: m.update(drop_filler="yes"), "drop_filler must be true or false"),
    (lambda m: m.update(chars_within_words=1), "chars_within_words must be true or false"),
    (lambda m: m.update(run_gap=-1), "run_gap must be a whole number of seconds from 0 to 3600"),
    (lambda m: m.update(run_gap=1.5), "run_gap must be a whole number"),
    (lambda m: m.update(run_gap=True), "run_gap must be a whole number"),
    (lambda m: m.update(read_clauses="true"), "read_clauses must be true or false"),
    (lambda m: m.update(run_asides=1), "run_asides must be true or false"),
])
def test_refuses_silently_wrong_models(model_dir: Path, tmp_path: Path, edit: object, message: str) -> None:
    copy = _copy(model_dir, tmp_path)
    meta = json.loads((copy / "model.json").read_text())
    edit(meta)  # type: ignore[operator]
    (copy / "model.json").write_text(json.dumps(meta))
    with pytest.raises((ModelLoadError, ValueError), match=message):
        load_model(copy)


def test_missing_pieces(model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no such model directory"):
        load_model(tmp_path / "nothing")
    with pytest.raises(ModelLoadError, match=r"^s3://bucket/m: neither a model directory nor an MLflow model URI "):
        load_model("s3://bucket/m")  # as written, where a path would show s3:/bucket/m
    copy = _copy(model_dir, tmp_path)
    (copy / "arrays.npz").unlink()
    with pytest.raises(ModelLoadError, match=r"missing arrays\.npz"):
        load_model(copy)


def test_default_model_from_environment(model_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RISKLINE_MODEL", str(model_dir))
    assert load_model().model_version == load_model(model_dir).model_version
    monkeypatch.setenv("RISKLINE_MODEL", str(tmp_path / "absent"))
    with pytest.raises(ModelLoadError) as absent:
        load_model()
    assert str(absent.value) == f"RISKLINE_MODEL: {tmp_path / 'absent'}: no such model directory"
    monkeypatch.setenv("RISKLINE_MODEL", f"{model_dir}\n")  # a secret file read whole: said in one line, and why
    with pytest.raises(ModelLoadError) as stray:
        load_model()
    assert str(stray.value) == f"RISKLINE_MODEL: {str(model_dir) + chr(10)!r}: no such model directory (white " \
                               "space or a line break at an end; remove it)"


def test_the_default_model_is_the_working_folders_then_the_source_trees(
        model_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Where no model is named: ./models/default, else (running from a source checkout) the checkout's; an
    installed riskline (no checkout around it) names the working folder's where there is none."""
    monkeypatch.delenv("RISKLINE_MODEL", raising=False)
    monkeypatch.chdir(tmp_path)
    checkout = tmp_path / "checkout"
    (checkout / "models").mkdir(parents=True)
    shutil.copytree(model_dir, checkout / "models" / "default")
    (checkout / "pyproject.toml").write_text("[project]\n")
    monkeypatch.setattr(model_files, "SOURCE_TREE", checkout)
    assert resolve_model_dir() == checkout / "models" / "default"
    shutil.copytree(model_dir, tmp_path / "models" / "default")
    assert resolve_model_dir() == tmp_path / "models" / "default"
    shutil.rmtree(tmp_path / "models")
    (checkout / "pyproject.toml").unlink()  # as in site-packages
    with pytest.raises(ModelLoadError) as none:
        resolve_model_dir()
    assert str(none.value).startswith("no model named and none at models/default: pass --model DIR or an MLflow "
                                      "URI, or set RISKLINE_MODEL")


def test_save_replaces_existing_directory(model: RiskModel, tmp_path: Path) -> None:
    target = tmp_path / "m"
    model.save(target)
    (target / "stray").write_text("x")
    model.save(target)
    assert sorted(p.name for p in target.iterdir()) == ["arrays.npz", "model.json", "words.txt"]  # words: repair


def test_fingerprints_out_of_order_or_of_another_width_are_refused(model_dir: Path, tmp_path: Path) -> None:
    copy = _copy(model_dir, tmp_path)
    with np.load(copy / "arrays.npz") as arrays:
        every = {k: arrays[k] for k in arrays.files}
    assert len(every["trained_on"]) > 1
    for bad in (every["trained_on"][::-1], every["trained_on"].astype(np.int64), every["trained_on"].reshape(1, -1)):
        np.savez(copy / "arrays.npz", **{**every, "trained_on": bad})
        with pytest.raises(ModelLoadError, match="trained_on must be increasing 64-bit fingerprints"):
            load_model(copy)
    np.savez(copy / "arrays.npz", **{k: v for k, v in every.items() if k != "trained_on"})
    assert load_model(copy).trained_on is None  # saved before fingerprints were kept: not known


def test_save_refuses_to_replace_what_is_not_a_model(model: RiskModel, tmp_path: Path) -> None:
    data = tmp_path / "events.jsonl"
    data.write_text('{"text": "kept"}\n')
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    link = tmp_path / "current"
    link.symlink_to(model.save(tmp_path / "v1"))
    for target, reason in ((data, "exists and is not a directory"), (folder, "not a Riskline model directory"),
                           (link, "a symbolic link; give the directory it points to")):
        with pytest.raises(ModelSaveError, match=reason):
            model.save(target)
    assert data.read_text() == '{"text": "kept"}\n' and [p.name for p in folder.iterdir()] == ["keep.txt"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging left behind
    assert link.resolve() == tmp_path / "v1" and load_model(link).thresholds == model.thresholds
    with pytest.raises(ModelSaveError, match="cannot be written there"):  # no directory can be made under a file
        model.save(data / "model")
    with pytest.raises(ModelSaveError, match="cannot be written there"):
        check_model_target(data / "model", probe=True)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert load_model(model.save(empty)).thresholds == model.thresholds
    mask = os.umask(0)
    os.umask(mask)
    # as any new directory would be, not mkdtemp's 0700: the service may run as another user
    assert (empty.stat().st_mode & 0o777) == 0o777 & ~mask != 0o700


def test_a_save_that_runs_out_of_room_names_the_model_and_keeps_the_old_one(model: RiskModel, tmp_path: Path) -> None:
    """A write failing part-way (here a file-size limit, as a full disk or a quota would) is said of the
    model directory, leaves no staging directory, and leaves a model already there as it was."""
    target = model.save(tmp_path / "m")
    before = {p.name: p.read_bytes() for p in target.iterdir() if p.is_file()}
    with file_size_limit(4096), pytest.raises(ModelSaveError,
                                              match=r"m: the model could not be written \(File too large\); nothing"):
        model.save(target)
    assert {p.name: p.read_bytes() for p in target.iterdir() if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["m"]
    assert load_model(target).thresholds == model.thresholds


class _Stopped(BaseException):
    """What a stop (SIGTERM, turned into an exception by ``riskline``'s main) raises at that moment; not
    KeyboardInterrupt, which would stop the test run where a mend is undone."""


def test_a_save_over_a_model_swaps_in_one_step(model: RiskModel, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Replacing a model exchanges the two directories in one system call: a stop at any moment (SIGTERM as an
    exception, here at what would have been the first of two renames; SIGKILL) leaves a whole model there."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "from_a").touch()
    if not model_save._exchange(a, b):  # the next test covers the two renames such a system is saved by
        pytest.skip(f"the file system of {tmp_path} cannot exchange two paths in one step (renameat2)")
    assert [p.name for p in b.iterdir()] == ["from_a"] and list(a.iterdir()) == []
    target = model.save(tmp_path / "m")
    moved = []
    def stopped(src: Path, dst: Path) -> None:
        moved.append((src, dst))
        raise _Stopped
    monkeypatch.setattr(model_save.os, "replace", stopped)
    model.save(target)
    assert moved == [] and load_model(target).thresholds == model.thresholds
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "m"]  # the replaced one removed, no staging


def test_a_save_stopped_between_two_renames_is_said_on_load_and_mended_by_the_next(
        model: RiskModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the file system cannot exchange, a save replaces by two renames; stopped between them, loading says
    where the old model is, and the next save leaves the new one and nothing aside."""
    target = model.save(tmp_path / "m")
    monkeypatch.setattr(model_save, "_exchange", lambda a, b: False)
    real = os.replace
    def first_only(src: Path, dst: Path) -> None:
        real(src, dst)
        monkeypatch.setattr(model_save.os, "replace", real)
        raise _Stopped
    monkeypatch.setattr(model_save.os, "replace", first_only)
    with pytest.raises(_Stopped):
        model.save(target)
    with pytest.raises(ModelLoadError, match=r"m: no such model directory; a save stopped midway left the model "
                                             r"that was there at .*/\.m\.old \(rename it back to m"):
        load_model(target)
    assert [p.name for p in tmp_path.iterdir()] == [".m.old"]  # the unused new model removed
    model.save(target)
    assert [p.name for p in tmp_path.iterdir()] == ["m"] and load_model(target).thresholds == model.thresholds
    model.save(target)  # and over a model, by the two renames
    assert [p.name for p in tmp_path.iterdir()] == ["m"] and load_model(target).thresholds == model.thresholds


def test_reads_a_model_saved_before_the_text_model(model: RiskModel, model_dir: Path, tmp_path: Path) -> None:
    """A schema-3 model (no text model, one feature fewer) loads and scores as it did: new parts off."""
    copy = _copy(model_dir, tmp_path)
    meta = json.loads((copy / "model.json").read_text())
    meta["schema_version"], meta["feature_names"] = 3, meta["feature_names"][:-1]
    del meta["conversation_model"]["text_path"]
    for key in ("weights", "mean", "scale"):
        meta["conversation_model"][key] = meta["conversation_model"][key][:-1]
    (copy / "model.json").write_text(json.dumps(meta))
    with np.load(copy / "arrays.npz") as arrays:
        kept = {k: arrays[k] for k in arrays.files if not k.startswith("stage_text")}
    np.savez(copy / "arrays.npz", **kept)
    old = load_model(copy)
    assert not old.stage_model.has_text and old.conversation_model.weights[-1] == 0.0
    conv = model.conversation_model
    expected = replace(model, stage_model=replace(model.stage_model, text_coef=None, text_embed_coef=None),
                       conversation_model=replace(conv, weights=np.append(conv.weights[:-1], 0.0), text_path=None))
    events = [MessageEvent("c", str(i), "a", float(i), t) for i, t in enumerate(
        ["hey", "how old are you", "send me a private pic", "pay $50 in gift cards or i post it"])]
    assert np.array_equal(score_messages(old, events)[0].risk_score, score_messages(expected, events)[0].risk_score)
    meta["feature_names"][0] = "renamed"
    (copy / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="feature names"):
        load_model(copy)


def test_reads_a_model_saved_before_the_text_path(model: RiskModel, model_dir: Path, tmp_path: Path) -> None:
    """A schema-4 model (text model, no text path) loads and scores with the escalation path alone."""
    copy = _copy(model_dir, tmp_path)
    meta = json.loads((copy / "model.json").read_text())
    meta["schema_version"] = 4
    del meta["conversation_model"]["text_path"]
    (copy / "model.json").write_text(json.dumps(meta))
    old = load_model(copy)
    assert old.conversation_model.text_path is None and old.stage_model.has_text
    expected = replace(model, conversation_model=replace(model.conversation_model, text_path=None))
    events = [MessageEvent("c", str(i), "a", float(i), t) for i, t in enumerate(
        ["hey", "you seem mature for your age", "send me a private pic", "pay $50 in gift cards or i post it"])]
    assert np.array_equal(score_messages(old, events)[0].risk_score, score_messages(expected, events)[0].risk_score)


def test_role_model_round_trips_and_a_model_without_one_names_the_suspect_by_mass(
        model: RiskModel, model_dir: Path, tmp_path: Path) -> None:
    """The role model's weights load back exactly; a model saved without one (before it, or trained on
    labels alone) scores the same risks and names the suspect by risk mass; half a role model is refused."""
    texts = ["hey who is this", "pay $50 in gift cards or i post it", "please don't send it"]
    assert model.stage_model.has_role
    assert np.array_equal(load_model(model_dir).evidence(texts).role, model.evidence(texts).role)
    copy = _copy(model_dir, tmp_path)
    with np.load(copy / "arrays.npz") as arrays:
        every = {k: arrays[k] for k in arrays.files}
    np.savez(copy / "arrays.npz", **{k: v for k, v in every.items() if not k.startswith("stage_role")})
    old = load_model(copy)
    assert not old.stage_model.has_role and not old.evidence(texts).role.any()
    events = [MessageEvent("c", str(i), "ab"[i % 2], float(i), t) for i, t in enumerate(texts)]
    (steps, states), (old_steps, old_states) = score_messages(model, events), score_messages(old, events)
    assert np.array_equal(old_steps.risk_score, steps.risk_score)
    assert old_states["c"].sender_role == () and len(states["c"].sender_role) == 2
    by_mass = max(old_states["c"].sender_mass, key=lambda item: item[1])[0]
    assert old_states["c"].suspect_id == by_mass
    np.savez(copy / "arrays.npz", **{k: v for k, v in every.items() if k != "stage_role_intercept"})
    with pytest.raises(ModelLoadError, match="array shapes"):
        load_model(copy)
    np.savez(copy / "arrays.npz", **{**every, "stage_role_coef": every["stage_role_coef"][:-1]})
    with pytest.raises(ModelLoadError, match="array shapes"):
        load_model(copy)


def test_text_path_decides_on_grooming_talk_and_explains_exactly(model: RiskModel, labelled_path: Path) -> None:
    """Where the text path decides, it is on positive conversations' wording; shares still add up."""
    data = load_labelled(labelled_path)
    steps, _ = score_messages(model, data.events)
    groups, base, text_decides = contributions(model, steps.features)
    assert 0.02 < text_decides.mean() < 0.98  # both paths decide somewhere
    total = np.array([sum(g.values()) for g in groups]) + base
    assert np.allclose(total, model.conversation_model.calibrated_logit(steps.features), atol=1e-9)
    positive = np.array([data.labels[c] for c in steps.conversation_id], dtype=bool)
    assert positive[text_decides].mean() > 0.9
    assert all(g["conversation text"] > 0 for g, d in zip(groups, text_decides, strict=True) if d)
    alerting = steps.risk_score >= model.thresholds.alert
    assert (text_decides & alerting).sum() > 10 and positive[text_decides & alerting].mean() > 0.95


def test_message_windows() -> None:
    words = " ".join(f"w{i}" for i in range(23))
    owners, windows = message_windows(["short one", words, " ".join("abcdefghijklmno"), " ".join("abcdefghijklmnop")],
                                      10)
    assert owners == [1, 1, 1, 1, 3, 3, 3]  # fifteen words or fewer: the whole message only
    assert [w.split()[0] for w in windows] == ["w0", "w5", "w10", "w15", "a", "f", "k"]
    assert [len(w.split()) for w in windows] == [10, 10, 10, 8, 10, 10, 6]
    assert message_windows(["x" * 40 + " y"], 10) == ([], [])  # long, but two words


THREAT = "pay $50 in gift cards or i post your pic to all your followers"
SMALL_TALK = "anyway how was school today, did you finish the homework? my mom is making pasta tonight lol"


def _saved_and_as_before(model: RiskModel, tmp_path: Path, setting: str) -> tuple[RiskModel, RiskModel]:
    """``model`` saved and loaded, and loaded again as saved before ``setting`` was in model.json."""
    saved = load_model(model.save(tmp_path / "saved"))
    meta = json.loads((tmp_path / "saved" / "model.json").read_text())
    del meta[setting]
    (tmp_path / "saved" / "model.json").write_text(json.dumps(meta))
    return saved, load_model(tmp_path / "saved")


def test_windowed_evidence_keeps_a_threat_beside_small_talk(model: RiskModel, tmp_path: Path) -> None:
    """Each message's n-grams are scaled to unit length as a whole: read whole, a sentence of small talk beside
    a threat took most of its evidence. Each stage's evidence is now its largest over the message's windows
    of words too; ``none`` is what the stages leave. A model saved without a window
    reads whole messages, as before."""
    assert model.evidence_window == 10  # TrainConfig.evidence_window
    whole = replace(model, evidence_window=0, read_clauses=False)  # the threat has a clause from "or" on
    model.save(tmp_path / "windowed")
    assert load_model(tmp_path / "windowed").evidence_window == 10
    padded = f"{THREAT} {SMALL_TALK}"
    threat = model.evidence([THREAT]).proba[0]
    windowed, read_whole = model.evidence([padded]).proba[0], whole.evidence([padded]).proba[0]
    risky = slice(1, None)  # the stages after "none"
    assert windowed[risky].sum() > 2 * read_whole[risky].sum()
    assert windowed[risky].max() >= 0.9 * threat[risky].max()
    assert np.isclose(windowed[0], max(0.0, 1.0 - windowed[risky].sum()))
    short = ["hey", "screenshot it and send it to me, i'll show the principal"]  # fifteen words or fewer: whole
    assert np.array_equal(model.evidence(short).proba, whole.evidence(short).proba)
    assert model.evidence_key != whole.evidence_key  # a state built by one is set aside by the other
    copy = Path(shutil.copytree(tmp_path / "windowed", tmp_path / "older"))
    meta = json.loads((copy / "model.json").read_text())
    del meta["evidence_window"], meta["read_clauses"]  # saved before windows (and clauses)
    (copy / "model.json").write_text(json.dumps(meta))
    older = load_model(copy)
    assert older.evidence_window == 0 and np.array_equal(older.evidence([padded]).proba, whole.evidence([padded]).proba)


def test_filler_between_a_threats_words_does_not_dilute_it(model: RiskModel, tmp_path: Path) -> None:
    """An interjection after every word of a threat ("pay lol $50 lol in ...") diluted its n-grams and added its
    own: read as written, its evidence fell (by half on this small model; the default's conversation went from
    1.00 to 0.005). A model that drops filler reads every part of its evidence (stages, text and role models)
    from the threat's words; one saved before it reads as written."""
    assert model.drop_filler  # TrainConfig.drop_filler
    as_written = replace(model, drop_filler=False)
    padded = " ".join(f"{word} lol" for word in THREAT.split())
    read, plain, before = model.evidence([padded]), model.evidence([THREAT]), as_written.evidence([padded])
    assert np.array_equal(read.proba, plain.proba) and read.text == plain.text and read.role == plain.role
    risky = slice(1, None)
    assert plain.proba[0, risky].max() > 0.3 and before.proba[0, risky].max() < 0.6 * plain.proba[0, risky].max()
    assert model.evidence_key != as_written.evidence_key
    saved, older = _saved_and_as_before(model, tmp_path, "drop_filler")
    assert saved.drop_filler
    assert not older.drop_filler and np.array_equal(older.evidence([padded]).proba, before.proba)


def test_punctuation_between_a_threats_words_does_not_dilute_it(model: RiskModel, tmp_path: Path) -> None:
    """Character n-grams read within white-space tokens took punctuation into them, so a threat written
    "pay. $50. in. gift. cards." or "pay-$50-in-gift-cards" made n-grams of its own and its evidence fell
    (0.78 to 0.02 for the default's conversation). Read within words, it is the threat's evidence; a model
    saved before reads as it did."""
    featurizer = model.featurizer
    assert featurizer.chars_within_words  # TrainConfig.chars_within_words
    tokens = replace(model, featurizer=replace(featurizer, chars_within_words=False))
    dotted, hyphened = ". ".join(THREAT.split()) + ".", "-".join(THREAT.split())
    plain = model.evidence([THREAT]).proba[0]
    risky = slice(1, None)
    for written in (dotted, hyphened):
        assert np.allclose(model.evidence([written]).proba[0], plain)
        assert tokens.evidence([written]).proba[0, risky].max() < 0.8 * tokens.evidence([THREAT]).proba[0, risky].max()
    assert model.evidence_key != tokens.evidence_key
    model.save(tmp_path / "saved")
    assert load_model(tmp_path / "saved").featurizer.chars_within_words
    meta = json.loads((tmp_path / "saved" / "model.json").read_text())
    del meta["chars_within_words"]  # saved before it
    (tmp_path / "saved" / "model.json").write_text(json.dumps(meta))
    older = load_model(tmp_path / "saved")
    assert not older.featurizer.chars_within_words
    assert np.array_equal(older.evidence([hyphened]).proba, tokens.evidence([hyphened]).proba)


def test_run_gap_is_saved_and_a_model_saved_before_reads_each_message_alone(model: RiskModel, tmp_path: Path) -> None:
    assert model.run_gap == 120  # TrainConfig.run_gap
    assert replace(model, run_gap=60).evidence_key not in (model.evidence_key, replace(model, run_gap=0).evidence_key)
    saved, older = _saved_and_as_before(model, tmp_path, "run_gap")
    assert saved.run_gap == 120 and older.run_gap == 0


def test_run_asides_is_saved_and_a_model_saved_before_ends_runs_at_any_other_message(model: RiskModel,
                                                                                    tmp_path: Path) -> None:
    assert model.run_asides  # TrainConfig.run_asides
    assert replace(model, run_asides=False).evidence_key != model.evidence_key
    saved, older = _saved_and_as_before(model, tmp_path, "run_asides")
    assert saved.run_asides and not older.run_asides
    assert older.evidence_key == replace(model, run_asides=False).evidence_key


def test_a_text_met_again_is_read_once_and_as_when_alone(model: RiskModel, monkeypatch: pytest.MonkeyPatch) -> None:
    """Chat repeats itself ("ok", "lol"; a third of the synthetic log's texts are distinct): each distinct text is
    featurised once a call, and its evidence and reading are those it has alone, in any company."""
    from detection.features import MessageFeaturizer

    threat = "pay $50 in gift cards or i post your pic to all your followers"
    padded = " ".join(f"{word} lol" for word in threat.split())  # read without its filler
    texts = ["ok", threat, "lol", "ok", padded, f"{threat} anyway how was school today, did you finish it?", "ok",
             padded, threat, "lol"]
    seen: list[int] = []
    transform = MessageFeaturizer.transform
    monkeypatch.setattr(MessageFeaturizer, "transform", lambda self, t: seen.append(len(t)) or transform(self, t))
    together = model.evidence(texts)
    assert seen[0] == 5  # the distinct texts, read whole; then their windows, clauses and the padded one unpadded
    monkeypatch.setattr(MessageFeaturizer, "transform", transform)
    alone = [model.evidence([text]) for text in texts]
    for got, one in zip(zip(*together, strict=True), alone, strict=True):
        assert np.array_equal(got[0], one.proba[0]) and got[1] == one.text[0] and got[2] == one.role[0]
    read = model.readings(texts)
    assert read == [model.readings([text])[0] for text in texts]
    assert [i for i, r in enumerate(read) if r is None] == [0, 2, 3, 6, 9]  # "ok" and "lol", each time


def test_message_clauses_are_the_parts_from_or_unless_otherwise_on() -> None:
    texts = ["pay $300 in gift cards or i send it to your family", "hi", "coffee or tea?",
             "Send it now OR everyone sees, unless you pay, otherwise it goes out", "or i post it everywhere",
             "i'm sorry for what i said before"]
    owners, clauses = message_clauses(texts)
    assert owners == [0, 0, 3, 3, 3, 3] and clauses == [
        "pay $300 in gift cards ", "or i send it to your family", "Send it now ", "OR everyone sees, ",
        "unless you pay, ", "otherwise it goes out"]  # "coffee or tea?" is short; "for" and "before" hold no "or"
    assert message_clauses(["pay-$50-in-gift-cards-or-i-post-it", "hi or ok"]) == (
        [0, 0], ["pay-$50-in-gift-cards-", "or-i-post-it"])  # words are runs of letters and digits


def test_a_payment_demands_consequence_is_read_as_the_threat_it_is(model: RiskModel, tmp_path: Path) -> None:
    """A payment demand ending in a threat was read whole, its threat's words diluted by the demand's: "pay $300 in
    gift cards or i send it to your family and followers" alone between "hi" and "you have 1 hour" scored from
    0.54 to 0.97 over training seeds 0-2 against thresholds of 0.84-0.88. Its part from "or" on is read too, as a
    window is; a model saved before reads the message whole."""
    assert model.read_clauses  # TrainConfig.read_clauses
    whole = replace(model, read_clauses=False)
    demand = "pay $300 in gift cards or i send it to your family and followers"
    coercion = STAGES.index("coercion")
    read, clause = model.evidence([demand]).proba[0], model.evidence(["or i send it to your family and followers"])
    assert read[coercion] == clause.proba[0, coercion] > whole.evidence([demand]).proba[0, coercion] + 0.05
    payment = STAGES.index("payment")  # the demand's own stage, read whole
    assert read[payment] == whole.evidence([demand]).proba[0, payment] and model.readings([demand]) == [None]
    assert model.evidence_key != whole.evidence_key
    saved, older = _saved_and_as_before(model, tmp_path, "read_clauses")
    assert saved.read_clauses and not older.read_clauses


def test_escalation_logit_adds_its_terms_in_order_whatever_the_batch(model: RiskModel) -> None:
    """Each row's logit is the bias plus its terms added one column after another, as a plain loop adds them, so
    a message scored alone (the service) and in a batch of any size (``riskline score``) get the same bits."""
    conv = model.conversation_model
    rng = np.random.default_rng(3)
    features = rng.normal(size=(257, len(conv.mean))) * rng.uniform(0.01, 100.0, size=len(conv.mean))
    expected = []
    for row in features:
        z = conv.bias
        for j, value in enumerate(row.tolist()):
            z += (value - float(conv.mean[j])) / float(conv.scale[j]) * float(conv.weights[j])
        expected.append(z)
    batched = conv.escalation_logit(features)
    assert batched.tolist() == expected
    assert [conv.escalation_logit(features[i:i + 1])[0] for i in range(len(features))] == expected
    assert conv.escalation_logit(features[100:131]).tolist() == expected[100:131]
