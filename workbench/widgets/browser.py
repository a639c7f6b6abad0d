"""The session browser: filter every user's sessions, read one, export a selection.

:class:`SessionBrowser` is the controller (plain Python over :mod:`workbench.browse`);
:class:`SessionBrowserWidget` binds ipywidgets to it, scheduling each action on the
kernel's running loop. Failures become the status line, never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import pandas as pd

from workbench.browse import (
    EXPORT_FORMATS,
    ExportFormat,
    SessionFilter,
    export_sessions,
    find_sessions,
    messages_frame,
    read_sessions,
)
from workbench.errors import WorkbenchError
from workbench.formats import session_to_markdown
from workbench.models import utcnow
from workbench.widgets.chat import Status
from workbench.widgets.render import CSS, escape, markdown_to_html
from workbench.widgets.tasks import Tasks

if TYPE_CHECKING:
    from workbench.app import Workbench

__all__ = ["SessionBrowser", "SessionBrowserWidget", "SessionFilter"]

TABLE_COLUMNS = ("name", "user_id", "messages", "first_at", "last_at", "total_tokens", "session_id")
ALL_USERS = "(all users)"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


class SessionBrowser:
    """The filtered session table, the selection, the session being read, and exports."""

    def __init__(self, wb: Workbench) -> None:
        self.wb = wb
        self.where = SessionFilter()
        self.table = pd.DataFrame(columns=list(TABLE_COLUMNS))
        self.users: list[str] = []
        self.selected: list[str] = []
        self.reading: str | None = None
        self.status = Status("Press Apply to list sessions.")

    @contextmanager
    def _reporting(self, doing: str) -> Iterator[None]:
        try:
            yield
        except WorkbenchError as exc:
            self.status = Status(f"{doing} failed: {exc}", "error")

    async def apply(self, where: SessionFilter | None = None, **changes: Any) -> pd.DataFrame:
        """List the sessions matching ``where`` (default: the current filter) with ``changes`` applied.

        Every listed session is selected. On a bad filter the status says why and the table stays.
        """
        where = replace(where or self.where, **changes)
        with self._reporting("Filtering"):
            table = await find_sessions(self.wb, where)
            self.where, self.table = where, table
            self.selected = list(table["session_id"])
            self.status = Status(f"{_count(len(table), 'session')}, {_count(int(table['messages'].sum()), 'message')}.")
        return self.table

    async def load_users(self) -> list[str]:
        """Every user with a session (for the user filter)."""
        with self._reporting("Listing users"):
            self.users = sorted((await self.wb.search.user_activity())["user_id"])
        return self.users

    def select(self, session_ids: Sequence[str]) -> None:
        """Choose which listed sessions the exports contain (ids not listed are ignored)."""
        listed = set(self.table["session_id"])
        self.selected = [s for s in session_ids if s in listed]
        self.status = Status(f"{_count(len(self.selected), 'session')} selected.")

    def _keys(self, session_ids: Sequence[str]) -> list[tuple[str, str]]:
        owner = dict(zip(self.table["session_id"], self.table["user_id"], strict=True))
        return [(owner[s], s) for s in session_ids if s in owner]

    async def read(self, session_id: str) -> str | None:
        """The listed session ``session_id`` as Markdown (``None``, with the status saying why, if not)."""
        keys = self._keys([session_id])
        if not keys:
            self.status = Status(f"Session {session_id} is not in the table: apply a filter that lists it.", "error")
            return None
        with self._reporting("Reading"):
            ((session, messages),) = await read_sessions(self.wb, keys)
            self.reading = session_id
            self.status = Status(f"Reading {session.name!r}: {len(messages)} messages.")
            return session_to_markdown(session, messages)
        return None

    async def to_dataframe(self) -> pd.DataFrame:
        """The selected sessions' messages, one row each (see :data:`workbench.browse.MESSAGE_COLUMNS`)."""
        return messages_frame(await read_sessions(self.wb, self._keys(self.selected)))

    async def collect(self) -> pd.DataFrame | None:
        """:meth:`to_dataframe`, a failure in the status line instead of raised."""
        with self._reporting("Collecting"):
            frame = await self.to_dataframe()
            self.status = Status(f"{_count(len(frame), 'message')} of {_count(len(self.selected), 'session')}.")
            return frame
        return None

    async def export(self, fmt: ExportFormat, path: Path | str | None = None) -> Path | None:
        """Write the selection as CSV, JSONL or Markdown to ``path`` (default: under the data dir's ``exports/``)."""
        if not self.selected:
            self.status = Status("Nothing selected to export.", "error")
            return None
        if path is None:
            suffix = EXPORT_FORMATS.get(fmt, "")
            path = self.wb.settings.data_dir / "exports" / f"sessions-{utcnow():%Y%m%d-%H%M%S}{suffix}"
        with self._reporting("Exporting"):
            written = await export_sessions(self.wb, self._keys(self.selected), path, fmt)
            self.status = Status(f"Exported {_count(len(self.selected), 'session')} to {written}.")
            return written
        return None

    def table_html(self, max_rows: int = 50) -> str:
        """The table as HTML (text escaped), its first ``max_rows`` rows."""
        shown = self.table.loc[:, list(TABLE_COLUMNS)].head(max_rows).copy()
        for column in ("first_at", "last_at"):
            shown[column] = pd.to_datetime(shown[column], utc=True).dt.strftime("%Y-%m-%d %H:%M")
        note = f"<p>{len(shown)} of {len(self.table)} sessions shown.</p>" if len(self.table) > max_rows else ""
        return f"<div class='wb-table'>{shown.to_html(index=False, escape=True, na_rep='')}{note}</div>"


