import re
from pathlib import Path

import pytest

from detection.settings import StreamSettings, load_settings
from detection.sinks import load_sinks


def test_precedence_flags_then_environment_then_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "riskline.yaml"
    config.write_text("port: 9001\nhost: 0.0.0.0\napi-token: from-file\nstate: file.db\n")
    monkeypatch.setenv("RISKLINE_PORT", "9002")
    monkeypatch.setenv("RISKLINE_API_TOKEN", "from-env")
    settings = load_settings({"api_token": "from-flag", "model": None}, config)
    got = (settings.port, settings.host, settings.api_token, settings.state)
    assert got == (9002, "0.0.0.0", "from-flag", "file.db")
    monkeypatch.delenv("RISKLINE_PORT")
    assert load_settings({}, config).port == 9001
    assert load_settings({}).port == 8080


def test_bad_settings_name_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="setting 'port'"):
        load_settings({"port": 70000})
    bad = tmp_path / "c.yaml"
    bad.write_text("colour: blue\n")  # before: "setting 'colour': Extra inputs are not permitted", no file named
    with pytest.raises(ValueError, match=rf"^{bad}: setting 'colour': not a setting \(the settings: host, port, "):
        load_settings({}, bad)
    bad.write_text("port: 70000\n")
    with pytest.raises(ValueError, match=rf"^{bad}: setting 'port': Input should be less than or equal to 65535$"):
        load_settings({}, bad)
    with pytest.raises(ValueError, match=r"^setting 'port': "):  # the flag's value, not the file's
        load_settings({"port": 70001}, bad)
    monkeypatch.setenv("RISKLINE_PORT", "eighty")  # the environment's, over the file's
    with pytest.raises(ValueError, match=r"^environment variable RISKLINE_PORT: setting 'port': Input should be a "
                                         r"valid integer"):
        load_settings({}, bad)
    assert load_settings({"port": 8081}, bad).port == 8081  # a flag wins over both
    monkeypatch.delenv("RISKLINE_PORT")
    for url in ("hooks.example.org/riskline", "ftp://example.org/x", "https:///no-host"):
        with pytest.raises(ValueError, match=rf"^setting 'webhook_url': expected an http:// or https:// URL with a "
                                             rf"host, got '{url}'$"):
            load_settings({"webhook_url": url})
    assert load_settings({"webhook_url": "https://hooks.example.org/r"}).webhook_url == "https://hooks.example.org/r"
    with pytest.raises(ValueError, match=r"^setting 'api_token': is empty \(an unset variable\?\); leave the option "
                                         r"out to run without one$"):
        load_settings({"api_token": ""})  # `--api-token "$TOKEN"` with TOKEN unset: before, no token checked at all
    # `--audit-log "$LOG"` with LOG unset: before, no audit log at all (and the default model or policy), unsaid
    for name, unnamed in (("audit_log", "no audit log"), ("policy", "the default policy"),
                          ("model", "the default model"), ("host", r"127.0.0.1 \(this machine only\)")):
        with pytest.raises(ValueError, match=rf"^setting '{name}': is empty \(an unset variable\?\); leave the option "
                                             rf"out for {unnamed}$"):
            load_settings({name: " "})
    monkeypatch.setenv("RISKLINE_MODEL", "")
    with pytest.raises(ValueError, match=r"^environment variable RISKLINE_MODEL: setting 'model': is empty"):
        load_settings({})
    monkeypatch.delenv("RISKLINE_MODEL")
    monkeypatch.setenv("RISKLINE_WEBHOOK_SECRET", "hook-secret\n")  # a mounted secret file's last line break
    with pytest.raises(ValueError, match=r"^environment variable RISKLINE_WEBHOOK_SECRET: setting 'webhook_secret': "
                                         r"has a line break at its end; remove it$"):
        load_settings({})
    monkeypatch.delenv("RISKLINE_WEBHOOK_SECRET")
    with pytest.raises(ValueError, match=r"^setting 'api_token': has white space at its start; remove it$"):
        load_settings({"api_token": " token"})
    # an address, URL or path from such a file: before, a state file named with the line break was made, a model
    # or policy was not found in words that broke across lines, and each delivery to the webhook failed
    for name, value in (("state", "sqlite:////var/lib/riskline/state.db\n"), ("model", "models/default\n"),
                        ("webhook_url", "https://hooks.example.org/r\r\n"), ("policy", " policy.yaml"),
                        ("audit_log", "audit.jsonl "), ("host", "0.0.0.0\n")):
        said = "white space" if value.strip(" ") != value else "a line break"
        at = "start" if value[0] == " " else "end"
        with pytest.raises(ValueError, match=rf"^setting '{name}': has {said} at its {at}; remove it$"):
            load_settings({name: value})
    with pytest.raises(ValueError, match=r"^setting 'brokers': has a line break at its end; remove it$"):
        load_settings({"brokers": "kafka-1:9092,kafka-2:9092\n"}, kind=StreamSettings)
    assert load_settings({"api_token": "two words"}).api_token == "two words"
    for seconds in (0.5, 301):  # a group's session timeout: how long a crashed stream worker's partitions wait
        with pytest.raises(ValueError, match="setting 'session_timeout'"):
            load_settings({"session_timeout": seconds}, kind=StreamSettings)
    assert load_settings({}, kind=StreamSettings).session_timeout == 10.0
    assert load_settings({}).on_model_change == "restart"  # another model's stored evidence: set aside
    assert load_settings({"host": "[::1]"}).host == "::1"  # as URLs write it; the listener takes it bare
    for name in ("retention_days", "dedup_hours", "request_timeout"):  # inf was taken (0 is "for ever" in two)
        with pytest.raises(ValueError, match=rf"^setting '{name}': Input should be a finite number$"):
            load_settings({name: float("inf")})
    assert load_settings({"on_model_change": "continue"}, kind=StreamSettings).on_model_change == "continue"
    for given in ("reuse", "restart\n"):  # the value said, and so what is wrong with it
        with pytest.raises(ValueError, match=rf"^setting 'on_model_change': expected 'restart' or 'continue', "
                                             rf"got {re.escape(repr(given))}$"):
            load_settings({"on_model_change": given})
    broken = tmp_path / "broken.yaml"
    broken.write_text("port: 9000\nhost: [1\n")
    with pytest.raises(ValueError, match=r"^\S+broken.yaml: line 3, column 1: not valid YAML for the config "
                                         r"\(expected ',' or '\]', but got '<stream end>'\)$"):
        load_settings({}, broken)
    broken.write_text("port: 9000\nhost: 0.0.0.0\n'port': 9001\n")  # which port was meant is not clear
    with pytest.raises(ValueError, match=r"^\S+broken.yaml: line 3, column 1: not valid YAML for the config "
                                         r"\('port' given twice in one mapping: which value is meant is not clear\)$"):
        load_settings({}, broken)
    broken.write_bytes(b"port: 9000\nhost: \xff\n")  # Latin-1, not UTF-8
    with pytest.raises(ValueError, match=r"broken.yaml: cannot read config \(not UTF-8 text, byte 17\)$"):
        load_settings({}, broken)


