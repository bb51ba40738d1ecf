"""Message text for chat receivers, in English or Chinese, within a byte budget.

Each alert becomes a few lines that answer what an analyst asks first: which chain
and node, what level, the value that fired against its threshold or baseline, the
detector, what drove it (e.g. the top partner's share change), the data period and
vintage, and where the report is. Annotation keys used when present: ``summary``
(``summary_zh``), ``level``, ``score``, ``threshold``, ``observed``, ``expected``,
``detector``, ``drivers`` (``drivers_zh``), ``data_period``, ``vintage``,
``report_url``, and the names for people: ``chain_name`` (``chain_name_zh``),
``node_name`` (``node_name_zh``), ``threshold_zh``; ids appear only where no name was
given (they stay in the labels).

Chat platforms cap message size, so :func:`render_text` adds alerts while they fit
and ends with a note saying how many were left out and where to read them all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timezone

from alerts.model import Alert

LANGUAGES = ("en", "zh")

_WORDS = {
    "en": {
        "firing": "FIRING", "resolved": "RESOLVED", "chain": "Chain", "node": "node", "chain_level": "chain level",
        "level": "level", "score": "risk score", "threshold": "threshold", "observed": "observed",
        "expected": "baseline", "detector": "detector", "drivers": "drivers", "data_period": "data period",
        "vintage": "vintage", "since": "since", "ended": "resolved at", "report": "Report",
        "omitted": "… {n} more alert(s) not shown (message size limit); see the report.",
        "digest": "Digest of {n} notifications held back by the platform's message limit",
        "digest_omitted": "… {n} more notification(s) of this digest not shown in full (message size limit); "
                          "see the report.",
        "levels": {"none": "none", "blue": "blue", "yellow": "yellow", "orange": "orange", "red": "red",
                   "unknown": "unknown (too little data)"},
    },
    "zh": {
        "firing": "告警", "resolved": "已恢复", "chain": "产业链", "node": "环节", "chain_level": "全链",
        "level": "预警等级", "score": "风险分", "threshold": "阈值", "observed": "观测值",
        "expected": "基线", "detector": "检测方法", "drivers": "主要因素", "data_period": "数据期",
        "vintage": "数据版本", "since": "开始于", "ended": "恢复于", "report": "查看报告",
        "omitted": "……另有 {n} 条告警因消息长度限制未显示，详见报告。",
        "digest": "汇总：因平台消息频率限制合并的 {n} 条通知",
        "digest_omitted": "……本汇总另有 {n} 条通知因消息长度限制未完整显示，详见报告。",
        "levels": {"none": "无", "blue": "蓝色", "yellow": "黄色", "orange": "橙色", "red": "红色",
                   "unknown": "未知（数据不足）"},
    },
}


def _as_is(text: str) -> str:
    return text


def slack_escape(text: str) -> str:
    """Slack's three control characters as entities: ``&`` ``&amp;``, ``<`` ``&lt;``, ``>`` ``&gt;``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True)
class Style:
    """Markup of a platform: bold markers, how a link is written, how data text is escaped."""

    bold: str = "**"
    link: str = "[{text}]({url})"
    escape: Callable[[str], str] = _as_is
    """Applied to every piece of alert data (labels, annotations), never to the markup."""


MARKDOWN = Style()
SLACK = Style(bold="*", link="<{url}|{text}>", escape=slack_escape)


def title(alerts: Sequence[Alert], group_labels: Mapping[str, str], language: str) -> str:
    """One line: status, count and group, e.g. ``[FIRING:2] Chain batteries``."""
    words = _WORDS[_check(language)]
    firing = sum(1 for a in alerts if a.is_firing)
    status = f"{words['firing']}:{firing}" if firing else words["resolved"]
    suffix = "_zh" if language == "zh" else ""
    names: dict[tuple[str, str], str] = {}
    for alert in alerts:  # chain and node names for people, where the alerts carry them (ids stay in labels)
        for key in ("chain", "node"):
            name = alert.annotations.get(f"{key}_name{suffix}") or alert.annotations.get(f"{key}_name")
            if name and alert.labels.get(key):
                names[(key, alert.labels[key])] = name
    group = ", ".join(names.get((k, v), v) for k, v in group_labels.items() if v) or "chainwatch"
    return f"[{status}] {words['chain']} {group}"


