"""The batch commands: ``score`` (the local engine, or Spark) and ``explain``."""

from __future__ import annotations

import contextlib
import re
import signal
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from detection.cli_common import (
    EVENTS_HELP,
    OUTPUT_HELP,
    USER_ERRORS,
    check_errors_file,
    check_outputs,
    fail,
    local_path,
    user_errors,
)
from detection.inputs import InputError
from detection.wording import counted

ENGINES = ("local", "spark")  # where --engine scores


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


@user_errors
def score(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT", parser=local_path, help=EVENTS_HELP)],
    output: Annotated[Path, typer.Option("-o", "--output", metavar="OUTPUT", parser=local_path, help=OUTPUT_HELP)],
    model: Annotated[str | None, typer.Option(
        metavar="MODEL", help="Model directory or MLflow URI (default model if omitted)")] = None,
    per_message: Annotated[bool, typer.Option("--per-message", help="One row per message")] = False,
    errors: Annotated[Path | None, typer.Option(
        "--errors", metavar="FILE", parser=local_path, help="Write bad rows here and score the rest")] = None,
    engine: Annotated[str, typer.Option(
        metavar="|".join(ENGINES), help="This machine's processes, or Spark (riskline[spark])")] = "local",
    show: Annotated[int, typer.Option(metavar="N", help="Print the N riskiest conversations as a table", min=0)] = 0,
    workers: Annotated[int, typer.Option(metavar="N", help="Processes for large inputs (0: every core)", min=0)] = 0,
    interventions: Annotated[Path | None, typer.Option(
        "--interventions", metavar="FILE", parser=local_path,
        help="Also write the interventions the service would raise on these messages (JSON Lines), each dated at "
             "its trigger message")] = None,
    policy: Annotated[Path | None, typer.Option(
        "--policy", metavar="FILE", parser=local_path,
        help="Escalation policy YAML of --interventions [RISKLINE_POLICY, as the service's; the default policy if "
             "neither]")] = None,
) -> None:
    """Score conversations causally: one row per conversation.

    The score at each message uses only that message and those before it.
    """
    from detection.batch import score_file
    from detection.inputs import input_bytes, input_files
    from detection.model_files import load_model
    from detection.partitioned import parallel_min_bytes, score_file_partitioned
    from detection.writers import output_format

    check_outputs({"INPUT": input_path, "--policy": policy},
                  {"--output": output, "--errors": errors, "--interventions": interventions})
    if engine != "spark":  # before the work, not after it (Spark's own checks follow)
        output_format(output)
    check_errors_file(errors)
    check_errors_file(interventions, "--interventions", "interventions are")
    if policy is not None and interventions is None:
        raise fail(f"--policy {policy}: the policy of --interventions, which was not given; add --interventions FILE "
                   "for the interventions the service would raise under it")
    escalation = None
    if interventions is not None:  # before the work: a bad policy file is said now
        escalation, policy = _replay_policy(policy)
    if engine == "spark":
        if show:  # said, not left undone
            raise fail(f"--show {show}: prints from the local engine's results; leave out --engine spark, or read the "
                       "riskiest from the output (its risk_score) and `riskline explain` them")
        if workers:
            raise fail(f"--workers {workers}: the local engine's processes; Spark's are its master's "
                       "(RISKLINE_SPARK_MASTER, e.g. local[4]; every local core by default)")
        return _score_with_spark(input_path, output, model, per_message, errors, interventions, escalation, policy)
    if engine not in ENGINES:
        raise fail(f"--engine {engine}: expected {' or '.join(map(repr, ENGINES))}")
    risk_model = load_model(model)
    large = input_path.exists() and input_bytes(input_files(input_path)) >= parallel_min_bytes()
    if large:  # partition by conversation: memory stays bounded whatever the file's size
        result = score_file_partitioned(risk_model, input_path, output, per_message=per_message,
                                        errors_path=errors, workers=workers or None, progress=True, show=show,
                                        interventions_path=interventions, policy=escalation)
    else:
        result = score_file(risk_model, input_path, output, per_message=per_message, errors_path=errors,
                            interventions_path=interventions, policy=escalation)
    _say_scored(result.n_messages, result.n_conversations, result.n_alerts, result.n_rejected, output,
                result.n_other_language, risk_model)
    if result.interventions is not None:
        _say_replayed(result.interventions, interventions, policy)
    if show:
        from detection.display import print_riskiest

        print_riskiest(result.results, result.events, show, total=result.n_conversations)


