"""The services graph backend: Cypher over the Neo4j model of docs/contracts.md.

``(:Message {user_id, session_id})-[:MENTIONS]->(:Term {text})`` carries every answer; the
aggregation (counts, pairs, shared terms) runs in Neo4j and only its rows come back. The
statements are built from fixed fragments (``str.format`` templates, so a literal brace is
doubled); every value is a parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workbench.stores.base import Row
from workbench.stores.neo4j import Neo4jGraph

__all__ = ["Neo4jGraphBackend"]

_TOP_TERMS_PER_USER = """
MATCH (m:Message)-[:MENTIONS]->(t:Term)
WITH m.user_id AS user_id, t.text AS term, count(*) AS count
ORDER BY user_id, count DESC, term
WITH user_id, collect({term: term, count: count})[..$n] AS top
UNWIND range(0, size(top) - 1) AS i
RETURN user_id, top[i].term AS term, top[i].count AS count, i + 1 AS rank
"""

_COOCCURRENCE = """
MATCH (a:Term)<-[:MENTIONS]-(m:Message)-[:MENTIONS]->(b:Term)
WHERE a.text < b.text{user}
WITH a.text AS term_a, b.text AS term_b, count(*) AS weight
WHERE weight >= $min_count
RETURN term_a, term_b, weight ORDER BY weight DESC, term_a, term_b{limit}
"""

_TERM_COUNTS = """
UNWIND $terms AS text
MATCH (:Term {{text: text}})<-[:MENTIONS]-(m:Message)
WHERE true{user}
RETURN text AS term, count(m) AS count
"""

_OWNS_SESSION = """
MATCH (s:Session {session_id: $session_id}) WHERE s.user_id = $user_id RETURN count(s) AS n
"""

_RELATED_SESSIONS = """
MATCH (me:Session {session_id: $session_id})-[:CONTAINS]->(:Message)-[:MENTIONS]->(t:Term)
WHERE me.user_id = $user_id
WITH DISTINCT t
MATCH (t)<-[:MENTIONS]-(:Message)<-[:CONTAINS]-(other:Session)
WHERE other.user_id = $user_id AND other.session_id <> $session_id
RETURN other.session_id AS session_id, other.name AS name, count(DISTINCT t) AS shared_terms, count(*) AS weight
ORDER BY shared_terms DESC, weight DESC, session_id LIMIT $limit
"""

_USERS_BY_SHARED_TOPICS = """
MATCH (m:Message)-[:MENTIONS]->(t:Term)
WITH m.user_id AS user_id, t, count(*) AS n
WITH t, collect({{user_id: user_id, n: n}}) AS users
UNWIND users AS a
UNWIND users AS b
WITH a, b WHERE a.user_id < b.user_id
WITH a.user_id AS user_a, b.user_id AS user_b, count(*) AS shared_terms,
     sum(CASE WHEN a.n < b.n THEN a.n ELSE b.n END) AS weight
WHERE shared_terms >= $min_shared
RETURN user_a, user_b, shared_terms, weight ORDER BY shared_terms DESC, weight DESC, user_a, user_b{limit}
"""


def _optional(user_id: str | None, limit: int | None) -> dict[str, str]:
    """The fixed fragments that an optional user filter or limit adds."""
    return {
        "user": "" if user_id is None else " AND m.user_id = $user_id",
        "limit": "" if limit is None else " LIMIT $limit",
    }


class Neo4jGraphBackend:
    """:class:`~workbench.analysis.graph.GraphBackend` of the services profile."""

    def __init__(self, graph: Neo4jGraph) -> None:
        self.graph = graph

    async def _rows(self, cypher: str, **params: Any) -> list[Row]:
        return [record.data() for record in await self.graph.analyse(cypher, **params)]  # type: ignore[arg-type]

    async def top_terms_per_user(self, n: int) -> list[Row]:
        return await self._rows(_TOP_TERMS_PER_USER, n=n)

    async def term_cooccurrence(self, min_count: int, limit: int | None, user_id: str | None) -> list[Row]:
        cypher = _COOCCURRENCE.format(**_optional(user_id, limit))
        return await self._rows(cypher, min_count=min_count, limit=limit, user_id=user_id)

    async def term_counts(self, terms: Sequence[str], user_id: str | None) -> list[Row]:
        cypher = _TERM_COUNTS.format(**_optional(user_id, None))
        return await self._rows(cypher, terms=list(terms), user_id=user_id)

    async def owns_session(self, user_id: str, session_id: str) -> bool:
        rows = await self._rows(_OWNS_SESSION, session_id=session_id, user_id=user_id)
        return bool(rows and rows[0]["n"])

    async def related_sessions(self, session_id: str, user_id: str, limit: int) -> list[Row]:
        return await self._rows(_RELATED_SESSIONS, session_id=session_id, user_id=user_id, limit=limit)

    async def users_by_shared_topics(self, min_shared: int, limit: int | None) -> list[Row]:
        cypher = _USERS_BY_SHARED_TOPICS.format(**_optional(None, limit))
        return await self._rows(cypher, min_shared=min_shared, limit=limit)
