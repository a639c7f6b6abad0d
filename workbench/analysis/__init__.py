"""Analysis of stored conversations: search and statistics (``wb.search``), the term graph (``wb.graph``).

The same API serves both profiles; the backend follows ``settings.profile``: SQLite FTS5,
SQL and ``message_terms`` embedded, Elasticsearch and Neo4j on services.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from workbench.analysis.graph import GraphAnalytics, GraphBackend
from workbench.analysis.search import SearchAnalytics, SearchBackend, highlight
from workbench.errors import ConfigurationError

if TYPE_CHECKING:
    from workbench.bootstrap import Stores

__all__ = ["GraphAnalytics", "SearchAnalytics", "graph_analytics", "highlight", "search_analytics"]

StoresFactory = Callable[[], Awaitable["Stores"]]


def _projection(stores: Stores, target: str) -> Any:
    for projection in stores.projections:
        if projection.target == target:
            return projection
    raise ConfigurationError(f"no {target!r} store is configured for this profile")


def search_analytics(stores: StoresFactory, profile: str) -> SearchAnalytics:
    """:class:`SearchAnalytics` over the stores of ``profile``, connected on first use."""

    async def backend() -> SearchBackend:
        connected = await stores()
        if profile == "embedded":
            from workbench.analysis.sqlite import SQLiteSearchBackend

            return SQLiteSearchBackend(connected.db)
        from workbench.analysis.elasticsearch import ElasticsearchSearchBackend

        index = _projection(connected, "search")
        return ElasticsearchSearchBackend(index.client, index.index)

    return SearchAnalytics(backend)


def graph_analytics(stores: StoresFactory, profile: str) -> GraphAnalytics:
    """:class:`GraphAnalytics` over the stores of ``profile``, connected on first use."""

    async def backend() -> GraphBackend:
        connected = await stores()
        if profile == "embedded":
            from workbench.analysis.sqlite import SQLiteGraphBackend

            return SQLiteGraphBackend(connected.db)
        from workbench.analysis.neo4j import Neo4jGraphBackend

        return Neo4jGraphBackend(_projection(connected, "graph"))

    return GraphAnalytics(backend)
