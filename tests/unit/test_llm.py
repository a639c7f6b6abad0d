"""The LLM client against a real HTTP server speaking the chat-completions wire format."""

import logging
import socket
import time
from pathlib import Path

import pytest
from openai import AsyncOpenAI, OpenAI
from pydantic import SecretStr

from tests.openai_server import FakeOpenAIServer
from workbench import (
    LLMConnectionError,
    LLMError,
    LLMStatusError,
    LLMTimeoutError,
    RateLimitError,
    Settings,
    Workbench,
)
from workbench.llm import LLM, AsyncLLMClient, ChatDelta, ChatReply, LLMClient, Usage

KEY = "sk-test-DO-NOT-LEAK-4f9a1c"
HI = [{"role": "user", "content": "hi there"}]


def settings_for(server: FakeOpenAIServer, **overrides: object) -> Settings:
    options: dict[str, object] = {
        "openai_base_url": server.base_url,
        "openai_api_key": SecretStr(KEY),
        "model": "echo",
        "llm_timeout": 5.0,
        "llm_max_retries": 0,
    }
    return Settings(**{**options, **overrides})


def joined(deltas: list[ChatDelta]) -> str:
    return "".join(d.text for d in deltas)


def test_sync_calls(openai_server: FakeOpenAIServer) -> None:
    llm = LLM(settings_for(openai_server))
    reply = llm.sync_nonstream_chat(HI)
    assert reply == ChatReply("echo: hi there", "echo", "stop", Usage(2, 3, 5))
    deltas = list(llm.sync_stream_chat(HI))
    assert joined(deltas) == "echo: hi there"
    assert [d.finish_reason for d in deltas if d.finish_reason] == ["stop"]
    assert deltas[-1].usage == Usage(2, 3, 5)
    plain, streamed = openai_server.chat_requests
    assert "stream" not in plain and "stream_options" not in plain
    assert streamed["stream"] is True and streamed["stream_options"] == {"include_usage": True}
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in openai_server.requests)
    llm.close()


async def test_async_calls(openai_server: FakeOpenAIServer) -> None:
    llm = LLM(settings_for(openai_server))
    assert (await llm.async_nonstream_chat(HI)).text == "echo: hi there"
    assert joined([d async for d in llm.async_stream_chat(HI)]) == "echo: hi there"
    service_deltas = [d async for d in llm.chat_completion_stream(HI)]
    assert joined(service_deltas) == "echo: hi there" and service_deltas[-1].usage is not None
    assert [r["messages"] for r in openai_server.chat_requests] == [HI, HI, HI]
    await llm.aclose()


async def test_settings_are_defaults_and_calls_override_them(openai_server: FakeOpenAIServer) -> None:
    llm = LLM(settings_for(openai_server, temperature=0.25, max_tokens=64))
    await llm.async_nonstream_chat(HI)
    sent = openai_server.chat_requests[-1]
    assert (sent["model"], sent["temperature"], sent["max_tokens"]) == ("echo", 0.25, 64)

    deltas = [d async for d in llm.async_stream_chat(HI, model="no-usage", temperature=1.5, max_tokens=2)]
    sent = openai_server.chat_requests[-1]
    assert (sent["model"], sent["temperature"], sent["max_tokens"]) == ("no-usage", 1.5, 2)
    assert joined(deltas) == "echo: hi " and deltas[-1].finish_reason == "length"

    await llm.async_nonstream_chat(HI, temperature=None)
    assert "temperature" not in openai_server.chat_requests[-1]
    with pytest.raises(TypeError, match="top_p"):
        await llm.async_nonstream_chat(HI, top_p=0.5)  # type: ignore[call-arg]
    await llm.aclose()


async def test_stream_from_a_server_that_ignores_stream_options(openai_server: FakeOpenAIServer) -> None:
    llm = LLM(settings_for(openai_server, model="no-usage"))
    deltas = [d async for d in llm.chat_completion_stream(HI)]
    assert joined(deltas) == "echo: hi there"
    assert all(d.usage is None for d in deltas) and deltas[-1].finish_reason == "stop"
    assert (await llm.async_nonstream_chat(HI)).usage is None
    await llm.aclose()


