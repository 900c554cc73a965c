from dataclasses import replace
from pathlib import Path

from rich.console import Console

from detection.display import print_riskiest
from detection.events import MessageEvent
from detection.model import RiskModel
from detection.readers import read_events
from detection.scoring import score_conversations
from tests.conftest import write_jsonl


def _one_sender(texts: list[str], apart: float) -> list[MessageEvent]:
    """Conversation "c": ``texts`` from one sender, ``apart`` seconds after each other, as m0, m1, ..."""
    return [MessageEvent("c", f"m{i}", "a", 1_700_000_000.0 + apart * i, text) for i, text in enumerate(texts)]


def test_table_shows_alert_message_and_evidence_when_wide(model: RiskModel, tmp_path: Path,
                                                          synth_rows: list[dict[str, object]]) -> None:
    path = write_jsonl(tmp_path / "e.jsonl", synth_rows[:800])
    events = read_events(path).events
    results, _ = score_conversations(model, events)
    riskiest = max(results, key=lambda r: r.risk_score)
    assert riskiest.alert_message_id is not None
    alert_text = next(str(r["text"]) for r in synth_rows if r["message_id"] == riskiest.alert_message_id)
    texts = {str(r["message_id"]): " ".join(str(r["text"]).split()) for r in synth_rows}
    senders = {str(r["message_id"]): str(r["sender_id"]) for r in synth_rows}

    def by(message_id: str) -> str:  # who wrote a quoted message: a young person's plea is evidence too
        return senders[message_id] + (" (suspect)" if senders[message_id] == riskiest.suspect_id else "")

    for width, evidence in ((160, True), (120, False)):
        console = Console(record=True, width=width)
        print_riskiest(results, events, 3, console)
        out = console.export_text()
        assert riskiest.conversation_id in out and f"#{riskiest.alert_index} of {riskiest.n_messages}" in out
        assert alert_text.split()[0] in out and "┃" in out
        assert ("top evidence" in out) == evidence
    # at 80 columns (a default terminal, and `make demo`'s log) the table squeezed the alert message into a
    # column a word wide and left the evidence out; each conversation now gets a block, its messages whole
    console = Console(record=True, width=80)
    print_riskiest(results, events, 3, console)
    lines = console.export_text().splitlines()
    assert "┃" not in "".join(lines) and lines[0] == f"Riskiest 3 of {len(results)} conversations"
    head = lines.index(next(line for line in lines if line.startswith(riskiest.conversation_id)))
    assert f"alert at #{riskiest.alert_index} of {riskiest.n_messages}  peak {riskiest.peak_stage}" in lines[head]
    shown = lines[head + 1: head + 4]
    assert shown[0] == f"    alert message, {by(riskiest.alert_message_id)}: {texts[riskiest.alert_message_id]}"
    assert shown[1:] == [f"    evidence, {by(m)}: {texts[m]}" for m in riskiest.evidence_message_ids[:2]]
    assert any("(suspect)" in line for line in shown)
    calm = min(results, key=lambda r: r.risk_score)  # no alert: no alert message to quote (not "no text")
    console = Console(record=True, width=160)
    print_riskiest([calm], events, 1, console)
    row = next(line for line in console.export_text().splitlines() if calm.conversation_id in line)
    assert calm.alert_message_id is None and row.split("│")[-3].strip() == "-"
    console = Console(record=True, width=80)
    print_riskiest([calm], events, 1, console)
    assert "no alert" in console.export_text() and "alert message" not in console.export_text()


