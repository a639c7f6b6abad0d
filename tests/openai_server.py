"""A small OpenAI-compatible chat-completions server, for tests, notebooks and benchmarks.

Real HTTP/1.1 on loopback (``asyncio`` streams in a thread of its own), speaking the wire
format of ``POST /v1/chat/completions`` (a JSON reply, or server-sent events ending in
``data: [DONE]``, with usage when ``stream_options.include_usage`` asks for it) and
``GET /v1/models``. Every request is recorded in :attr:`FakeOpenAIServer.requests`.

The model name picks the behaviour; options follow a colon (``slow-stream:delay=0.02,tokens=10``)::

    echo             "echo: <last user message>" (any unknown name behaves so too)
    no-usage         echo, but never sends usage (a server that ignores stream_options)
    slow-stream      ``tokens`` tokens (40), ``delay`` seconds (0.05) apart
    stall            reads the request and never answers
    stall-stream     sends the first token, then nothing
    cut-stream       sends ``tokens`` tokens (3), then drops the connection mid-body
    rate-limit       HTTP 429 with ``Retry-After: <retry_after>`` (0), ``times`` times (always), then echo
    rate-limit-once  rate-limit with times=1
    error-<status>   that HTTP status (``error-500``), ``times`` times (always), then echo
    error-500-once   error-500 with times=1

Standalone: ``python -m tests.openai_server --port 8765``, then point the workbench at
``OPENAI_BASE_URL=http://127.0.0.1:8765/v1``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

__all__ = ["FakeOpenAIServer", "RecordedRequest"]

_TOKEN = re.compile(r"\S+\s*|\s+")
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests"}
MODELS = ("echo", "no-usage", "slow-stream", "stall", "stall-stream", "cut-stream", "rate-limit", "error-500")


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it; header names are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True)
class _Behaviour:
    name: str
    options: dict[str, float]

    @classmethod
    def parse(cls, model: str) -> _Behaviour:
        name, _, raw = model.partition(":")
        options = {k.strip(): float(v) for k, v in (p.split("=", 1) for p in raw.split(",") if "=" in p)}
        if name.endswith("-once"):
            name, options = name.removesuffix("-once"), {"times": 1, **options}
        return cls(name, options)

    def get(self, option: str, default: float) -> float:
        return self.options.get(option, default)


class FakeOpenAIServer:
    """The server on ``127.0.0.1:<port>`` (a free one by default); a context manager."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, api_key: str | None = None) -> None:
        self.host, self.port = host, port
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self._failures: Counter[str] = Counter()
        self._ids = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        """The JSON bodies of the chat-completion requests, in order."""
        return [r.body for r in self.requests if r.path.endswith("/chat/completions")]

    def reset(self) -> None:
        """Forget the recorded requests and the ``times`` counters."""
        self.requests.clear()
        self._failures.clear()

    # -- lifecycle --

    def start(self) -> Self:
        """Serve in a background thread; returns once the port is bound."""
        ready = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self.serve(ready.set),), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake OpenAI server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)
            self._thread = None

    async def serve(self, ready: Callable[[], None] | None = None) -> None:
        """Serve until :meth:`stop` (or cancellation); ``ready()`` is called once listening."""
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        server = await asyncio.start_server(self._connection, self.host, self.port)
        self.port = server.sockets[0].getsockname()[1]
        if ready is not None:
            ready()
        try:
            await self._stop.wait()
        finally:
            server.close()
            for task in list(self._handlers):
                task.cancel()
            await asyncio.gather(*self._handlers, return_exceptions=True)
            await server.wait_closed()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- HTTP/1.1 --

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            while (request := await _read_request(reader)) is not None:
                self.requests.append(request)
                if not await self._respond(request, _Reply(writer, f"req_{next(self._ids)}"), reader):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        except asyncio.CancelledError:
            pass  # stop() cancels open connections; ending quietly spares 3.11's stream callback a traceback
        finally:
            self._handlers.discard(task)
            writer.close()

    async def _respond(self, request: RecordedRequest, reply: _Reply, reader: asyncio.StreamReader) -> bool:
        """Answer one request; False when the connection must close."""
        if self.api_key is not None and request.headers.get("authorization") != f"Bearer {self.api_key}":
            return await reply.error(401, "invalid api key", "invalid_request_error")
        if request.method == "GET" and request.path == "/v1/models":
            models = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in MODELS]
            return await reply.json(200, {"object": "list", "data": models})
        if request.method != "POST" or request.path != "/v1/chat/completions":
            return await reply.error(404, f"no route {request.method} {request.path}", "invalid_request_error")
        body = request.body if isinstance(request.body, dict) else {}
        if not isinstance(body.get("messages"), list) or not body.get("model"):
            return await reply.error(400, "model and messages are required", "invalid_request_error")
        return await self._chat(body, reply, reader)

    async def _chat(self, body: dict[str, Any], reply: _Reply, reader: asyncio.StreamReader) -> bool:
        model: str = body["model"]
        how = _Behaviour.parse(model)
        failing = re.fullmatch(r"error-(\d{3})", how.name)
        if how.name == "rate-limit" or failing:
            if self._failures[model] < how.get("times", float("inf")):
                self._failures[model] += 1
                if failing:
                    return await reply.error(int(failing.group(1)), "the fake server failed", "server_error")
                retry_after = {"retry-after": f"{how.get('retry_after', 0):g}"}
                return await reply.error(429, "rate limited", "rate_limit_error", retry_after)
        if how.name == "stall":
            await reader.read()  # until the client gives up and hangs up
            return False

        tokens, finish_reason = self._reply_tokens(how, body)
        usage = {
            "prompt_tokens": sum(len(str(m.get("content", "")).split()) for m in body["messages"]),
            "completion_tokens": len(tokens),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        sends_usage = how.name != "no-usage"
        if not body.get("stream"):
            completion = {
                "id": f"chatcmpl-{reply.request_id}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "".join(tokens)},
                        "logprobs": None,
                        "finish_reason": finish_reason,
                    }
                ],
                **({"usage": usage} if sends_usage else {}),
            }
            return await reply.json(200, completion)

        include_usage = sends_usage and bool((body.get("stream_options") or {}).get("include_usage"))
        stream = _EventStream(reply, model, include_usage)
        await stream.start()
        await stream.chunk({"role": "assistant", "content": ""})
        delay = how.get("delay", 0.05) if how.name == "slow-stream" else 0.0
        for i, token in enumerate(tokens):
            if how.name == "cut-stream" and i == int(how.get("tokens", 3)):
                reply.writer.transport.abort()
                return False
            if delay:
                await asyncio.sleep(delay)
            await stream.chunk({"content": token})
            if how.name == "stall-stream":
                await reader.read()
                return False
        await stream.chunk({}, finish_reason)
        if include_usage:
            await stream.event({**stream.envelope, "choices": [], "usage": usage})
        await stream.done()
        return True

    @staticmethod
    def _reply_tokens(how: _Behaviour, body: dict[str, Any]) -> tuple[list[str], str]:
        if how.name == "slow-stream":
            tokens = [f"t{i} " for i in range(int(how.get("tokens", 40)))]
        else:
            last = next((m for m in reversed(body["messages"]) if m.get("role") == "user"), {})
            tokens = _TOKEN.findall(f"echo: {last.get('content', '')}")
        if how.name == "cut-stream":
            tokens += [f"more{i} " for i in range(int(how.get("tokens", 3)) + 1)]
        limit = body.get("max_tokens", body.get("max_completion_tokens"))
        if limit is not None and len(tokens) > limit:
            return tokens[:limit], "length"
        return tokens, "stop"