async def test_retries_429_and_500_then_succeeds(openai_server: FakeOpenAIServer) -> None:
    llm = LLM(settings_for(openai_server, llm_max_retries=1))
    assert (await llm.async_nonstream_chat(HI, model="rate-limit-once")).text == "echo: hi there"
    assert joined([d async for d in llm.chat_completion_stream(HI, model="error-500-once")]) == "echo: hi there"
    assert [r["model"] for r in openai_server.chat_requests] == ["rate-limit-once"] * 2 + ["error-500-once"] * 2
    await llm.aclose()


async def test_status_errors_are_translated(openai_server: FakeOpenAIServer) -> None:
    llm = LLM(settings_for(openai_server))
    with pytest.raises(RateLimitError) as limited:
        await llm.async_nonstream_chat(HI, model="rate-limit:retry_after=7")
    assert limited.value.status_code == 429 and limited.value.retry_after == 7.0 and limited.value.retryable
    assert limited.value.request_id is not None and limited.value.request_id.startswith("req_")

    with pytest.raises(LLMStatusError) as failed:
        _ = [d async for d in llm.chat_completion_stream(HI, model="error-500")]
    assert failed.value.status_code == 500 and failed.value.retryable and failed.value.request_id

    with pytest.raises(LLMStatusError) as refused:
        llm.sync_nonstream_chat(HI, model="error-400")
    assert refused.value.status_code == 400 and not refused.value.retryable
    assert len(openai_server.chat_requests) == 3  # max_retries=0: no retry
    await llm.aclose()


async def test_a_stalled_server_times_out(openai_server: FakeOpenAIServer) -> None:
    llm = LLM(settings_for(openai_server))
    started = time.monotonic()
    with pytest.raises(LLMTimeoutError) as stalled:
        await llm.async_nonstream_chat(HI, model="stall", timeout=0.3)
    assert stalled.value.retryable and time.monotonic() - started < 3
    received: list[ChatDelta] = []
    with pytest.raises(LLMTimeoutError):
        async for delta in llm.chat_completion_stream(HI, model="stall-stream", timeout=0.3):
            received.append(delta)
    assert joined(received) == "echo: "
    with pytest.raises(LLMTimeoutError):
        list(llm.sync_stream_chat(HI, model="stall", timeout=0.3))
    await llm.aclose()


async def test_a_timeout_is_retried_per_the_settings(openai_server: FakeOpenAIServer) -> None:
    llm = LLM(settings_for(openai_server, llm_timeout=0.2, llm_max_retries=1))
    with pytest.raises(LLMTimeoutError):
        await llm.async_nonstream_chat(HI, model="stall")
    assert len(openai_server.chat_requests) == 2
    await llm.aclose()


async def test_a_stream_cut_midway_is_a_connection_error(openai_server: FakeOpenAIServer) -> None:
    llm = LLM(settings_for(openai_server))
    received: list[ChatDelta] = []
    with pytest.raises(LLMConnectionError) as cut:
        async for delta in llm.chat_completion_stream(HI, model="cut-stream"):
            received.append(delta)
    assert joined(received) == "echo: hi there" and not isinstance(cut.value, LLMTimeoutError)
    await llm.aclose()


async def test_an_unreachable_endpoint_is_a_connection_error(openai_server: FakeOpenAIServer) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    llm = LLM(settings_for(openai_server, openai_base_url=f"http://user:pw@127.0.0.1:{port}/v1"))
    with pytest.raises(LLMConnectionError) as unreachable:
        await llm.async_nonstream_chat(HI)
    assert type(unreachable.value) is LLMConnectionError and unreachable.value.retryable
    assert f"127.0.0.1:{port}" in str(unreachable.value) and "pw" not in str(unreachable.value)
    assert "pw" not in repr(llm)
    await llm.aclose()