@user_errors
def explain(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT", parser=local_path, help=EVENTS_HELP)],
    conversation: Annotated[str | None, typer.Option(
        metavar="ID", help="The conversation to explain (omitted: the one the file holds, where it holds one)")] = None,
    model: Annotated[str | None, typer.Option(
        metavar="MODEL", help="Model directory or MLflow URI (default model if omitted)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per message instead of a table")] = False,
    around_n: Annotated[int | None, typer.Option(
        "--around", metavar="N", min=0,
        help="Only the messages within N of the alert, the peak, each evidence message and the wording that drove "
             "the alert or the peak (a long conversation's gist); omitted: every message")] = None,
) -> None:
    """Print a conversation's risk message by message, and why.

    Each message's score, level and stage, with the evidence that drives it.
    """
    import json

    from detection.explain import around, trajectory
    from detection.model_files import load_model
    from detection.readers import read_conversation

    risk_model = load_model(model)
    found = read_conversation(input_path, None if conversation is None else conversation.strip())  # as ids are read
    if conversation is None and found.n_conversations != 1:
        held = f"holds {counted(found.n_conversations, 'conversation')}: give --conversation ID (" + \
            ", ".join(map(repr, found.first_ids)) + (", ..." if found.n_conversations > 3 else "") + ")" \
            if found.n_conversations else "holds no conversation"
        raise fail(f"{input_path}: {held}")
    wanted = found.conversation_id
    if found.read.rejects and not found.read.events:  # it is there, but none of its rows can be read
        raise fail(f"{input_path}: conversation {wanted!r} has no row that can be read "
                   f"({counted(len(found.read.rejects), 'bad row')}); the first: {found.read.rejects[0].describe()}")
    if not found.read.events or wanted is None:
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


def _replay_policy(given: Path | None) -> tuple[Any, Path | None]:
    """The policy ``score --interventions`` replays, and its file: ``--policy``'s, else the one ``RISKLINE_POLICY``
    names (the service's and stream worker's, so that the replay is what a deployment set so would raise), else
    the default policy (None)."""
    import os

    from detection.policy import EscalationPolicy

    if given is not None or (named := os.environ.get("RISKLINE_POLICY")) is None:
        return EscalationPolicy.load(given), given
    if not named.strip():
        raise fail("environment variable RISKLINE_POLICY: is empty (an unset variable?); unset it for the default "
                   "policy")
    try:
        return EscalationPolicy.load(named), Path(named)
    except (OSError, ValueError) as exc:
        raise fail(f"environment variable RISKLINE_POLICY: {exc}") from None


def _say_replayed(counts: dict[str, int], path: Path | None, policy: Path | None) -> None:
    """What ``score --interventions`` says of the interventions it wrote (``counts``: by level) under ``policy``
    (a file, or None for the default policy)."""
    levels = ", ".join(f"{count} {level}" for level, count in counts.items())
    typer.echo(f"{counted(sum(counts.values()), 'intervention')} the service would raise"
               f"{f' ({levels})' if levels else ''} under {f'the policy {policy}' if policy else 'the default policy'}"
               f" -> {path}", err=True)


def _score_with_spark(input_path: Path, output: Path, model: str | None, per_message: bool,
                      errors: Path | None, interventions: Path | None, escalation: Any, policy: Path | None) -> None:
    try:
        import pyspark  # noqa: F401  (detection.spark imports it where it is used)

        from detection.spark_rows import spark_input
        from detection.spark_session import SparkUnavailable, spark_session
    except ImportError as exc:
        raise fail(f"--engine spark needs PySpark, which is not installed here ({exc}): pip install "
                   "'riskline[spark]' (and Java 17); in a source checkout, make install") from None
    from detection.writers import check_writable

    if not input_path.exists():  # a file, or a folder of part files (a Spark dataset)
        raise fail(f"{input_path}: no such file")
    spark_input(str(input_path))  # a folder's files are checked before Spark starts
    if output.suffix.lower() != ".parquet" or not output.parent.is_dir():
        raise fail(f"{output}: --engine spark writes Parquet into an existing folder (name the output .parquet)")
    check_writable(output)
    with warnings.catch_warnings(), _ctrl_c_held_while_spark_starts() as started:
        # Spark 4 warns on pandas 3 at every pandas-backed call; this engine's paths are tested with it
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
        try:
            spark = spark_session()
        except SparkUnavailable as exc:
            raise fail(f"--engine spark: {exc}") from None
        _run_spark(spark, started, input_path, output, model, per_message, errors, interventions, escalation, policy)


