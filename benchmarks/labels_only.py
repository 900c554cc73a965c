"""Labels-only training (the PAN 2012 case) against a whole-conversation TF-IDF + logistic regression.

All are trained on conversation labels alone (stage annotations dropped) and measured on a
held-out synthetic fold, with thresholds for the same target precision and false-alert cap chosen
on that fold.
The whole-conversation baseline reads the finished conversation, so it can only alert at the
last message; Riskline scores causally and alerts at the first message that crosses.

    python benchmarks/labels_only.py [--data data_samples/train.parquet] [--folds 0 1 2]
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from detection.features import FEATURE_NAMES
from detection.model import RiskModel
from detection.scoring import RiskScore, score_messages
from training.data import LabelledData, holdout_split, load_labelled
from training.evaluate import choose_thresholds, evaluate_results
from training.train import TrainConfig, train

KEYS = ("f0_5", "recall", "false_alert_rate", "median_messages_to_alert", "latency_weighted_f1")


def at_the_end(data: LabelledData, test_ids: set[str], scores: dict[str, float], name: str) -> dict[str, float]:
    """Figures for a score read once, at each conversation's last message."""
    held = data.subset(test_ids)
    lengths: dict[str, int] = {}
    for event in held.events:
        lengths[event.conversation_id] = lengths.get(event.conversation_id, 0) + 1
    ids = sorted(test_ids)
    values = np.array([scores[c] for c in ids])
    config = TrainConfig()  # the same precision target and false-alert cap as Riskline's thresholds
    thresholds = choose_thresholds(values, np.array([data.labels[c] for c in ids]), config.target_precision,
                                   config.max_false_alert_rate)
    results = [RiskScore(c, lengths[c], float(s), thresholds.level(float(s)), bool(s >= thresholds.alert),
                         lengths[c] - 1 if s >= thresholds.alert else None, None, "none", None, [], name)
               for c, s in zip(ids, values, strict=True)]
    return evaluate_results(results, held, thresholds)


def whole_conversation(data: LabelledData, train_ids: set[str], test_ids: set[str]) -> dict[str, float]:
    texts: dict[str, list[str]] = {}
    for event in data.events:
        texts.setdefault(event.conversation_id, []).append(event.text)
    train_list, test_list = sorted(train_ids), sorted(test_ids)
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
    x = vectorizer.fit_transform([" ".join(texts[c]) for c in train_list])
    clf = LogisticRegression(C=10.0, max_iter=2000).fit(x, [data.labels[c] for c in train_list])
    scores = clf.predict_proba(vectorizer.transform([" ".join(texts[c]) for c in test_list]))[:, 1]
    return at_the_end(data, test_ids, dict(zip(test_list, scores.tolist(), strict=True)), "tfidf")


def text_model_alone(data: LabelledData, test_ids: set[str], model: RiskModel) -> dict[str, float]:
    """Riskline's own text model read at the end of each conversation (what the sequence model could use)."""
    steps, _ = score_messages(model, data.subset(test_ids).events)
    column = FEATURE_NAMES.index("text_mean")
    last = {c: float(v) for c, v in zip(steps.conversation_id, steps.features[:, column], strict=True)}
    return at_the_end(data, test_ids, {c: 1.0 / (1.0 + np.exp(-v)) for c, v in last.items()}, "text")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data_samples/train.parquet")
    parser.add_argument("--folds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    data = load_labelled(args.data).without_stages()
    rows: dict[str, list[dict[str, float]]] = {"whole-conversation TF-IDF + LR": [], "riskline (labels only)": [],
                                               "riskline text model alone, at the end": []}
    for fold in args.folds:
        train_ids, test_ids, _ = holdout_split(data, fold)
        rows["whole-conversation TF-IDF + LR"].append(whole_conversation(data, train_ids, test_ids))
        model = train(data, TrainConfig(seed=fold, refit_on_all=False))
        rows["riskline (labels only)"].append(model.metrics)
        rows["riskline text model alone, at the end"].append(text_model_alone(data, test_ids, model))
        for name, runs in rows.items():
            print(f"fold {fold} {name:38s} " + " ".join(f"{k}={runs[-1][k]:.3f}" for k in KEYS
                                                         if runs[-1].get(k) is not None), flush=True)
    print("\nmean over folds")
    for name, runs in rows.items():
        print(f"{name:38s} " + " ".join(
            f"{k}={np.mean([r[k] for r in runs if r.get(k) is not None]):.3f}" for k in KEYS))


if __name__ == "__main__":
    main()
