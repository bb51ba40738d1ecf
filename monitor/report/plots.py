"""The report's images (matplotlib, no display needed), returned as PNG bytes.

Chinese labels need a CJK font: :func:`cjk_font_family` finds one of
:data:`CJK_FONT_FAMILIES` (registering it with matplotlib if it was installed after
matplotlib built its font cache) and plots use it as a fallback after DejaVu Sans
(matplotlib >= 3.6 takes each glyph from the first font of the list that has it).
Without one, Chinese reports draw their plots with English labels instead of empty
boxes, and say so (see ``monitor/report/render.py``).
"""

from __future__ import annotations

import functools
import io
import logging
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: the service and CI have no display

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from indicators.vocabulary import ALL_LEVELS  # noqa: E402
from monitor.report.content import NodeSeries  # noqa: E402

log = logging.getLogger(__name__)

CJK_FONT_FAMILIES: tuple[str, ...] = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN", "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei", "Microsoft YaHei", "PingFang SC", "SimHei", "Droid Sans Fallback", "AR PL UMing CN",
)
"""Fonts with simplified Chinese glyphs, preferred first (Debian: fonts-noto-cjk, fonts-wqy-microhei)."""
_CJK_FILE_MARKERS = ("notosanscjk", "notoserifcjk", "sourcehansans", "wqy", "droidsansfallback", "uming", "ukai",
                     "msyh", "simhei", "pingfang")


@functools.cache
def cjk_font_family() -> str | None:
    """The name of an installed CJK font matplotlib can use, or None."""
    def registered() -> str | None:
        names = {font.name for font in font_manager.fontManager.ttflist}
        return next((name for name in CJK_FONT_FAMILIES if name in names), None)

    found = registered()
    if found is None:
        # matplotlib caches the font list once; a font installed later is only found on disk.
        for path in font_manager.findSystemFonts():
            if any(marker in Path(path).name.lower().replace("-", "").replace("_", "") for marker in _CJK_FILE_MARKERS):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        found = registered()
    if found is None:
        log.warning("no CJK font found (e.g. Debian fonts-noto-cjk or fonts-wqy-microhei): "
                    "plots in Chinese reports use English labels")
    return found


def font_settings(zh: bool) -> dict:
    """matplotlib rc settings: DejaVu Sans, then (``zh``) the CJK font for the glyphs it lacks.

    English reports never look for a CJK font, so they never warn about a missing one.
    """
    cjk = cjk_font_family() if zh else None
    # Fallback needs the families named in font.family itself (a generic "sans-serif" resolves to one font).
    return {"font.family": ["DejaVu Sans", *([cjk] if cjk else [])]}


LEVEL_COLOURS = {"none": "#e8e8e8", "blue": "#4a90d9", "yellow": "#f2c94c", "orange": "#f2994a", "red": "#d64545",
                 "unknown": "#9e9e9e"}  # unknown: too little data, neither safe nor at risk
_LEVELS = list(ALL_LEVELS)


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def chinese_labels(zh: bool) -> bool:
    """Whether plots can carry Chinese labels: asked for (``zh``) and a CJK font is installed."""
    return zh and cjk_font_family() is not None


def level_heatmap(chains: list[dict], zh: bool = False) -> bytes:
    """Chains (rows) × their nodes (upstream first), each cell coloured by level, with its score."""
    with plt.rc_context(font_settings(zh)):
        return _level_heatmap(chains, chinese_labels(zh))


def _level_heatmap(chains: list[dict], zh: bool) -> bytes:
    width = max(len(c["nodes"]) for c in chains)
    grid = [[_LEVELS.index(n["level"]) for n in c["nodes"]] + [0] * (width - len(c["nodes"])) for c in chains]
    figure, axis = plt.subplots(figsize=(1.5 * width + 3.5, 0.75 * len(chains) + 1))
    axis.imshow(grid, cmap=ListedColormap(list(LEVEL_COLOURS.values())), vmin=0, vmax=len(_LEVELS) - 1,
                aspect="auto")
    for row, chain in enumerate(chains):
        for col, node in enumerate(chain["nodes"]):
            score = "–" if node["score"] is None else f"{node['score']:.0f}"
            name = node["name_zh"] if zh else node["name"]
            axis.text(col, row, f"{_short(name, 8 if zh else 18, lines=2)}\n{score}", ha="center", va="center",
                      fontsize=6.5)
    axis.set_yticks(range(len(chains)), [f"{_short(c['name_zh'] if zh else c['name'], 16 if zh else 40)} ({c['level']})"
                                         for c in chains], fontsize=8)
    axis.set_xticks([])
    axis.set_title("各产业链环节预警等级（上游 → 下游）" if zh else "Node levels by chain (upstream → downstream)")
    return _png(figure)