def test_senders_text_is_shown_as_text_never_acted_on(model: RiskModel, tmp_path: Path,
                                                      synth_rows: list[dict[str, object]]) -> None:
    """Messages and ids are the senders' own: rich markup in them ("[/]") ended `explain` and `--show` in
    a MarkupError traceback, and escape sequences (clear the screen, recolour) and bidirectional
    overrides reached the reviewer's terminal as they were."""
    import dataclasses

    from detection.display import print_trajectory
    from detection.explain import trajectory

    odd = "[/] [bold red]x \x1b[2J\x1b[31mhidden \u202eevil"
    cid = str(next(r["conversation_id"] for r in synth_rows if r["conversation_label"] == 1))
    events = [MessageEvent(**{**{k: v for k, v in r.items() if k in MessageEvent.__slots__},  # type: ignore[arg-type]
                              "timestamp": 1_700_000_000.0 + i, "conversation_id": "dm[/]" + str(r["conversation_id"]),
                              "sender_id": "[bold]" + str(r["sender_id"]), "text": f"{r['text']} {odd}"})
              for i, r in enumerate(synth_rows) if r["conversation_id"] == cid]
    result, steps = trajectory(model, events, "dm[/]" + cid)
    console = Console(file=open(tmp_path / "out.txt", "w"), width=200, color_system=None)  # noqa: SIM115
    print_trajectory(result, steps, 0.5, console)
    print_riskiest([dataclasses.replace(result, alert_message_id=events[-1].message_id)], events, 3, console)
    console.file.close()
    out = (tmp_path / "out.txt").read_text()
    assert "\x1b" not in out and "\u202e" not in out
    assert f"dm[/]{cid}" in out and "[bold]" in out and "[/] [bold red]x \\x1b[2J\\x1b[31mhidden \\u202eevil" in out


def test_explain_is_readable_in_a_narrow_terminal_or_a_file(model: RiskModel,
                                                            synth_rows: list[dict[str, object]]) -> None:
    """At 80 columns (a narrow terminal, or a file or pipe, which rich takes as 80) the table left the
    message column four letters wide; there each message gets a block of its own, its text whole."""
    import dataclasses

    from detection.display import TABLE_WIDTH, print_trajectory
    from detection.events import to_event
    from detection.explain import trajectory

    cid = str(next(r["conversation_id"] for r in synth_rows if r["conversation_label"] == 1))
    events = [to_event(r) for r in synth_rows if r["conversation_id"] == cid]
    # a message with no text, and one with a picture: both said, as a reviewer needs them
    events[1] = dataclasses.replace(events[1], text="")
    events[2] = dataclasses.replace(events[2], attachment="image")
    result, steps = trajectory(model, events, cid)
    assert result.alert and steps[2].attachment == "image"
    for width in (80, TABLE_WIDTH - 1, TABLE_WIDTH, 200):
        console = Console(record=True, width=width)
        print_trajectory(result, steps, 0.5, console)
        out = console.export_text()
        assert ("┃" in out) == (width >= TABLE_WIDTH)
        if width < TABLE_WIDTH:
            lines = out.splitlines()
            for event in events[3:]:  # every message whole on a line of its own (they are under 76 characters)
                assert f"    {' '.join(event.text.split())}" in lines
            assert "    (no text)" in lines and f"    [image] {' '.join(events[2].text.split())}" in lines
            assert f"#{result.alert_index} ALERT" in out and all(len(line) <= width for line in lines)
        else:
            assert "│ (no text)" in out and "│ [image] " in out