def _run_spark(spark: Any, started: Callable[[], None], input_path: Path, output: Path, model: str | None,
               per_message: bool, errors: Path | None, interventions: Path | None, escalation: Any,
               policy: Path | None) -> None:
    """``score --engine spark`` once its session has started (``started`` puts the CLI's Ctrl-C in place); with
    ``interventions``, the interventions the service would raise under ``escalation`` (``policy``'s file, or the
    default policy) are written there too."""
    from detection.batch import write_rejects
    from detection.spark import (
        INTERVENTIONS,
        output_counts,
        score_checked_spark,
        spark_model,
        write_single_parquet,
        write_spark_interventions,
    )
    from detection.spark_rows import check_events_spark, read_events_spark
    from detection.spark_session import jvm_ended_if_cut_short, stop_spark
    from detection.writers import write_failure_said

    replayed: dict[str, int] | None = None
    try:
        with jvm_ended_if_cut_short():  # SIGTERM, Ctrl-C: the JVM goes on with its job, so it is ended
            started()
            model_path, risk_model = spark_model(model)
            check = check_events_spark(read_events_spark(spark, input_path), str(input_path))
            n_events, n_rejects = check.counts()
            if errors is None and (error := check.error()):
                raise error
            if not n_events and not n_rejects:
                raise InputError(f"{input_path}: empty file: no message rows")
            scored = score_checked_spark(check.events, model_path, per_message, escalation)
            if interventions is not None:  # scored once, for the output and the interventions both
                scored = scored.localCheckpoint()
            write_single_parquet(scored.drop(INTERVENTIONS), output)
            n_conversations, n_alerts, n_other_language = output_counts(output, per_message,
                                                                        risk_model.thresholds.alert)
            if errors is not None:
                write_rejects(errors, check.iter_rejects())
            if interventions is not None:
                replayed = write_spark_interventions(scored, interventions)
    except Exception as exc:  # Spark wraps errors raised in its workers; show ours, without the wrapping
        ours = re.findall(r"(?:InputError|ModelLoadError): (.+)", str(exc))
        unreadable = re.search(r"\[(?:PATH_NOT_FOUND|FAILED_READ_FILE|UNABLE_TO_INFER_SCHEMA)[^\n]*", str(exc))
        if not ours and unreadable:  # Spark could not read the input: its own message, without the stack
            raise fail(f"{input_path}: Spark cannot read it: {unreadable.group(0)}") from None
        if not ours and not isinstance(exc, USER_ERRORS):
            if reason := write_failure_said(str(exc)):
                raise fail(f"--engine spark: Spark could not write its working files ({reason}); they go to "
                           "spark.local.dir, by default the system's temporary folder") from None
            raise
        raise fail(ours[-1] if ours else str(exc)) from None
    finally:
        stop_spark(spark)
    _say_scored(n_events, n_conversations, n_alerts, n_rejects, output, n_other_language, risk_model, " with Spark")
    if replayed is not None:
        _say_replayed(replayed, interventions, policy)


@contextlib.contextmanager
def _ctrl_c_held_while_spark_starts() -> Iterator[Callable[[], None]]:
    """SIGINT blocked until the function given is called once Spark has started: it puts ``_interrupted`` in place
    of PySpark's handler and lets SIGINT through (a Ctrl-C meanwhile is acted on then); ``_Interrupted`` is let
    out as KeyboardInterrupt. On the way out, the signal mask and the SIGINT handler the caller had are put back
    (a command run in-process, as from a notebook or a test, leaves neither changed)."""
    handler, mask = signal.getsignal(signal.SIGINT), signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})

    def started() -> None:
        signal.signal(signal.SIGINT, _interrupted)  # in place of PySpark's own, see _Interrupted
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)

    try:
        yield started
    except _Interrupted:  # the JVM has ended (``jvm_ended_if_cut_short``): py4j has nothing left to print
        raise KeyboardInterrupt from None
    finally:
        if handler is not None:  # first the handler: a Ctrl-C held back till now is then the caller's to act on
            signal.signal(signal.SIGINT, handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


class _Interrupted(BaseException):
    """Ctrl-C while Spark runs: KeyboardInterrupt by another name until the JVM has ended. py4j prints its
    tracebacks where a KeyboardInterrupt cuts its call short, and PySpark's own handler first cancels the jobs
    by a call into the JVM that fails where a call is already under way (py4j then prints more)."""


def _interrupted(signum: int, frame: object) -> None:
    raise _Interrupted


def register(app: typer.Typer) -> None:
    """Add the batch commands to the ``riskline`` app."""
    for command in (score, explain):
        app.command()(command)
