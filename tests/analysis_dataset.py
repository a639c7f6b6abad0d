"""A small conversation set whose analysis results are worked out by hand (tests of workbench.analysis).

Two users; ``alice`` writes English and Chinese, ``bob`` English. Session ``s4`` exists to be
deleted. Loaded through the bulk import with fixed timestamps, so the numbers below hold on
every profile:

* s1 (alice, Mon 2026-03-02 09:00): 4 messages, 70 s, tokens 10+20+30+40 = 100
* s2 (alice, Mon 2026-03-09 10:00): 3 messages, 30 s, tokens 20 (its last reply has no metadata)
* s3 (bob,   Tue 2026-03-10 12:00): 3 messages, 300 s, tokens 20
* s4 (bob,   Wed 2026-04-01 08:00): 1 message, "secret pandas plan zebra" (deleted by the tests)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from workbench import Workbench
from workbench.ingest import import_session, session_id_for

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


def _reply(model: str, prompt: int, completion: int, latency: int, ttft: int) -> dict[str, Any]:
    return {
        "model": model,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "latency_ms": latency,
        "ttft_ms": ttft,
        "finish_reason": "stop",
    }


# key -> (user key, name, start, [(role, content, seconds after start, metadata)])
SESSIONS: dict[str, tuple[str, str, datetime, list[tuple[str, str, float, dict[str, Any] | None]]]] = {
    "s1": (
        "alice",
        "Pandas help",
        T0,
        [
            ("user", "How do I group data in pandas?", 0, None),
            ("assistant", "Use groupby for data analysis in pandas.", 5, _reply("m1", 10, 20, 1000, 100)),
            ("user", "我喜欢数据分析", 60, None),
            ("assistant", "数据分析需要清洗数据", 70, _reply("m1", 30, 40, 3000, 300)),
        ],
    ),
    "s2": (
        "alice",
        "Redis",
        T0 + timedelta(days=7, hours=1),
        [
            ("user", "How does Redis caching work?", 0, None),
            ("assistant", "Redis caching keeps hot data in memory.", 2, _reply("m2", 5, 15, 2000, 200)),
            ("assistant", "Anything else about Redis?", 30, None),
        ],
    ),
    "s3": (
        "bob",
        "Bob data",
        T0 + timedelta(days=8, hours=3),
        [
            ("user", "Tell me about pandas data frames", 0, None),
            ("assistant", "A pandas frame holds data in columns.", 3, _reply("m1", 8, 12, 2000, 150)),
            ("user", "'; DROP TABLE sessions; --", 300, None),
        ],
    ),
    "s4": (
        "bob",
        "to delete",
        T0 + timedelta(days=30, hours=-1),
        [("user", "secret pandas plan zebra", 0, None)],
    ),
}


async def load_small(wb: Workbench, users: dict[str, str], *, external_prefix: str = "analysis") -> dict[str, str]:
    """Import :data:`SESSIONS` for ``users`` (``{"alice": id, "bob": id}``) and sync; key -> session id."""
    stores = await wb.stores()
    ids = {}
    for key, (user, name, start, turns) in SESSIONS.items():
        await import_session(
            stores.db,
            stores.relay,
            user_id=users[user],
            external_id=f"{external_prefix}-{key}",
            name=name,
            created_at=start,
            messages=[(role, text, start + timedelta(seconds=s), meta) for role, text, s, meta in turns],
            max_content_bytes=wb.settings.max_content_bytes,
            notify=False,
        )
        ids[key] = session_id_for(users[user], f"{external_prefix}-{key}")
    assert (await wb.sync()).ok
    return ids
