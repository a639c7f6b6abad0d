"""The relay's deployment modes on the embedded profile: inline (default) and external (``workbench relay``)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from workbench import Workbench
from workbench.errors import StoreUnavailableError
from workbench.models import Message, Session
from workbench.outbox import CACHE_TARGET, OutboxRelay
from workbench.settings import Settings
from workbench.stores.base import SessionKey

ROOT = Path(__file__).resolve().parents[2]
RELAY_COMMAND = [sys.executable, "-c", "from workbench.cli import main; main()", "relay"]  # = `workbench relay`


async def test_embedded_records_no_cache_rows(wb: Workbench) -> None:
    stores = await wb.stores()
    assert stores.cache is None and CACHE_TARGET not in stores.relay.targets
    sid = await wb.sessions.create_session("alice")
    await wb.messages.append_message("alice", sid, "user", "hello")
    rows = await stores.db.execute_query("SELECT DISTINCT target FROM outbox")
    assert {r["target"] for r in rows} <= {"search", "graph"}


def test_the_setting_is_read_from_the_environment(monkeypatch) -> None:
    assert Settings(_env_file=None).relay == "inline"
    monkeypatch.setenv("WORKBENCH_RELAY", "external")
    assert Settings(_env_file=None).relay == "external"


async def test_external_mode_writes_rows_and_starts_no_task(tmp_path: Path) -> None:
    async with Workbench.open(profile="embedded", data_dir=tmp_path, relay="external") as writer:
        relay = (await writer.stores()).relay
        assert not relay.background
        sid = await writer.sessions.create_session("alice")
        for n in range(3):
            await writer.messages.append_message("alice", sid, "user", f"message {n}")
        await asyncio.sleep(0.3)  # an inline relay would have drained by now (0.1 s coalesce)
        assert relay._task is None
        assert (await relay.backlog())["search"] == 4  # the session and three messages wait

        # another relay (as `workbench relay` runs it) follows until stopped
        async with Workbench.open(profile="embedded", data_dir=tmp_path) as other:
            follower = (await other.stores()).relay
            stop = asyncio.Event()
            task = asyncio.create_task(follower.follow(interval=0.05, stop=stop))
            for _ in range(200):
                if not any((await relay.backlog()).values()):
                    break
                await asyncio.sleep(0.05)
            stop.set()
            total = await asyncio.wait_for(task, 5)
        assert total.applied["search"] == 4 and total.applied["graph"] == 4 and total.ok
        hits = await writer.search.search("message", user_id="alice")
        assert len(hits) == 3


class Flaky:
    """A projection that is down until told otherwise."""

    def __init__(self, target: str) -> None:
        self.target, self.down, self.calls, self.messages = target, True, 0, 0

    async def ensure_schema(self) -> None: ...

    async def upsert_sessions(self, sessions: Sequence[Session]) -> None:
        self.calls += 1
        if self.down:
            raise StoreUnavailableError("down", store=self.target)

    async def upsert_messages(self, messages: Sequence[Message]) -> None:
        await self.upsert_sessions([])
        self.messages += len(messages)

    async def delete_sessions(self, sessions: Sequence[SessionKey]) -> None: ...

    async def clear(self) -> None: ...

    async def ping(self) -> dict[str, str]:
        return {}

    async def aclose(self) -> None: ...


async def test_a_failing_target_backs_off_alone(wb: Workbench) -> None:
    stores = await wb.stores()
    healthy = next(p for p in stores.projections if p.target == "search")
    flaky = Flaky("graph")
    relay = OutboxRelay(stores.db, [healthy, flaky], max_backoff=30)
    sid = await wb.sessions.create_session("bob")
    await wb.sync()
    await stores.db.execute_update("DELETE FROM outbox")
    async with stores.db.transaction() as tx:
        from workbench.repositories import _outbox

        await _outbox(tx, relay, "session", "bob", sid)
        await tx.commit()

    first = await relay._round()
    assert first.failed.keys() == {"graph"} and first.applied["search"] == 1
    calls = flaky.calls
    await _outbox_again(stores, relay, sid)
    second = await relay._round()  # within graph's back-off: only search is tried
    assert "graph" not in second.applied and second.applied["search"] == 1 and flaky.calls == calls
    flaky.down = False
    relay._retry_at["graph"] = 0.0  # its back-off is over
    third = await relay._round()
    assert third.ok and third.applied["graph"] == 2 and "graph" not in relay._retry_at


async def _outbox_again(stores, relay: OutboxRelay, sid: str) -> None:
    from workbench.repositories import _outbox

    async with stores.db.transaction() as tx:
        await _outbox(tx, relay, "session", "bob", sid)
        await tx.commit()


def test_workbench_relay_drains_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    """The command in a process of its own: it drains what another process committed, and SIGINT ends it (exit 0)."""

    async def write() -> None:
        async with Workbench.open(profile="embedded", data_dir=tmp_path, relay="external") as writer:
            sid = await writer.sessions.create_session("carol")
            await writer.messages.append_message("carol", sid, "user", "relayed by another process")

    asyncio.run(write())
    log = tmp_path / "relay.log"
    env = {**os.environ, "WORKBENCH_PROFILE": "embedded", "WORKBENCH_DATA_DIR": str(tmp_path)}
    with log.open("w") as err:
        proc = subprocess.Popen([*RELAY_COMMAND, "--interval", "0.1"], cwd=ROOT, env=env, stderr=err)
    try:
        deadline = time.monotonic() + 60
        while "relay round: applied" not in log.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert "following the outbox" in text and "stopped; applied" in text and "Traceback" not in text

    async def backlog() -> dict[str, int]:
        async with Workbench.open(profile="embedded", data_dir=tmp_path) as wb:
            return await (await wb.stores()).relay.backlog()

    assert not any(asyncio.run(backlog()).values())
