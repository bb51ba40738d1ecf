"""Writing a report: ``report.html`` (self-contained: images embedded) and ``report.json``."""

from __future__ import annotations

import base64
import json
import os
import tempfile
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from monitor.config.countries import country_name_en, country_name_zh
from monitor.report.content import NodeSeries
from monitor.report.plots import LEVEL_COLOURS, chinese_labels, level_heatmap, series_plot

LABELS = {
    "en": {
        "run": "Assessment run", "as_of": "data up to", "simulated": "SIMULATED DEMO DATA — not real statistics",
        "heatmap": "Levels at a glance", "top": "Top risks", "changes": "Changes since the previous assessment",
        "no_changes": "No level changed since the previous assessment.", "first": "This is the first assessment.",
        "stress": "Stress tests", "no_stress": "No stress-test results are stored yet.",
        "stress_months": "months simulated", "stress_untouched": "No chain is touched by this scenario.",
        "stress_impact": "Impact (0-100)", "stress_time": "Months to impact", "stress_worst": "Worst node",
        "stress_peak": "Peak shortfall", "stress_recovery": "Recovered after (months)",
        "stress_not_recovered": "not within horizon",
        "owner": "Chain chief (链长)", "lead": "Lead department", "co": "Co-responsible departments",
        "leader_firm": "Chain leader firm (链主)", "contacts": "Contacts", "node": "Node", "stage": "Stage",
        "score": "Score", "level": "Level", "change": "Change", "completeness": "Data", "drivers": "Why",
        "partners": "Top partners (share of World imports)", "hhi": "HHI", "trend": "Concentration trend",
        "chain": "Chain", "from": "from", "to": "to", "none": "–",
        "mirror": "%.0f%% partner-reported (mirror: %s)",
        "unknown_coverage": "unknown (partners named for %.0f%% of World imports)",
        "estimate": "%.0f%% estimated, not reported (%s)",
        "dimensions": "Scores by dimension (0-100)", "missing": "missing",
        "world_supply": "Where the world's supply sits (latest year; share of the World total)",
        "supply_stage": "Stage of supply", "year": "Year", "top_producer": "Top producer", "world_hhi": "World HHI",
        "home_share": "Home share", "coverage": "Named producers",
        "unplotted": "Not plotted (no flagged disruption, not among the top risks; values in the API):",
        "cjk_hint": "",
        "plots_in_english": "",
    },
    "zh": {
        "run": "评估批次", "as_of": "数据截至", "simulated": "模拟演示数据 —— 非真实统计",
        "heatmap": "预警等级总览", "top": "主要风险", "changes": "与上次评估相比的变化",
        "no_changes": "与上次评估相比，预警等级无变化。", "first": "这是首次评估。",
        "stress": "压力测试", "no_stress": "尚无压力测试结果。",
        "stress_months": "个月模拟期", "stress_untouched": "该情景未触及任何产业链。",
        "stress_impact": "冲击分（0-100）", "stress_time": "缺口出现（月）", "stress_worst": "受冲击最重环节",
        "stress_peak": "最大缺口", "stress_recovery": "恢复（月）", "stress_not_recovered": "期内未恢复",
        "owner": "链长", "lead": "牵头部门", "co": "责任部门", "leader_firm": "链主企业", "contacts": "联系人",
        "node": "环节", "stage": "位置", "score": "风险分", "level": "等级", "change": "变化",
        "completeness": "数据完整度", "drivers": "原因", "partners": "主要来源国（占全球进口比重）", "hhi": "HHI",
        "trend": "集中度趋势", "chain": "产业链", "from": "由", "to": "至", "none": "–",
        "mirror": "%.0f%% 为伙伴国申报的镜像数据（%s）",
        "unknown_coverage": "未知（已列明来源国仅占全球进口 %.0f%%）",
        "estimate": "%.0f%% 为估计而非申报数据（%s）",
        "dimensions": "各维度风险分（0-100）", "missing": "缺数据",
        "world_supply": "全球供给分布（最新年份；占全球总量比重）",
        "supply_stage": "供给环节", "year": "年份", "top_producer": "最大生产国", "world_hhi": "全球 HHI",
        "home_share": "本国占比", "coverage": "已列明生产国",
        "unplotted": "未绘图（无判定中断且不在主要风险之列；数据见 API）：",
        "cjk_hint": "如中文显示为方框，请安装中文字体（如 Noto Sans CJK 或文泉驿微米黑）。"
                    "If Chinese shows as boxes, install a CJK font (e.g. Noto Sans CJK).",
        "plots_in_english": "生成本报告的机器未安装中文字体，图中标签使用英文。"
                            "The machine that wrote this report has no CJK font: plot labels are in English.",
    },
}
DIMENSION_NAMES = {
    "en": {"concentration": "Concentration", "disruption": "Disruption", "dependence": "Import dependence",
           "partner_risk": "Partner risk", "logistics": "Logistics pressure", "value": "Value gap",
           "world_supply": "World supply"},
    "zh": {"concentration": "进口集中度", "disruption": "中断", "dependence": "进口依赖", "partner_risk": "来源国风险",
           "logistics": "物流压力", "value": "价值差距", "world_supply": "全球供给"},
}
TREND_ARROWS = {"up": "↑", "down": "↓", "flat": "→", "unknown": "·"}


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


