"""Plots of the analysis DataFrames: each returns the matplotlib Axes it drew, titled and labelled.

Chinese labels use an installed CJK font when there is one; without one, matplotlib draws
empty boxes for the missing glyphs and this module keeps its warnings out of the output.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING

import networkx as nx
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_latency", "plot_network", "plot_session_lengths", "plot_volume"]

CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Heiti SC",
    "Droid Sans Fallback",
    "AR PL UMing CN",
)
LAYOUT_SEED = 42

warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from (current )?font", category=UserWarning)


@lru_cache(maxsize=1)
def _cjk_font() -> str | None:
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


@contextmanager
def _canvas(ax: Axes | None, *, figsize: tuple[float, float] = (9, 4)) -> Iterator[Axes]:
    """``ax``, or a new figure's; text created inside uses a CJK font when one is installed."""
    import matplotlib as mpl
    import matplotlib.pyplot as plt

    font = _cjk_font()
    rc = {"font.sans-serif": [font, *mpl.rcParams["font.sans-serif"]]} if font else {}
    with mpl.rc_context(rc):
        if ax is None:
            _, ax = plt.subplots(figsize=figsize, layout="constrained")
        yield ax


def plot_volume(df: pd.DataFrame, *, interval: str = "day", ax: Axes | None = None) -> Axes:
    """Lines of messages per period, one per group (the column between ``period`` and ``messages``)."""
    groups = [c for c in df.columns if c not in ("period", "messages")]
    with _canvas(ax) as ax:
        if groups:
            wide = df.pivot_table(index="period", columns=groups[0], values="messages", aggfunc="sum", fill_value=0)
            for column in wide.columns:
                ax.plot(wide.index, wide[column], label=str(column))
            ax.legend(title=groups[0])
        else:
            ax.plot(df["period"], df["messages"], label="messages")
        ax.set_title(f"Messages per {interval}")
        ax.set_xlabel(f"{interval} (UTC)")
        ax.set_ylabel("messages")
    return ax


def plot_session_lengths(df: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Bars of sessions per length bin (the frame of ``session_length_distribution``)."""
    with _canvas(ax) as ax:
        ax.bar(df["bin"].astype(str), df["sessions"])
        ax.set_title("Session lengths")
        ax.set_xlabel("messages per session")
        ax.set_ylabel("sessions")
    return ax


def plot_latency(df: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Grouped bars of time to first token and latency (p50, p95) per group (the frame of ``latency_stats``)."""
    group = df.columns[0]
    metrics = ["ttft_p50_ms", "ttft_p95_ms", "latency_p50_ms", "latency_p95_ms"]
    with _canvas(ax) as ax:
        width = 0.8 / len(metrics)
        positions = range(len(df))
        for i, metric in enumerate(metrics):
            ax.bar([p + i * width for p in positions], df[metric], width=width, label=metric.removesuffix("_ms"))
        ax.set_xticks([p + width * (len(metrics) - 1) / 2 for p in positions], df[group].astype(str))
        ax.legend()
        ax.set_title(f"Reply latency per {group}")
        ax.set_xlabel(str(group))
        ax.set_ylabel("milliseconds")
    return ax


def _community_layout(graph: nx.Graph, communities: list[set]) -> dict[object, tuple[float, float]]:
    """Each community laid out on its own (fixed seed), packed in rows, the largest first, each in a
    square that grows with the square root of its size: big clusters and many small pairs both stay
    readable (one spring layout of everything folds pairs onto a point and clumps cliques)."""
    width = math.ceil(math.sqrt(graph.number_of_nodes())) * 1.6
    pos: dict[object, tuple[float, float]] = {}
    x = y = row_height = 0.0
    for nodes in communities:
        side = max(1.7, math.sqrt(len(nodes)) * 1.2)
        if x and x + side > width:
            x, y, row_height = 0.0, y - row_height, 0.0
        local = (
            nx.spring_layout(graph.subgraph(nodes), seed=LAYOUT_SEED, k=3 / math.sqrt(len(nodes)), iterations=500)
            if len(nodes) > 2
            else {n: ((i - 0.5) * 0.9 if len(nodes) == 2 else 0.0, 0.0) for i, n in enumerate(sorted(nodes, key=str))}
        )
        for node in nodes:
            lx, ly = local[node]
            pos[node] = (x + side / 2 + lx * side * 0.42, y - side / 2 + ly * side * 0.42)
        x, row_height = x + side, max(row_height, side)
    return pos


def plot_network(graph: nx.Graph, *, ax: Axes | None = None, title: str = "Term co-occurrence") -> Axes:
    """``graph`` laid out (fixed seed) with its communities in colours; node size by ``count``, edge
    width by ``weight``."""
    import matplotlib.pyplot as plt

    with _canvas(ax, figsize=(10, 8)) as ax:
        if graph.number_of_nodes():
            communities = sorted(
                nx.community.greedy_modularity_communities(graph, weight="weight"),
                key=lambda c: (-len(c), sorted(map(str, c))),
            )
            pos = _community_layout(graph, communities)
            community = {node: i for i, members in enumerate(communities) for node in members}
            palette = plt.get_cmap("tab20")
            counts = [graph.nodes[n].get("count", 1) for n in graph]
            peak = max(counts)
            weights = [graph.edges[e].get("weight", 1) for e in graph.edges]
            heaviest = max(weights, default=1)
            nx.draw_networkx_edges(
                graph, pos, ax=ax, width=[0.5 + 4 * w / heaviest for w in weights], alpha=0.35, edge_color="#555"
            )
            nx.draw_networkx_nodes(
                graph,
                pos,
                ax=ax,
                node_size=[40 + 700 * c / peak for c in counts],
                node_color=[palette(community[n] % 20) for n in graph],
                alpha=0.85,
            )
            font = _cjk_font()
            nx.draw_networkx_labels(
                graph,
                {n: (x, y + 0.28) for n, (x, y) in pos.items()},  # above the node, not on it
                ax=ax,
                font_size=9,
                bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.7},
                **({"font_family": font} if font else {}),
            )
            ax.margins(0.08)
        ax.set_title(title)
        ax.set_xlabel("one spring layout per community (seed 42), in colour; node size: messages mentioning the term")
        ax.set_ylabel("edge width: messages mentioning both")
        ax.set_xticks([])
        ax.set_yticks([])
    return ax
