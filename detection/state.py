"""Causal conversation state: everything scoring needs to know about messages 0..k.

State is small and of fixed size per conversation (plus one counter per participant), so
updating it costs the same at message 10 as at message 10,000. Probabilities and masses are held
as integers in units of ``1/QUANT``: sums and maxima of integers are exact in any grouping, so a
conversation scored in one batch and one scored a message at a time reach the identical state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from detection.events import RISK_STAGES
from detection.language import reads_as_other_language

QUANT = 65536
N_RISK = len(RISK_STAGES)
EVIDENCE_SIZE = 5


@dataclass(frozen=True, slots=True)
class ConversationState:
    """Running aggregates of one conversation after ``n_messages`` messages."""

    conversation_id: str
    n_messages: int = 0
    first_ts: float | None = None
    last_ts: float | None = None
    stage_max: tuple[int, ...] = (0,) * N_RISK
    stage_hits: tuple[int, ...] = (0,) * N_RISK
    first_risk_ts: float | None = None
    sender_mass: tuple[tuple[str, int], ...] = ()
    n_media: int = 0
    media_after_request: bool = False
    text_sum: int = 0  # the text model's logits so far, in units of 1/QUANT (0 in states saved before it)
    last_score: float = 0.0
    max_score: float = 0.0
    peak_index: int | None = None
    peak_message_id: str | None = None
    alert_index: int | None = None
    alert_message_id: str | None = None
    evidence: tuple[tuple[int, int, str], ...] = field(default=())
    # each participant's risk mass, every message's weighed by the role model's probability that the
    # offender wrote it; empty for a model without a role model (and in states saved before it)
    sender_role: tuple[tuple[str, int], ...] = ()
    # the model whose message evidence these aggregates hold (``RiskModel.evidence_key``; None in states
    # saved before it), and, where another model's were set aside (``score_messages``), how many
    # messages came before that and the most severe evidence they had reached
    evidence_key: str | None = None
    restarted_at: int = 0
    earlier_stage_max: tuple[int, ...] = ()
    # for a model that reads a sender's run of messages together (``RiskModel.run_gap``): who sent the last
    # message, the texts of their run up to it that the next message of theirs would be read with (the last
    # ``RUN_MESSAGES - 1``, each its last ``RUN_CHARS`` characters) and each one's own risk-stage evidence
    # (units of 1/QUANT); empty for other models
    run_sender: str | None = None
    run_texts: tuple[str, ...] = ()
    run_evidence: tuple[tuple[int, ...], ...] = ()
    # for a model whose runs go on across others' short messages (``RiskModel.run_asides``): the runs of other
    # senders still open (no longer message from anyone else since), the latest first, at most ``RUN_OTHERS``:
    # each (sender, when they last wrote, texts, evidence) as above
    other_runs: tuple[tuple[str, float, tuple[str, ...], tuple[tuple[int, ...], ...]], ...] = ()
    # English and other-language function words in the conversation so far (``language.word_counts``; (0, 0)
    # in states saved before them), whatever the model
    language_words: tuple[int, int] = (0, 0)

    def suspect(self) -> tuple[str | None, float | None]:
        """The suspect and how clearly they stand out, or (None, None) before any risk evidence.

        The suspect is the participant with the most risk mass, weighed by the role model where the
        model has one (a young person's pleas carry threat words, but do not read as the offender's);
        the first to reach it on a tie. The share is their part of that evidence over all
        participants: near 1 / (number of participants), the evidence does not tell them apart."""
        if not any(mass > 0 for _, mass in self.sender_mass):
            return None, None
        role = dict(self.sender_role)
        suspect = max(self.sender_mass, key=lambda item: (role.get(item[0], 0), item[1]))[0]
        weights = role or dict(self.sender_mass)
        total = sum(weights.values())
        return suspect, weights.get(suspect, 0) / total if total > 0 else None

    @property
    def suspect_id(self) -> str | None:
        return self.suspect()[0]

    @property
    def suspect_share(self) -> float | None:
        return self.suspect()[1]

    def built_by_another(self, evidence_key: str) -> bool:
        """Whether another model's message evidence built this state (one saved before models were
        recorded is taken as this model's)."""
        return self.evidence_key not in (None, evidence_key)

    def set_aside(self) -> ConversationState:
        """This state with its running evidence set aside, as when another model gave it: from the next message
        the conversation is scored as if it began there, while positions go on counting every message and what
        was answered stays (the highest score and where it was, the alert, the evidence messages, the most
        severe stage reached). The suspect is named again from the new model's evidence."""
        return ConversationState(
            self.conversation_id, n_messages=self.n_messages, last_ts=self.last_ts, last_score=self.last_score,
            max_score=self.max_score, peak_index=self.peak_index, peak_message_id=self.peak_message_id,
            alert_index=self.alert_index, alert_message_id=self.alert_message_id, evidence=self.evidence,
            restarted_at=self.n_messages, earlier_stage_max=self.stage_reached, language_words=self.language_words)

    @property
    def stage_reached(self) -> tuple[int, ...]:
        """Each stage's highest evidence at any message, before a model change included."""
        if not self.earlier_stage_max:
            return self.stage_max
        return tuple(max(pair) for pair in zip(self.stage_max, self.earlier_stage_max, strict=True))

    @property
    def peak_stage(self) -> str:
        """The most severe stage whose evidence reached one half at some message."""
        detected = [s for s, m in zip(RISK_STAGES, self.stage_reached, strict=True) if m >= QUANT // 2]
        return detected[-1] if detected else "none"

    @property
    def other_language(self) -> bool:
        """Whether the conversation so far reads as another language than English (``language``)."""
        return reads_as_other_language(*self.language_words)

    @property
    def evidence_message_ids(self) -> list[str]:
        return [message_id for _, _, message_id in self.evidence]

    def to_dict(self) -> dict[str, object]:
        """JSON-safe form, for state stores."""
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ConversationState:
        """Inverse of ``to_dict`` (lists become tuples). Fields this version does not know are left out:
        a state written by a later version (replicas of two versions on one store while a deployment rolls
        out or back) reads as what this version keeps of it, rather than failing every message of its
        conversation."""
        fixed = {name: value for name, value in data.items() if name in cls.__slots__}
        for name in ("stage_max", "stage_hits"):
            fixed[name] = tuple(int(v) for v in data[name])  # type: ignore[attr-defined]
        fixed["earlier_stage_max"] = tuple(int(v) for v in data.get("earlier_stage_max", ()))  # type: ignore[attr-defined]
        for name in ("sender_mass", "sender_role"):  # sender_role: absent in states saved before it
            fixed[name] = tuple((str(s), int(m)) for s, m in data.get(name, ()))  # type: ignore[attr-defined]
        fixed["evidence"] = tuple((int(w), int(i), str(m)) for w, i, m in data["evidence"])  # type: ignore[attr-defined]
        fixed["run_texts"] = tuple(str(t) for t in data.get("run_texts", ()))  # type: ignore[attr-defined]
        fixed["run_evidence"] = tuple(tuple(int(v) for v in e) for e in data.get("run_evidence", ()))  # type: ignore[attr-defined]
        fixed["other_runs"] = tuple((str(sender), float(ts), tuple(str(t) for t in texts),
                                     tuple(tuple(int(v) for v in e) for e in evidence))
                                    for sender, ts, texts, evidence in data.get("other_runs", ()))  # type: ignore[attr-defined]
        words = [int(v) for v in data.get("language_words", (0, 0))]  # type: ignore[attr-defined]
        fixed["language_words"] = (words[0], words[1])
        return cls(**fixed)  # type: ignore[arg-type]
