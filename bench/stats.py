"""Timing and statistics shared by every scenario: warm-up, interleaved repetitions, medians and spreads.

A *variant* is one way of doing a scenario's job (the workbench, a floor, a peer). Each
repetition runs every variant once, in an order rotated from one repetition to the next,
so a slow moment of a shared machine falls on all of them alike. A repetition yields the
latency of each operation and the wall time of the whole batch; from those come p50, p95
and throughput per repetition. A ratio to a floor is taken per repetition (repetition i of
the numerator over repetition i of the floor) and then summarised like any other figure:
the median and the min-max spread over the repetitions.
"""

from __future__ import annotations

import asyncio
import gc
import math
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Rep",
    "Timer",
    "percentile",
    "ratio",
    "run_concurrent",
    "run_interleaved",
    "run_sequential",
    "spread",
    "summarize",
]

METRICS = ("p50", "p95", "throughput")


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1), linear between the closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median and min-max of a figure over the repetitions."""
    clean = [v for v in values if v is not None and not math.isnan(v)]
    if not clean:
        return {"median": math.nan, "min": math.nan, "max": math.nan, "n": 0}
    return {"median": statistics.median(clean), "min": min(clean), "max": max(clean), "n": len(clean)}


@dataclass
class Rep:
    """One repetition of one variant: each operation's latency (s) and the batch's wall time (s)."""

    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    ops: int = 0  # units of work (messages, calls) the throughput counts; default: len(latencies)
    extra: dict[str, float] = field(default_factory=dict)

    def figure(self, metric: str) -> float:
        if metric == "p50":
            return percentile(self.latencies, 0.5)
        if metric == "p95":
            return percentile(self.latencies, 0.95)
        if metric == "throughput":
            units = self.ops or len(self.latencies)
            return units / self.wall if self.wall > 0 else math.nan
        if metric == "wall":
            return self.wall
        return self.extra.get(metric, math.nan)

    def as_json(self) -> dict[str, Any]:
        out = {m: self.figure(m) for m in METRICS}
        out.update(wall_s=self.wall, ops=self.ops or len(self.latencies), **self.extra)
        return out


def summarize(reps: Sequence[Rep], metrics: Sequence[str] = METRICS) -> dict[str, dict[str, float]]:
    """Per metric: the median and min-max over the repetitions."""
    return {m: spread([r.figure(m) for r in reps]) for m in metrics}


def ratio(numerator: Sequence[Rep], floor: Sequence[Rep], metric: str) -> dict[str, float]:
    """``numerator / floor`` per repetition, summarised; for throughput, the slowdown ``floor / numerator``.

    Every ratio reads the same way: above 1 means slower than the floor.
    """
    values = []
    for num, den in zip(numerator, floor, strict=False):
        a, b = num.figure(metric), den.figure(metric)
        if metric == "throughput":
            a, b = b, a
        values.append(a / b if b and not math.isnan(a) and not math.isnan(b) else math.nan)
    return spread(values)


class Timer:
    """Latencies of operations run in sequence: ``async with timer: ...`` or ``timer.add(seconds)``."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self._start = 0.0

    async def __aenter__(self) -> Timer:
        self._start = time.perf_counter()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.latencies.append(time.perf_counter() - self._start)


async def run_sequential(
    op: Callable[[int], Awaitable[Any]],
    count: int,
    *,
    before: Callable[[int], Awaitable[Any]] | None = None,
) -> Rep:
    """``op(i)`` for i in 0..count-1, one after the other; ``before(i)`` runs untimed ahead of each."""
    rep = Rep()
    busy = 0.0
    for i in range(count):
        if before is not None:
            await before(i)
        start = time.perf_counter()
        await op(i)
        elapsed = time.perf_counter() - start
        rep.latencies.append(elapsed)
        busy += elapsed
    rep.wall = busy  # untimed preparation is not part of the throughput
    return rep


async def run_concurrent(op: Callable[[int, int], Awaitable[Any]], workers: int, per_worker: int) -> Rep:
    """``workers`` tasks, each running ``op(worker, i)`` ``per_worker`` times in sequence."""
    rep = Rep()

    async def worker(w: int) -> None:
        for i in range(per_worker):
            start = time.perf_counter()
            await op(w, i)
            rep.latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(workers)))
    rep.wall = time.perf_counter() - start
    return rep


Variant = Callable[[int], Awaitable[Rep]]  # repetition index (negative: warm-up) -> Rep


async def run_interleaved(
    variants: dict[str, Variant],
    *,
    repeats: int,
    warmup: int = 1,
    between: Callable[[], Awaitable[Any]] | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, list[Rep]]:
    """Warm every variant up, then run ``repeats`` rounds of all variants in a rotating order."""
    names = list(variants)
    for w in range(warmup):
        for name in names:
            await variants[name](-1 - w)
            if between is not None:
                await between()
    results: dict[str, list[Rep]] = {name: [] for name in names}
    for r in range(repeats):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            gc.collect()
            rep = await variants[name](r)
            results[name].append(rep)
            if between is not None:
                await between()
        if log is not None:
            log(f"  repetition {r + 1}/{repeats} done")
    return results