#: Nodes of the top-risk list whose series are plotted even without a flagged period.
PLOTTED_TOP_RISKS = 5
FILE_MODE = 0o640  # group-readable (a web server or ops group), not world-readable
DIR_MODE = 0o750


def plotted_nodes(document: dict, plots: dict[str, list[NodeSeries]]) -> set[str]:
    """``chain/node`` keys whose series are worth a plot: a flagged disruption, or among the top risks.

    A report of every node's series was ~60 plots of mostly quiet lines; the others are
    listed by name under their chain (their values are in the API and the metrics).
    """
    flagged = {key for key, series in plots.items() if any(s.flagged for s in series)}
    top = {f"{r['chain']}/{r['node']}" for r in document["top_risks"][:PLOTTED_TOP_RISKS]}
    return {key for key in flagged | top if plots.get(key)}


def write_report(document: dict, plots: dict[str, list[NodeSeries]], out_dir: Path) -> Path:
    """Render ``document`` into ``out_dir`` (created, mode 0750); returns the HTML file's path.

    Files are written to temporary names and renamed, so a crash never leaves a
    half-written report behind; they are group-readable (0640).
    """
    if not out_dir.is_dir():
        out_dir.mkdir(parents=True, exist_ok=True)
        out_dir.chmod(DIR_MODE)  # only a directory made here: never loosen or tighten the user's own
    zh = document["language"] == "zh"
    zh_plots = chinese_labels(zh)  # Chinese plot labels only with a CJK font, else English (no empty boxes)
    images = {"heatmap": _data_uri(level_heatmap(document["chains"], zh=zh))}
    plotted = plotted_nodes(document, plots)
    for chain in document["chains"]:
        for node in chain["nodes"]:
            key = f"{chain['id']}/{node['id']}"
            name = node["name_zh"] if zh_plots else node["name"]
            images[key] = [_data_uri(series_plot(s, f"{name} — {s.label}", zh=zh))
                           for s in (plots.get(key, []) if key in plotted else [])]
    language = document["language"]
    environment = Environment(loader=PackageLoader("monitor.report", "templates"),
                              autoescape=select_autoescape(["html", "j2"]))
    environment.filters["country"] = country_name_zh if language == "zh" else country_name_en
    names = {(c["id"], ""): (c["name_zh"] if language == "zh" else c["name"]) for c in document["chains"]}
    names.update({(c["id"], n["id"]): (n["name_zh"] if language == "zh" else n["name"])
                  for c in document["chains"] for n in c["nodes"]})
    unplotted = {c["id"]: [names[(c["id"], n["id"])] for n in c["nodes"]
                           if plots.get(f"{c['id']}/{n['id']}") and f"{c['id']}/{n['id']}" not in plotted]
                 for c in document["chains"]}
    html = environment.get_template("report.html.j2").render(
        doc=document, images=images, t=LABELS[language], colours=LEVEL_COLOURS, arrows=TREND_ARROWS,
        plots_in_english=zh and not zh_plots, dimension_names=DIMENSION_NAMES[language],
        name=lambda chain, node="": names.get((chain, node or ""), node or chain), unplotted=unplotted)
    target = out_dir / "report.html"
    _atomic_write(out_dir / "report.json", json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8"))
    _atomic_write(target, html.encode("utf-8"))
    return target


def _atomic_write(path: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, FILE_MODE)  # mkstemp creates 0600
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
