"""Invariant 1 on real MariaDB + Redis: the history read is complete, whatever the cache holds."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random

import redis.asyncio as aioredis

from tests.integration.conftest import Keys, Stack, build_stack, make_cache

TTL = 86400


async def seeded(stack: Stack, n: int) -> tuple[str, str, Keys]:
    """A user with one session of ``n`` messages, nothing cached yet."""
    user = stack.user()
    session_id = await stack.sessions.create_session(user, "cache test")
    for i in range(n):
        await stack.messages.append_message(user, session_id, "user" if i % 2 == 0 else "assistant", f"message {i}")
    return user, session_id, Keys(user, session_id)


def seqs(items: list[str]) -> list[int]:
    return [json.loads(item)["seq"] for item in items]


async def assert_cache_equals_database(stack: Stack, raw_redis: aioredis.Redis, keys: Keys, session_id: str) -> None:
    """The cached list, if there is one, is exactly what MariaDB holds."""
    cached = await raw_redis.lrange(keys.messages, 0, -1)
    if cached:
        rows = await stack.rows(session_id)
        items = [json.loads(c) for c in cached]
        assert [(i["seq"], i["message_id"], i["content"]) for i in items] == [
            (r["seq"], r["message_id"], r["content"]) for r in rows
        ]


async def test_appends_never_build_a_list(stack: Stack, raw_redis: aioredis.Redis) -> None:
    user, session_id, keys = await seeded(stack, 3)
    assert not await raw_redis.exists(keys.messages)
    assert await raw_redis.get(keys.marker) == "3"  # the marker follows appends even without a list
    history = await stack.messages.get_messages(user, session_id)
    assert [m.seq for m in history] == [1, 2, 3]
    assert seqs(await raw_redis.lrange(keys.messages, 0, -1)) == [1, 2, 3]  # the read built it, complete

    await raw_redis.delete(keys.messages)
    await stack.messages.append_message(user, session_id, "user", "after the list went away")
    assert not await raw_redis.exists(keys.messages)  # never a one-message list (seed defect 3)
    assert [m.seq for m in await stack.messages.get_messages(user, session_id)] == [1, 2, 3, 4]


async def test_cached_list_is_extended_in_order(stack: Stack, raw_redis: aioredis.Redis) -> None:
    user, session_id, keys = await seeded(stack, 2)
    await stack.messages.get_messages(user, session_id)
    await stack.messages.append_message(user, session_id, "assistant", "third")
    assert seqs(await raw_redis.lrange(keys.messages, 0, -1)) == [1, 2, 3]
    history = await stack.messages.get_messages(user, session_id)
    assert [(m.seq, m.content) for m in history][-1] == (3, "third")


async def test_read_after_the_list_expired(stack: Stack, raw_redis: aioredis.Redis) -> None:
    user, session_id, keys = await seeded(stack, 5)
    await stack.messages.get_messages(user, session_id)
    await raw_redis.expire(keys.messages, 1)
    await asyncio.sleep(1.2)
    assert not await raw_redis.exists(keys.messages)
    history = await stack.messages.get_messages(user, session_id)
    assert [m.content for m in history] == [f"message {i}" for i in range(5)]
    await assert_cache_equals_database(stack, raw_redis, keys, session_id)
    assert seqs(await raw_redis.lrange(keys.messages, 0, -1)) == [1, 2, 3, 4, 5]


async def test_read_after_eviction_of_list_and_hash(stack: Stack, raw_redis: aioredis.Redis) -> None:
    """Eviction (or a restart without persistence) takes any key; the database answers and the cache heals."""
    user, session_id, keys = await seeded(stack, 4)
    await stack.messages.get_messages(user, session_id)
    await raw_redis.delete(keys.messages, keys.sessions, keys.marker)
    assert [m.seq for m in await stack.messages.get_messages(user, session_id)] == [1, 2, 3, 4]
    assert await raw_redis.hexists(keys.sessions, session_id)  # restored from the database, so hits resume
    assert json.loads(await raw_redis.hget(keys.sessions, session_id))["name"] == "cache test"
    await assert_cache_equals_database(stack, raw_redis, keys, session_id)


async def test_list_without_its_session_field_is_not_served(stack: Stack, raw_redis: aioredis.Redis) -> None:
    user, session_id, keys = await seeded(stack, 2)
    await stack.messages.get_messages(user, session_id)
    await raw_redis.hdel(keys.sessions, session_id)
    assert await stack.cache.get_history(user, session_id) is None


async def test_legacy_lists_are_replaced_not_trusted(stack: Stack, raw_redis: aioredis.Redis) -> None:
    """The seed's items (``ts``, no ``seq``) say nothing about completeness: the database answers."""
    user, session_id, keys = await seeded(stack, 3)
    await stack.messages.get_messages(user, session_id)
    await raw_redis.delete(keys.messages)
    await raw_redis.rpush(keys.messages, json.dumps({"role": "user", "content": "old", "ts": "2024-01-01T00:00:00"}))
    history = await stack.messages.get_messages(user, session_id)
    assert [m.content for m in history] == ["message 0", "message 1", "message 2"]
    assert seqs(await raw_redis.lrange(keys.messages, 0, -1)) == [1, 2, 3]  # replaced by the database's


