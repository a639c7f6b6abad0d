"""Bulk import of whole conversations (sample data, ShareGPT / OpenAI JSONL exports).

One transaction per conversation writes the user, the session, every message (seq 1..n, in
the order given, with its original timestamp) and the outbox rows for the derived stores.
The session id is derived from the user and the conversation's id in its source, so
importing the same conversation again finds it and writes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from workbench.errors import ValidationError
from workbench.models import (
    DEFAULT_SESSION_NAME,
    Message,
    Role,
    as_utc,
    check_content,
    check_metadata,
    check_role,
    check_session_name,
    check_user_id,
    message_id_for,
)
from workbench.repositories import insert_messages
from workbench.stores.base import Database

if TYPE_CHECKING:
    from workbench.outbox import OutboxRelay

__all__ = ["ImportedMessage", "import_session", "session_id_for"]

# (role, content, timestamp, metadata)
ImportedMessage = tuple[Role | str, str, datetime, dict[str, Any] | None]

_NAMESPACE = uuid.UUID("b0f5c7d2-3a61-5e4c-9d18-6c2f4a8e1b37")


def session_id_for(user_id: str, external_id: str) -> str:
    """The deterministic session id of conversation ``external_id`` imported for ``user_id``."""
    return str(uuid.uuid5(_NAMESPACE, f"{user_id}\x00{external_id}"))  # a user id never holds NUL


def _check_time(value: object, what: str) -> datetime:
    if not isinstance(value, datetime):
        raise ValidationError(f"{what} must be a datetime, not {type(value).__name__}")
    return as_utc(value)


async def import_session(
    db: Database,
    relay: OutboxRelay,
    *,
    user_id: str,
    external_id: str,
    name: str | None,
    created_at: datetime,
    messages: Sequence[ImportedMessage],
    max_content_bytes: int,
    username: str | None = None,
    notify: bool = True,
) -> bool:
    """Create the conversation as a session unless it was imported before; True if it is new.

    Everything is validated before anything is written; nothing is half-written. A bulk
    loader passes ``notify=False`` and drains the relay once at the end (``wb.sync()``).
    """
    user_id = check_user_id(user_id)
    if not isinstance(external_id, str) or not external_id.strip():
        raise ValidationError("external_id must be a non-empty string")
    name = DEFAULT_SESSION_NAME if name is None or not str(name).strip() else check_session_name(name)
    created_at = _check_time(created_at, "created_at")
    session_id = session_id_for(user_id, external_id)
    turns = [
        Message(
            message_id=message_id_for(session_id, seq),
            session_id=session_id,
            user_id=user_id,
            seq=seq,
            role=check_role(role),
            content=check_content(content, max_bytes=max_content_bytes),
            timestamp=_check_time(timestamp, f"timestamp of message {seq}"),
            metadata=check_metadata(metadata),
        )
        for seq, (role, content, timestamp, metadata) in enumerate(messages, start=1)
    ]
    insert_ignore = "INSERT OR IGNORE" if db.dialect == "sqlite" else "INSERT IGNORE"
    async with db.transaction() as tx:
        await tx.execute_update(
            f"{insert_ignore} INTO users (user_id, username, created_at) VALUES (:user_id, :username, :created_at)",
            {"user_id": user_id, "username": username or f"用户_{user_id[:8]}", "created_at": created_at},
        )
        created = await tx.execute_update(
            f"{insert_ignore} INTO sessions (session_id, user_id, name, created_at, updated_at, is_active, last_seq) "
            "VALUES (:session_id, :user_id, :name, :created_at, :updated_at, 1, :last_seq)",
            {
                "session_id": session_id,
                "user_id": user_id,
                "name": name,
                "created_at": created_at,
                "updated_at": max([created_at, *(m.timestamp for m in turns)]),
                "last_seq": len(turns),
            },
        )
        if not created:
            return False  # imported before (and perhaps deleted since): leave it as it is
        await insert_messages(tx, relay, turns, new_session=(user_id, session_id))
        await tx.commit()
    if notify:
        relay.notify()
    return True
