"""The one place that wires stores to the profile: embedded or services."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workbench.errors import StoreError
from workbench.outbox import OutboxRelay
from workbench.settings import Settings
from workbench.stores.base import Database, MessageCache, Projection
from workbench.stores.schema import migrate

if TYPE_CHECKING:
    from workbench.legacy import LegacyImporter

__all__ = ["Stores", "bootstrap"]

logger = logging.getLogger(__name__)


@dataclass
class Stores:
    """Connected stores of one profile, and the relay between them."""

    db: Database
    cache: MessageCache | None
    projections: list[Projection]
    relay: OutboxRelay
    legacy: LegacyImporter | None = None  # services: the seed's ES-only history

    async def aclose(self) -> None:
        try:
            await self.relay.aclose()
        finally:
            for projection in self.projections:
                await projection.aclose()
            if self.cache is not None:
                await self.cache.aclose()
            await self.db.aclose()


async def _embedded(settings: Settings) -> tuple[Database, MessageCache | None, list[Projection]]:
    from workbench.stores.sqlite import SQLiteDatabase
    from workbench.stores.sqlite_graph import SQLiteTermGraph
    from workbench.stores.sqlite_search import SQLiteSearchIndex

    db = await SQLiteDatabase.connect(settings.data_dir / "workbench.sqlite3")
    return db, None, [SQLiteSearchIndex(db), SQLiteTermGraph(db)]


async def _services(settings: Settings) -> tuple[Database, MessageCache | None, list[Projection]]:
    from workbench.stores.elasticsearch import ElasticsearchIndex
    from workbench.stores.mysql import MySQLDatabase
    from workbench.stores.neo4j import Neo4jGraph
    from workbench.stores.redis import RedisCache

    db = await MySQLDatabase.connect(settings.mysql_url.get_secret_value(), pool_size=settings.mysql_pool_size)
    cache = RedisCache.from_url(
        settings.redis_url.get_secret_value(),
        sessions_key=settings.redis_sessions_key,
        messages_key=settings.redis_messages_key,
        ttl_seconds=settings.cache_ttl_seconds,
    )
    search = ElasticsearchIndex(
        settings.es_hosts(),
        settings.es_index,
        api_key=settings.es_api_key.get_secret_value() if settings.es_api_key else None,
    )
    graph = Neo4jGraph(
        settings.neo4j_uri,
        user=settings.neo4j_user,
        password=settings.neo4j_password.get_secret_value() if settings.neo4j_password else None,
        database=settings.neo4j_database,
        analysis_timeout=settings.analysis_timeout,
    )
    return db, cache, [search, graph]


async def bootstrap(settings: Settings) -> Stores:
    """Connect the stores of ``settings.profile``, migrate the schema, prepare the projections."""
    connect = _embedded if settings.profile == "embedded" else _services
    db, cache, projections = await connect(settings)
    await migrate(db)
    for projection in projections:
        try:
            await projection.ensure_schema()
        except StoreError as exc:  # a derived store may be down; the relay catches it up later
            logger.warning("%s is not ready yet (%s); its writes wait in the outbox", projection.target, exc)
    relay = OutboxRelay(db, projections, cache, background=settings.relay == "inline")
    stores = Stores(db, cache, projections, relay)
    if settings.profile == "services":
        from workbench.legacy import LegacyImporter

        stores.legacy = LegacyImporter.from_stores(stores)
    return stores
