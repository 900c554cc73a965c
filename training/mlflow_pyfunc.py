"""MLflow "model from code": a pyfunc that scores a DataFrame of message events with Riskline.

Logged by path (not pickled). ``mlflow.pyfunc.load_model(uri).predict(events_df)`` returns one row
per conversation, the same as ``riskline score``.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import mlflow
import pandas as pd

from detection.events import to_event
from detection.model import RiskModel
from detection.model_files import load_model
from detection.scoring import score_conversations


class RisklinePyfunc(mlflow.pyfunc.PythonModel):  # type: ignore[misc,name-defined]
    """Wraps a Riskline model directory stored as the artifact ``riskline_model``."""

    model: RiskModel

    def load_context(self, context: Any) -> None:
        self.model = load_model(context.artifacts["riskline_model"])

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        events = [to_event({str(k): v for k, v in record.items()}) for record in model_input.to_dict(orient="records")]
        results, _ = score_conversations(self.model, events)
        return pd.DataFrame([asdict(r) for r in results])


mlflow.models.set_model(RisklinePyfunc())
