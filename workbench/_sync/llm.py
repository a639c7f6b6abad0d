# Generated from workbench/_async/llm.py by scripts/generate_sync.py: do not edit.
"""The LLM client over the official ``openai`` SDK: one reply, or a stream of deltas."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Any, Self, Unpack

from openai import OpenAI, OpenAIError

from workbench.llm_base import (
    ChatDelta,
    ChatMessage,
    ChatOptions,
    ChatReply,
    openai_client_options,
    request_params,
    translate_error,
)
from workbench.settings import Settings, redact_url

__all__ = ["LLMClient"]


class LLMClient:
    """Chat completions against any OpenAI-compatible endpoint.

    ``model``, ``temperature`` and ``max_tokens`` are the defaults of every call, which may
    override them and ``timeout`` (:class:`~workbench.llm_base.ChatOptions`); base URL, key,
    timeout and retries are the SDK client's. Errors are :class:`~workbench.errors.LLMError`
    subclasses. Building one opens no connection.
    """

    def __init__(
        self,
        client: OpenAI,
        *,
        model: str,
        temperature: float | None = None,
        max_tokens: int | None = None,
        owns_client: bool = False,
    ) -> None:
        self.client = client
        self.model = model
        self.temperature = temperature
        self.max_tokens = max_tokens
        self._owns_client = owns_client

    @classmethod
    def from_settings(cls, settings: Settings, *, client: OpenAI | None = None) -> Self:
        """A client with the settings' defaults, over ``client`` or a new SDK client of the settings."""
        return cls(
            client if client is not None else OpenAI(**openai_client_options(settings)),
            model=settings.model,
            temperature=settings.temperature,
            max_tokens=settings.max_tokens,
            owns_client=client is None,
        )

    def _params(self, messages: Sequence[ChatMessage], options: ChatOptions) -> dict[str, Any]:
        return request_params(
            messages, options, model=self.model, temperature=self.temperature, max_tokens=self.max_tokens
        )

    def chat(self, messages: Sequence[ChatMessage], **options: Unpack[ChatOptions]) -> ChatReply:
        """The complete reply to ``messages``."""
        try:
            completion = self.client.chat.completions.create(**self._params(messages, options))
        except OpenAIError as exc:
            raise translate_error(exc) from exc
        return ChatReply.from_completion(completion)

    def stream(self, messages: Sequence[ChatMessage], **options: Unpack[ChatOptions]) -> Iterator[ChatDelta]:
        """The reply to ``messages`` as it is generated; usage comes last, if the server sends it."""
        params = self._params(messages, options)
        try:
            chunks = self.client.chat.completions.create(
                **params, stream=True, stream_options={"include_usage": True}
            )
            with chunks:
                for chunk in chunks:
                    delta = ChatDelta.from_chunk(chunk)
                    if delta is not None:
                        yield delta
        except OpenAIError as exc:
            raise translate_error(exc) from exc

    def close(self) -> None:
        """Close the SDK client if this client built it."""
        if self._owns_client:
            self.client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} model={self.model!r} at {redact_url(str(self.client.base_url))}>"
