"""Every notebook, run top to bottom by nbval in a fresh kernel, on both profiles, against stored outputs.

nbval runs in a subprocess (``python -m pytest --nbval``) with the profile's environment: a
fresh embedded data dir, or the real servers (the ``workbench_test`` database, an index of its
own, the shared Neo4j) with the sample users' data removed first. The model endpoint is the
fake OpenAI server (model ``echo``), so the chat cells are deterministic too. Cells whose output
is not (widgets, timings, plots) are tagged ``nbval-ignore-output``; everything else, the analysis
numbers included, must equal what is stored in the notebook, which was produced on the embedded
profile: so the services profile must give identical results. ``nbval_sanitize.cfg`` masks ports,
milliseconds and temporary paths.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration.conftest import TEST_DATABASE, cleanup, remove_derived, services_settings, unavailable
from tests.openai_server import FakeOpenAIServer
from workbench import Workbench
from workbench.sample import SAMPLE_PATH
from workbench.settings import Settings
from workbench.widgets.magic import DEFAULT_USER

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
assert NOTEBOOKS, "no notebooks found"
SANITIZE = Path(__file__).with_name("nbval_sanitize.cfg")
CELL_TIMEOUT = 300
# every user a notebook writes as: the sample's, and the %%chat magic's default
USERS = sorted({json.loads(line)["user_id"] for line in SAMPLE_PATH.read_text(encoding="utf-8").splitlines()})
USERS.append(DEFAULT_USER)


@pytest.fixture(scope="module")
def llm(_openai_server_process: FakeOpenAIServer) -> FakeOpenAIServer:
    return _openai_server_process


def base_env(llm: FakeOpenAIServer, data_dir: Path) -> dict[str, str]:
    """The environment without any workbench or OpenAI setting of the caller's, pointed at the fake server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKBENCH_", "OPENAI_", "PYTEST_"))}
    for name in ("MYSQL_URL", "REDIS_URL", "ES_URL", "ES_API_KEY", "NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD"):
        env.pop(name, None)
    env.update(
        WORKBENCH_DATA_DIR=str(data_dir),
        OPENAI_BASE_URL=llm.base_url,
        WORKBENCH_MODEL="echo",
        WORKBENCH_LLM_MAX_RETRIES="0",
        PYTHONPATH=str(ROOT),
    )
    return env


def run_nbval(notebook: Path, env: dict[str, str]) -> None:
    """nbval on ``notebook``; fails with nbval's report when a cell errs or an output differs."""
    command = [
        sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env",
        "--nbval-sanitize-with", str(SANITIZE), "--nbval-cell-timeout", str(CELL_TIMEOUT),
        "-p", "no:cacheprovider", "-q", "--rootdir", str(ROOT), str(notebook),
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=CELL_TIMEOUT * 4, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"nbval failed on {notebook.name} ({env['WORKBENCH_PROFILE']}):\n{done.stdout[-20000:]}", False)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_on_the_embedded_profile(notebook: Path, llm: FakeOpenAIServer, tmp_path: Path) -> None:
    env = base_env(llm, tmp_path / "store")
    env["WORKBENCH_PROFILE"] = "embedded"
    run_nbval(notebook, env)


async def purge(wb: Workbench) -> None:
    """Remove the notebook users' rows, keys, graph nodes and the workbench's index."""
    import redis.asyncio as aioredis

    stores = await wb.stores()
    client = aioredis.from_url(wb.settings.redis_url.get_secret_value())
    try:
        await cleanup(stores.db, client, USERS)
    finally:
        await client.aclose()
    await remove_derived(wb, USERS)


async def foreign_graph_users(wb: Workbench) -> list[str]:
    """Users in Neo4j other than the notebooks': they would change every graph number."""
    from tests.integration.helpers import graph_of

    rows = await graph_of(wb).query(
        "MATCH (u:User) WHERE NOT u.user_id IN $users RETURN u.user_id AS user_id ORDER BY user_id LIMIT 10",
        users=USERS,
    )
    return [r["user_id"] for r in rows]


@pytest.fixture
async def services(
    mysql_url: str, redis_url: str, es_url: str, neo4j_uri: str, tmp_path: Path
) -> AsyncIterator[Settings]:
    """Services settings (``workbench_test``, a fresh index), the notebook users' data gone before and after."""
    assert mysql_url.endswith(f"/{TEST_DATABASE}")
    settings = services_settings(mysql_url, redis_url, es_url, neo4j_uri, tmp_path / "store", index_prefix="wbtest_nb")
    async with Workbench.open(settings) as wb:
        await purge(wb)
        if others := await foreign_graph_users(wb):
            listed = ", ".join(others)
            unavailable(f"Neo4j at {neo4j_uri} holds other users' data ({listed}…): graph numbers would differ")
    yield settings
    async with Workbench.open(settings) as wb:
        await purge(wb)


def services_env(settings: Settings, llm: FakeOpenAIServer) -> dict[str, str]:
    env = base_env(llm, settings.data_dir)
    env.update(
        WORKBENCH_PROFILE="services",
        MYSQL_URL=settings.mysql_url.get_secret_value(),
        REDIS_URL=settings.redis_url.get_secret_value(),
        ES_URL=settings.es_url,
        NEO4J_URI=settings.neo4j_uri,
        WORKBENCH_ES_INDEX=settings.es_index,
    )
    return env


@pytest.mark.integration
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
async def test_notebook_on_the_services_profile(notebook: Path, llm: FakeOpenAIServer, services: Settings) -> None:
    await asyncio.to_thread(run_nbval, notebook, services_env(services, llm))
