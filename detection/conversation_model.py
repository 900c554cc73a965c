"""The conversation model: the risk after each message from the conversation's running features, by the
larger of two calibrated paths (escalation, and the wording as a whole)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detection.features import FEATURE_NAMES
from detection.state import QUANT

TEXT_MEAN, LOG_MESSAGES = FEATURE_NAMES.index("text_mean"), FEATURE_NAMES.index("log_messages")


@dataclass(frozen=True)
class TextPath:
    """The text path: how far the conversation's wording as a whole reads as grooming.

    A logistic regression over the running mean of the text model's per-message logits, shrunk
    towards 0 as if ``prior`` neutral messages came first (a short conversation's mean is noisy),
    the log message count, and their product (the mean counts for more as the conversation
    grows). ``calibration`` is its own Platt scaling. It has its say only where its uncalibrated
    logit is above 0 (grooming more likely than not on its training data) and its text part is
    above 0 (the wording itself leans towards grooming: length alone never makes it decide, or a
    long enough benign conversation would alert), so elsewhere the escalation path alone ranks
    conversations.
    """

    w_mean: float
    w_length: float
    w_both: float
    bias: float
    prior: float
    calibration: tuple[float, float] = (1.0, 0.0)

    def inputs(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The shrunk text mean and the log message count, per row of running features."""
        length = features[:, LOG_MESSAGES]
        n = np.expm1(length)  # messages so far: log_messages is log(1 + n)
        return features[:, TEXT_MEAN] * (n / (n + self.prior)), length

    def shares(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The uncalibrated logit less its bias, split into the text's part and the length's part."""
        mean, length = self.inputs(features)
        return self.w_mean * mean + self.w_both * (mean * length), self.w_length * length

    def per_unit(self, features: np.ndarray) -> np.ndarray:
        """Per row, what each unit (1/QUANT) of a message's text logit so far adds to the text part of ``shares``:
        that part is this times the sum of the conversation's quantised text logits, so it splits by message."""
        length = features[:, LOG_MESSAGES]
        return (self.w_mean + self.w_both * length) / (QUANT * (np.expm1(length) + self.prior))

    def logit(self, features: np.ndarray) -> np.ndarray:
        """The uncalibrated logit per row."""
        return self.gated_logit(features)[0]

    def gated_logit(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The uncalibrated logit per row, and where the path may have its say (logit and text part above 0)."""
        text, length = self.shares(features)
        raw = text + length + self.bias
        return raw, (raw > 0.0) & (text > 0.0)


@dataclass(frozen=True)
class ConversationModel:
    """The escalation path (logistic regression over standardised running features), an optional
    text path, each with its own Platt calibration; the score is the larger of the two.

    ``calibration`` (a, b) maps the regression's logit z to ``sigmoid(a * z + b)``, fitted on
    held-out conversations so that the score reads as the probability that the conversation is
    grooming or extortion given what has been seen so far. (1, 0) leaves it as it is.

    The escalation path decides on its own on a threat or a payment demand; the text path alerts
    on talk that reads as grooming overall when no single message is recognisably a stage, as
    with wording the stage model has not seen. Calibrated apart, neither path's scale can drown
    the other's.
    """

    weights: np.ndarray
    bias: float
    mean: np.ndarray
    scale: np.ndarray
    calibration: tuple[float, float] = (1.0, 0.0)
    text_path: TextPath | None = None

    def escalation_logit(self, features: np.ndarray) -> np.ndarray:
        """The escalation path's uncalibrated logit for each row of running features."""
        terms = (features - self.mean) / self.scale * self.weights
        # Summed column by column, in order (a running sum: numpy's ``sum`` adds in pairs, in an order that may
        # depend on the batch's shape), so each row's arithmetic is the same whatever the batch holds; as one
        # ``cumsum`` rather than a Python loop over the columns, which cost a lone message 70 microseconds.
        return np.cumsum(np.column_stack([np.full(features.shape[0], self.bias), terms]), axis=1)[:, -1]

    def _paths(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The calibrated logit per row, and where the text path decided it."""
        a, b = self.calibration
        z = a * self.escalation_logit(features) + b
        if self.text_path is None:
            return z, np.zeros(len(z), dtype=bool)
        a_text, b_text = self.text_path.calibration
        raw, may = self.text_path.gated_logit(features)
        text = a_text * raw + b_text
        decides = may & (text > z)
        return np.where(decides, text, z), decides

    def calibrated_logit(self, features: np.ndarray) -> np.ndarray:
        """The calibrated log-odds of risk for each row of running features."""
        return self._paths(features)[0]

    def contributions(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per row: each feature's share of the calibrated logit, the rest that the shares sum to
        it with (the deciding path's bias and calibration offset), and whether the text path
        decided. Where it did, its text part counts under ``text_mean``, its length part under
        ``log_messages``.
        """
        a, b = self.calibration
        shares = np.asarray((features - self.mean) / self.scale * self.weights) * a
        base = np.full(features.shape[0], a * self.bias + b)
        _, decides = self._paths(features)
        if self.text_path is not None and decides.any():
            a_text, b_text = self.text_path.calibration
            text, length = self.text_path.shares(features[decides])
            shares[decides] = 0.0
            shares[decides, TEXT_MEAN] = a_text * text
            shares[decides, LOG_MESSAGES] = a_text * length
            base[decides] = a_text * self.text_path.bias + b_text
        return shares, base, decides

    def text_per_unit(self, features: np.ndarray) -> np.ndarray:
        """Per row where the text path decided (0 elsewhere), what each unit of a message's quantised text logit
        so far adds to the calibrated logit: ``contributions``' ``text_mean`` share is this times their sum, so
        it splits exactly into one share per message (whose wording made the conversation read as grooming)."""
        per_unit = np.zeros(features.shape[0])
        _, decides = self._paths(features)
        if self.text_path is not None and decides.any():
            per_unit[decides] = self.text_path.calibration[0] * self.text_path.per_unit(features[decides])
        return per_unit

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Risk probability for each row of running features."""
        with np.errstate(over="ignore"):  # a logit under -709 (a megabyte of one token): exp is inf, the risk 0
            return 1.0 / (1.0 + np.exp(-self.calibrated_logit(features)))
