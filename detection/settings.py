"""Service settings: flags, then ``RISKLINE_*`` environment variables, then a YAML config file."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from detection.store import LEASE_SECONDS
from detection.wording import stray_space

log = logging.getLogger("riskline.settings")


def read_yaml(path: str | Path, what: str) -> Any:
    """A YAML file's content; an unreadable or malformed file is a ``ValueError`` in one line,
    naming the file, the line and column, and the problem."""
    import yaml

    try:
        return yaml.load(Path(path).read_text(), Loader=_unique_keys_loader())
    except OSError as exc:
        raise ValueError(f"{path}: cannot read {what} ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: cannot read {what} (not UTF-8 text, byte {exc.start})") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise ValueError(f"{path}: {where}not valid YAML for the {what} ({exc.problem or exc.context})") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML for the {what} ({' '.join(str(exc).split())})") from None


def _unique_keys_loader() -> Any:
    """PyYAML's safe loader, refusing a key given twice in one mapping (``safe_load`` keeps the last, so a
    second ``high:`` level or ``port:`` silently replaced the first)."""
    import yaml

    class UniqueKeys(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value if isinstance(node, yaml.MappingNode) else ():
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # '<<: *base' may be overridden; a list as key is left to PyYAML to refuse
                key = self.construct_object(key_node)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"{key!r} given twice in one mapping: which value is meant is not clear",
                        key_node.start_mark)
                seen.add(key)
            return super().construct_mapping(node, deep)

    return UniqueKeys


# what leaving each out gives, said where an empty value (an unset variable) is refused
UNNAMED = {"host": "for 127.0.0.1 (this machine only)", "model": "for the default model",
           "policy": "for the default policy", "audit_log": "for no audit log", "api_token": "to run without one",
           "webhook_secret": "to run without one"}


class ServiceSettings(BaseSettings):
    """Everything ``riskline serve`` can be told. Each field is also ``RISKLINE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="RISKLINE_", extra="forbid", allow_inf_nan=False)

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    model: str | None = None
    state: str = "riskline-state.db"
    webhook_url: str | None = None
    webhook_secret: str | None = None
    # seconds a whole webhook call may take; under the lease on a shared store's outbox row, or another
    # replica could claim the row while this one still waits on the receiver, and send it again
    webhook_timeout: float = Field(5.0, gt=0, lt=LEASE_SECONDS)
    api_token: str | None = None
    policy: str | None = None
    audit_log: str | None = None
    max_body_bytes: int = Field(2_000_000, gt=0)
    max_batch: int = Field(1000, ge=1, le=1000)
    request_timeout: float = Field(10.0, gt=0)
    # hours an answered message id is remembered (a resend is a duplicate, not scored again) after
    # its conversation's last message; 0: for ever (the store then grows with every message)
    dedup_hours: float = Field(168.0, ge=0)
    # days a conversation is kept after its last message: then all of it is erased (state, answers,
    # interventions), and messages that come later start it anew; 0: for ever
    retention_days: float = Field(0.0, ge=0)
    # a conversation whose stored state another model's message evidence built (a new model served on
    # the same store): "restart" its running evidence from the next message, or "continue" it as it is
    on_model_change: Literal["restart", "continue"] = "restart"

    @field_validator("on_model_change", mode="before")
    @classmethod
    def _one_of(cls, value: object) -> object:
        """The value given, in the words of the other settings' errors (pydantic's leave it out, and with it what
        was wrong, such as a secret file's last line break)."""
        if value not in (allowed := get_args(cls.model_fields["on_model_change"].annotation)):
            raise ValueError(f"expected {' or '.join(map(repr, allowed))}, got {value!r}")
        return value

    @field_validator("webhook_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        """Deliveries POST to it: anything but an http(s) URL with a host would fail only later, per delivery."""
        from urllib.parse import urlsplit

        parts = urlsplit(value) if value is not None else None
        if parts is not None and (parts.scheme not in ("http", "https") or not parts.hostname):
            raise ValueError(f"expected an http:// or https:// URL with a host, got {value!r}")
        return value

    @field_validator(*UNNAMED)
    @classmethod
    def _named(cls, value: str | None, info: ValidationInfo) -> str | None:
        """An empty value (``--audit-log "$LOG"`` with the variable unset) would be taken as none given: the default
        model or policy, no audit log, a service open to anyone, without a word."""
        if value is not None and not value.strip():
            raise ValueError(f"is empty (an unset variable?); leave the option out {UNNAMED[str(info.field_name)]}")
        return value

    @field_validator("host")
    @classmethod
    def _bare_host(cls, value: str) -> str:
        """An IPv6 address as URLs write it, ``[::1]``, is the address ``::1`` (which the listener takes; with its
        brackets, it said "Name or service not known")."""
        return value[1:-1] if value.startswith("[") and value.endswith("]") and ":" in value else value

    @field_validator("api_token", "webhook_secret", "host", "model", "state", "webhook_url", "policy", "audit_log")
    @classmethod
    def _trimmed(cls, value: str | None) -> str | None:
        """A token or secret with spaces or a line break at an end (a secret file's last newline, as Kubernetes
        mounts it) could never match a client's: the ``Authorization`` header trims them, as most receivers trim a
        secret. An address, URL or path so (``RISKLINE_STATE`` read from such a file) would name another file, one
        whose name ends in a line break, or fail later in words that break across lines. (An empty value
        ``_named`` refuses first.)"""
        if value is not None and (stray := stray_space(value)) is not None:
            raise ValueError(stray)
        return value


class StreamSettings(ServiceSettings):
    """``riskline stream``: the service's settings plus where to consume and publish."""

    brokers: str = "127.0.0.1:9092"
    topic: str = "riskline-messages"
    group: str = "riskline"
    interventions_topic: str | None = None
    rejects_topic: str | None = None
    # seconds without a heartbeat before the group gives a worker's partitions to the others: how
    # long a crashed worker's conversations wait (heartbeats go at a third of it)
    session_timeout: float = Field(10.0, ge=1.0, le=300.0)
    # seconds a worker may go without reading from the broker before the group takes its partitions
    # (Kafka's max.poll.interval.ms); a worker waiting out a state-store outage goes on reading
    max_poll_interval: float = Field(300.0, ge=1.0, le=3600.0)
    # serve Prometheus metrics on this port (at --host), when set
    metrics_port: int | None = Field(None, ge=0, le=65535)

    @field_validator("brokers")
    @classmethod
    def _brokers(cls, value: str) -> str:
        if (stray := stray_space(value)) is not None:  # RISKLINE_BROKERS from a file: its error broke across lines
            raise ValueError(stray)
        for broker in (part.strip() for part in value.split(",")):
            host, colon, port = ("", "", broker) if broker.endswith("]") else broker.rpartition(":")
            host = host if colon else port  # no port: Kafka's 9092
            if not host.strip("[]") or (colon and not (port.isascii() and port.isdigit() and 0 < int(port) < 65536)):
                raise ValueError(f"expected HOST:PORT[,HOST:PORT...], got {value!r}")
            # Kafka's clients read an IPv6 address out of brackets, ::1:9092, as one host (port 9092 by default)
            if ":" in host and not (host.startswith("[") and host.endswith("]")):
                raise ValueError(f"{broker!r}: an IPv6 address goes in brackets, as in [::1]:9092")
        return value

    @field_validator("topic", "interventions_topic", "rejects_topic")
    @classmethod
    def _topic(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9._-]{1,249}", value):  # Kafka's rule for topics
            raise ValueError(f"expected a Kafka topic name (1-249 letters, digits, '.', '_' or '-'), got {value!r}")
        return value

    @model_validator(mode="after")
    def _topics_apart(self) -> StreamSettings:
        """A worker publishing to the topic it reads would read its own output: every reject sent back as a
        reject, for ever, or every intervention read as a message."""
        for name in ("interventions_topic", "rejects_topic"):
            if getattr(self, name) == self.topic:
                raise ValueError(f"{name} {self.topic!r} is also the topic read: the worker would read what it "
                                 "publishes; choose another")
        if self.rejects_topic is not None and self.rejects_topic == self.interventions_topic:
            raise ValueError(f"rejects_topic {self.rejects_topic!r} is also interventions_topic: choose another")
        return self

    @field_validator("group")
    @classmethod
    def _group(cls, value: str) -> str:
        if not value.strip() or value != value.strip():
            raise ValueError(f"expected a consumer group id without spaces at either end, got {value!r}")
        return value


def load_settings(flags: dict[str, Any], config: str | Path | None = None,
                  kind: type[ServiceSettings] = ServiceSettings) -> ServiceSettings:
    """Settings from flags (highest), ``RISKLINE_*`` variables, a YAML config file, then defaults.

    A value in the file that a flag or variable overrides is checked too, and warned of where it is wrong: it is
    not read now, but would be once the override goes."""
    in_file: dict[str, Any] = {}
    if config is not None:
        loaded = read_yaml(config, "config") or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{config}: expected a mapping of setting names to values")
        for key in loaded:
            if not isinstance(key, str):  # YAML reads `1:` as a number, `yes:` or `on:` as true, `~:` as null
                raise ValueError(f"{config}: {key!r} (a YAML {type(key).__name__}) is not a setting "
                                 f"(the settings: {', '.join(kind.model_fields)})")
        in_file = {k.replace("-", "_"): v for k, v in loaded.items()}
    given = {k: v for k, v in flags.items() if v is not None}
    # the file only fills what flags and the environment leave unset (and a name that is no setting is refused, a
    # variable of that name beside it or not)
    from_file = {k: v for k, v in in_file.items()
                 if k not in kind.model_fields or (_variable(k) not in os.environ and k not in given)}
    try:
        settings = kind(**{**from_file, **given})
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(map(str, first["loc"]))
        where = ""
        if first["loc"] and first["loc"][0] not in given:  # (a flag's value is in plain sight: no place to name)
            if first["loc"][0] in from_file:
                where = f"{config}: "
            elif (variable := _variable(first["loc"][0])) in os.environ:
                where = f"environment variable {variable}: "
        message = _said(first, kind)
        raise ValueError(f"{where}setting '{name}': {message}" if name else f"{where}{message}") from None
    overridden = {k: v for k, v in in_file.items() if k not in from_file}
    _warn_overridden(settings, overridden, config, given)
    return settings


def _variable(name: object) -> str:
    return f"RISKLINE_{str(name).upper()}"


def _said(error: Any, kind: type[ServiceSettings]) -> str:
    """What a validation error says, in our words where pydantic's would puzzle."""
    if error["type"] == "extra_forbidden":
        return f"not a setting (the settings: {', '.join(kind.model_fields)})"
    return str(error["msg"]).removeprefix("Value error, ")  # pydantic's prefix for a validator's own message


def _warn_overridden(settings: ServiceSettings, overridden: dict[str, Any], config: str | Path | None,
                     given: dict[str, Any]) -> None:
    """Warn of each value in the config file that is wrong, where a flag or variable overrides it (a file kept for
    every run, a flag for this one): the file would fail the first run without the override."""
    if not overridden:
        return
    kind, values = type(settings), settings.model_dump()
    try:
        kind(**{**values, **overridden})
    except ValidationError as exc:
        for error in exc.errors():
            if error["loc"]:  # one setting's value
                names, said = [str(error["loc"][0])], f"setting '{error['loc'][0]}': "
            else:  # the settings together (a topic named twice): those of the file's that say so alone, else all
                names, said = [k for k in overridden if _refused_together(kind, {**values, k: overridden[k]})] or \
                    list(overridden), ""
            if not set(names) <= set(overridden):
                continue
            by = ", ".join(f"--{name.replace('_', '-')}" if name in given else _variable(name) for name in names)
            log.warning(f"{config}: {said}{_said(error, kind)}; {by} overrides it in this run, but a run without it "
                        "would be refused: correct it there",
                        extra={"config": str(config), "setting": ", ".join(names), "overridden_by": by})


def _refused_together(kind: type[ServiceSettings], values: dict[str, Any]) -> bool:
    """Whether ``values`` are refused as a whole (no one setting named), as two topics alike are."""
    try:
        kind(**values)
    except ValidationError as exc:
        return any(not error["loc"] for error in exc.errors())
    return False
