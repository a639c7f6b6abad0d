"""Fixtures on the real servers that ``scripts/services`` starts: MariaDB (``workbench_test``) and Redis.

Every test gets its own user ids (``it-<hex>``) and removes their rows and keys afterwards.
A server that cannot be reached skips the tests locally, and fails them when ``CI`` is set.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pymysql
import pytest
import redis as redis_sync
import redis.asyncio as aioredis

from tests.integration.helpers import graph_of, search_of
from workbench.app import Workbench
from workbench.models import Message, Session
from workbench.outbox import OutboxRelay
from workbench.repositories import MessageRepository, SessionRepository
from workbench.settings import Settings
from workbench.stores.base import SessionKey
from workbench.stores.mysql import MySQLDatabase, parse_mysql_url
from workbench.stores.redis import RedisCache
from workbench.stores.schema import migrate

ROOT = Path(__file__).resolve().parents[2]
SERVICES_DIR = Path(os.environ.get("WORKBENCH_SERVICES_DIR", ROOT / ".services"))
PID_FILES = {
    "mysql": "mysql/mysqld.pid",
    "redis": "redis/redis.pid",
    "elasticsearch": "elasticsearch/elasticsearch.pid",
    "neo4j": "neo4j/neo4j.pid",
}
TEST_DATABASE = "workbench_test"
DEFAULTS = Settings.model_construct()  # the key templates, untouched by the environment
FIRST_MODULES = ("test_seed_schema.py",)  # rebuilds the schema of workbench_test: before any other test


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark everything here ``integration``; the schema rebuild runs first, ``failure`` tests last."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.integration)

    def rank(item: pytest.Item) -> int:
        if here not in Path(item.fspath).parents:
            return 1
        if Path(item.fspath).name in FIRST_MODULES:
            return 0
        return 2 if item.get_closest_marker("failure") else 1

    items.sort(key=rank)  # stable: the order within each rank is kept


def unavailable(reason: str) -> None:
    """A missing server: fatal in CI, a skip on a developer's machine."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)", pytrace=False)
    pytest.skip(f"{reason}; start it with: bash scripts/services up")


def _with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


@pytest.fixture(scope="session")
def mysql_url() -> str:
    """The ``workbench_test`` database on the server of ``MYSQL_URL`` (default: scripts/services')."""
    url = _with_database(
        os.environ.get("MYSQL_URL", "mysql://workbench:workbench@127.0.0.1:3306/workbench"), TEST_DATABASE
    )
    args = parse_mysql_url(url)
    try:
        pymysql.connect(
            host=args["host"], port=args["port"], user=args["user"], password=args["password"],
            database=args["db"], connect_timeout=3,
        ).close()  # fmt: skip
    except pymysql.err.MySQLError as exc:
        unavailable(f"MariaDB at {args['host']}:{args['port']}/{args['db']} is not reachable: {exc}")
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis_sync.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3).ping()
    except redis_sync.RedisError as exc:
        unavailable(f"Redis at {url} is not reachable: {exc}")
    return url


@pytest.fixture
async def db(mysql_url: str) -> AsyncIterator[MySQLDatabase]:
    database = await MySQLDatabase.connect(mysql_url, pool_size=20, statement_timeout=5.0)
    await migrate(database)
    yield database
    await database.aclose()


@pytest.fixture
async def raw_redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """A plain client, to look at (and tamper with) what the cache wrote."""
    client = aioredis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


def make_cache(url: str, *, timeout: float = 2.0) -> RedisCache:
    return RedisCache.from_url(
        url,
        sessions_key=DEFAULTS.redis_sessions_key,
        messages_key=DEFAULTS.redis_messages_key,
        ttl_seconds=DEFAULTS.cache_ttl_seconds,
        timeout=timeout,
    )


