"""The services system of record: MySQL/MariaDB through a pooled ``aiomysql`` (PyMySQL inside).

Connections are ``utf8mb4``, ``DictCursor``, autocommit outside transactions; the pool
keeps socket I/O on the event loop without blocking it. Every round trip has a deadline,
so a hung server fails the call instead of the process; a connection left mid-statement
(timeout, lost, cancelled) is closed, never handed back to the pool.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from workbench.errors import ConfigurationError, StoreError, StoreUnavailableError
from workbench.stores.base import PLACEHOLDER, Params, Row, Rows, bind, positional

try:
    import aiomysql
    import pymysql
    from pymysql.constants import CLIENT
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ConfigurationError("the services profile needs: pip install 'workbench[services]'") from exc

__all__ = ["MySQLDatabase", "parse_mysql_url"]

_DRIVER_ERRORS = (pymysql.err.MySQLError, OSError)  # OSError covers TimeoutError
# server errors worth a retry: too many connections, shutdown, lock wait timeout, deadlock,
# connection killed, statement timeout (max_statement_time)
_RETRYABLE_SERVER_ERRORS = frozenset({1040, 1053, 1205, 1213, 1927, 1969})
_LOCK_WAIT_SECONDS = 60


@lru_cache(maxsize=512)
def to_pyformat(sql: str) -> str:
    """``:name`` placeholders as PyMySQL's ``%(name)s``, with literal ``%`` escaped."""
    return PLACEHOLDER.sub(r"%(\1)s", sql.replace("%", "%%"))


def parse_mysql_url(url: str) -> dict[str, Any]:
    """Connection arguments from ``mysql://user:password@host:port/database``."""
    parts = urlsplit(url)
    if parts.scheme.split("+")[0] not in ("mysql", "mariadb"):
        raise ConfigurationError(f"MYSQL_URL must start with mysql://, not {parts.scheme}://")
    database = parts.path.lstrip("/")
    if not database:
        raise ConfigurationError("MYSQL_URL must name a database: mysql://user:pw@host:3306/NAME")
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 3306,
        "user": unquote(parts.username or "root"),
        "password": unquote(parts.password or ""),
        "db": database,
    }


def _unavailable(exc: BaseException) -> bool:
    """The server could not be reached or did not answer (as opposed to answering with an error)."""
    if isinstance(exc, OSError | pymysql.err.InterfaceError):
        return True
    if isinstance(exc, pymysql.err.OperationalError):
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
        return 2000 <= code < 3000 or code in _RETRYABLE_SERVER_ERRORS  # 2xxx: client-side CR_* errors
    return False


class _Cursor(aiomysql.Cursor):
    """A cursor that does not fetch the server's warnings: its notes (``IF NOT EXISTS``,
    ``INSERT IGNORE``) are expected, and aiomysql would spend a ``SHOW WARNINGS`` round trip on each.

    Positional rows are escaped as PyMySQL does, an aware datetime first made naive UTC in the
    same pass (as :func:`~workbench.stores.base.bind` does for named parameters): no copy of a row.
    """

    async def _show_warnings(self, conn: aiomysql.Connection) -> None:
        return None

    def _escape_args(self, args: Any, conn: aiomysql.Connection) -> Any:
        if isinstance(args, tuple | list):
            escape = conn.escape
            return tuple(
                escape(v.astimezone(UTC).replace(tzinfo=None) if isinstance(v, datetime) and v.tzinfo else v)
                for v in args
            )
        return super()._escape_args(args, conn)


class _DictCursor(aiomysql.DictCursor, _Cursor):
    pass


def _translate(exc: BaseException) -> StoreError:
    if _unavailable(exc):
        return StoreUnavailableError(str(exc) or type(exc).__name__, store="mysql")
    return StoreError(str(exc), store="mysql")


