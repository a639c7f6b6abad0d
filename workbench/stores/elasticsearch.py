"""The ``search`` projection of the services profile: one Elasticsearch index, two kinds of document.

The index layout is the seed's (see ``docs/contracts.md``): a session document
``<user_id>_<session_id>`` and a message document ``msg_<session_id>_<seq>`` per message,
under an explicit mapping. Only core modules are relied on: deleting by query uses
``_delete_by_query`` where the server has the ``reindex`` module, else a scroll + bulk delete.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from workbench.errors import ConfigurationError, StoreError, StoreUnavailableError
from workbench.models import Message, Session
from workbench.stores.base import SessionKey
from workbench.text import extract_terms, segment_for_index

try:
    from elastic_transport import ApiError, SerializationError, TransportError
    from elasticsearch import AsyncElasticsearch, BadRequestError
    from elasticsearch.helpers import ScanError, async_scan, async_streaming_bulk
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ConfigurationError("the services profile needs: pip install 'workbench[services]'") from exc

__all__ = ["INDEX_MAPPING", "ElasticsearchIndex", "message_document", "session_doc_id", "session_document"]

_KEYWORD = {"type": "keyword"}
_DATE = {"type": "date"}
_LONG = {"type": "long"}
_STORED_ONLY = {"type": "object", "enabled": False}

INDEX_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        **{name: _KEYWORD for name in ("doc_type", "user_id", "session_id", "message_id", "role", "model")},
        "finish_reason": _KEYWORD,
        "content": {"type": "text", "analyzer": "standard"},
        "content_tokens": {"type": "text", "analyzer": "whitespace"},
        "terms": _KEYWORD,
        **{name: _DATE for name in ("timestamp", "created_at", "updated_at", "last_message_at")},
        "message_order": {"type": "integer"},
        "message_count": {"type": "integer"},
        **{name: _LONG for name in ("prompt_tokens", "completion_tokens", "latency_ms", "ttft_ms")},
        "interrupted": {"type": "boolean"},
        "session_name": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
        "metadata": _STORED_ONLY,
        "messages": _STORED_ONLY,
    },
}
INDEX_SETTINGS: dict[str, Any] = {"number_of_shards": 1, "number_of_replicas": 0}

# metadata keys the chat service records that the mapping indexes as fields of their own
_LIFTED: dict[str, tuple[type, ...]] = {
    "model": (str,),
    "finish_reason": (str,),
    "prompt_tokens": (int,),
    "completion_tokens": (int,),
    "latency_ms": (int, float),
    "ttft_ms": (int, float),
    "interrupted": (bool,),
}
_MAX_CHUNK_BYTES = 20 * 1024 * 1024
_KEYS_PER_QUERY = 200


def session_doc_id(user_id: str, session_id: str) -> str:
    """The seed's session document id."""
    return f"{user_id}_{session_id}"


def message_document(message: Message) -> dict[str, Any]:
    """A message as indexed: the seed's fields, the search fields, and what metadata lifts."""
    doc: dict[str, Any] = {
        "doc_type": "message",
        "user_id": message.user_id,
        "session_id": message.session_id,
        "message_id": message.message_id,
        "role": str(message.role),
        "content": message.content,
        "content_tokens": segment_for_index(message.content),
        "terms": extract_terms(message.content),
        "timestamp": message.timestamp.isoformat(),
        "message_order": message.seq,
        "metadata": message.metadata,
    }
    for key, types in _LIFTED.items():
        value = message.metadata.get(key)
        if type(value) in types:  # exact: a bool is no token count
            doc[key] = value
    return doc


def session_document(session: Session) -> dict[str, Any]:
    """The fields of a session document that a session change sets (never its legacy ``messages``)."""
    return {
        "doc_type": "session",
        "user_id": session.user_id,
        "session_id": session.session_id,
        "session_name": session.name,
        "created_at": session.created_at.isoformat(),
        "updated_at": session.updated_at.isoformat(),
    }


def _translate(exc: Exception) -> StoreError:
    if isinstance(exc, ApiError):
        status = exc.meta.status
        unavailable = status >= 500 or status == 429
        return (StoreUnavailableError if unavailable else StoreError)(str(exc), store="elasticsearch")
    if isinstance(exc, SerializationError):
        return StoreError(str(exc), store="elasticsearch")
    return StoreUnavailableError(str(exc) or type(exc).__name__, store="elasticsearch")


