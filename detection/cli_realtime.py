"""The real-time commands: ``serve`` (the HTTP service), ``stream`` (a Kafka consumer), ``erase`` and
``backfill`` (a state store's upkeep)."""

from __future__ import annotations

import errno
import logging
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from detection.cli_common import EVENTS_HELP, check_errors_file, check_outputs, fail, local_path, user_errors
from detection.inputs import InputError
from detection.wording import counted

if TYPE_CHECKING:
    from detection.partitions import Split
    from detection.processor import Processor
    from detection.workers import ProgressBar

# Options shared by the real-time commands; each is also read from RISKLINE_<NAME> (see detection.settings).
ModelOption = Annotated[str | None, typer.Option(
    metavar="MODEL", help="Model directory or MLflow URI [RISKLINE_MODEL]")]
StateOption = Annotated[str | None, typer.Option(
    metavar="STATE", help="State: sqlite:///PATH, a path, redis://... or postgresql://... [RISKLINE_STATE, default "
                          "riskline-state.db]")]
RetentionDaysOption = Annotated[float | None, typer.Option(
    metavar="DAYS",
    help="Days a conversation is kept after its last message; then all of it is erased and a later message "
         "starts it anew [RISKLINE_RETENTION_DAYS, default 0: for ever]")]
DedupHoursOption = Annotated[float | None, typer.Option(
    metavar="HOURS",
    help="Hours a message id is remembered after its conversation's last message; a resend then is a "
         "duplicate [RISKLINE_DEDUP_HOURS, default 168; 0: for ever]")]
OnModelChangeOption = Annotated[str | None, typer.Option(
    metavar="restart|continue",
    help="A conversation whose stored state another model built: restart its running evidence from the "
         "next message, or continue it [RISKLINE_ON_MODEL_CHANGE, default restart]")]
WebhookUrlOption = Annotated[str | None, typer.Option(
    metavar="URL", help="POST interventions here [RISKLINE_WEBHOOK_URL]")]
WebhookSecretOption = Annotated[str | None, typer.Option(
    metavar="SECRET", help="HMAC key for signatures [RISKLINE_WEBHOOK_SECRET]")]
PolicyOption = Annotated[str | None, typer.Option(metavar="FILE", help="Escalation policy YAML [RISKLINE_POLICY]")]
AuditLogOption = Annotated[str | None, typer.Option(
    metavar="FILE", help="Append interventions to this JSONL [RISKLINE_AUDIT_LOG]")]
ConfigOption = Annotated[Path | None, typer.Option(
    metavar="FILE", parser=local_path, help="YAML file of settings (below flags and environment)")]


def _realtime_settings(flags: dict[str, Any], kind: Any) -> Any:
    """Settings from flags, environment and ``--config``; JSON logs; a GIL that serves every thread."""
    from detection.logs import configure_logging
    from detection.settings import load_settings

    config = flags.pop("config")
    configure_logging()  # first: reading the settings may warn
    settings = load_settings(flags, config, kind)
    # The event loop, scoring and outbox delivery share the GIL. Python's default 5 ms switch
    # interval lets a busy thread starve webhook delivery under load; 0.5 ms keeps it prompt.
    sys.setswitchinterval(0.0005)
    return settings


