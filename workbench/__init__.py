"""Conversation Workbench: chat with, inspect and analyse stored LLM conversations."""

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
]
