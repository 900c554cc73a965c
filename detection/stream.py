"""``riskline stream``: a Kafka consumer-group worker around the same real-time hook as the service.

Messages are keyed by conversation, so a conversation's messages share a partition and arrive in
order. For each batch: score it and commit states, answers and interventions to the store (the
``Processor``), and only then commit the Kafka offsets. A crash replays at most the batch in flight:
its messages are found already answered (de-duplicated by message id) and its interventions already
stored (stable ids), so nothing is lost and nothing doubled. Interventions leave through the outbox
to a Kafka topic and/or the other sinks, at least once.

A tombstone (a record keyed by a conversation id, with no value: Kafka's way to say a key is deleted)
erases that conversation from the store, as ``DELETE /v1/conversations/{id}`` does, in its place among
the conversation's messages: those before it are scored first, those after it start the conversation anew.
The records up to it are committed as soon as it is applied, so a crash then does not score them again.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from detection.events import MessageEvent
from detection.kafka import KafkaSink, parse_record, reject_value, start_clients, tombstone_conversation
from detection.logs import exit_at_once
from detection.metrics import StreamMetrics
from detection.processor import Background, Processor
from detection.store import StoreConflict, reachable, refuses_writes, warn_if_not_ready

log = logging.getLogger("riskline.stream")

SetAside = Callable[[Any, str], Awaitable[None]]  # a record, and why it is set aside

# Seconds each step of stopping has while the broker does not answer: the batch in hand (its offsets' commit), then
# each Kafka client (leaving the group; sending what it holds). Unbounded, a commit waited for as long as the broker
# was away, and each client its 40-second request timeout and more: SIGTERM took minutes, past the 30 s an
# orchestrator waits before it kills. Cut short, nothing is lost: offsets not committed are read again (the messages
# found answered), the group moves the partitions on after the session timeout, and an intervention not confirmed
# stays in the outbox, to be sent at the next start.
STOP_STEP_SECONDS = 5.0


class _Run(NamedTuple):
    """Part of a batch: a tombstone's erasure (None for the batch's start), the offsets to commit once it is
    applied (every record before it, so that a crash then does not read them again), and the events after
    it, with their records."""

    erase: str | None
    done_before: dict[Any, int]
    events: list[MessageEvent]
    sources: list[Any]


MAX_RETRY_DELAY = 5.0  # seconds between tries of a batch while the state store is down


async def consume(consumer: Any, processor: Processor, worker: Background, stop: asyncio.Event,
                  rejects: Callable[[Any, str], Any] | None = None, max_records: int = 500,
                  metrics: StreamMetrics | None = None) -> None:
    """Process batches until ``stop`` is set; offsets are committed only after the store commit."""
    loop = asyncio.get_running_loop()
    metrics = metrics or StreamMetrics()

    async def set_aside(record: Any, problem: str) -> None:  # with its place, never silently dropped
        log.warning("rejected record", extra={"topic": record.topic, "partition": record.partition,
                                              "offset": record.offset, "reason": problem})
        metrics.rejected.inc()
        if rejects is not None:
            await rejects(record, problem)

    while not stop.is_set():
        batch = await consumer.getmany(timeout_ms=200, max_records=max_records)
        if not batch:
            continue
        runs, offsets = await _cut(batch, set_aside)
        for erased, done_before, events, sources in runs:
            if erased is not None:
                if not await _erase_until_done(loop, processor, erased, stop, metrics, consumer):
                    return  # stopped while the store was down: the batch is left to be read again
                await _commit(consumer, done_before)
            if not events:
                continue
            done = await _process_until_stored(loop, processor, events, sources, set_aside, stop, metrics, consumer)
            if done is None:  # stopped while the store was down: the batch is left to be read again
                return
            answers, interventions = done
            metrics.scored([a for a in answers if not a["duplicate"]], interventions)
            if interventions:
                worker.wake.set()
        for partition, offset in (await _commit(consumer, offsets)).items():
            highwater = consumer.highwater(partition)
            if highwater is not None:
                metrics.lag.labels(partition.topic, str(partition.partition)).set(max(0, highwater - offset))


async def _cut(batch: dict[Any, list[Any]], set_aside: SetAside) -> tuple[list[_Run], dict[Any, int]]:
    """A batch's events in runs, cut at each tombstone (the run after one names the conversation to erase and
    the offsets done before it), bad records set aside; and the offsets the whole batch leaves done."""
    runs = [_Run(None, {}, [], [])]
    offsets: dict[Any, int] = {}
    for partition, records in batch.items():
        for record in records:
            if record.value is None:
                erased, problem = tombstone_conversation(record.key)
                if erased is not None:
                    runs.append(_Run(erased, {**offsets, partition: record.offset + 1}, [], []))
                    continue
            else:
                event, problem = parse_record(record.value)
                if event is not None:
                    runs[-1].events.append(event)
                    runs[-1].sources.append(record)
                    continue
            await set_aside(record, problem or "")
        offsets[partition] = records[-1].offset + 1
    return runs, offsets


async def _process_until_stored(loop: asyncio.AbstractEventLoop, processor: Processor, events: list[Any],
                                sources: list[Any], set_aside: SetAside, stop: asyncio.Event,
                                metrics: StreamMetrics, consumer: Any) -> Any:
    """Process a batch, trying again with backoff while the state store fails (a restart, a network break):
    its answers and interventions, or None if ``stop`` came first. Its offsets wait meanwhile, so
    nothing is lost, and messages stored before a failure are recognised by id when tried again.
    Between tries the worker goes on polling the broker with its partitions paused, so an outage
    longer than ``max_poll_interval`` does not cost it its place in the group.

    A store that answers but refuses writes (a full disk, Redis at its memory limit, a replica or standby that a
    failover left it pointing at; ``store.refuses_writes``) has failed as one that is down has: the batch is held
    back and tried again.
    Where the batch fails otherwise while the store answers, the failure may be a message's own (one its scoring
    cannot take), which no retry would mend: the batch is then scored a message at a time, and a message
    that fails alone ``ALONE_TRIES`` times with the store answering is given with its record (``sources``,
    one per event) to ``set_aside``, so that one message does not hold its partitions for ever."""
    delay = 0.1
    # the answers and interventions of messages stored by a pass a message at a time that was cut short: given with
    # the rest of the batch's once that is stored (they were counted by no metric, the next try finding them answered)
    answered: list[dict[str, Any]] = []
    raised: list[dict[str, Any]] = []
    try:
        while True:
            try:
                answers, interventions = await loop.run_in_executor(None, processor.process, events)
                return answered + answers, raised + interventions
            except Exception as exc:  # mostly the store; a worker that stopped would only read this batch again
                metrics.retries.inc()
                log.warning("scoring failed; trying the batch again", extra={
                    "error": f"{type(exc).__name__}: {exc}", "messages": len(events), "retry_in_s": delay})
                # workers writing one conversation, or a store refusing writes: no message's fault
                store_failed = isinstance(exc, StoreConflict) or refuses_writes(exc)
            if not store_failed and await _store_up(loop, processor):
                (answers, interventions), left = await _one_at_a_time(loop, processor, events, sources, set_aside)
                answered, raised = answered + answers, raised + interventions
                if left is None:
                    return answered, raised
                # interrupted (the store, or a race): the messages not yet stored are tried again whole
                events, sources = [events[i] for i in left], [sources[i] for i in left]
            if await _poll_paused(consumer, delay, stop):
                return None
            delay = min(delay * 2, MAX_RETRY_DELAY)
    finally:
        consumer.resume(*consumer.assignment())


async def _erase_until_done(loop: asyncio.AbstractEventLoop, processor: Processor, conversation_id: str,
                            stop: asyncio.Event, metrics: StreamMetrics, consumer: Any) -> bool:
    """Erase a conversation a tombstone names, after the messages before it and before those after it,
    trying again with backoff while the state store fails: False if ``stop`` came first."""
    delay = 0.1
    try:
        while True:
            try:
                erased = await loop.run_in_executor(None, processor.erase, conversation_id)
            except Exception as exc:  # the store: the worker polls paused, as for a batch
                metrics.retries.inc()
                log.warning("erasing failed; trying again", extra={"error": f"{type(exc).__name__}: {exc}",
                                                                    "retry_in_s": delay})
            else:
                metrics.erasures.labels("erased" if erased else "unknown").inc()
                log.info("conversation erased" if erased else "erasure of an unknown conversation")
                return True
            if await _poll_paused(consumer, delay, stop):
                return False
            delay = min(delay * 2, MAX_RETRY_DELAY)
    finally:
        consumer.resume(*consumer.assignment())


ALONE_TRIES = 3  # a message failing alone this often, the store answering each time, is set aside


async def _store_up(loop: asyncio.AbstractEventLoop, processor: Processor) -> bool:
    return await loop.run_in_executor(None, reachable, processor.store)


async def _one_at_a_time(loop: asyncio.AbstractEventLoop, processor: Processor, events: list[Any],
                         sources: list[Any], set_aside: SetAside) -> tuple[Any, list[int] | None]:
    """The batch scored a message at a time, those that fail alone set aside: the answers and interventions of
    the messages stored, and None; or, where the store stops answering or writers race meanwhile, those of the
    messages stored until then and the positions of the messages after them, to be tried again."""
    answers: list[dict[str, Any]] = []
    interventions: list[dict[str, Any]] = []
    for index, (event, record) in enumerate(zip(events, sources, strict=True)):
        for _ in range(ALONE_TRIES):
            try:
                one, raised = await loop.run_in_executor(None, processor.process, [event])
            except Exception as exc:
                if isinstance(exc, StoreConflict) or refuses_writes(exc) or not await _store_up(loop, processor):
                    return (answers, interventions), list(range(index, len(events)))
                problem = f"scoring failed: {type(exc).__name__}: {exc}"
                continue
            answers += one
            interventions += raised
            break
        else:
            await set_aside(record, problem)
    return (answers, interventions), None


async def _poll_paused(consumer: Any, seconds: float, stop: asyncio.Event) -> bool:
    """Wait ``seconds`` (True if ``stop`` came first), polling with every partition paused: the group
    sees a live reader, and nothing is read. Records of a partition assigned meanwhile are put back."""
    loop_time = asyncio.get_running_loop().time
    deadline = loop_time() + seconds
    while not stop.is_set() and (left := deadline - loop_time()) > 0:
        consumer.pause(*consumer.assignment())
        for partition, records in (await consumer.getmany(timeout_ms=int(min(left, 0.5) * 1000))).items():
            consumer.seek(partition, records[0].offset)
            consumer.pause(partition)
    return stop.is_set()


async def _commit(consumer: Any, offsets: dict[Any, int]) -> dict[Any, int]:
    """Commit a stored batch's offsets where this worker still owns the partition; return those committed.
    A partition the group gave to another worker meanwhile (this one was too slow, or another joined)
    is read again there, its messages found answered; this worker rejoins at its next poll."""
    from aiokafka.errors import CommitFailedError

    owned = {partition: offset for partition, offset in offsets.items() if partition in consumer.assignment()}
    try:
        if owned:
            await consumer.commit(owned)
    except CommitFailedError:
        owned = {}
    if len(owned) < len(offsets):
        log.warning("partitions were reassigned during the batch; their new reader reads it again "
                    "(its messages are found answered)", extra={"partitions": len(offsets) - len(owned)})
    return owned


async def _until_stopped(consuming: asyncio.Task[None], stop: asyncio.Event) -> None:
    """Wait for ``consuming`` to end (raising its error); once ``stop`` is set, it has ``STOP_STEP_SECONDS`` to
    finish the batch in hand before it is cancelled."""
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({consuming, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if consuming.done():  # ended of itself: its error, if any, is the worker's
        await consuming
    elif not await _within(consuming, "finishing the batch in hand"):
        asyncio.get_running_loop().set_exception_handler(_unsaid_commit)


def _unsaid_commit(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The loop's handler of errors nobody awaited, once a batch was cut short at stop: the commit it left (aiokafka
    runs it as a task of its own) fails as the consumer closes, which is no error; others are logged as ever."""
    task = context.get("future")
    coro = task.get_coro() if isinstance(task, asyncio.Task) else None
    if getattr(coro, "__qualname__", "") != "GroupCoordinator._do_commit_offsets":
        loop.default_exception_handler(context)


