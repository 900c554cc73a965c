"""``riskline serve`` for real: a server process on loopback and a real webhook receiver."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from detection.client import RisklineClient, verify_signature
from detection.events import to_event
from detection.model import RiskModel
from detection.policy import EscalationPolicy
from detection.scoring import score_conversations
from detection.writers import write_rows
from tests.cli_helpers import riskline
from tests.service_helpers import Receiver, Server, contended_app, free_port, fresh_database, samples, wait_until

pytestmark = pytest.mark.slow
SECRET, TOKEN = "hook-secret", "api-token"
CONTRACT = {"intervention_id", "conversation_id", "level", "action", "risk_score", "trigger_message_id",
            "suspect_id", "evidence_message_ids", "model_version", "created_at"}
CONTRACT_RESULT = {"conversation_id", "message_id", "risk_score", "risk_level", "stage", "intervention"}
EVENT_FIELDS = ("conversation_id", "message_id", "sender_id", "recipient_id", "timestamp", "text", "attachment")


def _events(rows: list[dict[str, object]], conversations: set[str]) -> list[dict[str, object]]:
    return [{k: r[k] for k in EVENT_FIELDS} for r in rows if r["conversation_id"] in conversations]


@pytest.fixture(scope="module")
def picked(model: RiskModel, synth_rows: list[dict[str, object]]) -> dict[str, Any]:
    """Conversations the batch engine alerts on, and some it does not, with batch results."""
    results, steps = score_conversations(model, [to_event(r) for r in synth_rows])
    alerted = [r.conversation_id for r in results if r.alert][:8]
    calm = [r.conversation_id for r in results if not r.alert][:6]
    chosen = set(alerted + calm)
    scores = {(c, m): s for c, m, s in zip(steps.conversation_id, steps.message_id, steps.risk_score.tolist(),
                                           strict=True) if c in chosen}
    return {"alerted": alerted, "calm": calm, "scores": scores,
            "alert_message": {r.conversation_id: r.alert_message_id for r in results if r.conversation_id in chosen},
            "peak_stage": {r.conversation_id: r.peak_stage for r in results if r.conversation_id in chosen},
            "events": _events(synth_rows, chosen)}


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    yield hook
    hook.close()


@pytest.fixture()
def server(model_dir: Path, tmp_path: Path, receiver: Receiver) -> Iterator[Server]:
    proc = Server(model_dir, tmp_path / "state.db", "--webhook-url", receiver.url, "--audit-log",
                  str(tmp_path / "audit.jsonl"), env={"RISKLINE_WEBHOOK_SECRET": SECRET, "RISKLINE_API_TOKEN": TOKEN})
    yield proc
    # SIGTERM: uvicorn shuts down gracefully, then re-raises the signal (exit status -15)
    assert proc.stop() in (0, -15)
    assert '"msg": "stopped"' in proc.log.read_text()


def test_replay_one_message_at_a_time_matches_batch(server: Server, receiver: Receiver, picked: dict[str, Any],
                                                    tmp_path: Path) -> None:
    answers = {}
    for event in picked["events"]:
        response = server.post(event, TOKEN)
        assert response.status_code == 200, response.text
        (result,) = response.json()["results"]
        answers[(result["conversation_id"], result["message_id"])] = result
    assert {k: a["risk_score"] for k, a in answers.items()} == picked["scores"]
    high: dict[str, str] = {}
    for a in answers.values():  # the first message whose answer carries an intervention, per conversation
        if a["intervention"] and a["intervention"]["level"] in ("high", "critical"):
            high.setdefault(a["conversation_id"], a["message_id"])
    assert set(high) == set(picked["alerted"])
    for cid in picked["alerted"]:  # the high-level intervention fires where batch scoring alerts
        assert high[cid] == picked["alert_message"][cid]
    delivered = receiver.wait_for_high(set(picked["alerted"]))
    assert {d["conversation_id"] for d in delivered if d["level"] == "high"} == set(picked["alerted"])
    for record, body in zip(receiver.received[:len(delivered)], delivered, strict=True):  # more may come meanwhile
        assert verify_signature(SECRET, record["body"], record["headers"]["X-Riskline-Signature"])
        assert record["headers"]["X-Riskline-Intervention-Id"] == body["intervention_id"]
        assert record["headers"]["Content-Type"] == "application/json"
        assert set(body) >= CONTRACT
        assert 0.5 <= body["suspect_share"] <= 1.0  # two participants: the suspect carries at least half
        sent = json.dumps(body)  # privacy: interventions name evidence by id, never by its text
        assert not [e["text"] for e in picked["events"] if len(str(e["text"])) > 12 and str(e["text"]) in sent]
    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert sorted(a["intervention_id"] for a in audit) == sorted(d["intervention_id"] for d in delivered)


def test_duplicates_batches_and_conversation_view(server: Server, picked: dict[str, Any]) -> None:
    cid = picked["alerted"][0]
    events = [e for e in picked["events"] if e["conversation_id"] == cid]
    first = server.post({"messages": events}, TOKEN).json()["results"]
    assert [r["message_id"] for r in first] == [e["message_id"] for e in events]
    assert [r["risk_score"] for r in first] == [picked["scores"][(cid, e["message_id"])] for e in events]
    # the contract's fields and whether it was a copy: the stage probabilities the scoring core gives are not sent
    assert all(set(r) == {*CONTRACT_RESULT, "duplicate"} for r in first)
    again = server.post({"messages": events[:3] + events[:1]}, TOKEN).json()["results"]
    assert all(r["duplicate"] for r in again) and again[0]["risk_score"] == first[0]["risk_score"]
    scored = samples(server.http.get("/metrics").text)
    assert scored["riskline_messages_scored_total"] == len(events)  # the copies were answered, not scored again
    assert scored["riskline_risk_score_count"] == len(events)
    client = RisklineClient(server.url, api_token=TOKEN)
    view = client.conversation(cid)
    assert view is not None and view["n_messages"] == len(events)
    # HEAD, wherever GET is answered: its status and headers, no body, and the token all the same
    for path, token, status in [(f"/v1/conversations/{cid}", TOKEN, 200), ("/v1/conversations/never-seen", TOKEN, 404),
                                (f"/v1/conversations/{cid}", "wrong", 401)]:
        head = server.http.head(path, headers={"Authorization": f"Bearer {token}"})
        assert (head.status_code, head.content) == (status, b""), (path, head.status_code)
    assert head.headers["content-type"] == "application/json"
    refused = server.http.put(f"/v1/conversations/{cid}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert refused.status_code == 405 and set(refused.headers["allow"].split(", ")) == {"GET", "HEAD", "DELETE"}
    assert view["current_score"] == first[-1]["risk_score"]
    assert view["risk_score"] == max(r["risk_score"] for r in first)
    assert view["peak_stage"] == picked["peak_stage"][cid] and view["interventions"]  # as batch scoring has it
    assert client.conversation("never-seen") is None
    # ids are the platform's: '/', '?', '#', '%', spaces, non-ASCII and dots are looked up as they were scored
    odd = ["dm/123/456", "a?b=1", "x#y", "50%off", "two words", "café", ".", "..", "../x", "a/../b"]
    hello = {"sender_id": "u", "timestamp": 1_700_000_000, "text": "hi"}
    server.post({"messages": [{**hello, "conversation_id": c, "message_id": "m1"} for c in odd]}, TOKEN)
    for c in odd:
        seen = client.conversation(c)
        assert seen is not None and seen["n_messages"] == 1, c
    assert client.conversation("dm/123") is None  # a prefix of an id is another conversation
    # a conversation in another language is said to be one (the model reads English only)
    assert view["other_language"] is False
    spanish = ["hola, tengo tus fotos", "si no me pagas 200 dolares se las mando a tu familia",
               "tienes una hora, paga con tarjetas de regalo"]
    server.post({"messages": [{**hello, "conversation_id": "es-1", "message_id": f"m{i}", "text": text}
                              for i, text in enumerate(spanish)]}, TOKEN)
    seen = client.conversation("es-1")
    assert seen is not None and seen["other_language"] is True
    client.close()


def _by_conversation(picked: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Each conversation's messages in its order (time, then input order)."""
    by_conversation: dict[str, list[dict[str, Any]]] = {}
    for event in picked["events"]:
        by_conversation.setdefault(event["conversation_id"], []).append(event)
    return {c: sorted(events, key=lambda e: datetime.fromisoformat(e["timestamp"]))
            for c, events in by_conversation.items()}


