"""The seed's Elasticsearch-only history, and rebuilding the derived stores from the database.

The seed kept messages only in Elasticsearch, in two shapes (``seed/README.md``): the
``messages`` array of a session document (items ``{role, content, timestamp | ts}``) and
per-message documents ``msg_<session_id>_<epoch ms>`` whose ``message_order`` is always 0.
:class:`LegacyImporter` merges both into one ordered history and copies it into the
``messages`` table of a session that has none yet, with seqs 1..n, in one transaction;
the old document id is kept as ``metadata["legacy_id"]``. Importing is idempotent: a
session with messages is never imported again. The legacy documents are left in place
(they carry no ``doc_type``, so searches over ``doc_type: message`` never see them twice).

:func:`reindex` rebuilds the search index and the graph from the database; it imports
legacy history first, since clearing the index would destroy its only copy.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from workbench.errors import ConfigurationError, ValidationError
from workbench.models import Message, check_role, message_id_for
from workbench.repositories import (
    MESSAGE_COLUMNS,
    SESSION_COLUMNS,
    MessageRepository,
    insert_messages,
    message_from_row,
    session_from_row,
)
from workbench.stores.base import Database, MessageCache, Projection, read_datetime

if TYPE_CHECKING:
    from workbench.app import Workbench
    from workbench.bootstrap import Stores
    from workbench.models import Session
    from workbench.outbox import OutboxRelay
    from workbench.stores.elasticsearch import ElasticsearchIndex

__all__ = [
    "LegacyHistory",
    "LegacyImporter",
    "LegacyMessage",
    "import_legacy",
    "merge_legacy_history",
    "read_legacy_history",
    "reindex",
]

logger = logging.getLogger(__name__)

_MS_SUFFIX = re.compile(r"_(\d+)$")
_EPOCH_MS_ABOVE = 10**11  # a larger epoch number counts milliseconds, not seconds


@dataclass(frozen=True, slots=True)
class LegacyMessage:
    """One message of the seed's history, as found in Elasticsearch."""

    role: str
    content: str
    timestamp: datetime
    legacy_id: str


@dataclass(frozen=True, slots=True)
class LegacyHistory:
    """A session's merged legacy history, and what was left out of it."""

    messages: list[LegacyMessage]
    invalid: int = 0
    duplicates: int = 0


def _parse_timestamp(value: object) -> datetime | None:
    """An ISO string or an epoch number (seconds or milliseconds) as aware UTC; naive means UTC."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > _EPOCH_MS_ABOVE else value
        return datetime.fromtimestamp(seconds, UTC)
    if isinstance(value, str):
        try:
            return read_datetime(value.strip())
        except ValueError:
            return None
    return None


def merge_legacy_history(hits: Iterable[Mapping[str, Any]], *, session_created_at: datetime) -> LegacyHistory:
    """Both kinds of legacy document merged into one history.

    Ordered by timestamp, then session-array items before message documents, then array position
    (or the millisecond id); a message with identical role, content and timestamp is kept once.
    An item without a usable timestamp takes the session's creation time; one without a valid
    role or content is counted as invalid and left out.
    """
    keyed: list[tuple[tuple[datetime, int, int, str], LegacyMessage]] = []
    invalid = 0

    def add(item: object, legacy_id: str, rank: int, position: int) -> None:
        nonlocal invalid
        if not isinstance(item, Mapping):
            invalid += 1
            return
        content = item.get("content")
        try:
            role = str(check_role(item.get("role")))
        except ValidationError:
            role = ""
        if not role or not isinstance(content, str) or not content.strip() or "\x00" in content:
            invalid += 1
            return
        stamp = _parse_timestamp(item.get("timestamp", item.get("ts"))) or session_created_at
        keyed.append(((stamp, rank, position, legacy_id), LegacyMessage(role, content, stamp, legacy_id)))

    for hit in hits:
        source = hit.get("_source") or {}
        doc_id = str(hit["_id"])
        array = source.get("messages")
        if isinstance(array, list):  # a session document (message documents have no array)
            for position, item in enumerate(array):
                add(item, f"{doc_id}#messages[{position}]", 0, position)
        elif "content" in source or "role" in source:
            match = _MS_SUFFIX.search(doc_id)
            add(source, doc_id, 1, int(match.group(1)) if match else 0)
    keyed.sort(key=lambda pair: pair[0])
    seen: set[tuple[str, str, datetime]] = set()
    messages: list[LegacyMessage] = []
    for _, message in keyed:
        identity = (message.role, message.content, message.timestamp)
        if identity not in seen:
            seen.add(identity)
            messages.append(message)
    return LegacyHistory(messages, invalid=invalid, duplicates=len(keyed) - len(messages))


async def read_legacy_history(
    index: ElasticsearchIndex, user_id: str, session_id: str, *, session_created_at: datetime
) -> LegacyHistory:
    """The session's legacy documents of both kinds, merged (documents the workbench wrote are skipped)."""
    query = {
        "bool": {
            "filter": [{"term": {"user_id": user_id}}, {"term": {"session_id": session_id}}],
            "must_not": [{"term": {"doc_type": "message"}}],
        }
    }
    hits = [hit async for hit in index.scan(query)]
    return merge_legacy_history(hits, session_created_at=session_created_at)


