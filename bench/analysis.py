"""4. Analysis scaling: every analysis function at 10k and 100k messages (``--full``: 4b, 100k and 1M), both profiles.

One deterministic data set grows in place (10k, then 90k more, ...): 50 users, sessions of 20
messages over one year, a Zipf vocabulary of English-like words and Chinese words, assistant
replies with the chat service's metadata (model, tokens, latency, ttft). It is loaded through the
workbench itself (``ingest.import_session`` per conversation, then ``wb.sync()`` into the search
and graph stores), and the load's throughput is recorded too.

For each function and size: wall time (warm-up, then repetitions: median and min-max), the
peak of Python allocations during one call (``tracemalloc``, in a separate call, as tracing
slows the code), the peak growth of the process's resident memory during that call (sampled
every 2 ms; embedded, SQLite's page cache lives in this process too), and the answer's rows.
Every function's answer is bounded by its parameters (a top 20, 200 pairs, one user's sessions)
except ``session_stats(user)``, whose answer grows with the user's sessions: the figures show the
cost following the answer, not the stored data.
"""

from __future__ import annotations

import bisect
import gc
import random
import resource
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import Ctx, workbench
from bench.env import USER_PREFIX
from bench.report import Result, fmt, fmt_spread
from bench.stats import spread

USERS = 50
SESSION_LENGTH = 20
YEAR = datetime(2025, 1, 1, tzinfo=UTC)
SLOW_CALL_S = 8.0  # a call slower than this is measured once more, not ``repeats`` times
_PAGE = resource.getpagesize()

_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
_CHINESE = (
    "数据",
    "分析",
    "缓存",
    "会话",
    "记录",
    "统计",
    "用户",
    "消息",
    "索引",
    "图谱",
    "模型",
    "延迟",
    "查询",
    "排序",
    "聚合",
    "向量",
    "文本",
    "分词",
    "服务",
    "接口",
    "部署",
    "日志",
    "监控",
    "性能",
)
_STOP = ("the", "and", "how", "do", "i", "is", "a", "to", "of", "in", "we", "can", "with", "for")
MODELS = ("m-small", "m-large", "m-mini")


def _vocabulary(size: int = 2_000) -> list[str]:
    rng = random.Random(7)
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.choice((2, 3, 3, 4)))))
    return sorted(words)


class Corpus:
    """The deterministic conversations: session ``k`` is always the same, whatever the sizes."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.words = _vocabulary()
        weights = [1 / (rank + 1) ** 1.07 for rank in range(len(self.words))]
        total = 0.0
        self.cumulative = []
        for w in weights:
            total += w
            self.cumulative.append(total)
        self.users = [f"{USER_PREFIX}an-{tag}-{u:02d}" for u in range(USERS)]
        # a query with a frequent and a mid-frequency word: many matches, a bounded answer (limit 20)
        self.query = f"{self.words[3]} {self.words[40]}"

    def _word(self, rng: random.Random) -> str:
        return self.words[bisect.bisect(self.cumulative, rng.random() * self.cumulative[-1])]

    def _text(self, rng: random.Random) -> str:
        if rng.random() < 0.15:
            return "".join(rng.choice(_CHINESE) for _ in range(rng.randint(3, 6))) + "吗"
        parts = [self._word(rng) if rng.random() < 0.6 else rng.choice(_STOP) for _ in range(rng.randint(10, 16))]
        return " ".join(parts).capitalize() + "?"

    def session(self, k: int) -> dict[str, Any]:
        rng = random.Random(k * 7919 + 17)
        start = YEAR + timedelta(seconds=rng.randrange(364 * 86400))
        messages = []
        for i in range(SESSION_LENGTH):
            meta = None
            if i % 2:
                meta = {
                    "model": MODELS[k % 3],
                    "prompt_tokens": 20 + i * 15,
                    "completion_tokens": rng.randint(20, 400),
                    "latency_ms": rng.randint(300, 4000),
                    "ttft_ms": rng.randint(80, 900),
                    "finish_reason": "stop",
                }
            messages.append(
                ("assistant" if i % 2 else "user", self._text(rng), start + timedelta(seconds=40 * i), meta)
            )
        return {
            "user_id": self.users[k % USERS],
            "external_id": f"analysis-{k}",
            "name": f"topic {k}",
            "created_at": start,
            "messages": messages,
        }


# -- memory ---------------------------------------------------------------------------------------


def _rss() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * _PAGE


class _RssPeak(threading.Thread):
    """The highest resident set size seen while running (sampled every 2 ms)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.base = _rss()
        self.peak = self.base
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(0.002):
            self.peak = max(self.peak, _rss())

    def stop(self) -> int:
        self._halt.set()
        self.join()
        self.peak = max(self.peak, _rss())
        return self.peak - self.base


# -- the functions --------------------------------------------------------------------------------


@dataclass
class Probe:
    user_id: str
    session_id: str
    query: str


