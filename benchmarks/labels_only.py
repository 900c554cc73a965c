"""Labels-only training (the PAN 2012 case) against a whole-conversation TF-IDF + logistic regression.

All are trained on conversation labels alone (stage annotations dropped) and measured on a
held-out synthetic fold, with thresholds for the same target precision and false-alert cap chosen
on that fold.
The whole-conversation baseline reads the finished conversation, so it can only alert at the
last message; Riskline scores causally and alerts at the first message that crosses.

    python benchmarks/labels_only.py [--data data_samples/train.parquet] [--folds 0 1 2] [--seeds 3]
                                     [--baseline-grid] [--data-seeds 1 3 5 7 9 11 [--conversations 2000]]
                                     [--set KEY=VALUE ...]

With ``--seeds N`` Riskline is trained N times per fold with different training seeds (the
held-out fold stays the same), to show how far its figures move with the seed alone; the
TF-IDF baseline is deterministic. With ``--data-seeds`` the comparison runs on data generated with
each seed instead (``--data-seeds 1`` is the shipped data), to show how far the draw of the data
alone moves it, and ends with the mean and range over the draws.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from detection.features import FEATURE_NAMES
from detection.model import RiskModel
from detection.scoring import RiskScore, score_messages
from detection.writers import write_rows
from training.curves import choose_thresholds
from training.data import LabelledData, holdout_split, load_labelled
from training.evaluate import evaluate_results
from training.synth.generator import generate
from training.train import TrainConfig, fit_and_measure

KEYS = ("f0_5", "recall", "false_alert_rate", "median_messages_to_alert", "latency_weighted_f1")
# the rows of the comparison, as printed and as keyed in what compare() returns
TFIDF, RISKLINE = "whole-conversation TF-IDF + LR", "riskline (labels only)"
TEXT = "riskline text model alone, at the end"


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


GRID_C = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
GRID_NGRAMS = ((1, 1), (1, 2), (1, 3))


def whole_conversation(data: LabelledData, train_ids: set[str], test_ids: set[str], *,
                       grid: bool = False) -> dict[tuple[int, int, float], dict[str, float]]:
    """The TF-IDF baseline's figures, keyed by (n-gram range, C): word 1-2 grams and C 10 alone,
    or with ``grid`` every combination of ``GRID_NGRAMS`` and ``GRID_C``."""
    texts: dict[str, list[str]] = {}
    for event in data.events:
        texts.setdefault(event.conversation_id, []).append(event.text)
    train_list, test_list = sorted(train_ids), sorted(test_ids)
    labels = [data.labels[c] for c in train_list]
    out = {}
    for ngrams in GRID_NGRAMS if grid else ((1, 2),):
        vectorizer = TfidfVectorizer(ngram_range=ngrams, sublinear_tf=True, min_df=2)
        x = vectorizer.fit_transform([" ".join(texts[c]) for c in train_list])
        x_test = vectorizer.transform([" ".join(texts[c]) for c in test_list])
        for c in GRID_C if grid else (10.0,):
            scores = LogisticRegression(C=c, max_iter=3000).fit(x, labels).predict_proba(x_test)[:, 1]
            out[(*ngrams, c)] = at_the_end(data, test_ids, dict(zip(test_list, scores.tolist(), strict=True)), "tfidf")
    return out


def text_model_alone(data: LabelledData, test_ids: set[str], model: RiskModel) -> dict[str, float]:
    """Riskline's own text model read once, at the end of each conversation, as it was fitted: the
    sum of its per-message logits over the message count to ``text_power``. Against the causal
    figures, it shows how much reading as the conversation goes costs, apart from the model."""
    steps, _ = score_messages(model, data.subset(test_ids).events)
    mean = steps.features[:, FEATURE_NAMES.index("text_mean")]
    count = np.expm1(steps.features[:, FEATURE_NAMES.index("log_messages")])
    power = float(model.config["train"]["text_power"])
    logit = mean * count ** (1.0 - power)
    last = dict(zip(steps.conversation_id, logit.tolist(), strict=True))  # rows in order: the last one stays
    return at_the_end(data, test_ids, {c: 1.0 / (1.0 + np.exp(-v)) for c, v in last.items()}, "text")


def compare(data: LabelledData, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Print the comparison on ``data`` (stage annotations already dropped) fold by fold; return
    each row's means over the folds."""
    rows: dict[str, list[dict[str, float]]] = {TFIDF: [], RISKLINE: [], TEXT: []}
    f0_5 = np.zeros((len(args.folds), args.seeds))  # Riskline's F0.5 by fold and seed
    grid: dict[tuple[int, int, float], list[float]] = {}  # the baseline's F0.5 by setting, one per fold
    for n, fold in enumerate(args.folds):
        train_ids, test_ids, _ = holdout_split(data, fold)
        baselines = whole_conversation(data, train_ids, test_ids, grid=args.baseline_grid)
        rows[TFIDF].append(baselines[(1, 2, 10.0)])
        for key, figures in baselines.items():
            grid.setdefault(key, []).append(figures["f0_5"])
        runs = []
        for k in range(args.seeds):  # seed ``fold`` first: what ``riskline train --seed FOLD`` measures
            config = TrainConfig(seed=fold + 100 * k, refit_on_all=False).with_settings(args.set or [])
            measured = fit_and_measure(data.subset(train_ids), data.subset(test_ids), config)
            runs.append(measured.metrics)
            f0_5[n, k] = measured.metrics["f0_5"]
            if k == 0:
                rows[TEXT].append(text_model_alone(data, test_ids, measured.model))
        rows[RISKLINE].append({key: float(np.mean(values)) for key in KEYS
                               if (values := [r[key] for r in runs if r.get(key) is not None])})
        if args.seeds > 1:
            print(f"fold {fold} riskline F0.5 by seed " + " ".join(f"{v:.3f}" for v in f0_5[n]))
        for name, done in rows.items():
            print(f"fold {fold} {name:38s} " + " ".join(f"{key}={done[-1][key]:.3f}" for key in KEYS
                                                         if done[-1].get(key) is not None), flush=True)
    means = {name: {key: float(np.mean(values)) for key in KEYS
                    if (values := [r[key] for r in done if r.get(key) is not None])} for name, done in rows.items()}
    print("\nmean over folds" + (f" (riskline: also over {args.seeds} seeds)" if args.seeds > 1 else ""))
    for name, figures in means.items():
        print(f"{name:38s} " + " ".join(f"{key}={value:.3f}" for key, value in figures.items()))
    if args.baseline_grid:
        print("\nTF-IDF + LR by setting, F0.5 by fold and mean:")
        for (low, high, c), values in grid.items():
            by_fold = " ".join(f"{v:.3f}" for v in values)
            print(f"  {low}-{high} grams, C {c:g}: {by_fold} mean {np.mean(values):.3f}")
        (low, high, c), values = max(grid.items(), key=lambda item: float(np.mean(item[1])))
        print(f"best on these held-out folds: {low}-{high} grams, C {c:g}, F0.5 {np.mean(values):.3f} "
              f"(riskline {f0_5.mean():.3f})")
    if args.seeds > 1:
        by_seed = f0_5.mean(axis=0)
        print("riskline F0.5 mean over folds, by seed: " + " ".join(f"{m:.3f}" for m in by_seed)
              + f" (range {min(by_seed):.3f}-{max(by_seed):.3f})")
    return means


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data_samples/train.parquet")
    parser.add_argument("--data-seeds", type=int, nargs="+", metavar="SEED",
                        help="instead of --data, generate data with each of these seeds (the size of the shipped "
                             "data, --conversations) and compare on each draw")
    parser.add_argument("--conversations", type=int, default=2000, help="with --data-seeds: conversations per draw")
    parser.add_argument("--folds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--seeds", type=int, default=1, help="Riskline training seeds per fold")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="a training setting for Riskline, as riskline train --set takes it; repeatable")
    parser.add_argument("--baseline-grid", action="store_true",
                        help="also TF-IDF with 1-1, 1-2 and 1-3 grams and C from 0.3 to 100, and the best on the "
                             "held-out folds themselves (an upper bound for the baseline)")
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    try:
        TrainConfig().with_settings(args.set or [])
    except ValueError as exc:
        parser.error(str(exc))
    if not args.data_seeds:
        compare(load_labelled(args.data).without_stages(), args)
        return
    draws: list[dict[str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory(prefix="riskline-labels-only-") as folder:
        for seed in args.data_seeds:
            print(f"\n== data seed {seed} ({args.conversations} conversations)")
            path = Path(folder) / f"seed{seed}.parquet"
            write_rows(path, generate(args.conversations, seed))
            draws.append(compare(load_labelled(path).without_stages(), args))
    print(f"\nover {len(draws)} data draws: mean (lowest-highest)")
    for name in draws[0]:
        print(f"{name:38s} " + " ".join(
            f"{key}={np.mean(v):.3f} ({min(v):.3f}-{max(v):.3f})"
            for key in ("f0_5", "latency_weighted_f1") if (v := [d[name][key] for d in draws if key in d[name]])))
    wins = sum(d[RISKLINE]["f0_5"] > d[TFIDF]["f0_5"] for d in draws)
    print(f"riskline's F0.5 above TF-IDF's on {wins} of {len(draws)} draws")


if __name__ == "__main__":
    main()
