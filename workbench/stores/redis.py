"""The services cache: Redis over ``redis.asyncio``, in the seed's key layout, never partial.

Per user, a hash ``session_id -> {"name", "created_at"}`` (only owned, active sessions) and
per session a list of JSON messages plus a marker key ``<list>:seq``: the highest seq ever
appended, or ``deleted`` once the session is deleted. Every multi-step change is one Lua
script, so a session's list holds its complete history or does not exist:

* an append extends a list only if it ends at ``seq - 1`` and drops it otherwise; it never
  creates one;
* a backfill from the database writes a list only where none exists and the marker is not
  ahead of what it read, so a fill racing an append (or a delete) cannot leave a stale list.

Keys of one user share a hash tag (``{user_id}`` in the templates), so scripts work on a cluster.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from workbench.errors import ConfigurationError, StoreError, StoreUnavailableError
from workbench.models import Message, Role, Session, message_id_for
from workbench.stores.base import read_datetime

try:
    import orjson
    from redis import exceptions as redis_errors
    from redis.asyncio import BlockingConnectionPool, Redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ConfigurationError("the services profile needs: pip install 'workbench[services]'") from exc

__all__ = ["RedisCache"]

_DELETED = "deleted"

# Lua has no exceptions for writes refused by the server (OOM): pcall them and drop the list
_FAILED = "local function failed(reply) return type(reply) == 'table' and reply.err ~= nil end\n"

# KEYS: list, marker; ARGV: seq, item, ttl. Returns 1 appended, 0 nothing cached, -1 list dropped.
_APPEND = (
    _FAILED
    + """
local seq, ttl = tonumber(ARGV[1]), tonumber(ARGV[3])
local marker = redis.call('GET', KEYS[2])
if marker == 'deleted' then return 0 end
if marker and tonumber(marker) >= seq then
  redis.call('EXPIRE', KEYS[2], ttl)
elseif failed(redis.pcall('SET', KEYS[2], seq, 'EX', ttl)) then
  redis.call('DEL', KEYS[1])
  return -1
end
local length = redis.call('LLEN', KEYS[1])
if length == 0 then return 0 end
if length == seq - 1 and not failed(redis.pcall('RPUSH', KEYS[1], ARGV[2])) then
  redis.call('EXPIRE', KEYS[1], ttl)
  return 1
end
redis.call('DEL', KEYS[1])
return -1
"""
)

# KEYS: list, marker, sessions; ARGV: session_id, session JSON, ttl, last seq, items...
_FILL = (
    _FAILED
    + """
local marker = redis.call('GET', KEYS[2])
if marker == 'deleted' or (marker and tonumber(marker) > tonumber(ARGV[4])) then return 0 end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSETNX', KEYS[3], ARGV[1], ARGV[2])
for i = 5, #ARGV, 1000 do
  if failed(redis.pcall('RPUSH', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))) then
    redis.call('DEL', KEYS[1])
    return -1
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""
)

# KEYS: sessions, list, marker; ARGV: session_id, ttl, last (0: all). On a hit, the offset of the
# first item returned, then the items (the newest ``last``, or all); nil on a miss.
_GET = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return false end
local length = redis.call('LLEN', KEYS[2])
if length == 0 then return false end
local last = tonumber(ARGV[3]) or 0
local offset = (last > 0 and last < length) and (length - last) or 0
local items = redis.call('LRANGE', KEYS[2], offset, -1)
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('EXPIRE', KEYS[3], ARGV[2])
table.insert(items, 1, offset)
return items
"""

# KEYS: sessions, marker; ARGV: session_id, session JSON. A deleted session is never re-added.
_SAVE = """
if redis.call('GET', KEYS[2]) == 'deleted' then return 0 end
return redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
"""

# KEYS: sessions, list, marker; ARGV: session_id, committed last seq or 'deleted', ttl. The relay's repair:
# a tombstone for a deleted session; else the marker raised to the committed seq (so no fill read before that
# commit can land later) and the list dropped if it is shorter (a writer died or failed before extending it).
# Returns 1 kept (or nothing cached), 0 tombstoned or already deleted, -1 list dropped.
_REPAIR = (
    _FAILED
    + """
