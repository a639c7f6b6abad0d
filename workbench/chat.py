"""The chat service: one exchange of a session with the model, stored as it happens.

``async for delta in wb.chat.send(user_id, session_id, text)`` stores the user's message,
sends the session's recent history (within the settings' budget) to the model, streams the
reply, and stores it with its metadata. Stopping the stream stores what was received,
marked ``interrupted``; a failed call stores no reply and raises the
:class:`~workbench.errors.LLMError`, the user's message staying in place.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
import weakref
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Unpack

from workbench.errors import LLMError
from workbench.llm import LLM, ChatDelta, ChatMessage, ChatOptions, Usage
from workbench.models import Message, Role, check_content, message_id_for, utcnow
from workbench.repositories import MessageRepository
from workbench.settings import Settings

__all__ = ["ChatService", "build_context", "estimate_tokens"]

# scripts whose characters are roughly a token each: CJK ideographs, kana, hangul
_WIDE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_PER_MESSAGE = 4  # the chat format's overhead of one message, in tokens


def estimate_tokens(text: str) -> int:
    """An approximate token count: one per CJK, kana or hangul character, one per four others."""
    wide = len(_WIDE.findall(text))
    return wide + math.ceil((len(text) - wide) / 4)


def build_context(
    history: Sequence[Message], *, system_prompt: str | None, max_messages: int, max_tokens: int
) -> list[ChatMessage]:
    """The request: the system prompt, then the newest message and as many earlier ones as fit.

    At most ``max_messages`` earlier messages, and no more than fit ``max_tokens`` together
    (approximately, see :func:`estimate_tokens`); the newest is sent even if it alone is over.
    Stored tool messages are left out: the API accepts them only after their tool call.
    """
    *earlier, newest = [m for m in history if m.role is not Role.TOOL]
    budget = max_tokens - _cost(newest.content) - (_cost(system_prompt) if system_prompt else 0)
    chosen = [newest]
    for message in reversed(earlier[-max_messages:]):
        budget -= _cost(message.content)
        if budget < 0:
            break
        chosen.append(message)
    head: list[ChatMessage] = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return head + [{"role": str(m.role), "content": m.content} for m in reversed(chosen)]


def _cost(text: str) -> int:
    return estimate_tokens(text) + _PER_MESSAGE


@dataclass
class _Reply:
    """What has arrived of one reply, and when."""

    model: str
    started: float = field(default_factory=time.perf_counter)
    parts: list[str] = field(default_factory=list)
    first_text_at: float | None = None
    finish_reason: str | None = None
    usage: Usage | None = None

    def add(self, delta: ChatDelta) -> None:
        if delta.text:
            if self.first_text_at is None:
                self.first_text_at = time.perf_counter()
            self.parts.append(delta.text)
        self.finish_reason = delta.finish_reason or self.finish_reason
        self.usage = delta.usage or self.usage

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def metadata(self, *, interrupted: bool = False) -> dict[str, Any]:
        ttft = None if self.first_text_at is None else round((self.first_text_at - self.started) * 1000)
        metadata: dict[str, Any] = {
            "model": self.model,
            "prompt_tokens": self.usage.prompt_tokens if self.usage else None,
            "completion_tokens": self.usage.completion_tokens if self.usage else None,
            "ttft_ms": ttft,
            "latency_ms": round((time.perf_counter() - self.started) * 1000),
            "finish_reason": self.finish_reason,
        }
        if interrupted:
            metadata["interrupted"] = True
        return metadata


class ChatService:
    """Exchanges with the model, one at a time per session, stored in ``messages``."""

    def __init__(self, messages: MessageRepository, llm: LLM, settings: Settings) -> None:
        self._messages = messages
        self._llm = llm
        self._settings = settings
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def _lock(self, session_id: str) -> asyncio.Lock:
        lock = self._locks.get(session_id)
        if lock is None:
            lock = self._locks[session_id] = asyncio.Lock()
        return lock

    async def send(
        self, user_id: str, session_id: str, text: str, **options: Unpack[ChatOptions]
    ) -> AsyncIterator[ChatDelta]:
        """Store ``text`` as the user's, stream the model's reply, then store the reply.

        ``options`` override the settings' model, temperature, max_tokens and timeout. A
        second send on the session waits until this one is stored. Iterate to the end, or
        close the stream (``contextlib.aclosing``) when stopping early: closing or cancelling
        stores the text received so far with ``interrupted: True`` in its metadata.
        """
        async with aclosing(self._exchange(user_id, session_id, text, options)) as exchange:
            async for item in exchange:
                if isinstance(item, ChatDelta):
                    yield item

    async def ask(self, user_id: str, session_id: str, text: str, **options: Unpack[ChatOptions]) -> Message:
        """:meth:`send`, collected: the stored reply."""
        exchange = self._exchange(user_id, session_id, text, options)
        (stored,) = [item async for item in exchange if isinstance(item, Message)]
        return stored

    async def _exchange(
        self, user_id: str, session_id: str, text: str, options: ChatOptions
    ) -> AsyncIterator[ChatDelta | Message]:
        """The reply's deltas, then the stored reply.

        The question is stored while the request goes out (the first token waits for both, not
        for one after the other); nothing is sent for a session that is not the user's or a
        question that cannot be stored, and no text is shown before the question is stored.
        """
        settings = self._settings
        text = check_content(text, max_bytes=settings.max_content_bytes)
        async with self._lock(session_id):
            earlier = await self._messages.get_messages(user_id, session_id, last=settings.context_messages)
            seq = earlier[-1].seq + 1 if earlier else 1
            question = Message(message_id_for(session_id, seq), session_id, user_id, seq, Role.USER, text, utcnow())
            context = build_context(
                [*earlier, question],
                system_prompt=settings.system_prompt,
                max_messages=settings.context_messages,
                max_tokens=settings.context_tokens,
            )
            stored_question = asyncio.ensure_future(self._messages.append_message(user_id, session_id, Role.USER, text))
            reply = _Reply(model=options.get("model") or self._llm.model)
            try:
                async with aclosing(self._llm.chat_completion_stream(context, **options)) as stream:
                    async for delta in stream:
                        if not stored_question.done():
                            await stored_question
                        reply.add(delta)
                        yield delta
                await stored_question
            except (GeneratorExit, asyncio.CancelledError):
                with contextlib.suppress(Exception):
                    await asyncio.shield(stored_question)  # the question is kept, as if stored first
                if reply.text.strip():
                    await asyncio.shield(self._store(user_id, session_id, reply, interrupted=True))
                raise
            except Exception:
                await asyncio.wait([stored_question])
                stored_question.result()  # a question that could not be stored is the error to report
                raise
            if not reply.text.strip():
                raise LLMError(f"the model sent no text (finish reason: {reply.finish_reason})")
            stored = await self._store(user_id, session_id, reply)
        yield stored

    async def _store(self, user_id: str, session_id: str, reply: _Reply, *, interrupted: bool = False) -> Message:
        metadata = reply.metadata(interrupted=interrupted)
        return await self._messages.append_message(user_id, session_id, Role.ASSISTANT, reply.text, metadata)
