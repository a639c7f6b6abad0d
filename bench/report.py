"""Results: one JSON file per scenario in ``bench/results/``, and ``summary.md`` made from all of them."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.env import RESULTS
from bench.stats import Rep, ratio, summarize

__all__ = ["Result", "fmt", "fmt_spread", "write_summary"]

ORDER = ("append", "read", "bulk", "analysis", "chat")  # each with its variants: analysis_1m, analysis_1m_services...

# what every table's ratios are taken against (bench/README.md has the long form)
FLOORS = {
    "append": "Ratios ÷ **F1**: the workbench's own ordered transaction typed out over aiomysql (BEGIN; claim the seq "
    "with `UPDATE … LAST_INSERT_ID(last_seq + 1)`; INSERT the message; INSERT its two outbox rows; COMMIT) plus "
    "RPUSH + EXPIRE in one MULTI pipeline: the target's floor. ÷ **F2** adds the ES `index` of the message, the "
    "third durable write the issue names (the workbench makes it later, in its relay, with the Neo4j write). "
    "The workbench runs three times: with its relay live in the same process (as `Workbench` runs it: the ES and Neo4j "
    "writes of the appends share the event loop), and with the relay deferred (drained after the batch, untimed, as "
    "a relay on other cores would): the difference is the relay's CPU; and with the relay in a worker process "
    "(`WORKBENCH_RELAY=external`, a `workbench relay` subprocess draining during the batch, on the same 2 cores). "
    "The ES-heavy variants (F2, the ES peer, "
    "which refreshes the index at every write) run in a round of their own with F1 and the workbench again. "
    "The peers use their own clients on the same servers.",
    "read": "Hit ratios ÷ **R1** (LRANGE of the very list the workbench reads + `json.loads` per item); miss and SQL "
    "peers ÷ **R2** (the SELECT over aiomysql). The workbench returns `Message` objects, the peers LangChain messages.",
    "bulk": "Floor: the same rows and documents written with the raw bulk APIs of the same clients (`executemany`, "
    "`helpers.async_bulk`, `UNWIND` batches of 500); per-message: the same job one message at a time.",
    "analysis": "Growth: the same function at the largest size ÷ at the smallest. Memory is the peak of Python "
    "allocations during one call (tracemalloc) and the process's RSS growth during it.",
    "chat": "Ratios ÷ a raw `AsyncOpenAI` stream sending the same messages to the same local server. "
    "`delay=0` is an instant model, so every millisecond is the workbench's; `delay=0.02` paces tokens 20 ms apart.",
}


def fmt(value: float | None, digits: int = 3) -> str:
    """A number with ``digits`` significant digits (no exponent for everyday magnitudes)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(0, digits - 1 - magnitude)
    return f"{value:,.{decimals}f}"


def fmt_spread(s: dict[str, float] | None, scale: float = 1.0, digits: int = 3, bold: bool = False) -> str:
    """``median [min–max]`` of a spread, each multiplied by ``scale``."""
    if not s or s.get("n", 0) == 0:
        return "–"
    median = fmt(s["median"] * scale, digits)
    if bold:
        median = f"**{median}**"
    if s["n"] == 1:
        return median
    return f"{median} [{fmt(s['min'] * scale, digits)}–{fmt(s['max'] * scale, digits)}]"


