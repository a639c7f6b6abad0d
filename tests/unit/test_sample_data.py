"""The committed sample data set is reproducible and has the promised shape."""

from __future__ import annotations

import importlib.util
import json
import statistics
import sys
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
SAMPLE = DATA_DIR / "sample_conversations.jsonl"
SESSION_KEYS = {"user_id", "username", "session_id", "name", "created_at", "language", "topic", "messages"}
MESSAGE_KEYS = {"role", "content", "timestamp", "metadata"}
ASSISTANT_META = {"model", "prompt_tokens", "completion_tokens", "latency_ms", "ttft_ms", "finish_reason"}


def _load_generator() -> Any:
    spec = importlib.util.spec_from_file_location("make_sample", DATA_DIR / "make_sample.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_sample", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gen() -> Any:
    return _load_generator()


@pytest.fixture(scope="module")
def sessions() -> list[dict[str, Any]]:
    with SAMPLE.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _ts(value: str) -> datetime:
    dt = datetime.fromisoformat(value)
    assert dt.tzinfo is not None, f"naive timestamp {value!r}"
    assert dt.utcoffset() == timedelta(0), f"not UTC: {value!r}"
    assert value.endswith("+00:00"), value
    return dt


def test_regenerating_gives_identical_bytes(gen: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "regen.jsonl"
    assert gen.main(["--out", str(out)]) == 0
    assert "sessions:" in capsys.readouterr().out
    assert out.read_bytes() == SAMPLE.read_bytes(), (
        "data/sample_conversations.jsonl is stale: run python data/make_sample.py"
    )


def test_options_change_the_output(gen: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b, c = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    gen.main(["--seed", "7", "--users", "5", "--sessions", "12", "--out", str(a)])
    gen.main(["--seed", "7", "--users", "5", "--sessions", "12", "--out", str(b)])
    gen.main(["--seed", "8", "--users", "5", "--sessions", "12", "--out", str(c)])
    capsys.readouterr()
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    rows = [json.loads(line) for line in a.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 12 and len({r["user_id"] for r in rows}) == 5


def test_lines_are_canonical_json(sessions: list[dict[str, Any]]) -> None:
    for line, session in zip(SAMPLE.read_text(encoding="utf-8").splitlines(), sessions, strict=True):
        assert line == json.dumps(session, ensure_ascii=False, sort_keys=True)


def test_sizes(sessions: list[dict[str, Any]]) -> None:
    users = Counter(s["user_id"] for s in sessions)
    assert len(users) >= 24
    assert len(sessions) >= 320
    assert sum(len(s["messages"]) for s in sessions) >= 6500
    # a few heavy users and many light ones
    counts = sorted(users.values())
    assert counts[-1] >= 5 * statistics.median(counts)
    lengths = [len(s["messages"]) for s in sessions]
    assert min(lengths) >= 2 and 40 <= max(lengths) <= 61


def test_session_fields(sessions: list[dict[str, Any]], gen: Any) -> None:
    ids = set()
    for s in sessions:
        assert set(s) == SESSION_KEYS
        assert s["user_id"].startswith("u_") and s["username"] == s["user_id"][2:]
        sid = uuid.UUID(s["session_id"])
        assert sid.version == 4 and str(sid) == s["session_id"]
        ids.add(s["session_id"])
        assert s["language"] in {"en", "zh"}
        assert s["topic"] in gen.TOPICS
        assert s["name"].strip() and len(s["name"]) <= 255
    assert len(ids) == len(sessions)
    assert 8 <= len({s["topic"] for s in sessions}) <= 10
    assert any(s["name"] == "对话" for s in sessions)


def test_roles_alternate(sessions: list[dict[str, Any]]) -> None:
    for s in sessions:
        roles = [m["role"] for m in s["messages"]]
        if roles[0] == "system":
            roles = roles[1:]
        assert roles, s["session_id"]
        assert "system" not in roles, s["session_id"]
        for i, role in enumerate(roles):
            assert role == ("user" if i % 2 == 0 else "assistant"), s["session_id"]
        for m in s["messages"]:
            assert set(m) == MESSAGE_KEYS and m["content"].strip()


def test_timestamps_are_utc_and_strictly_increasing(sessions: list[dict[str, Any]]) -> None:
    lo = datetime(2026, 6, 1, tzinfo=UTC)
    hi = datetime(2026, 12, 1, tzinfo=UTC)
    for s in sessions:
        created = _ts(s["created_at"])
        stamps = [_ts(m["timestamp"]) for m in s["messages"]]
        assert created <= stamps[0]
        assert all(a < b for a, b in pairwise(stamps)), s["session_id"]
        assert lo <= created and stamps[-1] < hi
        for (prev, msg), (t0, t1) in zip(pairwise(s["messages"]), pairwise(stamps), strict=True):
            if msg["role"] == "assistant" and prev["role"] == "user":
                assert timedelta(seconds=1) <= t1 - t0 <= timedelta(seconds=20)


def test_span_and_languages(sessions: list[dict[str, Any]]) -> None:
    created = [_ts(s["created_at"]) for s in sessions]
    assert max(created) - min(created) >= timedelta(days=90)
    assert max(created).date().isoformat() == "2026-11-30"
    langs = Counter(s["language"] for s in sessions)
    assert langs["en"] >= 50 and langs["zh"] >= 50
    zh_text = "".join(m["content"] for s in sessions if s["language"] == "zh" for m in s["messages"])
    for word in ("数据", "分析", "模型", "缓存", "索引"):
        assert word in zh_text
    per_user = {}
    for s in sessions:
        per_user.setdefault(s["user_id"], set()).add(s["language"])
    assert sum(v == {"en", "zh"} for v in per_user.values()) >= 2


def test_metadata(sessions: list[dict[str, Any]]) -> None:
    finishes = Counter()
    for s in sessions:
        for m in s["messages"]:
            meta = m["metadata"]
            if m["role"] != "assistant":
                assert meta == {}
                continue
            assert set(meta) == ASSISTANT_META
            for key in ("prompt_tokens", "completion_tokens", "latency_ms", "ttft_ms"):
                assert isinstance(meta[key], int) and meta[key] > 0
            assert meta["ttft_ms"] <= meta["latency_ms"]
            assert isinstance(meta["model"], str) and meta["model"]
            assert meta["finish_reason"] in {"stop", "length"}
            finishes[meta["finish_reason"]] += 1
    assert finishes["stop"] > finishes["length"] > 0


def test_tricky_contents_are_present(sessions: list[dict[str, Any]]) -> None:
    text = "\n".join(m["content"] for s in sessions for m in s["messages"])
    for needle in ("'; DROP TABLE sessions; --", 'title:(foo OR bar) AND "x"', "مرحبا", "🙏", "```python"):
        assert needle in text, needle
