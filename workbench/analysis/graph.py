"""Who talks about what, and how topics connect: one API over the term graph of either profile.

The embedded backend aggregates the ``message_terms`` table in SQL; the services backend
runs Cypher over the Neo4j model of docs/contracts.md. Either way only aggregates (term
pairs with weights, per-user counts) leave the store; networkx works on those. Every result
is deterministic: stable orders with tie-breakers, sorted graph construction, fixed seeds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Protocol

import networkx as nx
import pandas as pd

from workbench.analysis import plots
from workbench.analysis.common import Kind, check_count, frame
from workbench.analysis.search import USER_TERM_COLUMNS
from workbench.errors import NotFoundError, ValidationError
from workbench.models import check_session_id, check_user_id
from workbench.stores.base import Row

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["COMMUNITY_SEED", "GraphAnalytics", "GraphBackend"]

COMMUNITY_SEED = 42
EDGE_COLUMNS: dict[str, Kind] = {"term_a": "str", "term_b": "str", "weight": "int"}
RELATED_COLUMNS: dict[str, Kind] = {"session_id": "str", "name": "str", "shared_terms": "int", "weight": "int"}
USER_PAIR_COLUMNS: dict[str, Kind] = {"user_a": "str", "user_b": "str", "shared_terms": "int", "weight": "int"}
COMMUNITY_COLUMNS: dict[str, Kind] = {"term": "str", "community": "int"}


class GraphBackend(Protocol):
    """What a term graph store answers (rows keyed like the matching ``*_COLUMNS``)."""

    async def top_terms_per_user(self, n: int) -> list[Row]: ...

    async def term_cooccurrence(self, min_count: int, limit: int | None, user_id: str | None) -> list[Row]:
        """Term pairs (``term_a < term_b``) and how many messages mention both, heaviest first."""
        ...

    async def term_counts(self, terms: Sequence[str], user_id: str | None) -> list[Row]:
        """``term``, ``count``: how many messages mention each of ``terms``."""
        ...

    async def owns_session(self, user_id: str, session_id: str) -> bool: ...

    async def related_sessions(self, session_id: str, user_id: str, limit: int) -> list[Row]:
        """The user's other sessions sharing terms: distinct shared terms, mentions of them."""
        ...

    async def users_by_shared_topics(self, min_shared: int, limit: int | None) -> list[Row]:
        """User pairs (``user_a < user_b``): distinct shared terms, sum of the smaller mention counts."""
        ...


def _optional_count(value: int | None, what: str) -> int | None:
    return None if value is None else check_count(value, what, maximum=100_000)


class GraphAnalytics:
    """Terms per user, term co-occurrence and communities, related sessions, users with shared topics."""

    def __init__(self, backend: Callable[[], Awaitable[GraphBackend]]) -> None:
        self._backend = backend

    async def top_terms_per_user(self, n: int = 5) -> pd.DataFrame:
        """Each user's ``n`` most mentioned terms; columns user_id, term, count, rank."""
        rows = await (await self._backend()).top_terms_per_user(check_count(n, "n"))
        return frame(rows, USER_TERM_COLUMNS, sort=("user_id", "rank"))

    async def term_cooccurrence(
        self, min_count: int = 2, limit: int | None = 200, *, user_id: str | None = None
    ) -> pd.DataFrame:
        """Term pairs mentioned together by at least ``min_count`` messages; columns term_a, term_b, weight."""
        min_count = check_count(min_count, "min_count", maximum=1_000_000)
        limit = _optional_count(limit, "limit")
        user_id = None if user_id is None else check_user_id(user_id)
        rows = await (await self._backend()).term_cooccurrence(min_count, limit, user_id)
        return frame(rows, EDGE_COLUMNS, sort=("weight", "term_a", "term_b"), descending=("weight",))

    async def related_sessions(self, session_id: str, user_id: str, limit: int = 10) -> pd.DataFrame:
        """The user's own sessions that share terms with ``session_id`` (never another user's)."""
        session_id, user_id = check_session_id(session_id), check_user_id(user_id)
        limit = check_count(limit, "limit", maximum=1000)
        backend = await self._backend()
        if not await backend.owns_session(user_id, session_id):
            raise NotFoundError(f"no session {session_id} for user {user_id!r}")
        rows = await backend.related_sessions(session_id, user_id, limit)
        return frame(
            rows, RELATED_COLUMNS, sort=("shared_terms", "weight", "session_id"), descending=("shared_terms", "weight")
        )

    async def users_by_shared_topics(self, min_shared: int = 3, limit: int | None = None) -> pd.DataFrame:
        """Pairs of users who mention at least ``min_shared`` of the same terms, most shared first."""
        min_shared = check_count(min_shared, "min_shared", maximum=1_000_000)
        rows = await (await self._backend()).users_by_shared_topics(min_shared, _optional_count(limit, "limit"))
        return frame(
            rows,
            USER_PAIR_COLUMNS,
            sort=("shared_terms", "weight", "user_a", "user_b"),
            descending=("shared_terms", "weight"),
        )

    async def to_networkx(self, min_count: int = 2, limit: int | None = 200, *, user_id: str | None = None) -> nx.Graph:
        """The term co-occurrence graph: nodes carry ``count`` (messages), edges ``weight``; built in sorted order."""
        edges = await self.term_cooccurrence(min_count, limit, user_id=user_id)
        terms = sorted(set(edges["term_a"]) | set(edges["term_b"]))
        counts = {}
        if terms:
            rows = await (await self._backend()).term_counts(terms, user_id)
            counts = {r["term"]: int(r["count"]) for r in rows}
        graph = nx.Graph()
        graph.add_nodes_from((term, {"count": counts.get(term, 0)}) for term in terms)
        ordered = edges.sort_values(["term_a", "term_b"], kind="stable")
        graph.add_weighted_edges_from((a, b, int(w)) for a, b, w in ordered.itertuples(index=False, name=None))
        return graph

    async def term_communities(
        self, min_count: int = 2, *, user_id: str | None = None, seed: int = COMMUNITY_SEED
    ) -> pd.DataFrame:
        """Topic clusters: Louvain (fixed seed) on the whole co-occurrence graph; columns term, community.

        Communities are numbered from 0 by size, largest first (ties: by their first term).
        """
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValidationError(f"seed must be an integer, not {seed!r}")
        graph = await self.to_networkx(min_count, None, user_id=user_id)
        found = nx.community.louvain_communities(graph, weight="weight", seed=seed) if graph.number_of_nodes() else []
        ordered = sorted((sorted(c) for c in found), key=lambda c: (-len(c), c[0]))
        rows = [{"term": t, "community": i} for i, community in enumerate(ordered) for t in community]
        return frame(rows, COMMUNITY_COLUMNS, sort=("community", "term"))

    async def plot_network(
        self,
        graph: nx.Graph | None = None,
        *,
        min_count: int = 2,
        limit: int | None = 60,
        user_id: str | None = None,
        ax: Axes | None = None,
    ) -> Axes:
        """Draw ``graph`` (default: :meth:`to_networkx` with these arguments) in a seeded spring layout."""
        if graph is None:
            graph = await self.to_networkx(min_count, limit, user_id=user_id)
        return plots.plot_network(graph, ax=ax)
