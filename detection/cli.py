"""The ``riskline`` command line: one Typer app; each command is a thin wrapper over library code.

Commands from other installed packages (``training`` adds train, evaluate, synth and convert) are
found through the ``riskline.commands`` entry-point group when the app starts, never at import.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import re
import signal
import socket
import sys
import warnings
from collections.abc import Callable
from importlib.metadata import entry_points, version
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import unquote, urlsplit

import typer

from detection.events import EventError
from detection.inputs import InputError
from detection.model_files import ModelLoadError, ModelSaveError
from detection.wording import counted

app = typer.Typer(name="riskline", help="Find grooming and sextortion escalation in conversations, early.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False,
                  rich_markup_mode=None, context_settings={"max_content_width": 120})
F = TypeVar("F", bound=Callable[..., Any])
EVENTS_HELP = "Message events: .jsonl, .csv or .parquet (or .jsonl.gz, .csv.gz), or a folder of such files"
OUTPUT_HELP = "Where to write results (suffix picks format; .jsonl.gz, .csv.gz compressed)"
USER_ERRORS: tuple[type[Exception], ...] = (InputError, ModelLoadError, ModelSaveError, EventError, ValueError,
                                              OSError)


def _print_version(asked: bool) -> None:
    if asked:
        typer.echo(f"riskline {version('riskline')}")
        raise typer.Exit()


@app.callback()
def _options(show_version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True, help="Print the version and exit")] = False) -> None:
    """The options of ``riskline`` itself, before a command."""


URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+://")


def local_path(value: str) -> Path:
    """The parser of every file option: a path on this machine, or a ``file://`` URI of one. Another URI
    (``s3a://``, ``hdfs://``...) is refused by name here, before pathlib folds its ``//`` into a path that
    does not exist."""
    if not URI.match(value):
        return Path(value)
    parts = urlsplit(value)
    if parts.scheme.lower() == "file" and parts.netloc in ("", "localhost"):
        return Path(unquote(parts.path))
    raise typer.BadParameter(
        f"{value} is a URI ({parts.scheme.lower()}://), not a path on this machine; riskline reads and writes local "
        "files, so copy it here first (on a Spark cluster, detection.spark.score_spark scores a DataFrame read from "
        "anywhere: docs/deployment.md)")


def fail(message: str) -> typer.Exit:
    """Print one error line on stderr; return the exit to raise (status 2)."""
    typer.echo(f"riskline: error: {message}", err=True)
    return typer.Exit(2)


def _same_file(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return a.samefile(b)
    return a.resolve() == b.resolve()


def check_outputs(inputs: dict[str, Path | None], outputs: dict[str, Path | None]) -> None:
    """Refuse an output that is one of the inputs, or another output: writing it would destroy
    data read or written in the same run. Keys name the options, for the message."""
    given = [(name, path) for name, path in outputs.items() if path is not None]
    for i, (name, path) in enumerate(given):
        for other, source in [*((k, v) for k, v in inputs.items() if v is not None), *given[:i]]:
            if _same_file(path, source):
                raise fail(f"{name} {path} is also {other}: writing it would overwrite that; choose another path")
            if source.is_dir() and path.resolve().is_relative_to(source.resolve()):
                raise fail(f"{name} {path} is inside {other} {source}, a folder of input files: it would be read "
                           "as input the next time; choose a path outside it")


def user_errors(func: F) -> F:
    """Turn bad input into one line on stderr and exit status 2, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            result = func(*args, **kwargs)
            sys.stdout.flush()  # here, where a reader that has gone is caught, not at exit
            return result
        except BrokenPipeError:
            # What reads the output has stopped (`riskline explain ... --json | head`): stop quietly, with
            # the status a shell gives a tool that SIGPIPE ends, and nothing more for Python to flush.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(128 + signal.SIGPIPE) from None
        except USER_ERRORS as exc:
            raise fail(str(exc)) from None
        except MemoryError:  # under a limit on the process's memory (`ulimit -v`), or a machine without swap
            raise fail("out of memory: the process could not have more (the machine's, or a limit such as "
                       "`ulimit -v`); the output in hand was not written. Give it more memory") from None

    return wrapper  # type: ignore[return-value]


def _say_scored(n_messages: int, n_conversations: int, n_alerts: int, n_rejected: int, output: Path,
                n_other_language: int, model: Any, engine: str = "") -> None:
    """The summary ``score`` prints on stderr, the same from either engine (``engine``: " with Spark")."""
    typer.echo(f"scored {counted(n_messages, 'message')} in {counted(n_conversations, 'conversation')}{engine}: "
               f"{counted(n_alerts, 'alert')}, {counted(n_rejected, 'row')} rejected -> {output}", err=True)
    if n_other_language and _trained_on_english(model):
        typer.echo(f"note: {n_other_language} of the {counted(n_conversations, 'conversation')} read as another "
                   "language than English; the model reads English only, so their scores say little (README, "
                   "'English only')", err=True)


def _trained_on_english(model: Any) -> bool:
    """Whether ``model`` was trained on English (``language.trained_on_english``): the note on conversations in
    other languages is then due."""
    from detection.language import trained_on_english

    vocabulary = model.featurizer.vocabulary
    return trained_on_english(None if vocabulary is None else vocabulary.counts)


def _check_errors_file(errors: Path | None) -> None:
    """``--errors``, before any work: JSON Lines by name, in a folder that exists, writable (else the
    output would be written and not the rejects)."""
    from detection.inputs import input_format
    from detection.writers import check_writable

    if errors is None:
        return
    if input_format(errors) in (".csv", ".parquet"):  # a name promising another format
        raise fail(f"--errors {errors}: bad rows are written as JSON Lines; name the file .jsonl (or .jsonl.gz)")
    if not errors.parent.is_dir():
        raise fail(f"--errors {errors}: folder {errors.parent} does not exist")
    check_writable(errors)


@app.command()
@user_errors
def score(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT", parser=local_path, help=EVENTS_HELP)],
    output: Annotated[Path, typer.Option("-o", "--output", parser=local_path, help=OUTPUT_HELP)],
    model: Annotated[str | None, typer.Option(help="Model directory or MLflow URI (default model if omitted)")] = None,
    per_message: Annotated[bool, typer.Option("--per-message", help="One row per message")] = False,
    errors: Annotated[Path | None, typer.Option(
        "--errors", parser=local_path, help="Write bad rows here and score the rest")] = None,
    engine: Annotated[str, typer.Option(help="local or spark")] = "local",
    show: Annotated[int, typer.Option(help="Print the N riskiest conversations as a table", min=0)] = 0,
    workers: Annotated[int, typer.Option(help="Processes for large inputs (0: every core)", min=0)] = 0,
) -> None:
    """Score conversations causally: one row per conversation.

    The score at each message uses only that message and those before it.
    """
    from detection.batch import score_file
    from detection.inputs import input_bytes, input_files
    from detection.model_files import load_model
    from detection.partitioned import PARALLEL_MIN_BYTES, score_file_partitioned
    from detection.writers import output_format

    check_outputs({"INPUT": input_path}, {"--output": output, "--errors": errors})
    if engine != "spark":  # before the work, not after it (Spark's own checks follow)
        output_format(output)
    _check_errors_file(errors)
    if engine == "spark":
        return _score_with_spark(input_path, output, model, per_message, errors)
    if engine != "local":
        raise fail(f"--engine {engine}: expected 'local' or 'spark'")
    risk_model = load_model(model)
    large = input_path.exists() and input_bytes(input_files(input_path)) >= PARALLEL_MIN_BYTES
    if large:  # partition by conversation: memory stays bounded whatever the file's size
        result = score_file_partitioned(risk_model, input_path, output, per_message=per_message,
                                        errors_path=errors, workers=workers or None, progress=True, show=show)
    else:
        result = score_file(risk_model, input_path, output, per_message=per_message, errors_path=errors)
    _say_scored(result.n_messages, result.n_conversations, result.n_alerts, result.n_rejected, output,
                result.n_other_language, risk_model)
    if show:
        from detection.display import print_riskiest

        print_riskiest(result.results, result.events, show, total=result.n_conversations)


@app.command()
@user_errors
def explain(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT", parser=local_path, help=EVENTS_HELP)],
    conversation: Annotated[str, typer.Option(help="The conversation to explain")],
    model: Annotated[str | None, typer.Option(help="Model directory or MLflow URI (default model if omitted)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per message instead of a table")] = False,
    around_n: Annotated[int | None, typer.Option(
        "--around", min=0, help="Only the messages within N of the alert, the peak and each evidence message "
                                "(a long conversation's gist); omitted: every message")] = None,
) -> None:
    """Print a conversation's risk message by message, and why.

    Each message's score, level and stage, with the evidence that drives it.
    """
    import json

    from detection.explain import around, trajectory
    from detection.model_files import load_model
    from detection.readers import read_conversation

    risk_model = load_model(model)
    wanted = conversation.strip()  # as ids are read from files
    found = read_conversation(input_path, wanted)
    if not found.read.events:
        near = f"; did you mean {' or '.join(map(repr, found.near))}?" if found.near else ""
        raise fail(f"{input_path}: no conversation {conversation!r} "
                   f"({counted(found.n_conversations, 'conversation')} in "
                   f"{'its files' if input_path.is_dir() else 'the file'}"
                   f"{near})")
    result, steps = trajectory(risk_model, found.read.events, wanted)
    if around_n is not None:
        steps = around(result, steps, around_n)
    if as_json:
        for step in steps:
            typer.echo(json.dumps({**step.__dict__, "alert": step.index == result.alert_index}, ensure_ascii=False))
    else:
        from detection.display import print_trajectory

        print_trajectory(result, steps, risk_model.thresholds.alert)
    if result.other_language and _trained_on_english(risk_model):
        typer.echo("riskline: note: this conversation reads as another language than English; the model reads "
                   "English only, so its scores say little (README, 'English only')", err=True)
    if rejects := found.read.rejects:  # the trajectory lacks these messages: say which
        typer.echo(f"riskline: note: {counted(len(rejects), 'bad row')} of this conversation "
                   f"{'was' if len(rejects) == 1 else 'were'} left out; the first: "
                   f"{rejects[0].describe()}", err=True)
    if found.unreadable:
        typer.echo(f"riskline: note: {counted(found.unreadable, 'row')} of {input_path} could not be parsed and "
                   f"{'was' if found.unreadable == 1 else 'were'} skipped "
                   "('riskline score --errors FILE' lists them)", err=True)


def _score_with_spark(input_path: Path, output: Path, model: str | None, per_message: bool,
                      errors: Path | None) -> None:
    try:
        import pyspark  # noqa: F401  (detection.spark imports it where it is used)

        from detection.spark import (
            SparkUnavailable,
            check_events_spark,
            jvm_ended_if_cut_short,
            output_counts,
            read_events_spark,
            score_checked_spark,
            spark_input,
            spark_model,
            spark_session,
            stop_spark,
            write_single_parquet,
        )
    except ImportError as exc:
        raise fail(f"--engine spark needs PySpark, which is not installed here ({exc}): pip install "
                   "'riskline[spark]' (and Java 17); in a source checkout, make install") from None
    from detection.batch import write_rejects
    from detection.writers import check_writable, write_failure_said

    if not input_path.exists():  # a file, or a folder of part files (a Spark dataset)
        raise fail(f"{input_path}: no such file")
    spark_input(str(input_path))  # a folder's files are checked before Spark starts
    if output.suffix.lower() != ".parquet" or not output.parent.is_dir():
        raise fail(f"{output}: --engine spark writes Parquet into an existing folder (name the output .parquet)")
    check_writable(output)
    # Spark 4 warns on pandas 3 at every pandas-backed call; this engine's paths are tested with it
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})  # Ctrl-C while Spark starts: acted on below
    try:
        spark = spark_session()
    except SparkUnavailable as exc:
        raise fail(f"--engine spark: {exc}") from None
    finally:
        signal.signal(signal.SIGINT, _interrupted)  # in place of PySpark's own, see _Interrupted
    try:
        with jvm_ended_if_cut_short():  # SIGTERM, Ctrl-C: the JVM goes on with its job, so it is ended
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
            model_path, risk_model = spark_model(model)
            check = check_events_spark(read_events_spark(spark, input_path), str(input_path))
            n_events, n_rejects = check.counts()
            if errors is None and (error := check.error()):
                raise error
            if not n_events and not n_rejects:
                raise InputError(f"{input_path}: empty file: no message rows")
            write_single_parquet(score_checked_spark(check.events, model_path, per_message), output)
            n_conversations, n_alerts, n_other_language = output_counts(output, per_message,
                                                                        risk_model.thresholds.alert)
            if errors is not None:
                write_rejects(errors, check.iter_rejects())
    except Exception as exc:  # Spark wraps errors raised in its workers; show ours, without the wrapping
        ours = re.findall(r"(?:InputError|ModelLoadError): (.+)", str(exc))
        unreadable = re.search(r"\[(?:PATH_NOT_FOUND|FAILED_READ_FILE|UNABLE_TO_INFER_SCHEMA)[^\n]*", str(exc))
        if not ours and unreadable:  # Spark could not read the input: its own message, without the stack
            raise fail(f"{input_path}: Spark cannot read it: {unreadable.group(0)}") from None
        if not ours and not isinstance(exc, USER_ERRORS) and (reason := write_failure_said(str(exc))):
            raise fail(f"--engine spark: Spark could not write its working files ({reason}); they go to "
                       "spark.local.dir, by default the system's temporary folder") from None
        if not ours and not isinstance(exc, USER_ERRORS):
            raise
        raise fail(ours[-1] if ours else str(exc)) from None
    except _Interrupted:
        raise KeyboardInterrupt from None
    finally:
        stop_spark(spark)
    _say_scored(n_events, n_conversations, n_alerts, n_rejects, output, n_other_language, risk_model, " with Spark")