@contextmanager
def translated_errors() -> Iterator[None]:
    """Elasticsearch client errors inside come out as the workbench's :class:`StoreError` tree."""
    try:
        yield
    except (TimeoutError, ApiError, TransportError, ScanError) as exc:
        raise _translate(exc) from exc


def _sessions_query(sessions: Sequence[SessionKey]) -> dict[str, Any]:
    """Every document (session or message, of any vintage) of the given sessions."""
    return {
        "bool": {
            "should": [
                {"bool": {"filter": [{"term": {"user_id": user_id}}, {"term": {"session_id": session_id}}]}}
                for user_id, session_id in sessions
            ],
            "minimum_should_match": 1,
        }
    }


class ElasticsearchIndex:
    """The :class:`~workbench.stores.base.Projection` ``search`` over one Elasticsearch index."""

    target = "search"

    def __init__(
        self,
        hosts: Sequence[str],
        index: str,
        *,
        api_key: str | None = None,
        request_timeout: float = 5.0,
    ) -> None:
        if not hosts:
            raise ConfigurationError("ES_URL names no Elasticsearch host")
        self.index = index
        # fail fast: a timeout is not retried, and a refused connection only moves on to another host
        self.client = AsyncElasticsearch(
            list(hosts),
            api_key=api_key,
            request_timeout=request_timeout,
            retry_on_timeout=False,
            max_retries=len(hosts) - 1,
        )
        self._ready = False
        self._delete_by_query: bool | None = None

    # -- schema -----------------------------------------------------------------------------

    async def ensure_schema(self) -> None:
        """Create the index with its mapping if missing; add fields an older index lacks."""
        with translated_errors():
            if not await self.client.indices.exists(index=self.index):
                try:
                    await self.client.indices.create(index=self.index, mappings=INDEX_MAPPING, settings=INDEX_SETTINGS)
                except BadRequestError as exc:
                    if exc.error != "resource_already_exists_exception":  # else another process was first
                        raise
            else:
                mapping = await self.client.indices.get_mapping(index=self.index)
                existing = next(iter(mapping.body.values()), {}).get("mappings", {}).get("properties", {})
                missing = {k: v for k, v in INDEX_MAPPING["properties"].items() if k not in existing}
                if missing:
                    await self.client.indices.put_mapping(index=self.index, properties=missing)
        self._ready = True

    async def _ensure_ready(self) -> None:
        # never let a write auto-create the index with a dynamic mapping
        if not self._ready:
            await self.ensure_schema()

    # -- writes -------------------------------------------------------------------------------

    async def upsert_sessions(self, sessions: Sequence[Session]) -> None:
        await self.upsert_messages((), sessions)

    async def upsert_messages(self, messages: Sequence[Message], sessions: Sequence[Session] = ()) -> None:
        """Index the messages, and update each touched session document once, in one bulk request.

        A session document gets the fields of ``sessions`` (changes applied before the messages)
        and the counters of its latest message here: one update per document, as a second update
        of a document not yet refreshed would make Elasticsearch refresh the shard first.
        """
        actions: list[dict[str, Any]] = [
            {"_op_type": "index", "_id": m.message_id, "_source": message_document(m)} for m in messages
        ]
        docs: dict[SessionKey, dict[str, Any]] = {}
        upserts: dict[SessionKey, dict[str, Any]] = {}  # what a session change creates a missing document with
        for session in sessions:
            key = (session.user_id, session.session_id)
            docs[key] = session_document(session)
            upserts[key] = {"message_count": session.message_count, "messages": []}
        latest: dict[SessionKey, Message] = {}
        for m in messages:
            key = (m.user_id, m.session_id)
            if key not in latest or latest[key].seq < m.seq:
                latest[key] = m
        for (user_id, session_id), last in latest.items():
            stamp = last.timestamp.isoformat()
            base = docs.get((user_id, session_id)) or {
                "doc_type": "session",
                "user_id": user_id,
                "session_id": session_id,
            }
            docs[(user_id, session_id)] = {
                **base,
                "message_count": last.seq,
                "last_message_at": stamp,
                "updated_at": stamp,
            }
        for key, doc in docs.items():
            action = {"_op_type": "update", "_id": session_doc_id(*key), "doc": doc, "retry_on_conflict": 3}
            if key in upserts:
                action["upsert"] = {**upserts[key], **doc}
            else:
                action["doc_as_upsert"] = True
            actions.append(action)
        await self._bulk(actions)

    async def delete_sessions(self, sessions: Sequence[SessionKey]) -> None:
        """Remove the session documents and every message document of theirs, legacy ones included."""
        if not sessions:
            return
        await self._ensure_ready()
        await self.refresh()  # a query only sees refreshed documents
        for start in range(0, len(sessions), _KEYS_PER_QUERY):
            chunk = sessions[start : start + _KEYS_PER_QUERY]
            query = _sessions_query(chunk)
            if await self._has_delete_by_query():
                with translated_errors():
                    await self.client.delete_by_query(index=self.index, query=query, conflicts="proceed", refresh=True)
                continue
            ids = {session_doc_id(u, s) for u, s in chunk}
            ids.update([hit["_id"] async for hit in self.scan(query, _source=False)])
            await self._bulk([{"_op_type": "delete", "_id": doc_id} for doc_id in sorted(ids)], ignore_status=(404,))

    async def clear(self) -> None:
        """Delete the index and create it again, empty."""
        with translated_errors():
            await self.client.options(ignore_status=404).indices.delete(index=self.index)
        self._ready = False
        await self.ensure_schema()

    async def _bulk(self, actions: list[dict[str, Any]], *, ignore_status: tuple[int, ...] = ()) -> None:
        if not actions:
            return
        await self._ensure_ready()
        failed: list[dict[str, Any]] = []
        with translated_errors():
            async for _, item in async_streaming_bulk(
                self.client,
                actions,
                index=self.index,
                max_chunk_bytes=_MAX_CHUNK_BYTES,
                raise_on_error=False,
                yield_ok=False,
                refresh=False,
            ):
                result = next(iter(item.values()))
                if result.get("status") not in ignore_status:
                    failed.append(result)
        if failed:
            statuses = {int(f.get("status", 0)) for f in failed}
            unavailable = any(s >= 500 or s == 429 for s in statuses)
            message = f"{len(failed)} of {len(actions)} bulk actions failed, first: {str(failed[0])[:500]}"
            raise (StoreUnavailableError if unavailable else StoreError)(message, store="elasticsearch")

    # -- reads ---------------------------------------------------------------------------------

    async def refresh(self) -> None:
        """Make every write so far visible to searches (writes themselves do not wait for it)."""
        with translated_errors():
            await self.client.indices.refresh(index=self.index)

    async def scan(self, query: Mapping[str, Any], **search: Any) -> AsyncIterator[dict[str, Any]]:
        """Every hit of ``query`` (a query clause), in no particular order, through a scroll."""
        with translated_errors():
            async for hit in async_scan(self.client, query={"query": query}, index=self.index, scroll="2m", **search):
                yield hit

    async def _has_delete_by_query(self) -> bool:
        """Whether every node has the ``reindex`` module (asked once)."""
        if self._delete_by_query is None:
            with translated_errors():
                info = await self.client.nodes.info(metric="plugins", filter_path="nodes.*.modules.name")
            nodes = info.body.get("nodes", {}).values()
            self._delete_by_query = bool(nodes) and all(
                any(module.get("name") == "reindex" for module in node.get("modules", [])) for node in nodes
            )
        return self._delete_by_query

    async def ping(self) -> dict[str, Any]:
        """Server version, cluster status, round-trip time and the index's document count."""
        start = time.perf_counter()
        with translated_errors():
            health = await self.client.cluster.health()
            latency_ms = (time.perf_counter() - start) * 1000
            nodes = await self.client.nodes.info(filter_path="nodes.*.version")
            count = await self.client.options(ignore_status=404).count(index=self.index)
        versions = sorted({node["version"] for node in nodes.body.get("nodes", {}).values()})
        return {
            "version": ", ".join(versions),
            "status": health["status"],
            "latency_ms": latency_ms,
            "index": self.index,
            "documents": count.body.get("count"),
        }

    async def aclose(self) -> None:
        await self.client.close()
