from pathlib import Path

from rich.console import Console

from detection.display import print_riskiest
from detection.model import RiskModel
from detection.readers import read_events
from detection.scoring import score_conversations
from tests.conftest import write_jsonl


def test_table_shows_alert_message_and_evidence_when_wide(model: RiskModel, tmp_path: Path,
                                                          synth_rows: list[dict[str, object]]) -> None:
    path = write_jsonl(tmp_path / "e.jsonl", synth_rows[:800])
    events = read_events(path).events
    results, _ = score_conversations(model, events)
    riskiest = max(results, key=lambda r: r.risk_score)
    assert riskiest.alert_message_id is not None
    alert_text = next(str(r["text"]) for r in synth_rows if r["message_id"] == riskiest.alert_message_id)
    for width, evidence in ((160, True), (80, False)):
        console = Console(record=True, width=width)
        print_riskiest(results, events, 3, console)
        out = console.export_text()
        assert riskiest.conversation_id in out and f"#{riskiest.alert_index} of {riskiest.n_messages}" in out
        assert alert_text.split()[0] in out
        assert ("top evidence" in out) == evidence
