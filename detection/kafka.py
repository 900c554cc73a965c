"""The broker's side of ``riskline stream``: a record's value read as a message event (or why not), a
tombstone's conversation, a reject's record for the rejects topic, the producer and consumer started,
and interventions published to a topic.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from detection.events import JSON_ERRORS, EventError, MessageEvent, conversation_key, loads, to_event
from detection.sinks import canonical_body
from detection.writers import utf8_json


class KafkaSink:
    """Publishes interventions to a topic, keyed by conversation, from the outbox worker's threads."""

    name = "kafka"

    def __init__(self, producer: Any, topic: str, loop: asyncio.AbstractEventLoop, timeout: float = 10.0) -> None:
        self.producer, self.topic, self.loop, self.timeout = producer, topic, loop, timeout

    def deliver(self, payload: dict[str, Any]) -> None:
        send = self.producer.send_and_wait(self.topic, canonical_body(payload),
                                           key=str(payload["conversation_id"]).encode())
        asyncio.run_coroutine_threadsafe(send, self.loop).result(self.timeout)


def parse_record(value: bytes | None) -> tuple[MessageEvent | None, str | None]:
    """The event in a record's value, or why there is none."""
    try:
        data = loads(value or b"")
    except JSON_ERRORS as exc:
        return None, f"not valid JSON ({exc})"
    if not isinstance(data, dict):
        return None, "expected a JSON object"
    try:
        return to_event(data), None
    except EventError as exc:
        return None, str(exc)


REJECT_VALUE_CHARS = 10_000  # of a record's value copied into its reject (its place names the whole record)

REJECT_REASON_CHARS = 2_000  # of why (reasons quote a bad value only in part; an exception's text may not)


def reject_value(record: Any, reason: str) -> bytes:
    """The rejects topic's record for ``record``: its place, why, and its value as text, cut to
    ``REJECT_VALUE_CHARS`` characters, as UTF-8 JSON (as a rejects file holds it). Copied whole, a large
    value could outgrow the producer's limit (1 MB by default; escaped as ASCII, an accented letter took 6
    bytes), and the failed publish stopped the worker, which met the same record first again at every start."""
    value = record.value or b""
    text = value.decode("utf-8", "replace")
    return utf8_json({"topic": record.topic, "partition": record.partition, "offset": record.offset,
                       "reason": reason[:REJECT_REASON_CHARS], "value": text[:REJECT_VALUE_CHARS],
                       "value_bytes": len(value), "value_cut": len(text) > REJECT_VALUE_CHARS}).encode()


def tombstone_conversation(key: bytes | None) -> tuple[str | None, str | None]:
    """The conversation a tombstone (a record with a key and no value) erases, or why it names none."""
    if key is None:
        return None, "a record with no value and no key (an erasure names its conversation by the key)"
    try:
        conversation_id = key.decode()
    except UnicodeDecodeError:
        return None, "a record with no value (an erasure) whose key is not UTF-8"
    if not conversation_id:
        return None, "a record with no value (an erasure) whose key is empty"
    try:  # as its messages' ids are held (trimmed)
        return conversation_key(conversation_id), None
    except EventError as exc:
        return None, f"a record with no value (an erasure) whose key no message could have as its id: {exc.reason}"


class BrokerUnreachable(ConnectionError):
    """No Kafka broker answered at start-up (an ``OSError``: the CLI prints it as one line)."""


async def reach_brokers(settings: Any) -> None:
    """Raise ``BrokerUnreachable`` unless a broker answers: a producer started and stopped (no group joined), for
    the worker to know before it opens its state store, so that a wrong ``--brokers`` leaves nothing behind."""
    producer, _ = await start_clients(settings, consumer=False)
    await producer.stop()


async def start_clients(settings: Any, consumer: bool = True) -> tuple[Any, Any]:
    """The started producer and consumer (None without ``consumer``). If either cannot reach a broker, stop both
    and raise ``BrokerUnreachable`` naming the brokers."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.errors import KafkaConnectionError

    clients: list[Any] = []
    said_below = _Unsaid("Unable connect to")  # the error raised below names the brokers and the reason
    logging.getLogger("aiokafka").addFilter(said_below)
    try:
        clients.append(AIOKafkaProducer(bootstrap_servers=settings.brokers))
        await clients[0].start()
        if not consumer:
            return clients[0], None
        clients.append(AIOKafkaConsumer(settings.topic, bootstrap_servers=settings.brokers, group_id=settings.group,
                                        enable_auto_commit=False, auto_offset_reset="earliest",
                                        session_timeout_ms=int(settings.session_timeout * 1000),
                                        max_poll_interval_ms=int(settings.max_poll_interval * 1000),
                                        heartbeat_interval_ms=max(100, int(settings.session_timeout * 1000) // 3)))
        await clients[1].start()
    except KafkaConnectionError as exc:
        for client in clients:
            await client.stop()
        raise BrokerUnreachable(f"--brokers {settings.brokers}: no Kafka broker answered ({exc}); "
                                "is it running and reachable from here?") from None
    finally:
        logging.getLogger("aiokafka").removeFilter(said_below)
    return clients[0], clients[1]


class _Unsaid(logging.Filter):
    """Drops log records whose message starts with ``prefix``."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)
