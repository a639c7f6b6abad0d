"""The terminal chat, driven by scripted lines and, end to end, through a real stdin and Ctrl-C."""

import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

from tests.openai_server import FakeOpenAIServer
from workbench import Workbench
from workbench.terminal_chat import TerminalChat


async def scripted(lines: Iterable[str]) -> AsyncIterator[str]:
    for line in lines:
        yield line


def open_wb(tmp_path: Path, server: FakeOpenAIServer) -> Workbench:
    return Workbench.open(
        profile="embedded", data_dir=tmp_path / "store", openai_base_url=server.base_url, model="echo"
    )


async def test_commands_and_streamed_replies(tmp_path: Path, openai_server: FakeOpenAIServer) -> None:
    async with open_wb(tmp_path, openai_server) as wb:
        out = io.StringIO()
        chat = TerminalChat(wb, "alice", out)
        lines = ["hello", "/new Second", "hi again", "/sessions", "/switch 2", "/switch zzz", "/help", "", "/exit", "x"]
        await chat.run(scripted(lines))
        first, second = reversed(await wb.sessions.list_sessions("alice"))
        assert [m.content for m in await wb.messages.get_messages("alice", first.session_id)] == [
            "hello",
            "echo: hello",
        ]
        assert second.name == "Second" and second.message_count == 2
        assert chat.session_id == first.session_id  # /switch 2 picked the second of the listing
        text = out.getvalue()
        assert "echo: hello\n" in text and "echo: hi again\n" in text
        assert f"*  1. {second.session_id}  Second  (2 messages)" in text
        assert f"session {first.session_id}" in text and "no sessions match 'zzz'" in text
        assert "/switch <number|id>" in text
        assert [r["messages"][-1]["content"] for r in openai_server.chat_requests] == ["hello", "hi again"]


async def test_resume_by_id_and_errors_keep_the_chat_going(tmp_path: Path, openai_server: FakeOpenAIServer) -> None:
    async with open_wb(tmp_path, openai_server) as wb:
        sid = await wb.sessions.create_session("alice", name="Old")
        out = io.StringIO()
        chat = TerminalChat(wb, "alice", out)
        await chat.run(scripted(["/sessions", f"/switch {sid[:8]}", "/nope"]), session_id=sid)
        assert out.getvalue().startswith(f"session {sid} (Old, 0 messages)")

    async with Workbench.open(wb.settings, model="error-500", llm_max_retries=0) as failing:
        out = io.StringIO()
        await TerminalChat(failing, "alice", out).run(scripted(["hello", "/exit"]), session_id=sid)
        assert "[error] HTTP 500" in out.getvalue() and "your message is saved" in out.getvalue()
        assert [m.content for m in await failing.messages.get_messages("alice", sid)] == ["hello"]


def test_workbench_chat_on_a_real_terminal_stream(tmp_path: Path, openai_server: FakeOpenAIServer) -> None:
    """stdin and stdout of a child process; Ctrl-C stops the streaming reply, and the chat goes on."""
    program = (
        "import sys; from workbench import Workbench; from workbench.terminal_chat import run_terminal_chat; "
        f"run_terminal_chat(Workbench.open(data_dir=sys.argv[1], openai_base_url={openai_server.base_url!r}, "
        "model='slow-stream:delay=0.05,tokens=200'), 'alice')"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "WORKBENCH_"))}
    child = subprocess.Popen(
        [sys.executable, "-c", program, str(tmp_path / "store")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write("tell me a story\n")
    child.stdin.flush()
    seen = ""
    deadline = time.monotonic() + 20
    while "t3 " not in seen and time.monotonic() < deadline:
        seen += child.stdout.read(1)
    child.send_signal(signal.SIGINT)
    child.stdin.write("/exit\n")
    child.stdin.flush()
    out, err = child.communicate(timeout=20)
    assert child.returncode == 0, err
    assert "you> " in (seen + out).split("[stopped]", 1)[1]  # stopped, and the chat went on

    async_check = (
        "import asyncio, sys; from workbench import Workbench\n"
        "async def main():\n"
        "    async with Workbench.open(data_dir=sys.argv[1]) as wb:\n"
        "        (s,) = await wb.sessions.list_sessions('alice')\n"
        "        m = await wb.messages.get_messages('alice', s.session_id)\n"
        "        print(len(m), m[-1].metadata.get('interrupted'), m[-1].content.startswith('t0 t1 t2 t3 '))\n"
        "asyncio.run(main())"
    )
    stored = subprocess.run(
        [sys.executable, "-c", async_check, str(tmp_path / "store")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=30,
        check=True,
    )
    assert stored.stdout.split() == ["2", "True", "True"]
