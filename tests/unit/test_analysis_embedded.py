"""workbench.analysis on the embedded profile: FTS5 search, SQL statistics and the term graph.

The expected numbers are worked out by hand from tests/analysis_dataset.py.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

import matplotlib
import pandas as pd
import pytest

from tests.analysis_dataset import T0, load_small
from workbench import NotFoundError, ValidationError, Workbench
from workbench.analysis import highlight
from workbench.analysis.search import SEARCH_COLUMNS

matplotlib.use("Agg")

USERS = {"alice": "alice", "bob": "bob"}


@pytest.fixture
async def ids(wb: Workbench) -> dict[str, str]:
    return await load_small(wb, USERS)


def mid(ids: dict[str, str], key: str, seq: int) -> str:
    return f"msg_{ids[key]}_{seq}"


async def found(wb: Workbench, query: str, **filters: object) -> set[str]:
    return set((await wb.search.search(query, **filters))["message_id"])


async def delete_s4(wb: Workbench, ids: dict[str, str]) -> None:
    await wb.sessions.delete_session("bob", ids["s4"])
    assert (await wb.sync()).ok


# -- search ---------------------------------------------------------------------------------------------


async def test_search_finds_english_and_chinese_words(wb: Workbench, ids: dict[str, str]) -> None:
    df = await wb.search.search("数据")  # a two-character word inside 数据分析
    assert list(df.columns) == list(SEARCH_COLUMNS)
    assert set(df["message_id"]) == {mid(ids, "s1", 3), mid(ids, "s1", 4)}
    assert all("**数据**" in h for h in df["highlight"])
    assert df["score"].is_monotonic_decreasing and (df["score"] > 0).all()
    assert str(df["timestamp"].dtype) == "datetime64[ms, UTC]"
    row = df.set_index("message_id").loc[mid(ids, "s1", 4)]
    assert (row["session_id"], row["user_id"], row["role"], row["seq"]) == (ids["s1"], "alice", "assistant", 4)
    assert row["timestamp"] == pd.Timestamp(T0 + timedelta(seconds=70))

    assert await found(wb, "数据分析") == {mid(ids, "s1", 3), mid(ids, "s1", 4)}
    pandas = {mid(ids, "s1", 1), mid(ids, "s1", 2), mid(ids, "s3", 1), mid(ids, "s3", 2), mid(ids, "s4", 1)}
    assert await found(wb, "pandas") == pandas
    assert await found(wb, "PANDAS!") == pandas
    assert await found(wb, "redis caching") == {mid(ids, "s2", 1), mid(ids, "s2", 2)}  # every word required


async def test_search_filters(wb: Workbench, ids: dict[str, str]) -> None:
    assert await found(wb, "pandas", user_id="bob") == {mid(ids, "s3", 1), mid(ids, "s3", 2), mid(ids, "s4", 1)}
    assert await found(wb, "pandas", role="assistant") == {mid(ids, "s1", 2), mid(ids, "s3", 2)}
    assert await found(wb, "pandas", session_id=ids["s1"]) == {mid(ids, "s1", 1), mid(ids, "s1", 2)}
    week2 = T0 + timedelta(days=7)
    assert await found(wb, "pandas", until=week2) == {mid(ids, "s1", 1), mid(ids, "s1", 2)}
    assert await found(wb, "pandas", since=week2, until="2026-03-31") == {mid(ids, "s3", 1), mid(ids, "s3", 2)}
    assert await found(wb, "pandas", since="2026-03-10T12:00:03+00:00") == {mid(ids, "s3", 2), mid(ids, "s4", 1)}
    assert await found(wb, "pandas", user_id="nobody") == set()
    assert len(await wb.search.search("pandas", limit=2)) == 2
    for bad in ({"role": "robot"}, {"session_id": "not-a-uuid"}, {"since": "last week"}, {"limit": 0}):
        with pytest.raises(ValidationError):
            await wb.search.search("pandas", **bad)
    for blank in ("", "   ", None):
        with pytest.raises(ValidationError):
            await wb.search.search(blank)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "query",
    [
        '"; DROP TABLE',
        "'; DROP TABLE sessions; --",
        'title:(a OR b) AND "x"',
        "NEAR(",
        "NEAR(pandas data, 2)",
        "pandas*",
        "tokens:pandas",
        "{tokens}: pandas",
        '"unbalanced',
        "-pandas ^data",
        "pandas AND",
        "OR",
        "!!!",
        "\\",
    ],
)
async def test_search_text_is_data_never_query_syntax(wb: Workbench, ids: dict[str, str], query: str) -> None:
    df = await wb.search.search(query)
    assert list(df.columns) == list(SEARCH_COLUMNS)
    if "DROP TABLE" in query:
        assert mid(ids, "s3", 3) in set(df["message_id"])
    assert len(await wb.search.session_stats()) == 4  # nothing was dropped


async def test_highlight_marks_words_and_cjk_inside_words() -> None:
    text = "Grouping data: use groupby. " + "x " * 100 + "我喜欢数据分析"
    assert highlight("Use groupby for data analysis.", ["data"]) == "Use groupby for **data** analysis."
    assert highlight("Metadata is not data.", ["data"]) == "Metadata is not **data**."
    assert highlight("我喜欢数据分析", ["数据"]) == "我喜欢**数据**分析"
    snippet = highlight(text, ["数据"], width=40)
    assert snippet.startswith("…") and "**数据**" in snippet
    assert highlight("no match here", ["zebra"]) == "no match here"


async def test_a_fresh_message_is_searchable_after_sync(wb: Workbench) -> None:
    sid = await wb.sessions.create_session("carol")
    message = await wb.messages.append_message("carol", sid, "user", "冰箱里的牛奶 fridge")
    await wb.sync()
    assert set((await wb.search.search("牛奶"))["message_id"]) == {message.message_id}


async def test_the_background_relay_indexes_without_sync(wb: Workbench) -> None:
    sid = await wb.sessions.create_session("carol")
    message = await wb.messages.append_message("carol", sid, "user", "the quokka smiles")
    deadline = time.monotonic() + 15
    while not len(await wb.search.search("quokka")):
        assert time.monotonic() < deadline, "the relay did not drain in the background"
        await asyncio.sleep(0.05)
    assert (await wb.search.search("quokka"))["message_id"].tolist() == [message.message_id]
    assert set((await wb.graph.top_terms_per_user(5)).query("user_id == 'carol'")["term"]) >= {"quokka"}


# -- statistics ---------------------------------------------------------------------------------------------


async def test_volume(wb: Workbench, ids: dict[str, str]) -> None:
    weekly = await wb.search.volume("week")
    assert list(weekly.columns) == ["period", "role", "messages"]
    assert str(weekly["period"].dtype) == "datetime64[ms, UTC]"
    counts = {(str(p.date()), r): n for p, r, n in weekly.itertuples(index=False)}
    assert counts == {
        ("2026-03-02", "assistant"): 2, ("2026-03-02", "user"): 2,
        ("2026-03-09", "assistant"): 3, ("2026-03-09", "user"): 3,
        ("2026-03-16", "assistant"): 0, ("2026-03-16", "user"): 0,  # empty weeks are there, as zeros
        ("2026-03-23", "assistant"): 0, ("2026-03-23", "user"): 0,
        ("2026-03-30", "assistant"): 0, ("2026-03-30", "user"): 1,
    }  # fmt: skip
    await delete_s4(wb, ids)
    daily = await wb.search.volume("day", None)
    assert list(daily.columns) == ["period", "messages"]
    assert str(daily["period"].iloc[0].date()) == "2026-03-02" and len(daily) == 9
    assert daily["messages"].tolist() == [4, 0, 0, 0, 0, 0, 0, 3, 3]
    monthly = await wb.search.volume("month", "user_id")
    assert [(str(p.date()), u, n) for p, u, n in monthly.itertuples(index=False)] == [
        ("2026-03-01", "alice", 7),
        ("2026-03-01", "bob", 3),
    ]
    assert (await wb.search.volume("month", None, user_id="alice"))["messages"].tolist() == [7]
    assert (await wb.search.volume("day", None, since=T0 + timedelta(days=7)))["messages"].tolist() == [3, 3]
    with pytest.raises(ValidationError):
        await wb.search.volume("hour")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        await wb.search.volume("day", "content")  # type: ignore[arg-type]


async def test_top_terms(wb: Workbench, ids: dict[str, str]) -> None:
    assert "zebra" in set((await wb.search.top_terms(100))["term"])
    await delete_s4(wb, ids)
    top = await wb.search.top_terms(2)
    assert list(top.columns) == ["term", "count"]
    assert top.values.tolist() == [["data", 5], ["pandas", 4]]
    assert "zebra" not in set((await wb.search.top_terms(100))["term"])
    assert (await wb.search.top_terms(1, user_id="alice", role="assistant")).values.tolist() == [["data", 2]]
    assert (await wb.search.top_terms(3, role="system")).empty
    per_user = await wb.search.top_terms_per_user(2)
    assert per_user.values.tolist() == [
        ["alice", "data", 3, 1],
        ["alice", "redis", 3, 2],  # a tie, broken by the term
        ["bob", "data", 2, 1],
        ["bob", "pandas", 2, 2],
    ]
    pd.testing.assert_frame_equal(await wb.graph.top_terms_per_user(2), per_user)
    with pytest.raises(ValidationError):
        await wb.search.top_terms(0)


async def test_session_stats_and_lengths(wb: Workbench, ids: dict[str, str]) -> None:
    await delete_s4(wb, ids)
    stats = await wb.search.session_stats()
    assert list(stats.columns) == [
        "session_id", "user_id", "name", "messages", "first_at", "last_at", "duration_s", "total_tokens",
    ]  # fmt: skip
    assert stats["session_id"].tolist() == [ids["s1"], ids["s2"], ids["s3"]]
    assert stats["name"].tolist() == ["Pandas help", "Redis", "Bob data"]
    assert stats["messages"].tolist() == [4, 3, 3]
    assert stats["duration_s"].tolist() == [70.0, 30.0, 300.0]
    assert stats["total_tokens"].tolist() == [100, 20, 20]
    assert stats["first_at"].iloc[0] == pd.Timestamp(T0)
    assert stats["last_at"].iloc[2] == pd.Timestamp(T0 + timedelta(days=8, hours=3, seconds=300))
    assert (await wb.search.session_stats(user_id="bob"))["session_id"].tolist() == [ids["s3"]]

    lengths = await wb.search.session_length_distribution(bins=(0, 3, 4))
    assert lengths.values.tolist() == [["0–2", 0, 2, 0], ["3", 3, 3, 2], ["4+", 4, pd.NA, 1]]
    with pytest.raises(ValidationError):
        await wb.search.session_length_distribution(bins=(-1, 2))

    empty = await wb.sessions.create_session("carol")
    row = (await wb.search.session_stats(user_id="carol")).iloc[0]
    assert (row["session_id"], row["messages"], row["total_tokens"]) == (empty, 0, 0)
    assert pd.isna(row["first_at"]) and pd.isna(row["duration_s"])


async def test_user_activity(wb: Workbench, ids: dict[str, str]) -> None:
    await delete_s4(wb, ids)
    await wb.sessions.create_session("carol")
    users = await wb.search.user_activity()
    assert list(users.columns) == ["user_id", "sessions", "messages", "first_at", "last_at", "active_days"]
    assert users[["user_id", "sessions", "messages", "active_days"]].values.tolist() == [
        ["alice", 2, 7, 2],
        ["bob", 1, 3, 1],
        ["carol", 1, 0, 0],
    ]
    assert users["first_at"].iloc[0] == pd.Timestamp(T0)
    assert users["last_at"].iloc[0] == pd.Timestamp(T0 + timedelta(days=7, hours=1, seconds=30))
    assert pd.isna(users["last_at"].iloc[2])


async def test_latency_stats(wb: Workbench, ids: dict[str, str]) -> None:
    stats = await wb.search.latency_stats()
    assert list(stats.columns) == [
        "model", "replies", "ttft_p50_ms", "ttft_p95_ms", "latency_p50_ms", "latency_p95_ms", "mean_completion_tokens",
    ]  # fmt: skip
    assert stats["model"].tolist() == ["m1", "(unknown)", "m2"]  # most replies first, then by name
    m1 = stats.iloc[0]
    # ttft [100, 150, 300], latency [1000, 2000, 3000]: p95 is 90% of the way from the 2nd to the 3rd
    assert m1["replies"] == 3 and m1["mean_completion_tokens"] == pytest.approx(24.0)
    assert (m1["ttft_p50_ms"], m1["latency_p50_ms"]) == (150.0, 2000.0)
    assert (m1["ttft_p95_ms"], m1["latency_p95_ms"]) == (pytest.approx(285.0), pytest.approx(2900.0))
    assert stats.iloc[2][["replies", "ttft_p50_ms", "ttft_p95_ms", "latency_p95_ms"]].tolist() == [1, 200, 200, 2000]
    assert stats.iloc[1]["replies"] == 1 and stats.iloc[1][["ttft_p50_ms", "mean_completion_tokens"]].isna().all()
    by_user = await wb.search.latency_stats("user_id")
    assert by_user[["user_id", "replies"]].values.tolist() == [["alice", 4], ["bob", 1]]
    assert (await wb.search.latency_stats(user_id="bob"))["model"].tolist() == ["m1"]
    with pytest.raises(ValidationError):
        await wb.search.latency_stats("role")  # type: ignore[arg-type]


# -- the term graph ---------------------------------------------------------------------------------------------


async def test_term_cooccurrence_and_network(wb: Workbench, ids: dict[str, str]) -> None:
    await delete_s4(wb, ids)
    pairs = await wb.graph.term_cooccurrence(min_count=2)
    assert list(pairs.columns) == ["term_a", "term_b", "weight"]
    assert pairs.values.tolist() == [["data", "pandas", 4], ["caching", "redis", 2]]
    assert (await wb.graph.term_cooccurrence(min_count=1, user_id="bob")).values.tolist()[0] == ["data", "pandas", 2]
    assert len(await wb.graph.term_cooccurrence(min_count=1, limit=3)) == 3

    graph = await wb.graph.to_networkx(min_count=1)
    assert list(graph.nodes) == sorted(graph.nodes)
    assert graph.nodes["data"]["count"] == 5 and graph.nodes["数据分析"]["count"] == 2
    assert graph["data"]["pandas"]["weight"] == 4


async def test_related_sessions_stay_within_the_user(wb: Workbench, ids: dict[str, str]) -> None:
    related = await wb.graph.related_sessions(ids["s1"], "alice")
    assert list(related.columns) == ["session_id", "name", "shared_terms", "weight"]
    assert related.values.tolist() == [[ids["s2"], "Redis", 1, 1]]  # "data"; bob's s3 shares more, but is his
    assert (await wb.graph.related_sessions(ids["s3"], "bob")).values.tolist() == [[ids["s4"], "to delete", 1, 1]]
    with pytest.raises(NotFoundError):
        await wb.graph.related_sessions(ids["s3"], "alice")
    with pytest.raises(ValidationError):
        await wb.graph.related_sessions("not-a-uuid", "alice")


async def test_users_by_shared_topics(wb: Workbench, ids: dict[str, str]) -> None:
    await delete_s4(wb, ids)
    pairs = await wb.graph.users_by_shared_topics(min_shared=1)
    assert list(pairs.columns) == ["user_a", "user_b", "shared_terms", "weight"]
    # data (alice 3, bob 2) and pandas (alice 2, bob 2): weight = 2 + 2
    assert pairs.values.tolist() == [["alice", "bob", 2, 4]]
    assert (await wb.graph.users_by_shared_topics(min_shared=3)).empty


async def test_term_communities_are_deterministic(wb: Workbench, ids: dict[str, str], tmp_path: Path) -> None:
    communities = await wb.graph.term_communities(min_count=1)
    assert list(communities.columns) == ["term", "community"]
    of = dict(zip(communities["term"], communities["community"], strict=True))
    assert of["redis"] == of["caching"] and of["data"] == of["pandas"]
    sizes = communities["community"].value_counts().sort_index().tolist()
    assert sizes == sorted(sizes, reverse=True)
    pd.testing.assert_frame_equal(await wb.graph.term_communities(min_count=1), communities)
    async with Workbench.open(profile="embedded", data_dir=tmp_path / "again") as other:
        await load_small(other, USERS)
        pd.testing.assert_frame_equal(await other.graph.term_communities(min_count=1), communities)
        pd.testing.assert_frame_equal(
            await other.graph.term_cooccurrence(min_count=1), await wb.graph.term_cooccurrence(min_count=1)
        )


async def test_a_deleted_session_vanishes_from_every_analysis(wb: Workbench, ids: dict[str, str]) -> None:
    assert await found(wb, "zebra") == {mid(ids, "s4", 1)}
    await wb.sessions.delete_session("bob", ids["s4"])
    assert await found(wb, "zebra") == set()  # at once, before the relay ran
    assert (await wb.sync()).ok
    stores = await wb.stores()
    for table in ("search_messages", "message_terms"):
        rows = await stores.db.execute_query(
            f"SELECT COUNT(*) AS n FROM {table} WHERE session_id = :s", {"s": ids["s4"]}
        )
        assert rows[0]["n"] == 0, table  # removed for real from the projections
    assert await found(wb, "zebra") == set()
    assert await found(wb, "pandas", user_id="bob") == {mid(ids, "s3", 1), mid(ids, "s3", 2)}
    assert ids["s4"] not in set((await wb.search.session_stats())["session_id"])
    assert (await wb.search.user_activity()).set_index("user_id").loc["bob", "sessions"] == 1
    assert (await wb.search.volume("month", None))["messages"].tolist() == [10]
    assert "zebra" not in set((await wb.search.top_terms(100))["term"])
    assert "zebra" not in set((await wb.search.top_terms_per_user(100))["term"])
    edges = await wb.graph.term_cooccurrence(min_count=1, limit=None)
    assert "zebra" not in set(edges["term_a"]) | set(edges["term_b"])
    assert "zebra" not in set((await wb.graph.term_communities(min_count=1))["term"])
    assert "zebra" not in (await wb.graph.to_networkx(min_count=1))
    assert (await wb.graph.related_sessions(ids["s3"], "bob")).empty
    with pytest.raises(NotFoundError):
        await wb.graph.related_sessions(ids["s4"], "bob")


# -- plots and wiring ---------------------------------------------------------------------------------------------


async def test_plots_are_titled_and_labelled(wb: Workbench, ids: dict[str, str]) -> None:
    import matplotlib.pyplot as plt

    try:
        axes = [
            await wb.search.plot_volume("day"),
            await wb.search.plot_volume("week", None, user_id="alice"),
            await wb.search.plot_session_lengths(),
            await wb.search.plot_latency(),
            await wb.graph.plot_network(min_count=1),  # Chinese labels: drawn even without a CJK font
        ]
        for ax in axes:
            ax.figure.canvas.draw()
            assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
        assert {t.get_text() for t in axes[-1].texts} >= {"数据分析", "pandas"}
    finally:
        plt.close("all")


async def test_analytics_attach_lazily(tmp_path: Path) -> None:
    wb = Workbench.open(profile="embedded", data_dir=tmp_path / "lazy")
    try:
        assert wb.search is wb.search and wb.graph is wb.graph
        assert wb._stores is None
        assert (await wb.search.top_terms()).empty  # connects on first use
        assert (await wb.graph.term_communities()).empty
    finally:
        await wb.aclose()