# Options shared by the real-time commands; each is also read from RISKLINE_<NAME> (see detection.settings).
ModelOption = Annotated[str | None, typer.Option(help="Model directory or MLflow URI [RISKLINE_MODEL]")]
StateOption = Annotated[str | None, typer.Option(
    help="State: sqlite:///PATH, a path, redis://... or postgresql://... [RISKLINE_STATE]")]
RetentionDaysOption = Annotated[float | None, typer.Option(
    help="Days a conversation is kept after its last message; then all of it is erased and a later message "
         "starts it anew [RISKLINE_RETENTION_DAYS, default 0: for ever]")]
DedupHoursOption = Annotated[float | None, typer.Option(
    help="Hours a message id is remembered after its conversation's last message; a resend then is a "
         "duplicate [RISKLINE_DEDUP_HOURS, default 168; 0: for ever]")]
OnModelChangeOption = Annotated[str | None, typer.Option(
    help="A conversation whose stored state another model built: restart its running evidence from the "
         "next message, or continue it [RISKLINE_ON_MODEL_CHANGE, default restart]")]
WebhookUrlOption = Annotated[str | None, typer.Option(help="POST interventions here [RISKLINE_WEBHOOK_URL]")]
WebhookSecretOption = Annotated[str | None, typer.Option(help="HMAC key for signatures [RISKLINE_WEBHOOK_SECRET]")]
PolicyOption = Annotated[str | None, typer.Option(help="Escalation policy YAML [RISKLINE_POLICY]")]
AuditLogOption = Annotated[str | None, typer.Option(help="Append interventions to this JSONL [RISKLINE_AUDIT_LOG]")]
ConfigOption = Annotated[Path | None, typer.Option(
    parser=local_path, help="YAML file of settings (below flags and environment)")]


