"""Who the suspect is: the role model against risk mass alone, on held-out folds and hand-written text.

An intervention names a suspect (friction goes to them); naming the young person instead would put
friction on the victim. Where stage annotations show the offender (the participant who wrote the most
messages with a stage), this counts the alerted positive conversations whose suspect is someone else:
as each intervention would name it, at the message that first alerted, and at the end (``score``'s
``suspect_id``). Each model is measured twice: as trained, and with its role model taken out, which
leaves every risk score as it was and names the suspect by risk mass alone, as before the role model.

    .venv/bin/python benchmarks/suspect.py [--data data_samples/train.parquet] [--folds 0 1 2]
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter
from dataclasses import replace
from pathlib import Path

import challenge  # the hand-written set, beside this script
import pyarrow.parquet as pq

from detection.model import RiskModel
from detection.model_files import load_model
from detection.scoring import score_conversations
from detection.writers import write_rows
from training.attribution import suspect_outcomes
from training.data import LabelledData, holdout_split, load_labelled
from training.train import TrainConfig, train


def wrong_suspects(model: RiskModel, data: LabelledData, kinds: dict[str, str]) -> dict[str, Counter[str]]:
    """Alerted positives with a known offender, and those whose suspect is someone else at the alert
    and at the end, counted by kind of conversation."""
    results, _ = score_conversations(model, data.events)
    counts: dict[str, Counter[str]] = {key: Counter() for key in ("alerted", "at the alert", "at the end",
                                                                   "clear, right", "clear, wrong")}
    for cid, outcome in suspect_outcomes(model, data, results).items():
        counts["alerted"][kinds[cid]] += 1
        counts["at the alert"][kinds[cid]] += not outcome.at_alert
        counts["at the end"][kinds[cid]] += not outcome.at_end
        clear = outcome.share_at_alert is not None and outcome.share_at_alert >= CLEAR_SHARE
        counts["clear, right" if outcome.at_alert else "clear, wrong"][kinds[cid]] += clear
    return counts


def without_role(model: RiskModel) -> RiskModel:
    return replace(model, stage_model=replace(model.stage_model, role_coef=None, role_embed_coef=None))


VARIANTS = ("role model", "risk mass alone")
CLEAR_SHARE = 0.65  # a suspect_share that a receiver might require before friction


def report(name: str, model: RiskModel, data: LabelledData, kinds: dict[str, str],
           totals: dict[str, Counter[str]] | None = None) -> None:
    """Print both variants' counts; add them to ``totals`` (by variant and count) where given."""
    for label, variant in zip(VARIANTS, (model, without_role(model)), strict=True):
        counts = wrong_suspects(variant, data, kinds)
        n = sum(counts["alerted"].values())
        if totals is not None:
            totals[label].update({key: sum(c.values()) for key, c in counts.items()})
            totals[label]["direct alerted"] += counts["alerted"]["extort_direct"]
            totals[label]["direct at the alert"] += counts["at the alert"]["extort_direct"]
        worst = ", ".join(f"{k} {v}/{counts['alerted'][k]}" for k, v in counts["at the alert"].most_common() if v)
        print(f"{name:26s} {label:16s} suspect wrong at the alert {sum(counts['at the alert'].values()):3d} of {n}, "
              f"at the end {sum(counts['at the end'].values()):3d}" + (f"  ({worst})" if worst else ""), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data_samples/train.parquet")
    parser.add_argument("--folds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    data = load_labelled(args.data)
    kinds = {str(r["conversation_id"]): str(r["scenario"]) for r in
             pq.read_table(args.data, columns=["conversation_id", "scenario"]).to_pylist()}
    totals: dict[str, Counter[str]] = {label: Counter() for label in VARIANTS}
    for fold in args.folds:
        train_ids, test_ids, _ = holdout_split(data, fold)
        model = train(data.subset(train_ids), TrainConfig(seed=fold, refit_on_all=False))
        report(f"held-out fold {fold}", model, data.subset(test_ids), kinds, totals)
    for label, t in totals.items():
        right = t["alerted"] - t["at the alert"]
        print(f"{'held-out folds together':26s} {label:16s} suspect wrong at the alert {t['at the alert']:3d} of "
              f"{t['alerted']}, at the end {t['at the end']:3d}; extortion with no grooming "
              f"{t['direct at the alert']} of {t['direct alerted']} at the alert; suspect_share >= {CLEAR_SHARE} "
              f"at the alert for {t['clear, right']} of the {right} right and {t['clear, wrong']} of the "
              f"{t['at the alert']} wrong")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "challenge.jsonl"
        rows = challenge.rows("all")
        write_rows(path, rows)
        hand = load_labelled(path)
        report("hand-written (default)", load_model(), hand, {str(r["conversation_id"]): "hand-written" for r in rows})


if __name__ == "__main__":
    main()
