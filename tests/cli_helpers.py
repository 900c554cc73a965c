"""Run the installed ``riskline`` command as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

RISKLINE = str(Path(sys.executable).with_name("riskline"))


def riskline(*args: object, env: dict[str, str] | None = None,
             cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([RISKLINE, *map(str, args)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})}, cwd=cwd)