Call = Callable[[Any, Probe], Awaitable[Any]]
FUNCTIONS: dict[str, tuple[str, Call]] = {
    "search": ("search.search(query, limit=20)", lambda wb, p: wb.search.search(p.query, limit=20)),
    "volume": ("search.volume('day', by='role')", lambda wb, p: wb.search.volume("day", "role")),
    "top_terms": ("search.top_terms(20)", lambda wb, p: wb.search.top_terms(20)),
    "top_terms_per_user": ("search.top_terms_per_user(5)", lambda wb, p: wb.search.top_terms_per_user(5)),
    "session_stats": ("search.session_stats(user_id)", lambda wb, p: wb.search.session_stats(p.user_id)),
    "user_activity": ("search.user_activity()", lambda wb, p: wb.search.user_activity()),
    "latency_stats": ("search.latency_stats('model')", lambda wb, p: wb.search.latency_stats("model")),
    "cooccurrence": ("graph.term_cooccurrence(2, limit=200)", lambda wb, p: wb.graph.term_cooccurrence(2, 200)),
    "related_sessions": (
        "graph.related_sessions(session, user, 10)",
        lambda wb, p: wb.graph.related_sessions(p.session_id, p.user_id, 10),
    ),
    "users_by_shared_topics": (
        "graph.users_by_shared_topics(3, limit=100)",
        lambda wb, p: wb.graph.users_by_shared_topics(3, 100),
    ),
    "to_networkx": ("graph.to_networkx(2, limit=200)", lambda wb, p: wb.graph.to_networkx(2, 200)),
}


def _rows(answer: Any) -> int:
    if hasattr(answer, "number_of_edges"):
        return int(answer.number_of_edges())
    return len(answer)


async def _measure_one(ctx: Ctx, wb: Any, probe: Probe, call: Call, limit_s: float) -> dict[str, Any]:
    import asyncio

    gc.collect()
    start = time.perf_counter()
    answer = await asyncio.wait_for(call(wb, probe), limit_s)  # warm-up (and the answer's size)
    first = time.perf_counter() - start
    repeats = 1 if first > SLOW_CALL_S else ctx.repeats
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        await asyncio.wait_for(call(wb, probe), limit_s)
        times.append(time.perf_counter() - start)
    del answer
    gc.collect()
    sampler = _RssPeak()
    sampler.start()
    tracemalloc.start()
    try:
        answer = await asyncio.wait_for(call(wb, probe), limit_s * 3)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        rss_growth = sampler.stop()
    return {
        "time_s": spread(times),
        "times_s": times,
        "warmup_s": first,
        "py_peak_bytes": peak,
        "rss_growth_bytes": rss_growth,
        "rows": _rows(answer),
        "rss_after_bytes": _rss(),
    }


# -- loading --------------------------------------------------------------------------------------------


async def _load(wb: Any, corpus: Corpus, first: int, last: int, ctx: Ctx) -> dict[str, float]:
    """Import sessions ``first..last-1`` and bring the derived stores up to date; the times."""
    from workbench.ingest import import_session

    stores = await wb.stores()
    start = time.perf_counter()
    for k in range(first, last):
        c = corpus.session(k)
        await import_session(
            stores.db,
            stores.relay,
            user_id=c["user_id"],
            external_id=c["external_id"],
            name=c["name"],
            created_at=c["created_at"],
            messages=c["messages"],
            max_content_bytes=wb.settings.max_content_bytes,
            notify=False,
        )
        if (k - first) % 5_000 == 4_999:
            ctx.log(f"  imported {(k - first + 1) * SESSION_LENGTH:,} messages")
    imported = time.perf_counter() - start
    start = time.perf_counter()
    report = await wb.sync()
    assert report.ok, report.failed
    for projection in stores.projections:
        if hasattr(projection, "refresh"):
            await projection.refresh()
    synced = time.perf_counter() - start
    messages = (last - first) * SESSION_LENGTH
    return {
        "messages": messages,
        "import_s": imported,
        "sync_s": synced,
        "import_msgs_per_s": messages / imported,
        "sync_msgs_per_s": messages / synced if synced else 0.0,
    }


async def _profile_run(ctx: Ctx, result: Result, profile: str, sizes: list[int]) -> dict[int, dict[str, Any]]:
    from contextlib import AsyncExitStack

    from workbench.app import Workbench
    from workbench.ingest import session_id_for
    from workbench.settings import Settings

    corpus = Corpus(profile[:3])
    measured: dict[int, dict[str, Any]] = {}
    async with AsyncExitStack() as stack:
        if profile == "embedded":
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-embedded-"))
            wb = Workbench(Settings(_env_file=None, profile="embedded", data_dir=Path(folder)))
            await wb.connect()
            stack.push_async_callback(wb.aclose)
        else:
            wb = await stack.enter_async_context(workbench(ctx))
        loaded = 0
        for size in sizes:
            sessions = size // SESSION_LENGTH
            ctx.log(f"analysis/{profile}: loading up to {size:,} messages")
            load = await _load(wb, corpus, loaded, sessions, ctx)
            loaded = sessions
            result.extra.setdefault("load", {}).setdefault(profile, {})[str(size)] = load
            probe = Probe(corpus.users[0], session_id_for(corpus.users[0], "analysis-0"), corpus.query)
            row: dict[str, Any] = {}
            for name, (_, call) in FUNCTIONS.items():
                try:
                    row[name] = await _measure_one(ctx, wb, probe, call, limit_s=300)
                except Exception as exc:
                    row[name] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
                    ctx.log(f"  {name}: {row[name]['error']}")
                else:
                    ctx.log(
                        f"  {name}: {fmt(row[name]['time_s']['median'] * 1000)} ms, "
                        f"py peak {row[name]['py_peak_bytes'] / 2**20:.1f} MB, rows {row[name]['rows']}"
                    )
            measured[size] = row
    return measured