def readable_number(value: float, _position: object = None) -> str:
    """An axis tick for people: thousands separators, and k / M / bn instead of a ``1e8`` offset.

    Examples: 950 → ``950``, 12,500 → ``12,500``, 3.4e6 → ``3.4 M``, 1.25e9 → ``1.25 bn``.
    """
    size = abs(value)
    for step, suffix in ((1e9, " bn"), (1e6, " M")):
        if size >= step:
            return f"{value / step:,.3g}{suffix}"
    return f"{value:,.0f}" if size >= 100 or value == int(value) else f"{value:,.2g}"


def _short(name: str, width: int, lines: int = 1) -> str:
    """``name`` wrapped at word boundaries into at most ``lines`` lines of about ``width``
    characters, "…" marking a cut (a heat-map cell is small)."""
    wrapped = textwrap.wrap(name, width) or [""]
    if len(wrapped) > lines:
        wrapped = wrapped[:lines]
        wrapped[-1] = wrapped[-1].rstrip(",;:(") + "…"
    return "\n".join(wrapped)


def series_plot(series: NodeSeries, title: str, zh: bool = False) -> bytes:
    """One series over time with the periods flagged as downward disruptions marked.

    ``zh``: Chinese legend (only when :func:`chinese_labels` allows it; the caller
    picks the title's language the same way).
    """
    with plt.rc_context(font_settings(zh)):
        return _series_plot(series, title, chinese_labels(zh))


def _series_plot(series: NodeSeries, title: str, zh: bool) -> bytes:
    figure, axis = plt.subplots(figsize=(7.5, 2.4))
    values = series.values
    axis.plot(values.index, values.to_numpy(), color="#2f5d8a", linewidth=1.2)
    if series.flagged:
        stamps = [pd.Timestamp(p) for p in series.flagged]
        marked = values.reindex(stamps).dropna()
        axis.scatter(marked.index, marked.to_numpy(), color=LEVEL_COLOURS["red"], zorder=3, s=22,
                     label="判定为中断" if zh else "flagged disruption")
        axis.legend(loc="upper left", fontsize=7, frameon=False)
    axis.set_title(title, fontsize=9)
    axis.set_ylabel(series.label, fontsize=7)
    axis.yaxis.set_major_formatter(FuncFormatter(readable_number))
    axis.tick_params(labelsize=7)
    axis.grid(alpha=0.3)
    return _png(figure)


def tornado_plot(rows: list[dict], title: str, zh: bool = False) -> bytes:
    """A tornado chart of a sensitivity table (:func:`indicators.stress.sensitivity` rows).

    One bar per assumption, largest swing on top, from the headline at −50 % to the
    headline at +50 % (USD, billions), around a line at the base value.
    """
    with plt.rc_context(font_settings(zh)):
        return _tornado_plot(rows, title, chinese_labels(zh))


def _tornado_plot(rows: list[dict], title: str, zh: bool) -> bytes:
    shown = [r for r in rows if r["swing"] > 0] or rows[:1]
    shown = list(reversed(shown))  # barh draws bottom-up: the largest swing ends on top
    figure, axis = plt.subplots(figsize=(7.5, 0.35 * len(shown) + 1.2))
    base = shown[0]["base"] / 1e9 if shown else 0.0
    for y, row in enumerate(shown):
        low, high = row["low"] / 1e9, row["high"] / 1e9
        axis.barh(y, low - base, left=base, color="#2f5d8a", height=0.6,
                  label=("假设 −50%" if zh else "assumption −50%") if y == 0 else None)
        axis.barh(y, high - base, left=base, color=LEVEL_COLOURS["orange"], height=0.6,
                  label=("假设 +50%" if zh else "assumption +50%") if y == 0 else None)
    axis.axvline(base, color="black", linewidth=0.8)
    axis.set_yticks(range(len(shown)), [r["assumption"] for r in shown], fontsize=7)
    axis.set_xlabel("风险价值总额（十亿美元）" if zh else "total value at risk (USD bn)", fontsize=7)
    axis.tick_params(labelsize=7)
    axis.legend(loc="lower right", fontsize=7, frameon=False)
    axis.set_title(title, fontsize=9)
    axis.grid(alpha=0.3, axis="x")
    return _png(figure)
