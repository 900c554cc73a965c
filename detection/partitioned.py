"""The local engine for large files: every core, memory bounded by a partition, not by the file.

1. Split (``splitting``): validate each row and append it to one of P partition files, by a hash of its
   conversation id, in parallel over a plain JSON Lines file's line ranges. Rows keep their place, so errors
   name the right line or row and ties keep input order.
2. Score (in parallel over partitions): read each back, message ids de-duplicated (``partitions``), score
   each conversation with the shared core, write the partition's results sorted by each conversation's
   first row.
3. Merge the partitions' results in that order into the output, streaming, all or nothing.

P grows with the file (about ``PARTITION_BYTES`` of input each), so a worker holds one partition,
whatever the file's size; only a single conversation larger than that can make it bigger. The
output is exactly the in-memory engine's (``detection.batch``), in the same order.

Step 1 and the duplicates of step 2 serve another whole-input run as well (``split_input``): ``riskline
backfill`` reads its partitions back one at a time.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import multiprocessing
import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from detection.batch import (
    CONVERSATION_COLUMNS,
    MESSAGE_COLUMNS,
    BatchResult,
    arrow_schema,
    by_level,
    levels_of,
    rejects_error,
    step_rows,
    write_rejects,
)
from detection.events import MessageEvent
from detection.inputs import (
    InputError,
    file_and_row,
    input_bytes,
    input_files,
    input_format,
    not_a_file,
    unsupported,
)
from detection.messages import MEDIA, Messages
from detection.model import RiskModel
from detection.partitions import Split, partition_events, read_partition
from detection.policy import EscalationPolicy
from detection.readers import Reject
from detection.scoring import RiskScore, score_conversations
from detection.splitting import place_duplicates, split, split_jobs
from detection.workers import ProgressBar, worker_pool, working_folder
from detection.writers import output_format, write_failure, write_rows

PARTITION_BYTES = 16 * 2**20


PARALLEL_MIN_BYTES = 16 * 2**20  # below this, one process scoring in memory is as fast


def parallel_min_bytes() -> int:
    """The input size from which ``riskline score`` partitions: ``PARALLEL_MIN_BYTES``, or
    ``$RISKLINE_PARALLEL_MIN_BYTES`` (0: every input)."""
    raw = os.environ.get("RISKLINE_PARALLEL_MIN_BYTES", str(PARALLEL_MIN_BYTES)).strip()
    if not (raw.isascii() and raw.isdigit()):
        raise InputError(f"RISKLINE_PARALLEL_MIN_BYTES={raw!r}: expected a whole number of bytes (0: partition "
                         "every input); unset it for the default")
    return int(raw)


_MODEL: RiskModel | None = None  # set before the pool forks, inherited by the workers
_POLICY: EscalationPolicy | None = None  # so too the policy of interventions replayed, where they are asked for


class _Scored(NamedTuple):
    """What scoring one partition gives back to the parent."""

    rejects: list[Reject]
    unplaced: list[tuple[int, str]]  # (position in the file, reason) of duplicates read without their place
    n_messages: int
    n_conversations: int
    n_alerts: int
    riskiest: list[tuple[float, int, RiskScore]]  # (-score, first input row, result) of its ``show`` riskiest
    shown: list[MessageEvent]  # the messages the table shows for them
    n_other_language: int = 0  # conversations that read as another language than English
    interventions: dict[str, int] | None = None  # those replayed, by level (``replay``)


def _riskiest(results: list[RiskScore], table: Any, first: dict[str, int],
              show: int) -> tuple[list[tuple[float, int, RiskScore]], list[MessageEvent]]:
    """A partition's ``show`` riskiest conversations, ordered as ``print_riskiest`` orders the whole file's
    (ties by first appearance), and the messages its table quotes (the alert and two of the evidence)."""
    riskiest = heapq.nsmallest(show, ((-r.risk_score, first[r.conversation_id], r) for r in results),
                               key=lambda item: item[:2])
    wanted = {(r.conversation_id, m) for _, _, r in riskiest
              for m in [r.alert_message_id, *r.evidence_message_ids[:2]] if m is not None}
    keys = zip(table.column("conversation_id").to_pylist(), table.column("message_id").to_pylist(), strict=True)
    rows = [i for i, key in enumerate(keys) if key in wanted]
    return riskiest, partition_events(table.take(rows))


class _ScoreJob(NamedTuple):
    """One partition's scoring (or, without ``score``, its count of messages and copies of a message id)."""

    folder: str
    p: int  # the partition
    sources: list[str]  # the input's files
    written: int  # the rows the split wrote to it
    per_message: bool = False
    score: bool = False
    show: int = 0  # how many of its riskiest conversations to give back
    replay: bool = False  # also the interventions the service would raise (``_POLICY``), written beside


