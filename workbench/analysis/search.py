"""Search and conversation analytics: one API, two backends (SQLite FTS5 + SQL, Elasticsearch).

Every method pushes its work down to the store (FTS5 and ``GROUP BY`` on the embedded
profile, queries and aggregations on Elasticsearch) and returns a DataFrame whose columns,
types and order are the same on both profiles. User text is only ever data: query tokens
come from :func:`workbench.text.search_tokens` and travel as quoted FTS5 strings or as the
text of an Elasticsearch ``match`` query, never as query syntax.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal, Protocol

import pandas as pd

from workbench.analysis import plots
from workbench.analysis.common import Filters, Kind, TimeLike, check_count, frame
from workbench.errors import ValidationError
from workbench.models import check_user_id
from workbench.stores.base import Row
from workbench.text import has_cjk, search_tokens

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["SearchAnalytics", "SearchBackend", "highlight", "query_tokens"]

Interval = Literal["day", "week", "month"]
VolumeBy = Literal["role", "user_id"] | None
LatencyBy = Literal["model", "user_id"]

INTERVALS: dict[str, str] = {"day": "D", "week": "W-MON", "month": "MS"}  # pandas frequencies of the periods
VOLUME_BY = ("role", "user_id", None)
LATENCY_BY = ("model", "user_id")
MAX_QUERY_CHARS = 1000
UNKNOWN = "(unknown)"

SEARCH_COLUMNS: dict[str, Kind] = {
    "message_id": "str",
    "session_id": "str",
    "user_id": "str",
    "role": "str",
    "timestamp": "datetime",
    "seq": "int",
    "score": "float",
    "highlight": "str",
}
TERM_COLUMNS: dict[str, Kind] = {"term": "str", "count": "int"}
USER_TERM_COLUMNS: dict[str, Kind] = {"user_id": "str", "term": "str", "count": "int", "rank": "int"}
SESSION_COLUMNS: dict[str, Kind] = {
    "session_id": "str",
    "user_id": "str",
    "name": "str",
    "messages": "int",
    "first_at": "datetime",
    "last_at": "datetime",
    "duration_s": "float",
    "total_tokens": "int",
}
USER_COLUMNS: dict[str, Kind] = {
    "user_id": "str",
    "sessions": "int",
    "messages": "int",
    "first_at": "datetime",
    "last_at": "datetime",
    "active_days": "int",
}
LATENCY_METRICS: dict[str, Kind] = {
    "replies": "int",
    "ttft_p50_ms": "float",
    "ttft_p95_ms": "float",
    "latency_p50_ms": "float",
    "latency_p95_ms": "float",
    "mean_completion_tokens": "float",
}
DEFAULT_LENGTH_BINS = (0, 1, 5, 10, 20, 50, 100)


class SearchBackend(Protocol):
    """What a store answers; rows carry the keys of the matching ``*_COLUMNS`` (and ``content`` for hits)."""

    async def search(self, tokens: Sequence[str], filters: Filters, limit: int) -> list[Row]:
        """Messages holding every token, best first (score descending, then time, then id)."""
        ...

    async def volume(self, interval: Interval, by: VolumeBy, filters: Filters) -> list[Row]:
        """``period`` (start, UTC), the ``by`` column if any, ``messages``: non-empty periods only."""
        ...

    async def top_terms(self, n: int, filters: Filters) -> list[Row]: ...

    async def top_terms_per_user(self, n: int) -> list[Row]: ...

    async def session_stats(self, user_id: str | None) -> list[Row]: ...

    async def user_activity(self) -> list[Row]: ...

    async def latency_stats(self, by: LatencyBy, filters: Filters) -> list[Row]:
        """Per group of assistant replies: p50/p95 interpolated linearly between the ranked values."""
        ...


def query_tokens(query: object) -> list[str]:
    """The distinct tokens of a user's search text, in order (the same segmentation as indexing)."""
    if not isinstance(query, str) or not query.strip():
        raise ValidationError("the search query must be a non-empty string")
    if len(query) > MAX_QUERY_CHARS:
        raise ValidationError(f"the search query is longer than {MAX_QUERY_CHARS} characters")
    return list(dict.fromkeys(search_tokens(query)))


