"""What the training commands (``cli``, ``cli_evaluate``) share: their data named, outputs kept out of it,
MLflow's refusals said in one line."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from detection.cli_common import check_outputs, fail


def outside_data(data: list[Path], option: str, path: Path | None) -> None:
    """Refuse an output that is a --data file or lies inside a --data folder (it would be read as data
    the next time), before any work."""
    for given in data:
        check_outputs({"--data": given}, {option: path})


def named(paths: list[Path]) -> str:
    """The data files as the model card, MLflow and the printout name them: ``a + b``."""
    return " + ".join(map(str, paths))


@contextlib.contextmanager
def tracking(what: str) -> Iterator[None]:
    """MLflow's refusals (a tracking URI it cannot use, a registry conflict) as one error line naming
    ``what`` was being done, not a traceback."""
    from mlflow.exceptions import MlflowException
    from sqlalchemy.exc import SQLAlchemyError  # a database MLflow cannot write (a full disk) comes as this

    try:
        yield
    except (MlflowException, SQLAlchemyError, OSError) as exc:
        from training.registry import tracking_uri

        text = str(getattr(exc, "message", exc)).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        raise fail(f"MLflow ({tracking_uri()}): {what} failed: {first}") from None
