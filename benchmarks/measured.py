"""A command run as a whole process, as a user runs it, for its seconds and its peak memory: for the scripts
beside this one (``from measured import ...``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

RISKLINE = str(Path(sys.executable).with_name("riskline"))
# run by a process of its own, which waits for the command: the seconds from its start to its end, and the
# largest resident set of any one of its processes (each is reaped into RUSAGE_CHILDREN as it ends)
_MEASURE = ("import json, resource, subprocess, sys, time; t = time.perf_counter(); "
            "done = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
            "print(json.dumps([time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "
            "done.returncode, done.stdout, done.stderr]))")


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_mib: float
    stdout: str
    stderr: str


def measured(command: Sequence[object], env: Mapping[str, str] | None = None) -> Measured:
    """``command`` run once, with ``env`` set beside this process's environment; where it fails, a
    ``SystemExit`` naming it and ending with what it said."""
    done = subprocess.run([sys.executable, "-c", _MEASURE, *map(str, command)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, check=True)
    seconds, kib, status, out, err = json.loads(done.stdout)
    if status:
        named = " ".join(Path(str(part)).name if i == 0 else str(part) for i, part in enumerate(command[:2]))
        raise SystemExit(f"{named} failed (status {status}): {err.strip()[-2000:]}")
    return Measured(seconds, kib / 1024, out, err)


def size(path: Path) -> int:
    """A file's bytes, or a folder's files' together."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else path.stat().st_size


def best_of(runs: int, command: Sequence[object], env: Mapping[str, str] | None = None) -> tuple[float, float]:
    """The best seconds of ``runs`` runs of ``command``, and the largest peak memory (MiB) seen."""
    done = [measured(command, env) for _ in range(runs)]
    return min(d.seconds for d in done), max(d.peak_mib for d in done)