def test_explain_around_keeps_the_messages_near_the_alert_peak_and_evidence(model: RiskModel,
                                                                          synth_rows: list[dict[str, object]]) -> None:
    """A conversation of thousands of messages printed whole buries the few a reviewer needs: ``--around N``
    keeps those within N of the alert, the peak, each evidence message and the wording that drove the alert or
    the peak, and says how many it left out."""
    import re

    from detection.display import TABLE_WIDTH, print_trajectory
    from detection.events import to_event
    from detection.explain import around, trajectory

    cid = str(next(r["conversation_id"] for r in synth_rows if r["conversation_label"] == 1))
    result, steps = trajectory(model, [to_event(r) for r in synth_rows if r["conversation_id"] == cid], cid)
    peak = max(range(len(steps)), key=lambda i: (steps[i].risk_score, -i))
    anchors = {result.alert_index, peak, *(s.index for s in steps if s.message_id in result.evidence_message_ids)}
    # and where the text path decided at the alert or the peak, the messages whose wording drove it
    anchors |= {int(w["index"]) for i in (result.alert_index, peak) for w in steps[i].wording}
    assert result.alert and len(anchors) >= 3 and len(steps) > 10
    zero = around(result, steps, 0)
    assert [s.index for s in zero] == sorted(anchors)
    one = around(result, steps, 1)
    assert [s.index for s in one] == [i for i in range(len(steps)) if {i - 1, i, i + 1} & anchors]
    assert around(result, steps, len(steps)) == steps
    for width in (80, TABLE_WIDTH):
        console = Console(record=True, width=width)
        print_trajectory(result, zero, 0.5, console)
        out = console.export_text()
        left_out = [int(n) for n in re.findall(r"(\d+) messages? left out", out)]
        assert left_out and sum(left_out) + len(zero) == result.n_messages
        assert f"{result.alert_index} ALERT" in out
    console = Console(record=True, width=80)
    print_trajectory(result, steps, 0.5, console)
    assert "left out" not in console.export_text()


def test_narrow_forms_wrap_indented_without_trailing_spaces(model: RiskModel, tmp_path: Path,
                                                            synth_rows: list[dict[str, object]]) -> None:
    """Rich padded a wrapped message's lines with spaces to its widest line: invisible in a terminal,
    kept in a log or a file. Lines now wrap within the console, indented, and end in what they say."""
    from detection.display import print_trajectory
    from detection.explain import trajectory

    events = read_events(write_jsonl(tmp_path / "e.jsonl", synth_rows[:800])).events
    results, _ = score_conversations(model, events)
    riskiest = max(results, key=lambda r: r.risk_score)
    result, steps = trajectory(model, [e for e in events if e.conversation_id == riskiest.conversation_id],
                               riskiest.conversation_id)
    for draw in (lambda c: print_riskiest(results, events, 3, c), lambda c: print_trajectory(result, steps, 0.5, c)):
        console = Console(record=True, width=40)
        draw(console)
        lines = console.export_text().splitlines()
        quoted = [line for line in lines if line.startswith("    ")]
        assert len(quoted) > len({line for line in lines if not line.startswith(" ")})  # messages did wrap
        assert all(len(line) <= 40 for line in lines)
        assert [line for line in lines if line != line.rstrip()] == []  # the title and the legend's lines too


def test_explain_says_which_words_of_a_long_or_padded_message_it_read(model: RiskModel) -> None:
    """A threat beside small talk is read from a window of its words, a threat padded with filler without the
    filler: explain shows those words under the message, so a reviewer sees what the model went by."""
    from detection.display import print_trajectory
    from detection.explain import trajectory

    threat = "pay $50 in gift cards or i post your pic to all your followers"
    beside = f"{threat} anyway how was school today, did you finish the homework? my mom is making pasta tonight"
    padded = " ".join(f"{word} lol" for word in threat.split())
    texts = ["hey", beside, "ok", padded, "you have 1 hour"]
    assert model.readings(texts)[0] is None and model.readings(texts)[2] is None
    window, without = model.readings(texts)[1], model.readings(texts)[3]
    # a window of ten words, or the part before "or": the threat's payment demand
    assert window is not None and window in beside and len(window.split()) <= model.evidence_window
    assert sum(word in window.split() for word in ("pay", "gift", "post", "followers")) >= 2
    assert without is not None and without.strip() in threat and "lol" not in without.split()  # read without filler
    # ten minutes apart: each message read alone, not with its sender's run (the next test)
    events = _one_sender(texts, 600)
    _, steps = trajectory(model, events, "c")
    assert [s.read_from for s in steps] == [None, window, None, without, None]
    for width in (80, 200):
        console = Console(record=True, width=width)
        print_trajectory(*trajectory(model, events, "c"), 0.5, console)
        out = " ".join(console.export_text().replace("│", " ").split())
        assert f"read from: {' '.join(window.split()[:4])}" in out and f"read from: {without.strip()[:20]}" in out