def _two_days(picked: dict[str, Any], first: int | None = None) -> list[list[dict[str, Any]]]:
    """The first half of each conversation (or its ``first`` messages), then the rest: two days' files,
    every conversation in both."""
    days: list[list[dict[str, Any]]] = [[], []]
    for ordered in _by_conversation(picked).values():
        cut = len(ordered) // 2 if first is None else first
        days[0] += ordered[:cut]
        days[1] += ordered[cut:]
    assert all(days) and len(days[0]) >= 50
    return days


def test_files_sent_a_day_at_a_time_score_as_one_batch_of_all_the_days(server: Server, picked: dict[str, Any]) -> None:
    """A platform's daily files, each sent whole through the client (many conversations a request, each
    going on from the day before): the service carries every conversation's state across, so the scores
    are those of one batch run over all the days (README, "Conversations that go on across files")."""
    by_conversation = _by_conversation(picked)
    days = _two_days(picked)
    client = RisklineClient(server.url, api_token=TOKEN)
    answers = {(a["conversation_id"], a["message_id"]): a["risk_score"] for day in days for a in client.send(day)}
    assert answers == picked["scores"]
    again = client.send(days[0])  # yesterday's file sent once more by mistake: answered, not counted again
    assert all(a["duplicate"] for a in again)
    assert {(a["conversation_id"], a["message_id"]): a["risk_score"] for a in again}.items() <= answers.items()
    for cid, events in by_conversation.items():
        seen = client.conversation(cid)
        assert seen is not None and seen["n_messages"] == len(events), cid
    client.close()


FIRST_DAY = 5  # messages of each conversation in yesterday's file: some alert by then, some later


def test_history_loaded_before_the_service_starts_goes_on_without_its_interventions(
        model: RiskModel, model_dir: Path, tmp_path: Path, picked: dict[str, Any], receiver: Receiver) -> None:
    """``riskline backfill`` loads yesterday into the store; the service started on it goes on from there:
    today's scores are those of one batch over both days, and the interventions are those of the levels
    first reached today (the history's count as raised: none is sent for them, then or later). Loading
    again changes nothing; a bad row stops it before anything is loaded, or with --errors is set aside."""
    by_conversation, days, state = _by_conversation(picked), _two_days(picked, FIRST_DAY), tmp_path / "state.db"
    history = tmp_path / "history.jsonl"
    write_rows(history, days[0])
    broken = tmp_path / "broken.jsonl"
    broken.write_text(history.read_text() + '{"conversation_id": "c", "message_id": "m"}\n')
    refused = riskline("backfill", broken, "--model", model_dir, "--state", state)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert f"{broken}: line {len(days[0]) + 1}: field 'sender_id'" in refused.stderr and not state.exists()
    loaded = riskline("backfill", broken, "--model", model_dir, "--state", state, "--errors", tmp_path / "bad.jsonl")
    assert loaded.returncode == 0, loaded.stderr
    assert f"loaded {len(days[0])} messages (0 held already) in {len(by_conversation)} conversations" in loaded.stderr
    assert "1 row rejected" in loaded.stderr and len((tmp_path / "bad.jsonl").read_text().splitlines()) == 1
    assert loaded.stderr.endswith("(no interventions raised; `riskline score` on the same input lists their alerts, "
                                  "for review)\n")  # levels with an action were reached (below)
    again = riskline("backfill", history, "--model", model_dir, "--state", state)
    assert f"loaded {len(days[0])} messages ({len(days[0])} held already)" in again.stderr, again.stderr
    # the levels each conversation reaches, as the service's policy moves through them, and on which day
    policy, due_today, raised_yesterday = EscalationPolicy.load(None), set(), set()
    for cid, ordered in by_conversation.items():
        level, raised = "none", frozenset[str]()
        for i, event in enumerate(ordered):
            level = policy.next_level(model.thresholds, level, picked["scores"][(cid, event["message_id"])])
            for due in policy.due(level, raised):
                (due_today if i >= FIRST_DAY else raised_yesterday).add((cid, due))
                raised |= {due}
    assert due_today and raised_yesterday, (due_today, raised_yesterday)  # both days reach levels with an action
    proc = Server(model_dir, state, "--webhook-url", receiver.url, "--webhook-secret", SECRET)
    try:
        client = RisklineClient(proc.url)
        answers = {(a["conversation_id"], a["message_id"]): a["risk_score"] for a in client.send(days[1])}
        assert answers == {k: v for k, v in picked["scores"].items() if k in answers} and len(answers) == len(days[1])
        held = {(cid, i["level"]) for cid in by_conversation
                for i in client.conversation(cid)["interventions"]}  # type: ignore[index]
        assert held == due_today
        assert {(d["conversation_id"], d["level"]) for d in receiver.wait_for(len(due_today))} == due_today
        client.close()
    finally:
        proc.stop()


def _later(event: dict[str, Any], days: int) -> dict[str, Any]:
    stamp = event["timestamp"]
    moved = datetime.fromisoformat(stamp) + timedelta(days=days) if isinstance(stamp, str) else None
    return {**event, "timestamp": moved.isoformat() if moved else float(stamp) + days * 86400}  # type: ignore[arg-type]