def alert_lines(alert: Alert, language: str, style: Style = MARKDOWN) -> str:
    """The block of text describing one alert."""
    words = _WORDS[_check(language)]
    e = style.escape
    a = {key: e(str(value)) for key, value in alert.annotations.items()}
    level = a.get("level") or e(alert.labels.get("level", ""))
    suffix = "_zh" if language == "zh" else ""
    node_name = a.get(f"node_name{suffix}") or a.get("node_name") or e(alert.labels.get("node", ""))
    where = f"{words['node']} {node_name}" if alert.labels.get("node") else words["chain_level"]
    summary = a.get("summary_zh") if language == "zh" and a.get("summary_zh") else a.get("summary", "")
    state = words["firing"] if alert.is_firing else words["resolved"]
    head = f"- {style.bold}{state} · {words['levels'].get(level, level)}{style.bold} · {where}: {summary}"
    facts = []
    for key in ("score", "threshold", "observed", "expected", "detector"):
        value = a.get(f"{key}_zh") if language == "zh" and a.get(f"{key}_zh") else a.get(key)
        if value:
            facts.append(f"{words[key]} {value}")
    drivers = a.get("drivers_zh") if language == "zh" and a.get("drivers_zh") else a.get("drivers")
    lines = [head]
    if facts:
        lines.append("  " + " · ".join(facts))
    if drivers:
        lines.append(f"  {words['drivers']}: {drivers}")
    when = []
    for key in ("data_period", "vintage"):
        if a.get(key):
            when.append(f"{words[key]} {a[key]}")
    when.append(f"{words['since']} {alert.starts_at.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC")
    if alert.ends_at is not None:
        when.append(f"{words['ended']} {alert.ends_at.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC")
    lines.append("  " + " · ".join(when))
    return "\n".join(lines)


def render_text(
    alerts: Sequence[Alert],
    group_labels: Mapping[str, str],
    language: str,
    report_url: str,
    max_bytes: int,
    style: Style = MARKDOWN,
    with_title: bool = True,
) -> str:
    """Title, one block per alert and the report link, in at most ``max_bytes`` of UTF-8.

    Alerts that do not fit are left out with a note naming how many; a single
    block too long on its own is cut at a character boundary.
    """
    words = _WORDS[_check(language)]
    head = f"{style.bold}{style.escape(title(alerts, group_labels, language))}{style.bold}\n" if with_title else ""
    link = style.link.format(text=words["report"], url=report_url) if report_url else ""
    tail = f"\n{link}" if link else ""
    blocks = [alert_lines(a, language, style) for a in alerts]
    budget = max_bytes - _size(head) - _size(tail)
    kept: list[str] = []
    for i, block in enumerate(blocks):
        note = "\n" + words["omitted"].format(n=len(blocks) - i - 1) if i < len(blocks) - 1 else ""
        needed = _size("\n".join([*kept, block])) + _size("\n" + words["omitted"].format(n=len(blocks)))
        if needed <= budget or (i == len(blocks) - 1 and _size("\n".join([*kept, block])) <= budget):
            kept.append(block)
            continue
        if not kept:  # the first block alone is too long: cut it
            room = budget - _size(note) - _size("…")
            kept.append(_cut(block, max(room, 0)) + "…")
            kept.append(note.strip("\n"))
        else:
            kept.append(words["omitted"].format(n=len(blocks) - i))
        break
    text = head + "\n".join(kept) + tail
    return _cut(text, max_bytes)


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _cut(text: str, max_bytes: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode("utf-8", "ignore")


def _check(language: str) -> str:
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, got {language!r}")
    return language


def digest_text(texts: Sequence[str], language: str, max_bytes: int) -> str:
    """One message standing for several held back by a platform's rate limit (none is dropped).

    A heading naming how many, then every message in full when they fit in
    ``max_bytes``; else each message's first line (its title) while they fit, and a
    note on how many more the report holds.
    """
    words = _WORDS[_check(language)]
    head = words["digest"].format(n=len(texts))
    full = "\n\n".join([head, *texts])
    if _size(full) <= max_bytes:
        return full
    lines = [head]
    for i, text in enumerate(texts):
        first = text.strip().split("\n", 1)[0]
        note = words["digest_omitted"].format(n=len(texts) - i)
        if _size("\n".join([*lines, first, note])) > max_bytes:
            return _cut("\n".join([*lines, note]), max_bytes)
        lines.append(first)
    return _cut("\n".join([*lines, words["digest_omitted"].format(n=len(texts))]), max_bytes)
