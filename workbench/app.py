"""The :class:`Workbench`: one object per notebook or process, holding every repository."""

from __future__ import annotations

import asyncio
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from workbench.bootstrap import Stores, bootstrap
from workbench.outbox import DrainReport, OutboxRelay
from workbench.repositories import MessageRepository, SessionRepository
from workbench.settings import Settings
from workbench.stores.base import Database, MessageCache

if TYPE_CHECKING:  # imported on first use
    from workbench.analysis import GraphAnalytics, SearchAnalytics
    from workbench.chat import ChatService
    from workbench.llm import LLM

__all__ = ["Workbench"]


class Workbench:
    """Sessions, messages and everything built on them, over the profile's stores.

    ``Workbench.open()`` returns at once and connects on first use, so it works the same
    in a script, a CLI and a notebook cell; ``async with Workbench.open() as wb`` connects
    eagerly and closes at the end.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._stores: Stores | None = None
        self._connecting: asyncio.Lock | None = None
        self.sessions = SessionRepository(self._connected)
        self.messages = MessageRepository(
            self._connected, max_content_bytes=settings.max_content_bytes, import_legacy=self._import_legacy_session
        )

    @classmethod
    def open(cls, settings: Settings | None = None, **overrides: Any) -> Workbench:
        """A workbench configured from ``settings``, else from keyword overrides, the environment and defaults."""
        if settings is not None and overrides:
            settings = settings.model_copy(update=overrides)
        return cls(settings if settings is not None else Settings(**overrides))

    @cached_property
    def llm(self) -> LLM:
        """The model endpoint's clients and the seed's five calls; connects on the first call."""
        from workbench.llm import LLM

        return LLM(self.settings)

    @cached_property
    def chat(self) -> ChatService:
        """Chat in a session: ``async for delta in wb.chat.send(user_id, session_id, text)``."""
        from workbench.chat import ChatService

        return ChatService(self.messages, self.llm, self.settings)

    @cached_property
    def search(self) -> SearchAnalytics:
        """Search and conversation statistics as DataFrames (FTS5 + SQL embedded, Elasticsearch on services)."""
        from workbench.analysis import search_analytics

        return search_analytics(self.stores, self.settings.profile)

    @cached_property
    def graph(self) -> GraphAnalytics:
        """The term graph: who talks about what, how topics connect (SQL + networkx embedded, Neo4j on services)."""
        from workbench.analysis import graph_analytics

        return graph_analytics(self.stores, self.settings.profile)

    async def stores(self) -> Stores:
        """The connected stores (connecting and migrating on first call)."""
        if self._stores is None:
            if self._connecting is None:
                self._connecting = asyncio.Lock()
            async with self._connecting:
                if self._stores is None:
                    self._stores = await bootstrap(self.settings)
        return self._stores

    async def _connected(self) -> tuple[Database, MessageCache | None, OutboxRelay]:
        stores = self._stores or await self.stores()
        return stores.db, stores.cache, stores.relay

    async def connect(self) -> Self:
        await self.stores()
        return self

    async def sync(self) -> DrainReport:
        """Bring the derived stores (and the cache) up to date with the system of record now."""
        return await (await self.stores()).relay.drain()

    async def import_legacy(self, *, user_id: str | None = None, progress: bool = True) -> dict[str, int]:
        """Copy the seed's Elasticsearch-only history into the database (idempotent); counts."""
        from workbench.legacy import import_legacy

        return await import_legacy(self, user_id=user_id, progress=progress)

    async def reindex(self, *, user_id: str | None = None, progress: bool = True) -> dict[str, Any]:
        """Rebuild the derived stores (search, graph) from the database; counts."""
        from workbench.legacy import reindex

        return await reindex(self, user_id=user_id, progress=progress)

    async def _import_legacy_session(self, user_id: str, session_id: str) -> int:
        legacy = (await self.stores()).legacy
        return 0 if legacy is None else await legacy.import_session(user_id, session_id)

    async def aclose(self) -> None:
        """Finish relaying what is committed (briefly), then close every connection."""
        self.__dict__.pop("chat", None)
        if (llm := self.__dict__.pop("llm", None)) is not None:
            await llm.aclose()
        if self._stores is not None:
            stores, self._stores = self._stores, None
            await stores.aclose()

    async def __aenter__(self) -> Self:
        return await self.connect()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        where = self.settings.data_dir if self.settings.profile == "embedded" else "services"
        return f"<Workbench profile={self.settings.profile} at {where}>"