def test_explain_shows_a_burst_read_as_one_message(model: RiskModel) -> None:
    """A threat sent as a burst of short messages is read with the sender's run: explain shows the run under the
    message whose stage it gave, and nothing under a message read alone."""
    from detection.explain import trajectory

    burst = ["i have your pics", "pay me $300 in gift cards", "or i send them", "to your family and followers"]
    events = _one_sender(burst, 20)
    _, steps = trajectory(model, events, "c")
    assert steps[0].read_from is None
    read = steps[3].read_from  # the run, or a window of it: words of more than one of its messages
    assert read is not None and read in " ".join(burst) and not any(read in message for message in burst)
    apart = _one_sender(burst, 600)
    assert all(s.read_from is None for s in trajectory(model, apart, "c")[1])
    # a run is shown as the model read it: its misspelled words as the words it knows
    masked = ["i h*ve your p*cs", "p*y me $300 in g*ft c*rds", "or i s*nd them", "to your f*mily and f*llowers"]
    events = _one_sender(masked, 20)
    read = trajectory(model, events, "c")[1][2].read_from
    assert read is not None and "gift cards" in read and "*" not in read and "i have your pics" in read
    # a message whose strongest stage is as strong alone as in its run is shown as it reads alone
    threat = "pay me $300 in gift cards or i send your pics to your family and followers"
    events = _one_sender(["hey", threat], 20)
    step = trajectory(model, events, "c")[1][1]
    assert step.stage != "none" and step.read_from == (model.readings([threat])[0] or None)
    assert step.read_from != model.readings([f"hey {threat}"])[0]


def test_explain_shows_a_misspelled_message_as_the_model_read_it(model: RiskModel) -> None:
    """Words misspelled to dodge a filter are read as the words the model knows (``detection.repair``): explain shows
    them so read, so a reviewer sees why "p*y ... g*ft c*rds" counted as a payment demand."""
    from detection.display import print_trajectory
    from detection.explain import trajectory

    written = "p*y $50 in g*ft c*rds or i p*st your pic to all your f*llowers"
    events = _one_sender(["hey", written, "you have 1 hour"], 600)
    _, steps = trajectory(model, events, "c")
    # the message, or its part before "or" (the payment demand), as repaired
    assert steps[1].read_from is not None and steps[1].read_from.startswith("pay $50 in gift cards")
    assert "pay $50 in gift cards or i post your pic to all your followers".startswith(steps[1].read_from)
    assert steps[0].read_from is None
    console = Console(record=True, width=120)
    print_trajectory(*trajectory(model, events, "c"), 0.5, console)
    assert "read from: pay $50 in gift cards" in " ".join(console.export_text().replace("│", " ").split())
    # a model without a vocabulary reads the words as written, and says nothing of them
    plain = replace(model, featurizer=replace(model.featurizer, vocabulary=None))
    as_written = trajectory(plain, events, "c")[1][1].read_from
    assert as_written is None or "*" in as_written  # a part of the message as written, masks and all


