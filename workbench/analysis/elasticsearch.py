"""The services search backend: queries and aggregations over the index of docs/contracts.md.

Searches are a ``match`` on ``content_tokens`` (the same jieba tokens as the embedded FTS5
index) with every token required; the user's text is the query's *text*, never query
syntax. Grouped numbers come from ``composite`` aggregations, paged to the end, so no
bucket is dropped; percentiles are exact (linearly interpolated) while a group holds fewer
than 2,000 replies, as Elasticsearch keeps every value of small groups.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from elasticsearch import AsyncElasticsearch

from workbench.analysis.common import Filters
from workbench.analysis.search import Interval, LatencyBy, VolumeBy
from workbench.stores.base import Row
from workbench.stores.elasticsearch import translated_errors

__all__ = ["ElasticsearchSearchBackend"]

_PAGE = 1000
_TERM_ORDER = [{"_count": "desc"}, {"_key": "asc"}]
_HIT_FIELDS = ["message_id", "session_id", "user_id", "role", "timestamp", "message_order", "content"]


def _time(epoch_ms: float | None) -> datetime | None:
    return None if epoch_ms is None else datetime.fromtimestamp(epoch_ms / 1000, UTC)


def _query(filters: Filters, *, doc_types: Sequence[str] = ("message",), **terms: str) -> dict[str, Any]:
    """A filter-only bool query: the document kinds, ``filters`` and exact ``terms``."""
    clauses: list[dict[str, Any]] = [{"terms": {"doc_type": list(doc_types)}}]
    fields = {"user_id": filters.user_id, "role": filters.role, "session_id": filters.session_id, **terms}
    clauses.extend({"term": {field: value}} for field, value in fields.items() if value is not None)
    bounds = {op: t.isoformat() for op, t in (("gte", filters.since), ("lt", filters.until)) if t is not None}
    if bounds:
        clauses.append({"range": {"timestamp": bounds}})
    return {"bool": {"filter": clauses}}


class ElasticsearchSearchBackend:
    """:class:`~workbench.analysis.search.SearchBackend` of the services profile."""

    def __init__(self, client: AsyncElasticsearch, index: str) -> None:
        self.client = client
        self.index = index

    async def _search(self, **request: Any) -> dict[str, Any]:
        with translated_errors():
            response = await self.client.search(index=self.index, **request)
        return response.body

    async def _composite(
        self, query: dict[str, Any], sources: list[dict[str, Any]], aggs: dict[str, Any] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Every bucket of a composite aggregation, page after page."""
        after: dict[str, Any] | None = None
        while True:
            composite: dict[str, Any] = {"size": _PAGE, "sources": sources, **({"after": after} if after else {})}
            body = await self._search(
                query=query, size=0, aggs={"groups": {"composite": composite, **({"aggs": aggs} if aggs else {})}}
            )
            result = body["aggregations"]["groups"]
            for bucket in result["buckets"]:
                yield bucket
            after = result.get("after_key")
            if len(result["buckets"]) < _PAGE or after is None:
                return

    async def search(self, tokens: Sequence[str], filters: Filters, limit: int) -> list[Row]:
        query = _query(filters)
        query["bool"]["must"] = [{"match": {"content_tokens": {"query": " ".join(tokens), "operator": "and"}}}]
        body = await self._search(
            query=query,
            sort=[{"_score": "desc"}, {"timestamp": "asc"}, {"message_id": "asc"}],
            size=limit,
            track_scores=True,
            track_total_hits=False,
            source_includes=_HIT_FIELDS,
        )
        rows = []
        for hit in body["hits"]["hits"]:
            source = hit["_source"]
            row = {field: source.get(field) for field in _HIT_FIELDS}
            row["seq"] = row.pop("message_order")
            row["score"] = hit["_score"]
            rows.append(row)
        return rows

    async def volume(self, interval: Interval, by: VolumeBy, filters: Filters) -> list[Row]:
        sources: list[dict[str, Any]] = [
            {"period": {"date_histogram": {"field": "timestamp", "calendar_interval": interval, "time_zone": "UTC"}}}
        ]
        if by:
            sources.append({by: {"terms": {"field": by}}})
        return [
            {**bucket["key"], "period": _time(bucket["key"]["period"]), "messages": bucket["doc_count"]}
            async for bucket in self._composite(_query(filters), sources)
        ]

    async def top_terms(self, n: int, filters: Filters) -> list[Row]:
        body = await self._search(
            query=_query(filters), size=0, aggs={"top": {"terms": {"field": "terms", "size": n, "order": _TERM_ORDER}}}
        )
        return [{"term": b["key"], "count": b["doc_count"]} for b in body["aggregations"]["top"]["buckets"]]

    async def top_terms_per_user(self, n: int) -> list[Row]:
        aggs = {"top": {"terms": {"field": "terms", "size": n, "order": _TERM_ORDER}}}
        return [
            {"user_id": bucket["key"]["user_id"], "term": term["key"], "count": term["doc_count"], "rank": rank}
            async for bucket in self._composite(_query(Filters()), [{"user_id": {"terms": {"field": "user_id"}}}], aggs)
            for rank, term in enumerate(bucket["top"]["buckets"], start=1)
        ]

    async def session_stats(self, user_id: str | None) -> list[Row]:
        aggs = {
            "messages": {
                "filter": {"term": {"doc_type": "message"}},
                "aggs": {
                    "first": {"min": {"field": "timestamp"}},
                    "last": {"max": {"field": "timestamp"}},
                    "prompt": {"sum": {"field": "prompt_tokens"}},
                    "completion": {"sum": {"field": "completion_tokens"}},
                },
            },
            # the session document when there is one (doc_type "session" sorts after "message")
            "doc": {"top_hits": {"size": 1, "sort": [{"doc_type": "desc"}], "_source": ["user_id", "session_name"]}},
        }
        query = _query(Filters(user_id=user_id), doc_types=("session", "message"))
        rows = []
        async for bucket in self._composite(query, [{"session_id": {"terms": {"field": "session_id"}}}], aggs):
            messages, source = bucket["messages"], bucket["doc"]["hits"]["hits"][0]["_source"]
            rows.append(
                {
                    "session_id": bucket["key"]["session_id"],
                    "user_id": source.get("user_id"),
                    "name": source.get("session_name"),
                    "messages": messages["doc_count"],
                    "first_at": _time(messages["first"]["value"]),
                    "last_at": _time(messages["last"]["value"]),
                    "total_tokens": messages["prompt"]["value"] + messages["completion"]["value"],
                }
            )
        return rows

    async def user_activity(self) -> list[Row]:
        users: dict[str, Row] = {}

        def user(user_id: str) -> Row:
            empty = {"user_id": user_id, "sessions": 0, "messages": 0, "first_at": None, "last_at": None}
            return users.setdefault(user_id, {**empty, "active_days": 0})

        by_user = [{"user_id": {"terms": {"field": "user_id"}}}]
        async for bucket in self._composite(_query(Filters(), doc_types=("session",)), by_user):
            user(bucket["key"]["user_id"])["sessions"] = bucket["doc_count"]
        days = [*by_user, {"day": {"date_histogram": {"field": "timestamp", "calendar_interval": "day"}}}]
        aggs = {"first": {"min": {"field": "timestamp"}}, "last": {"max": {"field": "timestamp"}}}
        async for bucket in self._composite(_query(Filters()), days, aggs):
            row = user(bucket["key"]["user_id"])
            first, last = _time(bucket["first"]["value"]), _time(bucket["last"]["value"])
            row["messages"] += bucket["doc_count"]
            row["active_days"] += 1
            row["first_at"] = first if row["first_at"] is None else min(row["first_at"], first)
            row["last_at"] = last if row["last_at"] is None else max(row["last_at"], last)
        return list(users.values())

    async def latency_stats(self, by: LatencyBy, filters: Filters) -> list[Row]:
        percentiles = {"percents": [50, 95], "keyed": False}
        aggs = {
            "ttft": {"percentiles": {"field": "ttft_ms", **percentiles}},
            "latency": {"percentiles": {"field": "latency_ms", **percentiles}},
            "completion": {"avg": {"field": "completion_tokens"}},
        }
        sources = [{by: {"terms": {"field": by, "missing_bucket": True}}}]
        rows = []
        async for bucket in self._composite(_query(filters, role="assistant"), sources, aggs):
            row: Row = {by: bucket["key"][by], "replies": bucket["doc_count"]}
            for metric in ("ttft", "latency"):
                values = {int(v["key"]): v["value"] for v in bucket[metric]["values"]}
                row[f"{metric}_p50_ms"], row[f"{metric}_p95_ms"] = values[50], values[95]
            row["mean_completion_tokens"] = bucket["completion"]["value"]
            rows.append(row)
        return rows
