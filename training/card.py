"""Model cards: what a model is for, what it is not for, what it was trained on and how it measured."""

from __future__ import annotations

from typing import Any

from detection.model import RiskModel
from training.config import TrainConfig
from training.curves import interval_text
from training.report import budget_table, fmt, metrics_table, slices_table

INTENDED = """\
- Ranking and flagging private conversations for trust-and-safety review, and triggering supportive
  interventions (a safety nudge to the young person, friction for the suspect), as early as the
  grooming stage.
- Batch replay of message logs, real-time scoring of each message, and research on labelled data."""

OUT_OF_SCOPE = """\
- Automated punishment, account bans or reports to authorities without human review. Every `high`
  or `critical` alert must be reviewed by a trained person before any action against an account.
- Judging a single message out of context, or anyone's age, identity or intent as a fact.
- Monitoring people who have not been told, under the platform's terms, that safety scanning runs.
- Languages other than English: the model was trained on English text only, and scores such
  conversations near zero whatever they say. `riskline score` says how many conversations read as
  another language, and `riskline explain` says so of the one it shows."""

LIMITS = """\
- Trained on synthetic conversations written by Riskline's generator (and any data you added).
  Held-out figures use phrase families and negative kinds the model did not see, but real chats
  are more varied: expect lower recall and more false alerts on real logs until you retrain and
  re-evaluate on your own labelled data.
- Scores are calibrated on held-out synthetic conversations; on other data, recalibrate
  (`riskline train` on your data) before reading scores as probabilities.
- The alert threshold holds the false-alert budget on the kinds of talk it was chosen on. On kinds
  the model has not seen it holds far less well: chosen on one synthetic fold and used on another,
  several times the budget on the mean, and most among a parent and child, adults dating and
  marketplace deals (`benchmarks/thresholds.py`). Choose thresholds on your own negatives
  (`riskline thresholds`) before acting on alerts.
- It reads text, timing, who speaks and whether media was attached; it never sees images.
- Where model.json has a `vocabulary`, a word that neither it nor English has is read as the training
  word it is near by typing (a letter masked, left out, doubled or swapped; a word broken or run
  together): it knows spellings, not meanings, so a new word near a known one can be misread ("wth" as
  "with"), and a wrong letter is not repaired. `riskline explain` shows what each message was read as.
- A threat typed in pieces is read as one only where the model reads a sender's runs (`run_gap` in
  model.json, seconds) and the pieces come within that gap; the other person's short replies between
  them ("what", "??") do not end a run where `run_asides` is true, a longer message does, so a threat
  answered piece by piece at length is read piece by piece.
- The text path alerts on wording that reads as grooming as a whole, with no recognisable stage
  needed. Flirting between teens is its commonest false alert on held-out synthetic data; its
  evidence messages are the most grooming-like wording, not proof of a request or a threat.
- The suspect is the participant with the most risk evidence, each message's weighed by a role model
  (who wrote it: the offender or the young person; `suspect_right_at_alert` above) where stage
  annotations or `offender_id` trained one, by risk evidence alone otherwise. A young person's pleas carry threat
  words; check who the suspect is before friction or action against an account.
- `peak_stage` is the most severe stage whose evidence reached one half at some message. In wording unlike
  the training data the stage model reads threats and demands at under one half, so an alert's peak stage
  may be an earlier stage than the conversation reached (`peak_stage_under` above); read its evidence
  messages rather than the stage alone.
- Offenders adapt. Re-evaluate regularly and watch the slices below for drift."""


def _other_folds_text(other: dict[str, Any] | None) -> str:
    """A sentence on cross-validation with calibration and thresholds chosen on the other folds."""
    if not other:
        return ""
    mean, most = other["mean"], other["max"]
    return (f" With calibration and thresholds chosen on the other folds instead of the fold measured (kinds of "
            f"talk they were not chosen on): mean F0.5 {mean['f0_5']:.3f}, mean recall {mean['recall']:.3f}, "
            f"mean false-alert rate {mean['false_alert_rate']:.3f} (highest {most['false_alert_rate']:.3f}).")


def _families_text(families: dict[str, Any] | None) -> str:
    """A sentence setting in-family figures beside cross-family ones, when cross-validation measured both."""
    if not families:
        return ""
    inside, across = families["in_family"]["mean"], families["cross_family"]["mean"]
    return (f"In-family against cross-family ({families['how']}), means over the folds: F0.5 "
            f"{fmt(inside.get('f0_5'))} against {fmt(across.get('f0_5'))}, recall {fmt(inside.get('recall'))} "
            f"against {fmt(across.get('recall'))}, false-alert rate {fmt(inside.get('false_alert_rate'))} against "
            f"{fmt(across.get('false_alert_rate'))}. Expect text written by others to land nearer the "
            "cross-family figures, or below them.\n")


def _seen_text(model: RiskModel) -> str:
    """A line of the card's data part on the conversations the model keeps fingerprints of (``trained_on``)."""
    if model.trained_on is None:
        return ""
    return (f"- Kept: a fingerprint of each of the {len(model.trained_on)} conversations of three messages or more it "
            "was fitted, calibrated or thresholded on (a hash of its texts; no text), so that `riskline evaluate`, "
            "`thresholds` and `promote` say when data they are given holds some of them.\n")


def _folds_text(model: RiskModel) -> str:
    """A line of the card's data part on the generator's folds the model was fitted on, where any."""
    if not (folds := model.metrics.get("generated_folds_trained_on")):
        return ""
    return (f"- Fitted on the generator's fold{'s' if len(folds) > 1 else ''} {', '.join(map(str, folds))} (each a "
            "fixed share of its phrase families, replies and negative kinds, the same at any seed): figures on "
            "`riskline synth` output of those folds are in-family, and `riskline evaluate`, `thresholds` and "
            "`promote` say so (`n_in_family`).\n")