class Keys:
    """The Redis keys of one session, in the settings' default layout."""

    def __init__(self, user_id: str, session_id: str) -> None:
        self.sessions = DEFAULTS.redis_sessions_key.format(user_id=user_id)
        self.messages = DEFAULTS.redis_messages_key.format(user_id=user_id, session_id=session_id)
        self.marker = f"{self.messages}:seq"


class Sink:
    """A derived store that accepts everything: it gives the outbox a target, so its rows can be checked."""

    target = "search"

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def ensure_schema(self) -> None: ...

    async def upsert_sessions(self, sessions: Sequence[Session]) -> None: ...

    async def upsert_messages(self, messages: Sequence[Message], sessions: Sequence[Session] = ()) -> None:
        self.messages.extend(messages)

    async def delete_sessions(self, sessions: Sequence[SessionKey]) -> None: ...

    async def clear(self) -> None: ...

    async def ping(self) -> dict[str, str]:
        return {}

    async def aclose(self) -> None: ...


@dataclass
class Stack:
    """The services tier under test: MariaDB, the Redis cache, the relay, and the repositories."""

    db: MySQLDatabase
    cache: RedisCache
    relay: OutboxRelay
    sessions: SessionRepository
    messages: MessageRepository
    users: list[str] = field(default_factory=list)

    def user(self) -> str:
        """A fresh user id, cleaned up after the test."""
        self.users.append(f"it-{uuid.uuid4().hex[:12]}")
        return self.users[-1]

    async def rows(self, session_id: str) -> list[dict]:
        """What MariaDB holds for a session, in seq order."""
        return await self.db.execute_query(
            "SELECT seq, message_id, role, content FROM messages WHERE session_id = :s ORDER BY seq", {"s": session_id}
        )

    async def outbox(self, user_id: str) -> list[dict]:
        return await self.db.execute_query(
            "SELECT target, kind, session_id FROM outbox WHERE user_id = :u ORDER BY id", {"u": user_id}
        )


def build_stack(db: MySQLDatabase, cache: RedisCache) -> Stack:
    relay = OutboxRelay(db, [Sink()], cache)

    async def connect() -> tuple[MySQLDatabase, RedisCache, OutboxRelay]:
        return db, cache, relay

    return Stack(db, cache, relay, SessionRepository(connect), MessageRepository(connect, max_content_bytes=1 << 20))


async def cleanup(db: MySQLDatabase, client: aioredis.Redis, users: Sequence[str]) -> None:
    """Remove every row and key of ``users``."""
    if not users:
        return
    params = {f"u{i}": u for i, u in enumerate(users)}
    names = ", ".join(f":{p}" for p in params)
    for table in ("messages", "outbox", "sessions", "users"):
        await db.execute_update(f"DELETE FROM {table} WHERE user_id IN ({names})", params)
    for user in users:
        keys = [k async for k in client.scan_iter(match=f"user:{{{user}}}:*", count=1000)]
        if keys:
            await client.delete(*keys)


@pytest.fixture
async def stack(db: MySQLDatabase, redis_url: str, raw_redis: aioredis.Redis) -> AsyncIterator[Stack]:
    cache = make_cache(redis_url)
    built = build_stack(db, cache)
    yield built
    await built.relay.aclose(final_drain_timeout=5)
    await cleanup(db, raw_redis, built.users)
    await cache.aclose()


# -- stopping and restarting the real servers (failure tests) ------------------------------------


def server_pid(name: str) -> int:
    """The pid ``scripts/services`` recorded for ``name``; skips (or fails in CI) if it did not start it."""
    path = SERVICES_DIR / PID_FILES[name]
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        unavailable(f"{name} was not started by scripts/services (no live pid in {path})")
    return pid


def services(*args: str) -> None:
    """Run ``scripts/services`` (e.g. ``up redis``); its output is shown if it fails."""
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "services"), *args], timeout=180, capture_output=True, text=True
    )
    if done.returncode:
        pytest.fail(f"scripts/services {' '.join(args)} failed:\n{done.stdout}{done.stderr}", pytrace=False)