async def test_items_with_ts_and_seq_are_read(stack: Stack, raw_redis: aioredis.Redis) -> None:
    user, session_id, keys = await seeded(stack, 1)
    await stack.messages.get_messages(user, session_id)
    item = json.loads(await raw_redis.lindex(keys.messages, 0))
    item["ts"] = item.pop("timestamp")
    await raw_redis.lset(keys.messages, 0, json.dumps(item))
    [message] = await stack.cache.get_history(user, session_id)
    assert (message.seq, message.content, message.timestamp.isoformat()) == (1, "message 0", item["ts"])


async def test_a_fill_older_than_an_append_is_refused(stack: Stack, raw_redis: aioredis.Redis) -> None:
    """The race of seed defect 3, made deterministic: a reader's snapshot predates a committed append."""
    user, session_id, keys = await seeded(stack, 3)
    snapshot = await stack.messages.get_messages(user, session_id)
    session = await stack.sessions.get_session(user, session_id)
    await raw_redis.delete(keys.messages)
    await stack.messages.append_message(user, session_id, "user", "committed after the snapshot")
    await stack.cache.fill_history(session, snapshot)  # the slow reader arrives now
    assert not await raw_redis.exists(keys.messages)
    assert [m.seq for m in await stack.messages.get_messages(user, session_id)] == [1, 2, 3, 4]


async def test_an_append_that_skips_a_seq_drops_the_list(stack: Stack, raw_redis: aioredis.Redis) -> None:
    """Cache updates of concurrent appends may arrive out of order: a gap drops the list, never extends it."""
    user, session_id, keys = await seeded(stack, 2)
    history = await stack.messages.get_messages(user, session_id)
    await stack.cache.message_appended(dataclasses.replace(history[-1], seq=4))
    assert not await raw_redis.exists(keys.messages)
    assert await raw_redis.get(keys.marker) == "4"


async def test_ttl_is_per_session_and_refreshed(stack: Stack, raw_redis: aioredis.Redis) -> None:
    user, first, first_keys = await seeded(stack, 2)
    second = await stack.sessions.create_session(user, "second")
    await stack.messages.append_message(user, second, "user", "hello")
    second_keys = Keys(user, second)
    await stack.messages.get_messages(user, first)
    await stack.messages.get_messages(user, second)
    assert TTL - 5 <= await raw_redis.ttl(first_keys.messages) <= TTL
    assert await raw_redis.ttl(first_keys.sessions) == -1  # the seed's hash of sessions has no TTL

    await raw_redis.expire(first_keys.messages, 100)
    await raw_redis.expire(second_keys.messages, 200)
    await stack.messages.get_messages(user, first)  # a hit slides the TTL of that list only
    assert await raw_redis.ttl(first_keys.messages) > 200
    assert 150 <= await raw_redis.ttl(second_keys.messages) <= 200
    await stack.messages.append_message(user, second, "assistant", "an append slides it too")
    assert await raw_redis.ttl(second_keys.messages) > 200


