"""Turning an assessment into the CLI's JSON document or terminal table."""

from __future__ import annotations

from collections.abc import Sequence

from alerts.model import Alert
from monitor.assessment import AssessmentResult


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def assessment_document(result: AssessmentResult, alerts: Sequence[Alert], simulated: bool) -> dict:
    """The JSON document of ``chainwatch assess --format json`` (DESIGN.md contract).

    Beyond the contract's keys it carries ``name_zh``, node ``name`` and
    ``dimensions`` and a top-level ``simulated_data`` flag; consumers of the
    contract's keys are unaffected.
    """
    return {
        "run_id": result.run_id,
        "as_of": result.as_of.strftime("%Y-%m") if result.as_of else None,
        "simulated_data": simulated,
        "chains": [
            {
                "id": chain.chain, "name": chain.name_en, "name_zh": chain.name_zh,
                "score": _round(chain.score), "level": chain.level,
                "nodes": [
                    {
                        "id": node.node, "name": node.name_en, "name_zh": node.name_zh,
                        "score": _round(node.score), "level": node.level,
                        "dimensions": {k: _round(v) for k, v in node.dimensions.items()},
                        "drivers": node.drivers,
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


_LEVEL_MARK = {"none": "  ", "blue": "B ", "yellow": "Y ", "orange": "O ", "red": "R "}


def assessment_table(result: AssessmentResult, alerts: Sequence[Alert], simulated: bool) -> str:
    """A readable terminal table: chains, their nodes, the top driver, then alerts."""
    lines = []
    as_of = result.as_of.strftime("%Y-%m") if result.as_of else "no data"
    header = f"chainwatch assessment #{result.run_id}, data up to {as_of}"
    if simulated:
        header += "  (SIMULATED DEMO DATA)"
    lines += [header, ""]
    lines.append(f"{'chain / node':<44} {'score':>5}  {'level':<7} top driver")
    lines.append("-" * 110)
    for chain in result.chains:
        score = "-" if chain.score is None else f"{chain.score:.0f}"
        lines.append(f"{chain.name_en[:44]:<44} {score:>5}  {chain.level:<7}")
        for node in chain.nodes:
            score = "-" if node.score is None else f"{node.score:.0f}"
            driver = node.drivers[0] if node.drivers else ""
            lines.append(f"  {_LEVEL_MARK[node.level]}{node.name_en[:38]:<40} {score:>5}  {node.level:<7} {driver[:90]}")
    lines.append("")
    firing = [a for a in alerts if a.state == "firing"]
    lines.append(f"alerts: {len(firing)} firing, {len(alerts) - len(firing)} resolved this run")
    for alert in alerts:
        lines.append(f"  [{alert.labels['severity']:<8}] {alert.state:<8} {alert.annotations.get('summary', '')}")
    return "\n".join(lines)
