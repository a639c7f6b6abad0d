"""Running widget work on the kernel's event loop, whichever thread a callback arrives on.

ipykernel 7 may deliver widget messages in a kernel subshell: another thread, with an event
loop of its own (JupyterLab does so to keep widgets live while a cell runs). The workbench's
connections belong to the loop they were opened on, so every action goes to the loop that was
running when the widget was made, the kernel's, and never blocks the thread that asked.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["Tasks"]

logger = logging.getLogger(__name__)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class Tasks:
    """The tasks a widget started on its loop; a failure is logged and handed to ``on_error``."""

    def __init__(self, on_error: Callable[[BaseException], None]) -> None:
        self._loop = _running_loop()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._on_error = on_error

    def call(self, action: Callable[[], object]) -> None:
        """Run ``action`` on the loop: at once when already there, else as soon as the loop gets to it."""
        current = _running_loop()
        if self._loop is None:
            self._loop = current
        if self._loop is None or current is self._loop:
            action()
        else:
            self._loop.call_soon_threadsafe(action)

    def spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Start ``work`` as a task; call this on the loop (directly, or inside :meth:`call`)."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def start(self, work: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        """From any thread: start the coroutine ``work()`` on the loop."""
        self.call(lambda: self.spawn(work()))

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            logger.error("widget task failed", exc_info=exc)
            self._on_error(exc)

    def pending(self) -> set[asyncio.Task[Any]]:
        return {t for t in self._tasks if not t.done()}

    async def idle(self, *also: asyncio.Task[Any] | None) -> None:
        """Wait until every started task (and ``also``) is done."""
        while pending := self.pending() | {t for t in also if t is not None and not t.done()}:
            await asyncio.wait(pending)
