"""What the embedded projections share: tables in the system-of-record SQLite file, fed by the relay.

Each projection owns a few tables beside the versioned schema (created with ``IF NOT EXISTS``
by :meth:`ensure_schema`, never by a migration), keyed by deterministic message ids, so
re-applying a message replaces its rows. Session names and counters are read from the
``sessions`` table itself, so a session change needs no projection write.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from workbench.models import Session
from workbench.stores.base import SessionKey
from workbench.stores.sqlite import SQLiteDatabase

__all__ = ["SQLiteProjection"]


class SQLiteProjection:
    """Base of the embedded :class:`~workbench.stores.base.Projection` targets."""

    target: ClassVar[str]
    schema: ClassVar[tuple[str, ...]]  # DDL, each statement idempotent
    tables: ClassVar[tuple[str, ...]]  # emptied by clear()
    delete_session_sql: ClassVar[tuple[str, ...]]  # run for each (user_id, session_id), in order

    def __init__(self, db: SQLiteDatabase) -> None:
        self.db = db

    async def ensure_schema(self) -> None:
        async with self.db.transaction() as tx:
            for ddl in self.schema:
                await tx.execute_update(ddl)
            await tx.commit()

    async def upsert_sessions(self, sessions: Sequence[Session]) -> None:
        """Nothing to do: names and counters are read from ``sessions`` in the same file."""

    async def delete_sessions(self, sessions: Sequence[SessionKey]) -> None:
        rows = [{"user_id": user_id, "session_id": session_id} for user_id, session_id in sessions]
        if not rows:
            return
        async with self.db.transaction() as tx:
            for sql in self.delete_session_sql:
                await tx.execute_many(sql, rows)
            await tx.commit()

    async def clear(self) -> None:
        async with self.db.transaction() as tx:
            for table in self.tables:
                await tx.execute_update(f"DELETE FROM {table}")  # noqa: S608 - a class constant
            await tx.commit()

    async def ping(self) -> dict[str, Any]:
        info = await self.db.ping()
        counts = [await self.db.execute_query(f"SELECT COUNT(*) AS n FROM {t}") for t in self.tables]  # noqa: S608
        info["rows"] = {t: int(c[0]["n"]) for t, c in zip(self.tables, counts, strict=True)}
        return info

    async def aclose(self) -> None:
        """Nothing to close: the database belongs to the stores."""
