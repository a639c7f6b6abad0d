"""The embedded backends: FTS5, ``message_terms`` and plain SQL over the system of record.

Everything is one SQL statement run by SQLite: ``GROUP BY``, window functions and
``json_extract`` do the work, and only aggregates reach Python. Every query joins the
``sessions`` table, so a deleted session is gone from results even before the relay ran.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from workbench.analysis.common import Filters
from workbench.analysis.search import Interval, LatencyBy, VolumeBy
from workbench.stores.base import Database, Row

__all__ = ["SQLiteGraphBackend", "SQLiteSearchBackend"]

_PERIODS = {
    "day": "substr(m.created_at, 1, 10)",
    "week": "date(m.created_at, 'weekday 0', '-6 days')",  # the Monday on or before
    "month": "substr(m.created_at, 1, 7) || '-01'",
}
_LATENCY_GROUPS = {
    "model": "CASE WHEN json_type(m.metadata, '$.model') = 'text' THEN json_extract(m.metadata, '$.model') END",
    "user_id": "m.user_id",
}
_QUANTILES = {"p50": 0.5, "p95": 0.95}


def _number(key: str, *types: str) -> str:
    """A metadata value of the JSON types the search index lifts into a field of its own."""
    kinds = ", ".join(f"'{t}'" for t in types)
    return f"CASE WHEN json_type(m.metadata, '$.{key}') IN ({kinds}) THEN json_extract(m.metadata, '$.{key}') END"


def _where(filters: Filters, alias: str) -> tuple[str, dict[str, Any]]:
    """``AND ...`` conditions of ``filters`` on table ``alias`` (``created_at`` is the message time)."""
    conditions = {
        "user_id": f"{alias}.user_id = :user_id",
        "role": f"{alias}.role = :role",
        "session_id": f"{alias}.session_id = :session_id",
        "since": f"{alias}.created_at >= :since",
        "until": f"{alias}.created_at < :until",
    }
    params = {k: getattr(filters, k) for k in conditions if getattr(filters, k) is not None}
    return "".join(f" AND {conditions[k]}" for k in params), params


def _match(tokens: Sequence[str]) -> str:
    """An FTS5 query that requires every token, each a quoted string (never FTS5 syntax)."""
    return " ".join('"' + token.replace('"', '""') + '"' for token in tokens)


# the rows of message_terms whose session is active (alias t); ends in a WHERE, so "AND ..." may follow
_TERMS = "FROM message_terms t JOIN sessions s ON s.session_id = t.session_id WHERE s.is_active = 1"


async def top_terms_per_user(db: Database, n: int) -> list[Row]:
    """Each user's ``n`` terms mentioned by most messages (shared by the search and graph backends)."""
    return await db.execute_query(
        f"WITH counts AS (SELECT t.user_id, t.term, COUNT(*) AS count {_TERMS} GROUP BY t.user_id, t.term), "  # noqa: S608
        "ranked AS (SELECT user_id, term, count, "
        "ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY count DESC, term) AS rank FROM counts) "
        "SELECT user_id, term, count, rank FROM ranked WHERE rank <= :n ORDER BY user_id, rank",
        {"n": n},
    )


