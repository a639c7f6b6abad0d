"""The chat widget: :class:`ChatController` holds the state and does the work, :class:`ChatWidget` shows it.

The controller is plain Python: tests (and scripts) drive it with ``await`` and read its
``sessions``, ``transcript`` and ``status``. The widget only binds ipywidgets to it; each
callback hands its work to the kernel's running loop (see :mod:`workbench.widgets.tasks`) and
returns at once, so the kernel keeps answering while a reply streams. Failures become the
status line, never a traceback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import aclosing, contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import ipywidgets as widgets

from workbench.errors import WorkbenchError
from workbench.models import Message, Role, Session, check_user_id
from workbench.widgets.render import CSS, endpoint_hint, escape, markdown_to_html, turn_info
from workbench.widgets.tasks import Tasks

if TYPE_CHECKING:
    from workbench.app import Workbench

__all__ = ["ChatController", "ChatWidget", "Status", "Turn"]

Event = Literal["sessions", "transcript", "delta", "status", "delete"]
TITLE_CHARS = 40


@dataclass
class Turn:
    """One message of the transcript; ``streaming`` while its text is still arriving."""

    role: str
    content: str
    info: str = ""
    interrupted: bool = False
    streaming: bool = False

    @classmethod
    def of(cls, message: Message) -> Turn:
        return cls(
            str(message.role),
            message.content,
            turn_info(message.metadata),
            interrupted=bool(message.metadata.get("interrupted")),
        )


@dataclass(frozen=True, slots=True)
class Status:
    """The status line: what happened last."""

    text: str
    kind: Literal["info", "busy", "error"] = "info"


def title_of(text: str) -> str:
    """A session name from the first line of its first question."""
    line = text.strip().splitlines()[0].strip()
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"


class ChatController:
    """One user's chat: their sessions, the selected one's transcript, sending, stopping, errors."""

    def __init__(self, wb: Workbench, user_id: str, *, model: str | None = None) -> None:
        self.wb = wb
        self.user_id = check_user_id(user_id)
        self.model = model or wb.settings.model
        self.sessions: list[Session] = []
        self.session: Session | None = None
        self.transcript: list[Turn] = []
        self.pending_delete: Session | None = None
        hint = endpoint_hint(wb.settings)
        self.status = Status(hint, "error") if hint else Status("Ready.")
        self._listeners: list[Callable[[Event], None]] = []
        self._reply: asyncio.Task[Message | None] | None = None
        self._sending = self._stopping = self._streaming = False
        self.tasks = Tasks(lambda exc: self._set_status(f"Unexpected error: {type(exc).__name__}: {exc}", "error"))

    # -- observing --

    def subscribe(self, listener: Callable[[Event], None]) -> None:
        """Call ``listener(event)`` after every change (``sessions``, ``transcript``, ``delta``, ...)."""
        self._listeners.append(listener)

    def _emit(self, *events: Event) -> None:
        for event in events:
            for listener in self._listeners:
                listener(event)

    def _set_status(self, text: str, kind: Literal["info", "busy", "error"] = "info") -> None:
        self.status = Status(text, kind)
        self._emit("status")

    @contextmanager
    def _reporting(self, doing: str) -> Iterator[None]:
        """A :class:`WorkbenchError` inside becomes the status line instead of propagating."""
        try:
            yield
        except WorkbenchError as exc:
            self._set_status(f"{doing} failed: {exc}", "error")

    @property
    def streaming(self) -> bool:
        """Whether a reply is arriving now."""
        return self._streaming

    # -- sessions --

    async def refresh(self) -> None:
        """Reload the session list; keep the selected session if it still exists, else pick the latest."""
        with self._reporting("Loading sessions"):
            self.sessions = await self.wb.sessions.list_sessions(self.user_id)
            current = self.session.session_id if self.session else None
            if current in {s.session_id for s in self.sessions}:
                self._emit("sessions")
            else:
                self.session = None
                await self.select(self.sessions[0].session_id if self.sessions else None)

    async def select(self, session_id: str | None) -> None:
        """Show the history of ``session_id`` (``None``: no session; the next send starts one)."""
        if self.streaming:
            self._set_status("A reply is streaming: stop it or wait before switching sessions.", "error")
            return
        with self._reporting("Opening the session"):
            self.pending_delete = None
            if session_id is None:
                self.session, self.transcript = None, []
                self._emit("sessions", "transcript", "delete")
                return
            self.session = await self.wb.sessions.get_session(self.user_id, session_id)
            await self._load_history()
            self._emit("sessions", "delete")
            self._set_status(f"{self.session.name}: {len(self.transcript)} messages.")

    async def _load_history(self) -> list[Message]:
        assert self.session is not None
        messages = await self.wb.messages.get_messages(self.user_id, self.session.session_id)
        self.transcript = [Turn.of(m) for m in messages]
        self._emit("transcript")
        return messages

    async def new_session(self, name: str | None = None) -> Session | None:
        """Start an empty session (named ``name``, else the default) and select it."""
        with self._reporting("Creating a session"):
            session_id = await self.wb.sessions.create_session(self.user_id, name or None)
            self.session = None
            await self.refresh()
            await self.select(session_id)
            return self.session
        return None

    async def rename(self, name: str) -> None:
        """Rename the selected session."""
        if self.session is None:
            self._set_status("No session to rename: start one first.", "error")
            return
        with self._reporting("Renaming"):
            self.session = await self.wb.sessions.rename_session(self.user_id, self.session.session_id, name)
            await self.refresh()
            self._set_status(f"Renamed to {self.session.name}.")

    def request_delete(self) -> None:
        """The first step of deleting: ask for confirmation (see :meth:`confirm_delete`)."""
        if self.session is None:
            self._set_status("No session to delete.", "error")
            return
        self.pending_delete = self.session
        self._emit("delete")
        self._set_status(f"Delete {self.session.name!r} and its {len(self.transcript)} messages? Confirm or cancel.")

    def cancel_delete(self) -> None:
        self.pending_delete = None
        self._emit("delete")
        self._set_status("Nothing was deleted.")

    async def confirm_delete(self) -> None:
        """Delete the session :meth:`request_delete` asked about; without that request, nothing happens."""
        doomed, self.pending_delete = self.pending_delete, None
        self._emit("delete")
        if doomed is None:
            self._set_status("Nothing to confirm: press Delete first.", "error")
            return
        if self.streaming:
            self._set_status("A reply is streaming: stop it before deleting.", "error")
            return
        with self._reporting("Deleting"):
            await self.wb.sessions.delete_session(self.user_id, doomed.session_id)
            await self.refresh()
            self._set_status(f"Deleted {doomed.name!r}.")

    # -- chatting --

    async def send(self, text: str) -> Message | None:
        """Send ``text`` in the selected session (a new one if none) and wait for the stored reply.

        The reply streams into the last turn of :attr:`transcript` (a ``delta`` event per piece);
        :meth:`stop` ends it early, keeping what arrived. Returns the stored reply, else ``None``.
        """
        if self._sending:
            self._set_status("A reply is still streaming: stop it or wait.", "error")
            return None
        if not text.strip():
            self._set_status("Type a message first.", "error")
            return None
        if hint := endpoint_hint(self.wb.settings):
            self._set_status(hint, "error")
            return None
        self._sending = True
        try:
            if self.session is None and await self.new_session(title_of(text)) is None:
                return None
            self._stopping = False
            self._reply = asyncio.get_running_loop().create_task(self._exchange(text.strip()))
            return await self._reply
        finally:
            self._sending = False

    def submit(self, text: str) -> asyncio.Task[Message | None]:
        """:meth:`send` as a task of its own (call it on the controller's loop; widgets use :attr:`tasks`)."""
        return self.tasks.spawn(self.send(text))

    def stop(self) -> bool:
        """Stop the streaming reply; the chat service stores what arrived, marked interrupted."""
        if not self.streaming or self._stopping:
            return False
        assert self._reply is not None
        self._stopping = True
        self._reply.cancel()
        self._set_status("Stopping…", "busy")
        return True

    async def _exchange(self, text: str) -> Message | None:
        assert self.session is not None
        session, before = self.session, len(self.transcript)
        reply = Turn("assistant", "", info=f"{self.model} · streaming…", streaming=True)
        self.transcript += [Turn("user", text), reply]
        self._streaming, stopped, failure = True, False, None
        self._emit("transcript")
        self._set_status(f"{self.model} is replying…", "busy")
        try:
            stream = self.wb.chat.send(self.user_id, session.session_id, text, model=self.model)
            async with aclosing(stream) as deltas:
                async for delta in deltas:
                    if delta.text:
                        reply.content += delta.text
                        self._emit("delta")
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()  # the stop was ours: this task ends normally
            stopped = True
        except WorkbenchError as exc:
            failure = f"The model call failed: {exc}"
        finally:
            self._streaming = reply.streaming = False
        stored: Message | None = None
        with self._reporting("Reloading the session"):
            stored = await self._load_exchange(before)
            self.sessions = await self.wb.sessions.list_sessions(self.user_id)
            self._emit("sessions")
        if failure is not None:
            self._set_status(failure, "error")
        elif stopped:
            kept = "the partial reply is kept, marked interrupted" if stored else "no text had arrived"
            self._set_status(f"Stopped: {kept}.")
        elif stored is not None:
            self._set_status(turn_info(stored.metadata))
        return stored

    async def _load_exchange(self, before: int) -> Message | None:
        """Show the exchange as stored; returns the stored reply, if any.

        The chat service appends the question at seq ``before + 1``, then the reply (or nothing,
        when it failed): only those two are read, unless the session changed meanwhile.
        """
        assert self.session is not None
        tail = await self.wb.messages.get_messages(self.user_id, self.session.session_id, last=2)
        ours = [m for m in tail if m.seq > before]
        if not ours or ours[0].seq != before + 1 or ours[0].role is not Role.USER:
            ours = (await self._load_history())[before:]  # another writer was here: show it all
        else:
            self.transcript = self.transcript[:before] + [Turn.of(m) for m in ours]
            self._emit("transcript")
        return ours[1] if len(ours) == 2 and ours[1].role is Role.ASSISTANT else None

    async def idle(self) -> None:
        """Wait until the work widgets started (and any reply) is finished."""
        await self.tasks.idle(self._reply)


def _turn_html(turn: Turn) -> str:
    info = escape(turn.info)
    if turn.interrupted:
        info = info.replace("interrupted", "<span class='wb-interrupted'>■ interrupted</span>")
    body = markdown_to_html(turn.content) if turn.content else "<p>…</p>"
    return (
        f"<div class='wb-turn wb-{escape(turn.role)}'><div class='wb-role'>{escape(turn.role)}</div>"
        f"{body}" + (f"<div class='wb-info'>{info}</div>" if info else "") + "</div>"
    )


def _button(description: str, style: str = "", *, tooltip: str = "", width: str = "auto") -> widgets.Button:
    return widgets.Button(description=description, button_style=style, tooltip=tooltip, layout={"width": width})


def _shown(widget: widgets.Widget, visible: bool) -> None:
    widget.layout.display = None if visible else "none"


class ChatWidget(widgets.VBox):
    """Pick, create, rename or delete a session, read it, chat in it; ``controller`` does the work.

    Enter sends: the text area syncs every keystroke (``continuous_update``) and a value that
    ends with a newline is sent without it. A line break in the middle of the text (pasted,
    or typed before the end) stays part of the message.
    """

    def __init__(
        self, wb: Workbench, user_id: str, *, model: str | None = None, controller: ChatController | None = None
    ) -> None:
        self.controller = controller or ChatController(wb, user_id, model=model)
        c = self.controller
        self.session_picker = widgets.Dropdown(description="Session", layout={"width": "420px"})
        self.new_button = _button("New", tooltip="start an empty session")
        self.rename_button = _button("Rename", tooltip="rename this session")
        self.delete_button = _button("Delete", "danger", tooltip="delete this session (asks first)")
        self.model_box = widgets.Text(value=c.model, description="Model", layout={"width": "260px"})
        self.name_box = widgets.Text(placeholder="new name", layout={"width": "320px"})
        self.save_name_button = _button("Save name", "primary")
        self.cancel_name_button = _button("Cancel")
        self.rename_row = widgets.HBox([self.name_box, self.save_name_button, self.cancel_name_button])
        self.confirm_text = widgets.HTML()
        self.confirm_button = _button("Yes, delete", "danger")
        self.cancel_delete_button = _button("Cancel")
        self.confirm_row = widgets.HBox([self.confirm_text, self.confirm_button, self.cancel_delete_button])
        self.transcript = widgets.VBox(
            layout={
                "display": "flex",
                "flex_flow": "column-reverse",  # keeps the newest message in view as the reply grows
                "max_height": "460px",
                "overflow": "auto",
                "border": "1px solid var(--jp-border-color2, #ddd)",
                "padding": "4px",
            }
        )
        self.transcript.add_class("wb-transcript")
        self.input = widgets.Textarea(
            placeholder="Ask something… (Enter sends)", continuous_update=True, rows=3, layout={"flex": "1 1 auto"}
        )
        self.input.add_class("wb-input")
        self.send_button = _button("Send", "primary", width="90px")
        self.stop_button = _button("Stop", "warning", width="90px", tooltip="stop the reply (what arrived is kept)")
        self.status_line = widgets.HTML()
        for widget, name in (
            (self.status_line, "wb-status"),
            (self.send_button, "wb-send"),
            (self.stop_button, "wb-stop"),
            (self.model_box, "wb-model"),
            (self.session_picker, "wb-sessions"),
        ):
            widget.add_class(name)  # stable hooks for styling and for browser tests
        self._turns: list[widgets.HTML] = []
        self._shown: list[Turn] = []  # what each of ``_turns`` shows: unchanged turns are not rendered again
        self._updating = False
        super().__init__(
            [
                widgets.HTML(CSS),
                widgets.HBox([self.session_picker, self.new_button, self.rename_button, self.delete_button]),
                self.model_box,
                self.rename_row,
                self.confirm_row,
                self.transcript,
                widgets.HBox(
                    [self.input, widgets.VBox([self.send_button, self.stop_button], layout={"flex": "0 0 auto"})],
                    layout={"width": "100%"},
                ),
                self.status_line,
            ]
        )
        self.add_class("wb-chat")
        _shown(self.rename_row, False)
        self._wire()
        c.subscribe(self._on_event)
        initial: tuple[Event, ...] = ("sessions", "transcript", "status", "delete")
        for event in initial:
            self._on_event(event)
        c.tasks.start(c.refresh)

    def __repr__(self) -> str:
        session = self.controller.session
        return f"<ChatWidget user={self.controller.user_id!r} session={session.name if session else None!r}>"

    def _wire(self) -> None:
        c = self.controller
        self.session_picker.observe(self._picked, names="value")
        self.new_button.on_click(lambda _: c.tasks.start(c.new_session))
        self.rename_button.on_click(self._start_rename)
        self.save_name_button.on_click(self._save_name)
        self.cancel_name_button.on_click(lambda _: _shown(self.rename_row, False))
        self.delete_button.on_click(lambda _: c.tasks.call(c.request_delete))
        self.confirm_button.on_click(lambda _: c.tasks.start(c.confirm_delete))
        self.cancel_delete_button.on_click(lambda _: c.tasks.call(c.cancel_delete))
        self.model_box.observe(self._model_changed, names="value")
        self.input.observe(self._typed, names="value")
        self.send_button.on_click(lambda _: self._submit(self.input.value))
        self.stop_button.on_click(lambda _: c.tasks.call(c.stop))

    # -- from the user --

    def _picked(self, change: dict[str, Any]) -> None:
        if not self._updating and change["new"] != (self.controller.session and self.controller.session.session_id):
            session_id = change["new"]
            self.controller.tasks.start(lambda: self.controller.select(session_id))

    def _start_rename(self, _: widgets.Button) -> None:
        if self.controller.session is not None:
            self.name_box.value = self.controller.session.name
        _shown(self.rename_row, True)

    def _save_name(self, _: widgets.Button) -> None:
        _shown(self.rename_row, False)
        name = self.name_box.value
        self.controller.tasks.start(lambda: self.controller.rename(name))

    def _model_changed(self, change: dict[str, Any]) -> None:
        self.controller.model = change["new"].strip() or self.controller.wb.settings.model

    def _typed(self, change: dict[str, Any]) -> None:
        if not self._updating and change["new"].endswith("\n"):
            self._submit(change["new"].rstrip("\n"))

    def _submit(self, text: str) -> None:
        c = self.controller
        unsendable = c.streaming or not text.strip() or endpoint_hint(c.wb.settings) is not None
        self._set_input(text if unsendable else "")  # what could not be sent stays, without the Enter
        c.tasks.start(lambda: c.send(text))

    def _set_input(self, text: str) -> None:
        self._updating = True
        try:
            self.input.value = text
        finally:
            self._updating = False

    # -- from the controller --

    def _on_event(self, event: Event) -> None:
        c = self.controller
        if event == "sessions":
            self._updating = True
            try:
                self.session_picker.options = [
                    (f"{s.name} · {s.message_count} msgs · {s.updated_at:%Y-%m-%d %H:%M}", s.session_id)
                    for s in c.sessions
                ]
                current = c.session.session_id if c.session else None
                self.session_picker.value = current if current in {s.session_id for s in c.sessions} else None
            finally:
                self._updating = False
        elif event == "transcript":
            self._show_transcript()
        elif event == "delta" and self._turns:
            self._turns[-1].value = _turn_html(c.transcript[-1])
            self._shown[-1] = replace(c.transcript[-1])
        elif event == "delete":
            if c.pending_delete is not None:
                name = escape(c.pending_delete.name)
                self.confirm_text.value = f"<b>Delete “{name}” and all its messages?</b>"
            _shown(self.confirm_row, c.pending_delete is not None)
        if event in ("status", "sessions"):
            kind = c.status.kind
            self.status_line.value = f"<span class='wb-status-{kind}'>{escape(c.status.text)}</span>"
            self.stop_button.disabled = not c.streaming
            self.send_button.disabled = c.streaming
            self.session_picker.disabled = c.streaming

    def _show_transcript(self) -> None:
        """Render the turns that changed; a long session's exchange does not re-render its history."""
        turns = self.controller.transcript
        keep = 0
        while keep < min(len(turns), len(self._shown)) and turns[keep] == self._shown[keep]:
            keep += 1
        for widget in self._turns[keep:]:
            widget.close()  # its model too, in the kernel and the front end
        self._turns = self._turns[:keep] + [widgets.HTML(_turn_html(t)) for t in turns[keep:]]
        self._shown = self._shown[:keep] + [replace(t) for t in turns[keep:]]
        self.transcript.children = tuple(reversed(self._turns))
