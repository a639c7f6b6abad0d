"""The seed's Elasticsearch-only history: read back complete and ordered, imported once, and reindex."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from tests.integration.conftest import Live
from tests.integration.helpers import assert_projected, es_hits, graph_of, search_of
from workbench import StoreUnavailableError, Workbench
from workbench.legacy import reindex

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def _at(minute: int) -> str:
    """A naive ISO timestamp, as the seed wrote them (``datetime.utcnow()``)."""
    return T0.replace(minute=minute, tzinfo=None).isoformat()


async def _seed_session(live: Live, user: str, *, array: list[dict], message_docs: list[tuple[int, dict]]) -> str:
    """A session exactly as the seed left it: a MySQL row without messages, and ES documents of both kinds."""
    sid = str(uuid.uuid4())
    db = (await live.wb.stores()).db
    await db.execute_update(
        "INSERT IGNORE INTO users (user_id, username, created_at) VALUES (:u, :name, :at)",
        {"u": user, "name": f"用户_{user[:8]}", "at": T0},
    )
    await db.execute_update(
        "INSERT INTO sessions (session_id, user_id, name, created_at, updated_at, is_active) "
        "VALUES (:sid, :u, '对话', :at, :at, 1)",
        {"sid": sid, "u": user, "at": T0},
    )
    search = search_of(live.wb)
    await search.client.index(
        index=search.index,
        id=f"{user}_{sid}",
        document={"user_id": user, "session_id": sid, "session_name": "对话", "created_at": _at(0), "messages": array},
    )
    for ms, fields in message_docs:
        doc_id = f"msg_{sid}_{ms}"
        document = {"user_id": user, "session_id": sid, "message_id": doc_id, "message_order": 0, **fields}
        await search.client.index(index=search.index, id=doc_id, document=document)
    await search.refresh()
    return sid


def _typical() -> tuple[list[dict], list[tuple[int, dict]]]:
    """Two items in the session array, three message documents (one repeating an item)."""
    answer = {"role": "assistant", "content": "An index for nearest-neighbour search.", "timestamp": _at(2)}
    array = [{"role": "user", "content": "你好, what is a vector index?", "ts": _at(1)}, answer]
    docs = [
        (1714554180000, {"role": "user", "content": "And in Elasticsearch?", "timestamp": _at(3)}),
        (1714554120000, answer),
        (1714554240000, {"role": "assistant", "content": "Use a dense_vector field.", "timestamp": _at(4)}),
    ]
    return array, docs


EXPECTED = [
    ("user", "你好, what is a vector index?", 1),
    ("assistant", "An index for nearest-neighbour search.", 2),
    ("user", "And in Elasticsearch?", 3),
    ("assistant", "Use a dense_vector field.", 4),
]


async def test_legacy_history_reads_back_complete_and_ordered(live: Live) -> None:
    wb, user = live.wb, live.user()
    array, docs = _typical()
    sid = await _seed_session(live, user, array=array, message_docs=docs)
    history = await wb.messages.get_messages(user, sid)  # imports on the first read
    assert [(m.role, m.content, m.timestamp.minute) for m in history] == EXPECTED
    assert [m.seq for m in history] == [1, 2, 3, 4]
    assert history[0].timestamp == T0.replace(minute=1)
    assert history[0].metadata == {"legacy_id": f"{user}_{sid}#messages[0]"}
    assert history[2].metadata == {"legacy_id": f"msg_{sid}_1714554180000"}
    assert await wb.messages.get_messages(user, sid) == history
    assert (await wb.import_legacy(user_id=user, progress=False))["messages_imported"] == 0
    await wb.messages.append_message(user, sid, "user", "a new question")
    assert [m.seq for m in await wb.messages.get_messages(user, sid)] == [1, 2, 3, 4, 5]
    assert (await wb.sync()).ok
    await assert_projected(wb, sid, expected=5)
    assert len(await es_hits(wb, {"term": {"session_id": sid}})) == 1 + 5 + 3  # the legacy documents stay


async def test_an_append_before_any_read_keeps_the_legacy_history_first(live: Live) -> None:
    wb, user = live.wb, live.user()
    array, docs = _typical()
    sid = await _seed_session(live, user, array=array, message_docs=docs)
    appended = await wb.messages.append_message(user, sid, "user", "first words after the move")
    assert appended.seq == 5
    history = await wb.messages.get_messages(user, sid)
    assert [(m.role, m.content, m.timestamp.minute) for m in history[:4]] == EXPECTED
    assert [m.seq for m in history] == [1, 2, 3, 4, 5] and history[4].content == "first words after the move"
    fresh = await wb.sessions.create_session(user)  # a session of the workbench's own never waits on ES
    assert (await wb.messages.append_message(user, fresh, "user", "hi")).seq == 1


async def test_legacy_history_is_not_read_as_empty_while_elasticsearch_is_away(live: Live) -> None:
    user = live.user()
    array, docs = _typical()
    sid = await _seed_session(live, user, array=array, message_docs=docs)
    settings = live.wb.settings.model_copy(update={"es_url": "http://127.0.0.1:9"})  # nothing listens there
    async with Workbench.open(settings) as away:
        with pytest.raises(StoreUnavailableError):
            await away.messages.get_messages(user, sid)
    assert [m.seq for m in await live.wb.messages.get_messages(user, sid)] == [1, 2, 3, 4]


async def test_import_legacy_is_idempotent(live: Live) -> None:
    wb, user = live.wb, live.user()
    array, docs = _typical()
    first = await _seed_session(live, user, array=array, message_docs=docs)
    second = await _seed_session(
        live, user, array=[{"role": "user", "content": "only one", "ts": _at(5)}], message_docs=[]
    )
    empty = await _seed_session(live, user, array=[], message_docs=[])
    summary = await wb.import_legacy(user_id=user, progress=False)
    assert summary == {
        "sessions_checked": 3,
        "sessions_imported": 2,
        "messages_imported": 5,
        "invalid": 0,
        "duplicates": 1,
    }
    again = await wb.import_legacy(user_id=user, progress=False)
    assert (again["sessions_checked"], again["messages_imported"]) == (1, 0)  # only the empty one is left to look at
    assert [(m.role, m.content, m.timestamp.minute) for m in await wb.messages.get_messages(user, first)] == EXPECTED
    assert [m.content for m in await wb.messages.get_messages(user, second)] == ["only one"]
    assert await wb.messages.get_messages(user, empty) == []
    assert (await wb.sync()).ok
    await assert_projected(wb, first, expected=4)


async def test_reindex_rebuilds_the_search_index_and_the_graph(live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    wb, user = live.wb, live.user()
    sessions = [await wb.sessions.create_session(user, f"s{n}") for n in range(2)]
    for sid in sessions:
        for n in range(3):
            await wb.messages.append_message(user, sid, "user", f"reindex me {n}")
    array, docs = _typical()
    legacy = await _seed_session(live, user, array=array, message_docs=docs)  # not imported yet
    assert (await wb.sync()).ok
    search, graph = search_of(wb), graph_of(wb)
    await search.client.delete(index=search.index, id=f"msg_{sessions[0]}_2")
    await graph.query("MATCH (m:Message {session_id: $sid}) DETACH DELETE m", sid=sessions[1])

    summary = await wb.reindex(user_id=user, progress=False)
    assert (summary["sessions"], summary["messages"], summary["legacy"]["messages_imported"]) == (3, 10, 4)
    for sid, n in ((sessions[0], 3), (sessions[1], 3), (legacy, 4)):
        await assert_projected(wb, sid, expected=n)

    # the full rebuild clears the index first: a stray document goes. The graph is shared with other
    # test runs, so only its per-user rebuild (above) is exercised here.
    stores = await wb.stores()
    await search.client.index(index=search.index, id="stray", document={"doc_type": "message", "user_id": user})
    with monkeypatch.context() as patch:
        patch.setattr(stores, "projections", [search])
        full = await reindex(wb, progress=False)
    assert full["targets"] == ["search"] and full["messages"] >= 10
    assert await es_hits(wb, {"ids": {"values": ["stray"]}}) == []
    for sid, n in ((sessions[0], 3), (sessions[1], 3), (legacy, 4)):
        await assert_projected(wb, sid, expected=n)
