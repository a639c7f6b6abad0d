"""1. Append (services profile): ``append_message`` at 1 and 16 concurrent sessions.

Floors, with the workbench's own clients (aiomysql, redis.asyncio, AsyncElasticsearch):

* **F1 durable floor** (the target's): the ordered transaction the workbench runs, typed out by
  hand -- ``BEGIN``; claim the seq (``UPDATE sessions SET last_seq = LAST_INSERT_ID(last_seq + 1)``);
  ``INSERT`` the message; ``INSERT`` the two outbox rows; ``COMMIT`` -- then the Redis push
  (``RPUSH`` + ``EXPIRE`` in one MULTI pipeline). Its outbox rows carry a target no relay reads.
* **F2 = F1 + the ES index** (``index`` of the message document, no refresh): every durable write
  the issue names, done synchronously; the workbench does the ES (and Neo4j) write later, in its relay.

Context rows: the transaction alone, and the Redis push alone.

Peers, each on the same servers: langchain-community ``RedisChatMessageHistory`` (with ``ttl``,
as the workbench's cache has one), ``SQLChatMessageHistory`` on MariaDB (sync ``mysql+pymysql``
and async ``mysql+aiomysql``, one shared engine, pool of 10 like the workbench's) and
langchain-elasticsearch ``AsyncElasticsearchChatMessageHistory`` on our ES 9 client.
At one session the sync peers are called directly (their fastest use); at 16 sessions through
their async API (``aadd_messages``: a thread pool) or ``asyncio.to_thread`` where that is broken
(the SQL peer's async methods refuse a sync engine).

The workbench runs as a service does: its relay drains the outbox into Elasticsearch and Neo4j in
the background while the appends run, on the same event loop. After each repetition the time its
relay needs to catch up is recorded (outside the timed batch). Two more runs of the same appends:
relay deferred (none runs during the batch; drained after it, untimed), and relay in a worker
process (``WORKBENCH_RELAY=external``: a ``workbench relay`` subprocess, started before and stopped
after each repetition, drains while the appends run; the repetition ends once it has drained).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from bench.common import Ctx, floor_pool, langchain_peers, message_text, new_user, workbench
from bench.env import ES_INDEX, ES_PREFIX, PEER_ES_INDEX, PEER_REDIS_PREFIX
from bench.report import Result, fmt, fmt_spread
from bench.stats import Rep, run_concurrent, run_interleaved

FLOOR_TARGET = "bench-floor"  # outbox rows of the floor: same table and index, read by no relay
FLOOR_ES_INDEX = f"{ES_PREFIX}floor-messages"
TTL = 86400

LABELS = {
    "floor": "F1 floor: raw ordered tx (claim seq + message + outbox) + RPUSH/EXPIRE pipeline",
    "floor_es": "F2 floor: F1 + ES index (no refresh)",
    "ctx_tx": "context: raw ordered tx only",
    "ctx_redis": "context: raw RPUSH/EXPIRE pipeline only",
    "workbench": "**workbench** `append_message` (relay live, in this process)",
    "workbench_deferred": "workbench `append_message`, relay deferred (drained after the batch, untimed)",
    "workbench_worker": "workbench `append_message`, relay in a worker process (`workbench relay`, 0.1 s polls)",
    "peer_redis": "peer: RedisChatMessageHistory (ttl)",
    "peer_sql": "peer: SQLChatMessageHistory (mysql+pymysql)",
    "peer_sql_async": "peer: SQLChatMessageHistory (mysql+aiomysql, async)",
    "peer_es": "peer: AsyncElasticsearchChatMessageHistory",
}
KINDS = {
    "floor": "floor",
    "floor_es": "floor",
    "workbench": "workbench",
    "workbench_deferred": "workbench",
    "workbench_worker": "workbench",
}
WORKER_POLL = 0.1  # seconds between the worker's polls: the inline relay's coalesce, so both lag alike
RELAY_TARGETS = ("search", "graph", "cache")


class WorkerRelay:
    """``workbench relay`` in a process of its own for one repetition, started and stopped outside the timing."""

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.proc: subprocess.Popen[bytes] | None = None
        self.folder = tempfile.TemporaryDirectory(prefix="bench-relay-")  # its cwd: no .env is read
        self.log = os.path.join(self.folder.name, "relay.log")

    def _env(self) -> dict[str, str]:
        servers = self.ctx.servers
        env = {
            **os.environ,
            "WORKBENCH_PROFILE": "services",
            "MYSQL_URL": servers.mysql_url,
            "REDIS_URL": servers.redis_url,
            "ES_URL": servers.es_url,
            "WORKBENCH_ES_INDEX": ES_INDEX,
            "NEO4J_URI": servers.neo4j_uri,
            "NEO4J_USER": servers.neo4j_user,
        }
        if servers.neo4j_password:
            env["NEO4J_PASSWORD"] = servers.neo4j_password
        return env

    def _start(self) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-c", "from workbench.cli import main; main()", "relay"]
        with open(self.log, "w") as err:
            return subprocess.Popen(
                [*command, "--interval", str(WORKER_POLL)], cwd=self.folder.name, env=self._env(), stderr=err
            )

    async def __aenter__(self) -> WorkerRelay:
        self.proc = self._start()
        deadline = time.monotonic() + 60
        while "following the outbox" not in self._text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"workbench relay did not start:\n{self._text()}")
            await asyncio.sleep(0.05)
        return self

    def _text(self) -> str:
        with open(self.log) as f:
            return f.read()

    async def drained(self, wb: Any, within: float = 120.0) -> float:
        """Seconds until the worker has emptied the outbox (of the relay's targets)."""
        relay, start = (await wb.stores()).relay, time.perf_counter()
        while True:
            backlog = await relay.backlog()
            if not any(backlog.get(t, 0) for t in RELAY_TARGETS):
                break
            if time.perf_counter() - start > within or self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"workbench relay did not drain the backlog:\n{self._text()[-2000:]}")
            await asyncio.sleep(0.01)
        return time.perf_counter() - start

    async def __aexit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            try:
                code = await asyncio.to_thread(self.proc.wait, 30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                code = await asyncio.to_thread(self.proc.wait)
            if code != 0:
                self.ctx.log(f"append: workbench relay exited with {code}:\n{self._text()[-2000:]}")
        self.folder.cleanup()


class RawFloor:
    """The workbench's durable append, by hand: the same statements over aiomysql, the same Redis layout."""

    def __init__(self, pool: Any, redis: Any, es: Any | None) -> None:
        self.pool, self.redis, self.es = pool, redis, es

    async def tx(self, user_id: str, session_id: str, content: str) -> tuple[int, str, Any]:
        from datetime import UTC, datetime

        now = datetime.now(UTC).replace(tzinfo=None)
        async with self.pool.acquire() as conn:
            await conn.begin()
            try:
                async with conn.cursor() as cur:
                    await cur.execute(
                        "UPDATE sessions SET last_seq = LAST_INSERT_ID(last_seq + 1), updated_at = %s "
                        "WHERE session_id = %s AND user_id = %s AND is_active = 1",
                        (now, session_id, user_id),
                    )
                    seq = cur.lastrowid
                    message_id = f"msg_{session_id}_{seq}"
                    await cur.execute(
                        "INSERT INTO messages (session_id, seq, message_id, user_id, role, content, created_at, "
                        "metadata) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                        (session_id, seq, message_id, user_id, "user", content, now, "{}"),
                    )
                    await cur.execute(
                        "INSERT INTO outbox (target, kind, user_id, session_id, message_id, created_at) "
                        "VALUES (%s, 'message', %s, %s, %s, %s), (%s, 'message', %s, %s, %s, %s)",
                        (FLOOR_TARGET, user_id, session_id, message_id, now) * 2,
                    )
                await conn.commit()
            except BaseException:
                await conn.rollback()
                raise
        return seq, message_id, now

    async def push(self, user_id: str, session_id: str, seq: int, message_id: str, content: str, now: Any) -> None:
        item = json.dumps(
            {
                "role": "user",
                "content": content,
                "timestamp": now.isoformat() + "+00:00",
                "seq": seq,
                "message_id": message_id,
                "metadata": {},
            },
            ensure_ascii=False,
        )
        key = f"user:{{{user_id}}}:session:{session_id}:messages"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, item).expire(key, TTL)
            await pipe.execute()

    async def append(self, user_id: str, session_id: str, content: str) -> None:
        seq, message_id, now = await self.tx(user_id, session_id, content)
        await self.push(user_id, session_id, seq, message_id, content, now)

    async def append_es(self, user_id: str, session_id: str, content: str) -> None:
        seq, message_id, now = await self.tx(user_id, session_id, content)
        await self.push(user_id, session_id, seq, message_id, content, now)
        await self.es.index(
            index=FLOOR_ES_INDEX,
            id=message_id,
            document={
                "doc_type": "message",
                "user_id": user_id,
                "session_id": session_id,
                "message_id": message_id,
                "role": "user",
                "content": content,
                "timestamp": now.isoformat() + "Z",
                "message_order": seq,
            },
        )


