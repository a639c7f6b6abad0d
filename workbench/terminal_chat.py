"""``workbench chat``: chat in a session from the terminal, replies streamed as they are generated.

Commands: ``/new [name]``, ``/sessions``, ``/switch <number|id>``, ``/help``, ``/exit``.
Ctrl-C while a reply streams stops it (what arrived is kept, marked interrupted); at the
prompt it leaves, as ``/exit`` and end of input do.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, TextIO

from workbench.errors import LLMError, WorkbenchError
from workbench.models import Session

if TYPE_CHECKING:
    from workbench.app import Workbench

__all__ = ["TerminalChat", "run_terminal_chat"]

HELP = """\
/new [name]          start a new session
/sessions            list your sessions
/switch <number|id>  continue another session (a number from /sessions, or an id or its start)
/exit                leave (so do Ctrl-D, and Ctrl-C at the prompt)"""


def run_terminal_chat(wb: Workbench, user_id: str, session_id: str | None = None) -> None:
    """Chat on stdin/stdout until the user leaves, in a new session unless ``session_id`` is given.

    Runs its own event loop and closes ``wb`` at the end (its connections belong to that loop).
    """
    asyncio.run(_run(wb, user_id, session_id))


async def _run(wb: Workbench, user_id: str, session_id: str | None) -> None:
    try:
        await TerminalChat(wb, user_id, sys.stdout).run(stdin_lines(), session_id)
    finally:
        await wb.aclose()


async def stdin_lines() -> AsyncIterator[str]:
    """Lines of stdin, read by a daemon thread so that a pending read never holds up the exit."""
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed while a line was pending
            for line in sys.stdin:
                loop.call_soon_threadsafe(lines.put_nowait, line)
            loop.call_soon_threadsafe(lines.put_nowait, None)

    threading.Thread(target=read, name="workbench-stdin", daemon=True).start()
    while (line := await lines.get()) is not None:
        yield line.rstrip("\r\n")


class TerminalChat:
    """The chat loop over ``wb.chat``, writing to ``out``."""

    def __init__(self, wb: Workbench, user_id: str, out: TextIO) -> None:
        self.wb, self.user_id, self.out = wb, user_id, out
        self.session_id = ""
        self._listed: list[Session] = []
        self._reply: asyncio.Task[None] | None = None
        self._leaving = False

    def say(self, text: str = "", end: str = "\n") -> None:
        self.out.write(text + end)
        self.out.flush()

    async def run(self, lines: AsyncIterator[str], session_id: str | None = None) -> None:
        """Read ``lines`` until ``/exit`` or their end; Ctrl-C handling is installed while it runs."""
        if session_id is None:
            await self._new(None)
        else:
            await self._switch_to(session_id)
        self.say("/help lists the commands.")
        main = asyncio.current_task()
        assert main is not None
        with _on_ctrl_c(lambda: self._interrupt(main)):
            try:
                await self._loop(lines)
            except asyncio.CancelledError:
                if not self._leaving:
                    raise
                main.uncancel()
                self.say()

    def _interrupt(self, main: asyncio.Task[None]) -> None:
        """Ctrl-C: stop the reply that is streaming, else leave."""
        if self._reply is not None and not self._reply.done():
            self._reply.cancel()
        else:
            self._leaving = True
            main.cancel()

    async def _loop(self, lines: AsyncIterator[str]) -> None:
        self.say("you> ", end="")
        async for line in lines:
            text = line.strip()
            if text.startswith("/"):
                if not await self._command(text):
                    return
            elif text:
                await self._send(text)
            self.say("you> ", end="")
        self.say()

    async def _command(self, text: str) -> bool:
        """Run a command; ``False`` to leave."""
        name, _, argument = text.partition(" ")
        argument = argument.strip()
        try:
            if name in ("/exit", "/quit"):
                return False
            if name == "/new":
                await self._new(argument or None)
            elif name == "/sessions":
                await self._list()
            elif name == "/switch" and argument:
                await self._switch(argument)
            else:
                self.say(HELP)
        except WorkbenchError as exc:
            self.say(f"[error] {exc}")
        return True

    async def _new(self, name: str | None) -> None:
        self.session_id = await self.wb.sessions.create_session(self.user_id, name)
        session = await self.wb.sessions.get_session(self.user_id, self.session_id)
        self.say(f"new session {session.session_id} ({session.name})")

    async def _list(self) -> None:
        self._listed = await self.wb.sessions.list_sessions(self.user_id)
        for number, s in enumerate(self._listed, 1):
            mark = "*" if s.session_id == self.session_id else " "
            self.say(f"{mark}{number:3}. {s.session_id}  {s.name}  ({s.message_count} messages)")

    async def _switch(self, argument: str) -> None:
        if argument.isdigit() and 0 < int(argument) <= len(self._listed):
            await self._switch_to(self._listed[int(argument) - 1].session_id)
            return
        matches = [s for s in await self.wb.sessions.list_sessions(self.user_id) if s.session_id.startswith(argument)]
        if len(matches) != 1:
            self.say(f"[error] {len(matches) or 'no'} sessions match {argument!r}; /sessions lists them")
            return
        await self._switch_to(matches[0].session_id)

    async def _switch_to(self, session_id: str) -> None:
        session = await self.wb.sessions.get_session(self.user_id, session_id)
        self.session_id = session.session_id
        self.say(f"session {session.session_id} ({session.name}, {session.message_count} messages)")

    async def _send(self, text: str) -> None:
        self._reply = asyncio.create_task(self._stream(text))
        try:
            await self._reply
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # not Ctrl-C: this task itself is being cancelled
            self.say("\n[stopped]")
        except LLMError as exc:
            self.say(f"\n[error] {exc}\n(your message is saved; send again, or /new)")
        finally:
            self._reply = None

    async def _stream(self, text: str) -> None:
        async for delta in self.wb.chat.send(self.user_id, self.session_id, text):
            self.say(delta.text, end="")
        self.say()


@contextlib.contextmanager
def _on_ctrl_c(handler: Callable[[], None]) -> Iterator[None]:
    """Call ``handler`` on SIGINT within the block, where the loop can (elsewhere Ctrl-C raises as usual)."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, handler)
    except (NotImplementedError, RuntimeError, ValueError):  # Windows, or not the main thread
        installed = False
    else:
        installed = True
    try:
        yield
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGINT)
