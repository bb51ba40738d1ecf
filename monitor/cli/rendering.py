"""Turning an assessment into the CLI's JSON document or terminal table."""

from __future__ import annotations

from collections.abc import Sequence

from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from alerts.model import Alert
from monitor.assess.assessment import AssessmentResult, Judgement
from monitor.cli.terminal import level_text, new_table, render


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _judgement_fields(j: Judgement) -> dict:
    return {
        "raw_level": j.raw_level, "completeness": round(j.completeness, 3),
        "previous_score": _round(j.previous_score), "previous_level": j.previous_level,
        "score_change": _round(j.score_change),
    }


def assessment_document(result: AssessmentResult, alerts: Sequence[Alert], simulated: bool) -> dict:
    """The JSON document of ``chainwatch assess --format json`` (contract in docs/cli.md).

    Beyond the contract's keys it carries ``name_zh``, node ``name``,
    ``dimensions``, ``drivers_zh``, the level before hysteresis (``raw_level``), data
    ``completeness`` (0-1), the change since the previous run and a top-level
    ``simulated_data`` flag; consumers of the contract's keys are unaffected.
    """
    return {
        "run_id": result.run_id,
        "as_of": result.as_of.strftime("%Y-%m") if result.as_of else None,
        "simulated_data": simulated,
        "chains": [
            {
                "id": chain.chain, "name": chain.name_en, "name_zh": chain.name_zh,
                "score": _round(chain.score), "level": chain.level, **_judgement_fields(chain.judgement),
                "nodes": [
                    {
                        "id": node.node, "name": node.name_en, "name_zh": node.name_zh,
                        "score": _round(node.score), "level": node.level,
                        **_judgement_fields(node.judgement), "own_score": _round(node.own_score),
                        "dimensions": {k: _round(v) for k, v in node.dimensions.items()},
                        "drivers": node.drivers, "drivers_zh": node.drivers_zh,
                    }
                    for node in chain.nodes
                ],
            }
            for chain in result.chains
        ],
        "alerts": [
            {
                "fingerprint": a.fingerprint, "chain": a.labels["chain"], "node": a.labels["node"],
                "kind": a.labels["kind"], "severity": a.labels["severity"], "state": a.state,
                "summary": a.annotations.get("summary", ""),
            }
            for a in alerts
        ],
    }


def _score_cells(j: Judgement) -> list:
    score = "-" if j.score is None else f"{j.score:.0f}"
    change = "new" if j.previous_level is None else ("" if j.score_change is None else f"{j.score_change:+.0f}")
    return [score, change, level_text(j.level), f"{j.completeness:.0%}"]


def alert_level(alert: Alert) -> str:
    """The alert's early-warning level (orange and red share a severity; the level tells them apart)."""
    return alert.labels.get("level") or alert.annotations.get("level") or alert.labels.get("severity", "")


def alert_reason(alert: Alert) -> str:
    """Why the alert fired, in one phrase: its first driver, else its description when it adds to the summary."""
    drivers = alert.annotations.get("drivers", "")
    if drivers:
        return drivers.split("; ")[0]
    description = alert.annotations.get("description", "")
    return "" if description == alert.annotations.get("summary", "") else description


def alerts_table(alerts: Sequence[Alert], wide: bool = False) -> Table:
    """Alerts as rows: level (coloured), state, summary and reason."""
    table = new_table(["level", "state", "alert", "reason"], wide=wide)
    for alert in alerts:
        table.add_row(level_text(alert_level(alert)), alert.state, alert.annotations.get("summary", ""),
                      alert_reason(alert))
    return table


def assessment_table(result: AssessmentResult, alerts: Sequence[Alert], simulated: bool, wide: bool = False,
                     width: int | None = None) -> str:
    """A terminal table fitted to ``width`` (default: the terminal's): chains, their nodes and each node's
    top driver, then the alerts with level and reason, then a one-line summary."""
    as_of = result.as_of.strftime("%Y-%m") if result.as_of else "no data"
    header = f"chainwatch assessment #{result.run_id}, data up to {as_of}"
    if simulated:
        header += "  (SIMULATED DEMO DATA)"
    table = new_table([("chain / node", {"ratio": 2, "min_width": 16}), ("score", {"justify": "right"}),
                       ("change", {"justify": "right"}), "level", ("data", {"justify": "right"}),
                       ("top driver", {"ratio": 3, "min_width": 20})], wide=wide)
    for chain in result.chains:
        table.add_row(Text(chain.name_en, style="bold"), *_score_cells(chain.judgement), "")
        for node in chain.nodes:
            table.add_row(Padding(node.name_en, (0, 0, 0, 2)), *_score_cells(node.judgement), node.drivers[0] if node.drivers else "")
    firing = [a for a in alerts if a.state == "firing"]
    nodes = [node for chain in result.chains for node in chain.nodes]
    at_risk = sum(node.level in ("orange", "red") for node in nodes)
    summary = (f"{len(result.chains)} chains, {len(nodes)} nodes, {at_risk} at orange or red; "
               f"{len(firing)} alert(s) firing, {len(alerts) - len(firing)} resolved this run")
    parts: list = [header, "", table, ""]
    if alerts:
        parts += [alerts_table(alerts, wide=wide), ""]
    return render(*parts, summary, wide=wide, width=width)