def _realtime_settings(flags: dict[str, Any], kind: Any) -> Any:
    """Settings from flags, environment and ``--config``; JSON logs; a GIL that serves every thread."""
    from detection.logs import configure_logging
    from detection.settings import load_settings

    config = flags.pop("config")
    settings = load_settings(flags, config, kind)
    configure_logging()
    # The event loop, scoring and outbox delivery share the GIL. Python's default 5 ms switch
    # interval lets a busy thread starve webhook delivery under load; 0.5 ms keeps it prompt.
    sys.setswitchinterval(0.0005)
    return settings


@app.command()
@user_errors
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on [RISKLINE_HOST, default 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [RISKLINE_PORT, default 8080]")] = None,
    model: ModelOption = None,
    state: StateOption = None,
    dedup_hours: DedupHoursOption = None,
    retention_days: RetentionDaysOption = None,
    on_model_change: OnModelChangeOption = None,
    webhook_url: WebhookUrlOption = None,
    webhook_secret: WebhookSecretOption = None,
    api_token: Annotated[str | None, typer.Option(help="Require this bearer token [RISKLINE_API_TOKEN]")] = None,
    policy: PolicyOption = None,
    audit_log: AuditLogOption = None,
    config: ConfigOption = None,
) -> None:
    """Run the real-time scoring service (HTTP API, interventions).

    Escalation policy, signed webhook interventions, a durable outbox.
    """
    flags = dict(locals())  # first: the options only
    import uvicorn

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


