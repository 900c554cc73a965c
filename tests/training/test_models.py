"""Transformer path, calibration, cross-validation, reports, model cards and promotion."""

from __future__ import annotations

import json
import math
import re
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from detection.conversation_model import LOG_MESSAGES, TEXT_MEAN, ConversationModel, TextPath
from detection.events import to_event
from detection.features import FEATURE_NAMES
from detection.model import RiskModel
from detection.model_files import load_model
from detection.scoring import score_conversations, score_messages
from tests.cli_helpers import HeldElsewhere, riskline
from tests.conftest import write_jsonl
from training.crossval import cross_validate, cv_folds, keep_back
from training.curves import reliability
from training.data import LabelledData, load_labelled
from training.encoder import TRAINING_NEEDS
from training.synth.generator import generate
from training.train import TrainConfig, train


def test_reliability_on_known_bins() -> None:
    scores = np.array([0.1] * 10 + [0.8] * 10)
    labels = np.array([0] * 9 + [1] + [1] * 8 + [0] * 2)
    out = reliability(scores, labels)
    assert out["ece"] == pytest.approx(0.0)
    assert [(c["bin"], c["n"]) for c in out["curve"]] == [(1, 10), (8, 10)]
    shifted = reliability(np.array([0.9] * 10), np.array([1] * 5 + [0] * 5))
    assert shifted["ece"] == pytest.approx(0.4)


def test_calibration_is_increasing_and_stored(model: RiskModel, model_dir: Path) -> None:
    conv = model.conversation_model
    assert conv.text_path is not None
    stored = json.loads((model_dir / "model.json").read_text())["conversation_model"]  # as saved: the round trip
    assert stored["calibration"] == list(conv.calibration)  # is tests/detection/test_model.py's
    assert stored["text_path"]["calibration"] == list(conv.text_path.calibration)
    feats = np.random.default_rng(0).normal(size=(50, conv.weights.shape[0]))
    for (a, b), raw in ((conv.calibration, conv.escalation_logit(feats)),
                        (conv.text_path.calibration, conv.text_path.logit(feats))):
        assert a > 0 and (a, b) != (1.0, 0.0)  # each path fitted apart on held-out conversations
        calibrated = a * raw + b  # increasing: each path keeps the order of its own scores
        assert np.all(np.diff(calibrated[np.argsort(raw)]) >= 0)
    # the score is the larger calibrated path, the text path counting only where its own logit and
    # its text part are above 0
    a, b = conv.calibration
    a_text, b_text = conv.text_path.calibration
    text = conv.text_path.logit(feats)
    wording, _ = conv.text_path.shares(feats)
    expected = np.where((text > 0) & (wording > 0),
                        np.maximum(a * conv.escalation_logit(feats) + b, a_text * text + b_text),
                        a * conv.escalation_logit(feats) + b)
    assert np.allclose(conv.calibrated_logit(feats), expected)
    assert np.allclose(conv.predict(feats), 1 / (1 + np.exp(-expected)))


def test_length_alone_never_lets_the_text_path_decide() -> None:
    """Neutral-to-benign wording over thousands of messages stays with the escalation path."""
    n_features = len(FEATURE_NAMES)
    conv = ConversationModel(weights=np.zeros(n_features), bias=-6.0, mean=np.zeros(n_features),
                             scale=np.ones(n_features),
                             text_path=TextPath(w_mean=2.0, w_length=1.0, w_both=1.0, bias=-1.5, prior=6.0))
    feats = np.zeros((3, n_features))
    feats[:, LOG_MESSAGES] = np.log1p([20, 3000, 3000])
    feats[:, TEXT_MEAN] = [1.0, -0.05, 0.5]  # grooming-like; slightly benign but very long; grooming-like
    assert conv.text_path.logit(feats)[1] > 0  # length alone would push it over
    assert list(conv.text_path.gated_logit(feats)[1]) == [True, False, True]
    assert conv.predict(feats)[1] == pytest.approx(1 / (1 + np.exp(6.0)))
    assert conv.predict(feats)[0] > 0.5 and conv.predict(feats)[2] > 0.5