def _day(value: date | None, *, end: bool = False) -> date | None:
    """A picked day; an end day counts in full (the filter's ``until`` is exclusive)."""
    return None if value is None else value + timedelta(days=1) if end else value


class SessionBrowserWidget(widgets.VBox):
    """Filters, the session table, a reader and an export row over a :class:`SessionBrowser`."""

    def __init__(self, wb: Workbench, *, browser: SessionBrowser | None = None, max_rows: int = 50) -> None:
        self.browser = browser or SessionBrowser(wb)
        self.max_rows = max_rows
        self.exported: pd.DataFrame | None = None
        self.tasks = Tasks(self._failed)
        self.user = widgets.Dropdown(options=[ALL_USERS], description="User", layout={"width": "280px"})
        self.since = widgets.DatePicker(description="From", layout={"width": "240px"})
        self.until = widgets.DatePicker(description="To (incl.)", layout={"width": "240px"})
        self.text = widgets.Text(description="Text", placeholder="words in a message, e.g. 数据 pandas")
        self.meta_key = widgets.Text(description="Metadata", placeholder="key, e.g. model", layout={"width": "240px"})
        self.meta_value = widgets.Text(placeholder="value, e.g. gpt-4o", layout={"width": "200px"})
        self.apply_button = widgets.Button(description="Apply", button_style="primary")
        self.table = widgets.HTML()
        self.picker = widgets.Dropdown(description="Read", layout={"width": "600px"})
        self.reader = widgets.HTML(layout={"max_height": "420px", "overflow": "auto"})
        self.selection = widgets.SelectMultiple(description="Export", rows=6, layout={"width": "600px"})
        self.fmt = widgets.ToggleButtons(options=["DataFrame", *EXPORT_FORMATS])
        self.export_button = widgets.Button(description="Export selection", button_style="success")
        self.status_line = widgets.HTML()
        super().__init__(
            [
                widgets.HTML(CSS),
                widgets.HBox([self.user, self.since, self.until]),
                widgets.HBox([self.text, self.meta_key, self.meta_value, self.apply_button]),
                self.table,
                self.picker,
                self.reader,
                self.selection,
                widgets.HBox([self.fmt, self.export_button]),
                self.status_line,
            ]
        )
        self.add_class("wb-browser")
        self._updating = False
        self.apply_button.on_click(lambda _: self.tasks.start(self.refresh))
        self.picker.observe(self._picked, names="value")
        self.selection.observe(self._selected, names="value")
        self.export_button.on_click(lambda _: self.tasks.start(self.export))
        self._show()

    def __repr__(self) -> str:
        return f"<SessionBrowserWidget {len(self.browser.table)} sessions listed>"

    def _failed(self, exc: BaseException) -> None:
        self.browser.status = Status(f"Unexpected error: {type(exc).__name__}: {exc}", "error")
        self._show()

    async def idle(self) -> None:
        """Wait until the actions the inputs started are done."""
        await self.tasks.idle()

    def filter(self) -> SessionFilter:
        """The filter the inputs describe."""
        key, value = self.meta_key.value.strip(), self.meta_value.value.strip()
        metadata: Mapping[str, str] = {key: value} if key else {}
        return SessionFilter(
            user_id=None if self.user.value == ALL_USERS else self.user.value,
            since=_day(self.since.value),
            until=_day(self.until.value, end=True),
            text=self.text.value.strip() or None,
            metadata=metadata,
        )

    async def refresh(self) -> None:
        """Apply the filter the inputs describe and show the result."""
        if not self.browser.users:
            await self.browser.load_users()
        await self.browser.apply(self.filter())
        self._show()

    async def export(self) -> None:
        if self.fmt.value == "DataFrame":
            self.exported = await self.browser.collect()
            if self.exported is not None:
                self.browser.status = Status(f"{len(self.exported)} messages in .exported (a DataFrame).")
        else:
            await self.browser.export(self.fmt.value)
        self._show()

    def _picked(self, change: dict[str, Any]) -> None:
        if not self._updating and change["new"]:
            session_id = change["new"]
            self.tasks.start(lambda: self._read(session_id))

    async def _read(self, session_id: str) -> None:
        text = await self.browser.read(session_id)
        self.reader.value = "" if text is None else f"<div class='wb-turn'>{markdown_to_html(text)}</div>"
        self._show()

    def _selected(self, change: dict[str, Any]) -> None:
        if not self._updating:
            chosen = list(change["new"])
            self.tasks.call(lambda: self._select(chosen))

    def _select(self, session_ids: list[str]) -> None:
        self.browser.select(session_ids)
        self._show()

    def _show(self) -> None:
        b = self.browser
        self._updating = True
        try:
            self.user.options = [ALL_USERS, *b.users]
            self.table.value = b.table_html(self.max_rows)
            labels = [
                (f"{row.name} · {row.user_id} · {row.messages} msgs", row.session_id)
                for row in b.table.loc[:, ["name", "user_id", "messages", "session_id"]].itertuples()
            ]
            self.picker.options = [("—", None), *labels]
            self.picker.value = b.reading if b.reading in {v for _, v in labels} else None
            self.selection.options = labels
            self.selection.value = tuple(s for s in b.selected if s in {v for _, v in labels})
        finally:
            self._updating = False
        self.status_line.value = f"<span class='wb-status-{b.status.kind}'>{escape(b.status.text)}</span>"
