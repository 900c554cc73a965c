"""A PostgreSQL store's commit as the statements it sends together in one pipeline, so in one round trip
and one transaction: the conversations written under the version check (``_check``), then the answers,
interventions and outbox rows. Rows go as arrays, one per column, through ``unnest``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from detection.store import Conversation

ROWS = "unnest(%b::bytea[], %b::bigint[], %b::text[], %b::text[], %b::text[]) AS v(c, n, s, l, r)"
ROWS_AND_COUNTS = ("unnest(%b::bytea[], %b::bigint[], %b::text[], %b::text[], %b::text[], %b::bigint[]) "
                   "AS v(c, n, s, l, r, e)")


def commit_statements(prefix: str, now: float, conversations: Sequence[Conversation],
                      answers: Sequence[tuple[str, str, dict[str, Any]]], interventions: Sequence[dict[str, Any]],
                      sinks: Sequence[str], expected: Mapping[str, int]) -> list[tuple[str, Any]]:
    """``commit``'s statements, to be sent together in one pipeline."""
    new, moved, unchecked, checked_only = _by_check(conversations, expected)
    statements: list[tuple[str, Any]] = []
    if new or moved or checked_only:
        statements.append(_check(prefix, now, new, moved, checked_only))
    if unchecked:
        statements.append((f"INSERT INTO {prefix}conversations SELECT c, n, s, l, r, %s FROM {ROWS} "
                           "ON CONFLICT (conversation_id) DO UPDATE SET n_messages = EXCLUDED.n_messages, "
                           "state = EXCLUDED.state, level = EXCLUDED.level, raised = EXCLUDED.raised, "
                           "updated_at = EXCLUDED.updated_at", (now, *_columns(unchecked))))
    if answers:
        statements.append((f"INSERT INTO {prefix}messages SELECT * FROM unnest(%b::bytea[], %b::bytea[], "
                           "%b::text[]) ON CONFLICT DO NOTHING",
                           _columns((c.encode(), m.encode(), json.dumps(a)) for c, m, a in answers)))
    if interventions:
        statements.append((f"INSERT INTO {prefix}interventions SELECT * FROM unnest(%b::bytea[], "
                           "%b::bytea[], %b::text[], %b::float8[]) ON CONFLICT DO NOTHING",
                           _columns((i["intervention_id"].encode(), i["conversation_id"].encode(), json.dumps(i),
                                     now) for i in interventions)))
    if interventions and sinks:
        statements.append((f"INSERT INTO {prefix}outbox (intervention_id, sink, created_at, next_attempt_at) "
                           "SELECT * FROM unnest(%b::bytea[], %b::text[], %b::float8[], %b::float8[]) "
                           "ON CONFLICT DO NOTHING",
                           _columns((i["intervention_id"].encode(), sink, now, now)
                                    for i in interventions for sink in sinks)))
    return statements


def _check(prefix: str, now: float, new: list[tuple[Any, ...]], moved: list[tuple[Any, ...]],
           checked_only: dict[bytes, int]) -> tuple[str, list[Any]]:
    """The statement that writes the conversations under the version check, and raises ``CONFLICT`` (through
    the ``unchanged`` function that ``postgres_store.SCHEMA`` makes) if any has moved on: a new one another
    writer created first (its row is waited for), one whose count is no longer the one loaded, or one checked
    but not written whose count changed."""
    table = prefix + "conversations"
    parts, params, holds = [], [], []
    if new:
        parts.append(f"ins AS (INSERT INTO {table} SELECT c, n, s, l, r, %s FROM {ROWS} ON CONFLICT DO NOTHING "
                     "RETURNING 1)")
        params += [now, *_columns(new)]
        holds.append(f"(SELECT count(*) FROM ins) = {len(new)}")
    if moved:
        parts.append(f"upd AS (UPDATE {table} t SET n_messages = v.n, state = v.s, level = v.l, raised = v.r, "
                     f"updated_at = %s FROM {ROWS_AND_COUNTS} WHERE t.conversation_id = v.c AND t.n_messages = v.e "
                     "RETURNING 1)")
        params += [now, *_columns(moved)]
        holds.append(f"(SELECT count(*) FROM upd) = {len(moved)}")
    if checked_only:
        ids = sorted(checked_only)
        parts.append(f"seen AS (SELECT conversation_id, n_messages FROM {table} WHERE conversation_id = ANY(%b) "
                     "FOR SHARE)")
        params.append(ids)
        holds.append("NOT EXISTS (SELECT 1 FROM unnest(%b::bytea[], %b::bigint[]) AS k(c, e) LEFT JOIN seen "
                     "ON seen.conversation_id = k.c WHERE COALESCE(seen.n_messages, 0) <> k.e)")
        params += [ids, [checked_only[i] for i in ids]]
    return f"WITH {', '.join(parts)} SELECT {prefix}unchanged({' AND '.join(holds)})", params


def _by_check(conversations: Sequence[Conversation], expected: Mapping[str, int]) -> tuple[
        list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]], dict[bytes, int]]:
    """The conversations' rows by the check each is written under: new (none when loaded), moved (with the
    count each had when loaded), unchecked; and the counts of those checked but not written."""
    new: list[tuple[Any, ...]] = []
    moved: list[tuple[Any, ...]] = []
    unchecked: list[tuple[Any, ...]] = []
    for conv in sorted(conversations, key=lambda c: c.state.conversation_id):  # one lock order for all writers
        cid = conv.state.conversation_id
        row = (cid.encode(), conv.state.n_messages, json.dumps(conv.state.to_dict()), conv.level,
               json.dumps(sorted(conv.raised)))
        if cid not in expected:
            unchecked.append(row)
        elif expected[cid] == 0:
            new.append(row)
        else:
            moved.append((*row, expected[cid]))
    written = {c.state.conversation_id for c in conversations}
    checked_only = {cid.encode(): count for cid, count in expected.items() if cid not in written}
    return new, moved, unchecked, checked_only


def _columns(rows: Iterable[tuple[Any, ...]]) -> list[list[Any]]:
    """Rows as columns, for ``unnest``."""
    return [list(column) for column in zip(*rows, strict=True)]
