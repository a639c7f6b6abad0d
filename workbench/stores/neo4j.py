"""The ``graph`` projection of the services profile: users, sessions, messages and terms in Neo4j.

The graph model is fixed in ``docs/contracts.md``::

    (:User)-[:STARTED]->(:Session)-[:CONTAINS]->(:Message)-[:MENTIONS]->(:Term)
    (:Message)-[:NEXT]->(:Message)   seq to seq + 1 within a session

Every write is one transaction of ``UNWIND $rows ... MERGE`` statements, so a retried batch
changes nothing; every value travels as a parameter.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, LiteralString

from workbench.errors import ConfigurationError, StoreError, StoreUnavailableError
from workbench.models import Message, Session, message_id_for
from workbench.stores.base import SessionKey
from workbench.text import extract_terms

try:
    import neo4j
    from neo4j.exceptions import DriverError, Neo4jError
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ConfigurationError("the services profile needs: pip install 'workbench[services]'") from exc

__all__ = ["Neo4jGraph"]

_SCHEMA: tuple[LiteralString, ...] = (
    "CREATE CONSTRAINT workbench_user IF NOT EXISTS FOR (n:User) REQUIRE n.user_id IS UNIQUE",
    "CREATE CONSTRAINT workbench_session IF NOT EXISTS FOR (n:Session) REQUIRE n.session_id IS UNIQUE",
    "CREATE CONSTRAINT workbench_message IF NOT EXISTS FOR (n:Message) REQUIRE n.message_id IS UNIQUE",
    "CREATE CONSTRAINT workbench_term IF NOT EXISTS FOR (n:Term) REQUIRE n.text IS UNIQUE",
    # deleting a session finds its messages by property
    "CREATE INDEX workbench_message_session IF NOT EXISTS FOR (n:Message) ON (n.session_id)",
)

_UPSERT_SESSIONS: LiteralString = """
UNWIND $rows AS row
MERGE (u:User {user_id: row.user_id})
MERGE (s:Session {session_id: row.session_id})
SET s.user_id = row.user_id, s.name = row.name, s.created_at = row.created_at, s.updated_at = row.updated_at
MERGE (u)-[:STARTED]->(s)
"""

_UPSERT_MESSAGES: LiteralString = """
UNWIND $rows AS row
MERGE (u:User {user_id: row.user_id})
MERGE (s:Session {session_id: row.session_id})
  ON CREATE SET s.user_id = row.user_id
MERGE (u)-[:STARTED]->(s)
MERGE (m:Message {message_id: row.message_id})
SET m.session_id = row.session_id, m.user_id = row.user_id, m.seq = row.seq, m.role = row.role,
    m.timestamp = row.timestamp, m.content = row.content