async def run(ctx: Ctx) -> Result:
    from redis.asyncio import BlockingConnectionPool, Redis

    result = Result("append", "1. Append (services profile)")
    n1 = 60 if ctx.quick else 300
    per16 = 5 if ctx.quick else 25
    result.config = {
        "appends_per_rep_c1": n1,
        "appends_per_worker_c16": per16,
        "repeats": ctx.repeats,
        "warmup": ctx.warmup,
        "message_chars": len(message_text(0)),
    }
    if not (ctx.up("mysql") and ctx.up("redis")):
        result.skipped.append("MySQL or Redis is down")
        return result
    peers = await _peers(ctx, result)
    async with workbench(ctx) as wb, workbench(ctx, relay="external") as wb_ext:
        # the live relay is driven by its notifications only (its idle timer, 5 s, could otherwise fire during
        # the deferred variant's batch and do that batch's projection work in this process after all)
        (await wb.stores()).relay._idle_interval = 3600.0
        pool = await floor_pool(ctx, maxsize=10)
        redis = Redis.from_pool(
            BlockingConnectionPool.from_url(ctx.servers.redis_url, decode_responses=True, max_connections=64)
        )
        es = None
        if ctx.up("elasticsearch"):
            from elasticsearch import AsyncElasticsearch

            es = AsyncElasticsearch(ctx.servers.es_url, request_timeout=30)
            await es.options(ignore_status=400).indices.create(
                index=FLOOR_ES_INDEX, settings={"number_of_shards": 1, "number_of_replicas": 0}
            )
        floor = RawFloor(pool, redis, es)
        try:
            for concurrency in (1, 16):
                await _measure(
                    ctx, result, wb, floor, peers, concurrency, n1 if concurrency == 1 else per16, ext=wb_ext
                )
        finally:
            async with pool.acquire() as conn, conn.cursor() as cur:
                await cur.execute("DELETE FROM outbox WHERE target = %s", (FLOOR_TARGET,))
            pool.close()
            await pool.wait_closed()
            await redis.aclose()
            if es is not None:
                await es.close()
            for close in peers.get("_close", []):
                await close()
    _targets(result)
    return result


