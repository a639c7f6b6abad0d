"""Conversation Workbench: chat with, inspect and analyse stored LLM conversations."""

from typing import Any

from workbench.app import Workbench
from workbench.errors import (
    ClientError,
    ConfigurationError,
    LLMConnectionError,
    LLMError,
    LLMStatusError,
    LLMTimeoutError,
    NotFoundError,
    RateLimitError,
    ServerError,
    StoreError,
    StoreUnavailableError,
    ValidationError,
    WorkbenchError,
)
from workbench.models import Message, Role, Session
from workbench.settings import Settings

__version__ = "0.1.0"


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext workbench``: the ``%%chat`` cell magic (see :mod:`workbench.widgets.magic`)."""
    from workbench.widgets.magic import load_ipython_extension as load

    load(ipython)


__all__ = [
    "ClientError",
    "ConfigurationError",
    "LLMConnectionError",
    "LLMError",
    "LLMStatusError",
    "LLMTimeoutError",
    "Message",
    "NotFoundError",
    "RateLimitError",
    "Role",
    "ServerError",
    "Session",
    "Settings",
    "StoreError",
    "StoreUnavailableError",
    "ValidationError",
    "Workbench",
    "WorkbenchError",
    "__version__",
    "load_ipython_extension",
]
