"""Conversation files in and out: ShareGPT JSON and OpenAI-style JSONL in; JSONL and Markdown out."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from workbench.errors import ValidationError
from workbench.models import Message, Role, Session, as_utc

__all__ = [
    "ConversationTurn",
    "ImportedConversation",
    "read_conversations",
    "session_to_markdown",
    "session_to_record",
]

_SHAREGPT_ROLES = {
    "human": Role.USER,
    "user": Role.USER,
    "gpt": Role.ASSISTANT,
    "assistant": Role.ASSISTANT,
    "chatgpt": Role.ASSISTANT,
    "bing": Role.ASSISTANT,
    "system": Role.SYSTEM,
    "tool": Role.TOOL,
    "function": Role.TOOL,
}

Format = Literal["auto", "sharegpt", "openai", "workbench"]


@dataclass(frozen=True, slots=True)
class ConversationTurn:
    role: Role
    content: str
    timestamp: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ImportedConversation:
    """One conversation read from a file; ``external_id`` makes a re-import a no-op."""

    external_id: str
    messages: list[ConversationTurn]
    name: str | None = None
    created_at: datetime | None = None
    user_id: str | None = None


def _timestamp(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, int | float):
        return as_utc(datetime.fromtimestamp(value / 1000 if value > 1e11 else value))
    return as_utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))


def _content_hash(turns: list[ConversationTurn]) -> str:
    digest = hashlib.sha256()
    for turn in turns:
        digest.update(f"{turn.role}\x1f{turn.content}\x1e".encode())
    return digest.hexdigest()[:32]


def _sharegpt(items: list[Any], where: str) -> Iterator[ImportedConversation]:
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("conversations"), list):
            raise ValidationError(f"{where}[{index}]: expected an object with a 'conversations' list")
        turns = []
        for turn_index, turn in enumerate(item["conversations"]):
            speaker = str(turn.get("from", "")).lower() if isinstance(turn, dict) else ""
            if speaker not in _SHAREGPT_ROLES:
                raise ValidationError(f"{where}[{index}].conversations[{turn_index}]: unknown 'from' {speaker!r}")
            turns.append(ConversationTurn(_SHAREGPT_ROLES[speaker], turn.get("value", "")))
        external = str(item.get("id") or _content_hash(turns))
        yield ImportedConversation(external_id=f"sharegpt:{external}", messages=turns, name=item.get("title"))


def _openai_line(record: Any, where: str) -> ImportedConversation:
    if not isinstance(record, dict) or not isinstance(record.get("messages"), list):
        raise ValidationError(f"{where}: expected an object with a 'messages' list")
    turns = []
    for turn_index, turn in enumerate(record["messages"]):
        if not isinstance(turn, dict):
            raise ValidationError(f"{where}.messages[{turn_index}]: expected an object")
        try:
            role = Role(turn.get("role"))
        except ValueError:
            raise ValidationError(f"{where}.messages[{turn_index}]: unknown role {turn.get('role')!r}") from None
        content = turn.get("content")
        if isinstance(content, list):  # content parts: keep the text ones
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        turns.append(
            ConversationTurn(
                role,
                content if content is not None else "",
                _timestamp(turn.get("timestamp")),
                turn.get("metadata") or {},
            )
        )
    external = str(record.get("id") or record.get("session_id") or _content_hash(turns))
    return ImportedConversation(
        external_id=f"openai:{external}",
        messages=turns,
        name=record.get("name") or record.get("title"),
        created_at=_timestamp(record.get("created_at")),
        user_id=record.get("user_id"),
    )


def read_conversations(path: Path, fmt: Format = "auto") -> list[ImportedConversation]:
    """Every conversation in ``path``; raises :class:`ValidationError` naming the bad line or item."""
    text = path.read_text(encoding="utf-8")
    stripped = text.lstrip()
    if fmt == "auto":
        fmt = "sharegpt" if stripped.startswith("[") else "openai"
    if fmt == "sharegpt":
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"{path}: not valid JSON: {exc}") from None
        if not isinstance(items, list):
            raise ValidationError(f"{path}: a ShareGPT file is a JSON list of conversations")
        return list(_sharegpt(items, path.name))
    conversations = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"{path.name}:{number}: not valid JSON: {exc}") from None
        conversations.append(_openai_line(record, f"{path.name}:{number}"))
    return conversations


def session_to_record(session: Session, messages: Iterable[Message]) -> dict[str, Any]:
    """A session as one JSON-ready line: OpenAI-style ``messages``, so it imports back as-is."""
    return {
        "id": session.session_id,
        "user_id": session.user_id,
        "session_id": session.session_id,
        "name": session.name,
        "created_at": session.created_at.isoformat(),
        "messages": [
            {"role": str(m.role), "content": m.content, "timestamp": m.timestamp.isoformat(), "metadata": m.metadata}
            for m in messages
        ],
    }


def session_to_markdown(session: Session, messages: Iterable[Message]) -> str:
    """A session as a readable Markdown document."""
    lines = [f"# {session.name}", "", f"*{session.user_id} · {session.created_at:%Y-%m-%d %H:%M} UTC*", ""]
    for message in messages:
        details = ", ".join(f"{k}: {message.metadata[k]}" for k in ("model", "latency_ms") if k in message.metadata)
        lines.append(
            f"### {message.role.value} · {message.timestamp:%Y-%m-%d %H:%M:%S}" + (f" ({details})" if details else "")
        )
        lines += ["", message.content, ""]
    return "\n".join(lines)