async def _peers(ctx: Ctx, result: Result) -> dict[str, Any]:
    peers = langchain_peers(ctx, result.skipped, pool_size=10, es_timeout=30)
    if not ctx.up("elasticsearch"):
        result.skipped.append("Elasticsearch is down: no F2 floor, no ES peer")
    return peers


async def _measure(
    ctx: Ctx,
    result: Result,
    wb: Any,
    floor: RawFloor,
    peers: dict[str, Any],
    concurrency: int,
    per_worker: int,
    *,
    ext: Any,
) -> None:
    from langchain_core.messages import HumanMessage

    group = f"c{concurrency}"
    ctx.log(f"append: {concurrency} concurrent session(s), {per_worker * concurrency} appends per repetition")
    counter = iter(range(10**9))

    # one session per worker and variant, made up front
    wb_user = new_user(f"append-{group}")
    wb_sessions = []
    for _ in range(concurrency):
        sid = await wb.sessions.create_session(wb_user, name="bench append")
        await wb.messages.append_message(wb_user, sid, "user", message_text(0))
        await wb.messages.get_messages(wb_user, sid)  # the history is cached, as in a chat
        wb_sessions.append(sid)
    ext_user = new_user(f"append-worker-{group}")  # the external-relay workbench's own sessions
    ext_sessions = []
    for _ in range(concurrency):
        sid = await ext.sessions.create_session(ext_user, name="bench append, relay in a worker")
        await ext.messages.append_message(ext_user, sid, "user", message_text(0))
        await ext.messages.get_messages(ext_user, sid)
        ext_sessions.append(sid)
    await ext.sync()  # these set-up rows: not the first repetition's work
    raw_user = new_user(f"append-raw-{group}")
    raw_sessions = []
    for _ in range(concurrency):
        sid = await wb.sessions.create_session(raw_user, name="bench append floor")
        raw_sessions.append(sid)

    def sessions_for(name: str) -> list[str]:
        return [f"{PEER_REDIS_PREFIX}{name}-{uuid.uuid4().hex[:8]}-{w}" for w in range(concurrency)]

    async def wb_op(w: int, i: int) -> None:
        await wb.messages.append_message(wb_user, wb_sessions[w], "user", message_text(next(counter)))

    async def ext_op(w: int, i: int) -> None:
        await ext.messages.append_message(ext_user, ext_sessions[w], "user", message_text(next(counter)))

    async def floor_op(w: int, i: int) -> None:
        await floor.append(raw_user, raw_sessions[w], message_text(next(counter)))

    async def floor_es_op(w: int, i: int) -> None:
        await floor.append_es(raw_user, raw_sessions[w], message_text(next(counter)))

    async def tx_op(w: int, i: int) -> None:
        await floor.tx(raw_user, raw_sessions[w], message_text(next(counter)))

    push_seq = iter(range(10**9))

    async def redis_op(w: int, i: int) -> None:
        from datetime import UTC, datetime

        await floor.push(
            raw_user,
            raw_sessions[w],
            next(push_seq),
            "msg_x",
            message_text(next(counter)),
            datetime.now(UTC).replace(tzinfo=None),
        )

    ops: dict[str, Callable[[int, int], Awaitable[None]]] = {"floor": floor_op}
    if floor.es is not None:
        ops["floor_es"] = floor_es_op
    if concurrency == 1:
        ops["ctx_tx"] = tx_op
        ops["ctx_redis"] = redis_op
    ops["workbench"] = wb_op
    ops["workbench_deferred"] = wb_op  # the same appends; the relay is kept off during the batch
    ops["workbench_worker"] = ext_op  # the same appends by a WORKBENCH_RELAY=external workbench

    if "redis_cls" in peers:
        redis_histories = [
            peers["redis_cls"](s, url=ctx.servers.redis_url, key_prefix="", ttl=TTL) for s in sessions_for("redis")
        ]
        sql_histories = [peers["sql_cls"](s, connection=peers["sql_engine"]) for s in sessions_for("sql")]
        sql_async = [peers["sql_cls"](s, connection=peers["sql_async_engine"]) for s in sessions_for("sqla")]

        if concurrency == 1:

            async def peer_redis(w: int, i: int) -> None:
                redis_histories[w].add_message(HumanMessage(content=message_text(next(counter))))

            async def peer_sql(w: int, i: int) -> None:
                sql_histories[w].add_message(HumanMessage(content=message_text(next(counter))))
        else:

            async def peer_redis(w: int, i: int) -> None:
                await redis_histories[w].aadd_messages([HumanMessage(content=message_text(next(counter)))])

            async def peer_sql(w: int, i: int) -> None:
                await asyncio.to_thread(sql_histories[w].add_message, HumanMessage(content=message_text(next(counter))))

        async def peer_sql_async(w: int, i: int) -> None:
            await sql_async[w].aadd_message(HumanMessage(content=message_text(next(counter))))

        ops.update(peer_redis=peer_redis, peer_sql=peer_sql, peer_sql_async=peer_sql_async)
    if "es_cls" in peers:
        es_histories = [peers["es_cls"](PEER_ES_INDEX, s, client=peers["es_client"]) for s in sessions_for("es")]

        async def peer_es(w: int, i: int) -> None:
            await es_histories[w].aadd_message(HumanMessage(content=message_text(next(counter))))

        ops["peer_es"] = peer_es

    # the ES-heavy variants (the ES peer refreshes the index at every write, then ES merges for seconds) run in
    # a round of their own, with F1 and the workbench again, so that they do not load the machine under the rest
    heavy = {"floor_es", "peer_es"}
    main_ops = {k: v for k, v in ops.items() if k not in heavy}
    es_ops = {"floor": ops["floor"], **{k: v for k, v in ops.items() if k in heavy}, "workbench": wb_op}
    await _round(ctx, result, wb, main_ops, group, concurrency, per_worker, "", ext=ext)
    if len(es_ops) > 2:
        await _round(ctx, result, wb, es_ops, f"{group}es", concurrency, per_worker, ", ES variants", ext=ext)
    # the workbench wrote every append, in order, and its relay landed them
    stores = await wb.stores()
    rows = await stores.db.execute_query(
        "SELECT MIN(last_seq) AS lo, MAX(last_seq) AS hi FROM sessions WHERE user_id = :u", {"u": wb_user}
    )
    rounds = 3 if len(es_ops) > 2 else 2  # workbench batches per repetition, over the rounds
    expected = 1 + rounds * per_worker * (ctx.repeats + ctx.warmup)
    result.extra[f"{group}_workbench_last_seq"] = [int(rows[0]["lo"]), int(rows[0]["hi"]), expected]
    rows = await stores.db.execute_query(
        "SELECT MIN(last_seq) AS lo, MAX(last_seq) AS hi FROM sessions WHERE user_id = :u", {"u": ext_user}
    )
    expected = 1 + per_worker * (ctx.repeats + ctx.warmup)
    result.extra[f"{group}_workbench_worker_last_seq"] = [int(rows[0]["lo"]), int(rows[0]["hi"]), expected]


