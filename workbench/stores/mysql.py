"""The services system of record: MySQL/MariaDB through a pooled ``aiomysql`` (PyMySQL inside).

Connections are ``utf8mb4``, ``DictCursor``, autocommit outside transactions; the pool
keeps socket I/O on the event loop without blocking it.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from workbench.errors import ConfigurationError, StoreError, StoreUnavailableError
from workbench.stores.base import Params, Row, bind

try:
    import aiomysql
    import pymysql
    from pymysql.constants import CLIENT
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ConfigurationError("the services profile needs: pip install 'workbench[services]'") from exc

__all__ = ["MySQLDatabase", "parse_mysql_url"]

_PLACEHOLDER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
# client errors of the server (syntax, constraint, data) are not worth a retry; the rest are
_CONNECTION_ERRORS = (pymysql.err.OperationalError, pymysql.err.InterfaceError, OSError, asyncio.TimeoutError)


@lru_cache(maxsize=512)
def to_pyformat(sql: str) -> str:
    """``:name`` placeholders as PyMySQL's ``%(name)s``, with literal ``%`` escaped."""
    return _PLACEHOLDER.sub(r"%(\1)s", sql.replace("%", "%%"))


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


def _translate(exc: BaseException) -> StoreError:
    if isinstance(exc, _CONNECTION_ERRORS):
        return StoreUnavailableError(str(exc) or type(exc).__name__, store="mysql")
    return StoreError(str(exc), store="mysql")


class _MySQLTransaction:
    def __init__(self, conn: aiomysql.Connection) -> None:
        self._conn = conn
        self.committed = False

    async def execute_query(self, sql: str, params: Params = None) -> list[Row]:
        async with self._conn.cursor(aiomysql.DictCursor) as cur:
            await cur.execute(to_pyformat(sql), bind(params, datetimes_as_text=False))
            return list(await cur.fetchall())

    async def execute_update(self, sql: str, params: Params = None) -> int:
        async with self._conn.cursor() as cur:
            return await cur.execute(to_pyformat(sql), bind(params, datetimes_as_text=False))

    async def execute_insert(self, sql: str, params: Params = None) -> int:
        async with self._conn.cursor() as cur:
            count = await cur.execute(to_pyformat(sql), bind(params, datetimes_as_text=False))
            return int(cur.lastrowid or 0) if count > 0 else 0

    async def execute_many(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> int:
        if not rows:
            return 0
        async with self._conn.cursor() as cur:
            return await cur.executemany(to_pyformat(sql), [bind(r, datetimes_as_text=False) for r in rows])

    async def commit(self) -> None:
        await self._conn.commit()
        self.committed = True


class MySQLDatabase:
    """The :class:`~workbench.stores.base.Database` of the services profile."""

    dialect: Literal["mysql"] = "mysql"
    name = "mysql"

    def __init__(self, pool: aiomysql.Pool) -> None:
        self._pool = pool

    @classmethod
    async def connect(cls, url: str, *, pool_size: int = 10, connect_timeout: float = 5.0) -> MySQLDatabase:
        try:
            pool = await aiomysql.create_pool(
                **parse_mysql_url(url),
                minsize=1,
                maxsize=pool_size,
                charset="utf8mb4",
                autocommit=True,
                connect_timeout=connect_timeout,
                pool_recycle=3600,
                client_flag=CLIENT.FOUND_ROWS,
                init_command="SET SESSION sql_mode='STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION'",
            )
        except Exception as exc:
            raise _translate(exc) from exc
        return cls(pool)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[aiomysql.Connection]:
        try:
            async with self._pool.acquire() as conn:
                yield conn
        except (StoreError, asyncio.CancelledError):
            raise
        except Exception as exc:
            raise _translate(exc) from exc

    async def execute_query(self, sql: str, params: Params = None) -> list[Row]:
        async with self._connection() as conn:
            return await _MySQLTransaction(conn).execute_query(sql, params)

    async def execute_update(self, sql: str, params: Params = None) -> int:
        async with self._connection() as conn:
            return await _MySQLTransaction(conn).execute_update(sql, params)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_MySQLTransaction]:
        async with self._connection() as conn:
            await conn.begin()
            tx = _MySQLTransaction(conn)
            try:
                yield tx
            finally:
                if not tx.committed:
                    await self._rollback(conn)

    async def _rollback(self, conn: aiomysql.Connection) -> None:
        try:
            await asyncio.shield(conn.rollback())
        except Exception:
            # a broken connection rolls back on the server when it drops; never reuse it
            conn.close()

    @asynccontextmanager
    async def advisory_lock(self, name: str) -> AsyncIterator[None]:
        async with self._connection() as conn:
            lock = _MySQLTransaction(conn)
            rows = await lock.execute_query("SELECT GET_LOCK(:name, 60) AS got", {"name": name})
            if rows[0]["got"] != 1:
                raise StoreUnavailableError(f"could not take lock {name!r} within 60 s", store="mysql")
            try:
                yield
            finally:
                await lock.execute_query("SELECT RELEASE_LOCK(:name) AS released", {"name": name})

    async def ping(self) -> dict[str, Any]:
        start = time.perf_counter()
        rows = await self.execute_query("SELECT VERSION() AS version")
        return {"version": rows[0]["version"], "latency_ms": (time.perf_counter() - start) * 1000}

    async def aclose(self) -> None:
        self._pool.close()
        await self._pool.wait_closed()
