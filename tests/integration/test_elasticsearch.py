"""The search projection on the real Elasticsearch: the contract's mapping, documents and deletes."""

from __future__ import annotations

import uuid

from tests.integration.conftest import Live
from tests.integration.helpers import es_hits, search_of
from workbench.stores.elasticsearch import INDEX_MAPPING, ElasticsearchIndex
from workbench.text import extract_terms, segment_for_index


async def test_the_index_is_created_with_the_contract_mapping(live: Live) -> None:
    search = search_of(live.wb)
    mapping = (await search.client.indices.get_mapping(index=search.index))[search.index]["mappings"]
    assert mapping["dynamic"] in ("false", False)
    for name, spec in INDEX_MAPPING["properties"].items():
        assert mapping["properties"][name].get("type", "object") == spec["type"], name
    assert mapping["properties"]["content_tokens"]["analyzer"] == "whitespace"
    assert mapping["properties"]["session_name"]["fields"]["keyword"]["type"] == "keyword"
    assert mapping["properties"]["messages"]["enabled"] is False
    settings = (await search.client.indices.get_settings(index=search.index))[search.index]["settings"]["index"]
    assert (settings["number_of_shards"], settings["number_of_replicas"]) == ("1", "0")
    ping = await search.ping()
    assert ping["version"].startswith("9.") and ping["documents"] == 0 and ping["latency_ms"] > 0


async def test_an_older_index_gains_the_fields_it_lacks(es_url: str) -> None:
    index = ElasticsearchIndex([es_url], f"wbtest_{uuid.uuid4().hex}")
    seed_mapping = {"properties": {"user_id": {"type": "keyword"}, "content": {"type": "text"}}}
    try:
        await index.client.indices.create(index=index.index, mappings=seed_mapping)
        await index.ensure_schema()
        await index.ensure_schema()  # and again: nothing left to add
        properties = (await index.client.indices.get_mapping(index=index.index))[index.index]["mappings"]["properties"]
        assert set(INDEX_MAPPING["properties"]) <= set(properties)
        assert properties["terms"]["type"] == "keyword"
    finally:
        await index.client.options(ignore_status=404).indices.delete(index=index.index)
        await index.aclose()


async def test_documents_follow_the_contract(live: Live) -> None:
    wb, user = live.wb, live.user()
    sid = await wb.sessions.create_session(user, "旧名字")
    first = await wb.messages.append_message(user, sid, "user", "如何做数据分析? Explain pandas grouping")
    second = await wb.messages.append_message(
        user, sid, "assistant", "用 pandas 的 groupby", {"model": "m-1", "prompt_tokens": 12, "interrupted": False}
    )
    await wb.sessions.rename_session(user, sid, "数据分析")
    assert (await wb.sync()).ok
    search = search_of(wb)
    await search.refresh()
    session = (await search.client.get(index=search.index, id=f"{user}_{sid}"))["_source"]
    assert session["doc_type"] == "session" and session["session_name"] == "数据分析"
    assert session["message_count"] == 2 and session["messages"] == []
    assert session["last_message_at"] == second.timestamp.isoformat()
    doc = (await search.client.get(index=search.index, id=first.message_id))["_source"]
    assert doc["doc_type"] == "message" and doc["message_order"] == 1 and doc["message_id"] == first.message_id
    assert (doc["user_id"], doc["session_id"], doc["role"]) == (user, sid, "user")
    assert doc["terms"] == extract_terms(first.content)
    assert doc["content_tokens"] == segment_for_index(first.content)
    lifted = (await search.client.get(index=search.index, id=second.message_id))["_source"]
    assert (lifted["model"], lifted["prompt_tokens"], lifted["interrupted"]) == ("m-1", 12, False)
    # a two-character Chinese word is found through the segmented field, and as a phrase
    for query in ({"match": {"content_tokens": "数据"}}, {"match_phrase": {"content": "数据"}}):
        hits = await es_hits(wb, {"bool": {"must": [query], "filter": [{"term": {"session_id": sid}}]}})
        assert [h["_id"] for h in hits] == [first.message_id]


async def test_delete_removes_every_document_of_the_session_legacy_ones_too(live: Live) -> None:
    wb, user = live.wb, live.user()
    doomed, kept = (await wb.sessions.create_session(user), await wb.sessions.create_session(user))
    for sid in (doomed, kept):
        for n in range(3):
            await wb.messages.append_message(user, sid, "user", f"message {n} about kubernetes")
    assert (await wb.sync()).ok
    search = search_of(wb)
    legacy = {"user_id": user, "session_id": doomed, "role": "user", "content": "旧消息", "message_order": 0}
    for ms in (1714554000000, 1714554000001):
        doc_id = f"msg_{doomed}_{ms}"
        await search.client.index(index=search.index, id=doc_id, document={**legacy, "message_id": doc_id})
    await wb.sessions.delete_session(user, doomed)
    assert (await wb.sync()).ok
    assert await es_hits(wb, {"term": {"session_id": doomed}}) == []
    assert len(await es_hits(wb, {"term": {"session_id": kept}})) == 4  # its session document and 3 messages


async def test_session_changes_and_messages_in_one_bulk_update_each_document_once(es_url: str) -> None:
    """``upsert_messages(messages, sessions)``: the session's fields and its latest message's counters in one update."""
    from datetime import UTC, datetime, timedelta

    from workbench.models import Message, Role, Session

    index = ElasticsearchIndex([es_url], f"wbtest_{uuid.uuid4().hex}")
    t0 = datetime(2026, 5, 4, 8, 30, tzinfo=UTC)
    new = Session(str(uuid.uuid4()), "u1", "新会话", t0, t0, 2)
    legacy = Session(str(uuid.uuid4()), "u1", "renamed", t0, t0, 1)
    messages = [
        Message(
            f"msg_{new.session_id}_{seq}",
            new.session_id,
            "u1",
            seq,
            Role.USER,
            f"hello {seq}",
            t0 + timedelta(seconds=seq),
        )
        for seq in (1, 2)
    ]
    try:
        await index.ensure_schema()
        legacy_id = f"u1_{legacy.session_id}"
        await index.client.index(
            index=index.index,
            id=legacy_id,
            document={"session_id": legacy.session_id, "messages": [{"content": "old"}]},
        )
        await index.upsert_messages(messages, [new, legacy])
        await index.upsert_sessions([])  # nothing to do
        await index.refresh()
        doc = (await index.client.get(index=index.index, id=f"u1_{new.session_id}"))["_source"]
        stamp = messages[-1].timestamp.isoformat()
        assert doc == {
            "doc_type": "session",
            "user_id": "u1",
            "session_id": new.session_id,
            "session_name": "新会话",
            "created_at": t0.isoformat(),
            "updated_at": stamp,
            "message_count": 2,
            "last_message_at": stamp,
            "messages": [],
        }
        kept = (await index.client.get(index=index.index, id=legacy_id))["_source"]
        assert kept["session_name"] == "renamed" and kept["messages"] == [{"content": "old"}]
        assert "message_count" not in kept  # an existing document keeps what no change set
    finally:
        await index.client.options(ignore_status=404).indices.delete(index=index.index)
        await index.aclose()
