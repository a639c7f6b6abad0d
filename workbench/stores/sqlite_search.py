"""The ``search`` projection of the embedded profile: SQLite FTS5 in the system-of-record file.

``search_fts`` indexes ``workbench.text.segment_for_index(content)`` (jieba search mode, so
数据分析 is indexed as 数据, 分析 and 数据分析) with the ``unicode61`` tokenizer, which then
only splits on the spaces already there; apostrophes stay inside words, as the segmenter
keeps them. ``search_messages`` maps each FTS row to its message and keeps user, session,
role and time filterable through ordinary indexes. Content itself is read from ``messages``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from workbench.models import Message, Session
from workbench.stores.sqlite_projection import SQLiteProjection
from workbench.text import segment_for_index

__all__ = ["SQLiteSearchIndex"]


def _rows(messages: Sequence[Message]) -> list[dict[str, Any]]:
    return [
        {
            "message_id": m.message_id,
            "session_id": m.session_id,
            "user_id": m.user_id,
            "role": str(m.role),
            "seq": m.seq,
            "created_at": m.timestamp,
            "tokens": segment_for_index(m.content),
        }
        for m in messages
    ]


class SQLiteSearchIndex(SQLiteProjection):
    """FTS5 over every message of the active sessions."""

    target = "search"
    schema = (
        """CREATE TABLE IF NOT EXISTS search_messages (
            doc_id INTEGER PRIMARY KEY,
            message_id TEXT NOT NULL UNIQUE,
            session_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            role TEXT NOT NULL,
            seq INTEGER NOT NULL,
            created_at TEXT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS idx_search_messages_session ON search_messages (session_id)",
        "CREATE INDEX IF NOT EXISTS idx_search_messages_user_time ON search_messages (user_id, created_at)",
        "CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5("
        "tokens, tokenize = \"unicode61 remove_diacritics 0 tokenchars '''’'\")",
    )
    tables = ("search_fts", "search_messages")
    delete_session_sql = (
        "DELETE FROM search_fts WHERE rowid IN "
        "(SELECT doc_id FROM search_messages WHERE session_id = :session_id AND user_id = :user_id)",
        "DELETE FROM search_messages WHERE session_id = :session_id AND user_id = :user_id",
    )

    async def upsert_messages(self, messages: Sequence[Message], sessions: Sequence[Session] = ()) -> None:
        """``sessions`` need nothing here (see :meth:`upsert_sessions`)."""
        if not messages:
            return
        rows = await asyncio.to_thread(_rows, messages)  # segmenting is CPU work: off the event loop
        async with self.db.transaction() as tx:
            await tx.execute_many(
                "INSERT INTO search_messages (message_id, session_id, user_id, role, seq, created_at) "
                "VALUES (:message_id, :session_id, :user_id, :role, :seq, :created_at) "
                "ON CONFLICT (message_id) DO UPDATE SET session_id = excluded.session_id, user_id = excluded.user_id, "
                "role = excluded.role, seq = excluded.seq, created_at = excluded.created_at",
                rows,
            )
            # the doc_id of a message never changes, so its FTS row is replaced in place
            await tx.execute_many(
                "DELETE FROM search_fts WHERE rowid = "
                "(SELECT doc_id FROM search_messages WHERE message_id = :message_id)",
                rows,
            )
            await tx.execute_many(
                "INSERT INTO search_fts (rowid, tokens) "
                "SELECT doc_id, :tokens FROM search_messages WHERE message_id = :message_id",
                rows,
            )
            await tx.commit()
