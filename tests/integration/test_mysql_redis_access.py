"""Invariants 4 and 5 on real MariaDB + Redis: no reach into another user's session; a deleted one is gone."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from tests.integration.conftest import Keys, Stack, build_stack, cleanup
from workbench.bootstrap import _services
from workbench.errors import NotFoundError
from workbench.settings import Settings
from workbench.stores.mysql import MySQLDatabase
from workbench.stores.redis import RedisCache


async def snapshot(stack: Stack, raw_redis: aioredis.Redis, user: str, session_id: str) -> dict:
    """Everything either store holds about one session."""
    keys = Keys(user, session_id)
    return {
        "session": await stack.db.execute_query("SELECT * FROM sessions WHERE session_id = :s", {"s": session_id}),
        "messages": await stack.rows(session_id),
        "outbox": await stack.outbox(user),
        "hash": await raw_redis.hgetall(keys.sessions),
        "list": await raw_redis.lrange(keys.messages, 0, -1),
        "marker": await raw_redis.get(keys.marker),
    }


async def test_another_users_session_is_not_found_everywhere(stack: Stack, raw_redis: aioredis.Redis) -> None:
    owner, intruder = stack.user(), stack.user()
    await stack.sessions.create_session(intruder, "the intruder's own")  # a user that exists, with a hash
    session_id = await stack.sessions.create_session(owner, "private")
    for i in range(3):
        await stack.messages.append_message(owner, session_id, "user", f"secret {i}")
    await stack.messages.get_messages(owner, session_id)  # cached, so a cache leak would show
    await stack.relay.drain()
    before = await snapshot(stack, raw_redis, owner, session_id)
    intruder_before = await snapshot(stack, raw_redis, intruder, session_id)

    attempts = {
        "get_session": stack.sessions.get_session(intruder, session_id),
        "rename_session": stack.sessions.rename_session(intruder, session_id, "mine now"),
        "delete_session": stack.sessions.delete_session(intruder, session_id),
        "append_message": stack.messages.append_message(intruder, session_id, "user", "injected"),
        "get_messages": stack.messages.get_messages(intruder, session_id),
    }
    for name, attempt in attempts.items():
        with pytest.raises(NotFoundError):
            await attempt
        assert await snapshot(stack, raw_redis, owner, session_id) == before, f"{name} changed the session"
    assert session_id not in {s.session_id for s in await stack.sessions.list_sessions(intruder)}
    assert await snapshot(stack, raw_redis, intruder, session_id) == intruder_before  # nothing written for them
    assert [m.content for m in await stack.messages.get_messages(owner, session_id)] == [
        f"secret {i}" for i in range(3)
    ]


async def test_deleted_session_is_gone_from_every_read_path(stack: Stack, raw_redis: aioredis.Redis) -> None:
    user = stack.user()
    kept = await stack.sessions.create_session(user, "kept")
    session_id = await stack.sessions.create_session(user, "to delete")
    keys = Keys(user, session_id)
    for i in range(3):
        await stack.messages.append_message(user, session_id, "user", f"m{i}")
    await stack.messages.get_messages(user, session_id)
    session = await stack.sessions.get_session(user, session_id)
    stale = await stack.cache.get_history(user, session_id)
    assert await raw_redis.exists(keys.messages) and await raw_redis.hexists(keys.sessions, session_id)

    await stack.sessions.delete_session(user, session_id)

    assert [s.session_id for s in await stack.sessions.list_sessions(user)] == [kept]
    for call in (
        stack.sessions.get_session(user, session_id),
        stack.messages.get_messages(user, session_id),
        stack.messages.append_message(user, session_id, "user", "too late"),
        stack.sessions.rename_session(user, session_id, "too late"),
        stack.sessions.delete_session(user, session_id),
    ):
        with pytest.raises(NotFoundError):
            await call
    assert not await raw_redis.hexists(keys.sessions, session_id)
    assert not await raw_redis.exists(keys.messages)
    assert await stack.cache.get_history(user, session_id) is None

    # late cache writes of calls that raced the delete cannot bring it back
    await stack.cache.session_saved(session)
    await stack.cache.fill_history(session, stale or [])
    await stack.cache.message_appended(stale[-1])
    assert not await raw_redis.hexists(keys.sessions, session_id)
    assert not await raw_redis.exists(keys.messages)
    assert await raw_redis.hexists(Keys(user, kept).sessions, kept)


async def test_services_profile_wires_the_redis_cache(
    mysql_url: str, redis_url: str, raw_redis: aioredis.Redis
) -> None:
    """The services profile puts a RedisCache with the settings' templates and TTL in front of MariaDB."""
    settings = Settings(profile="services", mysql_url=mysql_url, redis_url=redis_url, cache_ttl_seconds=1234)
    db, cache, projections = await _services(settings)
    stack = build_stack(db, cache)
    try:
        assert isinstance(db, MySQLDatabase) and isinstance(cache, RedisCache)
        user = stack.user()
        session_id = await stack.sessions.create_session(user, "wired")
        await stack.messages.append_message(user, session_id, "user", "hello")
        await stack.messages.get_messages(user, session_id)
        keys = Keys(user, session_id)
        assert len(await raw_redis.lrange(keys.messages, 0, -1)) == 1
        assert 1200 < await raw_redis.ttl(keys.messages) <= 1234
    finally:
        await stack.relay.aclose(final_drain_timeout=1)
        await cleanup(db, raw_redis, stack.users)
        for projection in projections:
            await projection.aclose()
        await cache.aclose()
        await db.aclose()