class LegacyImporter:
    """Copies legacy Elasticsearch history into the database, session by session."""

    def __init__(self, db: Database, cache: MessageCache | None, relay: OutboxRelay, index: ElasticsearchIndex) -> None:
        self._db = db
        self._cache = cache
        self._relay = relay
        self._index = index
        self._cutoff: datetime | None = None

    @classmethod
    def from_stores(cls, stores: Stores) -> LegacyImporter | None:
        """The importer over the stores' Elasticsearch index, if they have one."""
        from workbench.stores.elasticsearch import ElasticsearchIndex

        index = next((p for p in stores.projections if isinstance(p, ElasticsearchIndex)), None)
        return None if index is None else cls(stores.db, stores.cache, stores.relay, index)

    async def _took_over_at(self) -> datetime:
        """When the database got its ``messages`` table: sessions created since have no legacy history."""
        if self._cutoff is None:
            rows = await self._db.execute_query("SELECT applied_at FROM schema_version WHERE version = 2")
            self._cutoff = read_datetime(rows[0]["applied_at"]) if rows else datetime.max.replace(tzinfo=UTC)
        return self._cutoff

    async def import_session(self, user_id: str, session_id: str) -> int:
        """Import one session's legacy history if it may have one and has no messages yet; how many."""
        rows = await self._db.execute_query(
            "SELECT created_at, last_seq FROM sessions "
            "WHERE session_id = :session_id AND user_id = :user_id AND is_active = 1",
            {"session_id": session_id, "user_id": user_id},
        )
        if not rows or int(rows[0]["last_seq"]):
            return 0
        created_at = read_datetime(rows[0]["created_at"])
        if created_at >= await self._took_over_at():
            return 0
        history = await read_legacy_history(self._index, user_id, session_id, session_created_at=created_at)
        return await self._store(user_id, session_id, history)

    async def _store(self, user_id: str, session_id: str, history: LegacyHistory) -> int:
        """Write the history as seqs 1..n in one transaction, unless the session got messages meanwhile."""
        if not history.messages:
            return 0
        messages = [
            Message(
                message_id_for(session_id, seq),
                session_id,
                user_id,
                seq,
                check_role(item.role),
                item.content,
                item.timestamp,
                {"legacy_id": item.legacy_id},
            )
            for seq, item in enumerate(history.messages, start=1)
        ]
        async with self._db.transaction() as tx:
            claimed = await tx.execute_update(
                "UPDATE sessions SET last_seq = :n "
                "WHERE session_id = :session_id AND user_id = :user_id AND is_active = 1 AND last_seq = 0",
                {"n": len(messages), "session_id": session_id, "user_id": user_id},
            )
            if not claimed:
                return 0
            await insert_messages(tx, self._relay, messages)
            await tx.commit()
        await MessageRepository.after_commit(
            self._relay, self._cache, user_id, session_id, lambda c: c.invalidate(user_id, session_id)
        )
        logger.info("imported %d legacy messages of session %s", len(messages), session_id)
        return len(messages)

    async def import_all(self, *, user_id: str | None = None, progress: bool = True) -> dict[str, int]:
        """Import every active session (of ``user_id``, or everyone's) that has no messages yet."""
        where = (
            "s.is_active = 1 AND s.last_seq = 0 "
            "AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.session_id = s.session_id)"
        )
        params: dict[str, Any] = {}
        if user_id is not None:
            where += " AND s.user_id = :user_id"
            params["user_id"] = user_id
        candidates = await self._db.execute_query(
            f"SELECT s.session_id, s.user_id, s.created_at FROM sessions s WHERE {where} "  # noqa: S608 - constants
            "ORDER BY s.created_at, s.session_id",
            params,
        )
        counts = ("sessions_checked", "sessions_imported", "messages_imported", "invalid", "duplicates")
        summary = dict.fromkeys(counts, 0)
        with tqdm(candidates, desc="import legacy", unit="session", disable=not progress) as bar:
            for row in bar:
                created_at = read_datetime(row["created_at"])
                history = await read_legacy_history(
                    self._index, row["user_id"], row["session_id"], session_created_at=created_at
                )
                imported = await self._store(row["user_id"], row["session_id"], history)
                summary["sessions_checked"] += 1
                summary["sessions_imported"] += bool(imported)
                summary["messages_imported"] += imported
                summary["invalid"] += history.invalid
                summary["duplicates"] += history.duplicates
                bar.set_postfix(messages=summary["messages_imported"])
        if summary["invalid"]:
            logger.warning("%d legacy items had no valid role or content and were not imported", summary["invalid"])
        return summary


