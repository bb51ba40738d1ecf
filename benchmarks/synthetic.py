"""A synthetic national-scale catalog and its import flows, generated chunk by chunk.

``nodes`` nodes (split into ``chains`` chains), each with ``hs_per_node`` HS codes
imported from ``partners`` partners: ``nodes × hs_per_node × partners`` bilateral
monthly series over ``months`` months ending December 2025. Values are seasonal
log-normal noise around a per-series level (no trend, no breaks), except the
series listed in ``drops``, whose last month falls to a fifth of its level.
Deterministic for a given seed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from monitor.records import CollectedBatch
from monitor.config.models import Catalog

PARTNERS = ("AUS", "BRA", "CAN", "CHL", "DEU", "IDN", "JPN", "KOR", "USA", "ZAF")
HOME = "CHN"
LAST_MONTH = pd.Timestamp("2025-12-01")


@dataclass(frozen=True)
class SyntheticCatalog:
    """Sizes and seed of a synthetic catalog (see the module docstring)."""

    nodes: int = 1000
    hs_per_node: int = 20
    partners: int = 5
    months: int = 240
    chains: int = 20
    seed: int = 7
    drops: tuple[tuple[int, int, int], ...] = field(default=())
    """(node index, HS index, partner index) of series that drop in the last month."""

    @property
    def series(self) -> int:
        """Bilateral series in the catalog."""
        return self.nodes * self.hs_per_node * self.partners

    @property
    def rows(self) -> int:
        """Trade-flow rows the catalog's data holds."""
        return self.series * self.months

    def node_id(self, i: int) -> str:
        """Id of node ``i``."""
        return f"n{i:05d}"

    def hs_code(self, node: int, j: int) -> str:
        """The ``j``-th HS code of node ``node`` (6 digits, unique)."""
        return f"{100000 + node * self.hs_per_node + j}"

    def catalog(self) -> Catalog:
        """The validated catalog: chains of consecutive nodes, each depending on the one before."""
        per_chain = -(-self.nodes // self.chains)
        chains = []
        for c in range(self.chains):
            members = range(c * per_chain, min((c + 1) * per_chain, self.nodes))
            if not members:
                continue
            chains.append({
                "id": f"chain-{c:03d}", "name": {"en": f"Chain {c}", "zh": f"产业链 {c}"},
                "owner": {"name": "Chain chief"}, "lead_department": "MIIT",
                "nodes": [{
                    "id": self.node_id(i), "name": {"en": f"Node {i}", "zh": f"环节 {i}"},
                    "stage": ("upstream", "midstream", "downstream")[i % 3],
                    "criticality": 0.5 + 0.5 * (i % 2),
                    "hs_codes": [self.hs_code(i, j) for j in range(self.hs_per_node)],
                    "depends_on": [self.node_id(i - 1)] if i > members[0] and i % 4 else [],
                } for i in members],
            })
        return Catalog.model_validate({"home": HOME, "chains": chains})

    def flows(self, first_node: int, last_node: int) -> pd.DataFrame:
        """Trade-flow rows (``TRADE_FLOW_COLUMNS``) of nodes ``first_node`` ≤ i < ``last_node``."""
        nodes = np.arange(first_node, last_node)
        n_series = len(nodes) * self.hs_per_node * self.partners
        rng = np.random.default_rng([self.seed, first_node])
        months = pd.date_range(end=LAST_MONTH, periods=self.months, freq="MS")
        level = rng.lognormal(13.0, 1.0, n_series)[:, None]
        season = 1 + 0.15 * np.sin(2 * np.pi * (months.month.to_numpy() - rng.integers(0, 12, n_series)[:, None]) / 12)
        values = level * season * rng.lognormal(0.0, 0.08, (n_series, self.months))
        node_of = np.repeat(nodes, self.hs_per_node * self.partners)
        hs_of = np.tile(np.repeat(np.arange(self.hs_per_node), self.partners), len(nodes))
        partner_of = np.tile(np.arange(self.partners), len(nodes) * self.hs_per_node)
        for node, hs, partner in self.drops:
            hit = np.flatnonzero((node_of == node) & (hs_of == hs) & (partner_of == partner))
            values[hit, -1] *= 0.2
        products = np.array([self.hs_code(n, j) for n, j in zip(node_of, hs_of)], dtype=object)
        partners = np.array(PARTNERS[: self.partners], dtype=object)[partner_of]
        return pd.DataFrame({
            "reporter": HOME, "partner": np.repeat(partners, self.months),
            "product": np.repeat(products, self.months), "flow": "M",
            "period": np.tile(months.to_numpy(), n_series), "value": values.ravel(), "quantity": np.nan,
        })

    def batches(self, nodes_per_batch: int = 50, vintage: str = "v1") -> Iterator[CollectedBatch]:
        """The catalog's data as collected batches of ``nodes_per_batch`` nodes each."""
        for first in range(0, self.nodes, nodes_per_batch):
            yield CollectedBatch(source="synthetic", vintage=vintage,
                                 trade_flows=self.flows(first, min(first + nodes_per_batch, self.nodes)))
