"""Spark's session for the CLI and the JVM behind it: started with its standard error passed on (less
start-up noise), and ended whole, job and all, where SIGTERM or Ctrl-C cuts a run short."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

LOG_CONFIG = Path(__file__).with_name("spark_log4j2.properties")  # Spark's logging on a local master


def spark_session(master: str | None = None) -> Any:
    """A session for the CLI: ``$RISKLINE_SPARK_MASTER`` or all local cores.

    On a local master, shuffles use two partitions per core instead of Spark's 200: each partition
    costs a task with its own start-up, and one machine gains nothing from more than its cores can run.
    """
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # executors run this environment's Python
    if master is None:
        master = os.environ.get("RISKLINE_SPARK_MASTER", "local[*]")
        if not master.strip():
            raise SparkUnavailable("RISKLINE_SPARK_MASTER is empty (an unset variable?); unset it to run on every "
                                   "local core (local[*]), or name a master")
    builder = (SparkSession.builder.appName("riskline").master(master)
               .config("spark.sql.session.timeZone", "UTC").config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               # column names told apart by case, as the local readers tell them: otherwise Spark takes a CSV's
               # 'text' and 'Text' for one name (renaming both, so no column 'text' is left), and refuses such
               # a Parquet file; a session of one's own needs this too (Spark 4 resolves names when it runs)
               .config("spark.sql.caseSensitive", "true"))
    if local := re.fullmatch(r"local\[(\d+|\*)\]|local", master):
        threads = local.group(1)
        cores = 1 if threads is None else (os.cpu_count() or 1) if threads == "*" else int(threads)
        builder = builder.config("spark.sql.shuffle.partitions", str(2 * cores))
        if "SPARK_CONF_DIR" not in os.environ:  # errors only: start-up warnings would bury Riskline's own lines
            builder = builder.config("spark.driver.extraJavaOptions",
                                     f"-Dlog4j2.configurationFile={LOG_CONFIG.as_uri()}")
    _launch_jvm(builder._options)
    with jvm_ended_if_cut_short():
        return builder.getOrCreate()


def _launch_jvm(options: Mapping[str, str]) -> None:
    """Start Spark's JVM (unless one runs already) with its standard error passed on line by line, less the
    warning every start prints ("WARNING: Using incubator modules: jdk.incubator.vector", from a module
    option Spark's launcher always adds), so that a bad row's error is the one line on standard error.
    Raises ``SparkUnavailable`` with what the launcher said where the JVM does not start (no Java)."""
    from pyspark import SparkConf, SparkContext
    from pyspark.errors import PySparkRuntimeError
    from pyspark.java_gateway import launch_gateway

    if SparkContext._gateway is not None or "SPARK_REMOTE" in os.environ:
        return  # a JVM runs already, or Spark Connect: no JVM here
    read, write = os.pipe()
    relay = _Relay(read)
    try:
        gateway = launch_gateway(SparkConf().setAll(list(options.items())), {"stderr": write})  # as getOrCreate would
    except PySparkRuntimeError as exc:
        os.close(write)
        said = relay.held(wait=2.0)
        if thrown := next((m.group(1) for line in said if (m := JVM_EXCEPTION.match(line))), None):
            raise SparkUnavailable(f"Spark did not start ({exc.getCondition()}): {thrown}") from None  # Java ran
        raise SparkUnavailable(f"Spark did not start ({exc.getCondition()}); it needs Java 17, as `java` on PATH "
                               f"or JAVA_HOME{': ' + said[0] if said else ''}") from None  # the cause comes first
    except BaseException:
        os.close(write)
        raise
    os.close(write)  # the JVM holds its own copy; the relay ends when the JVM does
    relay.release()
    gateway.stderr_relay = relay  # for end_jvm
    SparkContext._ensure_initialized(gateway=gateway)


@contextlib.contextmanager
def jvm_ended_if_cut_short() -> Iterator[None]:
    """Around calls into Spark's JVM: where SIGTERM or Ctrl-C cuts one short, ``end_jvm`` before the exception
    goes on. The job such a call started goes on in the JVM regardless, and its gateway may not answer again."""
    try:
        yield
    except Exception:
        raise
    except BaseException:
        end_jvm()
        raise


def end_jvm(wait: float = 60.0) -> None:
    """End the JVM this process launched for Spark as this process's own end would, and wait until it has
    ended (up to ``wait`` seconds, then kill it): its standard input closed, it runs its shutdown hooks, which
    stop Spark and remove its working files, and exits. A job left running there could otherwise go on writing
    (and committing) its output after this process removed the folder it writes into, and leave it there."""
    from pyspark import SparkContext

    process = _jvm_process()
    if process is None or process.poll() is not None:
        return  # Spark Connect or a JVM launched elsewhere (not ours to end), or ended already
    if relay := getattr(SparkContext._gateway, "stderr_relay", None):  # the errors of the job it drops on the way
        relay.mute()  # (tasks failed, blocks gone) are not the user's to read; a process's end never let them out
    context = SparkContext._active_spark_context  # its server for updates from the JVM goes first, as on stop():
    if server := getattr(context, "_accumulatorServer", None):  # else the JVM's end prints its traceback
        server.shutdown()
        context._accumulatorServer = None  # type: ignore[union-attr]
    try:
        process.communicate(timeout=wait)  # its standard input closed, then waited for
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _jvm_process() -> subprocess.Popen[bytes] | None:
    """The JVM's process where this process launched it (PySpark keeps it on the gateway), else None."""
    from pyspark import SparkContext

    return getattr(SparkContext._gateway, "proc", None)


def stop_spark(spark: Any) -> None:
    """Stop ``spark``'s session, unless ``end_jvm`` ended its JVM (no call could reach it then)."""
    from py4j.protocol import Py4JError

    process = _jvm_process()
    if process is not None and process.poll() is not None:
        return
    with contextlib.suppress(Py4JError):  # a JVM gone some other way (killed, crashed): nothing left to stop
        spark.stop()


class SparkUnavailable(RuntimeError):
    """Spark's JVM could not be started here."""


class _Relay:
    """Passes the JVM's standard error on to ours, less ``JVM_NOISE``; holds it back until ``release``, so
    that a launch that fails can say why in one line instead, and passes nothing on after ``mute``."""

    def __init__(self, fd: int) -> None:
        self._lines: list[bytes] | None = []
        self._muted = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, args=(fd,), name="spark-stderr", daemon=True)
        self._thread.start()

    def _run(self, fd: int) -> None:
        with os.fdopen(fd, "rb") as lines:
            for line in lines:  # read to the end whatever happens to them, so that the JVM never blocks on a full pipe
                if line.startswith(JVM_NOISE):
                    continue
                with self._lock:
                    if self._lines is not None:
                        self._lines.append(line)
                    elif not self._muted:
                        _write_stderr(line)

    def held(self, wait: float) -> list[str]:
        """The lines held so far, once the JVM's end closed the pipe (up to ``wait`` seconds)."""
        self._thread.join(wait)
        with self._lock:
            return [line.decode(errors="replace").strip() for line in self._lines or [] if line.strip()]

    def mute(self) -> None:
        """Pass on nothing more (what comes is still read, so that the JVM never blocks on a full pipe)."""
        with self._lock:
            self._muted = True

    def release(self) -> None:
        with self._lock:  # in order: nothing the JVM says next goes out before what it said so far
            for line in self._lines or []:
                _write_stderr(line)
            self._lines = None


def _write_stderr(line: bytes) -> None:
    with contextlib.suppress(OSError):  # standard error closed (a pipe whose reader left): nowhere to go
        os.write(2, line)


JVM_NOISE = b"WARNING: Using incubator modules:"
# where Java ran and Spark's launcher refused its settings (a master it cannot read): its reason, without the class
JVM_EXCEPTION = re.compile(r'Exception in thread "[^"]*" [\w.$]+: (.+)')