class _Reply:
    """How one request is answered: its writer and request id."""

    def __init__(self, writer: asyncio.StreamWriter, request_id: str) -> None:
        self.writer, self.request_id = writer, request_id

    def head(self, status: int, headers: dict[str, str]) -> bytes:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}", f"x-request-id: {self.request_id}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    async def json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> bool:
        data = json.dumps(payload, ensure_ascii=False).encode()
        head = {"content-type": "application/json", "content-length": str(len(data)), **(headers or {})}
        self.writer.write(self.head(status, head) + data)
        await self.writer.drain()
        return True

    async def error(self, status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> bool:
        return await self.json(
            status, {"error": {"message": message, "type": kind, "param": None, "code": None}}, headers
        )


class _EventStream:
    """One chunked ``text/event-stream`` response of chat-completion chunks."""

    def __init__(self, reply: _Reply, model: str, include_usage: bool) -> None:
        self.writer = reply.writer
        self.include_usage = include_usage
        self.head = reply.head(200, {"content-type": "text/event-stream", "transfer-encoding": "chunked"})
        created = int(time.time())
        self.envelope = {
            "id": f"chatcmpl-{reply.request_id}",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
        }

    async def start(self) -> None:
        self.writer.write(self.head)
        await self.writer.drain()

    async def chunk(self, delta: dict[str, str], finish_reason: str | None = None) -> None:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        await self.event({**self.envelope, "choices": [choice], **({"usage": None} if self.include_usage else {})})

    async def event(self, data: dict[str, Any]) -> None:
        await self._write(f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode())

    async def done(self) -> None:
        await self._write(b"data: [DONE]\n\n")
        self.writer.write(b"0\r\n\r\n")
        await self.writer.drain()

    async def _write(self, payload: bytes) -> None:
        self.writer.write(b"%x\r\n%s\r\n" % (len(payload), payload))
        await self.writer.drain()


async def _read_request(reader: asyncio.StreamReader) -> RecordedRequest | None:
    line = await reader.readline()
    if not line.strip():
        return None
    method, path, _ = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while (raw := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = raw.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    data = await reader.readexactly(int(headers.get("content-length", 0)))
    try:
        body = json.loads(data) if data else None
    except json.JSONDecodeError:
        body = data.decode("utf-8", "replace")
    return RecordedRequest(method, path.split("?", 1)[0], headers, body)


def main() -> None:
    parser = argparse.ArgumentParser(description="A fake OpenAI-compatible chat-completions server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    server = FakeOpenAIServer(args.host, args.port)

    def ready() -> None:
        print(f"fake OpenAI server at {server.base_url} (Ctrl-C stops it)", flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(server.serve(ready))


if __name__ == "__main__":
    main()