async def _round(
    ctx: Ctx,
    result: Result,
    wb: Any,
    ops: dict[str, Callable[[int, int], Awaitable[None]]],
    group: str,
    concurrency: int,
    per_worker: int,
    title: str,
    *,
    ext: Any,
) -> None:
    catch_up: list[float] = []
    worker_catch_up: list[float] = []

    def variant(name: str) -> Callable[[int], Awaitable[Rep]]:
        async def go(r: int) -> Rep:
            relay = (await wb.stores()).relay
            if name == "workbench_deferred":  # as if the relay ran in another process: none runs in this one
                task, relay._task = relay._task, None
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                relay.notify = lambda: None
            if name == "workbench_worker":  # started before the timing, drained and stopped after it
                async with WorkerRelay(ctx) as worker:
                    rep = await run_concurrent(ops[name], concurrency, per_worker)
                    rep.extra["relay_catch_up_s"] = await worker.drained(ext)
                if r >= 0:
                    worker_catch_up.append(rep.extra["relay_catch_up_s"])
                assert not (await ext.sync()).applied.get("search"), "the worker left rows behind"
                return rep
            try:
                rep = await run_concurrent(ops[name], concurrency, per_worker)
            finally:
                relay.__dict__.pop("notify", None)
            if name.startswith("workbench"):
                start = time.perf_counter()
                await wb.sync()
                rep.extra["relay_catch_up_s"] = time.perf_counter() - start
                if r >= 0 and name == "workbench":
                    catch_up.append(rep.extra["relay_catch_up_s"])
            return rep

        return go

    reps = await run_interleaved(
        {name: variant(name) for name in ops}, repeats=ctx.repeats, warmup=ctx.warmup, log=ctx.log
    )
    for name, rs in reps.items():
        result.add_variant(
            f"{group}.{name}",
            LABELS[name],
            KINDS.get(name, "peer" if name.startswith("peer") else "context"),
            rs,
            group=group,
        )
    table = []
    keyed = {name: f"{group}.{name}" for name in reps}
    all_reps = {keyed[n]: rs for n, rs in reps.items()}
    for name in reps:
        s = result.variants[keyed[name]]["summary"]
        row = [LABELS[name], fmt_spread(s["p50"], 1e6), fmt_spread(s["p95"], 1e6), fmt_spread(s["throughput"])]
        for floor_name in ("floor", "floor_es"):
            if floor_name not in reps or name == floor_name:
                row.append("1" if name == floor_name else "–")
                continue
            p50 = result.add_ratio(keyed[name], keyed[floor_name], all_reps, "p50", group=group)
            thr = result.add_ratio(keyed[name], keyed[floor_name], all_reps, "throughput", group=group)
            row.append(f"{fmt_spread(p50, bold=name == 'workbench')} / {fmt_spread(thr)}")
        if "floor" in reps and name != "floor":
            result.add_ratio(keyed[name], keyed["floor"], all_reps, "p95", group=group)
        table.append(row)
    note = ""
    if catch_up:
        note = (
            f"Relay catch-up after each workbench repetition (ES + Neo4j + outbox delete, untimed above): "
            f"median {fmt(sorted(catch_up)[len(catch_up) // 2] * 1000)} ms."
        )
    if worker_catch_up:
        note += (
            f" The worker process's lag after the batch's last append, until the outbox was empty: "
            f"median {fmt(sorted(worker_catch_up)[len(worker_catch_up) // 2] * 1000)} ms."
        )
    result.table(
        f"Append, {concurrency} concurrent session{'s' if concurrency > 1 else ''}{title} "
        f"({per_worker * concurrency} appends per repetition, {ctx.repeats} repetitions)",
        [
            "variant",
            "p50 µs",
            "p95 µs",
            "appends/s",
            "÷ F1: p50 × / throughput slowdown ×",
            "÷ F2: p50 × / throughput slowdown ×",
        ],
        table,
        note,
    )


