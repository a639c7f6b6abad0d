"""``%%chat``: send a cell to the current session and stream the answer into the cell's output.

``%load_ext workbench`` registers it. The session is the memory: each ``%%chat`` cell continues
the current session (the first one starts it), so the model sees the earlier cells::

    %%chat --new --name "Pandas questions"
    How do I read a 2 GB CSV file with pandas?

    %%chat
    And only two of its columns?

Options: ``--new`` (start a session, named ``--name`` or after the question), ``--session ID``
(continue that session), ``--user U`` (chat as U from now on; default ``notebook``), ``--model M``
(this cell only). The workbench is the notebook's ``wb`` variable when it holds one, else one
of the magic's own (``Workbench.open()``).

IPython calls cell magics synchronously, which leaves no way to await a reply on the kernel's
running loop; so :func:`load_ipython_extension` also installs an input transformer that turns a
``%%chat`` cell into a top-level ``await`` of :meth:`ChatMagics.run`. The cell then runs (and
streams) like any awaiting cell, and interrupting the kernel stops the reply, keeping what
arrived, marked interrupted.
"""

from __future__ import annotations

import asyncio
import shlex
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

import pandas as pd
from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments
from IPython.display import display

from workbench.browse import messages_frame
from workbench.errors import WorkbenchError
from workbench.models import check_session_id, check_user_id
from workbench.widgets.chat import title_of
from workbench.widgets.render import Markdown, endpoint_hint, turn_info

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from workbench.app import Workbench

__all__ = ["DEFAULT_USER", "ChatMagics", "chat_cell_transformer", "chat_magic", "load_ipython_extension"]

DEFAULT_USER = "notebook"
PREFIX = "%%chat"


@magics_class
class ChatMagics(Magics):
    """The ``%%chat`` cell magic and its state: the user and the current session."""

    def __init__(self, shell: InteractiveShell) -> None:
        super().__init__(shell)
        self.user_id = DEFAULT_USER
        self.session_id: str | None = None
        self._own: Workbench | None = None

    def workbench(self) -> Workbench:
        """The notebook's ``wb`` if it is a :class:`Workbench`, else the magic's own."""
        from workbench.app import Workbench

        wb = self.shell.user_ns.get("wb") if self.shell is not None else None
        if isinstance(wb, Workbench):
            return wb
        if self._own is None:
            self._own = Workbench.open()
        return self._own

    @magic_arguments()
    @argument("--new", action="store_true", help="start a new session")
    @argument("--name", help="the new session's name (default: the start of the question)")
    @argument("--session", help="continue the session with this id")
    @argument("--user", help="chat as this user from now on (default: notebook)")
    @argument("--model", help="the model for this cell (default: the settings' WORKBENCH_MODEL)")
    @cell_magic
    def chat(self, line: str, cell: str) -> asyncio.Task[None]:
        """Send the cell to the current session and stream the reply into the output.

        A ``%%chat`` cell runs :meth:`run` directly (see the module's notes); called as a
        function, inside a running loop, this starts :meth:`run` and returns its task.
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise UsageError("%%chat needs a running event loop: run it as a cell in Jupyter") from None
        return loop.create_task(self.run(line, cell))

    async def run(self, line: str, cell: str) -> None:
        """What a ``%%chat`` cell does: ``line`` holds the options, ``cell`` the question."""
        try:
            args = self.chat.parser.parse_args(shlex.split(line))
        except (UsageError, ValueError) as exc:  # ValueError: unbalanced quotes
            display(Markdown(f"**%%chat:** {exc}"))
            return
        wb = self.workbench()
        if hint := endpoint_hint(wb.settings):
            display(Markdown(f"**No model to chat with.** {hint}"))
            return
        question = cell.strip()
        try:
            if args.user:
                self.user_id, self.session_id = check_user_id(args.user), None
            if not question:
                raise UsageError("the cell is empty: write the question below the %%chat line")
            if args.session:
                session = await wb.sessions.get_session(self.user_id, check_session_id(args.session))
                self.session_id = session.session_id
            elif args.new or self.session_id is None:
                name = args.name or title_of(question)
                self.session_id = await wb.sessions.create_session(self.user_id, name)
            await self._exchange(wb, self.session_id, question, args.model)
        except (WorkbenchError, UsageError) as exc:
            display(Markdown(f"**chat failed:** {exc}"))

    async def history(self) -> pd.DataFrame:
        """The current session's messages, one row each (empty before the first ``%%chat``)."""
        if self.session_id is None:
            return messages_frame([])
        wb = self.workbench()
        session = await wb.sessions.get_session(self.user_id, self.session_id)
        return messages_frame([(session, await wb.messages.get_messages(self.user_id, self.session_id))])

    async def _exchange(self, wb: Workbench, session_id: str, question: str, model: str | None) -> None:
        options: dict[str, Any] = {"model": model} if model else {}
        text = ""
        handle = display(Markdown("…"), display_id=True)
        try:
            async with aclosing(wb.chat.send(self.user_id, session_id, question, **options)) as stream:
                async for delta in stream:
                    if delta.text:
                        text += delta.text
                        if handle is not None:
                            handle.update(Markdown(text))
        except asyncio.CancelledError:
            display(Markdown("*stopped: what arrived is kept, marked interrupted*"))
            raise
        except WorkbenchError as exc:  # shown in place of the reply; the question stays in the session
            failure = Markdown(f"{text}\n\n**chat failed:** {exc}".strip())
            if handle is not None:
                handle.update(failure)
            return
        session = await wb.sessions.get_session(self.user_id, session_id)
        reply = (await wb.messages.get_messages(self.user_id, session_id))[-1]
        display(Markdown(f"*{turn_info(reply.metadata)} · session “{session.name}”, {session.message_count} messages*"))


def chat_magic() -> ChatMagics:
    """The ``%%chat`` magic of the running IPython (after ``%load_ext workbench``), to read its state."""
    from IPython import get_ipython

    shell = get_ipython()
    magics = shell.magics_manager.registry.get(ChatMagics.__name__) if shell is not None else None
    if not isinstance(magics, ChatMagics):
        raise UsageError("%%chat is not loaded: run %load_ext workbench first")
    return magics


def chat_cell_transformer(lines: list[str]) -> list[str]:
    """An IPython input transformer: a ``%%chat`` cell becomes ``await <ChatMagics>.run(options, body)``."""
    if not lines:
        return lines
    first = lines[0].rstrip("\n")
    if first != PREFIX and not first.startswith(PREFIX + " "):
        return lines
    options, body = first[len(PREFIX) :].strip(), "".join(lines[1:])
    return [f"await get_ipython().magics_manager.registry['ChatMagics'].run({options!r}, {body!r})\n"]


def load_ipython_extension(ipython: InteractiveShell) -> None:
    """``%load_ext workbench``: register ``%%chat`` and the transformer that lets it await."""
    ipython.register_magics(ChatMagics)
    if chat_cell_transformer not in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.append(chat_cell_transformer)
