"""3. Bulk: import into MySQL, sync into Elasticsearch and Neo4j, reindex -- against the raw bulk floor.

Each repetition imports a fresh data set (sessions of 50 messages, 10 sessions per user) twice:
once through the workbench, once through the floor, so neither ever writes over the other's rows.
Per job, the workbench / the raw bulk floor (the same clients, rows and documents) / per-message writes:

* import into MySQL: ``ingest.import_session`` per conversation / per conversation one transaction:
  INSERT IGNORE of the user and the session, ``executemany`` of the messages and of the outbox rows /
  ``append_message`` per message (relay paused);
* sync into ES: ``relay.drain(["search"])`` of the import's outbox / keyset SELECT of the messages, the
  same documents (``workbench.text`` tokenizers), ``helpers.async_bulk`` in chunks of 500 /
  ``ElasticsearchIndex.upsert_messages([m])`` per message;
* sync into Neo4j: ``relay.drain(["graph"])`` / keyset SELECT, ``UNWIND`` batches of 500 rows (users,
  sessions, messages, NEXT, MENTIONS) in one transaction per batch, written by hand /
  ``Neo4jGraph.upsert_messages([m])`` per message;
* reindex (ES + Neo4j): ``wb.reindex(user_id=...)`` per user (scoped: Neo4j Community has one, shared,
  database) / a bulk delete of the same documents and a DETACH DELETE of the sessions, then both floors above.

Per-message writes run on a few hundred messages per repetition; throughput is messages per second.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import Ctx, floor_pool, message_text, new_user, workbench
from bench.env import ES_PREFIX
from bench.report import Result, fmt, fmt_spread
from bench.stats import Rep, spread

SESSION_LENGTH = 50
SESSIONS_PER_USER = 10
BATCH = 500
FLOOR_TARGET = "bench-floor"
FLOOR_INDEX = f"{ES_PREFIX}floor-bulk"
PER_MESSAGE = 200

_FLOOR_SESSIONS = """
UNWIND $sessions AS row
MERGE (u:User {user_id: row.user_id})
MERGE (s:Session {session_id: row.session_id})
SET s.user_id = row.user_id, s.name = row.name, s.created_at = row.created_at, s.updated_at = row.updated_at
MERGE (u)-[:STARTED]->(s)
"""
_FLOOR_MESSAGES = """
UNWIND $rows AS row
MATCH (s:Session {session_id: row.session_id})
MERGE (m:Message {message_id: row.message_id})
SET m.session_id = row.session_id, m.user_id = row.user_id, m.seq = row.seq, m.role = row.role,
    m.timestamp = row.timestamp, m.content = row.content
