"""Bulk import (workbench.ingest) and the sample loader (workbench.sample) on the embedded profile."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from workbench import ConfigurationError, NotFoundError, ValidationError, Workbench
from workbench.ingest import import_session, session_id_for
from workbench.models import DEFAULT_SESSION_NAME
from workbench.sample import load_sample

T0 = datetime(2026, 5, 4, 8, 30, 0, 123000, tzinfo=UTC)
TURNS = [
    ("system", "You are terse.", T0, None),
    ("user", "Explain Redis persistence", T0 + timedelta(seconds=1), {}),
    ("assistant", "RDB snapshots and AOF logs.", T0 + timedelta(seconds=3), {"model": "m", "latency_ms": 900}),
]


async def _import(wb: Workbench, external_id: str = "conv-1", turns=TURNS, **kwargs: object) -> bool:
    stores = await wb.stores()
    arguments = {
        "user_id": "dora",
        "external_id": external_id,
        "name": "Persistence",
        "created_at": T0,
        "messages": turns,
        "max_content_bytes": wb.settings.max_content_bytes,
        **kwargs,
    }
    return await import_session(stores.db, stores.relay, **arguments)  # type: ignore[arg-type]


async def test_import_keeps_order_timestamps_and_metadata(wb: Workbench) -> None:
    assert await _import(wb) is True
    sid = session_id_for("dora", "conv-1")
    assert uuid.UUID(sid).version == 5 and sid == str(uuid.UUID(sid))
    session = await wb.sessions.get_session("dora", sid)
    assert (session.name, session.created_at, session.message_count) == ("Persistence", T0, 3)
    assert session.updated_at == T0 + timedelta(seconds=3)
    history = await wb.messages.get_messages("dora", sid)
    assert [(str(m.role), m.content, m.timestamp, m.metadata) for m in history] == [
        (role, content, ts, meta or {}) for role, content, ts, meta in TURNS
    ]
    assert [m.seq for m in history] == [1, 2, 3]
    assert [m.message_id for m in history] == [f"msg_{sid}_{n}" for n in (1, 2, 3)]
    # appending afterwards continues the sequence
    assert (await wb.messages.append_message("dora", sid, "user", "and AOF rewrite?")).seq == 4


async def test_import_is_idempotent_and_respects_deletion(wb: Workbench) -> None:
    assert await _import(wb) is True
    assert await _import(wb) is False
    sid = session_id_for("dora", "conv-1")
    assert len(await wb.messages.get_messages("dora", sid)) == 3
    assert [s.session_id for s in await wb.sessions.list_sessions("dora")] == [sid]
    await wb.sessions.delete_session("dora", sid)
    assert await _import(wb) is False  # a deleted conversation is not brought back
    with pytest.raises(NotFoundError):
        await wb.messages.get_messages("dora", sid)
    # the same external id belongs to each user separately
    assert await _import(wb, user_id="erin") is True
    assert session_id_for("erin", "conv-1") != sid


async def test_imported_messages_reach_search_and_graph(wb: Workbench) -> None:
    await _import(wb)
    assert (await wb.sync()).ok
    hits = await wb.search.search("redis persistence")
    assert hits["message_id"].tolist() == [f"msg_{session_id_for('dora', 'conv-1')}_2"]
    assert hits["timestamp"].iloc[0].to_pydatetime() == T0 + timedelta(seconds=1)
    assert "persistence" in set((await wb.graph.top_terms_per_user(10))["term"])


@pytest.mark.parametrize(
    "change",
    [
        {"turns": [("robot", "hi", T0, None)]},
        {"turns": [("user", "   ", T0, None)]},
        {"turns": [("user", "hi", "2026-05-04", None)]},
        {"turns": [("user", "hi", T0, {"k": object()})]},
        {"user_id": ""},
        {"external_id": ""},
        {"created_at": "yesterday"},
        {"name": "x" * 300},
    ],
)
async def test_bad_input_writes_nothing(wb: Workbench, change: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        await _import(wb, **change)
    stores = await wb.stores()
    for table in ("sessions", "messages", "outbox"):
        assert (await stores.db.execute_query(f"SELECT COUNT(*) AS n FROM {table}"))[0]["n"] == 0, table


async def test_missing_name_gets_the_default(wb: Workbench) -> None:
    assert await _import(wb, name=None, turns=[])
    session = await wb.sessions.get_session("dora", session_id_for("dora", "conv-1"))
    assert (session.name, session.message_count, session.updated_at) == (DEFAULT_SESSION_NAME, 0, T0)


def _sample_line(user: str, external: str, texts: list[str]) -> str:
    start = datetime(2026, 6, 1, tzinfo=UTC)
    messages = [
        {
            "role": "user" if i % 2 == 0 else "assistant",
            "content": text,
            "timestamp": (start + timedelta(seconds=i)).isoformat(),
            "metadata": {} if i % 2 == 0 else {"model": "m"},
        }
        for i, text in enumerate(texts)
    ]
    record = {
        "user_id": user,
        "username": user.removeprefix("u_"),
        "session_id": external,
        "name": f"about {texts[0]}",
        "created_at": start.isoformat(),
        "language": "en",
        "topic": "t",
        "messages": messages,
    }
    return json.dumps(record, ensure_ascii=False)


async def test_load_sample_from_a_file_twice(wb: Workbench, tmp_path: Path) -> None:
    path = tmp_path / "sample.jsonl"
    lines = [_sample_line("u_a", "x1", ["hello", "hi"]), "", _sample_line("u_b", "x2", ["数据分析", "好", "谢谢"])]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    first = await load_sample(wb, path, progress=False)
    assert {k: first[k] for k in ("sessions", "imported", "skipped", "messages", "users")} == {
        "sessions": 2, "imported": 2, "skipped": 0, "messages": 5, "users": 2,
    }  # fmt: skip
    assert sum((await (await wb.stores()).relay.backlog()).values()) == 0  # synced
    assert len(await wb.search.search("数据")) == 1
    again = await load_sample(wb, path, progress=False)
    assert (again["imported"], again["skipped"], again["messages"]) == (0, 2, 0)
    users = await wb.search.user_activity()
    assert users[["user_id", "sessions", "messages"]].values.tolist() == [["u_b", 1, 3], ["u_a", 1, 2]]
    stores = await wb.stores()
    names = await stores.db.execute_query("SELECT username FROM users ORDER BY user_id")
    assert [r["username"] for r in names] == ["a", "b"]


async def test_load_sample_rejects_bad_lines(wb: Workbench, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(_sample_line("u_a", "x1", ["hello"]) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"bad\.jsonl:2"):
        await load_sample(wb, path, progress=False)
    with pytest.raises(ConfigurationError, match="no sample data"):
        await load_sample(wb, tmp_path / "missing.jsonl", progress=False)


async def test_load_the_bundled_sample(wb: Workbench) -> None:
    report = await load_sample(wb, progress=False)
    assert (report["sessions"], report["imported"], report["messages"], report["users"]) == (360, 360, 7920, 29)
    users = await wb.search.user_activity()
    assert users["user_id"].tolist()[:2] == ["u_wang_wei", "u_alice"]
    assert users["sessions"].sum() == 360 and users["messages"].sum() == 7920
    assert len(await wb.search.search("数据", limit=5)) == 5
    assert (await load_sample(wb, progress=False))["imported"] == 0


async def test_import_writes_session_rows_first_in_one_outbox_statement(wb: Workbench) -> None:
    stores = await wb.stores()
    assert await _import(wb) is True
    sid = session_id_for("dora", "conv-1")
    rows = await stores.db.execute_query("SELECT target, kind, message_id FROM outbox ORDER BY id")
    targets = stores.relay.targets
    assert [(r["target"], r["kind"], r["message_id"]) for r in rows] == [
        *[(t, "session", None) for t in targets],
        *[(t, "message", f"msg_{sid}_{seq}") for seq in (1, 2, 3) for t in targets if t != "cache"],
    ]


async def test_execute_many_binds_tuples_by_position_on_sqlite(wb: Workbench) -> None:
    from datetime import timezone

    from workbench.stores.base import positional

    assert positional("SELECT :a, :b::text, x:y, :a", "?") == "SELECT ?, ?::text, x:y, ?"
    db = (await wb.stores()).db
    paris = timezone(timedelta(hours=2))
    sql = (
        "INSERT INTO outbox (target, kind, user_id, session_id, message_id, created_at) "
        "VALUES (:target, :kind, :user_id, :session_id, :message_id, :created_at)"
    )
    async with db.transaction() as tx:
        assert (
            await tx.execute_many(
                sql,
                [("t", "message", "u", "s", "it's 'x'", T0), ("t", "message", "u", "s", None, T0.astimezone(paris))],
            )
            == 2
        )
        await tx.execute_many(
            sql,
            [
                {
                    "target": "t",
                    "kind": "session",
                    "user_id": "u",
                    "session_id": "s",
                    "message_id": None,
                    "created_at": T0,
                }
            ],
        )
        await tx.commit()
    rows = await db.execute_query("SELECT message_id, created_at FROM outbox WHERE target = 't' ORDER BY id")
    assert [r["message_id"] for r in rows] == ["it's 'x'", None, None]
    assert {r["created_at"] for r in rows} == {"2026-05-04 08:30:00.123000"}  # UTC text, whichever zone came in
