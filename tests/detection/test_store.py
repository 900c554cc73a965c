import time
from pathlib import Path

import pytest

from detection.state import ConversationState
from detection.store import Conversation, SQLiteStore, open_store


def _intervention(cid: str, level: str) -> dict[str, object]:
    return {"intervention_id": f"{cid}-{level}", "conversation_id": cid, "level": level}


def test_commit_is_durable_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SQLiteStore(path)
    state = ConversationState("c1", n_messages=2, sender_mass=(("a", 5),), evidence=((9, 1, "m1"),))
    store.commit([Conversation(state, "high", frozenset({"high"}))], [("c1", "m1", {"risk_score": 0.5})],
                 [_intervention("c1", "high")], ["webhook", "audit_log"])
    store.close()
    again = open_store(f"sqlite:///{path}")
    assert again.load(["c1", "nope"]) == {"c1": Conversation(state, "high", frozenset({"high"}))}
    assert again.answered([("c1", "m1"), ("c1", "m2")]) == {("c1", "m1"): {"risk_score": 0.5}}
    assert again.outbox_stats()[0] == 2
    assert [i["intervention_id"] for i in again.interventions("c1")] == ["c1-high"]


def test_outbox_delivery_and_retry_bookkeeping(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    store.commit([], [], [_intervention("c1", "high")], ["webhook"])
    store.commit([], [], [_intervention("c1", "high")], ["webhook"])  # a repeat is ignored
    now = time.time()
    (item,) = store.due(now + 1, 10)
    assert item.attempts == 0 and item.payload["level"] == "high"
    store.failed(item.intervention_id, "webhook", now + 60, "boom")
    assert store.due(now + 1, 10) == []
    assert store.due(now + 61, 10)[0].attempts == 1
    assert store.interventions("c1")[0]["delivered"] is False
    store.delivered(item.intervention_id, "webhook", now)
    assert store.due(now + 1000, 10) == [] and store.outbox_stats() == (0, None)
    assert store.interventions("c1")[0]["delivered"] is True


def test_bad_locations(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        open_store(str(tmp_path / "missing" / "s.db"))
    with pytest.raises(ValueError, match="unsupported store"):
        open_store("postgres://x")
    (tmp_path / "junk.db").write_text("this is not a database" * 100)
    with pytest.raises(ValueError, match=r"junk\.db"):
        open_store(str(tmp_path / "junk.db"))
