"""The domain: users' sessions and their messages, and the rules for valid input."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from workbench.errors import ValidationError

__all__ = ["DEFAULT_SESSION_NAME", "Message", "Role", "Session", "message_id_for", "utcnow"]

DEFAULT_SESSION_NAME = "对话"
MAX_USER_ID_LENGTH = 128
MAX_SESSION_NAME_LENGTH = 255
MAX_METADATA_BYTES = 64 * 1024


class Role(StrEnum):
    """Who wrote a message."""

    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


@dataclass(frozen=True, slots=True)
class Session:
    """A conversation of one user; ``message_count`` is the seq of its last message."""

    session_id: str
    user_id: str
    name: str
    created_at: datetime
    updated_at: datetime
    message_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["created_at"] = self.created_at.isoformat()
        d["updated_at"] = self.updated_at.isoformat()
        return d


@dataclass(frozen=True, slots=True)
class Message:
    """One stored message; ``seq`` runs 1..n within its session, in commit order."""

    message_id: str
    session_id: str
    user_id: str
    seq: int
    role: Role
    content: str
    timestamp: datetime
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The seed's cache shape: ``{"role", "content", "timestamp"}``."""
        return {"role": str(self.role), "content": self.content, "timestamp": self.timestamp.isoformat()}

    def to_record(self) -> dict[str, Any]:
        """Every field, JSON-ready."""
        return {
            "message_id": self.message_id,
            "session_id": self.session_id,
            "user_id": self.user_id,
            "seq": self.seq,
            "role": str(self.role),
            "content": self.content,
            "timestamp": self.timestamp.isoformat(),
            "metadata": self.metadata,
        }


def utcnow() -> datetime:
    """Timezone-aware now in UTC (never the naive ``datetime.utcnow()``)."""
    return datetime.now(UTC)


def message_id_for(session_id: str, seq: int) -> str:
    """Deterministic, collision-free message id: a retried write is idempotent everywhere."""
    return f"msg_{session_id}_{seq}"


def as_utc(value: datetime) -> datetime:
    """``value`` in UTC; naive datetimes are taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# -- validation: every public call checks its input before anything is written --


def _require_str(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string, not {type(value).__name__}")
    if "\x00" in value:
        raise ValidationError(f"{what} must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(f"{what} is not valid Unicode (lone surrogate)") from None
    return value


def check_user_id(user_id: object) -> str:
    value = _require_str(user_id, "user_id")
    if not value.strip():
        raise ValidationError("user_id must not be empty")
    if len(value) > MAX_USER_ID_LENGTH:
        raise ValidationError(f"user_id is longer than {MAX_USER_ID_LENGTH} characters")
    return value


def check_session_id(session_id: object) -> str:
    value = _require_str(session_id, "session_id")
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise ValidationError(f"session_id is not a UUID: {value[:60]!r}") from None
    if str(parsed) != value.lower():
        raise ValidationError(f"session_id must be a UUID in canonical form: {value[:60]!r}")
    return str(parsed)


def check_role(role: object) -> Role:
    if isinstance(role, Role):
        return role
    value = _require_str(role, "role")
    try:
        return Role(value)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise ValidationError(f"unknown role {value[:40]!r}; expected one of: {allowed}") from None


def check_content(content: object, *, max_bytes: int) -> str:
    value = _require_str(content, "content")
    if not value.strip():
        raise ValidationError("content must not be empty or whitespace only")
    size = len(value.encode("utf-8"))
    if size > max_bytes:
        raise ValidationError(f"content is {size} bytes; the limit is {max_bytes} bytes")
    return value


def check_session_name(name: object) -> str:
    value = _require_str(name, "name").strip()
    if not value:
        raise ValidationError("session name must not be empty")
    if len(value) > MAX_SESSION_NAME_LENGTH:
        raise ValidationError(f"session name is longer than {MAX_SESSION_NAME_LENGTH} characters")
    return value


def check_metadata(metadata: object) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict) or not all(isinstance(k, str) for k in metadata):
        raise ValidationError("metadata must be a dict with string keys")
    try:
        encoded = json.dumps(metadata, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"metadata must be JSON-serialisable: {exc}") from None
    if len(encoded.encode()) > MAX_METADATA_BYTES:
        raise ValidationError(f"metadata is larger than {MAX_METADATA_BYTES} bytes")
    return json.loads(encoded)