@dataclass
class Servers:
    """Pause, resume, kill and restart the real servers; whatever a test did is undone afterwards."""

    paused: set[int] = field(default_factory=set)
    killed: set[str] = field(default_factory=set)

    def pause(self, name: str) -> None:
        pid = server_pid(name)
        os.kill(pid, signal.SIGSTOP)
        self.paused.add(pid)

    def resume(self, name: str) -> None:
        pid = server_pid(name)
        os.kill(pid, signal.SIGCONT)
        self.paused.discard(pid)

    def kill(self, name: str) -> None:
        pid = server_pid(name)
        self.killed.add(name)
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _alive(pid):
            assert time.monotonic() < deadline, f"{name} (pid {pid}) outlived SIGKILL"
            time.sleep(0.05)

    def up(self, name: str) -> None:
        services("up", name)
        self.killed.discard(name)

    def restore(self) -> None:
        for pid in self.paused:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        for name in sorted(self.killed):
            services("up", name)


def _alive(pid: int) -> bool:
    """Running, and not a zombie nobody has reaped yet."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def servers() -> Iterator[Servers]:
    control = Servers()
    yield control
    control.restore()


# -- Elasticsearch and Neo4j: the derived stores, through a whole services workbench --------------


def _answers(url: str, default_port: int) -> bool:
    parts = urlsplit(url.split(",")[0])
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=3):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def es_url() -> str:
    url = os.environ.get("ES_URL", "http://127.0.0.1:9200")
    if not _answers(url, 9200):
        unavailable(f"Elasticsearch at {url} is not reachable")
    return url


@pytest.fixture(scope="session")
def neo4j_uri() -> str:
    uri = os.environ.get("NEO4J_URI", "bolt://127.0.0.1:7687")
    if not _answers(uri, 7687):
        unavailable(f"Neo4j at {uri} is not reachable")
    return uri


@dataclass
class Live:
    """A connected services workbench with an index of its own; its users' data is removed afterwards."""

    wb: Workbench
    users: list[str] = field(default_factory=list)

    def user(self) -> str:
        self.users.append(f"it-{uuid.uuid4().hex[:12]}")
        return self.users[-1]


def services_settings(
    mysql_url: str, redis_url: str, es_url: str, neo4j_uri: str, data_dir: Path, *, index_prefix: str = "wbtest"
) -> Settings:
    """Services settings on the test servers, with an Elasticsearch index of its own."""
    return Settings(
        profile="services",
        data_dir=data_dir,
        mysql_url=mysql_url,
        redis_url=redis_url,
        es_url=es_url,
        neo4j_uri=neo4j_uri,
        es_index=f"{index_prefix}_{uuid.uuid4().hex}",
    )


@pytest.fixture
async def live(
    mysql_url: str, redis_url: str, es_url: str, neo4j_uri: str, raw_redis: aioredis.Redis, tmp_path: Path
) -> AsyncIterator[Live]:
    async with Workbench.open(services_settings(mysql_url, redis_url, es_url, neo4j_uri, tmp_path)) as wb:
        bench = Live(wb)
        try:
            yield bench
        finally:
            stores = await wb.stores()
            await stores.relay.aclose(final_drain_timeout=5)  # first: a late write would recreate the index
            await cleanup(stores.db, raw_redis, bench.users)
            await remove_derived(wb, bench.users)


async def remove_derived(wb: Workbench, users: Sequence[str]) -> None:
    """Delete the workbench's index, and every node of ``users`` (and the terms left unmentioned)."""
    if users:
        graph = graph_of(wb)
        await graph.query(
            "MATCH (n) WHERE (n:User OR n:Session OR n:Message) AND n.user_id IN $users DETACH DELETE n",
            users=list(users),
        )
        await graph.query("MATCH (t:Term) WHERE NOT EXISTS { (t)<-[:MENTIONS]-() } DELETE t")
    await search_of(wb).client.options(ignore_status=404).indices.delete(index=wb.settings.es_index)