@dataclass
class Result:
    """What one scenario measured, written to ``bench/results/<name>.json``."""

    scenario: str
    title: str
    config: dict[str, Any] = field(default_factory=dict)
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)
    ratios: list[dict[str, Any]] = field(default_factory=list)
    tables: list[dict[str, Any]] = field(default_factory=list)
    targets: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.time)

    def add_variant(self, key: str, label: str, kind: str, reps: Sequence[Rep], **info: Any) -> dict[str, Any]:
        entry = {
            "label": label,
            "kind": kind,
            "reps": [r.as_json() for r in reps],
            "summary": summarize(reps),
            **info,
        }
        self.variants[key] = entry
        return entry

    def add_ratio(
        self, numerator: str, floor: str, reps: dict[str, Sequence[Rep]], metric: str, **info: Any
    ) -> dict[str, float]:
        s = ratio(reps[numerator], reps[floor], metric)
        self.ratios.append({"numerator": numerator, "floor": floor, "metric": metric, **s, **info})
        return s

    def table(self, title: str, header: Sequence[str], rows: Sequence[Sequence[str]], note: str = "") -> None:
        self.tables.append({"title": title, "header": list(header), "rows": [list(r) for r in rows], "note": note})

    def target(self, name: str, figure: str, met: bool | None, detail: str = "") -> None:
        """``met`` None: could not be measured in this run (say why in ``detail``)."""
        self.targets.append({"target": name, "figure": figure, "met": met, "detail": detail})

    def write(self, command: str, machine: dict[str, Any], servers: dict[str, Any]) -> Path:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{self.scenario}.json"
        body = {
            "scenario": self.scenario,
            "title": self.title,
            "command": command,
            "started": datetime.fromtimestamp(self.started, UTC).isoformat(timespec="seconds"),
            "duration_s": round(time.time() - self.started, 1),
            "machine": machine,
            "servers": servers,
            "config": self.config,
            "variants": self.variants,
            "ratios": self.ratios,
            "tables": self.tables,
            "targets": self.targets,
            "notes": self.notes,
            "skipped": self.skipped,
            "extra": self.extra,
        }
        path.write_text(json.dumps(body, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
        return path


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def _met(value: bool | None) -> str:
    return {True: "met", False: "**missed**", None: "not measured"}[value]


def _scenario_of(name: str) -> str:
    """``analysis`` for ``analysis_1m_services``: the scenario a result is a variant of."""
    return name.split("_")[0]


def write_summary(results_dir: Path = RESULTS) -> Path:
    """``summary.md``: the targets first, then every table of every scenario's JSON."""
    found = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(results_dir.glob("*.json"))}
    ordered = [found[stem] for name in ORDER for stem in sorted(found) if _scenario_of(stem) == name]
    lines = ["# Benchmark results", ""]
    if ordered:
        first = ordered[0]
        m = first["machine"]
        servers = ", ".join(
            f"{name} {info.get('version', '?')}" if info.get("up") else f"{name} (down)"
            for name, info in first.get("servers", {}).items()
        )
        lines += [
            f"Measured on {m['cpus']} CPUs, Python {m['python']}, {servers}. "
            "Each figure is the median over the repetitions with the min–max spread in brackets; "
            "every ratio is taken per repetition against a floor measured in the same run and reads "
            "*× the floor* (above 1 = slower; for throughput, the slowdown floor ÷ variant).",
            "",
            "Produced by:",
            "",
        ]
        commands = sorted({r["command"] for r in ordered})
        lines += ["```bash", *commands, "```", ""]
        lines += [
            "| scenario | started (UTC) | took |",
            "|---|---|---|",
            *[f"| {r['scenario']} | {r['started']} | {r['duration_s']:.0f} s |" for r in ordered],
            "",
        ]
    targets = [(r["scenario"], t) for r in ordered for t in r.get("targets", [])]
    measured = {t["target"] for _, t in targets if t["met"] is not None}
    targets = [(s, t) for s, t in targets if t["met"] is not None or t["target"] not in measured]
    if targets:
        lines += ["## Targets", "", "| scenario | target | figure | result |", "|---|---|---|---|"]
        for scenario, t in targets:
            detail = f" ({t['detail']})" if t.get("detail") else ""
            lines.append(f"| {scenario} | {t['target']} | {t['figure']}{detail} | {_met(t['met'])} |")
        lines.append("")
    for r in ordered:
        lines += [f"## {r['title']}", ""]
        if _scenario_of(r["scenario"]) in FLOORS:
            lines += [FLOORS[_scenario_of(r["scenario"])], ""]
        for t in r.get("tables", []):
            lines += [f"### {t['title']}", ""]
            lines += _markdown_table(t["header"], t["rows"])
            if t.get("note"):
                lines += ["", t["note"]]
            lines.append("")
        for note in r.get("notes", []):
            lines.append(f"- {note}")
        for skipped in r.get("skipped", []):
            lines.append(f"- skipped: {skipped}")
        lines.append("")
    path = results_dir / "summary.md"
    path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    return path
