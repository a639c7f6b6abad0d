"""5. Chat overhead: time to first token and per-token overhead, against a raw openai stream.

The model is ``tests/openai_server.py`` run in a process of its own on loopback, speaking the
OpenAI wire format. Its ``slow-stream`` model sends ``tokens`` tokens, ``delay`` seconds apart:
``delay=0`` is an instant model (every figure is overhead), ``delay=0.02`` a paced one (a first
token after 20 ms, as a fast hosted model gives).

* **floor**: ``AsyncOpenAI.chat.completions.create(stream=True)`` with the very messages the chat
  service sends (the same growing conversation, kept in a list), iterated to the end;
* **chat service**: ``wb.chat.send(user, session, text)``: stores the user's message, reads the
  history (cache hit), streams, stores the reply;
* **widget controller**: ``ChatController.send(text)``, timed at its ``delta`` events (what a view
  listens to); after the reply it reads the stored exchange (its two messages) and the session list;
* **chat widget**: the same, with the ipywidgets ``ChatWidget`` subscribed (it renders the
  growing reply's HTML at every delta), without a browser.

TTFT is from the call to the first piece of text; per-token overhead is the mean gap between
text pieces after the first; "done" is when the call returns (the service: reply stored).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

from bench.common import Ctx, new_user, workbench
from bench.env import ROOT
from bench.report import Result, fmt, fmt_spread
from bench.stats import Rep, run_interleaved

# key: (model, exchanges per repetition, messages already in the session)
MODELS = {
    "instant-64": ("slow-stream:delay=0,tokens=64", 8, 6),
    "instant-512": ("slow-stream:delay=0,tokens=512", 3, 6),
    "paced-24": ("slow-stream:delay=0.02,tokens=24", 3, 6),
    "instant-64, 2,000-message session": ("slow-stream:delay=0,tokens=64", 4, 2_000),
}
LABELS = {
    "raw": "floor: raw `AsyncOpenAI` stream",
    "service": "**chat service** `wb.chat.send`",
    "controller": "**widget controller** `ChatController.send`",
    "widget": "chat widget (ipywidgets view, headless)",
}


@contextlib.contextmanager
def fake_server() -> Iterator[str]:
    """``tests/openai_server.py`` in a process of its own; its base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.openai_server", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the fake OpenAI server did not start")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)