def _score(job: _ScoreJob) -> _Scored:
    """Score one partition; return its duplicate rows, counts and riskiest conversations (without ``score``,
    its duplicate rows and counts alone)."""
    folder, p, sources, written, per_message, score, show, replay = job
    if (read := read_partition(folder, p, sources, written)) is None:
        return _Scored([], [], 0, 0, 0, [], [])
    table, order_column, ids, rejects, unplaced = read
    if not score:
        return _Scored(rejects, unplaced, table.num_rows, len(set(ids[0])), 0, [], [])
    assert _MODEL is not None
    media = pc.fill_null(pc.is_in(table.column("attachment"), pa.array(sorted(MEDIA))), False)
    messages = Messages(*ids, table.column("sender_id").to_pylist(), table.column("timestamp").to_numpy(),
                        table.column("text").to_pylist(), media.to_numpy())
    made: list[dict[str, Any]] | None = None
    if replay:  # (the service's side is imported only where asked for: ``score`` starts as fast as before)
        from detection.replay import in_order, score_and_replay

        assert _POLICY is not None
        results, steps, made = score_and_replay(_MODEL, messages, _POLICY)
        with open(Path(folder) / f"iv{p:05d}.jsonl", "w", encoding="utf-8") as handle:
            for one in made:
                handle.write(json.dumps({**one, "_key": in_order(one)}, ensure_ascii=False) + "\n")
    else:
        results, steps = score_conversations(_MODEL, messages)
    first: dict[str, int] = {}
    for conversation, order in zip(ids[0], order_column, strict=True):
        first.setdefault(conversation, order)
    if per_message:
        keyed = [(first[str(r["conversation_id"])], r) for r in step_rows(steps)]
    else:
        keyed = [(first[r.conversation_id], {k: getattr(r, k) for k in CONVERSATION_COLUMNS}) for r in results]
    keyed.sort(key=lambda pair: pair[0])  # stable: a conversation's messages keep their order
    with open(Path(folder) / f"out{p:05d}.jsonl", "w", encoding="utf-8") as handle:
        for first_row, row in keyed:
            handle.write(json.dumps({**row, "_key": first_row}, ensure_ascii=False) + "\n")
    riskiest, shown = _riskiest(results, table, first, show) if show else ([], [])
    return _Scored(rejects, unplaced, len(messages), len(results), sum(r.alert for r in results), riskiest, shown,
                   sum(r.other_language for r in results),
                   None if made is None else levels_of(made))


def _merged(folder: Path, n: int, name: str = "out") -> Iterator[dict[str, Any]]:
    """The partitions' ``name`` files (their output rows, or ``iv``: their interventions) merged by ``_key``."""
    def rows(p: int) -> Iterator[dict[str, Any]]:
        path = folder / f"{name}{p:05d}.jsonl"
        if path.exists():
            with path.open(encoding="utf-8") as handle:
                for line in handle:
                    yield json.loads(line)
    for row in heapq.merge(*(rows(p) for p in range(n)), key=lambda r: r["_key"]):
        del row["_key"]
        yield row


