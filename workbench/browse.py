"""Finding, reading and exporting sessions across users: the data behind the session browser.

:func:`find_sessions` answers with one row per session from ``wb.search.session_stats``
(SQL embedded, an Elasticsearch aggregation on services), narrowed by user, date range,
text (``wb.search.search``) and message metadata (SQL on the system of record). Reading
and exporting go through the repositories, so they return exactly what is committed.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pandas as pd

from workbench.analysis.common import TimeLike, check_time
from workbench.errors import ValidationError
from workbench.formats import session_to_markdown, session_to_record
from workbench.models import Message, Session, check_user_id

if TYPE_CHECKING:
    from workbench.app import Workbench

__all__ = [
    "EXPORT_FORMATS",
    "MESSAGE_COLUMNS",
    "SessionFilter",
    "export_sessions",
    "find_sessions",
    "messages_frame",
    "read_sessions",
    "sessions_with_metadata",
]

ExportFormat = Literal["csv", "jsonl", "markdown"]
EXPORT_FORMATS: dict[str, str] = {"csv": ".csv", "jsonl": ".jsonl", "markdown": ".md"}
SEARCH_LIMIT = 1000  # messages a text filter looks at (the search's own maximum)
MESSAGE_COLUMNS = (
    "session_id",
    "user_id",
    "session_name",
    "seq",
    "role",
    "timestamp",
    "content",
    "model",
    "prompt_tokens",
    "completion_tokens",
    "ttft_ms",
    "latency_ms",
    "interrupted",
)
_METADATA_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
SessionKey = tuple[str, str]  # (user_id, session_id)


@dataclass(frozen=True)
class SessionFilter:
    """Which sessions to list: all given conditions hold (``since`` inclusive, ``until`` exclusive).

    ``text``: some message contains every word (as ``wb.search.search`` matches, among its
    first 1000 hits); ``metadata``: some message has each key with that value, compared as text.
    A date range keeps the sessions with messages inside it.
    """

    user_id: str | None = None
    since: TimeLike | None = None
    until: TimeLike | None = None
    text: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


async def sessions_with_metadata(wb: Workbench, key: str, value: str, *, user_id: str | None = None) -> set[str]:
    """Ids of active sessions with a message whose ``metadata[key]`` is ``value`` (as text; JSON true is "true")."""
    if not isinstance(key, str) or not _METADATA_KEY.fullmatch(key):
        raise ValidationError(f"a metadata key is letters, digits and _ (at most 64), not {str(key)[:40]!r}")
    if not isinstance(value, str):
        raise ValidationError(f"a metadata value is compared as text; got {type(value).__name__}")
    db = (await wb.stores()).db
    if db.dialect == "sqlite":
        extracted = (
            "CASE json_type(m.metadata, :path) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' "
            "ELSE CAST(json_extract(m.metadata, :path) AS TEXT) END"
        )
    else:
        extracted = "JSON_UNQUOTE(JSON_EXTRACT(m.metadata, :path))"
    params = {"path": f"$.{key}", "value": value}
    mine = ""
    if user_id is not None:
        params["user_id"], mine = check_user_id(user_id), " AND m.user_id = :user_id"
    rows = await db.execute_query(
        "SELECT DISTINCT m.session_id FROM messages m JOIN sessions s ON s.session_id = m.session_id "  # noqa: S608
        f"WHERE s.is_active = 1 AND {extracted} = :value{mine}",
        params,
    )
    return {r["session_id"] for r in rows}


async def find_sessions(wb: Workbench, where: SessionFilter | None = None) -> pd.DataFrame:
    """The sessions matching ``where``, latest activity first: the columns of ``wb.search.session_stats``."""
    where = where or SessionFilter()
    since, until = check_time(where.since, "since"), check_time(where.until, "until")
    table = await wb.search.session_stats(where.user_id)
    keep = pd.Series(True, index=table.index)
    if since is not None:
        keep &= table["last_at"] >= pd.Timestamp(since)
    if until is not None:
        keep &= table["first_at"] < pd.Timestamp(until)
    if where.text is not None and where.text.strip():
        hits = await wb.search.search(where.text, user_id=where.user_id, since=since, until=until, limit=SEARCH_LIMIT)
        keep &= table["session_id"].isin(set(hits["session_id"]))
    for key, value in where.metadata.items():
        keep &= table["session_id"].isin(await sessions_with_metadata(wb, key, value, user_id=where.user_id))
    found = table[keep].sort_values(["last_at", "session_id"], ascending=[False, True], kind="stable")
    return found.reset_index(drop=True)


async def read_sessions(wb: Workbench, keys: Iterable[SessionKey]) -> list[tuple[Session, list[Message]]]:
    """Each ``(user_id, session_id)``'s session and complete history, in the order given."""
    read = []
    for user_id, session_id in keys:
        session = await wb.sessions.get_session(user_id, session_id)
        read.append((session, await wb.messages.get_messages(user_id, session_id)))
    return read


def messages_frame(sessions: Sequence[tuple[Session, list[Message]]]) -> pd.DataFrame:
    """One row per message (``MESSAGE_COLUMNS``), the reply metadata in columns of their own."""
    rows = [
        {
            "session_id": s.session_id,
            "user_id": s.user_id,
            "session_name": s.name,
            "seq": m.seq,
            "role": str(m.role),
            "timestamp": m.timestamp,
            "content": m.content,
            **{k: m.metadata.get(k) for k in MESSAGE_COLUMNS[7:]},
        }
        for s, messages in sessions
        for m in messages
    ]
    df = pd.DataFrame.from_records(rows, columns=list(MESSAGE_COLUMNS))
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True)
    for column in ("prompt_tokens", "completion_tokens", "ttft_ms", "latency_ms"):
        df[column] = df[column].astype("Int64")
    df["interrupted"] = df["interrupted"].map(bool).astype(bool)
    return df


def _render(sessions: Sequence[tuple[Session, list[Message]]], fmt: ExportFormat) -> str:
    if fmt == "csv":
        return messages_frame(sessions).to_csv(index=False)
    if fmt == "jsonl":
        return "".join(json.dumps(session_to_record(s, m), ensure_ascii=False) + "\n" for s, m in sessions)
    return "\n\n---\n\n".join(session_to_markdown(s, m) for s, m in sessions) + "\n"


async def export_sessions(wb: Workbench, keys: Iterable[SessionKey], path: Path | str, fmt: ExportFormat) -> Path:
    """Write the sessions to ``path``: CSV (a row per message), JSONL (a session per line) or Markdown."""
    if fmt not in EXPORT_FORMATS:
        raise ValidationError(f"the export format is one of {', '.join(EXPORT_FORMATS)}, not {fmt!r}")
    text = _render(await read_sessions(wb, keys), fmt)
    path = Path(path)
    await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread(path.write_text, text, encoding="utf-8")
    return path