MERGE (s)-[:CONTAINS]->(m)
"""
_FLOOR_NEXT = """
UNWIND $links AS link
MATCH (a:Message {message_id: link[0]}), (b:Message {message_id: link[1]})
MERGE (a)-[:NEXT]->(b)
"""
_FLOOR_MENTIONS = """
UNWIND $rows AS row
MATCH (m:Message {message_id: row.message_id})
UNWIND row.terms AS text
MERGE (t:Term {text: text})
MERGE (m)-[:MENTIONS]->(t)
"""
_FLOOR_DELETE = """
UNWIND $sessions AS sid
MATCH (s:Session {session_id: sid})
OPTIONAL MATCH (s)-[:CONTAINS]->(m:Message)
OPTIONAL MATCH (m)-[:MENTIONS]->(t:Term)
WITH s, collect(DISTINCT m) AS messages, collect(DISTINCT t) AS terms
FOREACH (m IN messages | DETACH DELETE m)
DETACH DELETE s
WITH terms UNWIND terms AS t
WITH DISTINCT t WHERE NOT EXISTS { (t)<-[:MENTIONS]-() }
DELETE t
"""


def _dataset(tag: str, messages: int) -> list[dict[str, Any]]:
    """Conversations of ``SESSION_LENGTH`` messages, ``SESSIONS_PER_USER`` per user."""
    count = max(1, messages // SESSION_LENGTH)
    users = [new_user(f"bulk-{tag}") for _ in range((count + SESSIONS_PER_USER - 1) // SESSIONS_PER_USER)]
    start = datetime(2026, 2, 1, tzinfo=UTC)
    out = []
    for s in range(count):
        t0 = start + timedelta(minutes=7 * s)
        out.append(
            {
                "user_id": users[s // SESSIONS_PER_USER],
                "external_id": f"{tag}-{s}-{uuid.uuid4().hex[:6]}",
                "name": f"bulk {s}",
                "created_at": t0,
                "messages": [
                    (
                        "user" if i % 2 == 0 else "assistant",
                        message_text(s * SESSION_LENGTH + i),
                        t0 + timedelta(seconds=20 * i),
                        None,
                    )
                    for i in range(SESSION_LENGTH)
                ],
            }
        )
    return out


@contextlib.contextmanager
def _relay_paused(stores: Any) -> Iterator[None]:
    """Appends leave their outbox rows for a later drain instead of waking the relay."""
    relay = stores.relay
    relay.notify = lambda: None
    try:
        yield
    finally:
        del relay.notify


def _quiet_cursor() -> Any:
    """aiomysql's cursor without the ``SHOW WARNINGS`` round trip after a statement with notes (as the workbench's)."""
    import aiomysql

    class QuietCursor(aiomysql.Cursor):
        async def _show_warnings(self, conn: Any) -> None:
            return None

    return QuietCursor


class Floor:
    """The raw bulk paths, over aiomysql, AsyncElasticsearch and the neo4j async driver."""

    def __init__(self, pool: Any, es: Any, neo: Any, database: str) -> None:
        self.pool, self.es, self.neo, self.database = pool, es, neo, database

    async def import_(self, data: list[dict[str, Any]]) -> list[str]:
        import json

        from workbench.ingest import session_id_for

        sessions = []
        cursor_class = _quiet_cursor()
        now = datetime.now(UTC).replace(tzinfo=None)
        async with self.pool.acquire() as conn:
            for conv in data:
                sid = session_id_for(conv["user_id"], conv["external_id"])
                sessions.append(sid)
                user, created = conv["user_id"], conv["created_at"].replace(tzinfo=None)
                rows = [
                    (
                        sid,
                        seq,
                        f"msg_{sid}_{seq}",
                        user,
                        role,
                        content,
                        ts.replace(tzinfo=None),
                        json.dumps(meta or {}, ensure_ascii=False),
                    )
                    for seq, (role, content, ts, meta) in enumerate(conv["messages"], start=1)
                ]
                await conn.begin()
                async with conn.cursor(cursor_class) as cur:
                    await cur.execute(
                        "INSERT IGNORE INTO users (user_id, username, created_at) VALUES (%s, %s, %s)",
                        (user, f"用户_{user[:8]}", created),
                    )
                    await cur.execute(
                        "INSERT IGNORE INTO sessions (session_id, user_id, name, created_at, updated_at, is_active, "
                        "last_seq) VALUES (%s, %s, %s, %s, %s, 1, %s)",
                        (sid, user, conv["name"], created, rows[-1][6], len(rows)),
                    )
                    await cur.executemany(
                        "INSERT INTO messages (session_id, seq, message_id, user_id, role, content, created_at, "
                        "metadata) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                        rows,
                    )
                    events = [(FLOOR_TARGET, "session", user, sid, None, now)]
                    events += [(FLOOR_TARGET, "message", user, sid, r[2], now) for r in rows]
                    await cur.executemany(
                        "INSERT INTO outbox (target, kind, user_id, session_id, message_id, created_at) "
                        "VALUES (%s, %s, %s, %s, %s, %s)",
                        events,
                    )
                await conn.commit()
        return sessions

    async def pages(self, sessions: list[str]) -> AsyncIterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
        """(sessions, messages) ``BATCH`` messages at a time, read straight from MySQL."""
        import json

        per_page = max(1, BATCH // SESSION_LENGTH)
        async with self.pool.acquire() as conn:
            for start in range(0, len(sessions), per_page):
                chunk = sessions[start : start + per_page]
                marks = ", ".join(["%s"] * len(chunk))
                async with conn.cursor() as cur:
                    await cur.execute(
                        f"SELECT session_id, user_id, name, created_at, updated_at, last_seq "  # noqa: S608
                        f"FROM sessions WHERE session_id IN ({marks}) ORDER BY session_id",
                        chunk,
                    )
                    srows = await cur.fetchall()
                    await cur.execute(
                        "SELECT session_id, seq, message_id, user_id, role, content, created_at, metadata "  # noqa: S608
                        f"FROM messages WHERE session_id IN ({marks}) ORDER BY session_id, seq",
                        chunk,
                    )
                    mrows = await cur.fetchall()
                ses = [
                    {
                        "session_id": r[0],
                        "user_id": r[1],
                        "name": r[2],
                        "created_at": r[3].replace(tzinfo=UTC),
                        "updated_at": r[4].replace(tzinfo=UTC),
                        "message_count": r[5],
                    }
                    for r in srows
                ]
                msgs = [
                    {
                        "session_id": r[0],
                        "seq": r[1],
                        "message_id": r[2],
                        "user_id": r[3],
                        "role": r[4],
                        "content": r[5],
                        "timestamp": r[6].replace(tzinfo=UTC),
                        "metadata": json.loads(r[7]),
                    }
                    for r in mrows
                ]
                yield ses, msgs

    async def to_es(self, sessions: list[str]) -> int:
        from elasticsearch.helpers import async_bulk

        from workbench.text import extract_terms, segment_for_index

        async def actions() -> AsyncIterator[dict[str, Any]]:
            async for ses, msgs in self.pages(sessions):
                for s in ses:
                    yield {
                        "_index": FLOOR_INDEX,
                        "_id": f"{s['user_id']}_{s['session_id']}",
                        "_source": {
                            "doc_type": "session",
                            "user_id": s["user_id"],
                            "session_id": s["session_id"],
                            "session_name": s["name"],
                            "created_at": s["created_at"].isoformat(),
                            "updated_at": s["updated_at"].isoformat(),
                            "message_count": s["message_count"],
                            "last_message_at": s["updated_at"].isoformat(),
                            "messages": [],
                        },
                    }
                for m in msgs:
                    yield {
                        "_index": FLOOR_INDEX,
                        "_id": m["message_id"],
                        "_source": {
                            "doc_type": "message",
                            "user_id": m["user_id"],
                            "session_id": m["session_id"],
                            "message_id": m["message_id"],
                            "role": m["role"],
                            "content": m["content"],
                            "content_tokens": segment_for_index(m["content"]),
                            "terms": extract_terms(m["content"]),
                            "timestamp": m["timestamp"].isoformat(),
                            "message_order": m["seq"],
                            "metadata": m["metadata"],
                        },
                    }

        ok, _ = await async_bulk(self.es, actions(), chunk_size=BATCH, max_chunk_bytes=20 * 1024 * 1024, refresh=False)
        return ok

    async def to_neo4j(self, sessions: list[str]) -> None:
        from workbench.text import extract_terms

        async with self.neo.session(database=self.database) as session:
            async for ses, msgs in self.pages(sessions):
                rows = [{**m, "terms": extract_terms(m["content"])} for m in msgs]
                links = [[f"msg_{m['session_id']}_{m['seq'] - 1}", m["message_id"]] for m in msgs if m["seq"] > 1]

                async def work(
                    tx: Any,
                    ses: list[dict[str, Any]] = ses,
                    rows: list[dict[str, Any]] = rows,
                    links: list[list[str]] = links,
                ) -> None:
                    for query, params in (
                        (_FLOOR_SESSIONS, {"sessions": ses}),
                        (_FLOOR_MESSAGES, {"rows": rows}),
                        (_FLOOR_NEXT, {"links": links}),
                        (_FLOOR_MENTIONS, {"rows": rows}),
                    ):
                        await (await tx.run(query, params)).consume()

                await session.execute_write(work)

    async def remove(self, sessions: list[str], users: dict[str, str]) -> None:
        """Delete the documents and the graph of ``sessions`` (the reindex's first half)."""
        from elasticsearch.helpers import async_bulk

        async def deletes() -> AsyncIterator[dict[str, Any]]:
            for sid in sessions:
                yield {"_op_type": "delete", "_index": FLOOR_INDEX, "_id": f"{users[sid]}_{sid}"}
                for seq in range(1, SESSION_LENGTH + 1):
                    yield {"_op_type": "delete", "_index": FLOOR_INDEX, "_id": f"msg_{sid}_{seq}"}

        await async_bulk(self.es, deletes(), chunk_size=BATCH * 2, raise_on_error=False, refresh=False)
        async with self.neo.session(database=self.database) as session:
            for start in range(0, len(sessions), 10):
                chunk = sessions[start : start + 10]

                async def work(tx: Any, chunk: list[str] = chunk) -> None:
                    await (await tx.run(_FLOOR_DELETE, {"sessions": chunk})).consume()

                await session.execute_write(work)


async def run(ctx: Ctx) -> Result:
    import neo4j as neo
    from elasticsearch import AsyncElasticsearch

    from workbench.stores.elasticsearch import INDEX_MAPPING, INDEX_SETTINGS

    size = (ctx.sizes.get("bulk") or [5_000])[0]
    per_message = 60 if ctx.quick else PER_MESSAGE
    result = Result("bulk", "3. Bulk: import, sync, reindex (services profile)")
    result.config = {
        "messages_per_rep": size,
        "session_length": SESSION_LENGTH,
        "batch": BATCH,
        "per_message_writes_per_rep": per_message,
        "repeats": ctx.repeats,
        "warmup": ctx.warmup,
    }
    missing = [s for s in ("mysql", "redis", "elasticsearch", "neo4j") if not ctx.up(s)]
    if missing:
        result.skipped.append(f"needs all four servers; down: {', '.join(missing)}")
        return result
    s = ctx.servers
    async with workbench(ctx) as wb:
        stores = await wb.stores()
        search = next(p for p in stores.projections if p.target == "search")
        graph = next(p for p in stores.projections if p.target == "graph")
        pool = await floor_pool(ctx, maxsize=2)
        es = AsyncElasticsearch(s.es_url, request_timeout=120)
        await es.options(ignore_status=400).indices.create(
            index=FLOOR_INDEX, mappings=INDEX_MAPPING, settings=INDEX_SETTINGS
        )
        driver = neo.AsyncGraphDatabase.driver(
            s.neo4j_uri, auth=(s.neo4j_user, s.neo4j_password) if s.neo4j_password else None
        )
        floor = Floor(pool, es, driver, wb.settings.neo4j_database)
        reps: dict[str, list[Rep]] = {}
        try:
            # nothing drains in the background here: each drain below is the timed one
            stack = contextlib.ExitStack()
            stack.enter_context(_relay_paused(stores))
            for r in range(-ctx.warmup, ctx.repeats):
                ctx.log(f"bulk: {'warm-up' if r < 0 else f'repetition {r + 1}/{ctx.repeats}'}: {size} messages")
                got = await _repetition(wb, stores, search, graph, floor, size, per_message)
                if r >= 0:
                    for name, rep in got.items():
                        reps.setdefault(name, []).append(rep)
        finally:
            stack.close()
            async with pool.acquire() as conn, conn.cursor() as cur:
                await cur.execute("DELETE FROM outbox WHERE target = %s", (FLOOR_TARGET,))
            pool.close()
            await pool.wait_closed()
            await es.close()
            await driver.close()
    _report(result, reps)
    return result


async def _timed(rep_ops: int, work: Any) -> Rep:
    start = time.perf_counter()
    await work
    return Rep(wall=time.perf_counter() - start, ops=rep_ops)


async def _repetition(
    wb: Any, stores: Any, search: Any, graph: Any, floor: Floor, size: int, per_message: int
) -> dict[str, Rep]:
    from workbench.ingest import import_session, session_id_for
    from workbench.legacy import reindex
    from workbench.repositories import load_messages

    out: dict[str, Rep] = {}
    mine, theirs = _dataset("wb", size), _dataset("floor", size)
    n = sum(len(c["messages"]) for c in mine)

    # per-message appends (relay paused); their outbox rows are dropped, untimed, so that the timed
    # drains below carry only the import, and the per-message projection writes land fresh messages
    user = new_user("bulk-pm")
    sessions = [await wb.sessions.create_session(user) for _ in range(max(1, per_message // SESSION_LENGTH))]
    per_session = per_message // len(sessions)
    appended = []

    async def appends() -> None:  # the relay is paused: their projection work is measured under sync
        for sid in sessions:
            for i in range(per_session):
                appended.append(await wb.messages.append_message(user, sid, "user", message_text(i)))

    out["import.per_message"] = await _timed(per_session * len(sessions), appends())
    await stores.db.execute_update("DELETE FROM outbox WHERE user_id = :user", {"user": user})

    async def wb_import() -> None:
        for conv in mine:
            await import_session(
                stores.db,
                stores.relay,
                user_id=conv["user_id"],
                external_id=conv["external_id"],
                name=conv["name"],
                created_at=conv["created_at"],
                messages=conv["messages"],
                max_content_bytes=wb.settings.max_content_bytes,
                notify=False,
            )

    out["import.workbench"] = await _timed(n, wb_import())
    floor_sessions: list[str] = []

    async def floor_import() -> None:
        floor_sessions.extend(await floor.import_(theirs))

    out["import.floor"] = await _timed(n, floor_import())

    drained: dict[str, int] = {}

    async def sync(target: str) -> None:
        report = await stores.relay.drain([target])
        assert report.ok, report.failed
        drained[target] = report.applied.get(target, 0)

    out["sync_es.workbench"] = await _timed(n, sync("search"))
    out["sync_neo4j.workbench"] = await _timed(n, sync("graph"))
    expected_rows = n + len(mine)  # a message row per message, a session row per conversation
    assert drained == {"search": expected_rows, "graph": expected_rows}, (drained, expected_rows)
    out["sync_es.floor"] = await _timed(n, floor.to_es(floor_sessions))
    out["sync_neo4j.floor"] = await _timed(n, floor.to_neo4j(floor_sessions))

    messages = await load_messages(stores.db, [m.message_id for m in appended])

    async def one_by_one(projection: Any) -> None:
        for m in messages:
            await projection.upsert_messages([m])

    out["sync_es.per_message"] = await _timed(len(messages), one_by_one(search))
    out["sync_neo4j.per_message"] = await _timed(len(messages), one_by_one(graph))

    users = sorted({c["user_id"] for c in mine})

    async def wb_reindex() -> None:
        for u in users:
            summary = await reindex(wb, user_id=u, progress=False)
            assert summary["messages"] == SESSION_LENGTH * sum(c["user_id"] == u for c in mine), summary

    out["reindex.workbench"] = await _timed(n, wb_reindex())
    owners = {session_id_for(c["user_id"], c["external_id"]): c["user_id"] for c in theirs}

    async def floor_reindex() -> None:
        await floor.remove(floor_sessions, owners)
        await floor.to_es(floor_sessions)
        await floor.to_neo4j(floor_sessions)

    out["reindex.floor"] = await _timed(n, floor_reindex())
    await wb.sync()  # whatever the reindexes left in the outbox
    # the timed drains carried the import's rows: a session row and one row per message
    out["sync_es.workbench"].extra["outbox_rows"] = drained.get("search", 0)
    out["sync_neo4j.workbench"].extra["outbox_rows"] = drained.get("graph", 0)
    return out


LABELS = {
    "import": "import into MySQL",
    "sync_es": "sync into Elasticsearch",
    "sync_neo4j": "sync into Neo4j",
    "reindex": "reindex (ES + Neo4j)",
}


def _report(result: Result, reps: dict[str, list[Rep]]) -> None:
    rows = []
    for job, label in LABELS.items():
        wb, floor, pm = reps.get(f"{job}.workbench"), reps.get(f"{job}.floor"), reps.get(f"{job}.per_message")
        if wb is None:
            continue
        result.add_variant(f"{job}.workbench", f"workbench {label}", "workbench", wb, job=job)
        if floor:
            result.add_variant(f"{job}.floor", f"raw bulk floor: {label}", "floor", floor, job=job)
        if pm:
            result.add_variant(f"{job}.per_message", f"per-message writes: {label}", "context", pm, job=job)
        slow = result.add_ratio(f"{job}.workbench", f"{job}.floor", reps, "throughput", job=job) if floor else None
        speedup = None
        if pm:
            values = [w.figure("throughput") / p.figure("throughput") for w, p in zip(wb, pm, strict=False)]
            speedup = spread(values)
            result.ratios.append(
                {
                    "numerator": f"{job}.workbench",
                    "floor": f"{job}.per_message",
                    "metric": "throughput_speedup",
                    **speedup,
                    "job": job,
                }
            )
        rows.append(
            [
                label,
                fmt_spread(result.variants[f"{job}.workbench"]["summary"]["throughput"]),
                fmt_spread(result.variants[f"{job}.floor"]["summary"]["throughput"]) if floor else "–",
                fmt_spread(slow, bold=True) if slow else "–",
                fmt_spread(result.variants[f"{job}.per_message"]["summary"]["throughput"]) if pm else "–",
                fmt_spread(speedup, bold=True) if speedup else "–",
            ]
        )
        if slow:
            result.target(
                f"{label} within 1.25× of the raw bulk floor",
                f"{fmt(slow['median'])}× [{fmt(slow['min'])}–{fmt(slow['max'])}]",
                slow["median"] <= 1.25,
            )
        if speedup:
            result.target(
                f"{label} ≥ 10× faster than per-message writes",
                f"{fmt(speedup['median'])}× [{fmt(speedup['min'])}–{fmt(speedup['max'])}]",
                speedup["median"] >= 10,
            )
    result.table(
        f"Bulk throughput, messages/s ({result.config.get('messages_per_rep')} messages per repetition, "
        f"{result.config.get('repeats')} repetitions)",
        [
            "job",
            "workbench msg/s",
            "raw bulk floor msg/s",
            "÷ floor: slowdown ×",
            "per-message msg/s",
            "workbench ÷ per-message: speedup ×",
        ],
        rows,
        "Slowdown = floor throughput ÷ workbench throughput, per repetition. Per-message writes: "
        "`append_message` (MySQL), `upsert_messages([m])` one message at a time (ES, Neo4j).",
    )
