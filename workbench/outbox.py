"""The outbox relay: carries committed changes to the derived stores until they land.

Each write commits an outbox row per derived store (``search``, ``graph``, and ``cache``
when a cache is configured) in the same transaction as the change itself. The relay reads
them in order, applies them to the store (idempotently: ids are deterministic) and deletes
them only once applied; a store that is down keeps its rows, and they are retried with
back-off, per target. The writer updates the cache itself right after its commit; the
``cache`` rows let any relay repair what a writer that died or failed in between left:
a list shorter than the committed ``last_seq`` is dropped, a deleted session tombstoned.

The relay runs in the background of the process that writes (``inline``, the default), or
in a process of its own (``external``: ``workbench relay``, see :meth:`OutboxRelay.follow`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from workbench.errors import StoreError
from workbench.repositories import CACHE_TARGET, load_messages, session_from_row
from workbench.stores.base import Database, MessageCache, Projection, Row

__all__ = ["DrainReport", "OutboxRelay"]

logger = logging.getLogger(__name__)


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
        background: bool = True,
    ) -> None:
        self._db = db
        self._projections = {p.target: p for p in projections}
        self._cache = cache
        self._batch_size = batch_size
        self._idle_interval = idle_interval
        self._max_backoff = max_backoff
        self._coalesce = coalesce  # after a notify, so that a burst of commits is drained in one round
        self._background = background  # False: another process relays (workbench relay); this one only writes
        self._locks = {t: asyncio.Lock() for t in (*self._projections, CACHE_TARGET)}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None  # external mode: re-checks trust while some is withdrawn
        self._untrusted: set[str] = set()
        self._trust_lock = asyncio.Lock()  # trust withdrawn, or re-checked, never both at once
        self._backoff: dict[str, float] = {}  # per target: the last back-off (s), and when to try it again
        self._retry_at: dict[str, float] = {}
        self._targets = (*self._projections, CACHE_TARGET) if cache is not None else tuple(self._projections)

    @property
    def targets(self) -> tuple[str, ...]:
        """The outbox targets a committed change is recorded for (``cache`` whenever a cache is configured)."""
        return self._targets

    @property
    def background(self) -> bool:
        """Whether this process drains in the background (``inline``), or leaves it to ``workbench relay``."""
        return self._background

    # -- the cache ------------------------------------------------------------------------

    def cache_trusted(self, session_id: str) -> bool:
        """False while this process knows the cached entry may be stale."""
        return session_id not in self._untrusted

    async def invalidate_cache(self, user_id: str, session_id: str) -> None:
        """The cache update of a committed change failed: bypass the entry here until its rows are applied.

        The change's ``cache`` row was committed with it (``cache`` is one of :attr:`targets`),
        so nothing more is written: whichever relay applies that row repairs the entry.
        """
        async with self._trust_lock:
            self._untrusted.add(session_id)

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
        """One SELECT of the sessions' committed state, then one pipelined repair script per session."""
        if self._cache is None:
            return
        keys = sorted({(e["user_id"], e["session_id"]) for e in events})
        placeholders, params = _in("s", sorted({session_id for _, session_id in keys}))
        rows = await self._db.execute_query(
            f"SELECT session_id, user_id, last_seq FROM sessions WHERE session_id IN ({placeholders}) "  # noqa: S608
            "AND is_active = 1",
            params,
        )
        committed = {(r["user_id"], r["session_id"]): int(r["last_seq"]) for r in rows}
        await self._cache.repair(
            [(user_id, session_id, committed.get((user_id, session_id))) for user_id, session_id in keys]
        )

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
            self._untrusted &= {r["session_id"] for r in pending}

    # -- in the background ----------------------------------------------------------------------

    def notify(self) -> None:
        """Something was committed: drain soon (starts the background task on first use).

        With ``background=False`` nothing is drained here (``workbench relay`` does it); while
        this process bypasses a cache entry, a small task re-checks every ``idle_interval``
        whether another process's relay applied its rows.
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if not self._background:
            if self._untrusted and (self._watcher is None or self._watcher.done()):
                self._watcher = loop.create_task(self._watch_trust(), name="workbench-cache-trust")
            return
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run(), name="workbench-outbox-relay")
        self._wake.set()

    async def _watch_trust(self) -> None:
        while self._untrusted:
            await asyncio.sleep(self._idle_interval)
            try:
                await self._trust_again()
            except StoreError as exc:
                logger.warning("outbox: could not re-check the cache's trust: %s", exc)

    def _due(self, targets: Sequence[str] | None = None) -> list[str]:
        """The targets not backing off now (of ``targets``, default all)."""
        now = time.monotonic()
        return [t for t in (targets if targets is not None else self._locks) if self._retry_at.get(t, 0.0) <= now]

    def _settle(self, targets: Sequence[str], report: DrainReport) -> None:
        """Back off each target that failed (1, 2, 4 … ``max_backoff`` s), reset the others."""
        for target in targets:
            if target in report.failed or "*" in report.failed:
                self._backoff[target] = min(self._max_backoff, max(0.5, self._backoff.get(target, 0.0)) * 2)
                self._retry_at[target] = time.monotonic() + self._backoff[target]
            else:
                self._backoff.pop(target, None)
                self._retry_at.pop(target, None)

    async def _round(self, targets: Sequence[str] | None = None) -> DrainReport:
        """Drain the due targets once; a failing one backs off alone."""
        due = self._due(targets)
        try:
            report = await self.drain(due) if due else DrainReport()
        except Exception:  # keep relaying whatever one round did
            logger.exception("outbox relay round failed")
            report = DrainReport(failed={"*": "unexpected error"})
        self._settle(due, report)
        return report

    def _next_retry(self, default: float) -> float:
        """Seconds until the first backed-off target is due, at most ``default``."""
        if not self._retry_at:
            return default
        return max(0.0, min(default, min(self._retry_at.values()) - time.monotonic()))

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._next_retry(self._idle_interval)):  # not wait_for (3.11, aclose)
                    await self._wake.wait()
                await asyncio.sleep(self._coalesce)  # one round per burst, not one per commit (bench/README.md)
            self._wake.clear()
            await self._round()

    async def follow(self, *, interval: float = 0.5, stop: asyncio.Event | None = None) -> DrainReport:
        """Drain continuously (``workbench relay``) until ``stop`` is set; the totals applied.

        Each ``interval`` one cheap query finds the targets with waiting rows, and each of them
        that is not backing off is drained (commits of other processes send no notification,
        so this polls). A target that fails backs off alone. Logs a line per round that applied
        or failed something at INFO (idle rounds at DEBUG).
        """
        stop = stop or asyncio.Event()
        total = DrainReport(applied={t: 0 for t in self._locks})
        db_delay = 0.0
        while not stop.is_set():
            started = time.perf_counter()
            try:
                rows = await self._db.execute_query("SELECT DISTINCT target FROM outbox")
                waiting = [t for t in self._locks if t in {r["target"] for r in rows}]
                db_delay = 0.0
            except StoreError as exc:
                db_delay = min(self._max_backoff, max(0.5, db_delay) * 2)
                logger.warning("outbox relay: the database does not answer (%s); next try in %.1f s", exc, db_delay)
                waiting = []
            report = await self._round(waiting) if waiting else DrainReport()
            for target, n in report.applied.items():
                total.applied[target] += n
            total.failed = report.failed
            applied = {t: n for t, n in report.applied.items() if n}
            if applied or report.failed:
                level = logging.WARNING if report.failed else logging.INFO
                logger.log(
                    level,
                    "relay round: applied %s%s in %.0f ms",
                    applied or "nothing",
                    "".join(f"; {t} failed, retry in {self._backoff.get(t, 0):.1f} s" for t in report.failed),
                    (time.perf_counter() - started) * 1000,
                )
            else:
                logger.debug("relay round: nothing waiting")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(db_delay, interval)):
                    await stop.wait()
        return total

    async def aclose(self, *, final_drain_timeout: float = 10.0) -> DrainReport | None:
        """Stop the background task after one last drain; returns within about ``final_drain_timeout``
        whatever a store does (what was not applied stays in the outbox for the next relay)."""
        report = None
        for task in (self._watcher, self._task):
            if task is not None:
                await _stopped(task)
        self._watcher = None
        if self._task is not None:
            self._task = None
            final = asyncio.ensure_future(self.drain())
            done, _ = await asyncio.wait({final}, timeout=final_drain_timeout)
            if done:
                report = final.result()
            else:
                logger.warning("outbox: the final drain did not finish within %.0f s", final_drain_timeout)
                await _stopped(final)
        return report


async def _stopped(task: asyncio.Future[Any], grace: float = 1.0) -> None:
    """Cancel ``task`` and give it ``grace`` seconds to end (a call that ignores the cancel is left)."""
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=grace)
    if done and not task.cancelled() and task.exception() is not None:
        logger.debug("outbox: stopped task ended with %r", task.exception())
