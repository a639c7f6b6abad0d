"""Load the sample conversations (``data/sample_conversations.jsonl``) into a workbench.

The file holds one session per line (see ``data/README.md``); each is imported in one
transaction by :func:`workbench.ingest.import_session`, with its original timestamps, so
loading twice adds nothing. The derived stores are brought up to date before returning.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from workbench.errors import ConfigurationError, ValidationError
from workbench.ingest import import_session

if TYPE_CHECKING:
    from workbench.app import Workbench

__all__ = ["SAMPLE_PATH", "load_sample"]

SAMPLE_PATH = Path(__file__).resolve().parent.parent / "data" / "sample_conversations.jsonl"


def _parse_time(value: Any, where: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{where}: not an ISO 8601 timestamp: {value!r}") from None


async def load_sample(wb: Workbench, path: Path | str | None = None, *, progress: bool = True) -> dict[str, Any]:
    """Import every session of ``path`` (default: the bundled sample) that is not there yet.

    Returns counts: ``sessions`` in the file, ``imported`` and ``skipped`` (already there),
    ``messages`` imported, ``users`` in the file, and what the final sync ``applied``.
    """
    path = Path(path) if path is not None else SAMPLE_PATH
    if not path.is_file():
        raise ConfigurationError(f"no sample data at {path}; pass path= to load_sample")
    text = await asyncio.to_thread(path.read_text, encoding="utf-8")
    lines = [(number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    stores = await wb.stores()
    imported = messages = 0
    users: set[str] = set()
    for number, line in tqdm(lines, desc="sample sessions", unit="session", disable=not progress):
        where = f"{path.name}:{number}"
        try:
            record = json.loads(line)
            turns = [
                (m["role"], m["content"], _parse_time(m["timestamp"], where), m.get("metadata"))
                for m in record["messages"]
            ]
            created_at = _parse_time(record["created_at"], where)
            user_id, external_id = record["user_id"], record["session_id"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValidationError(f"{where}: not a sample session ({exc})") from None
        users.add(user_id)
        new = await import_session(
            stores.db,
            stores.relay,
            user_id=user_id,
            external_id=external_id,
            name=record.get("name"),
            created_at=created_at,
            messages=turns,
            max_content_bytes=wb.settings.max_content_bytes,
            username=record.get("username"),
            notify=False,
        )
        if new:
            imported += 1
            messages += len(turns)
    report = await wb.sync()
    return {
        "sessions": len(lines),
        "imported": imported,
        "skipped": len(lines) - imported,
        "messages": messages,
        "users": len(users),
        "applied": report.applied,
    }