@user_errors
def serve(
    host: Annotated[str | None, typer.Option(
        metavar="HOST", help="Address to listen on [RISKLINE_HOST, default 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(metavar="PORT", help="Port [RISKLINE_PORT, default 8080]")] = None,
    model: ModelOption = None,
    state: StateOption = None,
    dedup_hours: DedupHoursOption = None,
    retention_days: RetentionDaysOption = None,
    on_model_change: OnModelChangeOption = None,
    webhook_url: WebhookUrlOption = None,
    webhook_secret: WebhookSecretOption = None,
    api_token: Annotated[str | None, typer.Option(
        metavar="TOKEN", help="Require this bearer token [RISKLINE_API_TOKEN]")] = None,
    policy: PolicyOption = None,
    audit_log: AuditLogOption = None,
    config: ConfigOption = None,
) -> None:
    """Run the real-time scoring service (HTTP API, interventions).

    Escalation policy, signed webhook interventions, a durable outbox.
    """
    flags = dict(locals())  # first: the options only
    from types import FrameType

    import uvicorn

    from detection.logs import exit_at_once
    from detection.processor import build_parts
    from detection.service import create_app
    from detection.settings import ServiceSettings

    settings = _realtime_settings(flags, ServiceSettings)
    listening = _listen(settings.host, settings.port)  # before the store and sinks start: a taken port is a user error
    server_config = uvicorn.Config(create_app(settings, build_parts(settings)), host=settings.host,
                                   port=settings.port, log_config=None, access_log=False, timeout_graceful_shutdown=10)

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:  # uvicorn says where it listens only when it binds itself
                for sock in sockets or []:
                    address, number = sock.getsockname()[:2]
                    logging.getLogger("uvicorn.error").info(
                        "Uvicorn running on http://%s:%d (Press CTRL+C to quit)",
                        f"[{address}]" if ":" in address else address, number)

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            if self.should_exit:  # a second signal while it stops: uvicorn's own "force quit" cut the requests in
                # flight short, a 500 each, and went on waiting for the store all the same
                exit_at_once(logging.getLogger("riskline.service"), sig, "requests in flight get no answer (their "
                             "clients retry them with the same message ids); interventions due are sent at the next "
                             "start")
            super().handle_exit(sig, frame)

    Server(server_config).run(sockets=listening)


def _listen(host: str, port: int) -> list[socket.socket]:
    """Sockets bound to every address of ``host``:``port``, as uvicorn (asyncio) would bind them, or one
    error line naming the address."""
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                                  flags=socket.AI_PASSIVE):
            sockets.append(sock := socket.socket(family, kind, proto))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        reason = "the port is in use (another server, or --port to choose one)" \
            if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
        raise fail(f"cannot listen on {host}:{port}: {reason}") from None
    return sockets


@user_errors
def stream(
    brokers: Annotated[str | None, typer.Option(
        metavar="HOST:PORT,...", help="Kafka bootstrap servers [RISKLINE_BROKERS, default 127.0.0.1:9092]")] = None,
    topic: Annotated[str | None, typer.Option(
        metavar="TOPIC", help="Topic of message events, keyed by conversation [RISKLINE_TOPIC, default "
                              "riskline-messages]")] = None,
    group: Annotated[str | None, typer.Option(
        metavar="GROUP", help="Consumer group [RISKLINE_GROUP, default riskline]")] = None,
    interventions_topic: Annotated[str | None, typer.Option(
        metavar="TOPIC", help="Publish interventions to this topic [RISKLINE_INTERVENTIONS_TOPIC]")] = None,
    rejects_topic: Annotated[str | None, typer.Option(
        metavar="TOPIC", help="Publish records that are not valid events here [RISKLINE_REJECTS_TOPIC]")] = None,
    session_timeout: Annotated[float | None, typer.Option(
        metavar="SECONDS",
        help="Seconds without a heartbeat before a crashed worker's partitions go to the others "
             "[RISKLINE_SESSION_TIMEOUT, default 10, 1 to 300]")] = None,
    max_poll_interval: Annotated[float | None, typer.Option(
        metavar="SECONDS",
        help="Seconds a worker may take over a batch before the group moves its partitions; a worker "
             "waiting out a state-store outage keeps polling [RISKLINE_MAX_POLL_INTERVAL, default 300, 1 to 3600]")
    ] = None,
    metrics_port: Annotated[int | None, typer.Option(
        metavar="PORT", help="Serve Prometheus metrics at http://HOST:PORT/metrics [RISKLINE_METRICS_PORT]")] = None,
    host: Annotated[str | None, typer.Option(
        metavar="HOST", help="Address the metrics listen on [RISKLINE_HOST, default 127.0.0.1]")] = None,
    model: ModelOption = None,
    state: StateOption = None,
    dedup_hours: DedupHoursOption = None,
    retention_days: RetentionDaysOption = None,
    on_model_change: OnModelChangeOption = None,
    webhook_url: WebhookUrlOption = None,
    webhook_secret: WebhookSecretOption = None,
    policy: PolicyOption = None,
    audit_log: AuditLogOption = None,
    config: ConfigOption = None,
) -> None:
    """Score message events from Kafka and raise interventions.

    A consumer-group worker: run several to share a topic's partitions.
    """
    flags = dict(locals())  # first: the options only
    import asyncio

    from detection.kafka import reach_brokers
    from detection.metrics import StreamMetrics, serve_metrics
    from detection.processor import build_parts
    from detection.settings import StreamSettings
    from detection.stream import run_stream

    settings = _realtime_settings(flags, StreamSettings)
    # a taken --metrics-port and a --brokers that no broker answers at are refused before the model loads and the
    # state store opens: a mistake in either leaves no state file behind
    metrics = StreamMetrics()
    scrape = serve_metrics(metrics, settings.host, settings.metrics_port) if settings.metrics_port is not None else None
    try:
        asyncio.run(reach_brokers(settings))
        parts = build_parts(settings)
        try:
            asyncio.run(run_stream(settings, parts, metrics))
        finally:
            parts["store"].close()
    finally:
        if scrape is not None:
            scrape.shutdown()
            scrape.server_close()


@user_errors
def erase(
    conversation_ids: Annotated[list[str] | None, typer.Argument(
        help="Conversations to forget", show_default=False, metavar="CONVERSATION_ID")] = None,
    from_file: Annotated[Path | None, typer.Option(
        "--from", parser=local_path, metavar="FILE",
        help="Also the conversations listed in FILE, one id a line ('-': standard input)")] = None,
    state: StateOption = None,
) -> None:
    """Forget conversations: their state, answers and interventions.

    For a platform's erasure requests on a store no service fronts; a running service also takes
    DELETE /v1/conversations/ID, a stream worker a tombstone in its topic. Messages of them that come
    later start them anew.
    """
    from detection.events import EventError, conversation_key, shown
    from detection.settings import ServiceSettings
    from detection.store import open_store, without_password
    from detection.wording import stray_space

    given = [("CONVERSATION_ID", cid) for cid in conversation_ids or ()]
    if from_file is not None:
        given += _listed_ids(from_file)
    if not given:  # a --from holding none may be a query upstream that failed: said, as nothing to erase is not
        raise fail(f"--from {from_file}: no conversation ids in it; nothing was erased" if from_file is not None
                   else "no conversation named: give CONVERSATION_ID... or --from FILE; nothing was erased")
    keys = []  # as messages' ids are held; an empty one (an unset variable) would erase nothing, and exit 0
    for where, cid in given:
        try:
            keys.append(conversation_key(cid))
        except EventError as exc:
            raise fail(f"{where} {shown(cid)}: {exc.reason}: no message has that id; nothing was erased") from None
    url = state or os.environ.get("RISKLINE_STATE") or ServiceSettings.model_fields["state"].default
    if (stray := stray_space(url)) is not None:  # as the service refuses it
        raise fail(f"{'--state' if state else 'RISKLINE_STATE'}: {stray}; nothing was erased")
    store = _taking_writes(open_store(url, create=False), url, "nothing was erased")
    wanted, erased = list(dict.fromkeys(keys)), []
    try:
        for cid in wanted:
            if store.erase(cid):
                erased.append(cid)
    except Exception as exc:  # the store failing midway: each erasure is whole, so say which were done
        raise fail(f"--state {without_password(url)}: erasing {cid!r} failed ({type(exc).__name__}: {exc}); "
                   f"{len(erased)} erased before it; run it again for the rest") from None
    finally:
        store.close()
    unknown = len(wanted) - len(erased)
    typer.echo(f"erased {counted(len(erased), 'conversation')}"
               + (f"; {unknown} not held (unknown, or erased before)" if unknown else ""))


def _taking_writes(store: Any, url: str, nothing: str) -> Any:
    """``store``, where it answers and takes writes; else refused, closed, before any work. A replica or standby
    (where a failover leaves an address) answers, and would fail each write, the error then saying to run it
    again."""
    from detection.store import not_ready, without_password

    if (reason := not_ready(store)) is not None:
        store.close()
        raise fail(f"--state {without_password(url)}: {reason}; {nothing}")
    return store


def _listed_ids(path: Path) -> list[tuple[str, str]]:
    """Where each id of an ids file (one a line; '-': standard input) is, and the id."""
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise fail(f"--from {path}: cannot read ({exc.strerror or exc}); nothing was erased") from None
    except UnicodeDecodeError as exc:
        raise fail(f"--from {path}: not UTF-8 text (byte {exc.start}); nothing was erased") from None
    return [(f"--from {path}: line {n}:", line) for n, line in enumerate(text.splitlines(), 1)]


@user_errors
def backfill(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT", parser=local_path, help=EVENTS_HELP)],
    model: ModelOption = None,
    state: StateOption = None,
    policy: PolicyOption = None,
    on_model_change: OnModelChangeOption = None,
    errors: Annotated[Path | None, typer.Option(
        "--errors", metavar="FILE", parser=local_path,
        help="Write bad rows here (JSON Lines) and load the rest")] = None,
    config: ConfigOption = None,
    workers: Annotated[int, typer.Option(metavar="N", help="Processes reading the input (0: every core)", min=0)] = 0,
) -> None:
    """Load past messages into a state store, with no interventions.

    Conversations in progress when a service or stream worker starts then go on from their history, as
    if it had read them all along. Levels the history reaches count as raised: no intervention is sent
    for them, then or later (`score` gives those alerts as rows). Loading again is safe: messages the
    store holds are duplicates.
    """
    from detection.batch import rejects_error, write_rejects
    from detection.model_files import load_model
    from detection.partitioned import split_input
    from detection.policy import EscalationPolicy
    from detection.processor import Processor
    from detection.settings import ServiceSettings, load_settings
    from detection.store import check_store_url, open_store, without_password
    from detection.workers import ProgressBar

    check_outputs({"INPUT": input_path}, {"--errors": errors})
    check_errors_file(errors)
    settings = load_settings({"model": model, "state": state, "policy": policy, "on_model_change": on_model_change},
                             config, ServiceSettings)  # as `serve` reads them
    check_store_url(settings.state)  # before the input is read
    risk_model = load_model(settings.model)
    rules = EscalationPolicy.load(settings.policy)
    # one partition held at a time: history of any size; progress bars on a terminal
    with split_input(input_path, workers=workers or None, progress=True) as split, ProgressBar(True) as bar:
        if split.rejects and errors is None:
            raise rejects_error(split.rejects)
        # after every row is read: a refusal above leaves no store made
        store = _taking_writes(open_store(settings.state), settings.state, "nothing was loaded")
        where = without_password(settings.state)
        try:
            processor = Processor(risk_model, store, rules, [], on_model_change=settings.on_model_change)
            done = _load(processor, split, bar, where)
        finally:
            store.close()
    if errors is not None:
        write_rejects(errors, split.rejects)
    typer.echo(_loaded(done, where, len(split.rejects)), err=True)


def _load(processor: Processor, split: Split, bar: ProgressBar, where: str) -> dict[str, Any]:
    """``load_history`` over the split input's partitions, shown on ``bar``; a failure says how far it got
    (each call is one transaction) and that running it again is safe."""
    from detection.processor import load_history

    shown, written = bar.counter(split.n_conversations, "loading"), 0

    def loaded(n: int) -> None:  # told the conversations stored so far
        nonlocal written
        written = n
        shown(n)

    try:
        return load_history(processor, map(split.events, range(split.n)), loaded)
    except Exception as exc:
        so_far = f"{written} of the {counted(split.n_conversations, 'conversation')}"
        if isinstance(exc, InputError):  # the split's working files, not the store
            said = f"{exc} ({so_far} loaded into --state {where})"
        else:  # the store failing midway
            said = f"--state {where}: loading failed ({type(exc).__name__}: {exc}) after {so_far}"
        raise fail(f"{said}; run it again: what was loaded is then taken as duplicates") from None


def _loaded(done: dict[str, Any], where: str, n_rejected: int) -> str:
    """``backfill``'s last line: what ``load_history`` loaded, and the levels it reached (with no intervention)."""
    levels = list(done["reached"])
    reached = ", ".join(f"{level}{' or above' * (level != levels[-1])} {n}" for level, n in done["reached"].items())
    review = "; `riskline score` on the same input lists their alerts, for review" * any(done["reached"].values())
    return (f"loaded {counted(done['n_messages'], 'message')} ({done['n_duplicates']} held already) in "
            f"{counted(done['n_conversations'], 'conversation')} into {where}, {counted(n_rejected, 'row')} "
            f"rejected; reached: {reached or 'no level with an action'} (no interventions raised{review})")


def register(app: typer.Typer) -> None:
    """Add the real-time commands to the ``riskline`` app."""
    for command in (serve, stream, erase, backfill):
        app.command()(command)
