"""``python -m bench``: run the benchmarks, write ``bench/results/*.json`` and ``summary.md``.

Each scenario runs in a fresh Python process (so one's memory, threads and connections do not
colour the next), on the servers of ``scripts/services``; see bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import shlex
import subprocess
import sys
import time

from bench.env import RESULTS, Servers, cleanup, ensure_database, machine, probe

SCENARIOS = ("append", "read", "bulk", "analysis", "analysis_1m", "chat")
DEFAULT_SCENARIOS = ("append", "read", "bulk", "analysis", "chat")  # --full adds analysis_1m
DEFAULT_SIZES = {
    "read": [10, 100, 1_000, 10_000],
    "analysis": [10_000, 100_000],
    "analysis_1m": [100_000, 1_000_000],
    "bulk": [5_000],
}
QUICK_SIZES = {**DEFAULT_SIZES, "read": [10, 100, 1_000], "analysis": [2_000, 10_000], "bulk": [1_000]}
STORE_PROFILES = ("embedded", "services")


def _count(text: str) -> int:
    text = text.strip().lower().replace("_", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def parse_sizes(values: list[str]) -> dict[str, list[int]]:
    """``read=10,100 analysis=10k,100k`` -> {"read": [10, 100], "analysis": [10000, 100000]}."""
    sizes: dict[str, list[int]] = {}
    for value in values:
        for part in value.split():
            name, _, numbers = part.partition("=")
            if name not in DEFAULT_SIZES or not numbers:
                raise argparse.ArgumentTypeError(f"--sizes takes NAME=N,N,... with NAME in {sorted(DEFAULT_SIZES)}")
            sizes[name] = sorted({_count(n) for n in numbers.split(",") if n.strip()})
    return sizes


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Conversation Workbench benchmarks: ratios to the raw-client floor and to the LangChain peers.",
    )
    parser.add_argument(
        "--only",
        default=None,
        help=f"comma-separated scenarios to run, of {','.join(SCENARIOS)} "
        f"(default: {','.join(DEFAULT_SCENARIOS)}, and analysis_1m with --full)",
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="measured repetitions per variant (default 5, quick 3)"
    )
    parser.add_argument(
        "--warmup", type=int, default=1, help="warm-up repetitions per variant, not measured (default 1)"
    )
    parser.add_argument(
        "--sizes",
        action="append",
        default=[],
        metavar="NAME=N,N",
        help="sizes per scenario, e.g. --sizes read=10,100,1k,10k --sizes analysis=10k,100k "
        f"(defaults: {json.dumps(DEFAULT_SIZES)})",
    )
    parser.add_argument("--quick", action="store_true", help="a few-minute run: fewer operations and repetitions")
    parser.add_argument(
        "--full", action="store_true", help="add analysis_1m: the analysis at 100k and 1M messages (long: see README)"
    )
    parser.add_argument(
        "--store-profiles",
        default=",".join(STORE_PROFILES),
        help="the workbench profiles the analysis and chat scenarios measure (default: embedded,services)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile the workbench's side of each scenario with pyinstrument (results/profiles/)",
    )
    parser.add_argument("--retries", type=int, default=1, help="run a failed scenario again this often (default 1)")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database, keys and indices")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # one scenario, in this process
    return parser


def _options(args: argparse.Namespace) -> dict[str, object]:
    sizes = {k: list(v) for k, v in (QUICK_SIZES if args.quick else DEFAULT_SIZES).items()}
    sizes.update(parse_sizes(args.sizes))
    repeats = args.repeats if args.repeats is not None else (3 if args.quick else 5)
    store_profiles = tuple(p.strip() for p in args.store_profiles.split(",") if p.strip())
    if not store_profiles or set(store_profiles) - set(STORE_PROFILES):
        raise SystemExit(f"--store-profiles takes a comma-separated list of {', '.join(STORE_PROFILES)}")
    return {
        "repeats": repeats,
        "warmup": args.warmup,
        "quick": args.quick,
        "full": args.full,
        "sizes": sizes,
        "profile": args.profile,
        "store_profiles": store_profiles,
    }


def _command(argv: list[str]) -> str:
    return " ".join(["python -m bench", *(shlex.quote(a) for a in argv)])


async def _child(name: str, options: dict[str, object], command: str) -> int:
    from bench.common import Ctx

    servers = Servers()
    ctx = Ctx(servers=servers, **options)  # type: ignore[arg-type]
    ctx.probe = await probe(servers)
    expected = {n for n in os.environ.get("BENCH_EXPECT", "").split(",") if n}
    for _ in range(36):  # a server the run started with may be restarting (someone else's tests): up to 3 min
        if all(ctx.probe[n]["up"] for n in expected):
            break
        await asyncio.sleep(5)
        ctx.probe = await probe(servers)
    module = importlib.import_module(f"bench.{name}")
    if not ctx.profile:
        result = await module.run(ctx)
    else:  # the whole scenario under pyinstrument: where the time of every variant goes
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001, async_mode="enabled")
        profiler.start()
        try:
            result = await module.run(ctx)
        finally:
            profiler.stop()
            text = profiler.output_text(unicode=True, color=False, show_all=False)
            (ctx.profiles_dir / f"{name}.txt").write_text(text, encoding="utf-8")
            (ctx.profiles_dir / f"{name}.html").write_text(profiler.output_html(), encoding="utf-8")
    path = result.write(command, machine(), ctx.probe)
    ctx.log(f"{name}: wrote {path.relative_to(RESULTS.parent.parent)}")
    return 0


def _wait_for(servers: Servers, names: set[str], timeout: float = 180.0) -> None:
    """Until every server in ``names`` answers again (a shared machine's tests restart them), or the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        state = asyncio.run(probe(servers))
        down = sorted(n for n in names if not state[n]["up"])
        if not down or time.monotonic() > deadline:
            if down:
                print(f"!! still down after {timeout:.0f} s: {', '.join(down)}", flush=True)
            return
        print(f".. waiting for {', '.join(down)}", flush=True)
        time.sleep(5)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    options = _options(args)
    if args.child:
        command = os.environ.get("BENCH_COMMAND", _command(argv))
        return asyncio.run(_child(args.child, options, command))

    default = (*DEFAULT_SCENARIOS, "analysis_1m") if args.full else DEFAULT_SCENARIOS
    chosen = [s.strip() for s in (args.only or ",".join(default)).split(",") if s.strip()]
    unknown = sorted(set(chosen) - set(SCENARIOS))
    if unknown:
        build_parser().error(f"unknown scenario(s): {', '.join(unknown)}")
    servers = Servers()
    up = asyncio.run(probe(servers))
    print(
        "servers: " + ", ".join(f"{k} {'up ' + str(v.get('version')) if v['up'] else 'DOWN'}" for k, v in up.items()),
        flush=True,
    )
    command = _command(argv)
    failed = []
    started = time.perf_counter()
    try:
        for name in SCENARIOS:
            if name not in chosen:
                continue
            print(f"== {name}", flush=True)
            _wait_for(servers, {k for k, v in up.items() if v["up"]})
            asyncio.run(cleanup(servers))  # every scenario starts from nothing (and leftovers go)
            if up["mysql"]["up"]:
                ensure_database(servers)
            child = [sys.executable, "-m", "bench", *argv, "--child", name]
            env = {
                **os.environ,
                "BENCH_COMMAND": command,
                "PYTHONHASHSEED": "0",
                "BENCH_EXPECT": ",".join(k for k, v in up.items() if v["up"]),
            }
            code = subprocess.call(child, env=env)
            for attempt in range(args.retries):
                if not code:
                    break  # a server restarted under a shared machine's tests, most likely: start afresh
                print(f"!! {name} failed (exit {code}); retrying ({attempt + 1}/{args.retries}) in 15 s", flush=True)
                time.sleep(15)
                _wait_for(servers, {k for k, v in up.items() if v["up"]})
                asyncio.run(cleanup(servers))
                if up["mysql"]["up"]:
                    ensure_database(servers)
                code = subprocess.call(child, env=env)
            if code:
                failed.append(name)
                print(f"!! {name} failed (exit {code})", flush=True)
    finally:
        if not args.keep:
            removed = asyncio.run(cleanup(servers))
            print(f"cleaned up: {removed}", flush=True)
    from bench.report import write_summary

    path = write_summary()
    print(
        f"{path.relative_to(RESULTS.parent.parent)} written; {time.perf_counter() - started:.0f} s in all", flush=True
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