MERGE (s)-[:CONTAINS]->(m)
"""

# both directions, so the chain closes whichever neighbour lands first
_LINK_MESSAGES: LiteralString = """
UNWIND $rows AS row
MATCH (m:Message {message_id: row.message_id})
OPTIONAL MATCH (p:Message {message_id: row.previous_id})
OPTIONAL MATCH (n:Message {message_id: row.next_id})
FOREACH (_ IN CASE WHEN p IS NULL THEN [] ELSE [1] END | MERGE (p)-[:NEXT]->(m))
FOREACH (_ IN CASE WHEN n IS NULL THEN [] ELSE [1] END | MERGE (m)-[:NEXT]->(n))
"""

_MENTION_TERMS: LiteralString = """
UNWIND $rows AS row
MATCH (m:Message {message_id: row.message_id})
UNWIND row.terms AS text
MERGE (t:Term {text: text})
MERGE (m)-[:MENTIONS]->(t)
"""

_TERMS_OF_SESSIONS: LiteralString = """
UNWIND $rows AS row
MATCH (m:Message {session_id: row.session_id})-[:MENTIONS]->(t:Term)
WHERE m.user_id = row.user_id
RETURN DISTINCT t.text AS text
"""

_DELETE_MESSAGES: LiteralString = """
UNWIND $rows AS row
MATCH (m:Message {session_id: row.session_id})
WHERE m.user_id = row.user_id
DETACH DELETE m
"""

_DELETE_SESSIONS: LiteralString = """
UNWIND $rows AS row
MATCH (s:Session {session_id: row.session_id})
WHERE s.user_id = row.user_id
DETACH DELETE s
"""

_DELETE_ORPHAN_TERMS: LiteralString = """
UNWIND $terms AS text
MATCH (t:Term {text: text})
WHERE NOT EXISTS { (t)<-[:MENTIONS]-() }
DELETE t
"""

_DELETE_ORPHAN_USERS: LiteralString = """
UNWIND $rows AS row
MATCH (u:User {user_id: row.user_id})
WHERE NOT EXISTS { (u)-[:STARTED]->() }
DELETE u
"""

_CLEAR_SOME: LiteralString = """
MATCH (n) WHERE n:User OR n:Session OR n:Message OR n:Term
WITH n LIMIT $limit
DETACH DELETE n
RETURN count(*) AS deleted
"""

_VERSION: LiteralString = (
    "CALL dbms.components() YIELD name, versions, edition RETURN name, versions[0] AS version, edition"
)

_UNAVAILABLE = (
    neo4j.exceptions.ServiceUnavailable,
    neo4j.exceptions.SessionExpired,
    neo4j.exceptions.TransientError,
    neo4j.exceptions.ConnectionAcquisitionTimeoutError,
    OSError,  # TimeoutError too
)


def _session_row(session: Session) -> dict[str, Any]:
    return {
        "user_id": session.user_id,
        "session_id": session.session_id,
        "name": session.name,
        "created_at": session.created_at,
        "updated_at": session.updated_at,
    }


def _message_row(message: Message) -> dict[str, Any]:
    return {
        "message_id": message.message_id,
        "session_id": message.session_id,
        "user_id": message.user_id,
        "seq": message.seq,
        "role": str(message.role),
        "timestamp": message.timestamp,
        "content": message.content,
        "previous_id": message_id_for(message.session_id, message.seq - 1) if message.seq > 1 else None,
        "next_id": message_id_for(message.session_id, message.seq + 1),
        "terms": extract_terms(message.content),
    }


class Neo4jGraph:
    """The :class:`~workbench.stores.base.Projection` ``graph`` over one Neo4j database."""

    target = "graph"

    def __init__(
        self,
        uri: str,
        *,
        user: str = "neo4j",
        password: str | None = None,
        database: str = "neo4j",
        timeout: float = 10.0,
        analysis_timeout: float = 120.0,
    ) -> None:
        self.database = database
        self._timeout = timeout
        self._analysis_timeout = analysis_timeout  # aggregations over the whole graph, not request-path writes
        self._driver = neo4j.AsyncGraphDatabase.driver(
            uri,
            auth=(user, password) if password else None,
            connection_timeout=min(5.0, timeout),
            connection_acquisition_timeout=timeout,
            max_transaction_retry_time=min(5.0, timeout),
        )
        self._ready = False

    @asynccontextmanager
    async def _errors(self, seconds: float | None = None) -> AsyncIterator[None]:
        """Bound the call by the timeout (a stopped server never answers) and translate its errors."""
        try:
            async with asyncio.timeout(seconds or self._timeout):
                yield
        except _UNAVAILABLE as exc:
            raise StoreUnavailableError(str(exc) or type(exc).__name__, store="neo4j") from exc
        except (Neo4jError, DriverError) as exc:
            raise StoreError(str(exc), store="neo4j") from exc

    async def query(self, cypher: LiteralString, /, **params: Any) -> list[neo4j.Record]:
        """Run one parameterised Cypher statement in its own transaction; its records."""
        async with self._errors():
            result = await self._driver.execute_query(cypher, params, database_=self.database)
        return result.records

    async def analyse(self, cypher: LiteralString, /, **params: Any) -> list[neo4j.Record]:
        """Run one read-only, parameterised analysis statement, bounded by the analysis timeout."""
        async with self._errors(self._analysis_timeout):
            result = await self._driver.execute_query(
                cypher, params, database_=self.database, routing_=neo4j.RoutingControl.READ
            )
        return result.records

    async def _transaction(self, work: Callable[[neo4j.AsyncManagedTransaction], Awaitable[None]]) -> None:
        """Run ``work`` in one managed write transaction (retried by the driver on transient errors)."""
        await self._ensure_ready()
        async with self._errors(), self._driver.session(database=self.database) as session:
            await session.execute_write(work)

    async def _write(self, *statements: tuple[LiteralString, dict[str, Any]]) -> None:
        async def work(tx: neo4j.AsyncManagedTransaction) -> None:
            for query, params in statements:
                await (await tx.run(query, params)).consume()

        await self._transaction(work)

    # -- schema -----------------------------------------------------------------------------

    async def ensure_schema(self) -> None:
        """The uniqueness constraints of the graph model (and the index deletes use)."""
        for statement in _SCHEMA:
            await self.query(statement)
        self._ready = True

    async def _ensure_ready(self) -> None:
        if not self._ready:
            await self.ensure_schema()

    # -- writes -------------------------------------------------------------------------------

    async def upsert_sessions(self, sessions: Sequence[Session]) -> None:
        if sessions:
            await self._write((_UPSERT_SESSIONS, {"rows": [_session_row(s) for s in sessions]}))

    async def upsert_messages(self, messages: Sequence[Message], sessions: Sequence[Session] = ()) -> None:
        """The messages (and ``sessions``, changes applied before them) in one transaction."""
        statements: list[tuple[LiteralString, dict[str, Any]]] = []
        if sessions:
            statements.append((_UPSERT_SESSIONS, {"rows": [_session_row(s) for s in sessions]}))
        if messages:
            rows = [_message_row(m) for m in messages]
            # each statement gets only the fields it reads: packing parameters is most of the driver's CPU time
            links = [{k: r[k] for k in ("message_id", "previous_id", "next_id")} for r in rows]
            mentions = [{"message_id": r["message_id"], "terms": r["terms"]} for r in rows if r["terms"]]
            statements += [
                (_UPSERT_MESSAGES, {"rows": rows}),
                (_LINK_MESSAGES, {"rows": links}),
                (_MENTION_TERMS, {"rows": mentions}),
            ]
        if statements:
            await self._write(*statements)

    async def delete_sessions(self, sessions: Sequence[SessionKey]) -> None:
        """Detach-delete the sessions and their messages, then the terms and users nothing links to any more."""
        if not sessions:
            return
        rows = [{"user_id": u, "session_id": s} for u, s in sessions]

        async def work(tx: neo4j.AsyncManagedTransaction) -> None:
            result = await tx.run(_TERMS_OF_SESSIONS, {"rows": rows})
            terms = [record["text"] async for record in result]
            for query in (_DELETE_MESSAGES, _DELETE_SESSIONS):
                await (await tx.run(query, {"rows": rows})).consume()
            await (await tx.run(_DELETE_ORPHAN_TERMS, {"terms": terms})).consume()
            await (await tx.run(_DELETE_ORPHAN_USERS, {"rows": rows})).consume()

        await self._transaction(work)

    async def clear(self, *, batch_size: int = 10_000) -> None:
        """Remove every node of the graph model, in batches."""
        while (await self.query(_CLEAR_SOME, limit=batch_size))[0]["deleted"]:
            pass

    # -- reads ---------------------------------------------------------------------------------

    async def ping(self) -> dict[str, Any]:
        start = time.perf_counter()
        records = await self.query(_VERSION)
        latency_ms = (time.perf_counter() - start) * 1000
        component = records[0]
        return {
            "version": component["version"],
            "edition": component["edition"],
            "latency_ms": latency_ms,
            "database": self.database,
        }

    async def aclose(self) -> None:
        await self._driver.close()
