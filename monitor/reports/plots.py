"""The report's images (matplotlib, no display needed), returned as PNG bytes."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # headless: the service and CI have no display

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402

from monitor.reports.content import NodeSeries  # noqa: E402

LEVEL_COLOURS = {"none": "#e8e8e8", "blue": "#4a90d9", "yellow": "#f2c94c", "orange": "#f2994a", "red": "#d64545"}
_LEVELS = list(LEVEL_COLOURS)


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def level_heatmap(chains: list[dict], zh: bool = False) -> bytes:
    """Chains (rows) × their nodes (upstream first), each cell coloured by level, with its score."""
    width = max(len(c["nodes"]) for c in chains)
    grid = [[_LEVELS.index(n["level"]) for n in c["nodes"]] + [0] * (width - len(c["nodes"])) for c in chains]
    figure, axis = plt.subplots(figsize=(1.3 * width + 2.5, 0.6 * len(chains) + 1))
    axis.imshow(grid, cmap=ListedColormap(list(LEVEL_COLOURS.values())), vmin=0, vmax=len(_LEVELS) - 1,
                aspect="auto")
    for row, chain in enumerate(chains):
        for col, node in enumerate(chain["nodes"]):
            score = "–" if node["score"] is None else f"{node['score']:.0f}"
            axis.text(col, row, f"{node['id'][:14]}\n{score}", ha="center", va="center", fontsize=7)
    axis.set_yticks(range(len(chains)), [f"{c['id']} ({c['level']})" for c in chains], fontsize=8)
    axis.set_xticks([])
    axis.set_title("Node levels by chain (upstream → downstream)" if not zh else "Node levels by chain")
    return _png(figure)


def series_plot(series: NodeSeries, title: str) -> bytes:
    """One series over time with the periods flagged as downward disruptions marked."""
    figure, axis = plt.subplots(figsize=(7.5, 2.4))
    values = series.values
    axis.plot(values.index, values.to_numpy(), color="#2f5d8a", linewidth=1.2)
    if series.flagged:
        stamps = [pd.Timestamp(p) for p in series.flagged]
        marked = values.reindex(stamps).dropna()
        axis.scatter(marked.index, marked.to_numpy(), color=LEVEL_COLOURS["red"], zorder=3, s=22,
                     label="flagged disruption")
        axis.legend(loc="upper left", fontsize=7, frameon=False)
    axis.set_title(title, fontsize=9)
    axis.set_ylabel(series.label, fontsize=7)
    axis.tick_params(labelsize=7)
    axis.grid(alpha=0.3)
    return _png(figure)