def test_a_wrong_value_in_the_config_file_is_warned_of_where_overridden(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A config file kept for every run, a flag or variable for this one: the run goes on with the override, but a
    wrong value in the file, which the first run without it would refuse, is said now (it was taken unsaid)."""
    config = tmp_path / "riskline.yaml"
    config.write_text("port: eighty\nwebhook-url: hooks.example.org\nhost: 0.0.0.0\nretention_days: 30\n")
    monkeypatch.setenv("RISKLINE_WEBHOOK_URL", "https://hooks.example.org/r")
    with caplog.at_level("WARNING", logger="riskline.settings"):
        settings = load_settings({"port": 8081, "retention_days": 7}, config)
    assert (settings.port, settings.webhook_url, settings.host, settings.retention_days) == \
        (8081, "https://hooks.example.org/r", "0.0.0.0", 7)
    assert [(r.__dict__["setting"], r.__dict__["overridden_by"], r.getMessage()) for r in caplog.records] == [
        ("port", "--port", f"{config}: setting 'port': Input should be a valid integer, unable to parse string as an "
                           "integer; --port overrides it in this run, but a run without it would be refused: correct "
                           "it there"),
        ("webhook_url", "RISKLINE_WEBHOOK_URL", f"{config}: setting 'webhook_url': expected an http:// or https:// URL "
                                                "with a host, got 'hooks.example.org'; RISKLINE_WEBHOOK_URL overrides "
                                                "it in this run, but a run without it would be refused: correct it "
                                                "there")]
    caplog.clear()
    config.write_text("port: 9000\n")  # overridden but right: nothing to say
    with caplog.at_level("WARNING", logger="riskline.settings"):
        assert load_settings({"port": 8081}, config).port == 8081
    assert caplog.records == []
    # wrong only together with another setting (a worker publishing rejects to the topic it reads): said too, naming
    # the file's value that is (was: taken unsaid)
    config.write_text("rejects_topic: riskline-messages\ngroup: g\n")
    with caplog.at_level("WARNING", logger="riskline.settings"):
        settings = load_settings({"rejects_topic": "refused", "group": "h"}, config, kind=StreamSettings)
    assert settings.rejects_topic == "refused"
    assert [(r.__dict__["setting"], r.__dict__["overridden_by"], r.getMessage()) for r in caplog.records] == [
        ("rejects_topic", "--rejects-topic", f"{config}: rejects_topic 'riskline-messages' is also the topic read: "
                                             "the worker would read what it publishes; choose another; --rejects-topic "
                                             "overrides it in this run, but a run without it would be refused: "
                                             "correct it there")]
    caplog.clear()
    config.write_text("colour: blue\n")  # no setting, whatever the environment holds (was: dropped unsaid)
    monkeypatch.setenv("RISKLINE_COLOUR", "red")
    with pytest.raises(ValueError, match=rf"^{config}: setting 'colour': not a setting \(the settings: host, "):
        load_settings({}, config)
    config.write_text("- port: 9000\n")  # a list, not a mapping
    with pytest.raises(ValueError, match=rf"^{config}: expected a mapping of setting names to values$"):
        load_settings({}, config)
    # a key YAML reads as other than text (a number, `yes`/`on` as true, `~` as null) was a traceback
    for key, said in (("1", "1 (a YAML int)"), ("yes", "True (a YAML bool)"), ("~", "None (a YAML NoneType)")):
        config.write_text(f"port: 9000\n{key}: 2\n")
        with pytest.raises(ValueError, match=rf"^{config}: {re.escape(said)} is not a setting \(the settings: host, "):
            load_settings({}, config)


def test_a_users_sink_is_found_through_the_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my_sinks.py").write_text(
        "class Pager:\n    name = 'pager'\n    def deliver(self, payload):\n        self.last = payload\n"
        "def factory(settings):\n    return Pager()\n")
    dist = tmp_path / "my_sinks-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-sinks\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[riskline.sinks]\npager = my_sinks:factory\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    names = [s.name for s in load_sinks(load_settings({"audit_log": str(tmp_path / "a.jsonl")}))]
    assert sorted(names) == ["audit_log", "pager"]


def test_stream_brokers_topics_and_group_are_checked() -> None:
    """An empty or malformed broker list, topic or group failed only at the broker (or went on with it)."""
    for brokers in ("", "a:1,b:x", "host:0", "host:65536", ":9092", "a:1,,b:2", "a:\u00b2"):  # '²': int() raised
        with pytest.raises(ValueError, match=r"^setting 'brokers': expected HOST:PORT\[,HOST:PORT...\], got "):
            load_settings({"brokers": brokers}, kind=StreamSettings)
    for brokers in ("kafka", "kafka-1:9092,kafka-2:9093", "[::1]:9092", "[fd00::5]", "host:1,host:65535"):
        assert load_settings({"brokers": brokers}, kind=StreamSettings).brokers == brokers
    for brokers, bare in (("::1:9092", "::1:9092"), ("kafka:9092, fd00::5", "fd00::5")):  # aiokafka: host '::1:9092'
        with pytest.raises(ValueError, match=rf"^setting 'brokers': '{bare}': an IPv6 address goes in brackets"):
            load_settings({"brokers": brokers}, kind=StreamSettings)
    for key in ("topic", "interventions_topic", "rejects_topic"):
        for name in ("", "my topic", "t" * 250, "bad/name"):
            with pytest.raises(ValueError, match=rf"^setting '{key}': expected a Kafka topic name"):
                load_settings({key: name}, kind=StreamSettings)
        assert getattr(load_settings({key: "risk.line_v2-messages"}, kind=StreamSettings), key) == \
            "risk.line_v2-messages"
        assert getattr(load_settings({key: "t" * 249}, kind=StreamSettings), key) == "t" * 249  # Kafka's longest
    # a worker publishing to the topic it reads: before, each reject was read back and rejected again, for ever
    for flags, message in (({"topic": "t", "rejects_topic": "t"}, "rejects_topic 't' is also the topic read"),
                           ({"interventions_topic": "riskline-messages"}, "interventions_topic 'riskline-messages' "
                                                                          "is also the topic read"),
                           ({"interventions_topic": "o", "rejects_topic": "o"}, "rejects_topic 'o' is also "
                                                                                 "interventions_topic")):
        with pytest.raises(ValueError, match=rf"^{message}"):
            load_settings(flags, kind=StreamSettings)
    for group in ("", " ", "g "):
        with pytest.raises(ValueError, match=r"^setting 'group': expected a consumer group id"):
            load_settings({"group": group}, kind=StreamSettings)
    assert load_settings({"group": "riskline/prod"}, kind=StreamSettings).group == "riskline/prod"
