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
from monitor.report.plots import LEVEL_COLOURS, chinese_labels, level_heatmap, series_plot, tornado_plot
from monitor.stress.usd import format_usd

LABELS = {
    "en": {
        "run": "Assessment run", "as_of": "data up to", "simulated": "SIMULATED DEMO DATA — not real statistics",
        "heatmap": "Levels at a glance", "top": "Top risks", "changes": "Changes since the previous assessment",
        "no_changes": "No level changed since the previous assessment.", "first": "This is the first assessment.",
        "stress": "Stress tests", "no_stress": "No stress-test results are stored yet.",
        "events": "Policy events announced since the previous assessment",
        "event_when": "Announced", "event_what": "Measure", "event_nodes": "Nodes (level: why)",
        "event_in_force": "in force in %d days (%s)", "event_since": "in force since %s",
        "event_withdrawn": "withdrawn (resolved)", "event_no_node": "matched no node",
        "stress_months": "months simulated", "stress_untouched": "No chain is touched by this scenario.",
        "stress_impact": "Impact (0-100)", "stress_time": "Months to impact", "stress_worst": "Worst node",
        "stress_peak": "Peak shortfall", "stress_recovery": "Recovered after (months)",
        "stress_not_recovered": "not within horizon",
        "stress_var": "Value at risk", "stress_tts": "TTS (months)", "stress_ttr": "TTR (months)",
        "stress_path": "Path of the loss", "stress_beyond": "beyond horizon",
        "stress_total_var": "Total value at risk",
        "stress_sensitivity": "Sensitivity of the total value at risk to each assumption at −50 % / +50 %",
        "stress_assumption": "Assumption", "stress_low": "−50 %", "stress_high": "+50 %", "stress_swing": "Swing",
        "stress_notes": ("TTS: time to survive, months demand is met before the first shortfall; TTR: time to "
                         "recover, months until supply is whole again; value at risk: shortfall-months × normal "
                         "monthly demand at import prices (USD)."),
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
        "events": "上次评估以来发布的政策事件",
        "event_when": "发布日期", "event_what": "措施", "event_nodes": "涉及环节（等级：原因）",
        "event_in_force": "%d 天后生效（%s）", "event_since": "自 %s 起生效",
        "event_withdrawn": "已撤销（预警解除）", "event_no_node": "未匹配到环节",
        "stress_months": "个月模拟期", "stress_untouched": "该情景未触及任何产业链。",
        "stress_impact": "冲击分（0-100）", "stress_time": "缺口出现（月）", "stress_worst": "受冲击最重环节",
        "stress_peak": "最大缺口", "stress_recovery": "恢复（月）", "stress_not_recovered": "期内未恢复",
        "stress_var": "风险价值", "stress_tts": "生存时间（月）", "stress_ttr": "恢复时间（月）",
        "stress_path": "损失传导路径", "stress_beyond": "超出模拟期", "stress_total_var": "风险价值总额",
        "stress_sensitivity": "各项假设变动 −50% / +50% 时风险价值总额的变化",
        "stress_assumption": "假设", "stress_low": "−50%", "stress_high": "+50%", "stress_swing": "变动幅度",
        "stress_notes": "生存时间（TTS）：首次出现缺口前能满足需求的月数；恢复时间（TTR）：供给恢复完整所需月数；"
                        "风险价值：缺口月数 × 按进口价格计的正常月需求（美元）。",
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
    for scenario in document.get("stress_tests", []):
        if scenario.get("sensitivity"):
            name = scenario.get("name_zh") if zh_plots and scenario.get("name_zh") else scenario.get("name")
            images[f"tornado/{scenario['id']}"] = _data_uri(tornado_plot(scenario["sensitivity"], name, zh=zh))
    language = document["language"]
    environment = Environment(loader=PackageLoader("monitor.report", "templates"),
                              autoescape=select_autoescape(["html", "j2"]))
    # Country names for people in the report's language; the JSON keeps the ISO codes.
    environment.filters["country"] = country_name_zh if language == "zh" else country_name_en
    environment.filters["usd"] = format_usd
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