def score_file_partitioned(model: RiskModel, input_path: str | Path, output_path: str | Path, *,
                           per_message: bool = False, errors_path: str | Path | None = None,
                           workers: int | None = None, partitions: int | None = None,
                           progress: bool = False, show: int = 0, interventions_path: str | Path | None = None,
                           policy: EscalationPolicy | None = None) -> BatchResult:
    """Score a file of any size with ``workers`` processes; same output as ``batch.score_file`` (the interventions
    too, with ``interventions_path``).

    The result holds no events and, of the results, only the ``show`` riskiest conversations (with the
    messages ``print_riskiest`` quotes): holding them all would undo the bounded memory.
    """
    global _MODEL, _POLICY
    source, output = Path(input_path), Path(output_path)
    files = _input_files(source)
    output_format(output)  # before the work: a name it cannot write is an error now
    workers, n = _sizes(files, workers, partitions)
    place = output.parent if output.parent.is_dir() else Path(tempfile.gettempdir())
    _MODEL = model
    _POLICY = (policy or EscalationPolicy.load(None)) if interventions_path is not None else None
    context = multiprocessing.get_context("fork")
    try:
        with working_folder(place) as folder:
            with worker_pool(workers, context) as pool, ProgressBar(progress) as bar:
                rejects, written = _read_into(folder, source, files, n, workers, pool, bar)
                score = not (rejects and errors_path is None)
                names = [str(f) for f in files]
                jobs = [_ScoreJob(str(folder), p, names, written[p], per_message, score, show, _POLICY is not None)
                        for p in range(n)]
                done = list(bar.track(pool.map(_score, jobs), n, "scoring"))
            rejects = _all_rejects(rejects, done, names)
            if rejects and errors_path is None:
                raise rejects_error(rejects)
            write_rows(output, _merged(folder, n), MESSAGE_COLUMNS if per_message else CONVERSATION_COLUMNS,
                       arrow_schema(per_message), for_people=True)
            if errors_path is not None:
                write_rejects(errors_path, rejects)
            if interventions_path is not None:
                from detection.replay import write_interventions

                write_interventions(interventions_path, _merged(folder, n, "iv"))
            return _result(done, len(rejects), show)
    except BrokenProcessPool:  # a worker killed outright; the pool has stopped the others
        raise InputError(f"{source}: a worker process was killed while scoring it (most often by the kernel's "
                         "out-of-memory killer, which `dmesg` names); nothing was written to "
                         f"{output}. Give the command more memory, or fewer workers (--workers 1 holds one "
                         "partition at a time)") from None
    except OSError as exc:  # the working files: the output's own failures are said by write_rows
        if (reason := write_failure(exc)) is None:
            raise
        raise InputError(f"{output}: scoring's working files in {place} could not be written ({reason}); "
                         "nothing was written there") from None
    finally:
        _MODEL = _POLICY = None


def _result(done: list[_Scored], n_rejected: int, show: int) -> BatchResult:
    """The partitions' results together: counts, and the ``show`` riskiest conversations with their messages."""
    riskiest = heapq.nsmallest(show, (item for d in done for item in d.riskiest), key=lambda item: item[:2])
    shown = {r.conversation_id for _, _, r in riskiest}
    return BatchResult(sum(d.n_messages for d in done), sum(d.n_conversations for d in done), n_rejected,
                       sum(d.n_alerts for d in done), [r for _, _, r in riskiest],
                       [e for d in done for e in d.shown if e.conversation_id in shown],
                       sum(d.n_other_language for d in done),
                       None if all(d.interventions is None for d in done)  # none replayed
                       else by_level(sum((Counter(d.interventions) for d in done), Counter())))