async def import_legacy(wb: Workbench, *, user_id: str | None = None, progress: bool = True) -> dict[str, int]:
    """Copy the ES-only history of sessions without messages into the database; a summary of counts."""
    legacy = (await wb.stores()).legacy
    if legacy is None:
        raise ConfigurationError("legacy history lives in Elasticsearch: use the services profile")
    return await legacy.import_all(user_id=user_id, progress=progress)


# -- rebuilding the derived stores ----------------------------------------------------------------------


async def _session_pages(db: Database, scope: str, params: dict[str, Any], size: int) -> AsyncIterator[list[Session]]:
    """The active sessions in ``scope``, ``size`` at a time, by keyset on the session id."""
    after = ""
    while rows := await db.execute_query(
        f"SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.is_active = 1{scope} "  # noqa: S608 - constants
        "AND s.session_id > :after ORDER BY s.session_id LIMIT :limit",
        {**params, "after": after, "limit": size},
    ):
        yield [session_from_row(r) for r in rows]
        after = rows[-1]["session_id"]


async def _message_pages(db: Database, scope: str, params: dict[str, Any], size: int) -> AsyncIterator[list[Message]]:
    """Their messages, ``size`` at a time, by keyset on (session id, seq)."""
    session_id, seq = "", 0
    while rows := await db.execute_query(
        f"SELECT {MESSAGE_COLUMNS} FROM messages m JOIN sessions s ON s.session_id = m.session_id "  # noqa: S608
        f"WHERE s.is_active = 1{scope} AND (m.session_id > :sid OR (m.session_id = :sid AND m.seq > :seq)) "
        "ORDER BY m.session_id, m.seq LIMIT :limit",
        {**params, "sid": session_id, "seq": seq, "limit": size},
    ):
        yield [message_from_row(r) for r in rows]
        session_id, seq = rows[-1]["session_id"], int(rows[-1]["seq"])


async def reindex(
    wb: Workbench, *, user_id: str | None = None, batch_size: int = 500, progress: bool = True
) -> dict[str, Any]:
    """Rebuild every derived store from the database: all of it, or only ``user_id``'s sessions.

    Legacy history is imported first. The relays (of every process) are held off the targets
    meanwhile; changes committed during the rebuild wait in the outbox and are applied after it.
    """
    stores = await wb.stores()
    db, projections = stores.db, stores.projections
    summary: dict[str, Any] = {"targets": [p.target for p in projections], "sessions": 0, "messages": 0}
    if stores.legacy is not None:
        summary["legacy"] = await stores.legacy.import_all(user_id=user_id, progress=progress)
    scope, params = ("", {}) if user_id is None else (" AND s.user_id = :user_id", {"user_id": user_id})
    totals = await db.execute_query(
        "SELECT COUNT(*) AS sessions, COALESCE(SUM(s.last_seq), 0) AS messages "  # noqa: S608 - constants
        f"FROM sessions s WHERE s.is_active = 1{scope}",
        params,
    )
    total = int(totals[0]["sessions"]) + int(totals[0]["messages"])
    async with AsyncExitStack() as held:
        for projection in projections:
            await held.enter_async_context(stores.relay.exclusive(projection.target))
        await _remove(db, projections, user_id, batch_size)
        with tqdm(total=total, desc="reindex", unit="row", disable=not progress) as bar:
            async for sessions in _session_pages(db, scope, params, batch_size):
                for projection in projections:
                    await projection.upsert_sessions(sessions)
                summary["sessions"] += len(sessions)
                bar.update(len(sessions))
            async for messages in _message_pages(db, scope, params, batch_size):
                for projection in projections:
                    await projection.upsert_messages(messages)
                summary["messages"] += len(messages)
                bar.update(len(messages))
    stores.relay.notify()
    return summary


async def _remove(db: Database, projections: Sequence[Projection], user_id: str | None, batch_size: int) -> None:
    """Empty the derived stores, or remove every session of ``user_id`` (deleted ones too) from them."""
    if user_id is None:
        for projection in projections:
            await projection.clear()
        return
    rows = await db.execute_query(
        "SELECT user_id, session_id FROM sessions WHERE user_id = :user_id", {"user_id": user_id}
    )
    keys = [(r["user_id"], r["session_id"]) for r in rows]
    for start in range(0, len(keys), batch_size):
        for projection in projections:
            await projection.delete_sessions(keys[start : start + batch_size])