@lru_cache(maxsize=256)
def _token_pattern(tokens: tuple[str, ...]) -> re.Pattern[str]:
    # CJK words match inside longer words (数据 in 数据分析); others only as whole words
    parts = [
        re.escape(t) if has_cjk(t) else rf"(?<![^\W_]){re.escape(t)}(?![^\W_])"
        for t in sorted(tokens, key=lambda t: (-len(t), t))
    ]
    return re.compile("|".join(parts), re.IGNORECASE)


def highlight(content: str, tokens: Sequence[str], *, width: int = 160) -> str:
    """A one-line snippet of ``content`` around the first match, each match wrapped in ``**…**``."""
    pattern = _token_pattern(tuple(tokens)) if tokens else None
    found = pattern.search(content) if pattern else None
    start = 0 if found is None else max(0, found.start() - width // 4)
    end = min(len(content), start + width)
    snippet = " ".join(content[start:end].split())
    if pattern:
        snippet = pattern.sub(lambda m: f"**{m.group(0)}**", snippet)
    return ("…" if start else "") + snippet + ("…" if end < len(content) else "")


def _fill_periods(df: pd.DataFrame, interval: Interval, by: str | None) -> pd.DataFrame:
    """Every period from the first to the last (and every group in each), empty ones as 0."""
    if df.empty:
        return df
    periods = pd.date_range(df["period"].min(), df["period"].max(), freq=INTERVALS[interval], unit="ms")
    keys = ["period"] if by is None else ["period", by]
    full = (
        pd.MultiIndex.from_product([periods, sorted(df[by].unique())], names=keys)
        if by is not None
        else pd.Index(periods, name="period")
    )
    filled = df.set_index(keys)["messages"].reindex(full, fill_value=0).reset_index()
    return filled.astype(df.dtypes.to_dict())


class SearchAnalytics:
    """Search, volumes, terms, sessions, users and latency over the profile's search store."""

    def __init__(self, backend: Callable[[], Awaitable[SearchBackend]]) -> None:
        self._backend = backend

    async def search(
        self,
        query: str,
        *,
        user_id: str | None = None,
        role: str | None = None,
        session_id: str | None = None,
        since: TimeLike | None = None,
        until: TimeLike | None = None,
        limit: int = 20,
    ) -> pd.DataFrame:
        """Messages that contain every word of ``query`` (Chinese down to two-character words), best first."""
        tokens = query_tokens(query)
        filters = Filters.of(user_id=user_id, role=role, session_id=session_id, since=since, until=until)
        limit = check_count(limit, "limit", maximum=1000)
        rows = await (await self._backend()).search(tokens, filters, limit) if tokens else []
        for row in rows:
            row["highlight"] = highlight(row.pop("content"), tokens)
        return frame(rows, SEARCH_COLUMNS, sort=("score", "timestamp", "message_id"), descending=("score",))

    async def volume(
        self,
        interval: Interval = "day",
        by: VolumeBy = "role",
        *,
        user_id: str | None = None,
        since: TimeLike | None = None,
        until: TimeLike | None = None,
    ) -> pd.DataFrame:
        """Messages per period (UTC; weeks start on Monday), per ``by`` value; columns period, [by], messages."""
        if interval not in INTERVALS:
            raise ValidationError(f"interval must be one of {', '.join(INTERVALS)}, not {interval!r}")
        if by not in VOLUME_BY:
            raise ValidationError(f"by must be one of {VOLUME_BY}, not {by!r}")
        filters = Filters.of(user_id=user_id, since=since, until=until)
        rows = await (await self._backend()).volume(interval, by, filters)
        columns: dict[str, Kind] = {"period": "datetime", **({by: "str"} if by else {}), "messages": "int"}
        df = frame(rows, columns)
        return _fill_periods(df, interval, by).sort_values(list(columns)[:-1], kind="stable").reset_index(drop=True)

    async def top_terms(self, n: int = 20, *, user_id: str | None = None, role: str | None = None) -> pd.DataFrame:
        """The ``n`` terms most messages mention (from the indexed terms); columns term, count."""
        filters = Filters.of(user_id=user_id, role=role)
        rows = await (await self._backend()).top_terms(check_count(n, "n"), filters)
        return frame(rows, TERM_COLUMNS, sort=("count", "term"), descending=("count",))

    async def top_terms_per_user(self, n: int = 5) -> pd.DataFrame:
        """Each user's ``n`` most mentioned terms; columns user_id, term, count, rank."""
        rows = await (await self._backend()).top_terms_per_user(check_count(n, "n"))
        return frame(rows, USER_TERM_COLUMNS, sort=("user_id", "rank"))

    async def session_stats(self, user_id: str | None = None) -> pd.DataFrame:
        """One row per session: messages, first and last message time, duration and tokens used."""
        user_id = None if user_id is None else check_user_id(user_id)
        rows = await (await self._backend()).session_stats(user_id)
        df = frame(rows, SESSION_COLUMNS, sort=("user_id", "first_at", "session_id"))
        df["duration_s"] = (df["last_at"] - df["first_at"]).dt.total_seconds()
        return df

    async def session_length_distribution(
        self, bins: Sequence[int] = DEFAULT_LENGTH_BINS, *, user_id: str | None = None
    ) -> pd.DataFrame:
        """How many sessions have how many messages; ``bins`` are lower edges (the last bin is open)."""
        edges = sorted(set(bins))
        if not edges or any(isinstance(e, bool) or not isinstance(e, int) or e < 0 for e in edges):
            raise ValidationError("bins must be non-negative integers")
        lengths = (await self.session_stats(user_id))["messages"]
        highs = [e - 1 for e in edges[1:]]
        counts = pd.cut(lengths, [*edges, float("inf")], right=False).value_counts(sort=False).tolist()
        labels = [str(lo) if lo == hi else f"{lo}–{hi}" for lo, hi in zip(edges, highs, strict=False)]
        return pd.DataFrame(
            {
                "bin": pd.Series([*labels, f"{edges[-1]}+"], dtype="str"),
                "min_messages": pd.Series(edges, dtype="int64"),
                "max_messages": pd.Series([*highs, None], dtype="Int64"),
                "sessions": pd.Series(counts, dtype="int64"),
            }
        )

    async def user_activity(self) -> pd.DataFrame:
        """One row per user, most messages first: sessions, messages, first/last message, active days (UTC)."""
        rows = await (await self._backend()).user_activity()
        return frame(rows, USER_COLUMNS, sort=("messages", "user_id"), descending=("messages",))

    async def latency_stats(self, by: LatencyBy = "model", *, user_id: str | None = None) -> pd.DataFrame:
        """Assistant replies per ``by`` value: time to first token and latency p50/p95, mean completion tokens."""
        if by not in LATENCY_BY:
            raise ValidationError(f"by must be one of {LATENCY_BY}, not {by!r}")
        rows = await (await self._backend()).latency_stats(by, Filters.of(user_id=user_id))
        for row in rows:
            row[by] = UNKNOWN if row[by] is None else row[by]
        return frame(rows, {by: "str", **LATENCY_METRICS}, sort=("replies", by), descending=("replies",))

    # -- plots (matplotlib Axes; pass ``ax`` to draw into an existing one) --

    async def plot_volume(
        self, interval: Interval = "day", by: VolumeBy = "role", *, ax: Axes | None = None, **filters: Any
    ) -> Axes:
        return plots.plot_volume(await self.volume(interval, by, **filters), interval=interval, ax=ax)

    async def plot_session_lengths(
        self, bins: Sequence[int] = DEFAULT_LENGTH_BINS, *, ax: Axes | None = None, user_id: str | None = None
    ) -> Axes:
        return plots.plot_session_lengths(await self.session_length_distribution(bins, user_id=user_id), ax=ax)

    async def plot_latency(
        self, by: LatencyBy = "model", *, ax: Axes | None = None, user_id: str | None = None
    ) -> Axes:
        return plots.plot_latency(await self.latency_stats(by, user_id=user_id), ax=ax)