async def run(ctx: Ctx, *, scenario: str = "analysis", title: str = "4. Analysis scaling (both profiles)") -> Result:
    sizes = ctx.sizes.get(scenario, [10_000, 100_000])
    if len(ctx.store_profiles) == 1:  # a run of one profile keeps the other's result
        scenario, title = f"{scenario}_{ctx.store_profiles[0]}", f"{title} ({ctx.store_profiles[0]} profile)"
    result = Result(scenario, title)
    result.config = {
        "sizes": sizes,
        "users": USERS,
        "session_length": SESSION_LENGTH,
        "repeats": ctx.repeats,
        "slow_call_s": SLOW_CALL_S,
    }
    profiles = [p for p in ("embedded", "services") if p in ctx.store_profiles]
    if "services" in profiles and not all(ctx.up(s) for s in ("mysql", "redis", "elasticsearch", "neo4j")):
        profiles.remove("services")
        result.skipped.append("services profile: needs MySQL, Redis, Elasticsearch and Neo4j")
    data: dict[str, dict[int, dict[str, Any]]] = {}
    for profile in profiles:
        data[profile] = await _profile_run(ctx, result, profile, sizes)
    result.extra["measured"] = {p: {str(s): row for s, row in by.items()} for p, by in data.items()}
    _report(result, data, sizes)
    return result


def _report(result: Result, data: dict[str, dict[int, dict[str, Any]]], sizes: list[int]) -> None:
    mb = 1 / 2**20
    for profile, by_size in data.items():
        rows = []
        for name, (label, _) in FUNCTIONS.items():
            cells = []
            for size in sizes:
                m = by_size.get(size, {}).get(name)
                if m is None:
                    cells.append("–")
                elif "error" in m:
                    cells.append(f"error: {m['error'][:60]}")
                else:
                    cells.append(
                        f"{fmt_spread(m['time_s'], 1000)} ms · {m['py_peak_bytes'] * mb:.1f} MB · "
                        f"RSS +{m['rss_growth_bytes'] * mb:.0f} MB · {m['rows']} rows"
                    )
            growth = "–"
            if len(sizes) >= 2:
                lo, hi = by_size.get(sizes[0], {}).get(name), by_size.get(sizes[-1], {}).get(name)
                if lo and hi and "error" not in lo and "error" not in hi:
                    growth = f"{fmt(hi['time_s']['median'] / lo['time_s']['median'])}× time"
            rows.append([f"`{label}`", *cells, growth])
        load = result.extra.get("load", {}).get(profile, {})
        loads = "; ".join(
            f"to {int(s):,}: import {v['import_msgs_per_s']:,.0f} msg/s, sync {v['sync_msgs_per_s']:,.0f} msg/s"
            for s, v in load.items()
        )
        data_growth = f"{sizes[-1] / sizes[0]:g}× data" if len(sizes) >= 2 else ""
        result.table(
            f"Analysis, {profile} profile: time (median [min–max]) · Python peak allocations · RSS growth · "
            "answer rows",
            ["function", *[f"{s:,} messages" for s in sizes], f"growth {sizes[0]:,}→{sizes[-1]:,} ({data_growth})"],
            rows,
            f"Loading (through the workbench): {loads}.",
        )
    # memory: flat from 100k to 1M (or between the two largest sizes measured)
    for profile, by_size in data.items():
        pair = (
            (100_000, 1_000_000)
            if {100_000, 1_000_000} <= set(by_size)
            else (tuple(sizes[-2:]) if len(sizes) >= 2 else None)
        )
        if pair is None:
            continue
        lo, hi = pair
        worst, worst_name = 0.0, ""
        for name in FUNCTIONS:
            a, b = by_size.get(lo, {}).get(name), by_size.get(hi, {}).get(name)
            if not a or not b or "error" in a or "error" in b:
                continue
            grew = max(b["py_peak_bytes"] - a["py_peak_bytes"], b["rss_growth_bytes"] - a["rss_growth_bytes"])
            if grew > worst:
                worst, worst_name = grew, name
        full = (lo, hi) == (100_000, 1_000_000)
        figure = f"largest growth {worst * mb:.1f} MB ({worst_name or 'none'}), {lo:,}→{hi:,}"
        result.target(
            f"analysis memory flat within 100 MB, 100k→1M ({profile})",
            figure,
            worst <= 100 * 2**20 if full else None,
            "" if full else f"1M not run (use --full); measured {lo:,}→{hi:,} instead",
        )
