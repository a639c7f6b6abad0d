"""Bulk writes on real MariaDB: ``execute_many`` with positional rows, and a bulk import's outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from tests.integration.conftest import Stack
from workbench.ingest import import_session, session_id_for

T0 = datetime(2026, 5, 4, 8, 30, 0, 123000, tzinfo=UTC)
_INSERT = (
    "INSERT INTO outbox (target, kind, user_id, session_id, message_id, created_at) "
    "VALUES (:target, :kind, :user_id, :session_id, :message_id, :created_at)"
)


async def _outbox_rows(stack: Stack, user: str) -> list[dict]:
    return await stack.db.execute_query(
        "SELECT target, kind, session_id, message_id, created_at FROM outbox WHERE user_id = :u ORDER BY id",
        {"u": user},
    )


async def test_execute_many_binds_tuples_by_position(stack: Stack) -> None:
    user = stack.user()
    paris = timezone(timedelta(hours=2))
    rows = [
        ("t1", "message", user, "s1", "it's 100% 'quoted'", T0),  # escaped value by value
        ("t1", "message", user, "s1", None, T0.astimezone(paris)),  # aware, not UTC: stored as UTC
        ("t1", "message", user, "s1", "naive", datetime(2026, 5, 4, 8, 30)),  # naive: taken as UTC
    ]
    async with stack.db.transaction() as tx:
        assert await tx.execute_many(_INSERT, rows) == 3  # one multi-row INSERT
        # a statement PyMySQL cannot batch (and a literal %) runs row by row, bound the same way
        await tx.execute_many(
            "INSERT INTO outbox (target, kind, user_id, session_id, message_id, created_at) "
            "VALUES (:target, :kind, :user_id, :session_id, CONCAT(:message_id, '%'), :created_at)",
            [("t2", "message", user, "s2", "m", T0.astimezone(paris))],
        )
        mapping = {"target": "t3", "kind": "session", "user_id": user, "session_id": "s3", "message_id": None}
        assert await tx.execute_many(_INSERT, [{**mapping, "created_at": T0}]) == 1  # mappings, as before
        await tx.commit()
    stored = await _outbox_rows(stack, user)
    assert [(r["target"], r["session_id"], r["message_id"]) for r in stored] == [
        ("t1", "s1", "it's 100% 'quoted'"),
        ("t1", "s1", None),
        ("t1", "s1", "naive"),
        ("t2", "s2", "m%"),
        ("t3", "s3", None),
    ]
    naive_t0 = T0.replace(tzinfo=None)
    assert [r["created_at"] for r in stored] == [naive_t0, naive_t0, datetime(2026, 5, 4, 8, 30), naive_t0, naive_t0]


async def test_import_writes_the_conversations_outbox_in_one_statement(stack: Stack) -> None:
    """Session rows first, then a row per message for each projection (the cache's session row covers them)."""
    user = stack.user()
    targets = stack.relay.targets
    turns = [("user" if i % 2 == 0 else "assistant", f"turn {i}", T0 + timedelta(seconds=i), None) for i in range(4)]
    statements: list[str] = []
    real = stack.db.transaction

    def counting():  # every statement of the import's transaction
        manager = real()

        class Counting:
            async def __aenter__(self):
                tx = await manager.__aenter__()
                for name in ("execute_update", "execute_many", "execute_query", "execute_insert"):
                    method = getattr(tx, name)

                    async def counted(sql, params=None, _method=method):
                        statements.append(sql.split("(")[0].strip())
                        return await _method(sql, params)

                    setattr(tx, name, counted)
                return tx

            async def __aexit__(self, *exc):
                return await manager.__aexit__(*exc)

        return Counting()

    stack.db.transaction = counting  # type: ignore[method-assign]
    try:
        created = await import_session(
            stack.db,
            stack.relay,
            user_id=user,
            external_id="c1",
            name="bulk",
            created_at=T0,
            messages=turns,
            max_content_bytes=1 << 20,
            notify=False,
        )
    finally:
        del stack.db.transaction
    assert created
    assert statements == [
        "INSERT IGNORE INTO users",
        "INSERT IGNORE INTO sessions",
        "INSERT INTO messages",
        "INSERT INTO outbox",
    ]
    sid = session_id_for(user, "c1")
    assert [(r["target"], r["kind"], r["message_id"]) for r in await _outbox_rows(stack, user)] == [
        *[(t, "session", None) for t in targets],
        *[(t, "message", f"msg_{sid}_{seq}") for seq in range(1, 5) for t in targets if t != "cache"],
    ]
    assert [r["seq"] for r in await stack.rows(sid)] == [1, 2, 3, 4]


async def test_append_writes_one_row_per_target(stack: Stack) -> None:
    user = stack.user()
    sid = await stack.sessions.create_session(user)
    message = await stack.messages.append_message(user, sid, "user", "hello")
    rows = [(r["target"], r["kind"], r["message_id"]) for r in await _outbox_rows(stack, user)]
    targets = stack.relay.targets
    assert rows[-len(targets) :] == [(t, "message", message.message_id) for t in targets]