class SQLiteSearchBackend:
    """:class:`~workbench.analysis.search.SearchBackend` of the embedded profile."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def search(self, tokens: Sequence[str], filters: Filters, limit: int) -> list[Row]:
        where, params = _where(filters, "d")
        return await self.db.execute_query(
            "SELECT d.message_id, d.session_id, d.user_id, d.role, d.created_at AS timestamp, d.seq, "  # noqa: S608
            "-bm25(search_fts) AS score, m.content FROM search_fts "
            "JOIN search_messages d ON d.doc_id = search_fts.rowid "
            "JOIN sessions s ON s.session_id = d.session_id "
            "JOIN messages m ON m.message_id = d.message_id "
            f"WHERE search_fts MATCH :match AND s.is_active = 1{where} "
            "ORDER BY score DESC, substr(d.created_at, 1, 23), d.message_id LIMIT :limit",
            {**params, "match": _match(tokens), "limit": limit},
        )

    async def volume(self, interval: Interval, by: VolumeBy, filters: Filters) -> list[Row]:
        where, params = _where(filters, "m")
        group = f", m.{by} AS {by}" if by else ""
        return await self.db.execute_query(
            f"SELECT {_PERIODS[interval]} AS period{group}, COUNT(*) AS messages FROM messages m "  # noqa: S608
            f"JOIN sessions s ON s.session_id = m.session_id WHERE s.is_active = 1{where} "
            f"GROUP BY period{', m.' + by if by else ''}",
            params,
        )

    async def top_terms(self, n: int, filters: Filters) -> list[Row]:
        where, params = _where(Filters(user_id=filters.user_id), "t")
        role = ""
        if filters.role is not None:
            role = " AND t.message_id IN (SELECT message_id FROM messages WHERE role = :role)"
            params["role"] = filters.role
        return await self.db.execute_query(
            f"SELECT t.term, COUNT(*) AS count {_TERMS}{where}{role} GROUP BY t.term "
            "ORDER BY count DESC, t.term LIMIT :n",
            {**params, "n": n},
        )

    async def top_terms_per_user(self, n: int) -> list[Row]:
        return await top_terms_per_user(self.db, n)

    async def session_stats(self, user_id: str | None) -> list[Row]:
        where, params = _where(Filters(user_id=user_id), "s")
        tokens = " + ".join(f"COALESCE({_number(key, 'integer')}, 0)" for key in ("prompt_tokens", "completion_tokens"))
        return await self.db.execute_query(
            "SELECT s.session_id, s.user_id, s.name, COUNT(m.message_id) AS messages, "  # noqa: S608
            f"MIN(m.created_at) AS first_at, MAX(m.created_at) AS last_at, SUM({tokens}) AS total_tokens "
            "FROM sessions s LEFT JOIN messages m ON m.session_id = s.session_id "
            f"WHERE s.is_active = 1{where} GROUP BY s.session_id",
            params,
        )

    async def user_activity(self) -> list[Row]:
        return await self.db.execute_query(
            "SELECT s.user_id, COUNT(DISTINCT s.session_id) AS sessions, COUNT(m.message_id) AS messages, "
            "MIN(m.created_at) AS first_at, MAX(m.created_at) AS last_at, "
            "COUNT(DISTINCT substr(m.created_at, 1, 10)) AS active_days "
            "FROM sessions s LEFT JOIN messages m ON m.session_id = s.session_id "
            "WHERE s.is_active = 1 GROUP BY s.user_id"
        )

    async def latency_stats(self, by: LatencyBy, filters: Filters) -> list[Row]:
        """Percentiles as Elasticsearch computes them exactly: linear between ranks ``q * (n - 1)``."""
        where, params = _where(filters, "m")
        ctes = [
            f"replies AS (SELECT {_LATENCY_GROUPS[by]} AS grp, "  # noqa: S608 - fixed fragments
            f"CAST({_number('ttft_ms', 'integer', 'real')} AS REAL) AS ttft, "
            f"CAST({_number('latency_ms', 'integer', 'real')} AS REAL) AS latency, "
            f"{_number('completion_tokens', 'integer')} AS completion FROM messages m "
            "JOIN sessions s ON s.session_id = m.session_id "
            f"WHERE s.is_active = 1 AND m.role = 'assistant'{where})"
        ]
        columns = []
        for metric in ("ttft", "latency"):
            ctes.append(
                f"ranked_{metric} AS (SELECT grp, {metric} AS v, "  # noqa: S608 - fixed fragments
                f"ROW_NUMBER() OVER (PARTITION BY grp ORDER BY {metric}) - 1 AS i, "
                f"COUNT(*) OVER (PARTITION BY grp) AS n FROM replies WHERE {metric} IS NOT NULL)"
            )
            quantiles = []
            for q in _QUANTILES:
                low = f"CAST(:{q} * (n - 1) AS INTEGER)"
                lo = f"MAX(CASE WHEN i = {low} THEN v END)"
                hi = f"MAX(CASE WHEN i = MIN({low} + 1, n - 1) THEN v END)"
                quantiles.append(f"{lo} + MAX(:{q} * (n - 1) - {low}) * ({hi} - {lo}) AS {q}")
                columns.append(f"MAX(q_{metric}.{q}) AS {metric}_{q}_ms")
            ctes.append(f"q_{metric} AS (SELECT grp, {', '.join(quantiles)} FROM ranked_{metric} GROUP BY grp)")  # noqa: S608
        return await self.db.execute_query(
            f"WITH {', '.join(ctes)} "  # noqa: S608 - fixed fragments
            f"SELECT r.grp AS {by}, COUNT(*) AS replies, AVG(r.completion) AS mean_completion_tokens, "
            f"{', '.join(columns)} FROM replies r LEFT JOIN q_ttft ON q_ttft.grp IS r.grp "
            "LEFT JOIN q_latency ON q_latency.grp IS r.grp GROUP BY r.grp",
            {**params, **_QUANTILES},
        )


class SQLiteGraphBackend:
    """:class:`~workbench.analysis.graph.GraphBackend` of the embedded profile (``message_terms``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def top_terms_per_user(self, n: int) -> list[Row]:
        return await top_terms_per_user(self.db, n)

    async def term_cooccurrence(self, min_count: int, limit: int | None, user_id: str | None) -> list[Row]:
        where, params = _where(Filters(user_id=user_id), "t")
        return await self.db.execute_query(
            f"WITH live AS (SELECT t.message_id, t.term {_TERMS}{where}) "  # noqa: S608 - fixed fragments
            "SELECT a.term AS term_a, b.term AS term_b, COUNT(*) AS weight FROM live a "
            "JOIN live b ON b.message_id = a.message_id AND a.term < b.term "
            "GROUP BY a.term, b.term HAVING COUNT(*) >= :min_count "
            "ORDER BY weight DESC, term_a, term_b LIMIT :limit",
            {**params, "min_count": min_count, "limit": -1 if limit is None else limit},
        )

    async def term_counts(self, terms: Sequence[str], user_id: str | None) -> list[Row]:
        where, params = _where(Filters(user_id=user_id), "t")
        return await self.db.execute_query(
            f"SELECT t.term, COUNT(*) AS count {_TERMS}{where} "  # noqa: S608 - fixed fragments
            "AND t.term IN (SELECT value FROM json_each(:terms)) GROUP BY t.term",
            {**params, "terms": json.dumps(list(terms), ensure_ascii=False)},
        )

    async def owns_session(self, user_id: str, session_id: str) -> bool:
        rows = await self.db.execute_query(
            "SELECT 1 AS owned FROM sessions WHERE session_id = :session_id AND user_id = :user_id AND is_active = 1",
            {"session_id": session_id, "user_id": user_id},
        )
        return bool(rows)

    async def related_sessions(self, session_id: str, user_id: str, limit: int) -> list[Row]:
        return await self.db.execute_query(
            f"WITH live AS (SELECT t.session_id, s.name, t.term {_TERMS} AND t.user_id = :user_id), "  # noqa: S608
            "mine AS (SELECT DISTINCT term FROM live WHERE session_id = :session_id) "
            "SELECT live.session_id, live.name, COUNT(DISTINCT live.term) AS shared_terms, COUNT(*) AS weight "
            "FROM live JOIN mine ON mine.term = live.term WHERE live.session_id <> :session_id "
            "GROUP BY live.session_id ORDER BY shared_terms DESC, weight DESC, live.session_id LIMIT :limit",
            {"session_id": session_id, "user_id": user_id, "limit": limit},
        )

    async def users_by_shared_topics(self, min_shared: int, limit: int | None) -> list[Row]:
        return await self.db.execute_query(
            f"WITH ut AS (SELECT t.user_id, t.term, COUNT(*) AS n {_TERMS} GROUP BY t.user_id, t.term) "  # noqa: S608
            "SELECT a.user_id AS user_a, b.user_id AS user_b, COUNT(*) AS shared_terms, "
            "SUM(MIN(a.n, b.n)) AS weight FROM ut a JOIN ut b ON b.term = a.term AND a.user_id < b.user_id "
            "GROUP BY a.user_id, b.user_id HAVING COUNT(*) >= :min_shared "
            "ORDER BY shared_terms DESC, weight DESC, user_a, user_b LIMIT :limit",
            {"min_shared": min_shared, "limit": -1 if limit is None else limit},
        )
