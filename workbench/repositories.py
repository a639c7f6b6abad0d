"""Sessions and messages: the system of record first, then the cache, then the outbox.

Every write commits to the database in one transaction together with its outbox rows;
the cache and the derived stores (search, graph) are brought up to date afterwards and
can never hold what the database does not. A failing cache is bypassed, never trusted.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from workbench.errors import NotFoundError, StoreError, ValidationError
from workbench.models import (
    DEFAULT_SESSION_NAME,
    Message,
    Role,
    Session,
    check_content,
    check_metadata,
    check_role,
    check_session_id,
    check_session_name,
    check_user_id,
    message_id_for,
    utcnow,
)
from workbench.stores.base import Database, MessageCache, Row, SessionKey, Transaction, read_datetime

if TYPE_CHECKING:
    from workbench.outbox import OutboxRelay

__all__ = [
    "MessageRepository",
    "SessionRepository",
    "insert_messages",
    "load_messages",
    "message_from_row",
    "session_from_row",
]

logger = logging.getLogger(__name__)

CACHE_TARGET = "cache"  # the outbox target of the cache: one row per session of a batch is enough

SESSION_COLUMNS = "session_id, user_id, name, created_at, updated_at, last_seq"
MESSAGE_COLUMNS = "m.session_id, m.seq, m.message_id, m.user_id, m.role, m.content, m.created_at, m.metadata"
_NOT_FOUND = "no session {session_id} for user {user_id!r}"


_ROLES = {role.value: role for role in Role}


def session_from_row(row: Row) -> Session:
    return Session(
        session_id=row["session_id"],
        user_id=row["user_id"],
        name=row["name"],
        created_at=read_datetime(row["created_at"]),
        updated_at=read_datetime(row["updated_at"]),
        message_count=int(row["last_seq"]),
    )


def message_from_row(row: Row) -> Message:
    return Message(
        message_id=row["message_id"],
        session_id=row["session_id"],
        user_id=row["user_id"],
        seq=int(row["seq"]),
        role=_ROLES[row["role"]],
        content=row["content"],
        timestamp=read_datetime(row["created_at"]),
        metadata=json.loads(row["metadata"]) if row["metadata"] not in (None, "", "{}") else {},
    )


class _Backend:
    """What both repositories share: the stores, and how to keep the cache honest."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[tuple[Database, MessageCache | None, OutboxRelay]]],
    ) -> None:
        self._connect = connect

    async def stores(self) -> tuple[Database, MessageCache | None, OutboxRelay]:
        return await self._connect()

    @staticmethod
    async def after_commit(
        relay: OutboxRelay,
        cache: MessageCache | None,
        user_id: str,
        session_id: str,
        update: Callable[[MessageCache], Awaitable[None]] | None,
    ) -> None:
        """Bring the cache up to date; if it fails, have the relay drop that entry later."""
        if cache is not None and update is not None:
            try:
                await update(cache)
            except StoreError as exc:
                logger.warning("cache update failed for session %s (%s); will invalidate", session_id, exc)
                await relay.invalidate_cache(user_id, session_id)
        relay.notify()


async def _outbox(
    tx: Transaction, relay: OutboxRelay, kind: str, user_id: str, session_id: str, message_id: str | None = None
) -> None:
    targets = relay.targets
    if not targets:
        return
    now = utcnow()
    values = ", ".join(f"(:t{i}, :kind, :user_id, :session_id, :message_id, :now)" for i in range(len(targets)))
    params: dict[str, Any] = {f"t{i}": t for i, t in enumerate(targets)}
    params.update(kind=kind, user_id=user_id, session_id=session_id, message_id=message_id, now=now)
    await tx.execute_update(
        "INSERT INTO outbox (target, kind, user_id, session_id, message_id, created_at) "  # noqa: S608 - placeholders only
        f"VALUES {values}",
        params,
    )


_INSERT_MESSAGES = (
    "INSERT INTO messages (session_id, seq, message_id, user_id, role, content, created_at, metadata) "
    "VALUES (:session_id, :seq, :message_id, :user_id, :role, :content, :created_at, :metadata)"
)
_INSERT_OUTBOX = (
    "INSERT INTO outbox (target, kind, user_id, session_id, message_id, created_at) "
    "VALUES (:target, :kind, :user_id, :session_id, :message_id, :created_at)"
)


