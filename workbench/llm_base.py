"""What the sync and async LLM clients share: the reply types, the request, error translation.

Nothing outside the LLM clients imports ``openai``: streams yield :class:`ChatDelta`, calls
return :class:`ChatReply`, and failures are :class:`~workbench.errors.LLMError` subclasses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

import openai
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.completion_usage import CompletionUsage

from workbench.errors import LLMConnectionError, LLMError, LLMStatusError, LLMTimeoutError, RateLimitError
from workbench.settings import Settings, redact_url

__all__ = [
    "OPENAI_BASE_URL",
    "ChatDelta",
    "ChatMessage",
    "ChatOptions",
    "ChatReply",
    "Usage",
    "openai_client_options",
    "request_params",
    "translate_error",
]

OPENAI_BASE_URL = "https://api.openai.com/v1"
# local servers (vLLM, Ollama, llama.cpp, LM Studio) accept any key, but the SDK insists on one
_NO_KEY = "not-needed"

ChatMessage = Mapping[str, Any]
"""One message of a request, in the wire format: ``{"role": "user", "content": "..."}``."""


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts, as the server reported them."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int

    @classmethod
    def from_openai(cls, usage: CompletionUsage | None) -> Usage | None:
        if usage is None:
            return None
        return cls(usage.prompt_tokens, usage.completion_tokens, usage.total_tokens)


@dataclass(frozen=True, slots=True)
class ChatDelta:
    """One piece of a streamed reply: text, and at the end the finish reason and usage."""

    text: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None

    @classmethod
    def from_chunk(cls, chunk: ChatCompletionChunk) -> ChatDelta | None:
        """The chunk's delta, or ``None`` when it carries nothing (a role-only first chunk)."""
        choice = chunk.choices[0] if chunk.choices else None
        delta = cls(
            text=(choice.delta.content or "") if choice is not None else "",
            finish_reason=choice.finish_reason if choice is not None else None,
            usage=Usage.from_openai(chunk.usage),
        )
        return delta if delta.text or delta.finish_reason or delta.usage else None


@dataclass(frozen=True, slots=True)
class ChatReply:
    """A complete (non-streamed) reply."""

    text: str
    model: str
    finish_reason: str | None
    usage: Usage | None

    @classmethod
    def from_completion(cls, completion: ChatCompletion) -> ChatReply:
        choice = completion.choices[0] if completion.choices else None
        return cls(
            text=(choice.message.content or "") if choice is not None else "",
            model=completion.model,
            finish_reason=choice.finish_reason if choice is not None else None,
            usage=Usage.from_openai(completion.usage),
        )


def openai_client_options(settings: Settings) -> dict[str, Any]:
    """The ``OpenAI(...)`` / ``AsyncOpenAI(...)`` arguments, all explicit, so the SDK reads no environment."""
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else _NO_KEY
    return {
        "base_url": settings.openai_base_url or OPENAI_BASE_URL,
        "api_key": key,
        "timeout": settings.llm_timeout,
        "max_retries": settings.llm_max_retries,
    }


class ChatOptions(TypedDict, total=False):
    """Per-call overrides of a client's defaults (``None``: leave it to the server)."""

    model: str
    temperature: float | None
    max_tokens: int | None
    timeout: float  # seconds, per attempt, as the SDK's ``timeout``


def request_params(
    messages: Sequence[ChatMessage],
    options: ChatOptions,
    *,
    model: str,
    temperature: float | None,
    max_tokens: int | None,
) -> dict[str, Any]:
    """Keyword arguments of ``chat.completions.create``: the defaults, then ``options``."""
    if unknown := set(options) - set(ChatOptions.__annotations__):
        raise TypeError(f"unknown chat option(s): {', '.join(sorted(unknown))}")
    params: dict[str, Any] = {"model": model, "temperature": temperature, "max_tokens": max_tokens, **options}
    params = {name: value for name, value in params.items() if value is not None}
    return {**params, "messages": [dict(m) for m in messages]}


def _retry_after(headers: Mapping[str, str]) -> float | None:
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        try:
            return float(headers[name]) / scale
        except (KeyError, ValueError):
            continue
    return None


def translate_error(exc: openai.OpenAIError) -> LLMError:
    """The workbench's error for an SDK error (the SDK's request carries no credentials)."""
    if isinstance(exc, openai.APIConnectionError):
        where = redact_url(str(exc.request.url))
        kind = LLMTimeoutError if isinstance(exc, openai.APITimeoutError) else LLMConnectionError
        cause = f": {exc.__cause__}" if exc.__cause__ is not None else ""
        return kind(f"{exc.message} {where}{cause}")
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code == 429:
            return RateLimitError(
                exc.message, request_id=exc.request_id, retry_after=_retry_after(exc.response.headers)
            )
        return LLMStatusError(exc.message, status_code=exc.status_code, request_id=exc.request_id)
    return LLMError(str(exc))