@app.command()
@user_errors
def stream(
    brokers: Annotated[str | None, typer.Option(help="Kafka bootstrap servers [RISKLINE_BROKERS]")] = None,
    topic: Annotated[str | None, typer.Option(help="Topic of message events, keyed by conversation")] = None,
    group: Annotated[str | None, typer.Option(help="Consumer group [RISKLINE_GROUP, default riskline]")] = None,
    interventions_topic: Annotated[str | None, typer.Option(help="Publish interventions to this topic")] = None,
    rejects_topic: Annotated[str | None, typer.Option(help="Publish records that are not valid events here")]
    = None,
    session_timeout: Annotated[float | None, typer.Option(
        help="Seconds without a heartbeat before a crashed worker's partitions go to the others "
             "[default 10, 1 to 300]")] = None,
    max_poll_interval: Annotated[float | None, typer.Option(
        help="Seconds a worker may take over a batch before the group moves its partitions; a worker "
             "waiting out a state-store outage keeps polling [default 300, 1 to 3600]")] = None,
    metrics_port: Annotated[int | None, typer.Option(
        help="Serve Prometheus metrics at http://HOST:PORT/metrics [RISKLINE_METRICS_PORT]")] = None,
    host: Annotated[str | None, typer.Option(
        help="Address the metrics listen on [RISKLINE_HOST, default 127.0.0.1]")] = None,
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

    from detection.processor import build_parts
    from detection.settings import StreamSettings
    from detection.stream import run_stream

    settings = _realtime_settings(flags, StreamSettings)
    parts = build_parts(settings)
    try:
        asyncio.run(run_stream(settings, parts))
    finally:
        parts["store"].close()


@app.command()
@user_errors
def erase(
    conversation_ids: Annotated[list[str], typer.Argument(help="Conversations to forget", show_default=False,
                                                          metavar="CONVERSATION_ID")],
    state: StateOption = None,
) -> None:
    """Forget conversations: their state, answers and interventions.

    For a platform's erasure requests on a store no service fronts; a running service also takes
    DELETE /v1/conversations/ID, a stream worker a tombstone in its topic. Messages of them that come
    later start them anew.
    """
    from detection.settings import ServiceSettings
    from detection.store import open_store, without_password

    url = state or os.environ.get("RISKLINE_STATE") or ServiceSettings.model_fields["state"].default
    store = open_store(url, create=False)
    wanted, erased = list(dict.fromkeys(conversation_ids)), []
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


@app.command()
@user_errors
def backfill(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT", parser=local_path, help=EVENTS_HELP)],
    model: ModelOption = None,
    state: StateOption = None,
    policy: PolicyOption = None,
    on_model_change: OnModelChangeOption = None,
    errors: Annotated[Path | None, typer.Option(
        "--errors", parser=local_path, help="Write bad rows here (JSON Lines) and load the rest")] = None,
    config: ConfigOption = None,
    workers: Annotated[int, typer.Option(help="Processes reading the input (0: every core)", min=0)] = 0,
) -> None:
    """Load past messages into a state store, with no interventions.

    Conversations in progress when a service or stream worker starts then go on from their history, as
    if it had read them all along. Levels the history reaches count as raised: no intervention is sent
    for them, then or later (`score` gives those alerts as rows). Loading again is safe: messages the
    store holds are duplicates.
    """
    from detection.batch import rejects_error, write_rejects
    from detection.model_files import load_model
    from detection.partitioned import ProgressBar, split_input
    from detection.policy import EscalationPolicy
    from detection.processor import Processor, load_history
    from detection.settings import ServiceSettings, load_settings
    from detection.store import check_store_url, open_store, without_password

    check_outputs({"INPUT": input_path}, {"--errors": errors})
    _check_errors_file(errors)
    settings = load_settings({"model": model, "state": state, "policy": policy, "on_model_change": on_model_change},
                             config, ServiceSettings)  # as `serve` reads them
    check_store_url(settings.state)  # before the input is read
    risk_model = load_model(settings.model)
    rules = EscalationPolicy.load(settings.policy)
    # one partition held at a time: history of any size; progress bars on a terminal
    with split_input(input_path, workers=workers or None, progress=True) as split, ProgressBar(True) as bar:
        if split.rejects and errors is None:
            raise rejects_error(split.rejects)
        store = open_store(settings.state)  # after every row is read: a refusal above leaves no store made
        where = without_password(settings.state)
        shown, written = bar.counter(split.n_conversations, "loading"), 0

        def loaded(n: int) -> None:  # told the conversations stored so far
            nonlocal written
            written = n
            shown(n)

        try:
            processor = Processor(risk_model, store, rules, [], on_model_change=settings.on_model_change)
            done = load_history(processor, map(split.events, range(split.n)), loaded)
        except Exception as exc:  # each call is one transaction: say how far it got
            so_far = f"{written} of the {counted(split.n_conversations, 'conversation')}"
            if isinstance(exc, InputError):  # the split's working files, not the store
                said = f"{exc} ({so_far} loaded into --state {where})"
            else:  # the store failing midway
                said = f"--state {where}: loading failed ({type(exc).__name__}: {exc}) after {so_far}"
            raise fail(f"{said}; run it again: what was loaded is then taken as duplicates") from None
        finally:
            store.close()
    if errors is not None:
        write_rejects(errors, split.rejects)
    levels = list(done["reached"])
    reached = ", ".join(f"{level}{' or above' * (level != levels[-1])} {n}" for level, n in done["reached"].items())
    review = "; `riskline score` on the same input lists their alerts, for review" * any(done["reached"].values())
    typer.echo(f"loaded {counted(done['n_messages'], 'message')} ({done['n_duplicates']} held already) in "
               f"{counted(done['n_conversations'], 'conversation')} into {where}, "
               f"{counted(len(split.rejects), 'row')} rejected; "
               f"reached: {reached or 'no level with an action'} (no interventions raised{review})", err=True)


def load_plugins() -> None:
    """Add commands registered by installed packages under ``riskline.commands``."""
    for entry in entry_points(group="riskline.commands"):
        entry.load()(app)


class _Terminated(BaseException):
    """SIGTERM, raised where the command is, as Ctrl-C raises KeyboardInterrupt (no ``except Exception`` stops it)."""


def _terminated(signum: int, frame: object) -> None:
    raise _Terminated


class _Interrupted(BaseException):
    """Ctrl-C while Spark runs: KeyboardInterrupt by another name until the JVM has ended. py4j prints its
    tracebacks where a KeyboardInterrupt cuts its call short, and PySpark's own handler first cancels the jobs
    by a call into the JVM that fails where a call is already under way (py4j then prints more)."""


def _interrupted(signum: int, frame: object) -> None:
    raise _Interrupted


def main() -> None:
    """Console entry point.

    SIGTERM (what ``kill``, ``timeout``, systemd and Kubernetes send) stops a command as Ctrl-C does, by an
    exception, so that its cleanup runs: no output half-written, no staging file or working folder left, no
    worker process left behind. The process then ends by SIGTERM all the same, as one without a handler would,
    which is what a shell, systemd and Kubernetes expect of a stopped process. ``serve`` and ``stream`` put
    handlers of their own in its place, to finish the work in hand.
    """
    signal.signal(signal.SIGTERM, _terminated)
    try:
        load_plugins()
        app(prog_name="riskline")
    except _Terminated:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        raise SystemExit(128 + signal.SIGTERM) from None  # where another thread takes the signal a moment later


if __name__ == "__main__":  # pragma: no cover
    main()