local marker = redis.call('GET', KEYS[3])
if marker == 'deleted' then return 0 end
if ARGV[2] == 'deleted' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('DEL', KEYS[2])
  if failed(redis.pcall('SET', KEYS[3], 'deleted', 'EX', ARGV[3])) then return -1 end
  return 0
end
local seq = tonumber(ARGV[2])
local current = tonumber(marker)
if (not current or current < seq) and failed(redis.pcall('SET', KEYS[3], seq, 'EX', ARGV[3])) then
  redis.call('DEL', KEYS[2])
  return -1
end
local length = redis.call('LLEN', KEYS[2])
if length > 0 and length < seq then
  redis.call('DEL', KEYS[2])
  return -1
end
return 1
"""
)


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError) as exc:
        raise StoreUnavailableError(str(exc) or type(exc).__name__, store="redis") from exc
    except redis_errors.RedisError as exc:
        raise StoreError(str(exc), store="redis") from exc


def _item(message: Message) -> bytes:
    """The cached JSON of one message: the seed's fields, then seq, id and metadata."""
    record = {
        "role": message.role.value,
        "content": message.content,
        "timestamp": message.timestamp.isoformat(),
        "seq": message.seq,
        "message_id": message.message_id,
        "metadata": message.metadata,
    }
    try:
        return orjson.dumps(record)
    except orjson.JSONEncodeError:  # what orjson refuses and json writes (integers beyond 64 bits)
        return json.dumps(record, ensure_ascii=False).encode()


def _session_value(session: Session) -> str:
    return json.dumps({"name": session.name, "created_at": session.created_at.isoformat()}, ensure_ascii=False)


_ROLES = {role.value: role for role in Role}