def _targets(result: Result) -> None:
    def find(numerator: str, floor: str, metric: str) -> dict[str, Any] | None:
        return next(
            (r for r in result.ratios if r["numerator"] == numerator and r["floor"] == floor and r["metric"] == metric),
            None,
        )

    for group in ("c1", "c16"):
        for name, how in (
            ("workbench", "relay live"),
            ("workbench_deferred", "relay deferred"),
            ("workbench_worker", "relay in a worker process"),
        ):
            r = find(f"{group}.{name}", f"{group}.floor", "p50")
            if r is not None:
                result.target(
                    f"append p50 within 1.3× of F1 ({group}, {how})",
                    f"{fmt(r['median'])}× [{fmt(r['min'])}–{fmt(r['max'])}]",
                    r["median"] <= 1.3,
                )
        for round_ in (group, f"{group}es"):  # each peer against the workbench of its own round
            wb = result.variants.get(f"{round_}.workbench")
            if wb is None:
                continue
            for v in result.variants.values():
                if v["kind"] != "peer" or v.get("group") != round_:
                    continue
                ours, theirs = wb["summary"]["p50"]["median"], v["summary"]["p50"]["median"]
                result.target(
                    f"append faster than {v['label'].removeprefix('peer: ')} ({group}, p50, relay live)",
                    f"{fmt(ours * 1e6)} µs vs {fmt(theirs * 1e6)} µs",
                    ours < theirs,
                )
