"""The ``graph`` projection of the embedded profile: the ``message_terms`` table of docs/contracts.md.

One row per (message, term), terms from :func:`workbench.text.extract_terms`; the analysis
builds co-occurrence and user/session graphs from SQL aggregates over it (self-join on
``message_id``) and hands only those aggregates to networkx.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from workbench.models import Message, Session
from workbench.stores.sqlite_projection import SQLiteProjection
from workbench.text import extract_terms

__all__ = ["SQLiteTermGraph"]


def _rows(messages: Sequence[Message]) -> list[dict[str, Any]]:
    return [
        {
            "message_id": m.message_id,
            "session_id": m.session_id,
            "user_id": m.user_id,
            "term": term,
            "created_at": m.timestamp,
        }
        for m in messages
        for term in extract_terms(m.content)
    ]


class SQLiteTermGraph(SQLiteProjection):
    """Which message mentions which term, for the in-process term graph."""

    target = "graph"
    schema = (
        """CREATE TABLE IF NOT EXISTS message_terms (
            message_id TEXT NOT NULL,
            session_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            term TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (message_id, term)
        )""",
        "CREATE INDEX IF NOT EXISTS idx_message_terms_term ON message_terms (term)",
        "CREATE INDEX IF NOT EXISTS idx_message_terms_user_term ON message_terms (user_id, term)",
        "CREATE INDEX IF NOT EXISTS idx_message_terms_session ON message_terms (session_id)",
    )
    tables = ("message_terms",)
    delete_session_sql = ("DELETE FROM message_terms WHERE session_id = :session_id AND user_id = :user_id",)

    async def upsert_messages(self, messages: Sequence[Message], sessions: Sequence[Session] = ()) -> None:
        """``sessions`` need nothing here (see :meth:`upsert_sessions`)."""
        if not messages:
            return
        rows = await asyncio.to_thread(_rows, messages)  # segmenting is CPU work: off the event loop
        async with self.db.transaction() as tx:
            ids = [{"message_id": m.message_id} for m in messages]
            await tx.execute_many("DELETE FROM message_terms WHERE message_id = :message_id", ids)
            if rows:
                await tx.execute_many(
                    "INSERT INTO message_terms (message_id, session_id, user_id, term, created_at) "
                    "VALUES (:message_id, :session_id, :user_id, :term, :created_at)",
                    rows,
                )
            await tx.commit()