class Clock:
    """When the call started, and when each piece of text arrived."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.pieces: list[float] = []
        self.done = 0.0

    def piece(self) -> None:
        self.pieces.append(time.perf_counter())

    def figures(self) -> tuple[float, float, float]:
        ttft = self.pieces[0] - self.start
        gaps = [b - a for a, b in zip(self.pieces, self.pieces[1:], strict=False)]
        return ttft, (statistics.fmean(gaps) if gaps else 0.0), self.done - self.start


def _rep(clocks: list[Clock]) -> Rep:
    figures = [c.figures() for c in clocks]
    rep = Rep(latencies=[f[0] for f in figures], wall=sum(f[2] for f in figures), ops=len(figures))
    rep.extra["per_token_s"] = statistics.median(f[1] for f in figures)
    rep.extra["done_s"] = statistics.median(f[2] for f in figures)
    rep.extra["pieces"] = statistics.median(len(c.pieces) for c in clocks)
    return rep


async def run(ctx: Ctx) -> Result:
    result = Result("chat", "5. Chat overhead (local OpenAI-compatible server)")
    profiles = [p for p in ("services", "embedded") if p in ctx.store_profiles]
    if "services" in profiles and not (ctx.up("mysql") and ctx.up("redis")):
        profiles.remove("services")
    result.config = {
        "models": {k: v[0] for k, v in MODELS.items()},
        "exchanges_per_rep": {k: v[1] for k, v in MODELS.items()},
        "history": {k: v[2] for k, v in MODELS.items()},
        "profiles": profiles,
        "repeats": ctx.repeats,
    }
    with fake_server() as base_url:
        for profile in profiles:
            await _profile(ctx, result, profile, base_url)
    _targets(result)
    return result


async def _profile(ctx: Ctx, result: Result, profile: str, base_url: str) -> None:
    import tempfile
    from pathlib import Path

    from openai import AsyncOpenAI

    from workbench.app import Workbench
    from workbench.settings import Settings

    overrides = {"openai_base_url": base_url, "openai_api_key": "bench", "llm_max_retries": 0}
    async with contextlib.AsyncExitStack() as stack:
        if profile == "services":
            wb = await stack.enter_async_context(workbench(ctx, **overrides))
        else:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-chat-"))
            wb = Workbench(Settings(_env_file=None, profile="embedded", data_dir=Path(folder), **overrides))
            await wb.connect()
            stack.push_async_callback(wb.aclose)
        raw = AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0)
        stack.push_async_callback(raw.close)
        widgets_ok = True
        try:
            importlib.import_module("workbench.widgets.chat")
        except ImportError as exc:  # the notebooks extra is not installed
            widgets_ok = False
            result.skipped.append(f"widget controller: {exc}")
        cases = MODELS if profile == "services" else {k: MODELS[k] for k in ("instant-64", "paced-24")}
        if ctx.quick:
            cases = {k: v for k, v in cases.items() if k != "instant-512"}
        for key, (model, exchanges, history) in cases.items():
            ctx.log(f"chat/{profile}: {key}")
            case = Case(wb, raw, model, exchanges)
            await case.prepare(f"chat-{profile}", key, history, widgets_ok)
            reps = await run_interleaved(case.variants(), repeats=ctx.repeats, warmup=ctx.warmup)
            _record(result, profile, key, model, reps)


class Case:
    """One model and session length: a session per variant, and how each variant runs its exchanges."""

    def __init__(self, wb: Any, raw: Any, model: str, exchanges: int) -> None:
        self.wb, self.raw, self.model, self.exchanges = wb, raw, model, exchanges
        self.counter = iter(range(10**9))
        self.sessions: dict[str, str] = {}
        self.controllers: dict[str, Any] = {}
        self.clocks: dict[str, list[Clock]] = {}

    def text(self) -> str:
        return f"Tell me about grouping, part {next(self.counter)}"

    async def prepare(self, tag: str, key: str, history: int, widgets_ok: bool) -> None:
        self.user = new_user(tag)
        names = list(LABELS) if widgets_ok else ["raw", "service"]
        for name in names:  # a session per variant, each already holding a conversation, its history cached
            self.sessions[name] = await _session(self.wb, self.user, f"chat {name} {key}", history)
        await self.wb.sync()  # the derived stores catch up with the imported history before anything is timed
        self.raw_history = list(await self.wb.messages.get_messages(self.user, self.sessions["raw"]))
        if widgets_ok:
            from workbench.widgets.chat import ChatController, ChatWidget

            for name in ("controller", "widget"):
                controller = ChatController(self.wb, self.user, model=self.model)
                if name == "widget":
                    controller.view = ChatWidget(self.wb, self.user, model=self.model, controller=controller)
                    await controller.idle()
                await controller.select(self.sessions[name])
                clocks: list[Clock] = []
                controller.subscribe(lambda event, c=clocks: c[-1].piece() if event == "delta" and c else None)
                self.controllers[name], self.clocks[name] = controller, clocks

    def variants(self) -> dict[str, Any]:
        out: dict[str, Any] = {"raw": self.raw_run, "service": self.service_run}
        for name in self.controllers:
            out[name] = self.controller_run(name)
        return out

    async def raw_run(self, r: int) -> Rep:
        from workbench.chat import build_context
        from workbench.models import Message, Role, utcnow

        settings, history, clocks = self.wb.settings, self.raw_history, []
        for _ in range(self.exchanges):
            history.append(Message("x", "s", self.user, len(history) + 1, Role.USER, self.text(), utcnow()))
            context = build_context(
                history,
                system_prompt=settings.system_prompt,
                max_messages=settings.context_messages,
                max_tokens=settings.context_tokens,
            )
            clock = Clock()
            stream = await self.raw.chat.completions.create(
                model=self.model, messages=context, stream=True, stream_options={"include_usage": True}
            )
            parts = []
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    clock.piece()
                    parts.append(chunk.choices[0].delta.content)
            clock.done = time.perf_counter()
            history.append(Message("x", "s", self.user, len(history) + 1, Role.ASSISTANT, "".join(parts), utcnow()))
            clocks.append(clock)
        return _rep(clocks)

    async def service_run(self, r: int) -> Rep:
        clocks = []
        for _ in range(self.exchanges):
            clock = Clock()
            async for delta in self.wb.chat.send(self.user, self.sessions["service"], self.text(), model=self.model):
                if delta.text:
                    clock.piece()
            clock.done = time.perf_counter()
            clocks.append(clock)
        return _rep(clocks)

    def controller_run(self, name: str) -> Any:
        async def go(r: int) -> Rep:
            controller, clocks = self.controllers[name], self.clocks[name]
            clocks.clear()
            for _ in range(self.exchanges):
                clocks.append(Clock())
                stored = await controller.send(self.text())
                assert stored is not None, controller.status
                clocks[-1].done = time.perf_counter()
            return _rep(list(clocks))

        return go


async def _session(wb: Any, user: str, name: str, history: int) -> str:
    """A session holding ``history`` messages (a conversation about pandas), its history read once."""
    from datetime import UTC, datetime, timedelta

    from workbench.ingest import import_session, session_id_for

    stores = await wb.stores()
    start = datetime.now(UTC) - timedelta(days=1)
    turns = [
        (
            "user" if i % 2 == 0 else "assistant",
            f"{'question' if i % 2 == 0 else 'answer'} {i} about pandas groupby and pivot tables",
            start + timedelta(seconds=i),
            None,
        )
        for i in range(history)
    ]
    await import_session(
        stores.db,
        stores.relay,
        user_id=user,
        external_id=name,
        name=name,
        created_at=start,
        messages=turns,
        max_content_bytes=wb.settings.max_content_bytes,
        notify=False,
    )
    sid = session_id_for(user, name)
    await wb.messages.get_messages(user, sid)  # cached (services), as in a chat that is going on
    return sid


def _record(result: Result, profile: str, key: str, model: str, reps: dict[str, list[Rep]]) -> None:
    group = f"{profile}.{key}"
    rows = []
    for name, rs in reps.items():
        kind = "floor" if name == "raw" else ("workbench" if name in ("service", "controller") else "context")
        entry = result.add_variant(f"{group}.{name}", LABELS[name], kind, rs, group=group, profile=profile, model=model)
        entry["summary"]["per_token_s"] = _spread_of(rs, "per_token_s")
        entry["summary"]["done_s"] = _spread_of(rs, "done_s")
    all_reps = {f"{group}.{n}": rs for n, rs in reps.items()}
    for name, rs in reps.items():
        s = result.variants[f"{group}.{name}"]["summary"]
        cells = [
            LABELS[name],
            fmt_spread(s["p50"], 1000),
            fmt_spread(s["per_token_s"], 1e6),
            fmt_spread(s["done_s"], 1000),
        ]
        if name == "raw":
            cells += ["1", "1", "–"]
        else:
            ttft = result.add_ratio(
                f"{group}.{name}", f"{group}.raw", all_reps, "p50", group=group, profile=profile, model=model
            )
            per = result.add_ratio(
                f"{group}.{name}", f"{group}.raw", all_reps, "per_token_s", group=group, profile=profile, model=model
            )
            extra = [a.figure("p50") - b.figure("p50") for a, b in zip(rs, reps["raw"], strict=False)]
            added = {"median": statistics.median(extra), "min": min(extra), "max": max(extra), "n": len(extra)}
            result.ratios.append(
                {
                    "numerator": f"{group}.{name}",
                    "floor": f"{group}.raw",
                    "metric": "ttft_added_s",
                    **added,
                    "group": group,
                }
            )
            cells += [
                fmt_spread(ttft, bold=name in ("service", "controller")),
                fmt_spread(per),
                fmt_spread(added, 1000),
            ]
        rows.append(cells)
    result.table(
        f"Chat, {profile} profile, {key}: model `{model}`, {history_of(key)} messages in the session before",
        ["variant", "TTFT ms (p50)", "per-token µs", "done ms", "TTFT ÷ raw ×", "per-token ÷ raw ×", "TTFT added ms"],
        rows,
    )


def history_of(key: str) -> str:
    return f"{MODELS[key][2]:,}"


def _spread_of(reps: list[Rep], metric: str) -> dict[str, float]:
    from bench.stats import spread

    return spread([r.figure(metric) for r in reps])


def _targets(result: Result) -> None:
    for r in result.ratios:
        if r["metric"] != "p50" or not r["numerator"].endswith((".service", ".controller")):
            continue
        added = next(x for x in result.ratios if x["metric"] == "ttft_added_s" and x["numerator"] == r["numerator"])
        who = "chat service" if r["numerator"].endswith(".service") else "widget controller"
        result.target(
            f"{who} TTFT within 1.1× of the raw stream ({r['group']})",
            f"{fmt(r['median'])}× [{fmt(r['min'])}–{fmt(r['max'])}], +{fmt(added['median'] * 1000)} ms",
            r["median"] <= 1.1,
        )
