"""``workbench doctor``: where the data lives and which stores answer, without raising."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from workbench.app import Workbench
from workbench.errors import WorkbenchError
from workbench.stores.schema import SCHEMA_VERSION, schema_version

__all__ = ["StoreCheck", "diagnose"]


@dataclass(frozen=True, slots=True)
class StoreCheck:
    """One store's state: reachable or not, and what it said."""

    store: str
    role: str
    ok: bool
    details: dict[str, Any]


async def _check(store: str, role: str, probe: Any) -> StoreCheck:
    start = time.perf_counter()
    try:
        details = await probe()
    except (WorkbenchError, OSError) as exc:
        return StoreCheck(
            store, role, False, {"error": str(exc), "after_ms": round((time.perf_counter() - start) * 1000)}
        )
    return StoreCheck(store, role, True, details)


async def diagnose(wb: Workbench) -> list[StoreCheck]:
    """A check per store of the profile; a store that is down is reported, not raised."""
    try:
        stores = await wb.stores()
    except WorkbenchError as exc:
        return [StoreCheck("database", "system of record", False, {"error": str(exc)})]

    async def database() -> dict[str, Any]:
        details = await stores.db.ping()
        details["schema_version"] = f"{await schema_version(stores.db)} (package {SCHEMA_VERSION})"
        details["outbox_backlog"] = await stores.relay.backlog()
        return details

    checks = [await _check(stores.db.name, "system of record", database)]
    if stores.cache is not None:
        checks.append(await _check(stores.cache.name, "cache", stores.cache.ping))
    for projection in stores.projections:
        checks.append(await _check(type(projection).__name__, f"{projection.target} projection", projection.ping))
    return checks
