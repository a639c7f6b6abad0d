"""Real servers stopped mid-stream: Redis (paused, killed) and MariaDB (paused, killed), then brought back.

Invariants 1 and 2 for the MySQL + Redis tier: no acknowledged append is lost, reads stay complete,
and once Redis is back the cache serves the complete history again (never a stale list). A write
that MariaDB could not take fails with ``StoreUnavailableError`` and leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from tests.integration.conftest import Keys, Servers, Stack, build_stack, make_cache
from workbench.errors import StoreUnavailableError
from workbench.models import Message
from workbench.stores.mysql import MySQLDatabase

pytestmark = pytest.mark.failure


@pytest.fixture
async def quick(stack: Stack, mysql_url: str, redis_url: str) -> AsyncIterator[Stack]:
    """The tier with short deadlines (0.5 s Redis, 1 s MariaDB), so a stopped server costs little time."""
    db = await MySQLDatabase.connect(mysql_url, statement_timeout=1.0, connect_timeout=1.0)
    fast = build_stack(db, make_cache(redis_url, timeout=0.5))
    fast.users = stack.users  # the stack fixture cleans them up
    yield fast
    await fast.relay.aclose(final_drain_timeout=2)
    await fast.cache.aclose()
    await db.aclose()


async def a_session(stack: Stack, n: int) -> tuple[str, str, Keys]:
    """A session of ``n`` messages whose complete history is cached."""
    user = stack.user()
    session_id = await stack.sessions.create_session(user, "failure test")
    for i in range(n):
        await stack.messages.append_message(user, session_id, "user", f"before {i}")
    await stack.messages.get_messages(user, session_id)
    return user, session_id, Keys(user, session_id)


async def stream_through_a_redis_outage(stack: Stack, user: str, session_id: str, outage) -> list[Message]:
    """Append steadily and read alongside, while ``outage()`` takes Redis away and brings it back."""
    acked: list[Message] = []
    done = asyncio.Event()

    async def writer() -> None:
        i = 0
        while not done.is_set():
            acked.append(await stack.messages.append_message(user, session_id, "assistant", f"streamed {i}"))
            i += 1

    async def reader() -> None:
        while not done.is_set():
            floor = len(acked)
            history = await stack.messages.get_messages(user, session_id)
            assert [m.seq for m in history] == list(range(1, len(history) + 1))
            assert len(history) >= floor + 3  # every acknowledged append, and the 3 before the stream
            await asyncio.sleep(0.02)

    tasks = [asyncio.create_task(writer()), asyncio.create_task(reader())]
    try:
        await asyncio.sleep(0.3)
        await outage()
        await asyncio.sleep(0.3)
    finally:
        done.set()
        await asyncio.gather(*tasks)
    return acked


async def assert_healed(stack: Stack, raw_redis: aioredis.Redis, user: str, session_id: str, keys: Keys) -> None:
    """Every acknowledged append is in MariaDB; after the relay's catch-up the cache is complete or empty."""
    rows = [(r["seq"], r["message_id"], r["content"]) for r in await stack.rows(session_id)]
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
    assert (await stack.relay.drain()).ok  # drops the entries the outage left unproven
    assert stack.relay.cache_trusted(session_id)
    cached = [json.loads(i) for i in await raw_redis.lrange(keys.messages, 0, -1)]
    assert [(i["seq"], i["message_id"], i["content"]) for i in cached] in ([], rows)
    for _ in range(2):  # a fill, then a hit
        history = await stack.messages.get_messages(user, session_id)
        assert [(m.seq, m.message_id, m.content) for m in history] == rows
    cached = [json.loads(i) for i in await raw_redis.lrange(keys.messages, 0, -1)]
    assert [(i["seq"], i["message_id"], i["content"]) for i in cached] == rows


async def test_redis_paused_mid_stream(quick: Stack, raw_redis: aioredis.Redis, servers: Servers) -> None:
    user, session_id, keys = await a_session(quick, 3)

    async def outage() -> None:
        servers.pause("redis")
        await asyncio.sleep(1.5)
        servers.resume("redis")

    acked = await stream_through_a_redis_outage(quick, user, session_id, outage)
    rows = await quick.rows(session_id)
    assert {(m.seq, m.message_id) for m in acked} <= {(r["seq"], r["message_id"]) for r in rows}
    assert len(rows) == 3 + len(acked)  # nothing was refused: Redis is never in the way of a write
    await assert_healed(quick, raw_redis, user, session_id, keys)


async def test_redis_killed_and_restarted_mid_stream(quick: Stack, raw_redis: aioredis.Redis, servers: Servers) -> None:
    user, session_id, keys = await a_session(quick, 3)

    async def outage() -> None:
        servers.kill("redis")
        await asyncio.sleep(0.5)
        await asyncio.to_thread(servers.up, "redis")

    acked = await stream_through_a_redis_outage(quick, user, session_id, outage)
    assert len(await quick.rows(session_id)) == 3 + len(acked)
    await assert_healed(quick, raw_redis, user, session_id, keys)
    assert await raw_redis.hexists(keys.sessions, session_id)  # the empty new Redis got the session back


async def assert_nothing_written(
    stack: Stack, raw_redis: aioredis.Redis, user: str, session_id: str, keys: Keys
) -> None:
    """The failed append left no row, no outbox entry, no cached item and no marker behind."""
    assert [r["content"] for r in await stack.rows(session_id)] == ["before 0", "before 1"]
    assert await stack.outbox(user) == []
    assert len(await raw_redis.lrange(keys.messages, 0, -1)) == 2
    assert await raw_redis.get(keys.marker) == "2"


async def test_mysql_paused(quick: Stack, raw_redis: aioredis.Redis, servers: Servers) -> None:
    user, session_id, keys = await a_session(quick, 2)
    await quick.relay.drain()
    servers.pause("mysql")
    try:
        start = time.monotonic()
        with pytest.raises(StoreUnavailableError):
            await quick.messages.append_message(user, session_id, "user", "while MariaDB hangs")
        assert time.monotonic() - start < 5
        history = await quick.messages.get_messages(user, session_id)  # the complete cached history still answers
        assert [m.content for m in history] == ["before 0", "before 1"]
    finally:
        servers.resume("mysql")
    await assert_nothing_written(quick, raw_redis, user, session_id, keys)
    message = await quick.messages.append_message(user, session_id, "user", "after")  # the pool recovered
    assert message.seq == 3


async def test_mysql_killed_and_restarted(quick: Stack, raw_redis: aioredis.Redis, servers: Servers) -> None:
    user, session_id, keys = await a_session(quick, 2)
    await quick.relay.drain()
    servers.kill("mysql")
    with pytest.raises(StoreUnavailableError):
        await quick.messages.append_message(user, session_id, "user", "while MariaDB is down")
    with pytest.raises(StoreUnavailableError):
        await quick.sessions.list_sessions(user)
    await asyncio.to_thread(servers.up, "mysql")
    await assert_nothing_written(quick, raw_redis, user, session_id, keys)
    assert (await quick.messages.append_message(user, session_id, "user", "after")).seq == 3
    assert [m.seq for m in await quick.messages.get_messages(user, session_id)] == [1, 2, 3]
