"""What the scenarios share: the run's options, the log, a workbench on the benchmark's servers, texts."""

from __future__ import annotations

import contextlib
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.env import RESULTS, USER_PREFIX, Servers

__all__ = ["Ctx", "message_text", "new_user", "workbench"]

_WORDS = (
    "how do I pivot a DataFrame in pandas when the index has duplicate values and I need the mean of each "
    "group redis cache session message history elasticsearch index mapping neo4j graph query latency token "
    "stream model prompt reply notebook widget python async await transaction outbox relay"
).split()
_CHINESE = ("数据分析", "缓存", "会话记录", "统计", "用户", "消息", "索引", "图数据库", "模型", "延迟")


def message_text(i: int, words: int = 24) -> str:
    """A deterministic chat message of about ``words`` words (~160 characters), some Chinese."""
    picked = [_WORDS[(i * 7 + k * 13) % len(_WORDS)] for k in range(words)]
    picked.insert(words // 2, _CHINESE[i % len(_CHINESE)] + _CHINESE[(i + 3) % len(_CHINESE)])
    return " ".join(picked).capitalize() + f"? (#{i})"


def new_user(tag: str) -> str:
    return f"{USER_PREFIX}{tag}-{uuid.uuid4().hex[:8]}"


@dataclass
class Ctx:
    """The options of this run and the servers it uses."""

    servers: Servers
    repeats: int = 5
    warmup: int = 1
    quick: bool = False
    full: bool = False
    sizes: dict[str, list[int]] = field(default_factory=dict)
    profile: bool = False
    store_profiles: tuple[str, ...] = ("embedded", "services")  # which of the workbench's profiles to measure
    probe: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    def up(self, name: str) -> bool:
        return bool(self.probe.get(name, {}).get("up"))

    def log(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.started:7.1f}s] {message}", file=sys.stderr, flush=True)

    @property
    def profiles_dir(self) -> Path:
        path = RESULTS / "profiles"
        path.mkdir(parents=True, exist_ok=True)
        return path


@contextlib.asynccontextmanager
async def workbench(ctx: Ctx, **overrides: Any) -> AsyncIterator[Any]:
    """A connected services workbench on the benchmark's database, index and key space."""
    from workbench.app import Workbench

    wb = Workbench(ctx.servers.settings(**overrides))
    await wb.connect()
    try:
        yield wb
    finally:
        await wb.aclose()


async def floor_pool(ctx: Ctx, *, maxsize: int) -> Any:
    """An aiomysql pool as the floors use it: the workbench's own client, settings and database."""
    import aiomysql

    a = ctx.servers.mysql_args
    return await aiomysql.create_pool(
        host=a["host"],
        port=a["port"],
        user=a["user"],
        password=a["password"],
        db=a["db"],
        minsize=1,
        maxsize=maxsize,
        autocommit=True,
        charset="utf8mb4",
    )


def add_es_peer(ctx: Ctx, peers: dict[str, Any], skipped: list[str], *, request_timeout: float) -> None:
    """LangChain's ``AsyncElasticsearchChatMessageHistory`` class and a client for it, into ``peers``
    (``es_cls``, ``es_client``; the client's close into ``peers["_close"]``), or why not into ``skipped``."""
    try:
        from elasticsearch import AsyncElasticsearch
        from langchain_elasticsearch import AsyncElasticsearchChatMessageHistory
    except ImportError as exc:
        skipped.append(f"langchain-elasticsearch peer: {exc} (make bench installs it with --no-deps)")
        return
    peers["es_cls"] = AsyncElasticsearchChatMessageHistory
    peers["es_client"] = AsyncElasticsearch(ctx.servers.es_url, request_timeout=request_timeout)
    peers["_close"].append(peers["es_client"].close)


def langchain_peers(ctx: Ctx, skipped: list[str], *, pool_size: int, es_timeout: float) -> dict[str, Any]:
    """The peers' shared clients (one engine or client per peer, as a service would hold): the Redis
    and SQL history classes with a sync and an async SQLAlchemy engine of ``pool_size``, and the ES
    peer (:func:`add_es_peer`) when Elasticsearch is up; ``peers["_close"]`` closes them all."""
    peers: dict[str, Any] = {"_close": []}
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from langchain_community.chat_message_histories import RedisChatMessageHistory, SQLChatMessageHistory
        from sqlalchemy import create_engine
        from sqlalchemy.ext.asyncio import create_async_engine
    except ImportError as exc:
        skipped.append(f"langchain-community peers: {exc}")
    else:
        peers["redis_cls"], peers["sql_cls"] = RedisChatMessageHistory, SQLChatMessageHistory
        engine = create_engine(ctx.servers.sqlalchemy_url("pymysql"), pool_size=pool_size, max_overflow=0)
        async_engine = create_async_engine(ctx.servers.sqlalchemy_url("aiomysql"), pool_size=pool_size, max_overflow=0)
        peers["sql_engine"], peers["sql_async_engine"] = engine, async_engine

        async def close_engines() -> None:
            engine.dispose()
            await async_engine.dispose()

        peers["_close"].append(close_engines)
    if ctx.up("elasticsearch"):
        add_es_peer(ctx, peers, skipped, request_timeout=es_timeout)
    return peers
