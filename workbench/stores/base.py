"""The small interfaces the repositories talk to; each backend module implements one.

* :class:`Database` -- the system of record (SQLite embedded, MySQL/MariaDB on services).
* :class:`MessageCache` -- an optional cache that holds a session's complete history or nothing.
* :class:`Projection` -- a derived store (search, graph) fed from the outbox, rebuildable at any time.

SQL is written once with ``:name`` placeholders; every value travels as a parameter, by name
(a mapping) or, for :meth:`Transaction.execute_many`, by position (a tuple per row: the fastest
way to send many rows, with no dict per row).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal, Protocol, runtime_checkable

from workbench.models import Message, Session

__all__ = [
    "Database",
    "MessageCache",
    "Projection",
    "Row",
    "Rows",
    "SessionKey",
    "Transaction",
    "bind",
    "bind_rows",
    "positional",
    "read_datetime",
]

Row = dict[str, Any]
Params = Mapping[str, Any] | None
# many rows for one statement: each a mapping (bound by name) or a tuple (bound by position)
Rows = Sequence[Mapping[str, Any]] | Sequence[Sequence[Any]]
SessionKey = tuple[str, str]  # (user_id, session_id)


SQL_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
PLACEHOLDER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")  # ``:name``, not ``::cast`` nor ``a:b``


def _bind_datetime(value: datetime, datetimes_as_text: bool) -> datetime | str:
    naive = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    return naive.strftime(SQL_DATETIME_FORMAT) if datetimes_as_text else naive


def bind(params: Params, *, datetimes_as_text: bool) -> dict[str, Any]:
    """Parameters ready for the driver: aware datetimes become naive UTC (or its text)."""
    bound = dict(params or {})
    for key, value in bound.items():
        if isinstance(value, datetime):
            bound[key] = _bind_datetime(value, datetimes_as_text)
    return bound


def bind_rows(rows: Sequence[Sequence[Any]], *, datetimes_as_text: bool) -> list[tuple[Any, ...]]:
    """Positional rows ready for the driver, datetimes as :func:`bind` makes them."""
    return [tuple(_bind_datetime(v, datetimes_as_text) if isinstance(v, datetime) else v for v in row) for row in rows]


@lru_cache(maxsize=512)
def positional(sql: str, marker: str) -> str:
    """``sql`` with each ``:name`` placeholder replaced by the driver's positional ``marker`` (``?``, ``%s``).

    Positional rows then give one value per placeholder, in the order the placeholders appear
    (a name written twice takes two values).
    """
    return PLACEHOLDER.sub(lambda _: marker, sql)


def read_datetime(value: datetime | str) -> datetime:
    """A datetime column as an aware UTC datetime, whichever driver read it."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Transaction(Protocol):
    """Statements inside one transaction; it rolls back unless :meth:`commit` is called."""

    async def execute_query(self, sql: str, params: Params = None) -> list[Row]: ...

    async def execute_update(self, sql: str, params: Params = None) -> int: ...

    async def execute_many(self, sql: str, rows: Rows) -> int:
        """Run ``sql`` once per row (a multi-row ``INSERT`` is one round trip); the rows it touched.

        Rows are all mappings (bound by name) or all tuples (bound by position: see :func:`positional`).
        """
        ...

    async def execute_insert(self, sql: str, params: Params = None) -> int:
        """Run ``sql`` and return the id it generated (``LAST_INSERT_ID()``, or 0 if no row matched)."""
        ...

    async def commit(self) -> None: ...


class Database(Protocol):
    """A pooled SQL database whose blocking work never runs on the event loop."""

    dialect: Literal["sqlite", "mysql"]
    name: str

    async def execute_query(self, sql: str, params: Params = None) -> list[Row]: ...

    async def execute_update(self, sql: str, params: Params = None) -> int: ...

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """A write transaction (``BEGIN IMMEDIATE`` on SQLite); rolls back unless committed."""
        ...

    def advisory_lock(self, name: str) -> AbstractAsyncContextManager[None]:
        """Hold a lock named ``name`` across processes (outbox draining, migrations)."""
        ...

    async def ping(self) -> dict[str, Any]:
        """Version and round-trip time; raises StoreUnavailableError when unreachable."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class MessageCache(Protocol):
    """A cache of session lists and histories that is complete or empty, never partial."""

    name: str

    async def get_history(self, user_id: str, session_id: str, *, last: int | None = None) -> list[Message] | None:
        """The cached history (its newest ``last`` messages, if given), or ``None`` on a miss (or when
        the cache cannot be trusted)."""
        ...

    async def fill_history(self, session: Session, messages: Sequence[Message]) -> None:
        """Cache ``messages`` of ``session`` (read from the database) unless an append or a delete raced it."""
        ...

    async def message_appended(self, message: Message) -> None:
        """Extend a cached history that ends at ``seq - 1``; drop any other cached history."""
        ...

    async def session_saved(self, session: Session) -> None: ...

    async def session_deleted(self, user_id: str, session_id: str) -> None: ...

    async def invalidate(self, user_id: str, session_id: str) -> None:
        """Drop the cached history of one session (it is rebuilt on the next read)."""
        ...

    async def repair(self, sessions: Sequence[tuple[str, str, int | None]]) -> list[int]:
        """The relay's check per ``(user_id, session_id, committed last_seq or None if deleted)``.

        Drops a cached history shorter than ``last_seq`` (and keeps any fill read before that
        commit out); tombstones a deleted session.
        """
        ...

    async def ping(self) -> dict[str, Any]: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class Projection(Protocol):
    """A derived store kept up to date from the outbox; every write is idempotent."""

    target: str  # the outbox target it consumes, e.g. "search" or "graph"

    async def ensure_schema(self) -> None: ...

    async def upsert_sessions(self, sessions: Sequence[Session]) -> None: ...

    async def upsert_messages(self, messages: Sequence[Message], sessions: Sequence[Session] = ()) -> None:
        """Write ``messages``; ``sessions`` are session changes applied before them, in the same write
        (the relay passes a batch's session events with its message events: one bulk request, one transaction)."""
        ...

    async def delete_sessions(self, sessions: Sequence[SessionKey]) -> None:
        """Remove the sessions and every message of theirs, for real."""
        ...

    async def clear(self) -> None:
        """Remove everything (before a full rebuild)."""
        ...

    async def ping(self) -> dict[str, Any]: ...

    async def aclose(self) -> None: ...
