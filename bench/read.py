"""2. Read: ``get_messages`` on sessions of 10 to 10,000 messages, cache hit and cache miss.

Floors, with the workbench's clients, on the very rows and keys the workbench reads:

* **R1 hit floor**: ``LRANGE key 0 -1`` of the session's cached list (redis.asyncio, decoded) and
  ``json.loads`` of every item;
* **R2 miss floor**: the ``SELECT ... FROM messages WHERE session_id = %s ORDER BY seq`` over aiomysql
  (plain tuples).

The workbench's hit runs its Lua read (ownership check, ``LRANGE``, TTL refresh) and builds
``Message`` objects; its miss (the list dropped, untimed, before each call) reads the session and
its messages in one statement, builds the messages and writes the list back to Redis.

Peers hold the same messages in their own layout, written in bulk beforehand: the Redis peer's
list, the SQL peer's ``message_store`` rows (sync ``mysql+pymysql`` and async ``mysql+aiomysql``),
the ES peer's documents. Each returns LangChain message objects.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import Ctx, floor_pool, langchain_peers, message_text, new_user, workbench
from bench.env import PEER_ES_INDEX, PEER_REDIS_PREFIX, PEER_SQL_TABLE
from bench.report import Result, fmt, fmt_spread
from bench.stats import Rep, run_interleaved, run_sequential

CALLS = {10: 100, 100: 50, 1_000: 10, 10_000: 2}
QUICK_CALLS = {10: 30, 100: 15, 1_000: 4, 10_000: 1}

LABELS = {
    "floor_hit": "R1 floor: LRANGE + json.loads",
    "floor_miss": "R2 floor: SELECT … ORDER BY seq",
    "wb_hit": "**workbench** `get_messages`, cache hit",
    "wb_miss": "**workbench** `get_messages`, cache miss (+ refill)",
    "ctx_script": "context: the workbench's Lua read alone (no parsing)",
    "ctx_parse": "context: the workbench's parsing alone (`_parse`, no I/O)",
    "peer_redis": "peer: RedisChatMessageHistory `.messages`",
    "peer_sql": "peer: SQLChatMessageHistory `.messages` (pymysql)",
    "peer_sql_async": "peer: SQLChatMessageHistory `aget_messages` (aiomysql)",
    "peer_es": "peer: AsyncElasticsearchChatMessageHistory `aget_messages`",
}
KINDS = {
    "floor_hit": "floor",
    "floor_miss": "floor",
    "wb_hit": "workbench",
    "wb_miss": "workbench",
    "ctx_script": "context",
    "ctx_parse": "context",
}


def _calls(ctx: Ctx, size: int) -> int:
    table = QUICK_CALLS if ctx.quick else CALLS
    return table.get(size) or max(1, 20_000 // max(size, 1))


async def run(ctx: Ctx) -> Result:
    from redis.asyncio import Redis

    result = Result("read", "2. Read: get_messages (services profile)")
    sizes = ctx.sizes.get("read", [10, 100, 1_000, 10_000])
    result.config = {"sizes": sizes, "calls_per_rep": {s: _calls(ctx, s) for s in sizes}, "repeats": ctx.repeats}
    if not (ctx.up("mysql") and ctx.up("redis")):
        result.skipped.append("MySQL or Redis is down")
        return result
    async with workbench(ctx) as wb:
        pool = await floor_pool(ctx, maxsize=4)
        redis = Redis.from_url(ctx.servers.redis_url, decode_responses=True)
        peers = await _peers(ctx, result)
        try:
            user = new_user("read")
            for size in sizes:
                await _measure(ctx, result, wb, pool, redis, peers, user, size)
        finally:
            pool.close()
            await pool.wait_closed()
            await redis.aclose()
            for close in peers.get("_close", []):
                await close()
    _summarise(result, sizes)
    return result


async def _peers(ctx: Ctx, result: Result) -> dict[str, Any]:
    return langchain_peers(ctx, result.skipped, pool_size=4, es_timeout=60)


def _turns(size: int) -> list[tuple[str, str]]:
    return [("user" if i % 2 == 0 else "assistant", message_text(i)) for i in range(size)]


async def _load_peers(peers: dict[str, Any], ctx: Ctx, turns: list[tuple[str, str]], size: int) -> dict[str, Any]:
    """Each peer's history of the same ``turns``, written in the peer's own format, in bulk."""
    from langchain_core.messages import AIMessage, HumanMessage, message_to_dict

    messages = [HumanMessage(content=c) if r == "user" else AIMessage(content=c) for r, c in turns]
    made: dict[str, Any] = {}
    tag = uuid.uuid4().hex[:8]
    if "redis_cls" in peers:
        sid = f"{PEER_REDIS_PREFIX}read-{size}-{tag}"
        history = peers["redis_cls"](sid, url=ctx.servers.redis_url, key_prefix="")
        items = [json.dumps(message_to_dict(m)) for m in messages]
        with history.redis_client.pipeline(transaction=False) as pipe:
            for start in range(0, len(items), 1000):
                pipe.lpush(history.key, *items[start : start + 1000])  # the peer LPUSHes: newest first
            pipe.execute()
        made["peer_redis"] = history
        sql_sid = f"read-{size}-{tag}"
        sync_history = peers["sql_cls"](sql_sid, connection=peers["sql_engine"])  # creates the table
        with peers["sql_engine"].begin() as conn:
            conn.exec_driver_sql(
                f"INSERT INTO {PEER_SQL_TABLE} (session_id, message) VALUES (%s, %s)",  # noqa: S608 - constant
                [(sql_sid, json.dumps(message_to_dict(m))) for m in messages],
            )
        made["peer_sql"] = sync_history
        made["peer_sql_async"] = peers["sql_cls"](sql_sid, connection=peers["sql_async_engine"])
    if "es_cls" in peers:
        from elasticsearch.helpers import async_bulk

        es_sid = f"read-{size}-{tag}"
        history = peers["es_cls"](PEER_ES_INDEX, es_sid, client=peers["es_client"])
        await history.create_if_missing()
        base = 1_700_000_000_000
        actions = (
            {
                "_index": PEER_ES_INDEX,
                "_source": {"session_id": es_sid, "created_at": base + i, "history": json.dumps(message_to_dict(m))},
            }
            for i, m in enumerate(messages)
        )
        await async_bulk(peers["es_client"], actions, chunk_size=1000, refresh="wait_for")
        made["peer_es"] = history
    return made


async def _measure(
    ctx: Ctx, result: Result, wb: Any, pool: Any, redis: Any, peers: dict[str, Any], user: str, size: int
) -> None:
    from workbench.ingest import import_session

    ctx.log(f"read: session of {size} messages")
    stores = await wb.stores()
    turns = _turns(size)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    external = f"read-{size}-{uuid.uuid4().hex[:6]}"
    await import_session(
        stores.db,
        stores.relay,
        user_id=user,
        external_id=external,
        name=f"read {size}",
        created_at=start,
        messages=[(r, c, start + timedelta(seconds=i), None) for i, (r, c) in enumerate(turns)],
        max_content_bytes=wb.settings.max_content_bytes,
        notify=False,
    )
    from workbench.ingest import session_id_for

    sid = session_id_for(user, external)
    history = await wb.messages.get_messages(user, sid)  # a miss: fills the cache
    assert len(history) == size, (len(history), size)
    key = wb.settings.redis_messages_key.format(user_id=user, session_id=sid)
    assert await redis.llen(key) == size
    made = await _load_peers(peers, ctx, turns, size)
    calls = _calls(ctx, size)

    async def floor_hit(i: int) -> None:
        items = await redis.lrange(key, 0, -1)
        parsed = [json.loads(item) for item in items]
        assert len(parsed) == size

    async def floor_miss(i: int) -> None:
        async with pool.acquire() as conn, conn.cursor() as cur:
            await cur.execute(
                "SELECT session_id, seq, message_id, user_id, role, content, created_at, metadata FROM messages "
                "WHERE session_id = %s ORDER BY seq",
                (sid,),
            )
            rows = await cur.fetchall()
        assert len(rows) == size

    async def wb_hit(i: int) -> None:
        assert len(await wb.messages.get_messages(user, sid)) == size

    async def drop(i: int) -> None:
        await stores.cache.invalidate(user, sid)

    async def wb_miss(i: int) -> None:
        assert len(await wb.messages.get_messages(user, sid)) == size

    cache = stores.cache
    sessions_key, _, marker = cache._keys(user, sid)
    items = await redis.lrange(key, 0, -1)

    async def ctx_script(i: int) -> None:
        got = await cache._get(keys=[sessions_key, key, marker], args=[sid, cache._ttl, 0])
        assert len(got) == size + 1  # the offset, then the items

    async def ctx_parse(i: int) -> None:
        from workbench.stores.redis import _parse

        assert len(_parse(items, user, sid)) == size

    ops: dict[str, tuple[Any, Any]] = {
        "floor_hit": (floor_hit, None),
        "floor_miss": (floor_miss, None),
        "wb_hit": (wb_hit, None),
        "wb_miss": (wb_miss, drop),
        "ctx_script": (ctx_script, None),
        "ctx_parse": (ctx_parse, None),
    }
    if "peer_redis" in made:
        ops["peer_redis"] = (_sync_reader(made["peer_redis"], size), None)
        ops["peer_sql"] = (_sync_reader(made["peer_sql"], size), None)
        ops["peer_sql_async"] = (_async_reader(made["peer_sql_async"], size), None)
    if "peer_es" in made:
        ops["peer_es"] = (_async_reader(made["peer_es"], size), None)

    def variant(name: str) -> Any:
        op, before = ops[name]

        async def go(r: int) -> Rep:
            rep = await run_sequential(op, calls, before=before)
            if name == "wb_miss":  # leave the cache filled for the hit variant
                await wb.messages.get_messages(user, sid)
            return rep

        return go

    reps = await run_interleaved({name: variant(name) for name in ops}, repeats=ctx.repeats, warmup=ctx.warmup)
    group = f"n{size}"
    keyed = {name: f"{group}.{name}" for name in reps}
    all_reps = {keyed[n]: rs for n, rs in reps.items()}
    for name, rs in reps.items():
        kind = KINDS.get(name, "peer")
        result.add_variant(keyed[name], LABELS[name], kind, rs, group=group, size=size)
    for name in reps:
        for floor in ("floor_hit", "floor_miss"):
            if name != floor:
                result.add_ratio(keyed[name], keyed[floor], all_reps, "p50", group=group, size=size)
                result.add_ratio(keyed[name], keyed[floor], all_reps, "p95", group=group, size=size)
    if made.get("peer_sql") is not None:
        with peers["sql_engine"].connect() as conn:
            rows = conn.exec_driver_sql(f"SELECT COUNT(*) FROM {PEER_SQL_TABLE}").scalar()  # noqa: S608
        result.extra[f"{group}_peer_sql_rows_in_table"] = rows


def _sync_reader(history: Any, size: int) -> Any:
    async def read(i: int) -> None:
        assert len(history.messages) == size

    return read


def _async_reader(history: Any, size: int) -> Any:
    async def read(i: int) -> None:
        got = len(await history.aget_messages())
        assert got == size, (got, size)

    return read


def _summarise(result: Result, sizes: list[int]) -> None:
    def ratio(numerator: str, floor: str, metric: str = "p50") -> dict[str, Any] | None:
        return next(
            (r for r in result.ratios if r["numerator"] == numerator and r["floor"] == floor and r["metric"] == metric),
            None,
        )

    names = list(LABELS)
    p50_rows, ratio_rows = [], []
    for name in names:
        present = [s for s in sizes if f"n{s}.{name}" in result.variants]
        if not present:
            continue
        p50_rows.append(
            [
                LABELS[name],
                *(
                    fmt_spread(result.variants[f"n{s}.{name}"]["summary"]["p50"], 1e6) if s in present else "–"
                    for s in sizes
                ),
            ]
        )
        floor = (
            "floor_hit" if name in ("wb_hit", "peer_redis", "floor_miss", "ctx_script", "ctx_parse") else "floor_miss"
        )
        if name == "floor_hit":
            continue
        cells = []
        for s in sizes:
            r = ratio(f"n{s}.{name}", f"n{s}.{floor}")
            cells.append(fmt_spread(r, bold=name.startswith("wb")) if r else "–")
        ratio_rows.append([LABELS[name], LABELS[floor].split(":")[0], *cells])
    header = [str(f"{s:,}") for s in sizes]
    result.table(
        "Full-history read, p50 µs (messages per session)",
        ["reader", *header],
        p50_rows,
        "p95 and throughput per repetition are in `read.json`.",
    )
    result.table(
        "Full-history read, p50 ratio to the floor of its store",
        ["reader", "÷ floor", *header],
        ratio_rows,
        "R1 = LRANGE + json.loads on the workbench's own cached list; R2 = the SELECT over aiomysql. "
        "The peers return LangChain message objects; the workbench returns `Message` dataclasses.",
    )
    for s in sizes:
        r = ratio(f"n{s}.wb_hit", f"n{s}.floor_hit")
        if r:
            result.target(
                f"cache-hit read within 1.2× of R1 ({s:,} messages)",
                f"{fmt(r['median'])}× [{fmt(r['min'])}–{fmt(r['max'])}]",
                r["median"] <= 1.2,
            )
    for s in [s for s in sizes if s >= 1_000]:
        for ours in ("wb_hit", "wb_miss"):
            mine = result.variants.get(f"n{s}.{ours}")
            if mine is None:
                continue
            theirs = {k: v for k, v in result.variants.items() if v["kind"] == "peer" and v.get("size") == s}
            if not theirs:
                continue
            best_key = min(theirs, key=lambda k: theirs[k]["summary"]["p50"]["median"])
            best = theirs[best_key]["summary"]["p50"]["median"]
            value = mine["summary"]["p50"]["median"]
            result.target(
                f"{'hit' if ours == 'wb_hit' else 'miss'} read faster than every peer ({s:,} messages)",
                f"{fmt(value * 1e3)} ms vs fastest peer {fmt(best * 1e3)} ms "
                f"({LABELS[best_key.split('.', 1)[1]].removeprefix('peer: ')})",
                value < best,
            )
