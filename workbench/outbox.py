"""The outbox relay: carries committed changes to the derived stores until they land.

Each write commits an outbox row per derived store (``search``, ``graph``) in the same
transaction as the change itself. The relay reads them in order, applies them to the
store (idempotently: ids are deterministic) and deletes them only once applied; a
store that is down keeps its rows, and they are retried with back-off. A failed cache
update leaves a ``cache`` row, so the stale entry is dropped once Redis answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from workbench.errors import StoreError
from workbench.models import utcnow
from workbench.repositories import load_messages, session_from_row
from workbench.stores.base import Database, MessageCache, Projection, Row

__all__ = ["DrainReport", "OutboxRelay"]

logger = logging.getLogger(__name__)

CACHE_TARGET = "cache"


@dataclass
class DrainReport:
    """What one drain applied per target, and the targets that failed (with why)."""

    applied: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed


def _in(prefix: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    params = {f"{prefix}{i}": v for i, v in enumerate(values)}
    return ", ".join(f":{name}" for name in params), params


def _runs(events: list[Row]) -> list[tuple[str, list[Row]]]:
    """The events as runs of one kind, applied in order; deletes stay where they are.

    Between two deletes, the session events are taken before the message events (one call for
    each, not one per conversation of a bulk import) unless a session has a message event before
    one of its session events there: every event of one session keeps its order, and events of
    different sessions touch different documents and nodes.
    """
    runs: list[tuple[str, list[Row]]] = []
    for is_delete, group in groupby(events, key=lambda e: e["kind"] == "delete"):
        segment, with_messages, hoist = list(group), set(), not is_delete
        for e in segment:
            if e["kind"] == "message":
                with_messages.add(e["session_id"])
            elif e["kind"] != "session" or e["session_id"] in with_messages:
                hoist = False
                break
        if hoist:
            runs += [(k, part) for k in ("session", "message") if (part := [e for e in segment if e["kind"] == k])]
        else:
            runs += [(k, list(run)) for k, run in groupby(segment, key=lambda e: e["kind"])]
    return runs


class OutboxRelay:
    """Drains the outbox into the projections (and the cache), now or in the background."""

    def __init__(
        self,
        db: Database,
        projections: Sequence[Projection],
        cache: MessageCache | None = None,
        *,
        batch_size: int = 500,
        idle_interval: float = 5.0,
        max_backoff: float = 30.0,
        coalesce: float = 0.1,
    ) -> None:
        self._db = db
        self._projections = {p.target: p for p in projections}
        self._cache = cache
        self._batch_size = batch_size
        self._idle_interval = idle_interval
        self._max_backoff = max_backoff
        self._coalesce = coalesce  # after a notify, so that a burst of commits is drained in one round
        self._locks = {t: asyncio.Lock() for t in (*self._projections, CACHE_TARGET)}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._untrusted: set[str] = set()
        self._trust_lock = asyncio.Lock()  # an invalidation is recorded, or trust re-checked, never both at once
        self._unrecorded: set[str] = set()  # invalidations the outbox did not take: never trusted again here

    @property
    def targets(self) -> tuple[str, ...]:
        """The outbox targets a committed change is recorded for."""
        return tuple(self._projections)

    # -- the cache ------------------------------------------------------------------------

    def cache_trusted(self, session_id: str) -> bool:
        """False while this process knows the cached entry may be stale."""
        return session_id not in self._untrusted

    async def invalidate_cache(self, user_id: str, session_id: str) -> None:
        """Bypass the cached entry from now on, and drop it once the cache answers again."""
        async with self._trust_lock:
            self._untrusted.add(session_id)
            try:
                await self._db.execute_update(
                    "INSERT INTO outbox (target, kind, user_id, session_id, created_at) "
                    "VALUES (:target, 'invalidate', :user_id, :session_id, :now)",
                    {"target": CACHE_TARGET, "user_id": user_id, "session_id": session_id, "now": utcnow()},
                )
            except StoreError as exc:
                self._unrecorded.add(session_id)
                logger.error("could not record the cache invalidation of session %s: %s", session_id, exc)

    # -- draining ---------------------------------------------------------------------------

    async def backlog(self) -> dict[str, int]:
        """Outbox rows waiting, per target."""
        rows = await self._db.execute_query("SELECT target, COUNT(*) AS n FROM outbox GROUP BY target")
        counts = {t: 0 for t in self._locks}
        counts.update({r["target"]: int(r["n"]) for r in rows})
        return counts

    async def drain(self, targets: Sequence[str] | None = None) -> DrainReport:
        """Apply every waiting row of ``targets`` (default all); a failing target keeps its rows."""
        report = DrainReport()
        for target in targets or tuple(self._locks):
            try:
                report.applied[target] = await self._drain_target(target)
            except StoreError as exc:
                report.failed[target] = str(exc)
                logger.warning("outbox: %s is behind: %s", target, exc)
        return report

    @contextlib.asynccontextmanager
    async def exclusive(self, target: str) -> AsyncIterator[None]:
        """Hold ``target`` against every relay, in any process: nothing is applied to it meanwhile."""
        async with self._locks[target], self._db.advisory_lock(f"workbench_outbox_{target}"):
            yield

    async def _drain_target(self, target: str) -> int:
        applied = 0
        async with self.exclusive(target):
            while True:
                events = await self._db.execute_query(
                    "SELECT id, kind, user_id, session_id, message_id FROM outbox "
                    "WHERE target = :target ORDER BY id LIMIT :limit",
                    {"target": target, "limit": self._batch_size},
                )
                if not events:
                    if target == CACHE_TARGET:
                        await self._trust_again()
                    return applied
                ids = [e["id"] for e in events]
                try:
                    await self._apply(target, events)
                except StoreError as exc:
                    await self._record_failure(ids, exc)
                    raise
                placeholders, params = _in("id", ids)
                await self._db.execute_update(f"DELETE FROM outbox WHERE id IN ({placeholders})", params)  # noqa: S608
                applied += len(events)

    async def _apply(self, target: str, events: list[Row]) -> None:
        if target == CACHE_TARGET:
            await self._apply_to_cache(events)
            return
        projection = self._projections[target]
        sessions: list = []  # a session run is written with the message run after it: one bulk request
        for kind, batch in _runs(events):
            if kind == "session":
                sessions = await self._load_sessions(sorted({e["session_id"] for e in batch}))
                continue
            if kind == "message":
                messages = await load_messages(self._db, [e["message_id"] for e in batch])
                if messages or sessions:
                    await projection.upsert_messages(messages, sessions)
                sessions = []
                continue
            if sessions:
                await projection.upsert_sessions(sessions)
                sessions = []
            if kind == "delete":
                await projection.delete_sessions(sorted({(e["user_id"], e["session_id"]) for e in batch}))
            else:  # pragma: no cover - rows are only written by this package
                logger.error("outbox: unknown kind %r skipped", kind)
        if sessions:
            await projection.upsert_sessions(sessions)

    async def _apply_to_cache(self, events: list[Row]) -> None:
        if self._cache is None:
            return
        active = {s.session_id for s in await self._load_sessions(sorted({e["session_id"] for e in events}))}
        for event in events:
            if event["session_id"] in active:
                await self._cache.invalidate(event["user_id"], event["session_id"])
            else:
                await self._cache.session_deleted(event["user_id"], event["session_id"])

    async def _load_sessions(self, session_ids: Sequence[str]) -> list:
        placeholders, params = _in("s", session_ids)
        rows = await self._db.execute_query(
            "SELECT session_id, user_id, name, created_at, updated_at, last_seq FROM sessions "  # noqa: S608
            f"WHERE session_id IN ({placeholders}) AND is_active = 1",
            params,
        )
        return [session_from_row(r) for r in rows]

    async def _record_failure(self, ids: list[int], exc: Exception) -> None:
        placeholders, params = _in("id", ids)
        params["error"] = str(exc)[:1000]
        with contextlib.suppress(StoreError):
            await self._db.execute_update(
                f"UPDATE outbox SET attempts = attempts + 1, last_error = :error WHERE id IN ({placeholders})",  # noqa: S608
                params,
            )

    async def _trust_again(self) -> None:
        """Trust every session whose invalidations are all applied (by this relay or another process's)."""
        if not self._untrusted:
            return
        async with self._trust_lock:
            pending = await self._db.execute_query(
                "SELECT DISTINCT session_id FROM outbox WHERE target = :target", {"target": CACHE_TARGET}
            )
            self._untrusted &= {r["session_id"] for r in pending} | self._unrecorded

    # -- in the background ----------------------------------------------------------------------

    def notify(self) -> None:
        """Something was committed: drain soon (starts the background task on first use)."""
        if self._task is None or self._task.done():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            self._task = loop.create_task(self._run(), name="workbench-outbox-relay")
        self._wake.set()

    async def _run(self) -> None:
        delay = self._idle_interval
        while True:
            if delay > self._idle_interval:
                await asyncio.sleep(delay)  # a store is down: back off, whatever is committed meanwhile
            else:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):  # not wait_for: on 3.11 it can swallow aclose()'s cancel
                        await self._wake.wait()
                    await asyncio.sleep(self._coalesce)  # one round per burst, not one per commit (bench/README.md)
            self._wake.clear()
            try:
                report = await self.drain()
            except Exception:  # keep relaying whatever one round did
                logger.exception("outbox relay round failed")
                report = DrainReport(failed={"*": "unexpected error"})
            delay = self._idle_interval if report.ok else min(self._max_backoff, max(1.0, delay) * 2)

    async def aclose(self, *, final_drain_timeout: float = 10.0) -> DrainReport | None:
        """Stop the background task after one last drain (bounded by the timeout)."""
        report = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            with contextlib.suppress(TimeoutError):
                report = await asyncio.wait_for(self.drain(), timeout=final_drain_timeout)
        return report
