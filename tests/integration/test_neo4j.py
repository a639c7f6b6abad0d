"""The graph projection on the real Neo4j: constraints, the graph model, chains and term clean-up."""

from __future__ import annotations

import uuid

from neo4j.time import DateTime

from tests.integration.conftest import Live
from tests.integration.helpers import graph_chain, graph_of
from workbench.models import Message, Role, message_id_for, utcnow
from workbench.text import extract_terms


async def test_the_uniqueness_constraints_exist(live: Live) -> None:
    records = await graph_of(live.wb).query(
        "SHOW CONSTRAINTS YIELD type, labelsOrTypes, properties WHERE type = 'UNIQUENESS' "
        "RETURN labelsOrTypes[0] AS label, properties[0] AS property"
    )
    found = {(r["label"], r["property"]) for r in records}
    assert {("User", "user_id"), ("Session", "session_id"), ("Message", "message_id"), ("Term", "text")} <= found
    ping = await graph_of(live.wb).ping()
    assert ping["version"] and ping["edition"] == "community"


async def test_messages_form_the_contract_graph(live: Live) -> None:
    wb, user = live.wb, live.user()
    sid = await wb.sessions.create_session(user, "graphs")
    texts = ["Neo4j graph databases store relationships", "Cypher queries traverse graph relationships", "谢谢"]
    for text in texts:
        await wb.messages.append_message(user, sid, "user", text)
    assert (await wb.sync()).ok
    records = await graph_of(wb).query(
        "MATCH (u:User {user_id: $user})-[:STARTED]->(s:Session {session_id: $sid})-[:CONTAINS]->(m:Message) "
        "OPTIONAL MATCH (m)-[:MENTIONS]->(t:Term) "
        "RETURN s.name AS name, m.seq AS seq, m.role AS role, m.timestamp AS ts, collect(t.text) AS terms "
        "ORDER BY seq",
        user=user,
        sid=sid,
    )
    assert [r["seq"] for r in records] == [1, 2, 3] and {r["name"] for r in records} == {"graphs"}
    assert all(r["role"] == "user" and isinstance(r["ts"], DateTime) for r in records)
    for record, text in zip(records, texts, strict=True):
        assert sorted(record["terms"]) == sorted(extract_terms(text))
    assert await graph_chain(wb, sid) == [(1, 2), (2, 3)]


async def test_the_chain_closes_whichever_message_lands_first(live: Live) -> None:
    user, sid, now = live.user(), str(uuid.uuid4()), utcnow()
    graph = graph_of(live.wb)
    messages = [Message(message_id_for(sid, n), sid, user, n, Role.USER, f"step {n}", now) for n in (1, 2, 3)]
    await graph.upsert_messages([messages[2]])
    await graph.upsert_messages([messages[0]])
    await graph.upsert_messages([messages[1]])
    await graph.upsert_messages(messages)  # and again: nothing doubles
    assert await graph_chain(live.wb, sid) == [(1, 2), (2, 3)]
    counts = await graph.query(
        "MATCH (s:Session {session_id: $sid})-[c:CONTAINS]->(m) RETURN count(c) AS contains, count(DISTINCT m) AS m",
        sid=sid,
    )
    assert (counts[0]["contains"], counts[0]["m"]) == (3, 3)


async def test_delete_removes_the_session_and_the_terms_nobody_mentions_any_more(live: Live) -> None:
    wb, alice, bob = live.wb, live.user(), live.user()
    only_here = f"zqx{uuid.uuid4().hex[:10]}"
    doomed = await wb.sessions.create_session(alice)
    await wb.messages.append_message(alice, doomed, "user", f"{only_here} and kubernetes")
    other = await wb.sessions.create_session(bob)
    await wb.messages.append_message(bob, other, "user", "kubernetes again")
    assert (await wb.sync()).ok
    await wb.sessions.delete_session(alice, doomed)
    assert (await wb.sync()).ok
    graph = graph_of(wb)
    left = await graph.query(
        "MATCH (n) WHERE (n:Session OR n:Message) AND n.session_id = $sid RETURN count(n) AS n", sid=doomed
    )
    assert left[0]["n"] == 0
    terms = await graph.query(
        "MATCH (t:Term) WHERE t.text IN $texts RETURN t.text AS text", texts=[only_here, "kubernetes"]
    )
    assert {r["text"] for r in terms} == {"kubernetes"}
    kept = await graph.query("MATCH (:Session {session_id: $sid})-[:CONTAINS]->(m) RETURN count(m) AS n", sid=other)
    assert kept[0]["n"] == 1
    users = await graph.query("MATCH (u:User) WHERE u.user_id IN $ids RETURN u.user_id AS id", ids=[alice, bob])
    assert [r["id"] for r in users] == [bob]  # a user left with no session is gone too
