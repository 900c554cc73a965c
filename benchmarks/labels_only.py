"""Labels-only training (the PAN 2012 case) against a whole-conversation TF-IDF + logistic regression.

Both are trained on conversation labels alone (stage annotations dropped) and measured on a
held-out synthetic fold, with thresholds for the same target precision chosen on that fold.
The whole-conversation baseline reads the finished conversation, so it can only alert at the
last message; Riskline scores causally and alerts at the first message that crosses.

    python benchmarks/labels_only.py [--data data_samples/train.parquet] [--folds 0 1 2]
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from detection.scoring import RiskScore
from training.data import LabelledData, holdout_split, load_labelled
from training.evaluate import choose_thresholds, evaluate_results
from training.train import TrainConfig, train

KEYS = ("f0_5", "recall", "false_alert_rate", "median_messages_to_alert", "latency_weighted_f1")


def whole_conversation(data: LabelledData, train_ids: set[str], test_ids: set[str]) -> dict[str, float]:
    texts: dict[str, list[str]] = {}
    for event in data.events:
        texts.setdefault(event.conversation_id, []).append(event.text)
    train_list, test_list = sorted(train_ids), sorted(test_ids)
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
    x = vectorizer.fit_transform([" ".join(texts[c]) for c in train_list])
    clf = LogisticRegression(C=10.0, max_iter=2000).fit(x, [data.labels[c] for c in train_list])
    scores = clf.predict_proba(vectorizer.transform([" ".join(texts[c]) for c in test_list]))[:, 1]
    labels = np.array([data.labels[c] for c in test_list])
    thresholds = choose_thresholds(scores, labels, TrainConfig().target_precision)
    results = [RiskScore(c, len(texts[c]), float(s), thresholds.level(float(s)), bool(s >= thresholds.alert),
                         len(texts[c]) - 1 if s >= thresholds.alert else None, None, "none", None, [], "tfidf")
               for c, s in zip(test_list, scores, strict=True)]
    return evaluate_results(results, data.subset(test_ids), thresholds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data_samples/train.parquet")
    parser.add_argument("--folds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    data = load_labelled(args.data).without_stages()
    rows: dict[str, list[dict[str, float]]] = {"whole-conversation TF-IDF + LR": [], "riskline (labels only)": []}
    for fold in args.folds:
        train_ids, test_ids, _ = holdout_split(data, fold)
        rows["whole-conversation TF-IDF + LR"].append(whole_conversation(data, train_ids, test_ids))
        rows["riskline (labels only)"].append(train(data, TrainConfig(seed=fold, refit_on_all=False)).metrics)
        for name, runs in rows.items():
            print(f"fold {fold} {name:32s} " + " ".join(f"{k}={runs[-1][k]:.3f}" for k in KEYS
                                                         if runs[-1].get(k) is not None), flush=True)
    print("\nmean over folds")
    for name, runs in rows.items():
        print(f"{name:32s} " + " ".join(
            f"{k}={np.mean([r[k] for r in runs if r.get(k) is not None]):.3f}" for k in KEYS))


if __name__ == "__main__":
    main()
