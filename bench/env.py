"""Where the benchmarks run: the servers of ``scripts/services``, under names of their own.

Every scenario writes only to its own places, and removes them afterwards:

* MySQL: the database ``workbench_bench`` (created as root over the server's socket when the
  ``workbench`` user may not create it; ``scripts/services`` grants it only its own two);
* Redis: keys of users ``bench-*`` (the workbench's templates) and of the peers, ``bench:lc:*``;
* Elasticsearch: indices ``bench-*``;
* Neo4j (Community has one database): nodes of users ``bench-*`` and the terms only they mention.

URLs come from the environment as for the workbench (``MYSQL_URL``, ``REDIS_URL``, ``ES_URL``,
``NEO4J_URI``...), defaulting to the servers ``scripts/services`` starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import shutil
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
BENCH_DATABASE = os.environ.get("BENCH_MYSQL_DATABASE", "workbench_bench")
USER_PREFIX = "bench-"
PEER_REDIS_PREFIX = "bench:lc:"
ES_PREFIX = "bench-"
ES_INDEX = f"{ES_PREFIX}conversations"
PEER_ES_INDEX = f"{ES_PREFIX}lc-chat-history"
PEER_SQL_TABLE = "message_store"  # the peer's default table name, in the bench database


def _with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


@dataclass
class Servers:
    """Client URLs of the four servers, pointed at the benchmark's own database."""

    mysql_url: str = field(
        default_factory=lambda: _with_database(
            os.environ.get("MYSQL_URL", "mysql://workbench:workbench@127.0.0.1:3306/workbench"), BENCH_DATABASE
        )
    )
    redis_url: str = field(default_factory=lambda: os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    es_url: str = field(default_factory=lambda: os.environ.get("ES_URL", "http://127.0.0.1:9200"))
    neo4j_uri: str = field(default_factory=lambda: os.environ.get("NEO4J_URI", "bolt://127.0.0.1:7687"))
    neo4j_user: str = field(default_factory=lambda: os.environ.get("NEO4J_USER", "neo4j"))
    neo4j_password: str | None = field(default_factory=lambda: os.environ.get("NEO4J_PASSWORD") or None)

    @property
    def mysql_args(self) -> dict[str, Any]:
        from workbench.stores.mysql import parse_mysql_url

        return parse_mysql_url(self.mysql_url)

    def sqlalchemy_url(self, driver: str) -> str:
        a = self.mysql_args
        return f"mysql+{driver}://{a['user']}:{a['password']}@{a['host']}:{a['port']}/{a['db']}?charset=utf8mb4"

    def settings(self, **overrides: Any) -> Any:
        """Workbench settings of the services profile on these servers (nothing read from .env)."""
        from workbench.settings import Settings

        values: dict[str, Any] = {
            "profile": "services",
            "mysql_url": self.mysql_url,
            "redis_url": self.redis_url,
            "es_url": self.es_url,
            "es_index": ES_INDEX,
            "neo4j_uri": self.neo4j_uri,
            "neo4j_user": self.neo4j_user,
            "neo4j_password": self.neo4j_password,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)


# -- reachability -------------------------------------------------------------------------------------


async def probe(servers: Servers) -> dict[str, dict[str, Any]]:
    """Which servers answer, and their versions; never raises."""
    out: dict[str, dict[str, Any]] = {}

    async def mysql() -> dict[str, Any]:
        import aiomysql

        a = servers.mysql_args
        conn = await aiomysql.connect(host=a["host"], port=a["port"], user=a["user"], password=a["password"])
        try:
            async with conn.cursor() as cur:
                await cur.execute("SELECT VERSION()")
                (version,) = await cur.fetchone()
        finally:
            conn.close()
        return {"version": version}

    async def redis() -> dict[str, Any]:
        from redis.asyncio import Redis

        client = Redis.from_url(servers.redis_url)
        try:
            info = await client.info("server")
        finally:
            await client.aclose()
        return {"version": info["redis_version"]}

    async def es() -> dict[str, Any]:
        from elasticsearch import AsyncElasticsearch

        client = AsyncElasticsearch(servers.es_url, request_timeout=5)
        try:  # the integ-test-zip answers no GET /, so the version comes from the nodes
            health = await client.cluster.health()
            nodes = await client.nodes.info(filter_path="nodes.*.version,nodes.*.modules.name")
        finally:
            await client.close()
        found = list(nodes.body.get("nodes", {}).values())
        modules = sorted({m["name"] for n in found for m in n.get("modules", [])})
        return {
            "version": ", ".join(sorted({n["version"] for n in found})),
            "status": health["status"],
            "modules": len(modules),
            "reindex_module": "reindex" in modules,
        }

    async def neo4j() -> dict[str, Any]:
        import neo4j as neo

        auth = (servers.neo4j_user, servers.neo4j_password) if servers.neo4j_password else None
        driver = neo.AsyncGraphDatabase.driver(servers.neo4j_uri, auth=auth, connection_timeout=5)
        try:
            records, _, _ = await driver.execute_query("CALL dbms.components() YIELD versions RETURN versions[0] AS v")
        finally:
            await driver.close()
        return {"version": records[0]["v"]}

    for name, check in (("mysql", mysql), ("redis", redis), ("elasticsearch", es), ("neo4j", neo4j)):
        try:
            out[name] = {"up": True, **await asyncio.wait_for(check(), 10)}
        except Exception as exc:
            out[name] = {"up": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return out


# -- the benchmark database -----------------------------------------------------------------------------


def _root_socket() -> str | None:
    services = Path(os.environ.get("WORKBENCH_SERVICES_DIR", ROOT / ".services"))
    for candidate in [services / "mysql" / "mysqld.sock", *Path("/tmp").glob("workbench-mysql-*.sock")]:
        if candidate.exists():
            return str(candidate)
    return None


def ensure_database(servers: Servers) -> None:
    """Create ``workbench_bench`` and grant it to the workbench user (as root over the socket if needed)."""
    import pymysql

    a = servers.mysql_args
    try:
        conn = pymysql.connect(host=a["host"], port=a["port"], user=a["user"], password=a["password"])
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE IF NOT EXISTS `{a['db']}` CHARACTER SET utf8mb4")
            return
        finally:
            conn.close()
    except pymysql.err.OperationalError as exc:
        denied = exc.args[0] in (1044, 1045)
        if not denied:
            raise
    socket, client = _root_socket(), shutil.which("mariadb") or shutil.which("mysql")
    if socket is None or client is None:
        raise RuntimeError(
            f"user {a['user']!r} may not create database {a['db']!r}, and no server socket for root was found; "
            f"create it and GRANT ALL ON `{a['db']}`.* TO '{a['user']}'@'%'"
        )
    sql = f"CREATE DATABASE IF NOT EXISTS `{a['db']}` CHARACTER SET utf8mb4;"
    for host in ("127.0.0.1", "localhost"):
        sql += f"GRANT ALL PRIVILEGES ON `{a['db']}`.* TO '{a['user']}'@'{host}';"
    subprocess.run([client, "--no-defaults", "-uroot", f"--socket={socket}", "-e", sql], check=True)


# -- clean-up ---------------------------------------------------------------------------------------------------


async def cleanup(servers: Servers, *, drop_database: bool = True) -> dict[str, Any]:
    """Remove everything the benchmarks wrote; what each store removed."""
    removed: dict[str, Any] = {}
    with contextlib.suppress(Exception):
        import aiomysql

        a = servers.mysql_args
        conn = await aiomysql.connect(host=a["host"], port=a["port"], user=a["user"], password=a["password"])
        try:
            async with conn.cursor() as cur:
                if drop_database:
                    with warnings.catch_warnings():  # "can't drop database; doesn't exist"
                        warnings.simplefilter("ignore")
                        await cur.execute(f"DROP DATABASE IF EXISTS `{a['db']}`")
                removed["mysql"] = f"dropped {a['db']}" if drop_database else "kept"
        finally:
            conn.close()
    with contextlib.suppress(Exception):
        from redis.asyncio import Redis

        client = Redis.from_url(servers.redis_url)
        try:
            count = 0
            for pattern in (f"user:{{{USER_PREFIX}*", f"{PEER_REDIS_PREFIX}*", "bench:*"):
                batch = [key async for key in client.scan_iter(match=pattern, count=1000)]
                for start in range(0, len(batch), 1000):
                    count += await client.delete(*batch[start : start + 1000])
            removed["redis"] = count
        finally:
            await client.aclose()
    with contextlib.suppress(Exception):
        from elasticsearch import AsyncElasticsearch

        es = AsyncElasticsearch(servers.es_url, request_timeout=30)
        try:
            indices = await es.options(ignore_status=404).indices.get(index=f"{ES_PREFIX}*")
            names = sorted(indices.body) if indices.meta.status == 200 else []
            for name in names:
                await es.options(ignore_status=404).indices.delete(index=name)
            removed["elasticsearch"] = names
        finally:
            await es.close()
    with contextlib.suppress(Exception):
        removed["neo4j"] = await clear_neo4j(servers)
    return removed


_NEO4J_DELETE_BENCH = """
MATCH (n) WHERE (n:User OR n:Session OR n:Message) AND n.user_id STARTS WITH $prefix
WITH n LIMIT 5000 DETACH DELETE n RETURN count(*) AS deleted
"""
_NEO4J_DELETE_ORPHAN_TERMS = """
MATCH (t:Term) WHERE NOT (t)<-[:MENTIONS]-() WITH t LIMIT 5000 DETACH DELETE t RETURN count(*) AS deleted
"""


async def clear_neo4j(servers: Servers) -> int:
    """Delete the benchmark's users, sessions and messages, then terms nothing mentions."""
    import neo4j as neo

    auth = (servers.neo4j_user, servers.neo4j_password) if servers.neo4j_password else None
    driver = neo.AsyncGraphDatabase.driver(servers.neo4j_uri, auth=auth)
    total = 0
    try:
        for query in (_NEO4J_DELETE_BENCH, _NEO4J_DELETE_ORPHAN_TERMS):
            while True:
                records, _, _ = await driver.execute_query(query, prefix=USER_PREFIX)
                deleted = records[0]["deleted"]
                total += deleted
                if not deleted:
                    break
    finally:
        await driver.close()
    return total


# -- what ran where -------------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """The machine and library versions a result was measured with."""
    versions = {}
    for dist in (
        "workbench",
        "aiomysql",
        "PyMySQL",
        "redis",
        "elasticsearch",
        "neo4j",
        "openai",
        "langchain-core",
        "langchain-community",
        "langchain-elasticsearch",
        "SQLAlchemy",
        "pandas",
    ):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[dist] = metadata.version(dist)
    load = os.getloadavg()
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_at_start": [round(x, 2) for x in load],
        "libraries": versions,
    }