def test_explain_names_the_messages_whose_wording_drives_the_text_path(model: RiskModel,
                                                                       synth_rows: list[dict[str, object]]) -> None:
    """Where the text path decided, explain said only "conversation text +7.6": the wording of the whole
    conversation, with nothing a reviewer could check. That share is the running mean of each message's text
    logit times the path's weight, so it splits exactly by message: each step names the (up to three) messages so
    far whose wording pushes it up the most, which --around keeps beside the alert and the peak."""
    import numpy as np
    import pytest

    from detection.display import print_trajectory
    from detection.events import to_event
    from detection.explain import WORDING, around, trajectory
    from detection.messages import order_events
    from detection.scoring import score_conversations, text_units

    positives = {str(r["conversation_id"]) for r in synth_rows if r["conversation_label"] == 1}
    checked = 0
    for cid in sorted(positives)[:40]:
        events = order_events([to_event(r) for r in synth_rows if r["conversation_id"] == cid])
        result, steps = trajectory(model, events, cid)
        if not any(s.path == "text" for s in steps):
            continue
        checked += 1
        features = score_conversations(model, events)[1].features
        per_unit = model.conversation_model.text_per_unit(features)
        text = text_units(model.evidence([e.text for e in events]).text)
        for i, step in enumerate(steps):
            if step.path != "text":
                assert step.wording == [] and per_unit[i] == 0
                continue
            shares = per_unit[i] * text[: i + 1]  # every message so far: they sum to the share explain gives
            assert shares.sum() == pytest.approx(step.contributions["conversation text"], abs=1e-9)
            best = sorted((j for j in range(i + 1) if shares[j] > 0), key=lambda j: (-shares[j], j))[:WORDING]
            assert [w["index"] for w in step.wording] == best and best
            assert [w["share"] for w in step.wording] == pytest.approx([shares[j] for j in best], abs=1e-12)
            assert [w["message_id"] for w in step.wording] == [events[j].message_id for j in best]
        text_step = next(s for s in steps if s.path == "text" and len(s.wording) == WORDING)
        console = Console(record=True, width=80)
        print_trajectory(result, [text_step], 0.5, console)
        named = ", ".join(f"#{w['index']} {w['share']:+.1f}" for w in text_step.wording)
        assert f"conversation text {text_step.contributions['conversation text']:+.1f} ({named})" in \
            " ".join(console.export_text().split())
        kept = {s.index for s in around(result, steps, 0)}
        for anchor in {result.alert_index, max(steps, key=lambda s: s.risk_score).index} - {None}:
            assert {int(w["index"]) for w in steps[anchor].wording} <= kept
    assert checked >= 5
    np.testing.assert_array_equal(text_units(np.array([2000.0, -0.5])), [1000 * 65536, -32768])


def test_explain_names_where_each_stage_s_strongest_evidence_came_from(model: RiskModel,
                                                                       synth_rows: list[dict[str, object]]) -> None:
    """"coercion +7.3" at a message that is not a threat left the reviewer to find the threat: a stage's share
    reads its strongest evidence so far, so explain names that message ("coercion +7.3 (#24)")."""
    import numpy as np

    from detection.display import print_trajectory
    from detection.events import RISK_STAGES, to_event
    from detection.explain import trajectory
    from detection.messages import order_events

    shown = 0
    for cid in sorted({str(r["conversation_id"]) for r in synth_rows if r["conversation_label"] == 1})[:20]:
        events = order_events([to_event(r) for r in synth_rows if r["conversation_id"] == cid])
        result, steps = trajectory(model, events, cid)
        risk = np.rint(score_conversations(model, events)[1].stage_proba[:, 1:] * 65536)
        for i, step in enumerate(steps):
            assert list(step.strongest) == list(RISK_STAGES)
            for s, stage in enumerate(RISK_STAGES):  # the first message holding the stage's highest evidence so far
                assert step.strongest[stage] == int(np.argmax(risk[: i + 1, s]))
        console = Console(record=True, width=200)
        print_trajectory(result, steps, 0.5, console)
        out = " ".join(console.export_text().replace("│", " ").split())
        for step in steps:
            for group, value in step.top():
                if group in RISK_STAGES:
                    assert f"{group} {value:+.1f} (#{step.strongest[group]})" in out
                    shown += step.strongest[group] != step.index  # named a message other than its own
    assert shown >= 20


