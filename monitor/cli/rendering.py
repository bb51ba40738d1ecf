"""Turning an assessment into the CLI's JSON document or terminal table."""

from __future__ import annotations

from collections.abc import Sequence

from alerts.model import Alert
from monitor.assess.assessment import AssessmentResult, Judgement


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


def _score_cells(j: Judgement) -> str:
    score = "-" if j.score is None else f"{j.score:.0f}"
    change = "new" if j.previous_level is None else ("" if j.score_change is None else f"{j.score_change:+.0f}")
    return f"{score:>5} {change:>6}  {j.level:<7} {j.completeness:>4.0%}"


_LEVEL_MARK = {"none": "  ", "blue": "B ", "yellow": "Y ", "orange": "O ", "red": "R ", "unknown": "? "}


def assessment_table(result: AssessmentResult, alerts: Sequence[Alert], simulated: bool) -> str:
    """A readable terminal table: chains, their nodes, the top driver, then alerts."""
    lines = []
    as_of = result.as_of.strftime("%Y-%m") if result.as_of else "no data"
    header = f"chainwatch assessment #{result.run_id}, data up to {as_of}"
    if simulated:
        header += "  (SIMULATED DEMO DATA)"
    lines += [header, ""]
    lines.append(f"{'chain / node':<44} {'score':>5} {'change':>6}  {'level':<7} {'data':>4}  top driver")
    lines.append("-" * 120)
    for chain in result.chains:
        lines.append(f"{chain.name_en[:44]:<44} {_score_cells(chain.judgement)}")
        for node in chain.nodes:
            driver = node.drivers[0] if node.drivers else ""
            lines.append(f"  {_LEVEL_MARK[node.level]}{node.name_en[:40]:<40} {_score_cells(node.judgement)}  {driver[:80]}")
    lines.append("")
    firing = [a for a in alerts if a.state == "firing"]
    lines.append(f"alerts: {len(firing)} firing, {len(alerts) - len(firing)} resolved this run")
    for alert in alerts:
        lines.append(f"  [{alert.labels['severity']:<8}] {alert.state:<8} {alert.annotations.get('summary', '')}")
    return "\n".join(lines)
