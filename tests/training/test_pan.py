"""PAN 2012 conversion, on a tiny file in the corpus format that we wrote ourselves."""

import json
from pathlib import Path

import pytest

from detection.inputs import InputError
from detection.model import RiskModel
from detection.readers import Reject, read_events
from tests.cli_helpers import riskline
from training.data import load_labelled, offenders
from training.evaluate import score_and_evaluate
from training.pan import COLUMNS, iter_pan_rows

XML = """<?xml version="1.0" encoding="UTF-8"?>
<conversations>
<conversation id="aaa111">
<message line="1"><author>p1</author><time>23:58</time><text>hey whats up</text></message>
<message line="2"><author>v1</author><time>23:59</time><text>nm</text></message>
<message line="3"><author>p1</author><time>00:02</time><text>how old r u</text></message>
<message line="4"><author>v1</author><time>00:03</time><text/></message>
</conversation>
<conversation id="bbb222">
<message line="1"><author>x1</author><time>10:00</time><text>did you finish the homework &amp; the essay</text>
</message>
<message line="2"><author>x2</author><time>10:05</time>
<text>yes &amp;lt;3 i don&amp;apos;t mind &amp;amp;#8212; R&amp;D&amp;nothing</text></message>
<message line="3"><author>x3</author><time>10:06</time><text>me too</text></message>
</conversation>
</conversations>
"""


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    xml = tmp_path / "pan12-sexual-predator-identification-training-corpus-2012-05-01.xml"
    xml.write_text(XML)
    (tmp_path / "pan12-sexual-predator-identification-training-corpus-predators-2012-05-01.txt").write_text("p1\n\n")
    return xml


def test_rows_labels_and_day_rollover(corpus: Path) -> None:
    rows = list(iter_pan_rows(corpus, {"p1"}))
    assert [r["conversation_label"] for r in rows] == [1, 1, 1, 1, 0, 0, 0]
    assert [r["timestamp"] for r in rows[:3]] == [
        "2012-01-01T23:58:00+00:00", "2012-01-01T23:59:00+00:00", "2012-01-02T00:02:00+00:00"]
    assert rows[3]["text"] == "" and rows[0]["recipient_id"] == "v1"
    assert rows[4]["text"] == "did you finish the homework & the essay"
    assert rows[4]["recipient_id"] is None  # three authors: no single recipient
    # the HTML entities beneath the XML's (the chat pages' own, one layer or two) read as what was typed; an '&'
    # that begins no entity stays (html.unescape alone reads '&not' of '&nothing' as '¬')
    assert rows[5]["text"] == "yes <3 i don't mind \u2014 R&D&nothing"
    assert rows[0]["message_id"] == "aaa111-1"
    # the listed predator is the offender of the conversations they write in: labels-only data that
    # still names who the suspect should be
    assert [r["offender_id"] for r in rows] == ["p1"] * 4 + [None] * 3


def test_times_of_one_minute_authors_and_lines_as_the_corpus_writes_them(tmp_path: Path) -> None:
    """Messages of one minute stay on one day (a day turns over only where the clock goes back); a message
    without a line number is numbered by its place; an author's name is read without the spaces around it; of
    two listed predators, the first to write is the offender; 24:00 is no time of the corpus's clock."""
    xml = tmp_path / "c.xml"
    xml.write_text("""<conversations><conversation id="c">
<message line="1"><author> v1 </author><time>10:00</time><text>hi</text></message>
<message><author>p2</author><time>10:00</time><text>hey</text></message>
<message line="5"><author>p1</author><time>10:00</time><text>yo</text></message>
<message line="6"><author>v1</author><time>24:00</time><text>late</text></message>
</conversation></conversations>""")
    rejects: list[Reject] = []
    rows = list(iter_pan_rows(xml, {"p1", "p2"}, rejects))
    assert [(r["message_id"], r["sender_id"], r["timestamp"]) for r in rows] == [
        ("c-1", "v1", "2012-01-01T10:00:00+00:00"), ("c-2", "p2", "2012-01-01T10:00:00+00:00"),
        ("c-5", "p1", "2012-01-01T10:00:00+00:00")]
    assert {r["offender_id"] for r in rows} == {"p2"}
    assert [(r.location, r.field, r.reason) for r in rejects] == [
        ("conversation 'c' message line 6", "time", "out of range: '24:00'")]


