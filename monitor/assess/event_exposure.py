"""What the event mapper needs of each node: its words and its exposure, from stored measures.

For every catalog node, a :class:`indicators.events.NodeProfile` with

- ``import_shares``: partner -> share of the home economy's imports of the node's HS
  codes over the twelve months up to ``as_of`` (USD values summed over codes and
  months; aggregate partners such as ``WORLD`` left out; source: the stored trade
  flows, newest vintage, reported over mirror as :func:`load_trade_flows` returns them);
- ``world_shares``: producer -> its share of world output in the latest year up to
  ``as_of`` of each of the node's ``world_supply`` stages (country output / the stored
  ``WORLD`` total, USGS MCS), the largest over the stages
  (:func:`monitor.assess.world_supply.world_shares`).

Nothing after ``as_of`` is read, so an event is judged with what was known on its day.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
from sqlalchemy.orm import Session

from indicators.events import NodeProfile
from indicators.vocabulary import AGGREGATE_PARTNERS, RESIDUAL_PARTNERS
from monitor.assess.inputs import world_supply_observations
from monitor.assess.world_supply import world_shares
from monitor.config.models import Catalog, Node
from monitor.store.observations import load_trade_flows

__all__ = ["node_profiles", "profile_of", "import_shares"]


def _year_before(as_of: date) -> date:
    months = as_of.year * 12 + as_of.month - 1 - 11
    return date(months // 12, months % 12 + 1, 1)


def import_shares(flows: pd.DataFrame) -> dict[str, float]:
    """Partner -> share of the summed import value (aggregates and residual areas left out)."""
    if flows.empty:
        return {}
    named = flows[~flows["partner"].astype(str).str.upper().isin(AGGREGATE_PARTNERS | RESIDUAL_PARTNERS)]
    totals = named.groupby("partner")["value"].sum()
    total = float(totals.sum())
    return {str(p): float(v) / total for p, v in totals.items() if total > 0 and v > 0}


def profile_of(chain: str, node: Node, imports: dict[str, float], world: dict[str, float]) -> NodeProfile:
    """The mapper's view of one catalog node."""
    return NodeProfile(chain, node.id, node.name.en, node.name.zh, tuple(node.hs_codes),
                       tuple(node.keywords.en), tuple(node.keywords.zh), imports, world)


def node_profiles(catalog: Catalog, session: Session | None = None, as_of: date | None = None,
                  only: set[str] | None = None) -> list[NodeProfile]:
    """Every node's profile; without a session (or ``as_of``) the exposures are empty (unknown).

    ``only`` (``chain/node`` keys) limits the measuring to those nodes (the others keep
    empty exposures), so a run with a few matched events reads a few nodes' data.
    """
    profiles = []
    for chain in catalog.chains:
        for node in chain.nodes:
            imports: dict[str, float] = {}
            world: dict[str, float] = {}
            wanted = only is None or f"{chain.id}/{node.id}" in only
            if session is not None and as_of is not None and wanted:
                flows = load_trade_flows(session, catalog.home, node.hs_codes, "M", _year_before(as_of), as_of)
                imports = import_shares(flows)
                stems = [stage.series for stage in node.world_supply]
                world, _ = world_shares(world_supply_observations(session, stems, as_of))
            profiles.append(profile_of(chain.id, node, imports, world))
    return profiles
