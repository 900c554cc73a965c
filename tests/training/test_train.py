import ast
import json
import random
import re
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from detection.events import STAGES, MessageEvent
from detection.features import FEATURE_NAMES, MessageFeaturizer
from detection.inputs import InputError
from detection.messages import fingerprints
from detection.model import RiskModel
from detection.model_files import load_model
from detection.scoring import score_conversations, score_messages
from detection.state import QUANT
from tests.cli_helpers import riskline
from tests.conftest import copy_mlflow_db, write_jsonl
from training.augment import SUFFIX, SYNONYMS, augment, paraphrase
from training.calibration import choose_pooled, current_calibration, thresholds_on_the_other_half, with_choice
from training.crossval import cv_folds
from training.data import (
    LabelledData,
    holdout_split,
    load_labelled,
    load_labelled_files,
    offenders,
    stage_targets,
    weak_stages,
)
from training.evaluate import evaluate_model, evaluate_results, in_family, in_family_warning
from training.folds import fold_per_conversation
from training.message_models import (
    Inputs,
    _text_samples,
    fit_message_models,
    fit_role_model,
    fit_text_model,
    prepare_inputs,
)
from training.synth.generator import generate
from training.train import TrainConfig, rethreshold, train

ROOT = Path(__file__).resolve().parents[2]


def test_detection_never_imports_training() -> None:
    for path in (ROOT / "detection").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n == "training" or n.startswith("training.") for n in names), path


def test_fixture_model_is_sane(model: RiskModel) -> None:
    m = model.metrics
    assert m["stages_annotated"] is True and "held-out fold" in m["holdout"]
    assert m["pr_auc"] > 0.85 and m["precision"] > 0.8
    t = model.thresholds
    assert t.low <= t.medium <= t.high <= t.critical
    other = m["other_half"]  # thresholds chosen on one half of the held-out conversations, measured on the other
    assert all(0.0 <= other[k] <= 1.0 for k in ("precision", "recall", "f0_5", "false_alert_rate"))
    assert other["recall"] > 0.3 and (other["precision"], other["recall"]) != (m["precision"], m["recall"])


def test_other_half_needs_both_classes_in_each_half(model: RiskModel, labelled_path: Path) -> None:
    data = load_labelled(labelled_path)
    one_positive = {min(c for c, y in data.labels.items() if y)} | {c for c, y in data.labels.items() if not y}
    assert thresholds_on_the_other_half(model, data.subset(one_positive), TrainConfig()) == {}
    both = thresholds_on_the_other_half(model, data, TrainConfig())
    assert both["precision"] > 0.8 and both["false_alert_rate"] < 0.1


@pytest.mark.slow
def test_trains_from_conversation_labels_alone(labelled_path: Path) -> None:
    data = load_labelled(labelled_path).without_stages()
    model = train(data, TrainConfig(seed=1))
    assert model.metrics["stages_annotated"] is False
    assert model.metrics["alerted_before_threat"] is None  # nothing to measure it against without stages
    assert not model.stage_model.has_role  # who the offender is is unknown: the suspect goes by risk mass
    held = data.subset(holdout_split(data, seed=1)[1])
    assert evaluate_model(model, held)["roc_auc"] > 0.8


def test_offender_is_who_wrote_most_staged_messages() -> None:
    texts = ["hey", "how old r u", "15", "send a pic", "no", "hi", "pizza?"]
    senders = ["x", "x", "y", "x", "y", "a", "b"]
    events = [MessageEvent("p" if i < 5 else "n", str(i), s, float(i), t)
              for i, (s, t) in enumerate(zip(senders, texts, strict=True))]
    stages = ["none", "risk_check", "none", "sexual", "none", "none", "none"]
    data = LabelledData(events, {"p": 1, "n": 0}, stages)
    assert offenders(data) == {"p": "x"}  # a negative has no offender
    tied = LabelledData(events, data.labels, ["none", "risk_check", "rapport", "none", "none", "none", "none"])
    assert offenders(tied) == {}


def test_offender_ids_in_the_data_are_read_checked_and_kept(synth_rows: list[dict[str, object]],
                                                            tmp_path: Path) -> None:
    """``offender_id`` (PAN 2012's predator list, a platform's reports) names the offender where stage
    annotations do not: it trains a role model with labels alone, survives augmentation's renaming,
    and a wrong one is named."""
    rows = [{k: v for k, v in r.items() if k != "stage"} for r in synth_rows[:1200]]
    staged = {}
    for r in synth_rows[:1200]:
        if r["stage"] != "none":
            staged.setdefault(str(r["conversation_id"]), str(r["sender_id"]))
    given = [{**r, "offender_id": staged.get(str(r["conversation_id"]))} for r in rows]
    data = load_labelled(write_jsonl(tmp_path / "given.jsonl", given))
    assert not data.has_stages and data.offender_ids == {c: o for c, o in staged.items()
                                                         if data.labels[c] == 1} and data.offender_ids
    copied = augment(data, 1, seed=0)
    for cid, offender in data.offender_ids.items():
        copy = f"{cid}{SUFFIX}1"
        said = [(e.sender_id, e.text) for e in data.events if e.conversation_id == cid and e.sender_id == offender]
        assert len([e for e in copied.events if e.conversation_id == copy
                    and e.sender_id == copied.offender_ids[copy]]) == len(said)  # the same participant, renamed
    config = TrainConfig(seed=1)
    assert fit_role_model(prepare_inputs(data, stage_targets(data), config), data, config)["role_coef"] is not None
    negative = next(r for r in given if r["conversation_label"] == 0)
    first = next(r for r in given if r["offender_id"] is not None)
    for bad, message in [([{**first, "offender_id": "nobody"}], "'nobody' sent no message in conversation"),
                         ([{**negative, "offender_id": negative["sender_id"]}], "which is labelled 0"),
                         ([first, {**first, "offender_id": "someone", "message_id": "y"}], "differs from earlier rows"),
                         ([{**first, "offender_id": [1]}], "field 'offender_id': expected a string")]:
        with pytest.raises(InputError, match=message):
            load_labelled(write_jsonl(tmp_path / "bad.jsonl", bad))


def test_role_model_can_be_left_out(labelled_path: Path) -> None:
    data = load_labelled(labelled_path)
    inputs_config = TrainConfig(seed=1, role_model=False)
    assert fit_role_model(prepare_inputs(data, stage_targets(data), inputs_config), data, inputs_config) == {}


def test_weak_stages() -> None:
    assert weak_stages(["pay me in gift cards", "send a p i c", "add me on snap", "how old r u", "lol"]) == [
        "payment", "sexual", "isolation", "risk_check", "none"]


def test_labels_only_targets_count_unmatched_positive_talk_as_rapport() -> None:
    texts = ["hey", "pay me in gift cards", "you seem mature", "hey", "venmo me for pizza"]
    events = [MessageEvent("p" if i < 3 else "n", str(i), "a", float(i), t) for i, t in enumerate(texts)]
    data = LabelledData(events, {"p": 1, "n": 0}, [None] * len(events))
    assert stage_targets(data) == ["rapport", "payment", "rapport", "none", "none"]
    annotated = LabelledData(events, data.labels, ["none", "payment", "rapport", "none", "none"])
    assert stage_targets(annotated) == ["none", "payment", "rapport", "none", "none"]


def test_holdout_falls_back_to_random_split(labelled_path: Path) -> None:
    data = load_labelled(labelled_path)
    no_folds = LabelledData(data.events, data.labels, data.stages, {})
    train_ids, test_ids, how = holdout_split(no_folds, seed=0)
    assert "random" in how and not train_ids & test_ids and train_ids | test_ids == set(data.labels)
    assert {data.labels[c] for c in test_ids} == {0, 1}


