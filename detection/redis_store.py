"""A Redis state store, so several service replicas (and stream workers) share conversations.

Keys, under a prefix (default ``riskline:``):
- ``conv:{id}``: the conversation (state, level, levels raised), one JSON value; ``updated``: sorted
  set of conversation ids by last write, while their answers are kept; ``seen``: the same for every
  conversation, until it is erased (``--retention-days`` reads it);
- ``ans:{id}``: hash of message id -> answer, for de-duplication;
- ``iv:{intervention}``: an intervention; ``ivs:{id}``: a conversation's interventions by time;
  ``ivp:{intervention}``: the sinks still to deliver it to;
- ``outbox``: sorted set of ``intervention|sink`` by next attempt time; ``outbox:attempts`` and
  ``outbox:created`` alongside.

``ERASE`` deletes every key of one conversation, and its interventions' outbox rows, in one script;
``FORGET_CONVERSATIONS`` does so for those idle past the retention.

A commit is one Lua script (``COMMIT``), so atomic and one round trip: the same version check as
the SQLite store on the conversations it writes, then every write, or nothing and ``StoreConflict``.
It writes keys it does not declare, so it needs one Redis server, not Redis Cluster. Delivery
claims a due row by pushing its time a lease ahead (atomically, in Lua), so two replicas' workers do
not send the same row at the same moment; a worker that dies mid-delivery leaves the row to come
due again when the lease ends.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import redis

from detection.state import ConversationState
from detection.store import LEASE_SECONDS, Conversation, OutboxItem, StoreConflict, without_password

CLAIM = """
local items = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, member in ipairs(items) do redis.call('ZADD', KEYS[1], ARGV[3], member) end
return items
"""
# The version check and every write of a commit, atomically and in one round trip: KEYS are the
# conversations checked, ARGV[1] their expected message counts, ARGV[2] the writes (commands).
COMMIT = """
local expected = cjson.decode(ARGV[1])
for i, key in ipairs(KEYS) do
  local value = redis.call('GET', key)
  local count = 0
  if value then count = cjson.decode(value).state.n_messages end
  if count ~= expected[i] then return 0 end
end
for _, command in ipairs(cjson.decode(ARGV[2])) do redis.call(unpack(command)) end
return 1
"""
FORGET = """
local convs = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '(' .. ARGV[2], 'LIMIT', 0, ARGV[3])
for _, conv in ipairs(convs) do
  redis.call('DEL', ARGV[4] .. conv)
  redis.call('ZREM', KEYS[1], conv)
end
return #convs
"""
# Everything held of one conversation, atomically: how many keys and interventions' keys were deleted.
# Outbox rows of sinks still to deliver to are found through ``ivp``.
ERASE_ONE = """
local function erase(p, cid)
  local n = redis.call('DEL', p .. 'conv:' .. cid, p .. 'ans:' .. cid)
  redis.call('ZREM', p .. 'updated', cid)
  redis.call('ZREM', p .. 'seen', cid)
  for _, iid in ipairs(redis.call('ZRANGE', p .. 'ivs:' .. cid, 0, -1)) do
    for _, sink in ipairs(redis.call('SMEMBERS', p .. 'ivp:' .. iid)) do
      local member = iid .. '|' .. sink
      redis.call('ZREM', p .. 'outbox', member)
      redis.call('ZREM', p .. 'outbox:created', member)
      redis.call('HDEL', p .. 'outbox:attempts', member)
    end
    n = n + redis.call('DEL', p .. 'iv:' .. iid, p .. 'ivp:' .. iid)
  end
  return n + redis.call('DEL', p .. 'ivs:' .. cid)
end
"""
ERASE = ERASE_ONE + "return erase(ARGV[1], ARGV[2])"  # ARGV: the prefix, the conversation
# Up to ARGV[3] conversations last written before ARGV[2], by ``seen``: how many were erased, and how many
# were looked at. One with an intervention a sink has yet to accept is kept and put at ARGV[2], out of this
# pass's reach and last among them for the next.
FORGET_CONVERSATIONS = ERASE_ONE + """
local p, n = ARGV[1], 0
local cids = redis.call('ZRANGEBYSCORE', p .. 'seen', '-inf', '(' .. ARGV[2], 'LIMIT', 0, ARGV[3])
for _, cid in ipairs(cids) do
  local pending = false
  for _, iid in ipairs(redis.call('ZRANGE', p .. 'ivs:' .. cid, 0, -1)) do
    if redis.call('SCARD', p .. 'ivp:' .. iid) > 0 then pending = true; break end
  end
  if pending then redis.call('ZADD', p .. 'seen', ARGV[2], cid) else erase(p, cid); n = n + 1 end