def test_converted_corpus_loads_with_its_offenders(corpus: Path, tmp_path: Path, model: RiskModel) -> None:
    out = tmp_path / "pan.parquet"
    assert riskline("convert", corpus, "-o", out).returncode == 0
    data = load_labelled(out)
    assert data.offender_ids == {"aaa111": "p1"} and not data.has_stages
    assert offenders(data) == {"aaa111": "p1"}
    # evaluated, the predators found are counted by person, as PAN 2012 counts them
    results, _, metrics = score_and_evaluate(model, data)
    named = {r.suspect_id for r in results if r.alert}
    assert metrics["n_offenders"] == 1 and metrics["n_offenders_named"] == len(named)
    assert metrics["offender_recall"] == float("p1" in named)


@pytest.mark.slow
def test_convert_command_finds_the_predator_list(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "pan.jsonl"
    done = riskline("convert", corpus, "-o", out)
    assert done.returncode == 0, done.stderr
    assert "7 messages in 2 conversations (1 with a predator)" in done.stderr
    assert len(read_events(out).events) == 7
    assert json.loads(out.read_text().splitlines()[0])["conversation_label"] == 1
    # Parquet streams with a fixed schema: an all-empty attachment column is still a string column
    table = riskline("convert", corpus, "-o", tmp_path / "pan.parquet")
    assert table.returncode == 0, table.stderr
    import pyarrow.parquet as pq

    schema = pq.read_schema(tmp_path / "pan.parquet")
    assert schema.names == list(COLUMNS) and str(schema.field("attachment").type) == "string"
    assert read_events(tmp_path / "pan.parquet").events == read_events(out).events
    # a corpus that breaks part-way writes nothing: streaming keeps the output all or nothing
    broken = tmp_path / "late.xml"
    broken.write_text(XML.replace("<time>10:06</time>", "<time>99:99</time>"))
    late = riskline("convert", broken, "--predators", corpus.with_name(
        "pan12-sexual-predator-identification-training-corpus-predators-2012-05-01.txt"), "-o", tmp_path / "late.jsonl")
    assert late.returncode == 2 and "field 'time'" in late.stderr and not (tmp_path / "late.jsonl").exists()
    # a list naming no one here (another corpus's: PAN's training and test sets have one each): before, every
    # conversation labelled 0 without a word; an empty list is refused before any work
    other, empty = tmp_path / "other-predators.txt", tmp_path / "empty-predators.txt"
    other.write_text("zz9\nzz8\n")
    empty.write_text("\n")
    elsewhere = riskline("convert", corpus, "--predators", other, "-o", tmp_path / "other.jsonl")
    assert elsewhere.returncode == 0 and elsewhere.stderr.splitlines()[-1] == (
        f"warning: no author listed in {other} (2 ids) writes in {corpus}, so every conversation is labelled 0: is "
        "it this corpus's list (PAN 2012's training and test sets each have their own)?")
    none = riskline("convert", corpus, "--predators", empty, "-o", tmp_path / "empty.jsonl")
    assert none.returncode == 2 and none.stderr == f"riskline: error: {empty}: no author ids in it; expected one per " \
                                                   "line\n"
    assert not (tmp_path / "empty.jsonl").exists()


@pytest.mark.slow
def test_the_predator_list_is_told_from_pans_problem_2_files(corpus: Path, tmp_path: Path) -> None:
    """PAN's folders hold more than one ``*predator*.txt``: the training release a problem-2 ``diff`` file
    and the test release two ground truths, of which problem 2 lists conversation lines, not authors.
    Before, any second file made ``convert`` find no list; and one of lines, passed as the list, matched
    no author: every conversation labelled 0, without a word."""
    from training.pan import predator_files, read_predators

    lines = corpus.with_name("pan12-sexual-predator-identification-diff.txt")
    lines.write_text("aaa111\t3\naaa111\t1\n")
    listed = corpus.with_name("pan12-sexual-predator-identification-training-corpus-predators-2012-05-01.txt")
    assert predator_files(corpus) == [listed]
    done = riskline("convert", corpus, "-o", tmp_path / "pan.jsonl")
    assert done.returncode == 0 and "(1 with a predator)" in done.stderr, done.stderr
    with pytest.raises(InputError, match=rf"^{lines}: line 1: expected one author id per line, got 'aaa111\\t3' "
                                         r"\(a list of conversation lines, as PAN's problem-2 files are\?\)$"):
        read_predators(lines)
    wrong = riskline("convert", corpus, "--predators", lines, "-o", tmp_path / "wrong.jsonl")
    assert wrong.returncode == 2 and "line 1: expected one author id per line" in wrong.stderr
    assert not (tmp_path / "wrong.jsonl").exists()
    test_release = corpus.with_name("pan12-sexual-predator-identification-groundtruth-problem1.txt")
    test_release.write_text("p1\n")
    several = riskline("convert", corpus, "-o", tmp_path / "pan2.jsonl")
    assert several.returncode == 2 and (
        "several predator-id lists beside it (pan12-sexual-predator-identification-groundtruth-problem1.txt, "
        "pan12-sexual-predator-identification-training-corpus-predators-2012-05-01.txt); pass --predators FILE"
    ) in several.stderr


def test_bad_xml_and_times(tmp_path: Path) -> None:
    broken = tmp_path / "broken.xml"
    broken.write_text("<conversations><conversation id='a'><message line='1'>")
    with pytest.raises(InputError, match="not well-formed XML"):
        list(iter_pan_rows(broken, set()))
    (empty := tmp_path / "empty.xml").write_bytes(b"")  # a download cut short: said as the other readers say it
    with pytest.raises(InputError, match=r"empty.xml: empty file: no conversations$"):
        list(iter_pan_rows(empty, set()))
    bad_time = tmp_path / "t.xml"
    bad_time.write_text("<conversations><conversation id='a'><message line='9'><author>u</author>"
                        "<time>25:61</time><text>x</text></message></conversation></conversations>")
    with pytest.raises(InputError, match="message line 9: field 'time'"):
        list(iter_pan_rows(bad_time, set()))
    done = riskline("convert", bad_time, "-o", tmp_path / "o.jsonl")
    assert done.returncode == 2 and "no predator-id list" in done.stderr
    other = tmp_path / "feed.xml"  # another XML file, whose items happen to be called <conversation>
    other.write_text("<feed><conversation id='a'><message line='1'><author>u</author><time>10:00</time>"
                     "<text>x</text></message></conversation></feed>")
    with pytest.raises(InputError, match=r"feed.xml: the root element is <feed>, not <conversations>"):
        next(iter_pan_rows(other, set()))


@pytest.mark.parametrize("encoding", ["UT-8", "base64", "utf-32", "idna"])
def test_an_encoding_the_parser_cannot_use_is_named(tmp_path: Path, encoding: str) -> None:
    """A typo in the declaration (no such codec), a codec that is not text, one expat refuses (multi-byte) or
    one that fails on the text: a traceback before (LookupError, ValueError, UnicodeError), now the file."""
    corpus = tmp_path / "pan12-x.xml"
    corpus.write_text(XML.replace('encoding="UTF-8"', f'encoding="{encoding}"'))
    (tmp_path / "predators.txt").write_text("p1\n")
    done = riskline("convert", corpus, "-o", tmp_path / "o.jsonl", "--predators", tmp_path / "predators.txt")
    assert done.returncode == 2, done.stderr
    assert "pan12-x.xml: cannot be read in the encoding its XML declaration names" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "o.jsonl").exists()


