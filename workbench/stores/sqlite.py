"""The embedded system of record: one SQLite file in WAL mode, driven through ``aiosqlite``.

Writes go through one connection and are serialised by a lock (``BEGIN IMMEDIATE``);
reads use a second connection, which in WAL mode sees only committed data.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import sqlite3
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import aiosqlite

from workbench.errors import StoreError, StoreUnavailableError
from workbench.stores.base import Params, Row, Rows, bind, bind_rows, positional

__all__ = ["SQLiteDatabase"]

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=10000",
    "PRAGMA foreign_keys=ON",
)


def _translate(exc: sqlite3.Error) -> StoreError:
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return StoreUnavailableError(str(exc), store="sqlite")
    return StoreError(str(exc), store="sqlite")


class _SQLiteTransaction:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self.committed = False

    async def execute_query(self, sql: str, params: Params = None) -> list[Row]:
        return await _query(self._conn, sql, params)

    async def execute_update(self, sql: str, params: Params = None) -> int:
        cursor = await self._conn.execute(sql, bind(params, datetimes_as_text=True))
        return cursor.rowcount

    async def execute_insert(self, sql: str, params: Params = None) -> int:
        cursor = await self._conn.execute(sql, bind(params, datetimes_as_text=True))
        return int(cursor.lastrowid or 0) if cursor.rowcount > 0 else 0

    async def execute_many(self, sql: str, rows: Rows) -> int:
        if rows and not isinstance(rows[0], Mapping):  # tuples: ``?`` placeholders, bound by position
            cursor = await self._conn.executemany(positional(sql, "?"), bind_rows(rows, datetimes_as_text=True))
        else:
            cursor = await self._conn.executemany(sql, [bind(r, datetimes_as_text=True) for r in rows])
        return cursor.rowcount

    async def commit(self) -> None:
        await self._conn.execute("COMMIT")
        self.committed = True


async def _query(conn: aiosqlite.Connection, sql: str, params: Params) -> list[Row]:
    # execute and fetch in one worker call: a statement left open between two calls would hold
    # the connection's read snapshot, and a concurrent query on it would read stale data
    rows = await conn.execute_fetchall(sql, bind(params, datetimes_as_text=True))
    return [dict(row) for row in rows]


class SQLiteDatabase:
    """The :class:`~workbench.stores.base.Database` of the embedded profile."""

    dialect: Literal["sqlite"] = "sqlite"
    name = "sqlite"

    def __init__(self, writer: aiosqlite.Connection, reader: aiosqlite.Connection, path: Path) -> None:
        self._writer = writer
        self._reader = reader
        self._write_lock = asyncio.Lock()
        self.path = path

    @classmethod
    async def connect(cls, path: Path) -> SQLiteDatabase:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            writer = await aiosqlite.connect(path, isolation_level=None)
            reader = await aiosqlite.connect(path, isolation_level=None)
            for conn in (writer, reader):
                conn.row_factory = sqlite3.Row
                for pragma in _PRAGMAS:
                    await conn.execute(pragma)
        except sqlite3.Error as exc:
            raise _translate(exc) from exc
        return cls(writer, reader, path)

    async def execute_query(self, sql: str, params: Params = None) -> list[Row]:
        try:
            return await _query(self._reader, sql, params)
        except sqlite3.Error as exc:
            raise _translate(exc) from exc

    async def execute_update(self, sql: str, params: Params = None) -> int:
        async with self.transaction() as tx:
            count = await tx.execute_update(sql, params)
            await tx.commit()
        return count

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_SQLiteTransaction]:
        async with self._write_lock:
            tx = _SQLiteTransaction(self._writer)
            try:
                await self._writer.execute("BEGIN IMMEDIATE")
                yield tx
            except sqlite3.Error as exc:
                await self._rollback(tx)
                raise _translate(exc) from exc
            except BaseException:
                await self._rollback(tx)
                raise
            else:
                await self._rollback(tx)

    async def _rollback(self, tx: _SQLiteTransaction) -> None:
        if tx.committed:
            return
        # Queued behind whatever a cancelled caller left running in the worker thread (aiosqlite
        # runs statements in order), so it ends that transaction too; there may be none left to end.
        with contextlib.suppress(sqlite3.OperationalError):
            await asyncio.shield(self._writer.execute("ROLLBACK"))

    @asynccontextmanager
    async def advisory_lock(self, name: str) -> AsyncIterator[None]:
        lock_path = self.path.with_name(f"{self.path.name}.{name}.lock")
        with lock_path.open("a") as handle:
            delay = 0.005
            while True:  # polled, not blocking in a thread, so cancelling the waiter leaves no lock behind
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 0.1)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    async def ping(self) -> dict[str, Any]:
        start = time.perf_counter()
        rows = await self.execute_query("SELECT sqlite_version() AS version")
        return {
            "version": rows[0]["version"],
            "latency_ms": (time.perf_counter() - start) * 1000,
            "where": str(self.path),
        }

    async def aclose(self) -> None:
        await self._reader.close()
        await self._writer.close()
