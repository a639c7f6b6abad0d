"""Invariant 3 on real MariaDB + Redis: seq 1..n in commit order, the same in both, under concurrent appends."""

from __future__ import annotations

import asyncio
import json

import pytest
import redis.asyncio as aioredis

import workbench.repositories
from tests.integration.conftest import Keys, Stack
from workbench.models import utcnow


async def cached(raw_redis: aioredis.Redis, keys: Keys) -> list[tuple[int, str, str]]:
    items = [json.loads(item) for item in await raw_redis.lrange(keys.messages, 0, -1)]
    return [(i["seq"], i["message_id"], i["content"]) for i in items]


async def test_fifty_concurrent_writers(stack: Stack, raw_redis: aioredis.Redis) -> None:
    user = stack.user()
    session_id = await stack.sessions.create_session(user, "fifty")
    keys = Keys(user, session_id)
    await stack.messages.append_message(user, session_id, "system", "first")
    await stack.messages.get_messages(user, session_id)  # a cached list for the writers to extend (or drop)

    written = await asyncio.gather(
        *(stack.messages.append_message(user, session_id, "user", f"writer {n}") for n in range(50))
    )
    assert sorted(m.seq for m in written) == list(range(2, 52))
    assert len({m.message_id for m in written}) == 50

    rows = [(r["seq"], r["message_id"], r["content"]) for r in await stack.rows(session_id)]
    assert [r[0] for r in rows] == list(range(1, 52))
    assert sorted(rows[1:]) == sorted((m.seq, m.message_id, m.content) for m in written)
    in_redis = await cached(raw_redis, keys)
    assert in_redis in ([], rows)  # extended in order, or dropped when updates crossed: never different
    history = await stack.messages.get_messages(user, session_id)
    assert [(m.seq, m.message_id, m.content) for m in history] == rows
    assert await cached(raw_redis, keys) == rows


async def test_same_millisecond_appends_never_collide(
    stack: Stack, raw_redis: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The seed's ids came from the millisecond clock (defect 2); with the clock frozen, nothing is lost."""
    frozen = utcnow()
    monkeypatch.setattr(workbench.repositories, "utcnow", lambda: frozen)
    user = stack.user()
    session_id = await stack.sessions.create_session(user, "frozen clock")
    await asyncio.gather(*(stack.messages.append_message(user, session_id, "user", f"same ms {n}") for n in range(20)))

    rows = await stack.rows(session_id)
    assert [r["seq"] for r in rows] == list(range(1, 21))
    assert sorted(r["content"] for r in rows) == sorted(f"same ms {n}" for n in range(20))
    assert [r["message_id"] for r in rows] == [f"msg_{session_id}_{n}" for n in range(1, 21)]
    history = await stack.messages.get_messages(user, session_id)
    assert {m.timestamp for m in history} == {frozen}
    assert [(m.seq, m.content) for m in history] == [(r["seq"], r["content"]) for r in rows]
    assert len(await cached(raw_redis, Keys(user, session_id))) == 20
