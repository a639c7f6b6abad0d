"""Invariants 3 and 5 through the relay: MySQL, Elasticsearch and Neo4j hold the same messages."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.conftest import Live
from tests.integration.helpers import assert_projected, es_hits, graph_of
from workbench.errors import NotFoundError
from workbench.models import utcnow


async def test_appends_land_once_in_every_store_and_a_redrain_changes_nothing(live: Live) -> None:
    wb, user = live.wb, live.user()
    sid = await wb.sessions.create_session(user)
    for n in range(1, 6):
        await wb.messages.append_message(user, sid, "user" if n % 2 else "assistant", f"message {n}: redis caching")
    assert (await wb.sync()).ok
    before = await assert_projected(wb, sid, expected=5)

    # the relay applies every outbox row again, as after a crash between applying and deleting them
    stores = await wb.stores()
    for target in stores.relay.targets:
        for kind, message_id in [("session", None), *(("message", mid) for _, mid, _ in before)]:
            await stores.db.execute_update(
                "INSERT INTO outbox (target, kind, user_id, session_id, message_id, created_at) "
                "VALUES (:target, :kind, :user, :sid, :mid, :now)",
                {"target": target, "kind": kind, "user": user, "sid": sid, "mid": message_id, "now": utcnow()},
            )
    assert (await wb.sync()).ok  # the rows are applied by this drain, or by the background relay before it
    left = await stores.db.execute_query("SELECT COUNT(*) AS n FROM outbox WHERE session_id = :sid", {"sid": sid})
    assert left[0]["n"] == 0
    assert await assert_projected(wb, sid, expected=5) == before
    assert len(await es_hits(wb, {"term": {"session_id": sid}})) == 6  # 5 messages and the session
    counts = await graph_of(wb).query(
        "MATCH (s:Session {session_id: $sid}) "
        "OPTIONAL MATCH (s)-[c:CONTAINS]->(:Message) WITH s, count(c) AS contains "
        "OPTIONAL MATCH (:User)-[st:STARTED]->(s) RETURN contains, count(st) AS started",
        sid=sid,
    )
    assert (counts[0]["contains"], counts[0]["started"]) == (5, 1)


async def test_fifty_concurrent_writers_give_seq_1_to_50_in_every_store(live: Live) -> None:
    wb, user = live.wb, live.user()
    sid = await wb.sessions.create_session(user)
    appended = await asyncio.gather(
        *(wb.messages.append_message(user, sid, "user", f"writer {n} says hello") for n in range(50))
    )
    assert sorted(m.seq for m in appended) == list(range(1, 51))
    assert (await wb.sync()).ok
    rows = await assert_projected(wb, sid, expected=50)
    assert {content for _, _, content in rows} == {f"writer {n} says hello" for n in range(50)}
    assert [m.seq for m in await wb.messages.get_messages(user, sid)] == list(range(1, 51))


async def test_a_deleted_session_is_gone_from_every_store(live: Live) -> None:
    wb, user = live.wb, live.user()
    sid = await wb.sessions.create_session(user)
    for n in range(3):
        await wb.messages.append_message(user, sid, "user", f"to be deleted {n}")
    assert (await wb.sync()).ok
    await assert_projected(wb, sid, expected=3)
    await wb.sessions.delete_session(user, sid)
    assert (await wb.sync()).ok
    for projection in (await wb.stores()).projections:  # a delete applied again (a re-drain) is no error
        await projection.delete_sessions([(user, sid)])
    assert await es_hits(wb, {"term": {"session_id": sid}}) == []
    nodes = await graph_of(wb).query("MATCH (n) WHERE n.session_id = $sid RETURN count(n) AS n", sid=sid)
    assert nodes[0]["n"] == 0
    with pytest.raises(NotFoundError):
        await wb.messages.get_messages(user, sid)
    assert sid not in {s.session_id for s in await wb.sessions.list_sessions(user)}
