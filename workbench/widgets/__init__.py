"""Jupyter front ends: the chat widget, the session browser and the ``%%chat`` cell magic.

Each is a controller of plain Python (driven by tests without a browser) plus an ipywidgets
view bound to it; callbacks schedule coroutines on the kernel's running loop.
"""

from workbench.widgets.browser import SessionBrowser, SessionBrowserWidget, SessionFilter
from workbench.widgets.chat import ChatController, ChatWidget

__all__ = ["ChatController", "ChatWidget", "SessionBrowser", "SessionBrowserWidget", "SessionFilter"]