async def insert_messages(
    tx: Transaction, relay: OutboxRelay, messages: Sequence[Message], *, new_session: SessionKey | None = None
) -> None:
    """Insert ``messages`` (their seqs already claimed) and their outbox rows, inside ``tx``.

    ``new_session`` ``(user_id, session_id)`` names a session created in ``tx``: its ``session``
    outbox rows go first, in the same statement as the messages' (a bulk import writes a
    conversation's outbox in one round trip). Rows are bound as tuples: no dict per row.
    """
    if messages:
        await tx.execute_many(
            _INSERT_MESSAGES,
            [
                (
                    m.session_id,
                    m.seq,
                    m.message_id,
                    m.user_id,
                    str(m.role),
                    m.content,
                    m.timestamp,
                    json.dumps(m.metadata, ensure_ascii=False) if m.metadata else "{}",
                )
                for m in messages
            ],
        )
    targets = relay.targets
    if not targets:
        return
    now = utcnow()
    events = [(t, "session", *new_session, None, now) for t in targets] if new_session else []
    # one statement for every row (one round trip), in the order of the messages
    per_message = [t for t in targets if t != CACHE_TARGET]
    events += [(t, "message", m.user_id, m.session_id, m.message_id, now) for m in messages for t in per_message]
    if CACHE_TARGET in targets:  # the relay repairs a cached list per session: one row per session is enough
        last = {(m.user_id, m.session_id): m.message_id for m in messages}
        last.pop(new_session, None)  # its session row stands for them
        events += [(CACHE_TARGET, "message", u, s, mid, now) for (u, s), mid in last.items()]
    if events:
        await tx.execute_many(_INSERT_OUTBOX, events)


class SessionRepository(_Backend):
    """Create, list, read, rename and delete one user's sessions."""

    async def create_session(self, user_id: str, name: str | None = None) -> str:
        """A new session for ``user_id`` (created on first use); returns its UUID4 id."""
        user_id = check_user_id(user_id)
        name = DEFAULT_SESSION_NAME if name is None else check_session_name(name)
        db, cache, relay = await self.stores()
        now = utcnow()
        session = Session(str(uuid.uuid4()), user_id, name, now, now, 0)
        insert_user = "INSERT OR IGNORE" if db.dialect == "sqlite" else "INSERT IGNORE"
        async with db.transaction() as tx:
            await tx.execute_update(
                f"{insert_user} INTO users (user_id, username, created_at) VALUES (:user_id, :username, :now)",
                {"user_id": user_id, "username": f"用户_{user_id[:8]}", "now": now},
            )
            await tx.execute_update(
                "INSERT INTO sessions (session_id, user_id, name, created_at, updated_at, is_active, last_seq) "
                "VALUES (:session_id, :user_id, :name, :now, :now, 1, 0)",
                {"session_id": session.session_id, "user_id": user_id, "name": name, "now": now},
            )
            await _outbox(tx, relay, "session", user_id, session.session_id)
            await tx.commit()
        await self.after_commit(relay, cache, user_id, session.session_id, lambda c: c.session_saved(session))
        return session.session_id

    async def list_sessions(self, user_id: str) -> list[Session]:
        """The user's sessions, most recently active first; deleted ones never."""
        user_id = check_user_id(user_id)
        db, _, _ = await self.stores()
        rows = await db.execute_query(
            f"SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = :user_id AND is_active = 1 "  # noqa: S608
            "ORDER BY updated_at DESC, created_at DESC, session_id",
            {"user_id": user_id},
        )
        return [session_from_row(r) for r in rows]

    async def get_session(self, user_id: str, session_id: str) -> Session:
        """One of the user's sessions; :class:`NotFoundError` for anyone else's."""
        user_id, session_id = check_user_id(user_id), check_session_id(session_id)
        db, _, _ = await self.stores()
        return await _owned_session(db, user_id, session_id)

    async def rename_session(self, user_id: str, session_id: str, name: str) -> Session:
        user_id, session_id, name = check_user_id(user_id), check_session_id(session_id), check_session_name(name)
        db, cache, relay = await self.stores()
        async with db.transaction() as tx:
            changed = await tx.execute_update(
                "UPDATE sessions SET name = :name, updated_at = :now "
                "WHERE session_id = :session_id AND user_id = :user_id AND is_active = 1",
                {"name": name, "now": utcnow(), "session_id": session_id, "user_id": user_id},
            )
            if not changed:
                raise NotFoundError(_NOT_FOUND.format(session_id=session_id, user_id=user_id))
            rows = await tx.execute_query(
                f"SELECT {SESSION_COLUMNS} FROM sessions WHERE session_id = :session_id",  # noqa: S608
                {"session_id": session_id},
            )
            await _outbox(tx, relay, "session", user_id, session_id)
            await tx.commit()
        session = session_from_row(rows[0])
        await self.after_commit(relay, cache, user_id, session_id, lambda c: c.session_saved(session))
        return session

    async def delete_session(self, user_id: str, session_id: str) -> None:
        """Soft-delete in the database (``is_active = 0``); gone from the cache and derived stores."""
        user_id, session_id = check_user_id(user_id), check_session_id(session_id)
        db, cache, relay = await self.stores()
        async with db.transaction() as tx:
            changed = await tx.execute_update(
                "UPDATE sessions SET is_active = 0, updated_at = :now "
                "WHERE session_id = :session_id AND user_id = :user_id AND is_active = 1",
                {"now": utcnow(), "session_id": session_id, "user_id": user_id},
            )
            if not changed:
                raise NotFoundError(_NOT_FOUND.format(session_id=session_id, user_id=user_id))
            await _outbox(tx, relay, "delete", user_id, session_id)
            await tx.commit()
        await self.after_commit(relay, cache, user_id, session_id, lambda c: c.session_deleted(user_id, session_id))