async def test_explicit_sdk_clients_are_used_and_left_open(openai_server: FakeOpenAIServer) -> None:
    sdk_async = AsyncOpenAI(base_url=openai_server.base_url, api_key="sk-own", max_retries=0)
    sdk_sync = OpenAI(base_url=openai_server.base_url, api_key="sk-own", max_retries=0)
    settings = settings_for(openai_server, openai_base_url="http://nowhere.invalid/v1", temperature=0.5)
    llm = LLM(settings, client=sdk_sync, async_client=sdk_async)
    assert (await llm.async_nonstream_chat(HI)).text == "echo: hi there"
    assert llm.sync_nonstream_chat(HI).text == "echo: hi there"
    assert [r.headers["authorization"] for r in openai_server.requests] == ["Bearer sk-own"] * 2
    assert openai_server.chat_requests[0]["temperature"] == 0.5
    await llm.aclose()
    assert not sdk_async.is_closed() and not sdk_sync.is_closed()

    async with AsyncLLMClient(sdk_async, model="no-usage") as client:
        assert (await client.chat(HI)).model == "no-usage"
    with LLMClient(sdk_sync, model="echo", max_tokens=1) as sync_client:
        assert sync_client.chat(HI).finish_reason == "length"
    assert not sdk_async.is_closed() and not sdk_sync.is_closed()
    await sdk_async.close()
    sdk_sync.close()


async def test_the_environment_is_not_read_by_the_client(
    openai_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://nowhere.invalid/v1")
    settings = settings_for(openai_server).model_copy(update={"openai_api_key": None})
    llm = LLM(settings)
    await llm.async_nonstream_chat(HI)
    assert openai_server.requests[-1].headers["authorization"] == "Bearer not-needed"
    await llm.aclose()


async def test_a_server_refusing_the_key_is_a_status_error() -> None:
    with FakeOpenAIServer(api_key="sk-right") as server:
        llm = LLM(settings_for(server))
        with pytest.raises(LLMStatusError) as refused:
            await llm.async_nonstream_chat(HI)
        assert refused.value.status_code == 401 and not refused.value.retryable
        await llm.aclose()


async def test_the_api_key_never_appears_in_logs_reprs_or_errors(
    openai_server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("openai", "httpx", "httpx2", "httpcore", "httpcore2", "workbench"):
        caplog.set_level(logging.DEBUG, logger=name)
    settings = settings_for(openai_server, llm_max_retries=1, profile="embedded", data_dir=tmp_path / "store")
    wb = Workbench.open(settings)
    shown = [repr(wb), repr(wb.llm), repr(wb.llm.aio), repr(wb.llm.sync), repr(settings), str(settings.describe())]
    await wb.llm.async_nonstream_chat(HI)
    _ = [d async for d in wb.llm.chat_completion_stream(HI)]
    list(wb.llm.sync_stream_chat(HI))
    errors: list[LLMError] = []
    for model in ("rate-limit", "error-500", "stall"):
        try:
            await wb.llm.async_nonstream_chat(HI, model=model, timeout=0.2)
        except LLMError as exc:
            errors.append(exc)
    sid = await wb.sessions.create_session("alice")
    await wb.chat.ask("alice", sid, "hello")
    await wb.aclose()
    assert len(errors) == 3 and len(caplog.records) > 10
    assert any(r.name.startswith("openai") for r in caplog.records)
    texts = [*shown, caplog.text, *(r.getMessage() for r in caplog.records)]
    texts += [f"{e!s} {e!r} {e.__cause__!s} {e.__cause__!r}" for e in errors]
    leaked = [t for t in texts if KEY in t]
    assert not leaked


def test_llm_builds_nothing_until_used(tmp_path: Path) -> None:
    wb = Workbench.open(profile="embedded", data_dir=tmp_path / "store", openai_base_url="http://127.0.0.1:9/v1")
    assert "llm" not in wb.__dict__
    assert wb.llm.model == wb.settings.model and "aio" not in wb.llm.__dict__
    assert repr(wb.llm) == f"<LLM model={wb.settings.model!r} at http://127.0.0.1:9/v1>"
