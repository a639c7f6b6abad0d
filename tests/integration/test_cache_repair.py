"""Invariant 1 across processes: a writer that dies (or fails) between its commit and its Redis update.

Every committed change records a ``cache`` outbox row in its own transaction; whichever relay
applies it (another process's) drops a list shorter than the committed ``last_seq``, raises the
marker so that no fill read before that commit lands later, and tombstones deleted sessions.
"Another process" is another repository/relay/cache on the same MariaDB and Redis here.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from tests.integration.conftest import Keys, Stack, build_stack, make_cache
from tests.integration.test_mysql_redis_failures import a_session  # n messages, cached
from workbench.errors import StoreUnavailableError
from workbench.models import Message
from workbench.outbox import CACHE_TARGET, OutboxRelay
from workbench.stores.mysql import MySQLDatabase


class Killed(BaseException):
    """The writer process dies: nothing after the commit runs (no cache update, no invalidation, no notify)."""


async def _killed(message: Message) -> None:
    raise Killed


@pytest.fixture
async def crashing(stack: Stack, redis_url: str) -> AsyncIterator[Stack]:
    """A second writer on the same servers whose process dies right after each commit."""
    other = build_stack(stack.db, make_cache(redis_url))
    other.users = stack.users  # cleaned up by the stack fixture
    other.cache.message_appended = _killed  # type: ignore[method-assign]
    yield other
    await other.relay.aclose(final_drain_timeout=2)
    await other.cache.aclose()


@pytest.fixture
async def elsewhere(db: MySQLDatabase, redis_url: str) -> AsyncIterator[OutboxRelay]:
    """A relay of a third process (e.g. ``workbench relay``), with a cache client of its own."""
    cache = make_cache(redis_url)
    relay = OutboxRelay(db, [], cache, background=False)
    yield relay
    await relay.aclose()
    await cache.aclose()


async def cached(raw_redis: aioredis.Redis, keys: Keys) -> list[tuple[int, str]]:
    return [(i["seq"], i["content"]) for i in map(json.loads, await raw_redis.lrange(keys.messages, 0, -1))]


async def test_a_writer_killed_after_its_commit_is_repaired_by_another_relay(
    stack: Stack, crashing: Stack, elsewhere: OutboxRelay, raw_redis: aioredis.Redis
) -> None:
    user, session_id, keys = await a_session(stack, 3)
    with pytest.raises(Killed):
        await crashing.messages.append_message(user, session_id, "assistant", "committed, then the process died")
    rows = [(r["seq"], r["content"]) for r in await stack.rows(session_id)]
    assert len(rows) == 4
    # the gap this closes: the list is one short and a reader of another process would serve it
    assert len(await cached(raw_redis, keys)) == 3
    assert {"target": CACHE_TARGET, "kind": "message", "session_id": session_id} in await stack.outbox(user)

    report = await elsewhere.drain([CACHE_TARGET])
    assert report.ok and report.applied[CACHE_TARGET] >= 1
    assert await cached(raw_redis, keys) in ([], rows)  # complete or absent
    assert await raw_redis.get(keys.marker) == "4"
    for _ in range(2):  # a fill, then a hit
        assert [(m.seq, m.content) for m in await stack.messages.get_messages(user, session_id)] == rows
    assert await cached(raw_redis, keys) == rows


async def test_a_fill_read_before_the_killed_commit_cannot_land_after_the_repair(
    stack: Stack, crashing: Stack, elsewhere: OutboxRelay, raw_redis: aioredis.Redis
) -> None:
    user, session_id, keys = await a_session(stack, 3)
    session = await stack.sessions.get_session(user, session_id)
    snapshot = await stack.messages.get_messages(user, session_id)  # a slow reader read 3 messages ...
    await raw_redis.delete(keys.messages)  # ... and found no list (evicted)
    with pytest.raises(Killed):
        await crashing.messages.append_message(user, session_id, "user", "the 4th, whose writer died")
    assert (await elsewhere.drain([CACHE_TARGET])).ok
    assert await raw_redis.get(keys.marker) == "4"  # raised by the repair: the writer never did
    await stack.cache.fill_history(session, snapshot)  # the slow reader's fill arrives now: refused
    assert await cached(raw_redis, keys) == []
    assert [m.seq for m in await stack.messages.get_messages(user, session_id)] == [1, 2, 3, 4]
    assert [seq for seq, _ in await cached(raw_redis, keys)] == [1, 2, 3, 4]


async def test_a_failed_cache_write_is_repaired_for_every_process(
    stack: Stack, db: MySQLDatabase, redis_url: str, elsewhere: OutboxRelay, raw_redis: aioredis.Redis
) -> None:
    user, session_id, keys = await a_session(stack, 3)
    failing = make_cache(redis_url)

    async def refused(message: Message) -> None:
        raise StoreUnavailableError("Redis timed out", store="redis")

    failing.message_appended = refused  # type: ignore[method-assign]
    writer_relay = OutboxRelay(db, [], failing, background=False)  # its own rows are left to another relay

    async def connect() -> tuple[MySQLDatabase, object, OutboxRelay]:
        return db, failing, writer_relay

    from workbench.repositories import MessageRepository

    writer = MessageRepository(connect, max_content_bytes=1 << 20)  # type: ignore[arg-type]
    try:
        await writer.append_message(user, session_id, "user", "the cache write of this one failed")
        assert not writer_relay.cache_trusted(session_id)  # the failing process bypasses the entry at once
        assert [m.seq for m in await writer.get_messages(user, session_id)] == [1, 2, 3, 4]
        kinds = [(r["target"], r["kind"]) for r in await stack.outbox(user)]
        assert (CACHE_TARGET, "message") in kinds  # committed with the message: no second statement to fail
        assert len(await cached(raw_redis, keys)) == 3  # what another process would read until a relay runs

        assert (await elsewhere.drain([CACHE_TARGET])).ok
        assert [m.seq for m in await stack.messages.get_messages(user, session_id)] == [1, 2, 3, 4]
        assert [seq for seq, _ in await cached(raw_redis, keys)] == [1, 2, 3, 4]
        await writer_relay.drain([CACHE_TARGET])  # nothing left of its own: it trusts the entry again
        assert writer_relay.cache_trusted(session_id)
    finally:
        await writer_relay.aclose()
        await failing.aclose()


async def test_a_delete_whose_writer_died_is_tombstoned_by_another_relay(
    stack: Stack, redis_url: str, elsewhere: OutboxRelay, raw_redis: aioredis.Redis
) -> None:
    user, session_id, keys = await a_session(stack, 2)
    dying = build_stack(stack.db, make_cache(redis_url))

    async def killed(user_id: str, sid: str) -> None:
        raise Killed

    dying.cache.session_deleted = killed  # type: ignore[method-assign]
    try:
        with pytest.raises(Killed):
            await dying.sessions.delete_session(user, session_id)
    finally:
        await dying.cache.aclose()
    assert len(await cached(raw_redis, keys)) == 2  # still there, as the dead writer left it
    assert (await elsewhere.drain([CACHE_TARGET])).ok
    assert await cached(raw_redis, keys) == []
    assert await raw_redis.get(keys.marker) == "deleted"
    assert not await raw_redis.hexists(keys.sessions, session_id)


async def test_concurrent_appends_deaths_and_drains_never_leave_a_short_list(
    stack: Stack, crashing: Stack, elsewhere: OutboxRelay, raw_redis: aioredis.Redis
) -> None:
    """Writers (a third of whose processes die after committing), readers and a relay, all on one session.

    After every drain, the list holds at least every message committed before the drain began, or
    does not exist; each read is contiguous. Asserts only on states, never on timing.
    """
    user, session_id, keys = await a_session(stack, 1)
    rng = random.Random(20261203)
    stop = asyncio.Event()
    counts = {"appends": 0, "killed": 0, "reads": 0, "checks": 0, "complete": 0}

    async def writer() -> None:
        while counts["appends"] < 300:
            counts["appends"] += 1
            if rng.random() < 0.33:
                with pytest.raises(Killed):
                    await crashing.messages.append_message(user, session_id, "assistant", "then died")
                counts["killed"] += 1
            else:
                await stack.messages.append_message(user, session_id, "user", "and lived")
            await asyncio.sleep(rng.random() / 40)  # gaps, so that a drain can end between appends

    async def reader() -> None:
        while not stop.is_set():
            history = await stack.messages.get_messages(user, session_id)
            assert [m.seq for m in history] == list(range(1, len(history) + 1))
            counts["reads"] += 1
            await asyncio.sleep(rng.random() / 200)

    async def relay() -> None:
        while not stop.is_set():
            rows = await stack.db.execute_query(
                "SELECT last_seq FROM sessions WHERE session_id = :s", {"s": session_id}
            )
            committed = int(rows[0]["last_seq"])
            assert (await elsewhere.drain([CACHE_TARGET])).ok
            seqs = [seq for seq, _ in await cached(raw_redis, keys)]
            assert seqs == list(range(1, len(seqs) + 1))
            assert not seqs or len(seqs) >= committed, f"a short list survived a drain: {len(seqs)} < {committed}"
            counts["checks"] += 1
            counts["complete"] += bool(seqs)

    writers = [asyncio.create_task(writer()) for _ in range(4)]
    others = [asyncio.create_task(reader()) for _ in range(4)] + [asyncio.create_task(relay())]
    await asyncio.gather(*writers)
    stop.set()
    await asyncio.gather(*others)

    assert counts["killed"] > 20 and counts["checks"] > 5 and counts["reads"] > 20, counts
    rows = [(r["seq"], r["content"]) for r in await stack.rows(session_id)]
    assert [seq for seq, _ in rows] == list(range(1, len(rows) + 1)) and len(rows) == 1 + counts["appends"]
    assert (await elsewhere.drain([CACHE_TARGET])).ok
    assert await cached(raw_redis, keys) in ([], rows)
    for _ in range(2):
        assert [(m.seq, m.content) for m in await stack.messages.get_messages(user, session_id)] == rows
    assert await cached(raw_redis, keys) == rows