def test_explain_says_nothing_of_how_it_read_a_message_with_no_stage(model: RiskModel) -> None:
    """Small talk padded with filler is read without it, but as no stage's evidence: explain shows no reading
    under it, as there is no evidence for a reviewer to check."""
    from detection.explain import trajectory

    texts = ["hey lol how lol are lol you lol today lol", "did lol you lol finish lol the lol homework lol"]
    assert all(reading is not None and "lol" not in reading.split() for reading in model.readings(texts))
    events = _one_sender(texts, 600)
    steps = trajectory(model, events, "c")[1]
    assert [s.stage for s in steps] == ["none", "none"] and [s.read_from for s in steps] == [None, None]


def test_top_names_the_groups_pushing_the_risk_up_the_most(model: RiskModel) -> None:
    """``Step.top`` (what explain and an intervention's ``driven_by`` name): only groups that push the risk up,
    largest first, at most k."""
    from detection.explain import driven_by, trajectory
    from detection.scoring import score_conversations

    events = _one_sender(["hey", "how old are you", "send me a private pic", "pay $50 or i post it"], 60)
    step = trajectory(model, events, "c")[1][-1]
    shares = {"coercion": 2.0, "timing": -1.0, "media": 0.0, "payment": 0.5, "who speaks": 3.0}
    step = replace(step, contributions=shares)
    assert step.top() == [("who speaks", 3.0), ("coercion", 2.0), ("payment", 0.5)]
    assert step.top(2) == [("who speaks", 3.0), ("coercion", 2.0)] and step.top(9) == step.top()
    assert replace(step, contributions={"timing": -1.0, "media": 0.0}).top() == []
    features = score_conversations(model, events)[1].features
    for row, (driver, real) in enumerate(zip(driven_by(model, features), trajectory(model, events, "c")[1],
                                            strict=True)):
        assert driver["shares"] == {g: round(v, 3) for g, v in real.top()}, row
        assert all(v > 0 for v in driver["shares"].values()) and len(driver["shares"]) <= 3


def test_wording_names_the_lowest_logits_where_the_text_weight_is_negative() -> None:
    """Where the text path's weight per unit is negative, the messages that push its share up are those whose
    wording reads the least risky; where it is 0 (the escalation path decided), none."""
    import numpy as np

    from detection.explain import _wording

    events = _one_sender(["x"] * 4, 1)
    values = np.array([5.0, -3.0, -7.0, 2.0])
    down = _wording(events, np.array([-1.0, -1.0, 0.0, -0.5]), values)
    assert [[(w["index"], w["share"]) for w in step] for step in down] == [
        [], [(1, 3.0)], [], [(2, 3.5), (1, 1.5)]]
    up = _wording(events, np.array([1.0, 1.0, 1.0, 1.0]), values)
    assert [[w["index"] for w in step] for step in up] == [[0], [0], [0], [0, 3]]
    assert up[3][1]["message_id"] == "m3"


def test_around_keeps_the_alert_and_the_first_of_equal_peaks(model: RiskModel) -> None:
    """The peak ``--around`` keeps is the summary's, the first of equal ones; the alert is kept where it is
    neither the peak nor evidence."""
    from detection.explain import around, trajectory

    events = _one_sender(["hey"] * 12, 600)
    result, steps = trajectory(model, events, "c")
    risk = [0.9 if i in (3, 8) else 0.1 for i in range(12)]
    steps = [replace(s, risk_score=r, wording=[]) for s, r in zip(steps, risk, strict=True)]
    quiet = replace(result, alert=False, alert_index=None, alert_message_id=None, evidence_message_ids=[])
    assert [s.index for s in around(quiet, steps, 0)] == [3]
    assert [s.index for s in around(quiet, steps, 1)] == [2, 3, 4]
    alerted = replace(quiet, alert=True, alert_index=6, alert_message_id="m6")
    assert [s.index for s in around(alerted, steps, 0)] == [3, 6]
    assert [s.index for s in around(replace(alerted, evidence_message_ids=["m10"]), steps, 0)] == [3, 6, 10]
