"""Supply-shock stress tests of one chain (常态化压力测试): month by month, propagated downstream.

Pure computation, no I/O. The caller supplies, per node, the normal monthly import
volume by (partner, product) (the trailing-window average of observed imports), the
node's buffers and supply structure (:class:`NodeBuffers`), the chain graph
(``depends_on``) and the shocks; :func:`simulate_chain` returns per node and month
the shortfall and the inventory left, per node the time to impact, peak shortfall
and months to recovery, and per chain an impact score and early-warning level.

Units
-----
Every volume is expressed as a share of the node's **normal monthly demand**
:math:`D = 1` (normal demand = normal supply = domestic production + imports, at
the baseline's prices), so shortfalls are ratios in [0, 1]. Inventory is entered in
days of normal use and converted with 365/12 days per month. Months are counted from
the start of the scenario: month 1 is the first simulated month.

Model (per node :math:`n`, month :math:`t = 1 \\dots H`)
---------------------------------------------------------
With :math:`d` the domestic share of normal supply, :math:`x_k = (1-d)\\,m_k/\\sum m`
the normal share of demand met by import flow :math:`k` (a partner and a product),
shock cut shares :math:`c \\in [0, 1]` combined multiplicatively when shocks overlap
(:math:`1 - \\prod_i (1 - c_i)`):

.. math::

    e_k(t) &= \\text{export cut on flow } k, \\quad
    \\ell(t) = \\text{logistics cut on the node's imports}, \\quad
    p(t) = \\text{domestic production cut} \\\\
    L_{exp}(t) &= \\sum_k x_k\\,(1-\\ell(t))\\,e_k(t), \\qquad L_{log}(t) = (1-d)\\,\\ell(t) \\\\
    R(t) &= \\min\\bigl(\\rho(t)\\,L_{exp}(t),\\; a\\,(1-\\ell(t)) \\sum_{k: e_k(t)=0} x_k\\bigr),
    \\qquad \\rho(t) = \\min(1, r\\,(t - t_0)) \\\\
    U(t) &= w \\max_{u \\in dep(n)} S_u(t), \\qquad
    Q_{loss}(t) = d\\,\\bigl(1 - (1-p(t))(1-U(t))\\bigr) \\\\
    G(t) &= (1-s)\\,\\max\\bigl(0,\\; Q_{loss}(t) + L_{exp}(t) + L_{log}(t) - R(t)\\bigr) \\\\
    I(0) &= \\text{inventory\\_days} \\cdot 12/365, \\quad
    S(t) = G(t) - \\min(I(t-1), G(t)), \\quad I(t) = I(t-1) - \\min(I(t-1), G(t))

:math:`R` is what alternative suppliers replace: a share of the export-shock loss
that grows by :math:`r` (``ramp_up_share_per_month``) each month after the first
month :math:`t_0` with such a loss, capped by the partners *not* under an export
shock shipping at most :math:`a` (``alternative_capacity``) times their observed
volume more. A logistics shock (ports, shipping) hits every partner alike, so its
loss is not replaceable. :math:`U` is the upstream loss: a node's domestic
production needs its inputs, so the worst shortfall among the nodes it depends on,
times its ``input_dependence`` :math:`w`, cuts its domestic output (Leontief: the
scarcest input binds). :math:`s` (``substitution_share``) of any gap is met by
substitutes; inventory covers what is left until it runs out; :math:`S(t)` is the
shortfall. Inventory is not rebuilt within the horizon, and delayed shipments are
treated as lost (no catch-up): both make the result conservative.

A node without observed imports (none, or all zero) is treated as fully domestic
(:math:`d = 1`): only production shocks and its inputs can hit it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from indicators.scoring import DEFAULT_LEVEL_THRESHOLDS, chain_score, level_for, upstream_first

__all__ = [
    "DAYS_PER_MONTH",
    "ChainStressResult",
    "NodeBaseline",
    "NodeBuffers",
    "NodeStressResult",
    "Shock",
    "ShockKind",
    "simulate_chain",
]

DAYS_PER_MONTH = 365.0 / 12.0
"""Days of use in one month of normal demand (365/12 ≈ 30.42)."""

#: A shortfall at or below this (share of normal demand) counts as none (rounding).
IMPACT_TOLERANCE = 1e-9

ShockKind = Literal["export_cut", "production_drop", "logistics"]


@dataclass(frozen=True)
class Shock:
    """One supply shock on one chain.

    Parameters
    ----------
    kind
        ``export_cut``: ``partner`` cuts its exports of the matching flows;
        ``production_drop``: the nodes' domestic production falls;
        ``logistics``: all imports of the nodes are reduced (ports, shipping).
    cut_share
        Share of the affected volume lost, in [0, 1] (1 = embargo / full stop).
    start_month
        First month the shock is in force, >= 1.
    months
        How many months it lasts, >= 1 (months ``start_month`` … ``start_month + months - 1``).
    partner
        Exporting country (``export_cut`` only).
    nodes
        Node ids it hits; None = every node of the chain.
    products
        HS codes it hits (``export_cut`` only): a flow matches when its product code
        starts with one of them (``"8105"`` covers ``"810520"``); None = all products.
    """

    kind: ShockKind
    cut_share: float
    start_month: int = 1
    months: int = 1
    partner: str | None = None
    nodes: frozenset[str] | None = None
    products: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("export_cut", "production_drop", "logistics"):
            raise ValueError(f"kind must be export_cut, production_drop or logistics, got {self.kind!r}")
        if not 0.0 <= float(self.cut_share) <= 1.0:
            raise ValueError(f"cut_share must lie in [0, 1], got {self.cut_share!r}")
        if int(self.start_month) < 1:
            raise ValueError(f"start_month must be >= 1, got {self.start_month!r}")
        if int(self.months) < 1:
            raise ValueError(f"months must be >= 1, got {self.months!r}")
        if self.kind == "export_cut" and not self.partner:
            raise ValueError("an export_cut shock needs a partner")

    def active(self, horizon: int) -> np.ndarray:
        """Boolean array over months 1 … ``horizon``: is the shock in force?"""
        month = np.arange(1, horizon + 1)
        return (month >= self.start_month) & (month < self.start_month + self.months)

    def hits_node(self, node: str) -> bool:
        """Whether the shock applies to ``node``."""
        return self.nodes is None or node in self.nodes

    def hits_product(self, product: str) -> bool:
        """Whether the shock applies to flows of ``product``."""
        return self.products is None or any(product.startswith(code) for code in self.products)


@dataclass(frozen=True)
class NodeBaseline:
    """A node's normal supply, from the latest observed data.

    Parameters
    ----------
    node
        Node id.
    imports
        (partner, product) → normal monthly import volume, e.g. the trailing 12-month
        average import value in USD/month. Only ratios matter. Empty = no import data.
    depends_on
        Node ids (same chain) whose output this node consumes.
    criticality
        Weight of the node in the chain impact score, (0, 1].
    """

    node: str
    imports: Mapping[tuple[str, str], float] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    criticality: float = 1.0


@dataclass(frozen=True)
class NodeBuffers:
    """A node's buffers and supply structure (assumptions of the scenario).

    Parameters
    ----------
    inventory_days
        Stock held, in days of normal use (>= 0).
    ramp_up_share_per_month
        Share of the export-shock loss alternative suppliers add each month, in [0, 1].
    alternative_capacity
        How much more the unaffected partners can ship, as a multiple of their observed
        volume (>= 0; 1 = they can at most double their shipments).
    substitution_share
        Share of any gap met by substitute products or materials, in [0, 1].
    domestic_share
        Share of normal supply produced at home, in [0, 1]; the rest is imported.
    input_dependence
        Share of domestic production that stops when its inputs are short, in [0, 1].
    """

    inventory_days: float = 0.0
    ramp_up_share_per_month: float = 0.0
    alternative_capacity: float = 1.0
    substitution_share: float = 0.0
    domestic_share: float = 0.0
    input_dependence: float = 1.0

    def __post_init__(self) -> None:
        for name in ("ramp_up_share_per_month", "substitution_share", "domestic_share", "input_dependence"):
            value = float(getattr(self, name))
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
        for name in ("inventory_days", "alternative_capacity"):
            value = float(getattr(self, name))
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


@dataclass(frozen=True)
class NodeStressResult:
    """One node's path through the scenario (arrays over months 1 … H, shares of normal demand).

    Attributes
    ----------
    shortfall
        :math:`S(t)`, demand not met, in [0, 1].
    inventory_days
        Stock left at the end of each month, in days of normal use.
    import_loss, replacement, domestic_loss
        :math:`L_{exp} + L_{log}`, :math:`R` and :math:`Q_{loss}` of each month.
    time_to_impact_months
        Whole months the node gets through before its first shortfall (0 = short in
        month 1); None if it is never short within the horizon.
    peak_shortfall
        :math:`\\max_t S(t)`, in [0, 1].
    months_to_recovery
        Months from the scenario start until the shortfall ends (the last month with
        a shortfall); 0 if never short; None if still short at the end of the horizon.
    impact_score
        :math:`100 \\cdot` ``peak_shortfall``, 0-100.
    """

    node: str
    shortfall: np.ndarray
    inventory_days: np.ndarray
    import_loss: np.ndarray
    replacement: np.ndarray
    domestic_loss: np.ndarray
    time_to_impact_months: int | None
    peak_shortfall: float
    months_to_recovery: int | None
    impact_score: float


@dataclass(frozen=True)
class ChainStressResult:
    """A chain's result: its nodes' paths, impact score (0-100) and level."""

    chain: str
    horizon_months: int
    nodes: dict[str, NodeStressResult]
    impact_score: float
    level: str
    time_to_impact_months: int | None
    """Earliest time to impact among the nodes; None if no node is ever short."""


def _combined_cut(cuts: list[np.ndarray], horizon: int) -> np.ndarray:
    """:math:`1 - \\prod_i (1 - c_i(t))` over the shocks in force, per month."""
    keep = np.ones(horizon)
    for cut in cuts:
        keep = keep * (1.0 - cut)
    return 1.0 - keep


def _topological(baselines: Mapping[str, NodeBaseline]) -> list[str]:
    """Node ids, each after the nodes it depends on."""
    for node, base in baselines.items():
        for upstream in base.depends_on:
            if upstream not in baselines:
                raise ValueError(f"node {node!r} depends on {upstream!r}, which has no baseline")
    return upstream_first({node: base.depends_on for node, base in baselines.items()})


def _summary(shortfall: np.ndarray) -> tuple[int | None, float, int | None]:
    short = np.flatnonzero(shortfall > IMPACT_TOLERANCE)
    if short.size == 0:
        return None, float(shortfall.max(initial=0.0)), 0
    first, last = int(short[0]), int(short[-1])
    recovery = None if last == shortfall.size - 1 else last + 1
    return first, float(shortfall.max()), recovery


def simulate_chain(
    chain: str,
    baselines: Sequence[NodeBaseline],
    shocks: Sequence[Shock],
    horizon_months: int,
    buffers: Mapping[str, NodeBuffers] | None = None,
    thresholds: Mapping[str, float] = DEFAULT_LEVEL_THRESHOLDS,
) -> ChainStressResult:
    """Simulate a chain month by month under ``shocks`` (see the module docstring for the model).

    Parameters
    ----------
    chain
        Chain id (copied to the result).
    baselines
        One :class:`NodeBaseline` per node of the chain; ``depends_on`` must name
        nodes among them and form a DAG.
    shocks
        The scenario's shocks on this chain (any number; overlapping cuts combine as
        :math:`1 - \\prod (1 - c_i)`).
    horizon_months
        Months simulated, >= 1.
    buffers
        Node id → :class:`NodeBuffers`; nodes absent get ``NodeBuffers()`` (no stock,
        no ramp-up, fully imported).
    thresholds
        Early-warning level thresholds on the 0-100 score (:func:`indicators.scoring.level_for`).

    Returns
    -------
    ChainStressResult
        Per node the monthly shortfall and stock; per chain
        :math:`S_{chain} = ` :func:`indicators.scoring.chain_score` of the node impact
        scores :math:`100 \\max_t S_n(t)` with the nodes' criticality weights (the
        criticality-weighted mean, or the weakest-link term when a critical node is
        hit hard), and its level.

    Raises
    ------
    ValueError
        If ``horizon_months`` < 1, node ids repeat, a dependency is unknown or cyclic,
        or an import volume is negative or not finite.
    """
    horizon = int(horizon_months)
    if horizon < 1:
        raise ValueError(f"horizon_months must be >= 1, got {horizon_months!r}")
    by_node: dict[str, NodeBaseline] = {}
    for base in baselines:
        if base.node in by_node:
            raise ValueError(f"baselines: node {base.node!r} appears twice")
        by_node[base.node] = base
    buffers = buffers or {}
    results: dict[str, NodeStressResult] = {}
    active = [shock.active(horizon) * float(shock.cut_share) for shock in shocks]
    month = np.arange(1, horizon + 1)

    for node in _topological(by_node):
        base = by_node[node]
        buf = buffers.get(node, NodeBuffers())
        flows = [(partner, product, float(volume)) for (partner, product), volume in base.imports.items()]
        if any(not np.isfinite(v) or v < 0 for _, _, v in flows):
            raise ValueError(f"node {node!r}: import volumes must be finite and >= 0")
        total = sum(v for _, _, v in flows)
        if total <= 0:
            flows = []  # no observed imports (or only zeros): the node counts as fully domestic
        domestic = buf.domestic_share if total > 0 else 1.0
        shares = np.array([(1.0 - domestic) * v / total for _, _, v in flows]) if total > 0 else np.zeros(0)

        logistics = _combined_cut([cut for shock, cut in zip(shocks, active)
                                   if shock.kind == "logistics" and shock.hits_node(node)], horizon)
        production = _combined_cut([cut for shock, cut in zip(shocks, active)
                                    if shock.kind == "production_drop" and shock.hits_node(node)], horizon)
        # export cut per flow and month: shape (flows, months)
        export = np.zeros((len(flows), horizon))
        for i, (partner, product, _) in enumerate(flows):
            export[i] = _combined_cut([
                cut for shock, cut in zip(shocks, active)
                if shock.kind == "export_cut" and shock.partner == partner and shock.hits_node(node)
                and shock.hits_product(product)], horizon)

        export_loss = (shares[:, None] * export).sum(axis=0) * (1.0 - logistics) if len(flows) else np.zeros(horizon)
        logistics_loss = (1.0 - domestic) * logistics if total > 0 else np.zeros(horizon)
        hit = np.flatnonzero(export_loss > 0)
        ramp = np.zeros(horizon)
        if hit.size:
            first = int(month[hit[0]])
            ramp = np.clip(buf.ramp_up_share_per_month * (month - first), 0.0, 1.0)
        spare = ((shares[:, None] * (export == 0)).sum(axis=0) if len(flows) else np.zeros(horizon))
        capacity = buf.alternative_capacity * (1.0 - logistics) * spare
        replacement = np.minimum(ramp * export_loss, capacity)

        upstream = np.zeros(horizon)
        for dep in base.depends_on:
            upstream = np.maximum(upstream, results[dep].shortfall)
        upstream = buf.input_dependence * upstream
        domestic_loss = domestic * (1.0 - (1.0 - production) * (1.0 - upstream))

        gap = (1.0 - buf.substitution_share) * np.clip(
            domestic_loss + export_loss + logistics_loss - replacement, 0.0, 1.0)
        stock = float(buf.inventory_days) / DAYS_PER_MONTH
        shortfall = np.zeros(horizon)
        stock_left = np.zeros(horizon)
        for t in range(horizon):
            used = min(stock, gap[t])
            stock -= used
            shortfall[t] = gap[t] - used
            stock_left[t] = stock * DAYS_PER_MONTH
        shortfall = np.clip(shortfall, 0.0, 1.0)
        first, peak, recovery = _summary(shortfall)
        results[node] = NodeStressResult(
            node=node, shortfall=shortfall, inventory_days=stock_left,
            import_loss=export_loss + logistics_loss, replacement=replacement, domestic_loss=domestic_loss,
            time_to_impact_months=first, peak_shortfall=peak, months_to_recovery=recovery,
            impact_score=100.0 * peak,
        )

    ordered = {base.node: results[base.node] for base in baselines}
    score = chain_score([r.impact_score for r in ordered.values()],
                        [by_node[n].criticality for n in ordered]) if ordered else None
    score = 0.0 if score is None else float(score)
    impacts = [r.time_to_impact_months for r in ordered.values() if r.time_to_impact_months is not None]
    return ChainStressResult(
        chain=chain, horizon_months=horizon, nodes=ordered, impact_score=score,
        level=level_for(score, thresholds), time_to_impact_months=min(impacts) if impacts else None,
    )