def test_an_erased_conversation_is_forgotten_and_starts_again_with_new_intervention_ids(
        server: Server, receiver: Receiver, picked: dict[str, Any]) -> None:
    cid, calm = picked["alerted"][0], picked["calm"][0]
    events = [e for e in picked["events"] if e["conversation_id"] == cid]
    client = RisklineClient(server.url, api_token=TOKEN)
    first = client.send(events + [e for e in picked["events"] if e["conversation_id"] == calm])[:len(events)]
    (before,) = [d for d in receiver.wait_for_high({cid}) if d["level"] == "high"]
    assert server.http.delete(f"/v1/conversations/{cid}").status_code == 401  # the token guards erasure too
    assert client.erase(cid) is True
    assert client.conversation(cid) is None and client.erase(cid) is False
    assert client.conversation(calm) is not None  # another conversation is untouched
    # the same messages a week later: answers were erased too, so they are scored afresh, from the start
    again = client.send([_later(e, 7) for e in events])
    assert not any(a["duplicate"] for a in again)
    assert [a["risk_score"] for a in again] == [a["risk_score"] for a in first]
    view = client.conversation(cid)
    assert view is not None and view["n_messages"] == len(events)

    def new_high(delivered: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [d for d in delivered if d["level"] == "high" and d["conversation_id"] == cid
                and d["intervention_id"] != before["intervention_id"]]

    after = new_high(receiver._wait(lambda delivered: bool(new_high(delivered)), timeout=15.0))
    # a new id: a receiver that de-duplicates by id would have dropped the resumed conversation's alert
    assert [d["trigger_message_id"] for d in after] == [before["trigger_message_id"]]
    assert [i["intervention_id"] for i in view["interventions"] if i["level"] == "high"] == \
        [after[0]["intervention_id"]]
    assert all(a["duplicate"] for a in client.send([_later(e, 7) for e in events]))
    odd = "dm/1?x=2#y 50%off café"  # erased by its id as sent, not by a prefix or a decoding of it
    client.send([{**events[0], "conversation_id": c, "message_id": "m1"} for c in (odd, "dm/1", "..", ".")])
    assert client.erase(odd) is True and client.conversation(odd) is None
    assert client.conversation("dm/1") is not None
    assert client.erase("..") is True and client.conversation("..") is None  # not a step up the path
    assert client.conversation(".") is not None
    # an id as messages' ids are held, trimmed: before, " dm/1 " was looked up as it is, and never found
    assert client.conversation(" dm/1 ") == client.conversation("dm/1") is not None
    too_long = server.http.get(f"/v1/conversations/{'c' * 1025}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert too_long.status_code == 404 and too_long.json()["detail"].endswith(
        "(no message could have that id: 1025 bytes long: an id may be at most 1024 (UTF-8))")
    assert client.erase(" dm/1 ") is True and client.conversation("dm/1") is None
    client.close()


def test_bad_input_gets_clear_4xx_never_500(server: Server, model: RiskModel) -> None:
    good = {"conversation_id": "c", "message_id": "m", "sender_id": "u", "timestamp": 1700000000, "text": "hi"}
    cases: list[tuple[Any, int, str]] = [
        ({**good, "timestamp": "soon"}, 422, "timestamp"),
        ({k: v for k, v in good.items() if k != "text"}, 422, "text"),
        ({"messages": [good, {**good, "message_id": 5.5}]}, 422, "message_id"),
        ({**good, "conversation_id": "c" * 1025}, 422, "an id may be at most 1024"),
        ({**good, "text": "x" * 1_000_001}, 422, "a message's text may be at most 1000000"),  # under the body's limit
        ({"messages": []}, 422, "messages"),
        ({"messages": [good] * 1001}, 422, "at most 1000"),
        ([1, 2], 422, "expected a message event"),
        ({"messages": ["x"]}, 422, "JSON object"),
    ]
    for body, status, needle in cases:
        response = server.post(body, TOKEN)
        assert response.status_code == status and needle in response.text, (body, response.text)
    # where: the message's place in the list and its field, or the field of a message sent alone
    assert server.post({"messages": [good, {**good, "message_id": 5.5}]}, TOKEN).json()["detail"][0]["loc"] == [
        "body", "messages", 1, "message_id"]
    assert server.post({**good, "timestamp": "soon"}, TOKEN).json()["detail"][0]["loc"] == ["body", "timestamp"]
    most = server.post({"messages": [{**good, "message_id": f"b{i}"} for i in range(1000)]}, TOKEN)
    assert most.status_code == 200 and len(most.json()["results"]) == 1000  # as many as it takes, no fewer
    raw = server.http.post("/v1/messages", content=b"{not json", headers={"Authorization": f"Bearer {TOKEN}"})
    assert raw.status_code == 422
    # a key given twice: json keeps the last, a filter in front of the service may have read the first
    for twice, field in [(b'{"conversation_id": "c", "message_id": "m2", "sender_id": "u", "timestamp": 1700000000, '
                          b'"text": "hi", "text": "pay me"}', "text"),
                         (b'{"messages": [], "messages": [{"conversation_id": "c", "message_id": "m2", "sender_id": '
                          b'"u", "timestamp": 1700000000, "text": "hi"}]}', "messages")]:
        answer = server.http.post("/v1/messages", content=twice, headers={"Authorization": f"Bearer {TOKEN}"})
        assert answer.status_code == 422 and answer.json()["detail"][0]["loc"][-1] == field, answer.text
        assert "given twice" in answer.text
    big = server.http.post("/v1/messages", content=b"x" * 2_100_000, headers={"Authorization": f"Bearer {TOKEN}"})
    assert big.status_code == 413
    assert server.post(good).status_code == 401
    assert server.post(good, "wrong").status_code == 401
    assert server.http.get("/v1/conversations/c").status_code == 401
    for header, status in [(f"bearer {TOKEN}", 200), (f"BEARER  {TOKEN}", 200), (f"Basic {TOKEN}", 401),
                           (f"Bearer{TOKEN}", 401), ("Bearer", 401), (TOKEN, 401)]:  # HTTP's scheme knows no case
        assert server.http.post("/v1/messages", json=good, headers={"Authorization": header}).status_code == status, \
            header
    for open_path in ("/healthz", "/readyz", "/metrics"):
        assert server.http.get(open_path).status_code == 200
        head = server.http.head(open_path)  # as a load balancer's health check asks: the status, no body
        assert head.status_code == 200 and head.content == b"", (open_path, head.status_code)
    assert server.http.get("/readyz").json() == {"status": "ready", "model_version": model.model_version}
    assert server.post(good, TOKEN).status_code == 200
    metrics = server.http.get("/metrics").text
    assert 'riskline_http_requests_total{method="POST",route="/v1/messages",status="422"}' in metrics
    assert "riskline_outbox_depth" in metrics and "riskline_model_info{model_version=" in metrics


def test_a_fault_answered_500_is_counted_and_logged_all_the_same(caplog: pytest.LogCaptureFixture) -> None:
    """Starlette answers a fault 500 and raises it on: the request went by neither
    riskline_http_requests_total nor the log, so a dashboard or alert on 5xx never saw one."""
    import httpx
    from fastapi import FastAPI

    from detection.metrics import Metrics
    from detection.service import Guard

    app = FastAPI()

    @app.get("/v1/conversations/{conversation_id}")
    async def broken(conversation_id: str) -> None:
        raise RuntimeError("a fault")

    metrics = Metrics()

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=Guard(app, None, metrics), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://riskline") as client:
            return await client.get("/v1/conversations/c1", headers={"X-Request-Id": "r-1"})

    with caplog.at_level("INFO", logger="riskline.service"):
        answer = asyncio.run(call())
    assert answer.status_code == 500 and answer.headers["x-request-id"] == "r-1"
    counted = samples(metrics.render().decode())
    assert counted['riskline_http_requests_total{method="GET",route="/v1/conversations/{id}",status="500"}'] == 1
    assert [(r.getMessage(), r.__dict__["status"], r.__dict__["request_id"]) for r in caplog.records] == [
        ("request", 500, "r-1")]


def test_every_answer_carries_a_request_id_that_its_log_line_names(server: Server) -> None:
    """A caller's X-Request-Id (a proxy's, say) comes back and names the request's log line; one that is not
    visible ASCII of at most 200 characters, or none, is replaced by a new one, different each time."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    event = {"conversation_id": "rid", "message_id": "m1", "sender_id": "u", "timestamp": 1.7e9, "text": "hey"}
    kept = server.http.post("/v1/messages", json=event, headers={**auth, "X-Request-Id": "lb-7f3a/42"})
    assert kept.status_code == 200 and kept.headers["x-request-id"] == "lb-7f3a/42"
    made = {}
    for name, headers, path, status in [("none", auth, "/v1/conversations/rid", 200),
                                        ("a space", {**auth, "X-Request-Id": "a b"}, "/v1/conversations/rid", 200),
                                        ("too long", {**auth, "X-Request-Id": "x" * 201}, "/v1/conversations/rid", 200),
                                        ("no token", {"X-Request-Id": "é".encode()},
                                         "/v1/conversations/rid", 401),
                                        ("open path", {}, "/healthz", 200)]:
        response = server.http.get(path, headers=headers)
        assert response.status_code == status, name
        made[name] = response.headers["x-request-id"]
        assert re.fullmatch("[0-9a-f]{32}", made[name]), (name, made[name])
    assert len(set(made.values())) == len(made)
    assert server.http.get("/healthz", headers={"X-Request-Id": "y" * 200}).headers["x-request-id"] == "y" * 200
    assert server.logged("lb-7f3a/42") == [("/v1/messages", 200)]
    assert server.logged(made["no token"]) == [("/v1/conversations/{id}", 401)]
    assert server.logged(made["open path"]) == [("/healthz", 200)]


def test_the_service_answers_as_its_openapi_document_says(server: Server, tmp_path: Path) -> None:
    """Schemathesis, reading the service's own /openapi.json: requests made from the document's schemas and
    from near them, and sequences of them (post, read, erase, read again), every answer held to the
    document: never a 500, no status or content type it does not list, bodies that match its schemas,
    every request it allows accepted, none without the token, an erased conversation gone. Not held: that
    whatever it does not allow is refused (negative_data_rejection), as the service takes more than JSON
    Schema can say (whole numbers as ids, Unix seconds as strings, any ISO-8601 form). One worker: two
    would erase and write each other's conversations. Before the document was written out, FastAPI's own
    said nothing of the body, 401, 404, 413, 503 or /metrics' text, and a 405 there allowed GET only. Ten
    operations: HEAD wherever GET is answered."""
    done = subprocess.run(
        [str(Path(sys.executable).with_name("schemathesis")), "run", f"{server.url}/openapi.json", "--header",
         f"Authorization: Bearer {TOKEN}", "--checks", "all", "--exclude-checks", "negative_data_rejection",
         "--max-examples", "150", "--seed", "7", "--workers", "1", "--no-color"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-6000:]
    assert "Tested: 10" in done.stdout, done.stdout[-3000:]
    generated = re.search(r"(\d+) generated, (\d+) passed", done.stdout)
    assert generated and int(generated[1]) == int(generated[2]) >= 500, done.stdout[-3000:]
    assert '"level": "error"' not in server.log.read_text()


def test_concurrent_requests_to_one_conversation_lose_nothing(server: Server) -> None:
    def send(worker: int) -> None:
        for i in range(25):
            event = {"conversation_id": "busy", "message_id": f"w{worker}-{i}", "sender_id": f"u{worker % 2}",
                     "timestamp": 1_700_000_000 + worker * 100 + i, "text": f"message {i} from {worker}"}
            answer = server.post(event, TOKEN)  # scored in one call with whatever else queued: its own answer
            answered[event["message_id"]] = (answer.status_code, [r["message_id"] for r in answer.json()["results"]])

    answered: dict[str, tuple[int, list[str]]] = {}  # a thread's failed assert would be a warning, not a failure
    threads = [threading.Thread(target=send, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answered == {f"w{w}-{i}": (200, [f"w{w}-{i}"]) for w in range(8) for i in range(25)}
    view = server.http.get("/v1/conversations/busy", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert view["n_messages"] == 200


def test_webhook_retries_with_the_same_id(model_dir: Path, tmp_path: Path, picked: dict[str, Any]) -> None:
    hook = Receiver(fail_first=2)
    proc = Server(model_dir, tmp_path / "s.db", "--webhook-url", hook.url, "--webhook-secret", SECRET)
    try:
        cid = picked["alerted"][0]
        assert proc.post({"messages": [e for e in picked["events"] if e["conversation_id"] == cid]}).status_code == 200
        expected = {i["intervention_id"] for i in proc.http.get(f"/v1/conversations/{cid}").json()["interventions"]}
        assert expected
        delivered = hook.wait_for(len(expected))
        assert {d["intervention_id"] for d in delivered} == expected
        attempts: dict[str, list[float]] = {}
        for record in hook.received:
            attempts.setdefault(record["headers"]["X-Riskline-Intervention-Id"], []).append(record["time"])
        failed = {r["headers"]["X-Riskline-Intervention-Id"] for r in hook.received[:2]}
        for iid in failed:  # refused, then offered again under the same id, after a backoff
            assert len(attempts[iid]) >= 2 and attempts[iid][1] - attempts[iid][0] >= 0.2
    finally:
        proc.stop()
        hook.close()


def test_state_and_outbox_survive_kill_9(model_dir: Path, tmp_path: Path, picked: dict[str, Any]) -> None:
    port = free_port()  # nothing listens here yet: every delivery fails
    url = f"http://127.0.0.1:{port}/hook"
    state = tmp_path / "state.db"
    cid = picked["alerted"][1]
    events = [e for e in picked["events"] if e["conversation_id"] == cid]
    proc = Server(model_dir, state, "--webhook-url", url, "--webhook-secret", SECRET)
    answers = proc.post({"messages": events[:-2]}).json()["results"]
    raised = [a["intervention"]["intervention_id"] for a in answers if a["intervention"]]
    proc.kill()
    assert raised, "the first part of the conversation should raise an intervention"
    hook = Receiver(port=port)
    again = Server(model_dir, state, "--webhook-url", url, "--webhook-secret", SECRET)
    try:
        # A message can raise two levels at once (high and critical); the answer names one of them.
        deadline = time.monotonic() + 30
        while not set(raised) <= {d["intervention_id"] for d in hook.delivered()} and time.monotonic() < deadline:
            time.sleep(0.05)
        assert set(raised) <= {d["intervention_id"] for d in hook.delivered()}
        rest = again.post({"messages": events}).json()["results"]
        assert [r["duplicate"] for r in rest] == [True] * (len(events) - 2) + [False, False]
        assert [r["risk_score"] for r in rest] == [picked["scores"][(cid, e["message_id"])] for e in events]
        view = again.http.get(f"/v1/conversations/{cid}").json()
        assert view["n_messages"] == len(events)
    finally:
        again.stop()
        hook.close()


def test_startup_errors_are_one_line(model_dir: Path, tmp_path: Path) -> None:
    from tests.cli_helpers import riskline

    cases = [(["--model", str(tmp_path / "nope")], "no such model"),
             (["--model", str(model_dir), "--webhook-url", "http://127.0.0.1:9/x"], "needs --webhook-secret"),
             (["--model", str(model_dir), "--state", str(tmp_path / "no" / "s.db")], "does not exist"),
             (["--model", str(model_dir), "--state", "postgresql://riskline:s3cret@127.0.0.1:9/db"],
              "riskline: error: state store postgresql://riskline:***@127.0.0.1:9/db: connection"),
             (["--model", str(model_dir), "--port", "70000"], "setting 'port'"),
             (["--model", str(model_dir), "--api-token", ""], "setting 'api_token': is empty"),
             (["--model", str(model_dir), "--host", "203.0.113.9"], "cannot listen on 203.0.113.9:8080: ")]
    with socket.socket() as taken:  # a port another server holds
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cases.append((["--model", str(model_dir), "--port", str(port)],
                      f"riskline: error: cannot listen on 127.0.0.1:{port}: the port is in use"))
        for args, needle in cases:
            done = riskline("serve", *args)
            assert done.returncode == 2 and needle in done.stderr and "Traceback" not in done.stderr, done.stderr
            assert len(done.stderr.splitlines()) == 1, done.stderr  # nothing started, so nothing else logged


def test_garbage_never_gets_a_500(server: Server) -> None:
    import random

    rng = random.Random(3)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    bodies = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))) for _ in range(40)]
    bodies += [b"null", b"{}", b'{"messages": null}', b'{"messages": [null]}', b'"text"', b"1e999",
                b'{"conversation_id": [], "message_id": {}, "sender_id": 1, "timestamp": [], "text": 1}',
                b'{"conversation_id": "c", "message_id": "m", "sender_id": "u", "timestamp": 1e300, "text": ""}',
                b"[" * 100_000 + b"]" * 100_000, b'{"timestamp": 1' + b"0" * 5000 + b"}",
                b'{"conversation_id": "c", "message_id": "m", "sender_id": "u", "timestamp": 1' + b"0" * 400 + b"}",
                b'{"conversation_id": "c", "message_id": "m", "sender_id": "u", "timestamp": 1, "text": "\\ud800"}']
    for body in bodies:
        response = server.http.post("/v1/messages", content=body, headers=headers)
        assert 400 <= response.status_code < 500, (body, response.status_code, response.text)
    assert server.http.get("/readyz").status_code == 200
    # an unknown id is named in the 404, cut: a path can be as long as the server takes
    long_id = "x" * 10_000
    for method in ("GET", "DELETE"):
        response = server.http.request(method, f"/v1/conversations/{long_id}", headers=headers)
        assert response.status_code == 404 and len(response.text) < 400, (method, len(response.text))
        assert "(10002 characters)" in response.json()["detail"]
    # a client gone half-way through its body: one request line (499, as nginx logs it), no traceback
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(f"POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                     "Content-Length: 100\r\n\r\n[{\"conversation_id\": ".encode())
    deadline = time.time() + 10
    while '"status": 499' not in server.log.read_text() and time.time() < deadline:
        time.sleep(0.05)
    log = server.log.read_text()
    assert '"route": "/v1/messages", "status": 499' in log, log[-2000:]
    assert "Traceback" not in log and "Exception in ASGI application" not in log, log[-2000:]
    page = samples(server.http.get("/metrics").text)
    assert page['riskline_http_requests_total{method="POST",route="/v1/messages",status="499"}'] == 1
    assert server.http.get("/readyz").status_code == 200


def test_a_compressed_body_is_read_within_the_limit(server: Server) -> None:
    import gzip
    import zlib

    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    hello = {"conversation_id": "packed", "sender_id": "u", "timestamp": 1_700_000_000, "text": "hi"}
    body = json.dumps({"messages": [{**hello, "message_id": f"m{i}"} for i in range(3)]}).encode()

    def post(content: bytes, coding: str) -> Any:
        return server.http.post("/v1/messages", content=content, headers={**headers, "Content-Encoding": coding})

    members = gzip.compress(body[:40]) + gzip.compress(body[40:])  # a gzip stream may be several members
    for coding, packed in (("gzip", gzip.compress(body)), ("gzip", members), ("deflate", zlib.compress(body))):
        response = post(packed, coding)  # before: 422, "not valid JSON: 'utf-8' codec can't decode byte 0x8b"
        assert response.status_code == 200, response.text
        assert [r["message_id"] for r in response.json()["results"]] == ["m0", "m1", "m2"]
    bomb = gzip.compress(b" " * 50_000_000)  # 48 KB sent, 50 MB once decompressed: never made in full
    assert len(bomb) < 100_000
    response = post(bomb, "gzip")
    assert (response.status_code, response.json()) == (413, {"detail": "body over 2000000 bytes once decompressed"})
    for content, coding, status, needle in [(gzip.compress(body)[:-12], "gzip", 422, "gzip data cut short"),
                                            (b"not gzip at all", "gzip", 422, "not valid gzip data"),
                                            (gzip.compress(body) + b"tail", "gzip", 422, "not valid gzip data"),
                                            (zlib.compress(body) + b"tail", "deflate", 422, "after the end"),
                                            (body, "br", 415, "Content-Encoding 'br' is not supported")]:
        response = post(content, coding)
        assert response.status_code == status and needle in response.text, (coding, response.text)
    assert server.post({**hello, "message_id": "m3"}, TOKEN).status_code == 200  # and plain bodies as before
    # the coding's name in any case, as HTTP has it, x-gzip as gzip, an empty one as none
    for coding in ("GZIP", "Deflate", "x-gzip"):
        packed = zlib.compress(body) if coding == "Deflate" else gzip.compress(body)
        assert post(packed, coding).status_code == 200, coding
    assert post(body, "").status_code == 200
    # a body of the limit exactly (2,000,000 bytes, sent or once decompressed) is taken; a byte more is not
    one = json.dumps({**hello, "message_id": "m4"}).encode()
    exactly = one + b" " * (2_000_000 - len(one))
    assert server.http.post("/v1/messages", content=exactly, headers=headers).status_code == 200
    assert server.http.post("/v1/messages", content=exactly + b" ", headers=headers).status_code == 413
    assert post(gzip.compress(exactly), "gzip").status_code == 200
    response = post(gzip.compress(exactly + b" "), "gzip")
    assert (response.status_code, response.json()) == (413, {"detail": "body over 2000000 bytes once decompressed"})


@pytest.mark.parametrize("kind", ["redis", "postgres"])
def test_two_replicas_on_one_store_answer_as_one(model_dir: Path, tmp_path: Path, picked: dict[str, Any],
                                                 kind: str, request: pytest.FixtureRequest) -> None:
    if kind == "redis":
        import redis

        url = request.getfixturevalue("redis_url").rsplit("/", 1)[0] + "/7"  # a database of its own
        redis.Redis.from_url(url).flushdb()
    else:
        url = fresh_database(request.getfixturevalue("postgres_url"))
    replicas = [Server(model_dir, url, log_dir=tmp_path) for _ in range(2)]
    try:
        scores = {}
        for i, event in enumerate(picked["events"]):  # alternate replicas message by message
            (result,) = replicas[i % 2].post(event).json()["results"]
            scores[(result["conversation_id"], result["message_id"])] = result["risk_score"]
        assert scores == picked["scores"]
        for cid in picked["alerted"]:
            view = replicas[1].http.get(f"/v1/conversations/{cid}").json()
            assert view["alert_message_id"] == picked["alert_message"][cid]
            assert sorted(i["level"] for i in view["interventions"]) in (["high"], ["critical", "high"])

        def send(worker: int) -> None:
            for j in range(20):
                event = {"conversation_id": "shared", "message_id": f"w{worker}-{j}", "sender_id": "u",
                         "timestamp": 1_700_000_000 + worker * 100 + j, "text": f"message {j}"}
                assert replicas[worker % 2].post(event).status_code == 200

        threads = [threading.Thread(target=send, args=(w,)) for w in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert replicas[0].http.get("/v1/conversations/shared").json()["n_messages"] == 120
    finally:
        for replica in replicas:
            replica.stop()


def test_postgres_restarting_under_the_service_gets_503_then_service_as_before(
        model_dir: Path, tmp_path: Path, picked: dict[str, Any], receiver: Receiver) -> None:
    """The database goes away (as in a crash) and comes back: no 500, nothing accepted lost or counted twice,
    and the service carries on without a restart of its own, interventions delivered."""
    from tests.service_helpers import restart_postgres, start_postgres, stop_postgres

    folder, url = start_postgres()
    server = Server(model_dir, url, "--webhook-url", receiver.url, log_dir=tmp_path,
                    env={"RISKLINE_WEBHOOK_SECRET": SECRET})
    try:
        events = picked["events"]
        half = len(events) // 2
        assert server.post({"messages": events[:half]}).status_code == 200
        stop_postgres(folder, mode="immediate", remove=False)
        down = server.post({"messages": events[half:]})
        assert down.status_code == 503 and "retry with the same message ids" in down.json()["detail"], down.text
        assert server.http.get("/readyz").status_code == 503
        for cid in picked["alerted"][:3]:  # a reviewer's tool polling: one line of it, not one a request
            assert server.http.get(f"/v1/conversations/{cid}").status_code == 503
        [read_failed] = [json.loads(line) for line in server.log.read_text().splitlines()
                         if '"msg": "reading a conversation failed"' in line]
        assert read_failed["failed_not_logged"] == 0 and "OperationalError" in read_failed["exc"]
        assert "riskline_state_store_up 0.0" in server.http.get("/metrics").text
        restart_postgres(folder, url)
        again = server.post({"messages": events})  # the client retries all it sent, the first half again too
        assert again.status_code == 200 and server.http.get("/readyz").status_code == 200
        results = again.json()["results"]
        assert [r["duplicate"] for r in results] == [True] * half + [False] * (len(events) - half)
        assert {(r["conversation_id"], r["message_id"]): r["risk_score"] for r in results} == picked["scores"]
        for cid in picked["alerted"]:
            view = server.http.get(f"/v1/conversations/{cid}").json()
            assert view["alert_message_id"] == picked["alert_message"][cid]
        delivered = receiver.wait_for_high(set(picked["alerted"]))
        assert {d["conversation_id"] for d in delivered if d["level"] == "high"} == set(picked["alerted"])
        assert "riskline_state_store_up 1.0" in server.http.get("/metrics").text
    finally:
        server.stop()
        stop_postgres(folder)


def test_a_resend_after_the_dedup_window_is_scored_again(model_dir: Path, tmp_path: Path) -> None:
    """Within ``--dedup-hours`` of a conversation's last message a resent id is a duplicate; after it,
    the answer is forgotten (the store does not grow for ever) and the message scored as new."""
    config = tmp_path / "riskline.yaml"
    config.write_text("dedup-hours: a week\n")  # wrong, and overridden by the flag: warned of, as a JSON log line
    server = Server(model_dir, tmp_path / "state.db", "--dedup-hours", "0.001", "--config", str(config))  # 3.6 s
    try:
        first = json.loads(server.log.read_text().splitlines()[0])
        assert (first["level"], first["logger"], first["setting"], first["overridden_by"]) == (
            "warning", "riskline.settings", "dedup_hours", "--dedup-hours"), first
        event = {"conversation_id": "c", "message_id": "m0", "sender_id": "u", "timestamp": 1_700_000_000,
                 "text": "hi"}
        assert server.post(event).json()["results"][0]["duplicate"] is False
        assert server.post(event).json()["results"][0]["duplicate"] is True
        deadline = time.time() + 15
        while (again := server.post(event).json()["results"][0])["duplicate"] and time.time() < deadline:
            time.sleep(0.2)
        assert again["duplicate"] is False and time.time() < deadline
        assert server.http.get("/v1/conversations/c").json()["n_messages"] == 2
        assert samples(server.http.get("/metrics").text)["riskline_answers_forgotten_total"] >= 1
    finally:
        server.stop()


def test_a_conversation_idle_past_the_retention_is_erased(model_dir: Path, tmp_path: Path) -> None:
    """``--retention-days``: a conversation idle that long is erased whole (``GET`` says 404) while one still
    written to stays; a later message starts the erased one anew."""
    server = Server(model_dir, tmp_path / "state.db", "--retention-days", "0.00006")  # 5.2 s
    try:
        hello = {"sender_id": "u", "timestamp": 1_700_000_000, "text": "hi"}
        server.post({**hello, "conversation_id": "idle", "message_id": "m0"})
        deadline, n = time.time() + 20, 0
        while server.http.get("/v1/conversations/idle").status_code == 200 and time.time() < deadline:
            n += 1
            server.post({**hello, "conversation_id": "busy", "message_id": f"m{n}"})
            time.sleep(0.2)
        assert server.http.get("/v1/conversations/idle").status_code == 404 and time.time() < deadline
        assert server.http.get("/v1/conversations/busy").json()["n_messages"] == n
        assert '"msg": "conversations erased"' in server.log.read_text()
        assert samples(server.http.get("/metrics").text)["riskline_conversations_retired_total"] == 1  # not busy
        (again,) = server.post({**hello, "conversation_id": "idle", "message_id": "m0"}).json()["results"]
        assert again["duplicate"] is False
        assert server.http.get("/v1/conversations/idle").json()["n_messages"] == 1
    finally:
        server.stop()


def test_a_store_too_busy_to_commit_gets_503_and_a_retry_is_counted_once(model_dir: Path, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from detection.processor import MAX_ATTEMPTS

    app, store = contended_app(model_dir, tmp_path)
    store.busy = MAX_ATTEMPTS  # every try of one request
    event = {"conversation_id": "c", "message_id": "m0", "sender_id": "u", "timestamp": 1_700_000_000, "text": "hi"}
    with TestClient(app) as client:
        busy = client.post("/v1/messages", json=event)
        assert busy.status_code == 503 and "retry with the same message ids" in busy.json()["detail"]
        assert client.post("/v1/messages", json=event).status_code == 200
        assert client.post("/v1/messages", json=event).json()["results"][0]["duplicate"] is True
        assert client.get("/v1/conversations/c").json()["n_messages"] == 1


def test_the_client_sends_any_number_and_names_a_refused_event_by_its_place(server: Server) -> None:
    from detection.client import RisklineError

    events = [{"conversation_id": f"bulk{i % 50}", "message_id": f"m{i}", "sender_id": "u",
               "timestamp": 1_700_000_000 + i, "text": "hi"} for i in range(2500)]
    client = RisklineClient(server.url, api_token=TOKEN)
    results = client.send(events)  # three requests (before: one, refused with a 422 for its size)
    assert [(r["conversation_id"], r["message_id"]) for r in results] == \
        [(e["conversation_id"], e["message_id"]) for e in events] and not any(r["duplicate"] for r in results)
    assert client.conversation("bulk7")["n_messages"] == 50  # type: ignore[index]
    bad = [{**e, "message_id": f"n{i}"} for i, e in enumerate(events)]
    bad[1234]["timestamp"] = "soon"
    with pytest.raises(RisklineError) as refused:
        client.send(bad)
    assert refused.value.status == 422 and re.fullmatch("[0-9a-f]{32}", refused.value.request_id or "")
    assert str(refused.value) == ("POST /v1/messages: 422: body.messages.1234.timestamp: not ISO-8601 or Unix "
                                  f"seconds: 'soon' [request {refused.value.request_id}]")
    assert server.logged(refused.value.request_id) == [("/v1/messages", 422)]  # the second request of three
    # the request before it was scored: its answers come with the error, and sent again they are duplicates
    assert [(r["message_id"], r["duplicate"]) for r in refused.value.scored] == \
        [(e["message_id"], False) for e in bad[:1000]]
    assert all(r["duplicate"] for r in client.send(bad[:1000]))
    assert client.send([]) == []
    # any iterable: a generator's events in requests of 1,000 (the ones above, answered as duplicates)
    assert [(r["message_id"], r["duplicate"]) for r in client.send(e for e in bad[:1001])] == \
        [(e["message_id"], True) for e in bad[:1000]] + [(bad[1000]["message_id"], False)]
    with pytest.raises(TypeError, match=r"^send\(\) takes a list of events, not a dict: send\(\[event\]\) sends one$"):
        client.send(events[0])
    client.close()
    with RisklineClient(server.url, api_token="wrong") as wrong, \
            pytest.raises(RisklineError, match=r"^POST /v1/messages: 401: "):
        wrong.send(events[:1])  # the client is closed on leaving the block
    with pytest.raises(RuntimeError, match="client has been closed"):
        wrong.send(events[:1])

    async def awaited() -> None:  # the asyncio client: the same requests, answers and errors
        from detection.client import AsyncRisklineClient

        aclient = AsyncRisklineClient(server.url, api_token=TOKEN)
        fresh = [{**e, "message_id": f"a{i}"} for i, e in enumerate(events)]
        answered = await aclient.send(fresh)
        assert [(r["conversation_id"], r["message_id"], r["duplicate"]) for r in answered] == \
            [(e["conversation_id"], e["message_id"], False) for e in fresh]
        assert all(r["duplicate"] for r in await aclient.send(fresh[:5]))
        assert [r["message_id"] for r in await aclient.send(iter(fresh[:3]))] == ["a0", "a1", "a2"]
        with pytest.raises(TypeError, match="not a dict"):
            await aclient.send(fresh[0])
        worse = [{**e, "message_id": f"b{i}"} for i, e in enumerate(events)]
        worse[1234]["timestamp"] = "soon"
        with pytest.raises(RisklineError) as refused:
            await aclient.send(worse)
        assert (refused.value.status, refused.value.detail) == (refused_before.status, refused_before.detail)
        assert str(refused.value) == str(refused_before).replace(str(refused_before.request_id),
                                                                 str(refused.value.request_id))
        assert server.logged(refused.value.request_id) == [("/v1/messages", 422)]
        assert [r["message_id"] for r in refused.value.scored] == [e["message_id"] for e in worse[:1000]]
        seen = RisklineClient(server.url, api_token=TOKEN)
        assert await aclient.conversation("bulk7") == seen.conversation("bulk7")
        assert await aclient.conversation("nobody") is None
        assert await aclient.erase("bulk7") is True
        assert seen.conversation("bulk7") is None and await aclient.erase("bulk7") is False
        seen.close()
        await aclient.aclose()
        async with AsyncRisklineClient(server.url, api_token="wrong") as awrong:
            with pytest.raises(RisklineError, match=r"^POST /v1/messages: 401: "):
                await awrong.send(events[:1])
        with pytest.raises(RuntimeError, match="client has been closed"):
            await awrong.send(events[:1])
        gone = AsyncRisklineClient(f"http://127.0.0.1:{free_port()}", retries=1, backoff=0.01)
        with pytest.raises(RisklineError, match=r"^POST /v1/messages: no answer from http://127.0.0.1:\d+ .* "
                                                r"\[request [0-9a-f]{32}\]$"):
            await gone.send(events[:1])

    refused_before = refused.value
    asyncio.run(awaited())


def test_the_client_sends_what_a_dataframes_rows_hold_and_says_what_it_cannot(server: Server) -> None:
    """Times as datetimes (a pandas Timestamp too) and NumPy numbers, as a DataFrame's rows hold them, score as
    the same conversation in ISO-8601 text and plain numbers; a naive time and a lone surrogate are the service's
    422s by their place, a value JSON cannot hold a TypeError; a whole number is an id to read and erase by."""
    import numpy as np
    import pandas as pd

    from detection.client import RisklineError

    client = RisklineClient(server.url, api_token=TOKEN)
    start = datetime(2026, 3, 1, 21, 0, tzinfo=UTC)
    texts = ["hey how old r u", "u seem mature, send a private pic", "send $200 in gift cards or i post it"]
    plain = [{"conversation_id": "plain", "message_id": f"p{i}", "sender_id": "s" if i != 1 else "t",
              "timestamp": (start + timedelta(minutes=i)).isoformat(), "text": t} for i, t in enumerate(texts)]
    typed = [{**e, "conversation_id": "typed", "message_id": np.int64(i),
              "timestamp": [start, pd.Timestamp(start + timedelta(minutes=1)),
                            np.int64((start + timedelta(minutes=2)).timestamp())][i]} for i, e in enumerate(plain)]
    assert [r["risk_score"] for r in client.send(typed)] == [r["risk_score"] for r in client.send(plain)]
    assert [r["message_id"] for r in client.send(typed)] == ["0", "1", "2"]  # as duplicates, the ids as text
    # the library's own events (to_event's, read_events'), the time in Unix seconds: the same again
    read = [to_event({**e, "conversation_id": "read", "recipient_id": "t" if i != 1 else None})
            for i, e in enumerate(plain)]
    assert [r["risk_score"] for r in client.send(read)] == [r["risk_score"] for r in client.send(plain)]
    with pytest.raises(TypeError, match=r"^send\(\) takes a list of events, not a MessageEvent: "):
        client.send(read[0])  # type: ignore[arg-type]
    views = [client.conversation(cid) or {} for cid in ("typed", "plain", "read")]
    assert views[0]["last_message_at"] == views[1]["last_message_at"] == views[2]["last_message_at"] == \
        (start + timedelta(minutes=2)).isoformat()
    assert views[0]["n_messages"] == 3 and views[0]["risk_score"] == views[1]["risk_score"] > 0
    with pytest.raises(RisklineError) as naive:  # a time without its zone: refused, by its place, as in a file
        client.send([{**plain[0], "message_id": "n", "timestamp": start.replace(tzinfo=None)}])
    assert naive.value.status == 422 and "body.messages.0.timestamp" in str(naive.value)
    with pytest.raises(TypeError, match=r"^an event holds a set, which JSON cannot"):
        client.send([{**plain[0], "text": {"hi"}}])
    with pytest.raises(RisklineError, match=r": 422: body\.messages\.1\.text: not valid Unicode \(a lone surrogate"):
        client.send([{**plain[0], "message_id": "s0"}, {**plain[0], "message_id": "s1", "text": "hi \ud800"}])
    # a whole number as a conversation id (as a platform's logs may give it), to read and erase it by
    assert client.send([{**plain[0], "conversation_id": np.int64(424242)}])[0]["conversation_id"] == "424242"
    assert (client.conversation(424242) or {})["n_messages"] == 1 and client.erase(np.int64(424242)) is True
    assert client.conversation("424242") is None
    with pytest.raises(TypeError, match=r"^a conversation id is text or a whole number, not a bool$"):
        client.conversation(True)
    with pytest.raises(ValueError, match=r"^an empty conversation id \(' '\): no message has it$"):
        client.erase(" ")  # before: False, as for a conversation not held
    client.close()


def test_the_client_sends_again_what_the_service_could_not_score_now(model_dir: Path, tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    """Every try of one call carries the same X-Request-Id, which the service's log lines name, and so does
    the error when the tries run out; the next call has its own."""
    from fastapi.testclient import TestClient

    from detection.client import RisklineError
    from detection.processor import MAX_ATTEMPTS

    app, store = contended_app(model_dir, tmp_path)
    event = {"conversation_id": "c", "message_id": "m0", "sender_id": "u", "timestamp": 1_700_000_000, "text": "hi"}
    with TestClient(app) as http:
        client = RisklineClient("http://testserver", retries=2, backoff=0.01, http=http)
        store.busy = 2 * MAX_ATTEMPTS  # the service tries a commit this many times a request: two 503s
        with caplog.at_level(logging.INFO, logger="riskline.service"):
            assert [r["duplicate"] for r in client.send([event])] == [False] and store.tries == 2 * MAX_ATTEMPTS + 1
            store.busy = 3 * MAX_ATTEMPTS  # more than the client's retries
            with pytest.raises(RisklineError) as failed:
                client.send([{**event, "message_id": "m1"}])
        assert failed.value.status == 503 and "retry with the same message ids" in str(failed.value)
        assert str(failed.value).endswith(f"[request {failed.value.request_id}]")
        tries = [(r.request_id, r.status) for r in caplog.records if r.msg == "request"]  # type: ignore[attr-defined]
        first = tries[0][0]
        assert tries == [(first, 503), (first, 503), (first, 200), *[(failed.value.request_id, 503)] * 3]
        assert first != failed.value.request_id
        assert client.conversation("c")["n_messages"] == 1 and client.conversation("nobody") is None  # type: ignore[index]
    with pytest.raises(RisklineError, match=r"^POST /v1/messages: no answer from http://127.0.0.1:\d+ \(ConnectError") \
            as unanswered:
        RisklineClient(f"http://127.0.0.1:{free_port()}", retries=1, backoff=0.01).send([event])
    assert unanswered.value.status is None
    assert str(unanswered.value).endswith(f"[request {unanswered.value.request_id}]")


def test_a_request_whose_scoring_fails_alone_does_not_fail_those_merged_with_it() -> None:
    """Concurrent requests are scored in one call; when it fails and the store still answers, each is tried
    alone, so a request's own failure is its 503 only. With the store down, all fail at once."""
    import asyncio

    from detection.batcher import Batcher, ScoringFailed

    calls: list[list[str]] = []

    def process(events: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        calls.append([e.text for e in events])
        if any(e.text == "cannot be scored" for e in events):
            raise ValueError("a message of its own kind")
        return [{"message_id": e.message_id, "duplicate": False} for e in events], []

    async def three_at_once(store_up: bool) -> tuple[list[Any], list[int]]:
        scored: list[int] = []
        batcher = Batcher(process, lambda answers, _: scored.append(len(answers)), lambda: store_up)
        requests = [[to_event({"conversation_id": f"c{i}", "message_id": "m", "sender_id": "u",
                               "timestamp": 1700000000, "text": text})]
                    for i, text in enumerate(["hi", "cannot be scored", "there"])]
        waiting = [asyncio.ensure_future(batcher.submit(r)) for r in requests]  # queued before the batcher runs
        batcher.task = asyncio.create_task(batcher.run())
        try:
            return await asyncio.gather(*waiting, return_exceptions=True), scored
        finally:
            batcher.task.cancel()
            batcher.executor.shutdown()

    results, scored = asyncio.run(three_at_once(store_up=True))
    assert calls == [["hi", "cannot be scored", "there"], ["hi"], ["cannot be scored"], ["there"]]
    assert results[0] == [{"message_id": "m", "duplicate": False}] and results[2] == results[0]
    assert isinstance(results[1], ScoringFailed) and "a message of its own kind" in str(results[1])
    assert scored == [1, 1]
    calls.clear()
    results, scored = asyncio.run(three_at_once(store_up=False))
    assert calls == [["hi", "cannot be scored", "there"]] and scored == []
    assert all(isinstance(r, ScoringFailed) for r in results)


def test_a_request_that_timed_out_does_not_stop_the_batcher_and_a_stop_answers_what_is_queued() -> None:
    """A request that gave up (its 503 "scoring timed out") before its batch was scored or failed: the batch's
    end sets no answer on it, and the requests after it are scored as before. A stop answers what is queued."""
    import asyncio

    from detection.batcher import Batcher

    release = threading.Event()

    def process(events: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        release.wait(5)
        if any(e.text == "cannot be scored" for e in events):
            raise ValueError("a message of its own kind")
        return [{"message_id": e.message_id} for e in events], []

    def request(i: int, text: str = "hi") -> list[Any]:
        return [to_event({"conversation_id": f"c{i}", "message_id": f"m{i}", "sender_id": "u",
                          "timestamp": 1700000000, "text": text})]

    async def gave_up(text: str) -> tuple[bool, Any]:
        release.clear()
        batcher = Batcher(process, lambda answers, _: None)
        batcher.task = asyncio.create_task(batcher.run())
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(batcher.submit(request(1, text)), 0.2)
            release.set()  # its batch ends: scored, or failed
            next_one = await asyncio.wait_for(batcher.submit(request(2)), 5)
            return batcher.task.done(), next_one
        finally:
            batcher.task.cancel()
            batcher.executor.shutdown()

    for text in ("hi", "cannot be scored"):
        assert asyncio.run(gave_up(text)) == (False, [{"message_id": "m2"}]), text

    async def stopped() -> list[Any]:
        release.set()
        batcher = Batcher(process, lambda answers, _: None)
        batcher.task = asyncio.create_task(batcher.run())
        waiting = [asyncio.ensure_future(batcher.submit(request(i))) for i in range(3)]
        await asyncio.sleep(0)  # queued, none scored yet
        await batcher.drain()
        return [w.result() if w.done() else None for w in waiting]

    assert asyncio.run(stopped()) == [[{"message_id": f"m{i}"}] for i in range(3)]


def _post_unanswered(server: Server, event: dict[str, Any]) -> None:
    """Post ``event``, for a request in flight as the server stops (it gets no answer)."""
    import httpx

    with contextlib.suppress(httpx.HTTPError):
        server.post(event)


def test_a_second_signal_stops_the_service_at_once(model_dir: Path, tmp_path: Path, picked: dict[str, Any]) -> None:
    """Its store hung (stopped, answering nothing), a request in flight: the service's stop waits out the store's
    timeouts; a second signal ends it at once, as uvicorn's own "force quit" did not (the request got a 500, and
    the process still waited on the store)."""
    from tests.service_helpers import start_redis

    redis_process, url = start_redis(tmp_path)
    server = Server(model_dir, url, log_dir=tmp_path)
    try:
        assert server.post(picked["events"][0]).status_code == 200
        redis_process.send_signal(signal.SIGSTOP)
        in_flight = threading.Thread(target=_post_unanswered, args=(server, picked["events"][1]), daemon=True)
        in_flight.start()
        time.sleep(0.5)
        server.process.send_signal(signal.SIGTERM)
        wait_until(lambda: "Waiting for connections to close" in server.log.read_text(), seconds=10, step=0.05)
        server.process.send_signal(signal.SIGINT)
        started = time.monotonic()
        status = server.process.wait(30)
        took = time.monotonic() - started
    finally:
        redis_process.send_signal(signal.SIGCONT)
        server.stop()
        redis_process.terminate()
        redis_process.wait(10)
    assert status == 128 + signal.SIGINT and took < 3, f"stopped in {took:.1f} s, status {status}"
    said = [json.loads(line) for line in server.log.read_text().splitlines()]
    assert said[-1]["msg"].startswith("stopped at once by a second signal; requests in flight get no answer")
    assert not [s for s in said if s["level"] == "error"]


def test_failed_scoring_is_logged_at_most_every_ten_seconds(monkeypatch: pytest.MonkeyPatch,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    """While the store is down every batch fails: the log says so once in ten seconds, with a traceback and how
    many failed meanwhile, not once a batch (hundreds a second under load)."""
    import detection.logs
    from detection.batcher import Batcher, ScoringFailed

    clock = [1000.0]
    monkeypatch.setattr(detection.logs, "monotonic", lambda: clock[0])

    def down(events: list[Any]) -> Any:
        raise ConnectionError("the store does not answer")

    async def fail(seconds_apart: list[float]) -> None:
        batcher = Batcher(down, lambda *_: None, lambda: False)
        batcher.task = asyncio.create_task(batcher.run())
        try:
            for step in seconds_apart:
                clock[0] += step
                with pytest.raises(ScoringFailed, match="ConnectionError: the store does not answer"):
                    await batcher.submit([to_event({"conversation_id": "c", "message_id": "m", "sender_id": "u",
                                                    "timestamp": 1700000000, "text": "hi"})])
        finally:
            batcher.task.cancel()
            batcher.executor.shutdown()

    with caplog.at_level(logging.ERROR, logger="riskline.service"):
        asyncio.run(fail([0, 1, 2, 3, 3.9, 0.2, 9.9, 0.1]))
    said = [r for r in caplog.records if r.getMessage() == "scoring failed"]
    assert [r.failed_not_logged for r in said] == [0, 4, 1]  # type: ignore[attr-defined]
    assert all(r.exc_info and "the store does not answer" in str(r.exc_info[1]) for r in said)


def test_a_service_open_beyond_this_machine_without_a_token_says_so(model_dir: Path, tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    from fastapi.testclient import TestClient

    from detection.service import create_app
    from detection.settings import ServiceSettings

    warned = {}
    for host, token in [("0.0.0.0", None), ("::", None), ("127.0.0.1", None), ("localhost", None), ("::1", None),
                        ("0.0.0.0", TOKEN)]:
        caplog.clear()
        settings = ServiceSettings(model=str(model_dir), state=str(tmp_path / "state.db"), host=host, api_token=token)
        with caplog.at_level("INFO", logger="riskline.service"), TestClient(create_app(settings)):
            pass
        ready = next(r for r in caplog.records if r.getMessage() == "ready")
        assert ready.api_token is (token is not None)  # type: ignore[attr-defined]
        warned[host, token] = [r.detail for r in caplog.records if r.getMessage() == "no api token"]  # type: ignore[attr-defined]
    detail = ("anyone who reaches this port can post messages and read conversations' risk; set --api-token "
              "(RISKLINE_API_TOKEN)")
    assert warned == {("0.0.0.0", None): [detail], ("::", None): [detail], ("127.0.0.1", None): [],
                      ("localhost", None): [], ("::1", None): [], ("0.0.0.0", TOKEN): []}
