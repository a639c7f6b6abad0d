"""workbench.analysis on Elasticsearch and Neo4j: the hand-worked numbers, and parity with the embedded profile.

The same small data set (tests/analysis_dataset.py) is loaded into a services workbench (its own
index, fresh user ids) and into an embedded one; every analysis must give equal DataFrames
(search scores aside). The MariaDB outbox and Neo4j are shared with whatever else runs
against the servers, so this test's users are reindexed into its own index after each sync,
and every result is narrowed to them (by a ``user_id`` argument, or by filtering rows).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.analysis_dataset import T0, load_small
from tests.integration.conftest import Live
from tests.integration.helpers import search_of
from workbench import NotFoundError, Workbench

Call = Callable[[Workbench], Awaitable[pd.DataFrame]]


@dataclass
class Pair:
    """The services workbench and its embedded twin, holding the same sessions."""

    services: Workbench
    embedded: Workbench
    users: dict[str, str]
    ids: dict[str, str]

    async def sync(self) -> None:
        for wb in (self.services, self.embedded):
            assert (await wb.sync()).ok
        for user in self.users.values():  # another process's relay may have taken this test's outbox rows
            await self.services.reindex(user_id=user, progress=False)
        await search_of(self.services).refresh()

    async def both(self, call: Call) -> tuple[pd.DataFrame, pd.DataFrame]:
        return await call(self.services), await call(self.embedded)

    def mine(self, df: pd.DataFrame, *columns: str) -> pd.DataFrame:
        """Only the rows of this test's users (Neo4j holds other tests' data too)."""
        keep = df[columns[0]].isin(self.users.values())
        for column in columns[1:]:
            keep &= df[column].isin(self.users.values())
        return df[keep].reset_index(drop=True)


@pytest.fixture
async def pair(live: Live, tmp_path: Path) -> AsyncIterator[Pair]:
    users = {"alice": live.user(), "bob": live.user()}
    ids = await load_small(live.wb, users)
    async with Workbench.open(profile="embedded", data_dir=tmp_path / "embedded") as embedded:
        assert await load_small(embedded, users) == ids  # deterministic session ids
        both = Pair(live.wb, embedded, users, ids)
        await both.sync()
        yield both


def _search(query: str, **filters: Any) -> Call:
    async def call(wb: Workbench) -> pd.DataFrame:
        return (await wb.search.search(query, **filters)).drop(columns="score")

    return call


async def assert_same(
    pair: Pair, call: Call, *, mine: tuple[str, ...] = (), sort: list[str] | None = None
) -> pd.DataFrame:
    services, embedded = await pair.both(call)
    if mine:
        services = pair.mine(services, *mine)
    if sort:  # where the two BM25 variants may rank differently
        services, embedded = (df.sort_values(sort).reset_index(drop=True) for df in (services, embedded))
    pd.testing.assert_frame_equal(services, embedded)
    return services


async def test_search_on_elasticsearch(pair: Pair) -> None:
    wb, ids, alice, bob = pair.services, pair.ids, pair.users["alice"], pair.users["bob"]
    hits = await wb.search.search("数据", user_id=alice)
    assert set(hits["message_id"]) == {f"msg_{ids['s1']}_3", f"msg_{ids['s1']}_4"}
    assert all("**数据**" in h for h in hits["highlight"])
    assert len(await wb.search.search("pandas", user_id=alice)) == 2
    assert set((await wb.search.search("pandas", user_id=bob))["session_id"]) == {ids["s3"], ids["s4"]}
    for query in ('"; DROP TABLE', 'title:(a OR b) AND "x"', "NEAR(", "pandas*", "{tokens}: pandas", "\\"):
        await wb.search.search(query)  # data, never query syntax: no error
    drop = await wb.search.search("'; DROP TABLE sessions; --", user_id=bob)
    assert f"msg_{ids['s3']}_3" in set(drop["message_id"])


async def test_search_and_statistics_equal_the_embedded_profile(pair: Pair) -> None:
    alice, bob = pair.users["alice"], pair.users["bob"]
    for user in (alice, bob):
        for call in (
            _search("数据", user_id=user),
            _search("PANDAS", user_id=user),
            _search("pandas", user_id=user, role="assistant"),
            _search("pandas", user_id=user, since=T0.replace(day=9), until="2026-03-31"),
            _search("pandas", user_id=user, limit=2),
            _search("NEAR(", user_id=user),
        ):
            await assert_same(pair, call)
        for call in (_search("redis caching", user_id=user), _search("'; DROP TABLE sessions; --", user_id=user)):
            await assert_same(pair, call, sort=["message_id"])
        for call in (
            lambda wb, u=user: wb.search.volume("week", user_id=u),
            lambda wb, u=user: wb.search.volume("day", None, user_id=u),
            lambda wb, u=user: wb.search.volume("month", "user_id", user_id=u, since="2026-03-09"),
            lambda wb, u=user: wb.search.top_terms(10, user_id=u),
            lambda wb, u=user: wb.search.top_terms(5, user_id=u, role="assistant"),
            lambda wb, u=user: wb.search.session_stats(user_id=u),
            lambda wb, u=user: wb.search.session_length_distribution(bins=(0, 2, 4), user_id=u),
            lambda wb, u=user: wb.search.latency_stats(user_id=u),
        ):
            await assert_same(pair, call)
    await assert_same(pair, _search("pandas", session_id=pair.ids["s1"]))
    for call in (
        lambda wb: wb.search.top_terms_per_user(3),
        lambda wb: wb.search.user_activity(),
        lambda wb: wb.search.latency_stats("user_id"),
    ):
        await assert_same(pair, call, mine=("user_id",))

    latency = (await pair.services.search.latency_stats(user_id=alice)).set_index("model")
    assert latency.loc["m1", ["replies", "ttft_p50_ms", "latency_p50_ms"]].tolist() == [2, 200.0, 2000.0]
    bob_stats = (await pair.services.search.session_stats(user_id=bob)).set_index("session_id")
    assert bob_stats.loc[pair.ids["s3"], ["messages", "duration_s", "total_tokens"]].tolist() == [3, 300.0, 20]


async def test_graph_analysis_equals_the_embedded_profile(pair: Pair) -> None:
    alice, bob, ids = pair.users["alice"], pair.users["bob"], pair.ids
    await assert_same(pair, lambda wb: wb.graph.top_terms_per_user(5), mine=("user_id",))
    pairs = await assert_same(pair, lambda wb: wb.graph.users_by_shared_topics(min_shared=1), mine=("user_a", "user_b"))
    assert pairs.values.tolist() == [[*sorted((alice, bob)), 2, 4]]  # data min(3, 2) + pandas min(2, 3)
    for user in (alice, bob):
        for call in (
            lambda wb, u=user: wb.graph.term_cooccurrence(min_count=1, limit=None, user_id=u),
            lambda wb, u=user: wb.graph.term_communities(min_count=1, user_id=u),
        ):
            await assert_same(pair, call)
        services_graph, embedded_graph = await pair.both(lambda wb, u=user: wb.graph.to_networkx(1, user_id=u))
        assert list(services_graph.nodes(data=True)) == list(embedded_graph.nodes(data=True))
        assert list(services_graph.edges(data=True)) == list(embedded_graph.edges(data=True))
    related = await assert_same(pair, lambda wb: wb.graph.related_sessions(ids["s1"], alice))
    assert related["session_id"].tolist() == [ids["s2"]]
    await assert_same(pair, lambda wb: wb.graph.related_sessions(ids["s3"], bob))
    with pytest.raises(NotFoundError):
        await pair.services.graph.related_sessions(ids["s3"], alice)


async def test_a_deleted_session_vanishes_from_every_analysis(pair: Pair) -> None:
    alice, bob, ids = pair.users["alice"], pair.users["bob"], pair.ids
    assert len(await pair.services.search.search("zebra", user_id=bob)) == 1
    for wb in (pair.services, pair.embedded):
        await wb.sessions.delete_session(bob, ids["s4"])
    await pair.sync()
    wb = pair.services
    assert (await wb.search.search("zebra", user_id=bob)).empty
    assert "zebra" not in set((await wb.search.top_terms(100, user_id=bob))["term"])
    assert (await wb.search.session_stats(user_id=bob))["session_id"].tolist() == [ids["s3"]]
    assert (await wb.search.user_activity()).set_index("user_id").loc[bob, "sessions"] == 1
    assert (await wb.search.volume("month", None, user_id=bob))["messages"].tolist() == [3]
    edges = await wb.graph.term_cooccurrence(min_count=1, limit=None, user_id=bob)
    assert "zebra" not in set(edges["term_a"]) | set(edges["term_b"])
    assert (await wb.graph.related_sessions(ids["s3"], bob)).empty
    with pytest.raises(NotFoundError):
        await wb.graph.related_sessions(ids["s4"], bob)
    pairs = pair.mine(await wb.graph.users_by_shared_topics(min_shared=1), "user_a", "user_b")
    assert pairs.values.tolist() == [[*sorted((alice, bob)), 2, 4]]
    await assert_same(pair, lambda wb: wb.search.top_terms_per_user(5), mine=("user_id",))
    await assert_same(pair, lambda wb: wb.graph.term_communities(min_count=1, user_id=bob))
