"""What the integration tests read back from each store, to compare them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from workbench import Workbench
from workbench.stores.elasticsearch import ElasticsearchIndex
from workbench.stores.neo4j import Neo4jGraph

Row = tuple[int, str, str]  # (seq, message_id, content)


def search_of(wb: Workbench) -> ElasticsearchIndex:
    assert wb._stores is not None, "connect the workbench first"
    return next(p for p in wb._stores.projections if isinstance(p, ElasticsearchIndex))


def graph_of(wb: Workbench) -> Neo4jGraph:
    assert wb._stores is not None, "connect the workbench first"
    return next(p for p in wb._stores.projections if isinstance(p, Neo4jGraph))


async def sql_rows(wb: Workbench, session_id: str) -> list[Row]:
    db = (await wb.stores()).db
    rows = await db.execute_query(
        "SELECT seq, message_id, content FROM messages WHERE session_id = :sid ORDER BY seq", {"sid": session_id}
    )
    return [(int(r["seq"]), r["message_id"], r["content"]) for r in rows]


async def es_hits(wb: Workbench, query: dict[str, Any]) -> list[dict[str, Any]]:
    search = search_of(wb)
    await search.refresh()
    response = await search.client.search(index=search.index, query=query, size=10_000)
    return response["hits"]["hits"]


async def es_rows(wb: Workbench, session_id: str) -> list[Row]:
    hits = await es_hits(
        wb, {"bool": {"filter": [{"term": {"session_id": session_id}}, {"term": {"doc_type": "message"}}]}}
    )
    return sorted((h["_source"]["message_order"], h["_id"], h["_source"]["content"]) for h in hits)


async def graph_rows(wb: Workbench, session_id: str) -> list[Row]:
    records = await graph_of(wb).query(
        "MATCH (:Session {session_id: $sid})-[:CONTAINS]->(m:Message) RETURN m.seq AS seq, m.message_id AS id, "
        "m.content AS content ORDER BY seq",
        sid=session_id,
    )
    return [(r["seq"], r["id"], r["content"]) for r in records]


async def graph_chain(wb: Workbench, session_id: str) -> list[tuple[int, int]]:
    records = await graph_of(wb).query(
        "MATCH (a:Message {session_id: $sid})-[:NEXT]->(b:Message) RETURN a.seq AS a, b.seq AS b ORDER BY a, b",
        sid=session_id,
    )
    return [(r["a"], r["b"]) for r in records]


async def assert_projected(wb: Workbench, session_id: str, *, expected: int | None = None) -> list[Row]:
    """MySQL holds seq 1..n, and ES and Neo4j hold exactly those messages, once each, chained in order."""
    rows = await sql_rows(wb, session_id)
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
    if expected is not None:
        assert len(rows) == expected
    assert await es_rows(wb, session_id) == rows
    assert await graph_rows(wb, session_id) == rows
    assert await graph_chain(wb, session_id) == [(i, i + 1) for i in range(1, len(rows))]
    return rows


async def eventually(check: Callable[[], Awaitable[Any]], *, within: float, interval: float = 1.0) -> Any:
    """Retry ``check`` (which asserts) until it passes, or raise its failure after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        try:
            return await check()
        except Exception:  # not yet right, or the store is still starting
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(interval)