end
return {n, #cids}
"""
# A failed delivery's bookkeeping, only while its row is still in the outbox: delivered by another
# worker meanwhile, or erased with its conversation, it would leave an attempts field behind for ever.
FAILED = """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
  redis.call('ZADD', KEYS[1], 'XX', ARGV[2], ARGV[1])
end
return 0
"""


class RedisStore:
    """``StateStore`` on Redis."""

    leases = True  # replicas share the outbox: each claims the rows it sends

    def __init__(self, url: str, prefix: str = "riskline:") -> None:
        self.prefix = prefix
        try:
            self.r = redis.Redis.from_url(url, decode_responses=True, socket_timeout=10)
            self.r.ping()
        except (redis.RedisError, ValueError) as exc:
            raise ValueError(f"state store {without_password(url)}: {exc}") from exc
        except TypeError as exc:  # a query option redis-py passes on to its connection, which has no such option
            option = re.search(r"argument ('\w+')", str(exc))
            raise ValueError(f"state store {without_password(url)}: Redis has no connection option "
                             f"{option.group(1) if option else exc} (in the URL's query)") from exc
        scripts = (CLAIM, FORGET, COMMIT, ERASE, FORGET_CONVERSATIONS, FAILED)
        (self._claim, self._forget, self._commit, self._erase, self._forget_conversations,
         self._failed) = (self.r.register_script(script) for script in scripts)
        try:  # loaded now, in one round trip: else the first call of each pays two more (NOSCRIPT, then a load)
            pipe = self.r.pipeline(transaction=False)
            for script in scripts:
                pipe.script_load(script)
            pipe.execute()
        except redis.RedisError as exc:
            raise ValueError(f"state store {without_password(url)}: {exc}") from exc

    def _k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def load(self, conversation_ids: Iterable[str]) -> dict[str, Conversation]:
        return self.read([], conversation_ids)[1]

    def answered(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        return self.read(keys, [])[0]

    def read(self, keys: Sequence[tuple[str, str]], conversation_ids: Iterable[str],
             ) -> tuple[dict[tuple[str, str], dict[str, Any]], dict[str, Conversation]]:
        ids = list(dict.fromkeys(conversation_ids))
        if not keys and not ids:
            return {}, {}
        pipe = self.r.pipeline(transaction=False)  # the states first (``StateStore.read``)
        if ids:
            pipe.mget([self._k("conv", c) for c in ids])
        for cid, mid in keys:
            pipe.hget(self._k("ans", cid), mid)
        values = pipe.execute()
        states = values.pop(0) if ids else []
        return ({key: json.loads(v) for key, v in zip(keys, values, strict=True) if v is not None},
                {c: _decode(v) for c, v in zip(ids, states, strict=True) if v is not None})

    def commit(self, conversations: Sequence[Conversation], answers: Sequence[tuple[str, str, dict[str, Any]]],
               interventions: Sequence[dict[str, Any]], sinks: Sequence[str],
               expected: Mapping[str, int] | None = None) -> None:
        now = str(time.time())
        expected = expected or {}
        writes: list[list[str]] = []
        for conv in conversations:
            writes.append(["SET", self._k("conv", conv.state.conversation_id), _encode(conv)])
            writes.append(["ZADD", self._k("updated"), now, conv.state.conversation_id])
            writes.append(["ZADD", self._k("seen"), now, conv.state.conversation_id])
        for cid, mid, answer in answers:
            writes.append(["HSET", self._k("ans", cid), mid, json.dumps(answer)])
        for item in interventions:
            iid, cid = item["intervention_id"], item["conversation_id"]
            writes.append(["SET", self._k("iv", iid), json.dumps(item), "NX"])
            writes.append(["ZADD", self._k("ivs", cid), "NX", now, iid])
            for sink in sinks:
                member = f"{iid}|{sink}"
                writes.append(["SADD", self._k("ivp", iid), sink])
                writes.append(["ZADD", self._k("outbox"), "NX", now, member])
                writes.append(["ZADD", self._k("outbox", "created"), "NX", now, member])
        if not self._commit(keys=[self._k("conv", c) for c in expected],
                            args=[json.dumps(list(expected.values())), json.dumps(writes)]):
            raise StoreConflict(",".join(expected))  # another writer got there first: nothing was written

    def interventions(self, conversation_id: str) -> list[dict[str, Any]]:
        ids = [str(i) for i in self.r.zrange(self._k("ivs", conversation_id), 0, -1)]
        if not ids:
            return []
        pipe = self.r.pipeline(transaction=False)
        for iid in ids:
            pipe.get(self._k("iv", iid))
            pipe.scard(self._k("ivp", iid))
        values = pipe.execute()
        return [{**json.loads(values[2 * i]), "delivered": values[2 * i + 1] == 0} for i in range(len(ids))]

    def due(self, now: float, limit: int) -> list[OutboxItem]:
        members = self._claim(keys=[self._k("outbox")], args=[now, limit, now + LEASE_SECONDS])
        if not members:
            return []
        pipe = self.r.pipeline(transaction=False)
        for member in members:
            iid, _ = member.rsplit("|", 1)
            pipe.get(self._k("iv", iid))
            pipe.hget(self._k("outbox", "attempts"), member)
            pipe.zscore(self._k("outbox", "created"), member)
        values = pipe.execute()
        items = []
        for i, member in enumerate(members):
            iid, sink = member.rsplit("|", 1)
            payload, attempts, created = values[3 * i: 3 * i + 3]
            if payload is not None:
                items.append(OutboxItem(iid, sink, json.loads(payload), int(attempts or 0), float(created or now)))
        return items

    def delivered(self, intervention_id: str, sink: str, now: float) -> None:
        member = f"{intervention_id}|{sink}"
        pipe = self.r.pipeline(transaction=True)
        pipe.zrem(self._k("outbox"), member)
        pipe.zrem(self._k("outbox", "created"), member)
        pipe.hdel(self._k("outbox", "attempts"), member)
        pipe.srem(self._k("ivp", intervention_id), sink)
        pipe.execute()

    def failed(self, intervention_id: str, sink: str, next_attempt_at: float, error: str) -> None:
        self._failed(keys=[self._k("outbox"), self._k("outbox", "attempts")],
                     args=[f"{intervention_id}|{sink}", next_attempt_at])

    def outbox_stats(self) -> tuple[int, float | None]:
        depth = self.r.zcard(self._k("outbox"))
        oldest = self.r.zrange(self._k("outbox", "created"), 0, 0, withscores=True)
        return int(depth), (float(oldest[0][1]) if oldest else None)

    def forget_answers(self, idle_since: float, idle_before: float, limit: int) -> int:
        """The answers of up to ``limit`` conversations last written in [``idle_since``, ``idle_before``),
        deleted atomically with their place in ``updated``: how many conversations (0 once none are left)."""
        return int(self._forget(keys=[self._k("updated")], args=[idle_since, idle_before, limit, self._k("ans", "")]))

    def erase(self, conversation_id: str) -> bool:
        """As ``SQLiteStore.erase``: one Lua script, so atomic."""
        return int(self._erase(keys=[], args=[self.prefix, conversation_id])) > 0

    def forget_conversations(self, idle_before: float, limit: int) -> int:
        """As ``SQLiteStore.forget_conversations``, by ``seen`` (conversations last written before this
        version kept it are not in it until they are written again). A chunk whose every conversation waits on
        a sink erases none but moves them out of reach: the next chunk is looked at, rather than 0 ending the
        janitor's pass while others were due (until the next pass, a minute later by default)."""
        while True:
            erased, seen = self._forget_conversations(keys=[], args=[self.prefix, idle_before, limit])
            if erased or seen < limit:
                return int(erased)

    def ping(self) -> None:
        """The server answers, and takes writes: a replica (where a failover or a wrong address leaves the
        service) answers every read and refuses every message's commit."""
        self.r.ping()
        try:
            role = self.r.info("replication").get("role")
        except redis.exceptions.ResponseError:  # INFO renamed or disabled (some managed services): the ping must do
            return
        if role in ("slave", "replica"):  # Redis's word for a replica (and a fork's that might rename it)
            raise redis.exceptions.ReadOnlyError("READONLY the server is a replica, which takes no writes: --state "
                                                 "must name the primary")

    def close(self) -> None:
        self.r.close()


def _encode(conv: Conversation) -> str:
    return json.dumps({"state": conv.state.to_dict(), "level": conv.level, "raised": sorted(conv.raised)})


def _decode(value: str | bytes) -> Conversation:
    data = json.loads(value)
    return Conversation(ConversationState.from_dict(data["state"]), data["level"], frozenset(data["raised"]))