class _MySQLTransaction:
    def __init__(self, conn: aiomysql.Connection, timeout: float) -> None:
        self._conn = conn
        self._timeout = timeout
        self.committed = False

    @asynccontextmanager
    async def _deadline(self) -> AsyncIterator[None]:
        """One round trip within the timeout; a connection it leaves in an unknown state is closed."""
        try:
            async with asyncio.timeout(self._timeout):
                yield
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError) or _unavailable(exc):
                self._conn.close()  # the server rolls back what it held
            raise

    async def execute_query(self, sql: str, params: Params = None) -> list[Row]:
        async with self._deadline(), self._conn.cursor(_DictCursor) as cur:
            await cur.execute(to_pyformat(sql), bind(params, datetimes_as_text=False))
            return list(await cur.fetchall())

    async def execute_update(self, sql: str, params: Params = None) -> int:
        async with self._deadline(), self._conn.cursor(_Cursor) as cur:
            return await cur.execute(to_pyformat(sql), bind(params, datetimes_as_text=False))

    async def execute_insert(self, sql: str, params: Params = None) -> int:
        async with self._deadline(), self._conn.cursor(_Cursor) as cur:
            count = await cur.execute(to_pyformat(sql), bind(params, datetimes_as_text=False))
            return int(cur.lastrowid or 0) if count > 0 else 0

    async def execute_many(self, sql: str, rows: Rows) -> int:
        if not rows:
            return 0
        if isinstance(rows[0], Mapping):
            statement, args = to_pyformat(sql), [bind(r, datetimes_as_text=False) for r in rows]
        else:  # tuples, passed as they are: the cursor converts datetimes as it escapes (no dict, no copy)
            statement, args = positional(sql.replace("%", "%%"), "%s"), rows
        async with self._deadline(), self._conn.cursor(_Cursor) as cur:
            return await cur.executemany(statement, args)

    async def begin(self) -> None:
        async with self._deadline():
            await self._conn.begin()

    async def commit(self) -> None:
        async with self._deadline():
            await self._conn.commit()
        self.committed = True

    async def rollback(self) -> None:
        """Roll back, or close the connection (which rolls back on the server) if that fails."""
        if self._conn.closed:
            return
        try:
            async with self._deadline():
                await self._conn.rollback()
        except Exception:
            self._conn.close()


class MySQLDatabase:
    """The :class:`~workbench.stores.base.Database` of the services profile."""

    dialect: Literal["mysql"] = "mysql"
    name = "mysql"

    def __init__(self, pool: aiomysql.Pool, *, database: str, timeout: float) -> None:
        self._pool = pool
        self._database = database
        self._timeout = timeout

    @classmethod
    async def connect(
        cls, url: str, *, pool_size: int = 10, connect_timeout: float = 5.0, statement_timeout: float = 30.0
    ) -> MySQLDatabase:
        """A pool on ``url``; ``statement_timeout`` bounds each round trip (and waiting for a connection)."""
        args = parse_mysql_url(url)
        try:
            async with asyncio.timeout(connect_timeout):  # aiomysql bounds only the TCP connect itself
                pool = await aiomysql.create_pool(
                    **args,
                    minsize=1,
                    maxsize=pool_size,
                    charset="utf8mb4",
                    autocommit=True,
                    connect_timeout=connect_timeout,
                    pool_recycle=3600,
                    client_flag=CLIENT.FOUND_ROWS,  # UPDATE counts matched rows, not changed ones
                    init_command="SET SESSION sql_mode='STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION'",
                )
        except _DRIVER_ERRORS as exc:
            raise _translate(exc) from exc
        return cls(pool, database=args["db"], timeout=statement_timeout)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[aiomysql.Connection]:
        """A pooled connection; driver errors come out as StoreError, anything else unchanged."""
        try:
            async with asyncio.timeout(self._timeout):
                conn = await self._pool.acquire()
        except _DRIVER_ERRORS as exc:
            raise _translate(exc) from exc
        try:
            yield conn
        except _DRIVER_ERRORS as exc:
            raise _translate(exc) from exc
        finally:
            await self._pool.release(conn)

    async def execute_query(self, sql: str, params: Params = None) -> list[Row]:
        async with self._connection() as conn:
            return await _MySQLTransaction(conn, self._timeout).execute_query(sql, params)

    async def execute_update(self, sql: str, params: Params = None) -> int:
        async with self._connection() as conn:
            return await _MySQLTransaction(conn, self._timeout).execute_update(sql, params)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_MySQLTransaction]:
        async with self._connection() as conn:
            tx = _MySQLTransaction(conn, self._timeout)
            await tx.begin()
            try:
                yield tx
            finally:
                if not tx.committed:
                    await tx.rollback()

    @asynccontextmanager
    async def advisory_lock(self, name: str) -> AsyncIterator[None]:
        """``GET_LOCK`` on one connection; lock names are server-wide, so they carry the database's."""
        lock = {"name": f"{self._database}.{name}", "wait": _LOCK_WAIT_SECONDS}
        async with self._connection() as conn:
            session = _MySQLTransaction(conn, _LOCK_WAIT_SECONDS + self._timeout)
            rows = await session.execute_query("SELECT GET_LOCK(:name, :wait) AS got", lock)
            if rows[0]["got"] != 1:
                raise StoreUnavailableError(f"lock {name!r} not free within {_LOCK_WAIT_SECONDS} s", store="mysql")
            try:
                yield
            finally:
                if not conn.closed:
                    try:
                        await session.execute_query("SELECT RELEASE_LOCK(:name) AS released", lock)
                    except Exception:
                        conn.close()  # ending the session releases its locks too

    async def ping(self) -> dict[str, Any]:
        start = time.perf_counter()
        rows = await self.execute_query("SELECT VERSION() AS version")
        return {"version": rows[0]["version"], "latency_ms": (time.perf_counter() - start) * 1000}

    async def aclose(self) -> None:
        self._pool.close()
        await self._pool.wait_closed()