def test_an_offenders_conversations_stay_on_one_side_of_a_split(labelled_path: Path) -> None:
    """Real data names offenders who wrote many conversations (PAN 2012's predators, one script run on many
    targets): held out or cross-validated at random, all of one offender's conversations fall on one side, so the
    held-out figures are of offenders the model has not read. Without named offenders the split is as before."""
    data = load_labelled(labelled_path)
    plain = LabelledData(data.events, data.labels, data.stages, {})
    positives = sorted(c for c, y in data.labels.items() if y == 1)
    offenders = {c: f"off{i % 23}" for i, c in enumerate(positives)}  # 23 offenders, several conversations each
    named = LabelledData(data.events, data.labels, data.stages, {}, offenders)
    for seed in (0, 1, 2):
        train_ids, test_ids, how = holdout_split(named, seed=seed)
        assert how == ("random 25% of conversations, stratified by label, each offender's conversations on one "
                       "side (23 offenders with more than one)")
        assert not train_ids & test_ids and train_ids | test_ids == set(data.labels)
        sides = {o: {c in test_ids for c, o2 in offenders.items() if o2 == o} for o in set(offenders.values())}
        assert all(len(side) == 1 for side in sides.values())  # never split
        held_positives = len(test_ids & set(positives))
        assert 0 < held_positives <= round(len(positives) * 0.25)
        assert held_positives >= round(len(positives) * 0.25) - len(positives) // 23 - 1  # about the share
        assert {data.labels[c] for c in test_ids} == {data.labels[c] for c in train_ids} == {0, 1}
        # negatives name no offender: split conversation by conversation, as before
        assert test_ids - set(positives) == holdout_split(plain, seed=seed)[1] - set(positives)
        folds, cv_how, _ = cv_folds(named, 3, seed)
        assert cv_how.endswith("each offender's conversations in one fold (23 offenders with more than one)")
        assert all(len({folds[c] for c, o2 in offenders.items() if o2 == o}) == 1 for o in set(offenders.values()))
        per_fold = [sum(folds[c] == k for c in positives) for k in range(3)]
        assert max(per_fold) - min(per_fold) <= len(positives) // 23 + 1  # balanced by whole offenders
    # and so do the cross-fitting folds inside training (the evidence the sequence model learns from is then read by
    # stage models that did not read that offender), the augmented copies with their originals
    copies = augment(named, copies=1, seed=0)
    for seed in (0, 1):
        inside = fold_per_conversation(copies, TrainConfig(seed=seed))
        assert all(len({inside[c] for c, o2 in copies.offender_ids.items() if o2 == o}) == 1
                   for o in set(offenders.values()))
        assert all(inside[c] == inside[c.split(SUFFIX)[0]] for c in copies.labels)
        per_fold = np.bincount([inside[c] for c in data.labels], minlength=3)
        assert per_fold.max() - per_fold.min() <= len(positives) // 23 + 1
        # without named offenders: conversation by conversation, the folds as they always were
        order = np.random.default_rng(seed).permutation(len(data.labels))
        as_before = dict(zip(sorted(data.labels), (order % 3).tolist(), strict=True))
        assert fold_per_conversation(plain, TrainConfig(seed=seed)) == as_before
    assert holdout_split(plain, seed=0)[2] == "random 25% of conversations, stratified by label"
    one = LabelledData(data.events, data.labels, data.stages, {}, dict.fromkeys(positives, "the same one"))
    # one offender wrote every positive: no whole offender can be held out, so conversation by conversation
    assert holdout_split(one, seed=0) == holdout_split(plain, seed=0)


def test_holdout_of_synthetic_data_beside_other_data_keeps_a_whole_fold(labelled_path: Path) -> None:
    """A platform's own conversations (no fold) beside the synthetic ones: a whole synthetic fold is
    still held out, as without them, and a random share of theirs beside it."""
    data = load_labelled(labelled_path)
    alone = holdout_split(data, seed=1)
    ids = sorted(data.labels)
    theirs = set(ids[::5])
    mixed = LabelledData(data.events, data.labels, data.stages, {c: m for c, m in data.meta.items() if c not in theirs})
    train_ids, test_ids, how = holdout_split(mixed, seed=1)
    assert test_ids - theirs == alone[1] - theirs and train_ids - theirs == alone[0] - theirs
    assert {data.labels[c] for c in test_ids & theirs} == {0, 1} and train_ids & theirs
    assert len(test_ids & theirs) == sum(round(sum(data.labels[c] == y for c in theirs) * 0.25) for y in (0, 1))
    assert how == f"{alone[2]}, and a random 25% of the {len(theirs)} conversations without one (stratified by label)"
    assert not train_ids & test_ids and train_ids | test_ids == set(data.labels)


@pytest.mark.parametrize(("change", "message"), [
    ({"conversation_label": 2}, "line 2: field 'conversation_label'"),
    ({"conversation_label": None}, "line 2: field 'conversation_label': missing: labelled data gives every row"),
    ({"conversation_label": ""}, "line 2: field 'conversation_label': missing"),
    ({"conversation_label": "yes"},
     r"line 2: field 'conversation_label': expected 0 or 1 \(or true or false\), got 'yes'"),
    ({"conversation_label": "false"}, "line 2: field 'conversation_label': differs from earlier rows"),
    ({"stage": "flirting"}, r"line 2: field 'stage': expected one of \['none', 'rapport', .*\], got 'flirting' "
                            r"\(stages are optional: a file of other labels trains and evaluates on "
                            r"conversation_label alone once its stage column is left out or renamed\)$"),
    ({"conversation_label": 0}, "differs from earlier rows"),
    ({"message_id": "1"},
     r"line 2: field 'message_id': duplicate message id '1' in conversation 'c' \(first at line 1\)"),
])
def test_bad_labels_are_located(tmp_path: Path, change: dict[str, object], message: str) -> None:
    base = {"conversation_id": "c", "sender_id": "u", "timestamp": 1, "text": "x", "conversation_label": 1}
    path = write_jsonl(tmp_path / "l.jsonl", [{**base, "message_id": "1"}, {**base, "message_id": "2", **change}])
    with pytest.raises(InputError, match=message):
        load_labelled(path)


def test_labels_written_as_true_and_false_read_as_1_and_0(labelled_path: Path, tmp_path: Path) -> None:
    """A CSV that pandas wrote from a column of booleans says True and False (CSV has no booleans of its own)."""
    frame = pd.read_json(labelled_path, lines=True, dtype={"conversation_id": str, "message_id": str})
    frame["conversation_label"] = frame["conversation_label"].astype(bool)
    frame.to_csv(tmp_path / "bools.csv", index=False)
    assert set(pd.read_csv(tmp_path / "bools.csv")["conversation_label"].astype(str)) == {"True", "False"}
    data, as_bools = load_labelled(labelled_path), load_labelled(tmp_path / "bools.csv")
    assert as_bools.labels == data.labels and set(data.labels.values()) == {0, 1}


