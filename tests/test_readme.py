"""The README's Python block runs as written, and gives what the command line gives."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from detection.events import to_event
from detection.model_files import load_model
from detection.scoring import score_conversations
from tests.cli_helpers import riskline

ROOT = Path(__file__).resolve().parents[1]


def _python_block() -> str:
    """The first ```python block after the heading "### From Python"."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"\n### From Python\n.*?```python\n(.*?)```", readme, re.DOTALL)
    assert found, "README.md: no ```python block after ### From Python"
    return found.group(1)


def test_the_packages_public_names_are_loaded_on_first_use() -> None:
    """``from detection import ...`` gives each name of ``detection.__all__``, the same object as in its module;
    ``import detection`` alone loads none of them (nor numpy), so the command line starts no slower."""
    probe = ("import sys, detection\n"
             "before = sorted(m for m in sys.modules if m.startswith(('detection.', 'numpy')))\n"
             "import importlib\n"
             "same = all(getattr(importlib.import_module(detection._HOMES[n]), n) is getattr(detection, n)\n"
             "           for n in detection.__all__)\n"
             "try:\n    detection.nope\nexcept AttributeError as exc:\n    missing = str(exc)\n"
             "print(before, same, sorted(detection._HOMES) == sorted(detection.__all__) == dir(detection), missing)")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "[] True True module 'detection' has no attribute 'nope'"


def test_the_readmes_python_block_scores_as_riskline_score_does(tmp_path: Path) -> None:
    """Run from the checkout's root as a reader would, with the default model: its three riskiest sample
    conversations are those of ``riskline score``, field for field; its three messages scored one a call
    are those three scored at once, to the last digit; its summary is the last of them."""
    env = {k: v for k, v in os.environ.items() if k != "RISKLINE_MODEL"}
    done = subprocess.run([sys.executable, "-c", _python_block()], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    printed = done.stdout.splitlines()
    assert len(printed) == 7, done.stdout

    scored = riskline("score", ROOT / "data_samples" / "sample.jsonl", "-o", tmp_path / "s.jsonl",
                      env={"RISKLINE_MODEL": None})
    assert scored.returncode == 0, scored.stderr
    rows = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines()]
    riskiest = sorted(rows, key=lambda r: -r["risk_score"])[:3]
    assert printed[:3] == [f"{r['conversation_id']} {r['risk_level']} {r['alert_message_id']} "
                           f"{r['evidence_message_ids']}" for r in riskiest]

    texts = [("a", "hey how old r u"), ("b", "15"), ("a", "send me a private pic")]
    events = [to_event({"conversation_id": "c1", "message_id": f"m{i}", "sender_id": sender,
                        "timestamp": 1767225600 + 60 * i, "text": text}) for i, (sender, text) in enumerate(texts)]
    model = load_model(ROOT / "models" / "default")  # the block's, run from the root
    [whole], steps = score_conversations(model, events)
    one_by_one = [line.split() for line in printed[3:6]]
    at_once = [float(s) for s in steps.risk_score]
    assert [(m, float(s), level) for m, s, level in one_by_one] == [
        (m, s, model.thresholds.level(s)) for m, s in zip(steps.message_id, at_once, strict=True)]
    assert printed[6] == repr(whole)
