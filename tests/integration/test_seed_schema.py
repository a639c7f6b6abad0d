"""A database the seed created (``users``, ``sessions`` without ``last_seq``) migrates in place, keeping its rows.

This rebuilds the schema of ``workbench_test``, so conftest runs it before every other test; it
leaves a freshly migrated schema behind.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime

import pytest
import redis.asyncio as aioredis

from tests.integration.conftest import build_stack, cleanup, make_cache
from workbench.errors import NotFoundError
from workbench.stores.mysql import MySQLDatabase
from workbench.stores.schema import SCHEMA_VERSION, migrate

OURS = ("messages", "outbox", "sessions", "users", "schema_version")

# what the seed's server ran against MySQL (its INSERTs name these columns; types as such servers had them)
SEED_DDL = (
    """CREATE TABLE users (
        user_id VARCHAR(64) NOT NULL PRIMARY KEY,
        username VARCHAR(100) NOT NULL,
        created_at DATETIME NOT NULL
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""",
    """CREATE TABLE sessions (
        session_id VARCHAR(64) NOT NULL PRIMARY KEY,
        user_id VARCHAR(64) NOT NULL,
        name VARCHAR(255) NOT NULL DEFAULT '对话',
        created_at DATETIME NOT NULL,
        updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
        is_active TINYINT(1) NOT NULL DEFAULT 1,
        KEY idx_user (user_id),
        CONSTRAINT fk_sessions_user FOREIGN KEY (user_id) REFERENCES users (user_id)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""",
)


async def drop_ours(db: MySQLDatabase) -> None:
    await db.execute_update(f"DROP TABLE IF EXISTS {', '.join(OURS)}")


@pytest.fixture
async def seed_db(mysql_url: str) -> AsyncIterator[MySQLDatabase]:
    """``workbench_test`` holding only the seed's two tables; migrated afresh afterwards."""
    db = await MySQLDatabase.connect(mysql_url)
    await drop_ours(db)
    for ddl in SEED_DDL:
        await db.execute_update(ddl)
    yield db
    await drop_ours(db)
    await migrate(db)
    await db.aclose()


async def test_seed_schema_migrates_in_place(seed_db: MySQLDatabase, redis_url: str, raw_redis: aioredis.Redis) -> None:
    user, other = f"seed-{uuid.uuid4().hex[:8]}", f"seed-{uuid.uuid4().hex[:8]}"
    old, named, gone = (str(uuid.uuid4()) for _ in range(3))
    created = datetime(2024, 5, 1, 8, 30, 0)
    for u in (user, other):  # the seed's own statements
        await seed_db.execute_update(
            "INSERT IGNORE INTO users (user_id, username, created_at) VALUES (:u, :name, :at)",
            {"u": u, "name": f"用户_{u[:8]}", "at": created},
        )
    await seed_db.execute_update(  # the old server named no updated_at
        "INSERT INTO sessions (session_id, user_id, name, created_at) VALUES (:s, :u, :n, :at)",
        {"s": old, "u": user, "n": "对话", "at": created},
    )
    for sid, active in ((named, 1), (gone, 0)):
        await seed_db.execute_update(
            "INSERT INTO sessions (session_id, user_id, name, created_at, updated_at, is_active) "
            "VALUES (:s, :u, :n, :at, :at, :active)",
            {"s": sid, "u": user, "n": "数据分析", "at": created, "active": active},
        )
    before = await seed_db.execute_query("SELECT * FROM sessions ORDER BY session_id")

    assert await migrate(seed_db) == SCHEMA_VERSION
    assert await migrate(seed_db) == SCHEMA_VERSION  # a second run (another process) changes nothing
    after = await seed_db.execute_query("SELECT * FROM sessions ORDER BY session_id")
    assert [{k: v for k, v in r.items() if k != "last_seq"} for r in after] == before
    assert {r["last_seq"] for r in after} == {0}
    assert len(await seed_db.execute_query("SELECT user_id FROM users")) == 2
    versions = await seed_db.execute_query("SELECT version FROM schema_version ORDER BY version")
    assert [r["version"] for r in versions] == list(range(1, SCHEMA_VERSION + 1))

    stack = build_stack(seed_db, make_cache(redis_url))
    try:
        listed = await stack.sessions.list_sessions(user)
        assert {s.session_id for s in listed} == {old, named}  # the soft-deleted one stays hidden
        session = await stack.sessions.get_session(user, named)
        assert (session.name, session.created_at.replace(tzinfo=None), session.message_count) == (
            "数据分析",
            created,
            0,
        )
        with pytest.raises(NotFoundError):
            await stack.messages.get_messages(user, gone)
        for text in ("你好", "数据"):
            await stack.messages.append_message(user, old, "user", text)
        assert [(m.seq, m.content) for m in await stack.messages.get_messages(user, old)] == [(1, "你好"), (2, "数据")]
        assert [m.seq for m in await stack.messages.get_messages(user, old)] == [1, 2]  # from the cache now
        assert (await stack.sessions.get_session(user, old)).message_count == 2
        new = await stack.sessions.create_session(user, "after the migration")  # the user row exists already
        await stack.sessions.delete_session(user, named)
        assert {s.session_id for s in await stack.sessions.list_sessions(user)} == {old, new}
        assert await stack.sessions.list_sessions(other) == []
    finally:
        await stack.relay.aclose(final_drain_timeout=2)
        await cleanup(seed_db, raw_redis, [user, other])
        await stack.cache.aclose()