class MessageRepository(_Backend):
    """Append to and read one user's session histories."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[tuple[Database, MessageCache | None, OutboxRelay]]],
        *,
        max_content_bytes: int,
        import_legacy: Callable[[str, str], Awaitable[int]] | None = None,
    ) -> None:
        super().__init__(connect)
        self.max_content_bytes = max_content_bytes
        self._import_legacy = import_legacy  # the seed's ES-only history of a session, copied on first read

    async def append_message(
        self,
        user_id: str,
        session_id: str,
        role: Role | str,
        content: str,
        metadata: dict[str, Any] | None = None,
    ) -> Message:
        """Store one message at the end of the session; returns it with its ``seq``."""
        user_id, session_id = check_user_id(user_id), check_session_id(session_id)
        role = check_role(role)
        content = check_content(content, max_bytes=self.max_content_bytes)
        metadata = check_metadata(metadata)
        db, cache, relay = await self.stores()
        import_legacy = self._import_legacy
        while True:
            now = utcnow()
            async with db.transaction() as tx:
                seq = await _claim_next_seq(db, tx, user_id, session_id, now)
                if seq == 1 and import_legacy is not None:
                    message = None  # rolled back: history the seed left in ES takes seq 1..n first
                else:
                    message = Message(
                        message_id_for(session_id, seq), session_id, user_id, seq, role, content, now, metadata
                    )
                    await insert_messages(tx, relay, [message])
                    await tx.commit()
            if message is not None:
                break
            await import_legacy(user_id, session_id)
            import_legacy = None
        await self.after_commit(relay, cache, user_id, session_id, lambda c: c.message_appended(message))
        return message

    async def get_messages(self, user_id: str, session_id: str, *, last: int | None = None) -> list[Message]:
        """The session's complete history in ``seq`` order, whatever the cache holds.

        ``last=n`` reads only the newest ``n`` messages (still in ``seq`` order): what a chat turn
        sends, at a cost that does not grow with the session. Only complete reads fill the cache.
        """
        user_id, session_id = check_user_id(user_id), check_session_id(session_id)
        if last is not None and (isinstance(last, bool) or not isinstance(last, int) or last < 1):
            raise ValidationError(f"last must be a positive integer, not {last!r}")
        db, cache, relay = await self.stores()
        if cache is not None and relay.cache_trusted(session_id):
            try:
                cached = await cache.get_history(user_id, session_id, last=last)
            except StoreError as exc:
                logger.warning("cache read failed (%s); reading the database", exc)
                cached = None
            if cached is not None:
                return cached
        messages = await self._read_history(db, user_id, session_id, last)
        # history the seed left in Elasticsearch only is imported first (while ES is down, that raises)
        if not messages and self._import_legacy is not None and await self._import_legacy(user_id, session_id):
            messages = await self._read_history(db, user_id, session_id, last)
        if messages and last is None and cache is not None and relay.cache_trusted(session_id):
            try:
                await cache.fill_history(await _owned_session(db, user_id, session_id), messages)
            except (StoreError, NotFoundError) as exc:  # NotFound: deleted since; its tombstone keeps it out
                logger.warning("cache fill failed (%s)", exc)
        return messages

    @staticmethod
    async def _read_history(db: Database, user_id: str, session_id: str, last: int | None) -> list[Message]:
        """The user's session's messages (the newest ``last``, or all), in one statement (one snapshot)."""
        newest = "AND m.seq > s.last_seq - :last " if last is not None else ""
        rows = await db.execute_query(
            f"SELECT {MESSAGE_COLUMNS} FROM sessions s "  # noqa: S608
            f"JOIN messages m ON m.session_id = s.session_id {newest}"
            "WHERE s.session_id = :session_id AND s.user_id = :user_id AND s.is_active = 1 "
            "ORDER BY m.seq",
            {"session_id": session_id, "user_id": user_id, "last": last},
        )
        if not rows:
            await _owned_session(db, user_id, session_id)  # an empty session, or NotFound
        return [message_from_row(r) for r in rows]


async def _owned_session(db: Database, user_id: str, session_id: str) -> Session:
    """The user's active session; :class:`NotFoundError` for anyone else's."""
    rows = await db.execute_query(
        f"SELECT {SESSION_COLUMNS} FROM sessions "  # noqa: S608
        "WHERE session_id = :session_id AND user_id = :user_id AND is_active = 1",
        {"session_id": session_id, "user_id": user_id},
    )
    if not rows:
        raise NotFoundError(_NOT_FOUND.format(session_id=session_id, user_id=user_id))
    return session_from_row(rows[0])


async def load_messages(db: Database, message_ids: Sequence[str]) -> list[Message]:
    """Messages of active sessions by id, in (session, seq) order."""
    params = {f"m{i}": mid for i, mid in enumerate(message_ids)}
    placeholders = ", ".join(f":{name}" for name in params)
    rows = await db.execute_query(
        f"SELECT {MESSAGE_COLUMNS} FROM messages m JOIN sessions s ON s.session_id = m.session_id "  # noqa: S608
        f"WHERE m.message_id IN ({placeholders}) AND s.is_active = 1 ORDER BY m.session_id, m.seq",
        params,
    )
    return [message_from_row(r) for r in rows]


async def _claim_next_seq(db: Database, tx: Transaction, user_id: str, session_id: str, now: Any) -> int:
    """Take the session's next seq under its row lock, in one round trip; NotFound if not the user's."""
    params = {"now": now, "session_id": session_id, "user_id": user_id}
    where = "WHERE session_id = :session_id AND user_id = :user_id AND is_active = 1"
    if db.dialect == "mysql":
        seq = await tx.execute_insert(
            f"UPDATE sessions SET last_seq = LAST_INSERT_ID(last_seq + 1), updated_at = :now {where}",  # noqa: S608
            params,
        )
    else:
        rows = await tx.execute_query(
            f"UPDATE sessions SET last_seq = last_seq + 1, updated_at = :now {where} RETURNING last_seq",  # noqa: S608
            params,
        )
        seq = int(rows[0]["last_seq"]) if rows else 0
    if not seq:
        raise NotFoundError(_NOT_FOUND.format(session_id=session_id, user_id=user_id))
    return seq
