"""The LLM: sync and async clients of any OpenAI-compatible endpoint, and the seed's five calls.

``wb.llm`` is an :class:`LLM`; a service streams with ``chat_completion_stream``::

    async for delta in wb.llm.chat_completion_stream([{"role": "user", "content": "hi"}]):
        print(delta.text, end="")

Every call takes the messages and, as keywords, :class:`ChatOptions` (model, temperature,
max_tokens, timeout) overriding the settings for that call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from functools import cached_property
from typing import Unpack

from openai import AsyncOpenAI, OpenAI

from workbench._async.llm import AsyncLLMClient
from workbench._sync.llm import LLMClient
from workbench.llm_base import (
    OPENAI_BASE_URL,
    ChatDelta,
    ChatMessage,
    ChatOptions,
    ChatReply,
    Usage,
    translate_error,
)
from workbench.settings import Settings, redact_url

__all__ = [
    "LLM",
    "AsyncLLMClient",
    "ChatDelta",
    "ChatMessage",
    "ChatOptions",
    "ChatReply",
    "LLMClient",
    "Usage",
    "translate_error",
]


class LLM:
    """Both clients over one configuration, each built on first use; nothing connects until a call.

    ``client`` / ``async_client`` (``openai.OpenAI`` / ``openai.AsyncOpenAI``) replace the SDK
    clients the settings would build; the settings still give model, temperature and max tokens.
    """

    def __init__(
        self, settings: Settings, *, client: OpenAI | None = None, async_client: AsyncOpenAI | None = None
    ) -> None:
        self.settings = settings
        self._client = client
        self._async_client = async_client

    @cached_property
    def sync(self) -> LLMClient:
        return LLMClient.from_settings(self.settings, client=self._client)

    @cached_property
    def aio(self) -> AsyncLLMClient:
        return AsyncLLMClient.from_settings(self.settings, client=self._async_client)

    @property
    def model(self) -> str:
        """The default model."""
        return self.settings.model

    @property
    def base_url(self) -> str:
        """The endpoint, any password in it masked."""
        given = self._async_client or self._client
        return redact_url(
            str(given.base_url) if given is not None else self.settings.openai_base_url or OPENAI_BASE_URL
        )

    def sync_nonstream_chat(self, messages: Sequence[ChatMessage], **options: Unpack[ChatOptions]) -> ChatReply:
        return self.sync.chat(messages, **options)

    def sync_stream_chat(self, messages: Sequence[ChatMessage], **options: Unpack[ChatOptions]) -> Iterator[ChatDelta]:
        return self.sync.stream(messages, **options)

    async def async_nonstream_chat(self, messages: Sequence[ChatMessage], **options: Unpack[ChatOptions]) -> ChatReply:
        return await self.aio.chat(messages, **options)

    def async_stream_chat(
        self, messages: Sequence[ChatMessage], **options: Unpack[ChatOptions]
    ) -> AsyncIterator[ChatDelta]:
        return self.aio.stream(messages, **options)

    chat_completion_stream = async_stream_chat  # the seed's name for the stream a service consumes

    def close(self) -> None:
        """Close the sync SDK client, if this object built it."""
        if "sync" in self.__dict__:
            self.sync.close()

    async def aclose(self) -> None:
        """Close the SDK clients this object built."""
        self.close()
        if "aio" in self.__dict__:
            await self.aio.aclose()

    def __repr__(self) -> str:
        return f"<LLM model={self.model!r} at {self.base_url}>"