def test_a_transformer_training_without_its_extra_is_refused_at_once(few_labelled_path: Path, tmp_path: Path) -> None:
    """Where riskline is installed without the 'transformer' extra (here two of its modules cannot be
    imported): before, a traceback from base_model_path after the data was read and augmented."""
    done = riskline("train", "--data", few_labelled_path, "--out", tmp_path / "m", "--model-type", "transformer",
                    "--no-track", blocked=("torch", "onnxscript"), cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.splitlines() == [
        "riskline: error: --model-type transformer: training one needs the 'transformer' extra, and torch, "
        "onnxscript are not installed here: pip install 'riskline[transformer]' (torch's CPU build: "
        "--extra-index-url https://download.pytorch.org/whl/cpu; in a source checkout, make install); scoring a "
        "transformer model needs none of it"], done.stderr
    assert sorted(tmp_path.iterdir()) == []


CliRun = tuple[subprocess.CompletedProcess[str], Path, dict[str, str]]


@pytest.fixture(scope="module")
def trained_by_cli(few_labelled_path: Path, empty_mlflow_db: Path, tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    """One ``riskline train`` on 90 conversations for the two tests below (a training is the slow part of
    each): settings changed with --set, the model registered with an alias. The process, its folder (the
    model in ``model``, the MLflow database) and the environment that points MLflow there."""
    folder = tmp_path_factory.mktemp("trained-by-cli")
    env = {"MLFLOW_TRACKING_URI": copy_mlflow_db(empty_mlflow_db, folder)}
    done = riskline("train", "--data", few_labelled_path, "--out", folder / "model", "--register", "riskline-test",
                    "--alias", "champion", "--set", "stage_balance=1", "--set", "augment_copies=0",
                    "--set", "text_path_prior=4", env=env, cwd=folder)
    assert done.returncode == 0, done.stderr
    return done, folder, env


@pytest.mark.slow
def test_train_register_score_by_alias(few_labelled_path: Path, trained_by_cli: CliRun, tmp_path: Path) -> None:
    done, folder, env = trained_by_cli
    out = folder / "model"
    assert "alias=models:/riskline-test@champion" in done.stderr
    assert "Downloading artifacts" not in done.stderr  # no MLflow progress bars among the progress lines
    meta = json.loads((out / "model.json").read_text())
    assert {"schema_version", "labels", "thresholds", "metrics", "config", "model_version"} <= set(meta)
    a = riskline("score", few_labelled_path, "-o", tmp_path / "a.jsonl", "--model", out, env=env, cwd=folder)
    b = riskline("score", few_labelled_path, "-o", tmp_path / "b.jsonl", "--model", "models:/riskline-test@champion",
                 env=env, cwd=folder)
    assert a.returncode == 0 and b.returncode == 0, b.stderr
    assert (tmp_path / "a.jsonl").read_text() == (tmp_path / "b.jsonl").read_text()
    named = riskline("score", few_labelled_path, "-o", tmp_path / "n.jsonl",  # as --model names it, an MLflow URI too
                     env={**env, "RISKLINE_MODEL": "models:/riskline-test@champion"}, cwd=folder)
    assert named.returncode == 0 and (tmp_path / "n.jsonl").read_text() == (tmp_path / "a.jsonl").read_text()
    missing = riskline("score", few_labelled_path, "-o", tmp_path / "c.jsonl", "--model", "models:/nope@champion",
                       env=env, cwd=folder)
    assert missing.returncode == 2 and "cannot fetch from MLflow" in missing.stderr
    evaluated = riskline("evaluate", "--data", few_labelled_path, "--model", out, "--json", env=env, cwd=folder)
    metrics = json.loads(evaluated.stdout)
    for key in ("precision", "recall", "f0_5", "f1", "roc_auc", "pr_auc", "alerted_before_threat",
                "median_messages_to_alert", "latency_weighted_f1", "slices"):
        assert key in metrics
    assert "false_alert_rate_by_scenario" in metrics["slices"]


@pytest.mark.slow
def test_pyfunc_loads_without_pickle(labelled_path: Path, model: RiskModel, tmp_path: Path, mlflow_uri: str,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import mlflow
    import pandas as pd

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_uri)
    monkeypatch.chdir(tmp_path)
    from training.registry import log_training_run

    model.save(tmp_path / "m")
    logged = log_training_run(model, tmp_path / "m", str(labelled_path))
    pyfunc = mlflow.pyfunc.load_model(logged["model_uri"])
    frame = pd.read_json(labelled_path, lines=True).head(200)
    frame["timestamp"] = frame["timestamp"].astype(str)
    out = pyfunc.predict(frame)
    assert set(out["conversation_id"]) == set(frame["conversation_id"])
    assert not list((tmp_path / "mlruns").rglob("*.pkl"))
    from importlib.metadata import version

    # what the pyfunc needs, pinned to this environment (given, not inferred by loading the model again)
    requirements = Path(mlflow.pyfunc.get_model_dependencies(logged["model_uri"])).read_text().split()
    assert {f"riskline=={version('riskline')}", f"mlflow=={version('mlflow')}", f"numpy=={version('numpy')}",
            f"pandas=={version('pandas')}", f"scipy=={version('scipy')}"} <= set(requirements)
    from training.registry import pyfunc_requirements

    # a package that is not installed (Riskline from a source tree) is left out, not a failure after training
    assert pyfunc_requirements(("numpy", "no-such-package")) == [f"numpy=={version('numpy')}"]


def test_text_model_running_mean_is_the_model_on_the_prefix(model: RiskModel,
                                                            synth_rows: list[dict[str, object]]) -> None:
    """``text_mean`` after message k is the text model's logit (less intercept) of the mean of messages 0..k."""
    first = synth_rows[0]["conversation_id"]
    events = [MessageEvent(str(r["conversation_id"]), str(r["message_id"]), str(r["sender_id"]), float(i),
                           str(r["text"])) for i, r in enumerate(synth_rows) if r["conversation_id"] == first]
    steps, states = score_messages(model, events)
    vectors = model.featurizer.transform([e.text for e in events])
    assert model.stage_model.text_coef is not None
    expected = np.cumsum(vectors @ model.stage_model.text_coef) / np.arange(1, len(events) + 1)
    got = steps.features[:, FEATURE_NAMES.index("text_mean")]
    assert np.abs(expected).max() > 0.1 and np.allclose(got, expected, atol=1e-4)
    assert states[first].text_sum == round(float(got[-1]) * len(events) * QUANT)


def test_text_model_learns_from_whole_conversations() -> None:
    """Words only positives use get a higher logit than words only negatives use."""
    talk = {"p1": ["hey", "buy gift cards now"], "p2": ["gift cards or else", "hey"],
            "n1": ["hey", "pizza tonight"], "n2": ["pizza was great", "hey"]}
    events = [MessageEvent(c, f"{c}-{i}", "a", float(i), t) for c, texts in talk.items() for i, t in enumerate(texts)]
    data = LabelledData(events, {c: int(c.startswith("p")) for c in talk}, [None] * len(events))
    texts = [e.text for e in events]
    inputs = Inputs(MessageFeaturizer(2**10).fit(texts))
    rows = np.arange(len(events))
    design = inputs.design(rows, texts, TrainConfig())
    coef, embed = fit_text_model(inputs, data, rows, design, stage_targets(data), TrainConfig())
    assert coef is not None and embed is None
    gift, pizza, hey = inputs.featurizer.transform(["gift cards", "pizza", "hey"]) @ coef
    assert gift > abs(hey) and pizza < -abs(hey)
    targets = stage_targets(data)
    assert fit_text_model(inputs, data, rows, design, targets, TrainConfig(text_model=False)) == (None, None)


def test_text_model_fitted_on_used_columns_equals_the_fit_on_every_column(labelled_path: Path) -> None:
    """The text model is fitted on the columns some conversation uses, for speed: its weights must be
    the full-width fit's (the unused columns' weights exactly 0)."""
    from sklearn.linear_model import LogisticRegression

    everything = load_labelled(labelled_path)
    data = everything.subset(set(sorted(everything.labels)[:60]))
    texts, targets = [e.text for e in data.events], stage_targets(data)
    config = TrainConfig(n_features=2**12)
    inputs = prepare_inputs(data, targets, config)
    rows = np.arange(len(texts))
    design = inputs.design(rows, texts, config)
    coef, _ = fit_text_model(inputs, data, rows, design, targets, config)
    samples, labels = _text_samples(data, rows, targets, data.has_stages, config.text_power)
    full = LogisticRegression(C=config.text_c, max_iter=3000, random_state=config.seed).fit(samples @ design, labels)
    assert coef is not None and len(set(labels)) == 2 and abs(coef - full.coef_[0]).max() < 1e-6
    unused = np.asarray((samples @ design).getnnz(axis=0)) == 0
    assert unused.sum() > 1000 and not coef[unused].any()


def test_rows_of_the_prepared_design_equal_featurising_those_rows(labelled_path: Path) -> None:
    """Training featurises every text once and slices it per fold: each slice must be what
    featurising that fold's texts alone gives, with the idf of all of them."""
    data = load_labelled(labelled_path)
    texts = [e.text for e in data.events]
    config = TrainConfig(n_features=2**12)
    inputs = prepare_inputs(data, stage_targets(data), config)
    fitted = MessageFeaturizer(2**12, chars_within_words=config.chars_within_words).with_vocabulary(texts).fit(texts)
    assert inputs.featurizer.chars_within_words and fitted.chars_within_words
    assert inputs.featurizer.vocabulary is not None and inputs.featurizer.vocabulary == fitted.vocabulary
    assert prepare_inputs(data, stage_targets(data), replace(config, repair_words=False)).featurizer.vocabulary is None
    assert inputs.ngrams is not None and np.array_equal(inputs.featurizer.idf, fitted.idf)
    everything = np.arange(len(texts))
    assert inputs.design(everything, texts, config) is inputs.ngrams
    for rows in (everything[::3], np.flatnonzero(everything % 3 != 1), everything[::-1]):
        alone = fitted.transform([texts[i] for i in rows])
        assert abs(inputs.design(rows, texts, config) - alone).max() < 1e-12
        assert abs(Inputs(fitted).design(rows, texts, config) - alone).max() == 0


@pytest.mark.slow
def test_cross_fitting_keeps_clusters_and_augmented_copies_whole(labelled_path: Path) -> None:
    data = augment(load_labelled(labelled_path), copies=2, seed=0)
    originals = [c for c in data.labels if SUFFIX not in c]
    for config in (TrainConfig(cross_fit_folds=3), TrainConfig(cross_fit_folds=3, cross_fit_clusters=12)):
        folds = fold_per_conversation(data, config)
        assert set(folds.values()) == {0, 1, 2}
        for cid, fold in folds.items():
            assert fold == folds[cid.split(SUFFIX)[0]]
        for k in range(3):  # every fold leaves both classes to train on
            assert {data.labels[c] for c in originals if folds[c] != k} == {0, 1}
    # Conversations of one negative kind, or of one family fold of positives, share wording:
    # clustering keeps them together, where a random split spreads them over every fold.
    clustered, random = (fold_per_conversation(data, TrainConfig(cross_fit_clusters=n)) for n in (12, 0))

    def concentration(folds: dict[str, int], label: int, key: str) -> float:
        groups: dict[object, list[int]] = {}
        for c in originals:
            if data.labels[c] == label:
                groups.setdefault(data.meta[c][key], []).append(folds[c])
        return float(np.mean([max(np.bincount(g)) / len(g) for g in groups.values()]))
    assert concentration(clustered, 0, "scenario") > concentration(random, 0, "scenario") + 0.3
    assert concentration(clustered, 1, "fold") > concentration(random, 1, "fold") + 0.1


def test_cross_fitting_falls_back_to_random_folds_when_clusters_would_leave_one_class() -> None:
    talk = {f"p{i}": ["gift cards now", "pay me"] for i in range(12)} | \
        {f"n{i}": ["pizza tonight", "see you"] for i in range(12)}
    events = [MessageEvent(c, f"{c}-{i}", "a", float(i), t) for c, texts in talk.items() for i, t in enumerate(texts)]
    data = LabelledData(events, {c: int(c.startswith("p")) for c in talk}, [None] * len(events))
    folds = fold_per_conversation(data, TrainConfig(cross_fit_folds=2, cross_fit_clusters=2))
    for k in (0, 1):  # two clusters, one per class, would leave a class out of each fold's training
        assert {data.labels[c] for c, f in folds.items() if f != k} == {0, 1}


@pytest.mark.slow
def test_more_cross_fitting_folds_than_conversations_fit_only_the_folds_that_hold_some(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """--set cross_fit_folds=1000 on twenty conversations fitted the stage model 1000 times (past five minutes
    here); the folds that hold no conversation have nothing to give."""
    import training.train as module

    talk = {f"p{i}": ["gift cards now", "pay me"] for i in range(10)} | \
        {f"n{i}": ["pizza tonight", "see you"] for i in range(10)}
    events = [MessageEvent(c, f"{c}-{i}", "a", float(i), t) for c, texts in talk.items() for i, t in enumerate(texts)]
    data = LabelledData(events, {c: int(c.startswith("p")) for c in talk}, [None] * len(events))
    fits = []
    monkeypatch.setattr(module, "fit_message_models", lambda *args: fits.append(1) or fit_message_models(*args))
    config = TrainConfig(cross_fit_folds=50, augment_copies=0)
    targets = ["payment" if e.text.startswith(("gift", "pay")) else "none" for e in events]
    features = module._cross_fitted_features(prepare_inputs(data, targets, config), data, targets, config)
    assert len(fits) == 20 and features.shape == (40, len(FEATURE_NAMES))


def test_text_model_also_learns_from_talk_before_the_threat() -> None:
    """Each conversation is one sample; one with two or more messages before its first threat adds those alone."""
    talk = {"p": ["hey", "you seem mature", "pay $50 or i post it", "ok"], "q": ["pay now or else", "hey", "hi"],
            "n": ["hey", "pizza tonight", "sure"]}
    stages = {"p": ["rapport", "rapport", "coercion", "none"], "q": ["coercion", "none", "none"],
              "n": ["none", "none", "none"]}
    events = [MessageEvent(c, f"{c}-{i}", "a", float(10 - i if c == "q" else i), t)
              for c, texts in talk.items() for i, t in enumerate(texts)]
    targets = [s for c in talk for s in stages[c]]
    data = LabelledData(events, {"p": 1, "q": 1, "n": 0}, targets)
    rows = np.arange(len(events))
    means, labels = _text_samples(data, rows, targets, prefixes=True)
    # samples: n; p whole, p before its threat; q whole, q before its threat, which comes last by time
    assert labels == [0, 1, 1, 1, 1]
    third = 1 / 3
    assert np.allclose(means.toarray(), [
        [0, 0, 0, 0, 0, 0, 0, third, third, third],
        [0.25, 0.25, 0.25, 0.25, 0, 0, 0, 0, 0, 0],
        [0.5, 0.5, 0, 0, 0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, third, third, third, 0, 0, 0],
        [0, 0, 0, 0, 0, 0.5, 0.5, 0, 0, 0],
    ])
    assert _text_samples(data, rows, targets, prefixes=False)[1] == [0, 1, 1]
    first_by_time = [*targets[:4], "none", "none", "coercion", *targets[7:]]  # q's threat opens it: no prefix
    assert _text_samples(data, rows, first_by_time, prefixes=True)[1] == [0, 1, 1, 1]
    # power 0.5: each sample sums its messages over the square root of their count
    root = _text_samples(data, rows, targets, prefixes=True, power=0.5)[0].toarray()
    assert np.allclose(root[1], [0.5] * 4 + [0] * 6) and np.allclose(root[0, 7:], 1 / np.sqrt(3))


def test_text_model_learns_from_prefixes_only_where_stages_are_annotated() -> None:
    """Without annotations the threat's position is a keyword guess: no prefix samples then."""
    talk = {"p": ["hey", "you seem mature", "u alone?", "pay $50 or i post it"], "q": ["pay now or else", "hey"],
            "n": ["hey", "pizza tonight", "sure"], "m": ["you seem mature for your age", "lol ok"]}
    events = [MessageEvent(c, f"{c}-{i}", "a", float(i), t) for c, texts in talk.items() for i, t in enumerate(texts)]
    stages = {"p": ["rapport", "rapport", "isolation", "coercion"], "q": ["coercion", "none"],
              "n": ["none"] * 3, "m": ["none"] * 2}
    labels = {"p": 1, "q": 1, "n": 0, "m": 0}
    annotated = LabelledData(events, labels, [s for c in talk for s in stages[c]])
    texts, rows = [e.text for e in events], np.arange(len(events))
    inputs = Inputs(MessageFeaturizer(2**10).fit(texts))
    design = inputs.design(rows, texts, TrainConfig())

    def coef(data: LabelledData, config: TrainConfig) -> np.ndarray:
        fitted = fit_text_model(inputs, data, rows, design, stage_targets(data), config)[0]
        assert fitted is not None
        return fitted
    with_prefixes, without = coef(annotated, TrainConfig()), coef(annotated, TrainConfig(text_prefixes=False))
    assert not np.allclose(with_prefixes, without)
    bare = annotated.without_stages()
    assert np.allclose(coef(bare, TrainConfig()), coef(bare, TrainConfig(text_prefixes=False)))


def test_stage_balance_weighs_up_rare_stages_only_where_stages_are_annotated() -> None:
    """Weighed up, the rare threat stage gets more of its own messages' probability (and of a
    rewording's); with guessed stages (labels only) the weighing is off, whatever the setting."""
    rng = random.Random(0)
    chat = ["pizza tonight", "see you at practice", "lol that game", "what did you get on the test", "ok cool",
            "my mom says hi", "send me the homework pic", "we post the video tomorrow"]
    threats = ["pay me or i post your pics", "i will send it to your family", "pay $50 or everyone sees it"]
    talk = {f"n{i}": rng.sample(chat, 4) for i in range(40)} | {f"p{i}": [rng.choice(chat), threats[i % 3]]
                                                                 for i in range(6)}
    events = [MessageEvent(c, f"{c}-{i}", "a", float(i), t) for c, texts in talk.items() for i, t in enumerate(texts)]
    data = LabelledData(events, {c: int(c.startswith("p")) for c in talk},
                        ["coercion" if e.text in threats else "none" for e in events])
    texts, rows = [e.text for e in events], np.arange(len(events))
    inputs = Inputs(MessageFeaturizer(2**10).fit(texts))
    probe = inputs.featurizer.transform([*threats, "pay me or everyone sees your pics"])

    def threat_probability(data: LabelledData, balance: float) -> np.ndarray:
        config = TrainConfig(stage_balance=balance, text_model=False)
        stage = fit_message_models(inputs, data, rows, texts, stage_targets(data), config)
        return stage.predict_proba(probe)[:, STAGES.index("coercion")]
    none, half, full = (threat_probability(data, b) for b in (0.0, 0.5, 1.0))
    assert np.all(none < half) and np.all(half < full)
    bare = data.without_stages()  # keyword guesses: the same model at every setting
    assert np.allclose(threat_probability(bare, 0.0), threat_probability(bare, 1.0))
    with pytest.raises(ValueError, match="stage_balance"):
        TrainConfig(stage_balance=1.5)


def test_paraphrase_swaps_whole_words_within_their_group() -> None:
    text = "Hey send me a private pic now, my mom can't pick up, it's snowing"
    outs = {paraphrase(text, random.Random(seed), p=1.0) for seed in range(30)}
    assert len(outs) > 20 and paraphrase(text, random.Random(0), p=0.0) == text
    groups = {word: group for group in SYNONYMS for word in group}
    for out in outs:
        assert out.endswith("can't pick up, it's snowing")  # "pick", "snowing": no partial matches
        assert out.split(" ")[0] in {g.capitalize() for g in groups["hey"]} - {"Hey"}  # swapped, capital kept
        assert "private" not in out and " pic " not in out and " mom " not in out
    assert paraphrase(text, random.Random(3), p=0.5) == paraphrase(text, random.Random(3), p=0.5)


def test_augmented_copies_are_paraphrased_only_when_asked(labelled_path: Path) -> None:
    data = load_labelled(labelled_path)
    plain, varied = (augment(data, copies=1, seed=0, paraphrase_p=p) for p in (0.0, 1.0))
    n = len(data.events)
    changed = sum(a.text != b.text for a, b in zip(plain.events[n:], varied.events[n:], strict=True))
    assert changed > n // 4
    assert plain.labels == varied.labels and plain.stages == varied.stages


def test_settings_are_read_as_their_types_and_bad_ones_are_named() -> None:
    config = TrainConfig().with_settings(["stage_balance=0", "text-path=false", "n_features=4096",
                                          "encoder = fine-tuned"])
    assert (config.stage_balance, config.text_path, config.n_features) == (0.0, False, 4096)
    assert config.encoder == "fine-tuned"
    assert isinstance(config.n_features, int) and isinstance(config.stage_balance, float)
    assert TrainConfig().with_settings([]) == TrainConfig()
    assert TrainConfig().with_settings(["evidence_window=10"]).evidence_window == 10
    for bad, message in [("stage_balance", "expected KEY=VALUE"), ("balance=1", "unknown key 'balance'"),
                         ("text_c=ten", "expected a number"), ("text_c=nan", "expected a number"),
                         ("seed=1.5", "expected an integer"), ("text_path=maybe", "expected true or false"),
                         ("stage_balance=2", "stage_balance must be in [0, 1]"), ("text_c=0", "text_c must be above 0"),
                         ("augment_copies=-1", "augment_copies must be 0 or more"),
                         ("n_features=16777216", "n_features must be at most 2097152 (2^21), got 16777216"),
                         ("evidence_window=1", "evidence_window must be 0 (whole messages only) or from 2 to 1000"),
                         ("evidence_window=1001", "evidence_window must be 0"),
                         ("run_gap=3601", "run_gap must be a whole number of seconds from 0 (each message alone) "
                                          "to 3600, got 3601")]:
        with pytest.raises(ValueError, match=re.escape(message)):
            TrainConfig().with_settings([bad])
    for seed in (-3, 2**32):
        with pytest.raises(ValueError, match=re.escape(f"seed must be in [0, 2147483648), got {seed}")):
            TrainConfig(seed=seed)


def test_several_labelled_files_read_as_one(synth_rows: list[dict[str, object]], tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    order = list(dict.fromkeys(str(r["conversation_id"]) for r in synth_rows))
    first = set(order[:150])
    whole = write_jsonl(tmp_path / "whole.jsonl", synth_rows)
    a = write_jsonl(tmp_path / "a.jsonl", [r for r in synth_rows if r["conversation_id"] in first])
    b = tmp_path / "b.parquet"  # formats may differ, and so may the columns beside the events'
    pq.write_table(pa.Table.from_pylist([{k: v for k, v in r.items() if k != "scenario"} for r in synth_rows
                                         if r["conversation_id"] not in first]), b)
    both, expected = load_labelled_files([a, b]), load_labelled(whole)
    assert (both.events, both.labels, both.stages) == (expected.events, expected.labels, expected.stages)
    assert both.meta[order[0]] == expected.meta[order[0]] and "scenario" not in both.meta[order[-1]]
    assert len(both.labels) == 400 and set(both.labels.values()) == {0, 1}
    twice = write_jsonl(tmp_path / "c.jsonl", [r for r in synth_rows if r["conversation_id"] == order[3]])
    with pytest.raises(InputError, match=rf"^{twice}: conversation '{order[3]}' is also in {a}: each conversation"):
        load_labelled_files([a, b, twice])
    (tmp_path / "sub").mkdir()
    with pytest.raises(InputError, match=rf"^{tmp_path}/sub/../a.jsonl: given twice \(also as {a}\): each file"):
        load_labelled_files([a, b, tmp_path / "sub" / ".." / "a.jsonl"])
    with pytest.raises(InputError, match=rf"^{b}: given twice: each file is read once$"):
        load_labelled_files([b, a, b])
    bad = write_jsonl(tmp_path / "d.jsonl", [{**synth_rows[0], "conversation_id": "new", "conversation_label": 2}])
    with pytest.raises(InputError, match=rf"^{bad}: line 1: field 'conversation_label'"):
        load_labelled_files([a, bad])


def test_a_folder_of_labelled_parts_reads_as_one_file(synth_rows: list[dict[str, object]], tmp_path: Path) -> None:
    """Parts of one dataset (conversations running across them, as in exports by day) read as the one
    file of their rows; a bad row, or a copy of a message in a later part, names its own part."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = list(reversed(synth_rows))  # conversations interleave across the parts
    folder = tmp_path / "labelled"
    (folder / "day=1").mkdir(parents=True)
    write_jsonl(folder / "day=1" / "part-0.jsonl", rows[:2000])
    pq.write_table(pa.Table.from_pylist(rows[2000:]), folder / "day=2.parquet")
    (folder / "_SUCCESS").write_text("")
    parts, expected = load_labelled_files([folder]), load_labelled(write_jsonl(tmp_path / "whole.jsonl", rows))
    assert (parts.events, parts.labels, parts.stages, parts.meta) == (expected.events, expected.labels,
                                                                      expected.stages, expected.meta)
    assert len(parts.labels) == 400
    pq.write_table(pa.Table.from_pylist([*rows[2000:2010], rows[5], *rows[2010:]]), folder / "day=2.parquet")
    with pytest.raises(InputError, match=rf"^{folder / 'day=2.parquet'}: row 11: field 'message_id': duplicate .* "
                                         rf"\(first at {folder / 'day=1' / 'part-0.jsonl'}: line 6\)$"):
        load_labelled(folder)
    inside = riskline("train", "--data", folder, "--out", folder / "model", "--no-track")  # refused before any work
    assert inside.returncode == 2 and not (folder / "model").exists()
    assert inside.stderr == (f"riskline: error: --out {folder / 'model'} is inside --data {folder}, a folder of "
                             "input files: it would be read as input the next time; choose a path outside it\n")


@pytest.mark.slow
def test_train_cli_trains_on_several_files_together(synth_rows: list[dict[str, object]], tmp_path: Path) -> None:
    ids = sorted({str(r["conversation_id"]) for r in synth_rows})[:160]  # a small model: this is about the data
    mine = write_jsonl(tmp_path / "mine.jsonl", [r for r in synth_rows if r["conversation_id"] in ids[:60]])
    shipped = write_jsonl(tmp_path / "shipped.jsonl", [r for r in synth_rows if r["conversation_id"] in ids[60:]])
    clash = write_jsonl(tmp_path / "clash.jsonl", [r for r in synth_rows if r["conversation_id"] == ids[0]])
    refused = riskline("train", "--data", shipped, "--data", mine, "--data", clash, "--out", tmp_path / "x",
                       "--no-track")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert f"{clash}: conversation '{ids[0]}' is also in {mine}" in refused.stderr and not (tmp_path / "x").exists()
    done = riskline("train", "--data", shipped, "--data", mine, "--out", tmp_path / "m", "--no-track",
                    "--set", "augment_copies=0")
    assert done.returncode == 0, done.stderr
    assert re.search(r"^\d\d:\d\d:\d\d refitting on all 160 conversations$", done.stderr, re.M)
    assert f"Training data: `{shipped} + {mine}`, 160 conversations" in (tmp_path / "m" / "MODEL_CARD.md").read_text()


@pytest.mark.slow
def test_train_cli_set_reaches_the_saved_config(few_labelled_path: Path, trained_by_cli: CliRun,
                                                tmp_path: Path) -> None:
    bad = riskline("train", "--data", few_labelled_path, "--out", tmp_path / "x", "--no-track", "--set",
                   "stage_balance=3")
    assert bad.returncode == 2 and "stage_balance must be in [0, 1], got 3.0" in bad.stderr
    assert "Traceback" not in bad.stderr and not (tmp_path / "x").exists()
    own = riskline("train", "--data", few_labelled_path, "--out", tmp_path / "x", "--no-track", "--set", "seed=3")
    assert own.returncode == 2 and "has its own option, --seed" in own.stderr
    for seed in ("-3", str(2**32)):  # before: fitted, then NumPy's "expected non-negative integer" or sklearn's range
        odd = riskline("train", "--data", few_labelled_path, "--out", tmp_path / "x", "--no-track", "--seed", seed)
        assert odd.returncode == 2 and f"seed must be in [0, 2147483648), got {seed}" in odd.stderr, odd.stderr
        assert "fitting on" not in odd.stderr and not (tmp_path / "x").exists()
    # --out naming the data itself (or any file, or a folder of other things) is refused before training
    kept = few_labelled_path.read_bytes()
    onto = riskline("train", "--data", few_labelled_path, "--out", few_labelled_path, "--no-track")
    assert onto.returncode == 2 and f"{few_labelled_path}: exists and is not a directory" in onto.stderr
    assert few_labelled_path.read_bytes() == kept and "fitting on" not in onto.stderr
    # a place no directory can be made is said before training too, naming --out (not a staging path)
    under = few_labelled_path / "model"
    nowhere = riskline("train", "--data", few_labelled_path, "--out", under, "--no-track")
    assert nowhere.returncode == 2 and nowhere.stderr.count("\n") == 1, nowhere.stderr
    assert f"{under}: a model directory cannot be written there ({few_labelled_path} is not a directory)" \
        in nowhere.stderr
    assert "fitting on" not in nowhere.stderr and few_labelled_path.read_bytes() == kept
    done, folder, _ = trained_by_cli  # --set stage_balance=1 --set augment_copies=0 --set text_path_prior=4
    saved = json.loads((folder / "model" / "model.json").read_text())["config"]["train"]
    assert (saved["stage_balance"], saved["augment_copies"], saved["text_path_prior"]) == (1.0, 0, 4.0)
    assert saved["text_c"] == TrainConfig().text_c
    # progress, one timed line per step, in order; with augment_copies=0 nothing is augmented
    n = len(load_labelled(few_labelled_path).labels)
    steps = re.findall(r"^\d\d:\d\d:\d\d (.+)$", done.stderr, re.M)
    split = re.fullmatch(r"(\d+) conversations to fit on, (\d+) held out: .+", steps[0])
    assert split is not None
    fitted, held = int(split[1]), int(split[2])
    assert fitted + held == n and held > 0
    assert re.fullmatch(rf"fitting on {fitted} conversations, \d+ messages", steps[1])
    assert steps[3] == f"calibrating, choosing thresholds and measuring on {held} held-out conversations"
    assert steps[4] == f"refitting on all {n} conversations" and steps[5].startswith(f"fitting on {n} conversations")
    assert re.fullmatch(r"fitted in \d+ s", steps[2]) and re.fullmatch(r"fitted in \d+ s", steps[6])
    card = (folder / "model" / "MODEL_CARD.md").read_text()
    assert ("seed 0; changed from the defaults: `augment_copies` 0 (default 1), `stage_balance` 1.0 (default 0.5), "
            "`text_path_prior` 4.0 (default 6.0)") in card
    f0_5 = json.loads((folder / "model" / "model.json").read_text())["metrics"]["intervals"]["f0_5"]
    interval = f"F0.5 {f0_5['low']:.3f}-{f0_5['high']:.3f}"
    assert interval in card and interval in done.stderr  # the card and the printout carry the interval


def test_thresholds_chosen_on_parts_together_are_those_chosen_on_their_union(model: RiskModel,
                                                                            labelled_path: Path) -> None:
    data = load_labelled(labelled_path)
    ids = sorted(data.labels, key=lambda c: (data.labels[c], c))
    halves = [data.subset(set(ids[0::2])), data.subset(set(ids[1::2]))]  # both kinds in each
    config = TrainConfig()
    union_calibration, union = choose_pooled([(model, data)], config)
    pooled_calibration, pooled = choose_pooled([(model, half) for half in halves], config)
    assert union_calibration is not None and pooled_calibration is not None
    # each part's peaks are paired with its own labels: the union's choice, whatever the order
    assert np.allclose(pooled_calibration.escalation, union_calibration.escalation, atol=1e-6)
    assert pooled.to_dict() == pytest.approx(union.to_dict(), abs=1e-6)
    _, first_half = choose_pooled([(model, halves[0])], config)
    assert first_half.to_dict() != pytest.approx(union.to_dict(), abs=1e-6)  # half the conversations: another choice
    chosen = with_choice(model, pooled_calibration, pooled)
    results, _ = score_conversations(chosen, data.events)
    metrics = evaluate_results(results, data, chosen.thresholds)
    assert metrics["false_alert_rate"] <= config.max_false_alert_rate  # the budget holds where it was chosen
    kept_calibration, kept = choose_pooled([(model, half) for half in halves], replace(config, calibrate=False))
    assert kept_calibration is None
    assert current_calibration(with_choice(model, None, kept)) == current_calibration(model)


@pytest.mark.slow
def test_rethreshold_keeps_the_weights_and_chooses_thresholds_on_the_data(model: RiskModel, labelled_path: Path,
                                                                          tmp_path: Path) -> None:
    data = load_labelled(labelled_path)
    strict = rethreshold(model, data, TrainConfig(max_false_alert_rate=0.01))
    assert np.array_equal(strict.stage_model.coef, model.stage_model.coef)
    assert np.array_equal(strict.conversation_model.weights, model.conversation_model.weights)
    assert strict.model_version.startswith(model.model_version + "-t")
    assert strict.metrics["rethresholded_from"]["thresholds"] == model.thresholds.to_dict()
    assert strict.metrics["false_alert_rate"] <= 0.01 and "thresholds chosen on these" in strict.metrics["holdout"]
    results, _ = score_conversations(strict, data.events)
    assert evaluate_results(results, data, strict.thresholds)["f0_5"] == strict.metrics["f0_5"]  # as saved
    loose = rethreshold(model, data, TrainConfig(max_false_alert_rate=0.2, target_precision=0.5))
    assert loose.thresholds.alert <= strict.thresholds.alert and loose.metrics["recall"] >= strict.metrics["recall"]
    assert np.array_equal(strict.trained_on, model.trained_on)  # its own training data: nothing new seen
    other = load_labelled(write_jsonl(tmp_path / "other.jsonl", generate(40, seed=404)))
    again = rethreshold(model, other, TrainConfig(max_false_alert_rate=0.2, target_precision=0.5))
    assert again.trained_on is not None and model.trained_on is not None
    assert set(again.trained_on.tolist()) == set(model.trained_on.tolist()) | set(fingerprints(other.events).values())
    assert model.in_training(fingerprints(other.events)) == []
    unknown = rethreshold(replace(model, trained_on=None), other, TrainConfig(max_false_alert_rate=0.2))
    assert unknown.trained_on is None  # what an older model saw is not known: it stays so, not "only other"
    assert set(again.in_training(fingerprints(other.events)) or ()) == set(fingerprints(other.events)) != set()
    kept = rethreshold(model, data, TrainConfig(calibrate=False))
    assert current_calibration(kept) == current_calibration(model)
    with pytest.raises(ValueError, match="both positive and negative"):
        rethreshold(model, data.subset({c for c, y in data.labels.items() if y == 0}), TrainConfig())


@pytest.mark.slow
def test_thresholds_cli_writes_a_model_with_new_thresholds(model_dir: Path, labelled_path: Path,
                                                           tmp_path: Path) -> None:
    rows = [json.loads(line) for line in labelled_path.read_text().splitlines()]
    order = list(dict.fromkeys(r["conversation_id"] for r in rows))  # the data in two files, read as one
    a = write_jsonl(tmp_path / "a.jsonl", [r for r in rows if r["conversation_id"] in order[:100]])
    b = write_jsonl(tmp_path / "b.jsonl", [r for r in rows if r["conversation_id"] not in order[:100]])
    done = riskline("thresholds", "--data", a, "--data", b, "--model", model_dir, "--out", tmp_path / "t",
                    "--no-track", "--max-false-alert-rate", "0.2", "--target-precision", "0.6")
    assert done.returncode == 0, done.stderr
    assert "alert threshold" in done.stderr and f"on {a} + {b}: precision" in done.stderr and "F0.5" in done.stderr
    whole = rethreshold(load_model(model_dir), load_labelled(labelled_path),
                        TrainConfig(max_false_alert_rate=0.2, target_precision=0.6))
    assert load_model(tmp_path / "t").thresholds == whole.thresholds
    evaluated = riskline("evaluate", "--data", a, "--data", b, "--model", model_dir, "--json")
    expected = {**evaluate_model(load_model(model_dir), load_labelled(labelled_path)),
                "model_version": load_model(model_dir).model_version}
    assert json.loads(evaluated.stdout) == json.loads(json.dumps(expected))
    saved = json.loads((tmp_path / "t" / "model.json").read_text())
    before = json.loads((model_dir / "model.json").read_text())
    assert saved["thresholds"]["alert"] <= before["thresholds"]["alert"]
    assert saved["metrics"]["rethresholded_from"]["model_version"] == before["model_version"]
    card = (tmp_path / "t" / "MODEL_CARD.md").read_text()
    assert "thresholds chosen on these" in card
    assert f"- Weights: those of `{before['model_version']}`" in card and f"chosen on `{a} + {b}`" in card
    scored = riskline("score", labelled_path, "-o", tmp_path / "s.jsonl", "--model", tmp_path / "t")
    assert scored.returncode == 0, scored.stderr
    assert "note:" not in done.stderr
    # --out the model read: replaced, as any model directory is; said, as it is easy to miss with --model left out
    again = riskline("thresholds", "--data", a, "--model", tmp_path / "t", "--out", tmp_path / "t", "--no-track")
    assert again.returncode == 0 and f"note: {tmp_path / 't'} was the model read ({saved['model_version']}): it is " \
                                     "replaced, and its thresholds are gone" in again.stderr, again.stderr
    rows = [json.loads(line) for line in labelled_path.read_text().splitlines()]
    negatives = tmp_path / "neg.jsonl"
    negatives.write_text("".join(json.dumps(r) + "\n" for r in rows if r["conversation_label"] == 0))
    bad = riskline("thresholds", "--data", negatives, "--model", model_dir, "--out", tmp_path / "x", "--no-track")
    assert bad.returncode == 2 and f"{negatives}: choosing thresholds needs both" in bad.stderr
    assert not (tmp_path / "x").exists()
    first = {label: next(r["conversation_id"] for r in rows if r["conversation_label"] == label) for label in (0, 1)}
    swapped = write_jsonl(tmp_path / "swapped.jsonl", [{**r, "conversation_label": 1 - r["conversation_label"]}
                                                        for r in rows if r["conversation_id"] in first.values()])
    never = riskline("thresholds", "--data", swapped, "--model", model_dir, "--out", tmp_path / "n", "--no-track")
    assert never.returncode == 0 and load_model(tmp_path / "n").thresholds.alert == 1.0  # labels the wrong way round
    assert ("warning: no threshold reaches the target precision on these 2 conversations (1 positive), so the alert "
            "threshold is 1.0 and this model will all but never alert") in never.stderr
    # the data is the model's own training data, and the generator's: both said, and nothing else
    n_seen = len(fingerprints(load_labelled(labelled_path).events))
    assert n_seen == len(order)
    assert done.stderr.count("warning") == 2 and "note" not in done.stderr
    assert (f"warning: {n_seen} of these {len(order)} conversations are ones the model was trained on: its scores "
            "there are surer than on new conversations") in done.stderr
    assert (f"warning: {len(order)} of these {len(order)} conversations are in phrase families of the synthetic "
            "generator that the model was trained on: its scores there are surer than on text written otherwise, so "
            "thresholds chosen on them are too; choose them on conversations of your own\n") in done.stderr
    n_negative = sum(1 for c in order if next(r for r in rows if r["conversation_id"] == c)["conversation_label"] == 0)
    assert 100 < n_negative < 1000
    strict = riskline("thresholds", "--data", labelled_path, "--model", model_dir, "--out", tmp_path / "s",
                      "--no-track", "--max-false-alert-rate", "0.001")
    assert strict.returncode == 0, strict.stderr
    assert (f"note: a false-alert budget of 0.1% of these {n_negative} negative conversations is less than one of "
            "them, so the alert threshold is above every one; the budget means what it says from 1000 negatives on"
            ) in strict.stderr
    assert load_model(tmp_path / "s").metrics["false_alert_rate"] == 0.0


def test_registry_options_that_would_fail_after_the_work_are_refused_before_it(labelled_path: Path,
                                                                                tmp_path: Path) -> None:
    for extra, message in [(["--alias", "champion"], "--alias champion needs --register NAME"),
                           (["--register", "a/b"], "--register 'a/b': a registered model's name must be non-empty"),
                           (["--register", "rl", "--alias", "latest"], "--alias 'latest': an alias has letters"),
                           (["--register", "rl", "--alias", "no way"], "--alias 'no way': an alias has letters"),
                           # a value read from a file with its line's end: the pattern's $ had let it by
                           (["--register", "rl", "--alias", "champion\n"], "--alias 'champion\\n': an alias has")]:
        done = riskline("train", "--data", labelled_path, "--out", tmp_path / "m", *extra, cwd=tmp_path)
        assert done.returncode == 2 and message in done.stderr, (extra, done.stderr)
        assert "fitting on" not in done.stderr and not (tmp_path / "m").exists()


@pytest.mark.slow
def test_tracking_that_mlflow_refuses_is_one_line_and_the_model_is_kept(model_dir: Path, labelled_path: Path,
                                                                        tmp_path: Path) -> None:
    # a plain folder as the tracking URI is MLflow's file store, which this MLflow refuses by default
    env = {"MLFLOW_TRACKING_URI": str(tmp_path / "runs")}
    done = riskline("thresholds", "--data", labelled_path, "--model", model_dir, "--out", tmp_path / "t", env=env)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"MLflow ({tmp_path / 'runs'}): the model is saved in {tmp_path / 't'}, but logging it failed" in done.stderr
    assert load_model(tmp_path / "t").thresholds.alert > 0


@pytest.mark.slow
def test_figures_on_the_generators_conversations_are_said_to_be_in_family(model: RiskModel, few_labelled_path: Path,
                                                                         tmp_path: Path) -> None:
    """A model trained on the generator's conversations, measured on others it made (another seed: the same phrase
    families, replies and negative kinds), is measured in-family: ``n_in_family`` counts them and a warning says so.
    Only those of the folds it was fitted on (not the fold ``train`` holds out to measure on); not where either
    side is not the generator's; carried through new thresholds; for a model saved before this was kept, its
    held-out split says it, and after new thresholds it is not known."""
    new = generate(30, seed=808)
    generated = load_labelled(write_jsonl(tmp_path / "generated.jsonl", new))
    plain = load_labelled(write_jsonl(tmp_path / "plain.jsonl", [{k: v for k, v in r.items() if k != "fold"}
                                                                 for r in new]))
    n = len(generated.labels)
    assert model.metrics["generated_folds_trained_on"] == ["0", "1", "2"]  # refitted on every fold
    assert model.metrics["n_in_family"] == 0 < model.metrics["n_conversations"]  # the held-out fold's figures
    measured = evaluate_model(model, generated)
    assert measured["n_in_family"] == n and measured["n_conversations"] == n
    assert in_family_warning(measured) == (
        f"warning: {n} of the {n} conversations are in phrase families of the synthetic generator (riskline synth) "
        "that this model was trained on (the same at any seed): these figures say how it does on wording like its "
        "training data's, not on text written otherwise; for unseen families see riskline train --cv K, and "
        "measure on labelled conversations of your own")
    assert in_family_warning({"n_in_family": 1, "n_conversations": 1}).startswith(  # type: ignore[union-attr]
        "warning: 1 of the 1 conversation is in phrase families of")
    assert evaluate_model(model, plain)["n_in_family"] == 0 and in_family_warning({"n_in_family": 0}) is None
    rows = [json.loads(line) for line in few_labelled_path.read_text().splitlines()]
    own = train(load_labelled(write_jsonl(tmp_path / "own.jsonl", [{k: v for k, v in r.items() if k != "fold"}
                                                                   for r in rows])),
                TrainConfig(seed=3, augment_copies=0))
    assert own.metrics["generated_folds_trained_on"] == [] and in_family(own, generated) == 0
    fold_of = {c: str(m["fold"]) for c, m in generated.meta.items()}
    two = replace(model, metrics={**model.metrics, "generated_folds_trained_on": ["1", "2"]})
    assert 0 < in_family(two, generated) == sum(f != "0" for f in fold_of.values()) < n  # type: ignore[operator]
    assert "held-out fold" not in own.metrics["holdout"]
    rethresholded = rethreshold(model, plain, TrainConfig(seed=3))
    assert rethresholded.metrics["generated_folds_trained_on"] == ["0", "1", "2"]
    assert in_family(rethresholded, generated) == n
    older = {k: v for k, v in model.metrics.items() if k != "generated_folds_trained_on"}
    assert older["holdout"].startswith("held-out fold") and in_family(replace(model, metrics=older), generated) == n
    assert in_family(replace(model, metrics={**older, "holdout": own.metrics["holdout"]}), generated) == 0
    assert in_family(replace(model, metrics=older | rethreshold(replace(model, metrics=older), plain,
                                                                TrainConfig(seed=3)).metrics), generated) is None


def test_evaluation_says_how_often_an_alert_names_the_worst_stage_annotated(model: RiskModel,
                                                                           labelled_path: Path) -> None:
    """``peak_stage_right`` and ``peak_stage_under`` judge each alerted positive's ``peak_stage`` against the
    most severe stage its messages are annotated with: annotations moved to the stage named are all right;
    every worst stage set to ``payment``, only those named ``payment`` are, and the rest are under."""
    data = load_labelled(labelled_path)
    results = score_conversations(model, data.events)[0]
    named = {r.conversation_id: r.peak_stage for r in results if r.alert and data.labels[r.conversation_id]}
    assert len(named) >= 20 and len(set(named.values())) >= 2  # not one stage for all: a share can tell
    metrics = evaluate_model(model, data)
    assert metrics["n_peak_stages_judged"] == len(named)
    assert metrics["peak_stage_right"] > 0 and metrics["peak_stage_right"] + metrics["peak_stage_under"] <= 1

    def worst_annotated(stage_of: dict[str, str], labels: dict[str, int] = data.labels) -> LabelledData:
        last = {e.conversation_id: i for i, e in enumerate(data.events)}  # the last message carries it
        stages = [stage_of.get(e.conversation_id, "none") if last[e.conversation_id] == i else "none"
                  for i, e in enumerate(data.events)]
        return LabelledData(data.events, labels, stages, data.meta)

    exact = evaluate_model(model, worst_annotated(named))
    judged = [c for c, stage in named.items() if stage != "none"]  # a "none" peak is no annotation to judge
    assert (exact["n_peak_stages_judged"], exact["peak_stage_right"], exact["peak_stage_under"]) == (len(judged), 1, 0)
    paid = evaluate_model(model, worst_annotated(dict.fromkeys(data.labels, "payment")))
    assert paid["n_peak_stages_judged"] == len(named)  # negatives and positives not alerted are not judged
    assert paid["peak_stage_right"] == pytest.approx(sum(s == "payment" for s in named.values()) / len(named))
    assert paid["peak_stage_under"] == pytest.approx(sum(s != "payment" for s in named.values()) / len(named))
    # five alerted positives labelled negative (false alerts) and five quiet negatives labelled positive
    # (missed): neither is judged
    quiet = [r.conversation_id for r in results if not r.alert and not data.labels[r.conversation_id]]
    flipped = {c: 1 - data.labels[c] for c in [*list(named)[:5], *quiet[:5]]}
    assert len(flipped) == 10
    mislabelled = evaluate_model(model, worst_annotated(dict.fromkeys(data.labels, "payment"),
                                                        {**data.labels, **flipped}))
    assert mislabelled["n_peak_stages_judged"] == len(named) - 5
    assert evaluate_model(model, data.without_stages())["peak_stage_right"] is None


def test_evaluation_names_how_often_the_suspect_is_the_offender(model: RiskModel, labelled_path: Path) -> None:
    """``suspect_right_at_alert`` and ``suspect_right`` count alerted positives whose suspect is the
    participant the stage annotations show as the offender; with those annotations moved onto the
    other participant's messages, every judgement turns over."""
    data = load_labelled(labelled_path)
    metrics = evaluate_model(model, data)
    assert metrics["n_suspects_judged"] >= 20 and metrics["suspect_right_at_alert"] >= 0.8
    named = offenders(data)
    other = {c: next(e.sender_id for e in data.events if e.conversation_id == c and e.sender_id != who)
             for c, who in named.items()}
    stages = ["payment" if e.conversation_id in other and e.sender_id == other[e.conversation_id] else "none"
              for e in data.events]
    swapped = evaluate_model(model, LabelledData(data.events, data.labels, stages, data.meta))
    assert swapped["n_suspects_judged"] == metrics["n_suspects_judged"]
    assert swapped["suspect_right_at_alert"] == pytest.approx(1 - metrics["suspect_right_at_alert"])
    assert swapped["suspect_right"] == pytest.approx(1 - metrics["suspect_right"])
    without = load_labelled(labelled_path).without_stages()
    assert evaluate_model(model, without)["suspect_right_at_alert"] is None  # no offender known
