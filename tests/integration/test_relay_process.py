"""``WORKBENCH_RELAY=external``: a workbench that only writes, and ``workbench relay`` in a process of its own.

The writing workbench records outbox rows and starts no relay; the subprocess drains them into
Elasticsearch, Neo4j and the cache while appends go on, and stops cleanly on SIGINT (Ctrl-C).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import redis.asyncio as aioredis

from tests.integration.conftest import Keys, cleanup, remove_derived, services_settings
from tests.integration.helpers import assert_projected, eventually
from workbench.app import Workbench

ROOT = Path(__file__).resolve().parents[2]
RELAY_COMMAND = [sys.executable, "-c", "from workbench.cli import main; main()", "relay"]  # = `workbench relay`


def start_relay(settings, log: Path) -> subprocess.Popen:
    """``workbench relay`` on the same servers, database and index, configured by the environment only."""
    env = {
        **os.environ,
        "WORKBENCH_PROFILE": "services",
        "MYSQL_URL": settings.mysql_url.get_secret_value(),
        "REDIS_URL": settings.redis_url.get_secret_value(),
        "ES_URL": settings.es_url,
        "NEO4J_URI": settings.neo4j_uri,
        "WORKBENCH_ES_INDEX": settings.es_index,
    }
    with log.open("w") as err:
        return subprocess.Popen([*RELAY_COMMAND, "--interval", "0.2"], cwd=ROOT, env=env, stderr=err)


async def test_workbench_relay_in_its_own_process(
    mysql_url: str, redis_url: str, es_url: str, neo4j_uri: str, raw_redis: aioredis.Redis, tmp_path: Path
) -> None:
    settings = services_settings(mysql_url, redis_url, es_url, neo4j_uri, tmp_path).model_copy(
        update={"relay": "external"}
    )
    users: list[str] = []
    log = tmp_path / "relay.log"
    async with Workbench.open(settings) as wb:
        stores = await wb.stores()
        proc = None
        try:
            user = f"it-{uuid.uuid4().hex[:12]}"
            users.append(user)
            sid = await wb.sessions.create_session(user, "relayed elsewhere")
            for n in range(5):
                await wb.messages.append_message(user, sid, "user", f"message {n}: the relay runs elsewhere")
            assert len(await wb.messages.get_messages(user, sid)) == 5  # cached by the writer
            await asyncio.sleep(0.3)
            assert stores.relay._task is None  # external: this process never drains
            backlog = await stores.relay.backlog()
            assert min(backlog["search"], backlog["graph"], backlog["cache"]) >= 6

            proc = start_relay(settings, log)
            await eventually(lambda: assert_projected(wb, sid, expected=5), within=60, interval=0.5)
            for n in range(5, 8):  # while it follows
                await wb.messages.append_message(user, sid, "assistant", f"message {n}: and keeps up")
            await eventually(lambda: assert_projected(wb, sid, expected=8), within=30, interval=0.3)

            async def no_rows_left() -> None:
                rows = await stores.db.execute_query("SELECT COUNT(*) AS n FROM outbox WHERE user_id = :u", {"u": user})
                assert rows[0]["n"] == 0

            await eventually(no_rows_left, within=30, interval=0.3)
            keys = Keys(user, sid)
            cached = [json.loads(i)["seq"] for i in await raw_redis.lrange(keys.messages, 0, -1)]
            assert cached in ([], list(range(1, 9)))  # the writer's own updates, checked by the relay's repair
            assert [m.seq for m in await wb.messages.get_messages(user, sid)] == list(range(1, 9))

            proc.send_signal(signal.SIGINT)
            assert await asyncio.to_thread(proc.wait, 20) == 0, log.read_text()
            text = log.read_text()
            assert "following the outbox" in text and "relay round: applied" in text and "stopped; applied" in text
            assert "Traceback" not in text
        finally:
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
            await cleanup(stores.db, raw_redis, users)
            await remove_derived(wb, users)
