"""The stress-test result as a terminal table (rich, fitted to the width like every table).

Built from a :class:`monitor.stress.runs.ScenarioOutcome`; the JSON output
(:func:`monitor.stress.runs.scenario_document`) keeps the ids, this table names chains,
nodes and paths for people.
"""

from __future__ import annotations

from rich.text import Text

from monitor.cli.terminal import Layouts, level_text, new_table, render
from monitor.config.models import Catalog
from monitor.stress.runs import ScenarioOutcome, catalog_names
from monitor.stress.usd import format_usd

_KEY = ("impact in / recovered: months from the scenario start; recovered 'no' = still short at the end of "
        "the horizon. TTS/TTR: time to survive / to recover (months, >H = beyond the horizon); value at risk: "
        "shortfall-months x normal monthly demand at import prices (USD)")


def _months(value: int | None, never: str) -> str:
    return never if value is None else str(value)


def scenario_table(outcome: ScenarioOutcome, catalog: Catalog | None = None, wide: bool = False,
                   width: int | None = None) -> str:
    """A scenario's results fitted to ``width`` (default: the terminal's): per touched chain its
    impact line and a node table (chains, nodes and paths by name when ``catalog`` is given),
    the key, then the sensitivity table."""
    names = {key: name.en for key, name in catalog_names(catalog).items()}
    scenario = outcome.scenario
    parts: list = [(f"Scenario {scenario.id}: {scenario.name.en} ({scenario.horizon_months} months, "
                    f"baseline: imports up to {outcome.as_of:%Y-%m})"
                    + ("  (SIMULATED DEMO DATA)" if outcome.simulated else ""))]
    if not outcome.chains:
        parts.append("  no chain is touched by this scenario's shocks")
    right = {"justify": "right"}
    for chain in outcome.chains:
        impact = ("no shortfall within the horizon" if chain.time_to_impact_months is None
                  else f"first shortfall after {chain.time_to_impact_months} month(s)")
        line = Text(f"{names.get(chain.chain, chain.chain)}", style="bold")
        line.append(f": impact {chain.impact_score:.1f}/100, level ")
        line.append_text(level_text(chain.level))
        line.append(f", {impact}, value at risk {format_usd(chain.value_at_risk_usd)}")
        table = new_table(["node", ("impact in", right), ("peak short", right), ("recovered", right),
                           ("TTS", right), ("TTR", right), ("value at risk", right), "path"], wide=wide)
        narrow = new_table(["node / path", ("impact in / peak short", right), ("recovered / TTS / TTR", right),
                            ("value at risk", right)], wide=wide)
        for node in chain.nodes.values():
            label = names.get(f"{chain.chain}/{node.node}", node.node)
            upstream = " <- ".join(names.get(step, step) for step in node.path[1:])
            path = f"{label} <- {upstream}" if upstream else ""
            cells = (_months(node.time_to_impact_months, "-"), f"{node.peak_shortfall:.1%}",
                     _months(node.months_to_recovery, "no"), _months(node.time_to_survive_months, ">H"),
                     _months(node.time_to_recover_months, ">H"), format_usd(node.value_at_risk_usd))
            table.add_row(label, *cells, path)
            narrow.add_row(f"{label}\n<- {upstream}" if upstream else label, f"{cells[0]} / {cells[1]}",
                           " / ".join(cells[2:5]), cells[5])
        parts += ["", line, Layouts(table, narrow)]
    parts += ["", _KEY]
    if outcome.sensitivity:
        parts += ["", f"Sensitivity of the total value at risk ({format_usd(outcome.value_at_risk_usd)}) "
                      "to each assumption at -50% / +50%:"]
        sensitivity = new_table(["assumption", ("-50%", right), ("+50%", right), ("swing", right)], wide=wide)
        for row in outcome.sensitivity:
            sensitivity.add_row(row["assumption"], format_usd(row["low"]), format_usd(row["high"]),
                                format_usd(row["swing"]))
        parts.append(sensitivity)
    return render(*parts, wide=wide, width=width)