@pytest.mark.slow
def test_cross_validation_uses_synthetic_folds(synth_rows: list[dict[str, object]], tmp_path: Path) -> None:
    data = load_labelled(write_jsonl(tmp_path / "d.jsonl", synth_rows[: len(synth_rows) // 2]))
    config = TrainConfig(augment_copies=0, stage_epochs=5, cross_fit_folds=2)
    out = cross_validate(data, config, 3)
    assert "synthetic folds" in out["how"] and [f["fold"] for f in out["folds"]] == [0, 1, 2]
    assert out["min"]["f0_5"] <= out["mean"]["f0_5"] <= out["max"]["f0_5"]
    assert sum(f["n_conversations"] for f in out["folds"]) == len(data.labels)
    families = out["families"]  # in-family figures beside cross-family ones, one model per fold
    for whole, inside, across in zip(out["folds"], families["in_family"]["folds"], families["cross_family"]["folds"],
                                     strict=True):
        assert across["n_conversations"] == whole["n_conversations"]  # the same held-out fold
        assert 0.15 <= inside["n_conversations"] / (len(data.labels) - whole["n_conversations"]) <= 0.25
    assert families["in_family"]["min"]["f0_5"] <= families["in_family"]["mean"]["f0_5"]
    other = out["other_folds"]  # each fold with calibration and thresholds chosen on the other two
    for whole, elsewhere in zip(out["folds"], other["folds"], strict=True):
        assert elsewhere["n_conversations"] == whole["n_conversations"]
        assert elsewhere["alert_threshold"] != whole["alert_threshold"]
    assert max(f["false_alert_rate"] for f in out["folds"]) <= config.max_false_alert_rate  # chosen there
    random = cross_validate(data, config, 2)
    assert "random folds" in random["how"] and len(random["folds"]) == 2
    assert "families" not in random  # no unseen families to set against seen ones
    # with two folds, the other fold's choice is the one it made for itself
    own, elsewhere = random["folds"], random["other_folds"]["folds"]
    assert [f["alert_threshold"] for f in elsewhere] == [f["alert_threshold"] for f in own[::-1]]
    with pytest.raises(ValueError, match="at least 2"):
        cross_validate(data, config, 1)
    n_positive = sum(data.labels.values())  # the smaller class here
    assert n_positive < len(data.labels) - n_positive
    # more folds than positives: some folds would hold none, and their figures would be 0, not measured
    with pytest.raises(ValueError, match=rf"--cv {n_positive + 1}: every fold needs a positive and a negative "
                                         rf"conversation, and the data has {n_positive} positive"):
        cross_validate(data, config, n_positive + 1)


def test_cross_validation_of_synthetic_data_beside_other_data_keeps_whole_folds(
        synth_rows: list[dict[str, object]], tmp_path: Path) -> None:
    """A platform's own conversations (no fold) beside synthetic ones: each synthetic fold stays
    whole, as without them (so thresholds meet unseen wording), and theirs are spread over the folds."""
    data = load_labelled(write_jsonl(tmp_path / "d.jsonl", synth_rows))
    alone, _, synthetic = cv_folds(data, 3, seed=0)
    assert synthetic and set(alone.values()) == {0, 1, 2}
    theirs = set(sorted(data.labels)[::4])
    mixed = LabelledData(data.events, data.labels, data.stages, {c: m for c, m in data.meta.items() if c not in theirs})
    assignment, how, synthetic = cv_folds(mixed, 3, seed=0)
    assert not synthetic and how == ("synthetic folds (unseen phrase families, replies and negative kinds), the other "
                                     f"{len(theirs)} conversations spread over them at random, stratified by label")
    ours = set(data.labels) - theirs
    assert {c: assignment[c] for c in ours} == {c: alone[c] for c in ours}
    for label in (0, 1):
        spread = [sum(1 for c in theirs if data.labels[c] == label and assignment[c] == f) for f in range(3)]
        assert max(spread) - min(spread) <= 1 and min(spread) > 0
    assert cv_folds(mixed, 2, seed=0)[1] == "random folds, stratified by label"  # not the generator's three


def test_cross_validation_on_too_little_data_names_the_fold(tmp_path: Path) -> None:
    data = load_labelled(write_jsonl(tmp_path / "d.jsonl", generate(12, seed=3)))
    # before: fold 0, all negative, was measured with thresholds of 1.0 (a model that never alerts)
    with pytest.raises(ValueError, match=r"^--cv 3, fold 0 \(10 conversations to train on, 2 held out\): too few "
                                         r"conversations to choose thresholds on: the 2 held out \(fold 0\) are all "
                                         r"negative; give more labelled conversations of each kind$"):
        cross_validate(data, TrainConfig(augment_copies=0, stage_epochs=5), 3)


def test_training_on_one_kind_of_conversation_says_so(tmp_path: Path) -> None:
    rows = generate(12, seed=3)
    for label in (0, 1):  # before: "too few conversations to train on: the N messages to fit all have stage ..."
        data = load_labelled(write_jsonl(tmp_path / f"{label}.jsonl",
                                         [r for r in rows if r["conversation_label"] == label]))
        for fit in (lambda d: train(d, TrainConfig(augment_copies=0)),  # and with --cv, before its first fold
                    lambda d: cross_validate(d, TrainConfig(augment_copies=0), 3)):
            with pytest.raises(ValueError, match=rf"^training needs both positive and negative conversations "
                                                 rf"\(conversation_label is {label} throughout\)$"):
                fit(data)


@pytest.mark.slow
def test_training_on_data_without_text_says_so_and_names_the_file(tmp_path: Path) -> None:
    """Every text empty or blank (a text column mapped wrong, say): before, scikit-learn's "Found array with
    0 feature(s) (shape=(20, 0)) while a minimum of 1 is required by LogisticRegression", naming no file."""
    rows = [{**r, "text": " " if i % 2 else ""} for i, r in enumerate(generate(24, seed=3))]
    data = load_labelled(source := write_jsonl(tmp_path / "blank.jsonl", rows))
    with pytest.raises(ValueError, match=r"^no message to fit on has any text to learn from \(every text is empty "
                                         r"or blank\): check the data's text column"):
        train(data, TrainConfig(augment_copies=0))
    for extra in ((), ("--cv", "2")):
        done = riskline("train", "--data", source, "--out", tmp_path / "m", "--no-track", *extra)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert re.search(r"riskline: error: \S*blank\.jsonl: (--cv 2, fold 0 .*: )?no message to fit on has any "
                         r"text", done.stderr), done.stderr
        assert not (tmp_path / "m").exists()


def test_training_on_a_handful_of_conversations_says_too_few(tmp_path: Path) -> None:
    # four conversations, and the held-out fold takes all but one (seed 1), or both negatives (seed 3):
    # before, "the 0 messages to fit all have stage 'none'" and sklearn's "This solver needs samples of
    # at least 2 classes in the data, but the data contains only one class"
    for seed, left in ((1, 1), (3, 2)):
        data = load_labelled(write_jsonl(tmp_path / f"{seed}.jsonl", generate(4, seed=seed)))
        with pytest.raises(ValueError, match=rf"^too few conversations to train on: the {left} left to fit on after "
                                             rf"holding out {4 - left} \(held-out fold 0 .*\) are all of one kind; "
                                             "give more labelled conversations of each kind$"):
            train(data, TrainConfig())


def test_a_held_out_part_of_one_kind_is_refused_before_fitting(tmp_path: Path) -> None:
    # before: fitted, then thresholds "chosen" with no positive held out: all of them 1.0, a model that never alerts
    for seed, kind in ((3, "negative"), (4, "positive")):
        data = load_labelled(write_jsonl(tmp_path / f"{seed}.jsonl", generate(8, seed=seed)))
        with pytest.raises(ValueError, match=rf"^too few conversations to choose thresholds on: the 2 held out "
                                             rf"\(held-out fold 0 .*\) are all {kind}; give more labelled "
                                             "conversations of each kind$"):
            train(data, TrainConfig())
    rows = [{k: v for k, v in r.items() if k != "fold"} for r in generate(8, seed=3)]  # random split, not folds
    first = {label: next(r["conversation_id"] for r in rows if r["conversation_label"] == label) for label in (0, 1)}
    two = [r for r in rows if r["conversation_id"] in first.values()]
    data = load_labelled(write_jsonl(tmp_path / "two.jsonl", two))
    with pytest.raises(ValueError, match=r"^too few conversations to choose thresholds on: none is held out \(random "
                                         r"25% of conversations, stratified by label: one of each kind is too few"):
        train(data, TrainConfig())


def test_keep_back_is_a_stratified_fifth(synth_rows: list[dict[str, object]], tmp_path: Path) -> None:
    data = load_labelled(write_jsonl(tmp_path / "d.jsonl", synth_rows))
    ids = set(data.labels)
    fit_ids, kept = keep_back(data, ids, seed=0)
    assert fit_ids | kept == ids and not fit_ids & kept
    groups: dict[tuple[int, str], list[str]] = {}
    for c in ids:
        groups.setdefault((data.labels[c], data.meta[c]["scenario"]), []).append(c)
    assert len(groups) > 5
    for members in groups.values():  # every kind of conversation is kept back in its share, rounded
        assert sum(c in kept for c in members) == round(len(members) * 0.2)
    assert keep_back(data, ids, seed=0)[1] == kept and keep_back(data, ids, seed=1)[1] != kept


def test_model_card_states_use_limits_and_measured_figures(model: RiskModel) -> None:
    from training.card import model_card

    card = model_card(model, "data.jsonl")
    for heading in ("## Intended use", "## Out-of-scope use", "## Human review", "## Data", "## Metrics", "## Limits"):
        assert heading in card
    assert f"| f0_5 | {model.metrics['f0_5']:.3f} |" in card
    assert "scenario" in card  # slices are listed
    assert "| 5% | " in card and "A softer action" in card  # earliness against a false-alert budget
    # the generator's folds it was fitted on, where any: figures on new output of them are in-family
    assert "- Fitted on the generator's folds 0, 1, 2 (each a fixed share of its phrase families" in card
    one = model_card(replace(model, metrics={**model.metrics, "generated_folds_trained_on": ["1"]}), "d.jsonl")
    assert "- Fitted on the generator's fold 1 (each" in one
    assert "Fitted on the generator" not in model_card(
        replace(model, metrics={**model.metrics, "generated_folds_trained_on": []}), "d.jsonl")


@pytest.mark.slow
def test_train_cli_writes_card_and_cv(synth_rows: list[dict[str, object]], tmp_path: Path) -> None:
    # cheap settings and half the data, as above: this checks the wiring; cross_validate itself is tested above
    labelled_path = write_jsonl(tmp_path / "d.jsonl", synth_rows[: len(synth_rows) // 2])
    done = riskline("train", "--data", labelled_path, "--out", tmp_path / "m", "--no-track", "--cv", "3",
                    "--set", "augment_copies=0", "--set", "stage_epochs=5", "--set", "cross_fit_folds=2")
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("cv ") >= 4 and "cv mean over 3 folds" in done.stderr
    assert re.findall(r"cross-validation: fold (\d) \((\d) of 3;", done.stderr) == [("0", "1"), ("1", "2"), ("2", "3")]
    assert re.findall(r"^cv (\d): precision", done.stderr, re.MULTILINE) == ["0", "1", "2"]  # the same names
    assert re.search(r"cv in-family / cross-family .*: F0\.5 [01]\.\d{3} / [01]\.\d{3}", done.stderr)
    assert re.search(r"cv with calibration and thresholds chosen on the other folds: F0\.5 [01]\.\d{3} ", done.stderr)
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert len(meta["metrics"]["cv"]["folds"]) == 3
    assert len(meta["metrics"]["cv"]["families"]["cross_family"]["folds"]) == 3
    card = (tmp_path / "m" / "MODEL_CARD.md").read_text()
    inside = meta["metrics"]["cv"]["families"]["in_family"]["mean"]["f0_5"]
    assert "## Human review" in card and "In-family against cross-family" in card and f"F0.5 {inside:.3f}" in card
    elsewhere = meta["metrics"]["cv"]["other_folds"]["mean"]
    assert f"chosen on the other folds instead of the fold measured (kinds of talk they were not chosen on): mean " \
           f"F0.5 {elsewhere['f0_5']:.3f}" in card.replace("\n", " ")
    # where the alerts came, and whether they name the worst stage
    for key in ("alerted_before_threat", "alerted_at_threat", "alerted_after_threat", "peak_stage_right"):
        assert f"| {key} | {meta['metrics'][key]:.3f} |" in card
    bad = riskline("train", "--data", labelled_path, "--out", tmp_path / "x", "--no-track", "--model-type", "gpt")
    assert bad.returncode == 2 and "model type must be one of" in bad.stderr


@pytest.mark.slow
def test_explain_trajectory_adds_up(labelled_path: Path, model_dir: Path, model: RiskModel,
                                    tmp_path: Path) -> None:
    data = load_labelled(labelled_path)
    result = next(r for r in score_conversations(model, data.events)[0] if r.alert)
    done = riskline("explain", labelled_path, "--conversation", result.conversation_id, "--model", model_dir, "--json")
    assert done.returncode == 0, done.stderr
    steps = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(steps) == result.n_messages
    assert [s["index"] for s in steps if s["alert"]] == [result.alert_index]
    for step in steps:  # the groups are an exact split of the calibrated log-odds
        logit = sum(step["contributions"].values()) + step["base"]
        assert 1 / (1 + math.exp(-logit)) == pytest.approx(step["risk_score"], abs=1e-9)
    # each message's weight towards the suspect: the role model's probability that the offender wrote it
    role = model.evidence([s["text"] for s in steps]).role
    assert [s["offender_probability"] for s in steps] == pytest.approx(1 / (1 + np.exp(-role)))
    by_sender: dict[str, float] = {}  # the suspect carries the most risk evidence so weighed
    proba = model.evidence([s["text"] for s in steps]).proba
    for s, p in zip(steps, proba, strict=True):
        by_sender[s["sender_id"]] = by_sender.get(s["sender_id"], 0.0) + p[1:].sum() * s["offender_probability"]
    assert result.suspect_id == max(by_sender, key=lambda k: by_sender[k])
    table = riskline("explain", labelled_path, "--conversation", result.conversation_id, "--model", model_dir,
                     env={"COLUMNS": "200"})
    assert table.returncode == 0 and "ALERT" in table.stdout and "driven by" in table.stdout
    assert f"suspect {result.suspect_id}" in table.stdout
    near = riskline("explain", labelled_path, "--conversation", result.conversation_id, "--model", model_dir,
                    "--json", "--around", "0")  # the alert, the peak and the evidence messages alone
    assert near.returncode == 0, near.stderr
    kept = [json.loads(line) for line in near.stdout.splitlines()]
    peak = max(range(len(steps)), key=lambda i: (steps[i]["risk_score"], -i))  # the first of equal peaks
    wording = {w["index"] for s in steps if s["alert"] or s["index"] == peak for w in s["wording"]}
    assert kept == [s for s in steps if s["alert"] or s["message_id"] in result.evidence_message_ids
                    or s["index"] == peak or s["index"] in wording] and len(kept) < len(steps)
    missing = riskline("explain", labelled_path, "--conversation", "nope", "--model", model_dir)
    assert missing.returncode == 2 and "no conversation 'nope'" in missing.stderr
    # a row of this conversation that is not valid, and a line that is not JSON at all, are left out and named
    rows = [json.loads(line) for line in labelled_path.read_text().splitlines()]
    bad = {**next(r for r in rows if r["conversation_id"] == result.conversation_id), "message_id": "extra",
           "timestamp": "yesterday"}
    noisy = tmp_path / "noisy.jsonl"
    noisy.write_text(labelled_path.read_text() + json.dumps(bad) + "\n{not json\n")
    again = riskline("explain", noisy, "--conversation", result.conversation_id, "--model", model_dir, "--json")
    assert again.returncode == 0, again.stderr
    assert again.stdout == done.stdout  # the same trajectory, the bad row left out
    assert (f"1 bad row of this conversation was left out; the first: {noisy}: line {len(rows) + 1}: "
            "field 'timestamp'") in again.stderr
    assert f"1 row of {noisy} could not be parsed and was skipped" in again.stderr
    onto = riskline("evaluate", "--data", labelled_path, "--model", model_dir, "--report", labelled_path, "--no-track")
    assert onto.returncode == 2 and f"--report {labelled_path} is also --data: writing it would" in onto.stderr
    other = tmp_path / "other.txt"
    other.write_text("kept")
    onto = riskline("evaluate", "--data", labelled_path, "--model", model_dir, "--report", other, "--no-track")
    assert onto.returncode == 2 and f"--report {other}: exists and is not a directory" in onto.stderr
    assert other.read_text() == "kept"
    # a report that cannot be finished (a full disk; here a real file-size limit under its figures' size) is
    # said by name and leaves the folder as it was: a report already there whole, a new folder not made
    kept = tmp_path / "kept"
    first = riskline("evaluate", "--data", labelled_path, "--model", model_dir, "--report", kept, "--no-track")
    assert first.returncode == 0, first.stderr
    before = {p.name: p.read_bytes() for p in kept.iterdir()}
    assert max(map(len, before.values())) > 8192 and "report.md" in before
    with HeldElsewhere(kept, ".report-", folder=True) as killed:  # a report stopped by SIGKILL: the next goes on
        killed.kill()
    for folder in (kept, tmp_path / "new"):
        full = riskline("evaluate", "--data", labelled_path, "--model", model_dir, "--report", folder, "--no-track",
                        max_file_bytes=8192)
        assert full.returncode == 2 and full.stderr.endswith(
            f"riskline: error: --report {folder}: the report could not be written (File too large); "
            "nothing there was replaced\n"), full.stderr
    assert {p.name: p.read_bytes() for p in kept.iterdir()} == before and not (tmp_path / "new").exists()
    assert not killed.path.exists()  # removed by the next report written there, whole or not


@pytest.mark.slow
def test_evaluate_report_and_mlflow(labelled_path: Path, model_dir: Path, tmp_path: Path,
                                   mlflow_uri: str) -> None:
    env = {"MLFLOW_TRACKING_URI": mlflow_uri}
    # a folder holding other things (the working folder, MLflow's own mlruns in it): the run logs the report alone
    (tmp_path / "r" / "mlruns").mkdir(parents=True)
    (tmp_path / "r" / "mlruns" / "meta.yaml").write_text("x")
    (tmp_path / "r" / "notes.txt").write_text("mine")
    done = riskline("evaluate", "--data", labelled_path, "--model", model_dir, "--report", tmp_path / "r", "--json",
                    env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    saved = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert saved["f0_5"] == printed["f0_5"] and "recall_by_length" in saved["slices"]
    f0_5 = printed["intervals"]["f0_5"]
    assert f0_5["low"] <= printed["f0_5"] <= f0_5["high"] and printed["intervals"]["level"] == 0.95
    for name in ("report.md", "report.html", "pr_curve.png", "calibration.png", "trajectories.png",
                 "messages_to_alert.png"):
        assert (tmp_path / "r" / name).stat().st_size > 0, name
    page = (tmp_path / "r" / "report.html").read_text()
    assert page.count("<img") == 4 and f"{printed['f0_5']:.3f}" in page
    import mlflow

    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    run_id = done.stderr.split("run_id=")[1].split()[0]
    run = mlflow.get_run(run_id)
    assert run.data.metrics["f0_5"] == pytest.approx(printed["f0_5"])
    files = {f.path for f in mlflow.MlflowClient().list_artifacts(run_id, "report")}
    assert files == {f"report/{name}" for name in ("report.md", "report.html", "metrics.json", "pr_curve.png",
                                                   "calibration.png", "trajectories.png", "messages_to_alert.png")}
    assert (tmp_path / "r" / "notes.txt").read_text() == "mine"
    budgets = printed["earliness_by_false_alert_budget"]
    assert list(budgets) == ["0.01", "0.02", "0.05", "0.1", "0.2"]
    assert all(row["false_alert_rate"] <= float(b) for b, row in budgets.items())
    before = [row["alerted_before_threat"] for row in budgets.values()]
    assert before == sorted(before)  # a larger budget never warns later
    assert run.data.metrics["earliness_by_false_alert_budget.0.05.recall"] == pytest.approx(budgets["0.05"]["recall"])
    assert "| 5% | " in (tmp_path / "r" / "report.md").read_text()
    assert f"F0.5 {f0_5['low']:.3f}-{f0_5['high']:.3f}" in (tmp_path / "r" / "report.md").read_text()
    assert run.data.metrics["intervals.f0_5.low"] == pytest.approx(f0_5["low"])
    # the data is the model's own training data: the figures are said to be in-sample, in every place they go
    n_seen = printed["n_in_training"]
    assert n_seen == printed["n_conversations"] and run.data.metrics["n_in_training"] == n_seen
    warning = f"{n_seen} of the {n_seen} conversations are ones this model was trained on"
    assert f"warning: {warning}" in done.stderr and f"Warning: {warning}" in (tmp_path / "r" / "report.md").read_text()
    assert f"Warning: {warning}" in page
    family = f"{n_seen} of the {n_seen} conversations are in phrase families of the synthetic generator (riskline"
    assert printed["n_in_family"] == run.data.metrics["n_in_family"] == n_seen and f"warning: {family}" in done.stderr
    assert f"Warning: {family}" in (tmp_path / "r" / "report.md").read_text() and f"Warning: {family}" in page
    table = riskline("evaluate", "--data", labelled_path, "--model", model_dir, env={"COLUMNS": "80"})
    assert "at most 5% of negatives reaching it" in table.stdout and f"warning: {warning}" in table.stderr
    assert re.search(rf"f0_5, 95% interval\s*│\s*{f0_5['low']:.3f}-{f0_5['high']:.3f}", table.stdout)
    # each slice's name whole on its line, at a terminal's usual width (its brackets not read as markup)
    slices = [f"{name}[{group}] " for name, groups in printed["slices"].items() for group in groups]
    assert len(slices) > 20 and [s for s in slices if s not in table.stdout] == []
    assert max(map(len, table.stdout.splitlines())) <= 80
    # a tracking database that cannot grow (a full disk; here a real file-size limit under its size) is said
    # in one line, after the report, not as SQLAlchemy's traceback
    full_uri = f"sqlite:///{tmp_path / 'full.db'}"
    full = riskline("evaluate", "--data", labelled_path, "--model", model_dir, "--report", tmp_path / "r2",
                    env={"MLFLOW_TRACKING_URI": full_uri}, cwd=tmp_path, max_file_bytes=100 * 1024)
    assert full.returncode == 2 and "Traceback" not in full.stderr, full.stderr[-2000:]
    assert re.search(rf"^riskline: error: MLflow \({re.escape(full_uri)}\): the report is written in "
                     rf"{re.escape(str(tmp_path / 'r2'))}, but logging it failed: \(sqlite3.OperationalError\) ",
                     full.stderr, re.M), full.stderr
    assert len(list((tmp_path / "r2").iterdir())) == 7


@pytest.mark.slow
def test_a_model_knows_its_training_conversations_and_only_those(model: RiskModel, model_dir: Path,
                                                                 synth_rows: list[dict[str, object]],
                                                                 few_labelled_path: Path, tmp_path: Path) -> None:
    """A trained model keeps its training conversations' fingerprints (saved and loaded again): the same
    conversation under other ids and senders is known, a new one, a cut one or a model saved without them is not."""
    from detection.messages import fingerprints

    assert model.trained_on is not None and load_model(model_dir).trained_on is not None
    assert np.array_equal(load_model(model_dir).trained_on, model.trained_on)
    first = synth_rows[0]["conversation_id"]
    own = [r for r in synth_rows if r["conversation_id"] == first]
    renamed = [{**r, "conversation_id": "x", "message_id": f"x{i}", "sender_id": f"s{r['sender_id']}"}
               for i, r in enumerate(own)]
    cut = [{**r, "conversation_id": "cut"} for r in own[:-1]]
    new = [{**r, "conversation_id": f"new-{r['conversation_id']}"} for r in generate(12, seed=909)]
    found = fingerprints([to_event(r) for r in [*renamed, *cut, *new]])
    assert set(found) == {"x", "cut", *{r["conversation_id"] for r in new}}
    assert model.in_training(found) == ["x"]
    assert replace(model, trained_on=None).in_training(found) is None
    old = replace(model, trained_on=None).save(tmp_path / "old")
    assert load_model(old).trained_on is None
    unkept = train(load_labelled(few_labelled_path), TrainConfig(seed=3, augment_copies=0, fingerprints=False))
    assert unkept.trained_on is None  # for a model to be shared outside the data's owner
    evaluated = json.loads(riskline("evaluate", "--data", write_jsonl(tmp_path / "new.jsonl", new), "--model",
                                    model_dir, "--json").stdout)
    assert evaluated["n_in_training"] == 0
    # --unseen-only: the conversations it was trained on left out, and said so
    mixed = write_jsonl(tmp_path / "mixed.jsonl", [*[r for r in synth_rows if r["conversation_id"] == first], *new])
    n_new = len({r["conversation_id"] for r in new})
    unseen = riskline("evaluate", "--data", mixed, "--model", model_dir, "--json", "--unseen-only")
    assert unseen.returncode == 0, unseen.stderr
    assert json.loads(unseen.stdout)["n_conversations"] == n_new and json.loads(unseen.stdout)["n_in_training"] == 0
    assert unseen.stderr.splitlines() == [
        f"left out 1 of the {n_new + 1} conversations, one the model was trained on; measuring on the other {n_new}",
        f"warning: {n_new} of the {n_new} conversations are in phrase families of the synthetic generator (riskline "
        "synth) that this model was trained on (the same at any seed): these figures say how it does on wording like "
        "its training data's, not on text written otherwise; for unseen families see riskline train --cv K, and "
        "measure on labelled conversations of your own"]
    for model_path, message in ((model_dir, "the model was trained on every one of the 1 conversation of"),
                                (old, "keeps no fingerprints of its training conversations")):
        refused = riskline("evaluate", "--data", write_jsonl(tmp_path / "own.jsonl", own), "--model", model_path,
                           "--unseen-only")
        assert refused.returncode == 2 and message in refused.stderr and "Traceback" not in refused.stderr


@pytest.mark.slow
def test_promote_moves_champion_only_when_not_worse(model: RiskModel, labelled_path: Path, tmp_path: Path,
                                                    mlflow_uri: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_uri)
    monkeypatch.chdir(tmp_path)
    from training.registry import log_training_run, promote

    good = model.save(tmp_path / "good")
    blind = replace(model, thresholds=replace(model.thresholds, alert=1.0), model_version="blind")
    worse = blind.save(tmp_path / "worse")
    data = load_labelled(labelled_path)
    log_training_run(model, good, "d", "rl", "champion")
    log_training_run(blind, worse, "d", "rl", "challenger")
    kept = promote("rl", data)
    # Alerting only at a score of 1.0 (a few saturated scores still reach it) is far worse.
    assert not kept["promoted"] and kept["champion_version"] == "1"
    assert kept["challenger_f0_5"] < kept["champion_f0_5"] - 0.5
    assert kept["challenger_outside_champion_interval"]  # far worse: outside what the sample allows
    # both were trained on these conversations (the decision says so; the command warns)
    assert kept["challenger_n_in_training"] == kept["champion_n_in_training"] == len(data.labels)
    assert kept["challenger_n_in_family"] == kept["champion_n_in_family"] == len(data.labels)  # the generator's
    assert kept["champion_f0_5_interval"]["low"] <= kept["champion_f0_5"] <= kept["champion_f0_5_interval"]["high"]
    assert load_model("models:/rl@champion").model_version == model.model_version
    log_training_run(model, good, "d", "rl", "challenger")  # version 3: as good as the champion
    moved = promote("rl", data)
    assert moved["promoted"] and moved["challenger_version"] == "3"
    assert not moved["challenger_outside_champion_interval"]  # the same model: no real gain
    import mlflow

    assert str(mlflow.MlflowClient().get_model_version_by_alias("rl", "champion").version) == "3"
    import training.evaluate

    scored, evaluate = [], training.evaluate.evaluate_model
    monkeypatch.setattr(training.evaluate, "evaluate_model", lambda *a, **k: scored.append(1) or evaluate(*a, **k))
    again = promote("rl", data)  # version 3 is champion already: scored once, as it is one model
    assert again["promoted"] and len(scored) == 1 and again["champion_f0_5"] == again["challenger_f0_5"]
    assert again["reason"] == "the challenger is champion already (version 3): nothing moved"
    negatives = data.subset({c for c, y in data.labels.items() if not y})  # before: F0.5 0 against 0, and promoted
    with pytest.raises(ValueError, match=r"^--metric f0_5: not defined on this data"):
        promote("rl", negatives)
    assert promote("rl", negatives, metric="false_alert_rate")["promoted"]  # what negatives alone can rank by
    said = riskline("promote", "rl", "--data", labelled_path, cwd=tmp_path)  # version 3 against itself
    assert said.returncode == 0 and json.loads(said.stdout)["promoted"], said.stderr
    n = len(data.labels)
    assert said.stderr.splitlines() == [
        line for role in ("challenger", "champion") for line in (
            f"warning: the {role} was trained on {n} of these {n} conversations: compared on them, it is measured on "
            "how well it fits its training data; compare on conversations neither model has seen",
            f"warning: {n} of these {n} conversations are in phrase families of the synthetic generator that the "
            f"{role} was trained on: compared on them, it is measured on wording like its training data's")]
    cli = riskline("promote", "rl", "--data", labelled_path, "--challenger", "nope", cwd=tmp_path)
    assert cli.returncode == 2 and cli.stderr.strip().endswith(
        "models:/rl@nope: no such registered model alias (rl's aliases: challenger, champion; 'riskline train "
        "--register rl --alias nope' sets one)"), cli.stderr
    with pytest.raises(ValueError, match=r"^models:/lr@challenger: no model registered as 'lr' \(registered: rl\)$"):
        promote("lr", data)
    with pytest.raises(ValueError, match=r"^--challenger '': an alias has letters"):
        promote("rl", data, challenger="")
    elsewhere = tmp_path / "elsewhere"  # no database there: said, and none made
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    with pytest.raises(ValueError) as missing:
        promote("rl", data)
    assert str(missing.value) == (f"models:/rl@challenger: no MLflow database at {elsewhere / 'mlflow.db'} (set "
                                  "MLFLOW_TRACKING_URI, or run where the models were registered)")
    assert list(elsewhere.iterdir()) == []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_uri)
    log_training_run(blind, worse, "d", "rl", "challenger")  # version 4: alerts on almost nothing
    by_false_alerts = promote("rl", data, metric="false_alert_rate")
    assert by_false_alerts["challenger_false_alert_rate"] <= by_false_alerts["champion_false_alert_rate"]
    assert by_false_alerts["promoted"] and "(lower is better)" in by_false_alerts["reason"]


def test_promotion_metrics_compare_in_their_own_direction(labelled_path: Path, tmp_path: Path) -> None:
    from training.registry import at_least_as_good

    assert at_least_as_good("f0_5", 0.95, 0.95) and not at_least_as_good("f0_5", 0.94, 0.95)
    assert at_least_as_good("false_alert_rate", 0.008, 0.01) and not at_least_as_good("false_alert_rate", 0.02, 0.01)
    assert at_least_as_good("median_messages_to_alert", 9.0, 12.0)
    assert at_least_as_good("median_messages_to_alert", 30.0, None)  # a champion that alerted on no positive
    # counts and lengths rank nothing: refused before the registry is opened
    cli = riskline("promote", "rl", "--data", labelled_path, "--metric", "n_conversations", cwd=tmp_path)
    assert cli.returncode == 2 and "--metric n_conversations: not a metric models can be ranked by" in cli.stderr
    assert "false_alert_rate" in cli.stderr and not (tmp_path / "mlflow.db").exists()


@pytest.fixture(scope="module")
def transformer(tmp_path_factory: pytest.TempPathFactory) -> tuple[RiskModel, Path, Path]:
    rows = generate(90, seed=4)
    path = write_jsonl(tmp_path_factory.mktemp("tdata") / "t.jsonl", rows)
    config = TrainConfig(model_type="transformer", seed=1, augment_copies=0, cross_fit_folds=2)
    model = train(load_labelled(path), config)
    return model, model.save(tmp_path_factory.mktemp("tmodel") / "t"), path


@pytest.mark.slow
def test_transformer_model_saves_loads_and_scores_causally(transformer: tuple[RiskModel, Path, Path],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    model, directory, path = transformer
    assert (directory / "encoder" / "encoder.onnx").is_file() and (directory / "encoder" / "tokenizer.json").is_file()
    loaded = load_model(directory)
    assert loaded.model_type == "transformer" and loaded.encoder is not None
    events = load_labelled(path).events
    texts = [e.text for e in events[:300]]
    assert np.array_equal(loaded.stage_proba(texts), model.stage_proba(texts))
    whole, _ = score_messages(loaded, events[:200])
    states: dict = {}
    one_by_one = []
    for e in events[:200]:  # the real-time path: one message per call, state carried between calls
        steps, new = score_messages(loaded, [e], states)
        states.update(new)
        one_by_one.append(steps.risk_score[0])
    # Exact only because a lone text is padded to two rows (encoder.MIN_ROWS): a one-row batch takes another
    # path in onnxruntime's kernels, and one of these 200 messages then scores differently alone.
    assert np.array_equal(np.array(one_by_one), whole.risk_score)
    # where a runtime embeds the rows of a small batch otherwise than in a full one, every batch is full
    from detection.encoder import BATCH, TextEncoder

    monkeypatch.setattr(TextEncoder, "rows_alike", lambda self: False)
    padded = TextEncoder(directory / "encoder")
    assert padded.min_rows == BATCH
    assert all(np.array_equal(padded.encode([t]), loaded.encoder.encode([t])) for t in texts[:20])
    threat = loaded.stage_proba(["pay me $200 in gift cards or i send your pics to all your followers"])[0]
    hello = loaded.stage_proba(["hey how was school today"])[0]
    # Index 0 is the "none" stage, 5 and 6 are coercion and payment. On 90 conversations the threat's
    # "none" is near one half, so the check is relative: the threat reads far more as extortion.
    assert threat[0] < hello[0] - 0.3 and threat[5:].sum() > 0.3 > hello[5:].sum()


@pytest.mark.slow
def test_transformer_scores_from_the_cli(transformer: tuple[RiskModel, Path, Path], tmp_path: Path) -> None:
    _, directory, path = transformer
    # scoring needs none of the 'transformer' extra (installed without it, as here: its modules not importable)
    done = riskline("score", path, "-o", tmp_path / "o.jsonl", "--model", directory, blocked=TRAINING_NEEDS)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert rows and all(r["model_version"].startswith("transformer-") for r in rows)
    broken = tmp_path / "broken"
    shutil.copytree(directory, broken)
    (broken / "encoder" / "encoder.onnx").unlink()
    failed = riskline("score", path, "-o", tmp_path / "p.jsonl", "--model", broken)
    assert failed.returncode == 2 and "missing encoder.onnx" in failed.stderr
    threads = riskline("score", path, "-o", tmp_path / "q.jsonl", "--model", directory,
                       env={"RISKLINE_ENCODER_THREADS": "two"})
    assert threads.returncode == 2 and threads.stderr.splitlines() == [
        f"riskline: error: {directory}: RISKLINE_ENCODER_THREADS='two': expected a whole number of threads "
        "(0: every core)"]


@pytest.mark.slow
def test_training_metrics_match_an_evaluation_at_the_chosen_thresholds(synth_rows: list[dict[str, object]],
                                                                      tmp_path: Path) -> None:
    """Earliness depends on where the alert threshold is: train must measure at the one it stores."""
    from training.data import holdout_split
    from training.evaluate import evaluate_model

    data = load_labelled(write_jsonl(tmp_path / "d.jsonl", synth_rows))
    model = train(data, TrainConfig(seed=1, refit_on_all=False, augment_copies=0, stage_epochs=5))
    held = data.subset(holdout_split(data, 1)[1])
    again = evaluate_model(model, held)
    for key in ("f0_5", "alerted_before_threat", "median_messages_to_alert", "latency_weighted_f1"):
        assert model.metrics[key] == again[key], key