def _loads(raw: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:  # what orjson refuses and json reads (integers beyond 64 bits)
        return json.loads(raw)


def _parse(items: Sequence[str], user_id: str, session_id: str, *, offset: int = 0) -> list[Message] | None:
    """The cached messages from seq ``offset + 1`` on, or ``None`` unless every item parses and seqs
    run on without a gap (legacy lists have no seqs).

    The hot path of a cache hit: orjson, and the common timestamp (UTC, as written) taken as is.
    """
    messages = []
    try:
        for seq, raw in enumerate(items, start=offset + 1):
            item = _loads(raw)
            if item.get("seq") != seq:
                return None
            timestamp = datetime.fromisoformat(item["timestamp"] if "timestamp" in item else item["ts"])
            if timestamp.tzinfo is not UTC:
                timestamp = read_datetime(timestamp)
            messages.append(
                Message(
                    item.get("message_id") or message_id_for(session_id, seq),
                    session_id,
                    user_id,
                    seq,
                    _ROLES[item["role"]],
                    item["content"],
                    timestamp,
                    item.get("metadata") or {},
                )
            )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return messages


class RedisCache:
    """The :class:`~workbench.stores.base.MessageCache` of the services profile."""

    name = "redis"

    def __init__(self, client: Redis, *, sessions_key: str, messages_key: str, ttl_seconds: int) -> None:
        self._client = client
        self._sessions_key = sessions_key
        self._messages_key = messages_key
        self._ttl = ttl_seconds
        self._append = client.register_script(_APPEND)
        self._fill = client.register_script(_FILL)
        self._get = client.register_script(_GET)
        self._save = client.register_script(_SAVE)
        self._repair = client.register_script(_REPAIR)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        sessions_key: str,
        messages_key: str,
        ttl_seconds: int,
        timeout: float = 2.0,
        max_connections: int = 64,
    ) -> RedisCache:
        """A cache on a pool of at most ``max_connections``; a dead Redis fails within ``timeout``."""
        pool = BlockingConnectionPool.from_url(
            url,
            decode_responses=True,
            max_connections=max_connections,
            timeout=timeout,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            # one immediate retry on a fresh connection (a pooled one may predate a restart); none on timeouts
            retry=Retry(NoBackoff(), 1, supported_errors=(redis_errors.ConnectionError,)),
        )
        return cls(Redis.from_pool(pool), sessions_key=sessions_key, messages_key=messages_key, ttl_seconds=ttl_seconds)

    def _keys(self, user_id: str, session_id: str) -> tuple[str, str, str]:
        """The user's sessions hash, the session's list and its marker."""
        messages = self._messages_key.format(user_id=user_id, session_id=session_id)
        return self._sessions_key.format(user_id=user_id), messages, f"{messages}:seq"

    async def get_history(self, user_id: str, session_id: str, *, last: int | None = None) -> list[Message] | None:
        sessions, messages, marker = self._keys(user_id, session_id)
        with _translated():
            reply = await self._get(keys=[sessions, messages, marker], args=[session_id, self._ttl, last or 0])
        if not reply:
            return None
        history = _parse(reply[1:], user_id, session_id, offset=int(reply[0]))
        if history is None:  # legacy or damaged: drop it, so the next read can cache the database's
            await self.invalidate(user_id, session_id)
        return history

    async def fill_history(self, session: Session, messages: Sequence[Message]) -> None:
        if not messages:
            return
        sessions, key, marker = self._keys(session.user_id, session.session_id)
        args = [session.session_id, _session_value(session), self._ttl, messages[-1].seq]
        with _translated():
            await self._fill(keys=[key, marker, sessions], args=[*args, *map(_item, messages)])

    async def message_appended(self, message: Message) -> None:
        _, key, marker = self._keys(message.user_id, message.session_id)
        with _translated():
            await self._append(keys=[key, marker], args=[message.seq, _item(message), self._ttl])

    async def session_saved(self, session: Session) -> None:
        sessions, _, marker = self._keys(session.user_id, session.session_id)
        with _translated():
            await self._save(keys=[sessions, marker], args=[session.session_id, _session_value(session)])

    async def session_deleted(self, user_id: str, session_id: str) -> None:
        """Forget the session, and leave a tombstone so no late write can bring it back."""
        sessions, key, marker = self._keys(user_id, session_id)
        with _translated():
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.hdel(sessions, session_id).delete(key).set(marker, _DELETED, ex=self._ttl)
                await pipe.execute()

    async def repair(self, sessions: Sequence[tuple[str, str, int | None]]) -> list[int]:
        """Bring cached entries in line with committed state, one pipelined round trip.

        ``sessions`` holds ``(user_id, session_id, last_seq)`` as read from the database after
        the changes committed, ``last_seq`` ``None`` for a deleted (or unknown) session. A list
        shorter than ``last_seq`` is dropped, the marker is raised to it, a deleted session is
        tombstoned. Returns each script's answer (1 kept, 0 tombstoned, -1 dropped).
        """
        if not sessions:
            return []
        with _translated():
            async with self._client.pipeline(transaction=False) as pipe:
                for user_id, session_id, last_seq in sessions:
                    seq = _DELETED if last_seq is None else last_seq
                    await self._repair(
                        keys=list(self._keys(user_id, session_id)), args=[session_id, seq, self._ttl], client=pipe
                    )
                return [int(r) for r in await pipe.execute()]

    async def invalidate(self, user_id: str, session_id: str) -> None:
        """Drop the list; the marker stays, as it only ever keeps stale fills out."""
        _, key, _ = self._keys(user_id, session_id)
        with _translated():
            await self._client.delete(key)

    async def ping(self) -> dict[str, Any]:
        start = time.perf_counter()
        with _translated():
            info = await self._client.info("server")
        return {"version": info["redis_version"], "latency_ms": (time.perf_counter() - start) * 1000}

    async def aclose(self) -> None:
        await self._client.aclose()
