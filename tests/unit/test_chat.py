"""The chat service: what is stored, what is sent, and what happens when a reply stops."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.openai_server import FakeOpenAIServer
from workbench import (
    LLMConnectionError,
    LLMError,
    LLMStatusError,
    Message,
    NotFoundError,
    Role,
    StoreUnavailableError,
    ValidationError,
    Workbench,
)
from workbench.chat import build_context, estimate_tokens

SLOW = "slow-stream:delay=0.03,tokens=40"


@pytest.fixture
async def wb(tmp_path: Path, openai_server: FakeOpenAIServer) -> AsyncIterator[Workbench]:
    """An embedded workbench whose model endpoint is the fake server."""
    async with Workbench.open(
        profile="embedded",
        data_dir=tmp_path / "store",
        openai_base_url=openai_server.base_url,
        openai_api_key="sk-test",
        model="echo",
        llm_timeout=5.0,
        llm_max_retries=0,
    ) as workbench:
        yield workbench


async def history(wb: Workbench, sid: str) -> list[tuple[str, str]]:
    return [(str(m.role), m.content) for m in await wb.messages.get_messages("alice", sid)]


async def test_send_streams_the_reply_and_stores_both_messages(wb: Workbench, openai_server: FakeOpenAIServer) -> None:
    sid = await wb.sessions.create_session("alice")
    deltas = [d async for d in wb.chat.send("alice", sid, "hello world")]
    assert "".join(d.text for d in deltas) == "echo: hello world"
    user, reply = await wb.messages.get_messages("alice", sid)
    assert (user.role, user.content, user.metadata) == (Role.USER, "hello world", {})
    assert (reply.role, reply.content) == (Role.ASSISTANT, "echo: hello world")
    meta = reply.metadata
    assert set(meta) == {"model", "prompt_tokens", "completion_tokens", "ttft_ms", "latency_ms", "finish_reason"}
    assert (meta["model"], meta["prompt_tokens"], meta["completion_tokens"], meta["finish_reason"]) == (
        "echo",
        2,
        3,
        "stop",
    )
    assert 0 <= meta["ttft_ms"] <= meta["latency_ms"] < 5000
    assert openai_server.chat_requests[0]["stream_options"] == {"include_usage": True}


async def test_ask_returns_the_stored_reply(wb: Workbench) -> None:
    sid = await wb.sessions.create_session("alice")
    reply = await wb.chat.ask("alice", sid, "ping")
    assert isinstance(reply, Message) and reply.seq == 2 and reply.content == "echo: ping"
    assert (await wb.messages.get_messages("alice", sid))[-1] == reply


async def test_the_context_is_the_system_prompt_and_the_history(
    tmp_path: Path, openai_server: FakeOpenAIServer
) -> None:
    async with Workbench.open(
        profile="embedded",
        data_dir=tmp_path / "store",
        openai_base_url=openai_server.base_url,
        model="echo",
        system_prompt="Be brief.",
        context_messages=2,
    ) as wb:
        sid = await wb.sessions.create_session("alice")
        await wb.chat.ask("alice", sid, "one")
        await wb.chat.ask("alice", sid, "two")
        first, second = openai_server.chat_requests
        assert first["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "one"}]
        assert second["messages"] == [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "one"},
            {"role": "assistant", "content": "echo: one"},
            {"role": "user", "content": "two"},
        ]
        await wb.chat.ask("alice", sid, "three")  # two earlier messages at most
        assert [m["content"] for m in openai_server.chat_requests[-1]["messages"]] == [
            "Be brief.",
            "two",
            "echo: two",
            "three",
        ]


def message(seq: int, role: str, content: str) -> Message:
    return Message(f"m{seq}", "s", "alice", seq, Role(role), content, datetime.now(UTC))


def test_build_context_keeps_the_newest_within_the_budgets() -> None:
    assert estimate_tokens("abcdefgh") == 2 and estimate_tokens("你好世界") == 4
    assert estimate_tokens("数据 analysis") == 2 + 3
    msgs = [message(1, "user", "a" * 400), message(2, "assistant", "b" * 40), message(3, "tool", "{}")]
    msgs += [message(4, "user", "你好" * 10)]
    context = build_context(msgs, system_prompt=None, max_messages=50, max_tokens=100)
    assert [m["content"][0] for m in context] == ["b", "你"]  # 100 a's worth of tokens do not fit; tool left out
    context = build_context(msgs, system_prompt="sys", max_messages=1, max_tokens=10_000)
    assert [m["role"] for m in context] == ["system", "assistant", "user"]
    context = build_context(msgs, system_prompt=None, max_messages=50, max_tokens=1)
    assert context == [{"role": "user", "content": "你好" * 10}]  # the newest goes in even alone over budget


async def test_per_call_options_and_usage_less_servers(wb: Workbench, openai_server: FakeOpenAIServer) -> None:
    sid = await wb.sessions.create_session("alice")
    reply = await wb.chat.ask("alice", sid, "a b c d", model="no-usage", max_tokens=2, temperature=0.0)
    assert reply.content == "echo: a "
    assert reply.metadata["model"] == "no-usage" and reply.metadata["finish_reason"] == "length"
    assert reply.metadata["prompt_tokens"] is None and reply.metadata["completion_tokens"] is None
    assert openai_server.chat_requests[-1]["temperature"] == 0.0


@pytest.mark.parametrize(("model", "error"), [("error-500", LLMStatusError), ("cut-stream", LLMConnectionError)])
async def test_a_failed_call_stores_no_reply(wb: Workbench, model: str, error: type[LLMError]) -> None:
    sid = await wb.sessions.create_session("alice")
    received = []
    with pytest.raises(error):
        async for delta in wb.chat.send("alice", sid, "hello", model=model):
            received.append(delta)
    assert bool(received) == (model == "cut-stream")
    assert await history(wb, sid) == [("user", "hello")]
    assert (await wb.chat.ask("alice", sid, "again")).content == "echo: again"  # the session goes on


async def test_an_empty_reply_is_an_error(wb: Workbench) -> None:
    sid = await wb.sessions.create_session("alice")
    with pytest.raises(LLMError, match="no text"):
        await wb.chat.ask("alice", sid, "hello", max_tokens=0)
    assert await history(wb, sid) == [("user", "hello")]


async def test_cancelling_stores_what_was_received_as_interrupted(wb: Workbench) -> None:
    sid = await wb.sessions.create_session("alice")
    received: list[str] = []
    three = asyncio.Event()

    async def consume() -> None:
        async for delta in wb.chat.send("alice", sid, "go", model=SLOW):
            received.append(delta.text)
            if len(received) == 3:
                three.set()

    task = asyncio.create_task(consume())
    await three.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    _, reply = await wb.messages.get_messages("alice", sid)
    assert reply.content == "".join(received) == "t0 t1 t2 "
    assert reply.metadata["interrupted"] is True and reply.metadata["finish_reason"] is None
    assert reply.metadata["model"] == SLOW and reply.metadata["ttft_ms"] <= reply.metadata["latency_ms"]


async def test_closing_the_stream_early_stores_what_was_received(wb: Workbench) -> None:
    sid = await wb.sessions.create_session("alice")
    async with aclosing(wb.chat.send("alice", sid, "go", model=SLOW)) as stream:
        async for delta in stream:
            if delta.text == "t1 ":
                break
    assert await history(wb, sid) == [("user", "go"), ("assistant", "t0 t1 ")]
    assert (await wb.messages.get_messages("alice", sid))[-1].metadata["interrupted"] is True


async def test_stopping_before_any_text_stores_no_reply(wb: Workbench) -> None:
    sid = await wb.sessions.create_session("alice")
    task = asyncio.create_task(wb.chat.ask("alice", sid, "hello", model="stall"))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await history(wb, sid) == [("user", "hello")]


async def test_two_sends_on_one_session_are_serialised(wb: Workbench, openai_server: FakeOpenAIServer) -> None:
    sid = await wb.sessions.create_session("alice")
    other = await wb.sessions.create_session("alice")
    model = "slow-stream:delay=0.01,tokens=5"
    await asyncio.gather(
        wb.chat.ask("alice", sid, "first", model=model),
        wb.chat.ask("alice", sid, "second", model=model),
        wb.chat.ask("alice", other, "elsewhere", model=model),
    )
    reply = "t0 t1 t2 t3 t4 "
    assert await history(wb, sid) == [("user", "first"), ("assistant", reply), ("user", "second"), ("assistant", reply)]
    later = next(r for r in openai_server.chat_requests if r["messages"][-1]["content"] == "second")
    assert [m["content"] for m in later["messages"]] == ["first", reply, "second"]


async def test_another_users_session_is_not_found_and_nothing_is_sent(
    wb: Workbench, openai_server: FakeOpenAIServer
) -> None:
    sid = await wb.sessions.create_session("alice")
    with pytest.raises(NotFoundError):
        await wb.chat.ask("mallory", sid, "hello")
    assert openai_server.chat_requests == [] and await history(wb, sid) == []


async def test_the_question_is_stored_while_the_request_goes_out(
    wb: Workbench, openai_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = await wb.sessions.create_session("alice")
    append = wb.messages.append_message

    async def after_the_request_arrived(*args: Any, **kwargs: Any) -> Message:
        async with asyncio.timeout(5):  # a service that stored first, then sent, would wait here forever
            while not openai_server.chat_requests:  # noqa: ASYNC110 - recorded on the server's thread
                await asyncio.sleep(0.005)
        return await append(*args, **kwargs)

    monkeypatch.setattr(wb.messages, "append_message", after_the_request_arrived)
    reply = await wb.chat.ask("alice", sid, "overlap")
    assert reply.content == "echo: overlap" and reply.seq == 2
    assert await history(wb, sid) == [("user", "overlap"), ("assistant", "echo: overlap")]


async def test_a_question_that_cannot_be_stored_shows_no_reply_and_stores_none(
    wb: Workbench, openai_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = await wb.sessions.create_session("alice")
    with pytest.raises(ValidationError):
        await wb.chat.ask("alice", sid, "x" * (wb.settings.max_content_bytes + 1))
    assert openai_server.chat_requests == []  # refused before anything is sent

    async def store_down(*args: Any, **kwargs: Any) -> Message:
        await asyncio.sleep(0.05)  # fails while the reply is already streaming
        raise StoreUnavailableError("database down", store="sqlite")

    monkeypatch.setattr(wb.messages, "append_message", store_down)
    received = []
    with pytest.raises(StoreUnavailableError):
        async for delta in wb.chat.send("alice", sid, "lost?", model=SLOW):
            received.append(delta)
    assert received == []  # no text is shown for a question that is not stored
    monkeypatch.undo()
    assert await history(wb, sid) == []