def test_a_line_or_conversation_given_twice_is_named(tmp_path: Path) -> None:
    """The message id is the conversation's id and the line: before, two messages of one line became one
    id (every later `score` or `train` rejected the second), and a conversation given twice merged into one."""
    def message(line: int, text: str) -> str:
        return f"<message line='{line}'><author>u</author><time>10:0{line}</time><text>{text}</text></message>"

    twice = tmp_path / "twice.xml"
    twice.write_text(f"<conversations><conversation id='a'>{message(1, 'x')}{message(2, 'y')}{message(2, 'z')}"
                     "</conversation></conversations>")
    with pytest.raises(InputError, match=r"twice.xml: conversation 'a' message line 2: field 'line': a second "
                                         r"message with this line number \(use --errors FILE to set bad messages "
                                         r"aside\)$"):
        list(iter_pan_rows(twice, set()))
    again = tmp_path / "again.xml"
    conversation = f"<conversation id='a'>{message(1, 'x')}</conversation>"
    again.write_text(f"<conversations>{conversation}<conversation id='b'>{message(1, 'y')}</conversation>"
                     f"{conversation}</conversations>")
    with pytest.raises(InputError, match=r"again.xml: conversation 'a' appears twice$"):
        list(iter_pan_rows(again, set()))


def test_bad_messages_are_set_aside_with_errors(tmp_path: Path) -> None:
    """A corpus of two million messages is not stopped by one it cannot read: with ``--errors`` a message with no
    author, a time that is no HH:MM or a line number used twice goes there, with its place and why, and the rest
    is converted (the day still rolls over past midnight); without it, the first is named, with the way out."""
    corpus = tmp_path / "corpus.xml"
    corpus.write_text("""<conversations><conversation id="x">
<message line="1"><author>aa</author><time>23:50</time><text>hi</text></message>
<message line="2"><time>23:55</time><text>no author</text></message>
<message line="3"><author>bb</author><time>25:99</time><text>bad time</text></message>
<message line="4"><author>bb</author><time>00:05</time><text>after midnight</text></message>
<message line="4"><author>aa</author><time>00:06</time><text>the same line</text></message>
</conversation></conversations>""")
    (tmp_path / "predators.txt").write_text("aa\n")
    rejects: list[Reject] = []
    rows = list(iter_pan_rows(corpus, {"aa"}, rejects))
    assert [(r["message_id"], r["timestamp"], r["recipient_id"]) for r in rows] == [
        ("x-1", "2012-01-01T23:50:00+00:00", "bb"), ("x-4", "2012-01-02T00:05:00+00:00", "aa")]
    assert [(r.location, r.field, r.reason) for r in rejects] == [
        ("conversation 'x' message line 2", "author", "missing"),
        ("conversation 'x' message line 3", "time", "out of range: '25:99'"),
        ("conversation 'x' message line 4", "line", "a second message with this line number")]
    assert rejects[1].record == {"line": "3", "author": "bb", "time": "25:99", "text": "bad time"}
    out, bad = tmp_path / "pan.jsonl", tmp_path / "bad.jsonl"
    done = riskline("convert", corpus, "-o", out, "--predators", tmp_path / "predators.txt", "--errors", bad)
    assert done.returncode == 0 and done.stderr == f"wrote 2 messages in 1 conversation (1 with a predator), 3 " \
                                                   f"messages rejected -> {out}\n", done.stderr
    assert [json.loads(line)["location"] for line in bad.read_text().splitlines()] == [r.location for r in rejects]
    assert len(read_events(out).events) == 2
    out.unlink()
    refused = riskline("convert", corpus, "-o", out, "--predators", tmp_path / "predators.txt")
    assert refused.returncode == 2 and not out.exists()
    assert refused.stderr == f"riskline: error: {corpus}: conversation 'x' message line 2: field 'author': missing " \
                             "(use --errors FILE to set bad messages aside)\n"
    # a file for them that cannot be written is said before the work (else the output would be written, and not it)
    nowhere = riskline("convert", corpus, "-o", out, "--predators", tmp_path / "predators.txt", "--errors",
                       tmp_path / "no" / "bad.jsonl")
    assert nowhere.returncode == 2 and not out.exists()
    assert nowhere.stderr == f"riskline: error: --errors {tmp_path / 'no' / 'bad.jsonl'}: folder {tmp_path / 'no'} " \
                             "does not exist\n"