def _settings_text(train: dict[str, Any]) -> str:
    """The training seed, and each setting that differs from ``TrainConfig``'s default."""
    defaults = TrainConfig().to_dict()
    changed = [f"`{key}` {value} (default {defaults[key]})" for key, value in train.items()
               if key in defaults and key != "seed" and value != defaults[key]]
    return f"seed {train.get('seed', '-')}; " + (
        "changed from the defaults: " + ", ".join(changed) if changed else "every other setting at its default")


def _data_text(m: dict[str, Any], data_source: str) -> str:
    """Where the weights came from, and for a model re-thresholded on other data, where its thresholds did."""
    if previous := m.get("rethresholded_from"):
        return (f"- Weights: those of `{previous['model_version']}` ({m.get('n_train_conversations', '-')} training "
                f"conversations); calibration and thresholds chosen on `{data_source}` (`riskline thresholds`).")
    return (f"- Training data: `{data_source}`, {m.get('n_train_conversations', '-')} conversations;\n"
            f"  stage annotations {'used' if m.get('stages_annotated') else 'absent (weak keyword stages)'}.")


def _kind(model_type: str, train: dict[str, Any]) -> str:
    """What the model is, in words: its type, encoder and the paths its score takes."""
    kind = model_type
    if kind == "transformer":
        kind += f" ({train.get('encoder', 'frozen')} all-MiniLM-L6-v2 in ONNX" + \
            (", with hashed n-grams)" if train.get("ngrams") else ")")
    if train.get("text_model") and train.get("sequence", True):
        kind += ", with a conversation-level text model feeding the sequence model"
        if train.get("text_path"):
            kind += " and a text path beside it (the score is the larger of the two, each calibrated apart)"
    return kind


def _cv_text(cv: dict[str, Any] | None) -> str:
    """``train --cv K``'s figures, where it ran."""
    if not cv:
        return ""
    return (f"\nCross-validation ({cv['k']} folds, {cv['how']}): mean F0.5 {cv['mean']['f0_5']:.3f} "
            f"(min {cv['min']['f0_5']:.3f}), mean recall {cv['mean']['recall']:.3f}, "
            f"mean false-alert rate {cv['mean']['false_alert_rate']:.3f}." + _other_folds_text(cv.get("other_folds"))
            + "\n" + _families_text(cv.get("families")))


def _other_half_text(other: dict[str, Any] | None) -> str:
    """The figures with thresholds chosen on one half of the held-out conversations and measured on the other."""
    if not other:
        return ""
    return ("\nThe thresholds were chosen on the same held-out conversations, so precision and false alerts meet "
            "their targets there by construction. Chosen on one half and measured on the other (mean of both "
            f"ways): precision {fmt(other.get('precision'))}, recall {fmt(other.get('recall'))}, F0.5 "
            f"{fmt(other.get('f0_5'))}, false-alert rate {fmt(other.get('false_alert_rate'))}, alerted before the "
            f"threat {fmt(other.get('alerted_before_threat'))}.\n")


def model_card(model: RiskModel, data_source: str) -> str:
    """The model card (Markdown) for a trained model, from its own config and metrics."""
    m, train = model.metrics, model.config.get("train", {})
    kind = _kind(model.model_type, train)
    rows = metrics_table(m, ("precision", "recall", "f0_5", "false_alert_rate", "alerted_before_threat",
                             "alerted_before_threat_groomed", "alerted_at_threat", "alerted_after_threat",
                             "median_messages_after_threat", "median_messages_to_alert", "latency_weighted_f1",
                             "roc_auc", "pr_auc", "suspect_right_at_alert", "suspect_right", "offender_precision",
                             "offender_recall", "offender_f0_5", "peak_stage_right", "peak_stage_under"))
    slices = slices_table(m.get("slices", {}))
    intervals = "" if not (text := interval_text(m)) else f"\n{text}.\n"
    cal = m.get("calibration", {})
    t = model.thresholds
    return f"""# Model card: {model.model_version}

Riskline risk model, type {kind}. Scores each message of a conversation causally: the risk after
message k uses messages 0..k only.

## Intended use
{INTENDED}

## Out-of-scope use
{OUT_OF_SCOPE}

## Human review
Alerts are decisions to look, not findings. A person reviews every alert before any action against
an account; the evidence messages and `riskline explain` show why the model raised it.

## Data
{_data_text(m, data_source)}
- Augmentation: {train.get('augment_copies', 0)} noisy copy per conversation (near-synonyms for
  {train.get('paraphrase', 0):.0%} of everyday words, slang, typos, leetspeak, spacing, emojis,
  new participant names).
- Held-out evaluation: {m.get('holdout', '-')}.
{_seen_text(model)}{_folds_text(model)}- Training settings (`training/config.py`): {_settings_text(train)}.

## Metrics (held-out conversations)
Thresholds: alert {t.alert:.3f}; levels low {t.low:.3f}, medium {t.medium:.3f}, high {t.high:.3f},
critical {t.critical:.3f}, chosen for precision {train.get('target_precision', '-')} at the alert, with at most
{train.get('max_false_alert_rate', '-')} of held-out negatives alerting.

{chr(10).join(rows)}
{intervals}{_other_half_text(m.get('other_half'))}
Calibration: expected calibration error {fmt(cal.get('ece'))}, Brier score {fmt(cal.get('brier'))}.

{chr(10).join(budget_table(m))}
{_cv_text(m.get('cv'))}
### Slices
Recall for positives, false-alert rate for negatives.

{chr(10).join(slices)}

## Limits
{LIMITS}
"""