async def test_unreachable_redis_is_bypassed(stack: Stack) -> None:
    """Redis down from the start: writes and reads carry on on MariaDB alone."""
    dead = build_stack(stack.db, make_cache("redis://127.0.0.1:1/0", timeout=0.5))
    dead.users = stack.users  # cleaned up with the others
    try:
        user = dead.user()
        session_id = await dead.sessions.create_session(user, "no cache")
        for i in range(3):
            await dead.messages.append_message(user, session_id, "user", f"m{i}")
        assert [m.content for m in await dead.messages.get_messages(user, session_id)] == ["m0", "m1", "m2"]
        assert [m.seq for m in await dead.messages.get_messages(user, session_id)] == [1, 2, 3]
    finally:
        await dead.relay.aclose(final_drain_timeout=1)
        await dead.cache.aclose()


async def test_concurrent_readers_and_writers_agree(stack: Stack, raw_redis: aioredis.Redis) -> None:
    """20 readers and 20 writers on one session for 2 s: every read is contiguous and holds every acked append."""
    user, session_id, keys = await seeded(stack, 1)
    acked = 1
    stop = asyncio.Event()
    reads = 0

    async def writer(n: int) -> None:
        nonlocal acked
        i = 0
        while not stop.is_set():
            message = await stack.messages.append_message(user, session_id, "user", f"writer {n} #{i}")
            acked = max(acked, message.seq)
            i += 1

    async def reader() -> None:
        nonlocal reads
        while not stop.is_set():
            floor = acked
            history = await stack.messages.get_messages(user, session_id)
            assert [m.seq for m in history] == list(range(1, len(history) + 1))
            assert len(history) >= floor, f"a read missed acknowledged messages: {len(history)} < {floor}"
            reads += 1
            await asyncio.sleep(random.random() / 100)

    tasks = [asyncio.create_task(writer(n)) for n in range(20)] + [asyncio.create_task(reader()) for _ in range(20)]
    await asyncio.sleep(2)
    stop.set()
    await asyncio.gather(*tasks)

    rows = await stack.rows(session_id)
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))
    assert len(rows) > 40 and reads > 20
    await assert_cache_equals_database(stack, raw_redis, keys, session_id)
    history = await stack.messages.get_messages(user, session_id)
    assert [(m.seq, m.message_id) for m in history] == [(r["seq"], r["message_id"]) for r in rows]
    await assert_cache_equals_database(stack, raw_redis, keys, session_id)


async def test_cache_ping(stack: Stack) -> None:
    report = await stack.cache.ping()
    assert report["version"].split(".")[0].isdigit() and report["latency_ms"] >= 0


async def test_the_newest_messages_come_from_the_list_or_the_database_alike(
    stack: Stack, raw_redis: aioredis.Redis
) -> None:
    user, session_id, keys = await seeded(stack, 12)
    tail = await stack.messages.get_messages(user, session_id, last=4)  # a miss: the database's newest four
    assert [m.seq for m in tail] == [9, 10, 11, 12]
    assert not await raw_redis.exists(keys.messages)  # only complete reads fill the cache

    full = await stack.messages.get_messages(user, session_id)
    assert await raw_redis.llen(keys.messages) == 12
    assert await stack.cache.get_history(user, session_id, last=4) == full[-4:]  # a hit, from the list
    assert await stack.messages.get_messages(user, session_id, last=4) == full[-4:]
    assert await stack.cache.get_history(user, session_id, last=100) == full

    await raw_redis.lset(keys.messages, 10, json.dumps({"seq": 99, "role": "user", "content": "x"}))
    assert await stack.cache.get_history(user, session_id, last=4) is None  # a broken run of seqs: a miss
    assert not await raw_redis.exists(keys.messages)  # and the damaged list is dropped
    assert await stack.messages.get_messages(user, session_id, last=4) == full[-4:]


async def test_metadata_beyond_64_bit_integers_reads_back_from_the_cache(stack: Stack) -> None:
    user = stack.user()
    session_id = await stack.sessions.create_session(user)
    metadata = {"big": 2**70, "nested": {"neg": -(2**65)}, "text": "数据"}
    await stack.messages.append_message(user, session_id, "user", "big numbers", metadata=metadata)
    await stack.messages.get_messages(user, session_id)  # fills the list
    [cached] = await stack.cache.get_history(user, session_id)
    assert cached.metadata == metadata