async def _within(step: Awaitable[None], doing: str) -> bool:
    """Await a step of stopping, or give it up after ``STOP_STEP_SECONDS``, saying so; whether it finished."""
    try:
        await asyncio.wait_for(step, STOP_STEP_SECONDS)
    except TimeoutError:
        log.warning("a step of stopping did not finish in time (the broker, or for a batch the store, not "
                    "answering); stopping without it", extra={"step": doing, "waited_s": STOP_STEP_SECONDS})
        return False
    return True


def _on_signal(sig: signal.Signals, stop: asyncio.Event) -> None:
    """The first SIGTERM or SIGINT stops the worker in order; a second, as a person pressing Ctrl-C again does
    who will not wait, ends it at once, with the status a shell gives a process the signal ended. That is safe
    as a kill is: the offsets not committed are read again at the next start, their messages found answered."""
    if stop.is_set():
        exit_at_once(log, sig, "what was in hand is read again at the next start")
    log.info("stopping (a second signal stops at once)", extra={"signal": sig.name})
    stop.set()


async def run_stream(settings: Any, parts: dict[str, Any], metrics: StreamMetrics) -> None:
    """Run the worker until SIGTERM or SIGINT; then finish the batch in hand and stop (each step within
    ``STOP_STEP_SECONDS`` where the broker does not answer; a second signal ends it at once). The caller,
    which opened the state store in ``parts`` and serves ``metrics`` where asked to (``serve_metrics``), closes
    them."""
    from detection.processor import hook

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _on_signal, sig, stop)
    metrics.model_info(parts["model"].model_version)
    metrics.watch_outbox(parts["store"])
    producer, consumer = await start_clients(settings)
    sinks = list(parts["sinks"])
    if settings.interventions_topic:
        sinks.append(KafkaSink(producer, settings.interventions_topic, loop))
    processor, worker = hook(parts, sinks, settings)
    metrics.watch_processor(processor, worker.janitor)
    worker.start()

    async def reject(record: Any, reason: str) -> None:
        if settings.rejects_topic:
            await producer.send_and_wait(settings.rejects_topic, reject_value(record, reason))

    log.info("consuming", extra={"topic": settings.topic, "group": settings.group,
                                 "model_version": parts["model"].model_version})
    warn_if_not_ready(parts["store"], log, "batches wait until it answers and takes writes")
    try:
        await _until_stopped(asyncio.ensure_future(
            consume(consumer, processor, worker, stop, reject, settings.max_batch, metrics)), stop)
    finally:
        await _within(consumer.stop(), "leaving the group")
        await loop.run_in_executor(None, worker.stop)
        await _within(producer.stop(), "sending what the producer holds")
        log.info("stopped")