def _sizes(files: list[Path], workers: int | None, partitions: int | None) -> tuple[int, int]:
    """The processes (every core unless told) and the partitions (about ``PARTITION_BYTES`` of input each, at
    least one a process, unless told) of a run over ``files``."""
    workers = workers or os.cpu_count() or 1
    return workers, partitions or max(workers, -(-input_bytes(files) // PARTITION_BYTES))


def _input_files(source: Path) -> list[Path]:
    """The input's files (``inputs.input_files``), a file of an unknown type refused by its name first."""
    if not source.is_dir() and input_format(source) is None:
        raise unsupported(source)
    if not source.exists():
        raise not_a_file(source)
    return input_files(source)


def _read_into(folder: Path, source: Path, files: list[Path], n: int, workers: int, pool: ProcessPoolExecutor,
               bar: ProgressBar) -> tuple[list[Reject], list[int]]:
    """Every row of the input's ``files`` checked into ``n`` partition files in ``folder``: the bad ones, and the
    rows written to each partition."""
    jobs = split_jobs(files, folder, n, workers)
    parts = map(split, jobs) if len(jobs) == 1 else pool.map(split, jobs)  # a whole file: here
    rejects, written = [], [0] * n
    for found, counts in bar.track(parts, len(jobs), "reading"):
        rejects += found
        written = [a + b for a, b in zip(written, counts, strict=True)]
    if not any(written) and not rejects:
        raise InputError(f"{source}: no message rows in its {len(files)} data files" if source.is_dir()
                         else f"{source}: empty file: no message rows")
    return rejects, written


def _all_rejects(rejects: list[Reject], done: list[_Scored], names: list[str]) -> list[Reject]:
    """The bad rows found reading and the partitions' duplicates (those read without their place placed), in
    input order."""
    rejects = rejects + [r for part in done for r in part.rejects]
    unplaced = sorted(u for part in done for u in part.unplaced)
    for i, group in itertools.groupby(unplaced, key=lambda u: file_and_row(u[0])[0]):
        rejects += place_duplicates(names[i], [(file_and_row(order)[1], reason) for order, reason in group])
    rank = {name: i for i, name in enumerate(names)}
    return sorted(rejects, key=lambda r: (rank[r.path], _row_number(r)))


@contextlib.contextmanager
def split_input(input_path: str | Path, *, workers: int | None = None, partitions: int | None = None,
                progress: bool = False) -> Iterator[Split]:
    """The input's messages split by conversation into partitions of about ``PARTITION_BYTES`` of input, with
    its bad rows as ``score`` finds them, in a working folder under the temporary folder (``TMPDIR``) that is
    removed when the ``with`` block ends: a run over them that holds one partition at a time holds about
    that much, whatever the input's size (``riskline backfill``). Read by ``workers`` processes, with a
    progress bar on a terminal where ``progress`` is set."""
    source = Path(input_path)
    files = _input_files(source)
    workers, n = _sizes(files, workers, partitions)
    names = [str(f) for f in files]
    place = Path(tempfile.gettempdir())
    with working_folder(place) as folder:
        try:
            with worker_pool(workers, multiprocessing.get_context("fork")) as pool, ProgressBar(progress) as bar:
                rejects, written = _read_into(folder, source, files, n, workers, pool, bar)
                done = list(pool.map(_score, [_ScoreJob(str(folder), p, names, written[p]) for p in range(n)]))
        except BrokenProcessPool:
            raise InputError(f"{source}: a worker process was killed while reading it (most often by the kernel's "
                             "out-of-memory killer, which `dmesg` names). Give the command more memory, or fewer "
                             "workers (--workers 1 holds one process's blocks)") from None
        except OSError as exc:
            if (reason := write_failure(exc)) is None:
                raise
            raise InputError(f"{source}: the working files of its reading could not be written in {place} "
                             f"({reason}); set TMPDIR to a folder with room for a copy of the input") from None
        yield Split(str(folder), n, names, _all_rejects(rejects, done, names), sum(d.n_conversations for d in done),
                    [d.n_messages for d in done], written)


def _row_number(reject: Reject) -> int:
    return int(reject.location.split()[-1])
