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
The nodes form one network across chains (:class:`NodeSpec`, :class:`Input`): a
node consumes the output of its inputs, each with a share :math:`a_i` of its domestic
output that needs it and a lead time :math:`\\lambda_i` (months). With :math:`d` the
domestic share of normal supply, :math:`x_k = (1-d)\\,m_k/\\sum m` the normal share of
demand met by import flow :math:`k` (a partner and a product), shock cut shares
:math:`c \\in [0, 1]` combined multiplicatively when shocks overlap
(:math:`1 - \\prod_i (1 - c_i)`; after a shock, ``recovery_months`` let its cut fall
linearly to 0):

.. math::

    e_k(t) &= \\text{export cut on flow } k, \\quad
    \\ell(t) = \\text{logistics cut on the node's imports}, \\quad
    p(t) = \\text{domestic production cut} \\\\
    w_c(t) &= \\sum_{q} w_q\\, \\max_{k \\in q} e_k(t)
        \\quad \\text{(world share of the cut partners } q \\text{ at the node's stage)} \\\\
    L_{exp}(t) &= (1-\\ell(t)) \\max\\Bigl(\\sum_k x_k\\,e_k(t),\\; (1-d)\\,w_c(t)\\Bigr),
        \\qquad L_{log}(t) = (1-d)\\,\\ell(t) \\\\
    T(t) &= (1-d)(1-\\ell(t))\\,\\min\\bigl(1, \\Delta_{rem}(t)\\bigr)
        \\quad \\text{(lead time: } \\Delta \\text{ extra days} / 30.42 \\text{ months of goods at sea)} \\\\
    \\phi(t) &= \\begin{cases} 0 & \\text{if a cut partner holds } w_q \\ge 0.5 \\\\
        \\min\\bigl(1,\\; \\sigma\\,(1 - w_c(t)) / w_c(t)\\bigr) & \\text{otherwise} \\end{cases},
    \\qquad R(t) = \\rho(t)\\,\\phi(t)\\,L_{exp}(t), \\quad \\rho(t) = \\min(1, r\\,(t - t_0)) \\\\
    U(t) &= \\max_i a_i\\, \\tilde S_i(t - \\lambda_i), \\qquad
    \\tilde S_i = S_i \\text{ (consumable)}, \\quad
    \\tilde S_i(t) = \\min\\Bigl(1, \\tfrac{g}{12} \\sum_{\\tau \\le t} S_i(\\tau)\\Bigr) \\text{ (capacity)} \\\\
    Q_{loss}(t) &= d\\,\\bigl(1 - (1-p(t))(1-U(t))\\bigr) \\\\
    G(t) &= (1-s)\\,\\max\\bigl(0,\\; Q_{loss}(t) + L_{exp}(t) + L_{log}(t) + T(t) - R(t)\\bigr) \\\\
    I(0) &= \\text{inventory\\_days} \\cdot 12/365, \\quad
    S(t) = G(t) - \\min(I(t-1), G(t)), \\quad I(t) = I(t-1) - \\min(I(t-1), G(t))

Substitution (:math:`R`) is bounded by who can really supply: :math:`w_q` is partner
:math:`q`'s share of world supply at the node's stage (stored ``usgs.<code>.<stage>``
output of the node's ``world_supply`` stages, latest year, against the World total;
else the node's configured ``world_shares``); the world's other producers can add at
most :math:`\\sigma` (``spare_capacity``, share of their output) of their output, so
they replace at most :math:`\\sigma(1-w_c)/w_c` of what the cut removes, reached at
:math:`r` (``ramp_up_share_per_month``) per month from the first month :math:`t_0`
with a loss; a partner holding at least :data:`DOMINANT_WORLD_SHARE` (half) of world
supply cannot be replaced within the horizon (new mines, refineries and fabs take
years). A node without world shares falls back to the old rule: partners not under a
cut ship at most :math:`a` (``alternative_capacity``) times their volume more.
*World rationing*: when a stage loses :math:`w_c` of world supply, the other partners'
goods carry that stage too (dies fabbed in Taiwan and packaged in Malaysia), so the
node's imports lose at least :math:`(1-d)\\,w_c`. A logistics shock (ports, shipping)
hits every partner alike, so its loss is not replaceable; its ``lead_time_days``
:math:`\\Delta` delay the goods at sea when it starts (:math:`T`, spread over
:math:`\\lceil \\Delta/30.42 \\rceil` months; no catch-up counted).

:math:`U` is the upstream loss: a node's domestic production needs its inputs (any
chain), so the worst lagged shortfall among them, times its share, cuts its domestic
output (Leontief: the scarcest input binds). Inputs are *essential*: :math:`a_i` is the
part of output that cannot be made at all without input :math:`i`, however small the
input's value (a ~$1 microcontroller stops a whole vehicle), not its cost share; that
part loses :math:`S_i` of its output, the rest none. The largest
:math:`a_i \\tilde S_i` is exact when one input is short and a lower bound when several
are at once (the loss then lies between it and :math:`\\min(1, \\sum_i a_i \\tilde S_i)`).
``depends_on`` within a chain is an input
with share ``input_dependence`` and no lead time. A ``capacity`` input (equipment) is
not used up: a cut in its deliveries delays the capacity additions (and maintenance)
of its consumers, :math:`g` (``capacity_growth_per_year``) of their capacity per year
of deliveries, so the effect is lagged, cumulative and persists after the cut ends.
:math:`s` (``substitution_share``) of any gap is met by substitutes; inventory covers
what is left until it runs out; :math:`S(t)` is the shortfall. The part of the gap that
comes through inputs, :math:`(1-s)\\,d\\,U(t)\\,(1-p(t))`, can draw at most
:math:`a_{i^*}\\,I(0)` in all, :math:`i^*` the binding input: it hits only the goods that
need that input, so only their stock covers it (a precursor shortage empties the NCM
cathode stock, not the LFP one); the rest of the gap draws on whatever stock is left.
Inventory is not rebuilt within the horizon, and delayed shipments are treated as lost (no catch-up): both make
the result conservative.

Output at risk (comparable across scenarios)
--------------------------------------------
* value at risk :math:`VaR_n = V_n \\sum_t S_n(t)` in USD, with
  :math:`V_n = M_n / (1 - d_n)` the node's normal monthly demand at import prices
  (:math:`M_n`: trailing-window mean monthly import value, USD/month); 0 for a node
  without imports. A chain's VaR sums its nodes (a good counts at each stage it passes).
* time to survive, TTS (Simchi-Levi, Wang & Wei, 2014; Simchi-Levi et al., HBR 2015):
  months the node meets demand before its first shortfall;
* time to recover, TTR: months until the node's supply is whole again (last month
  with :math:`G > 0`); a node with TTS < TTR is exposed.

Sensitivity: :func:`sensitivity` multiplies each assumption of
:data:`SENSITIVITY_ASSUMPTIONS` by 0.5 and 1.5 everywhere and reports the headline (the
total VaR over all nodes) at each, largest swing first (a tornado table).

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
    "DOMINANT_WORLD_SHARE",
    "SENSITIVITY_ASSUMPTIONS",
    "ChainStressResult",
    "Input",
    "NodeSpec",
    "chain_result",
    "headline_value_at_risk",
    "sensitivity",
    "simulate_network",
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
    lead_time_days
        ``logistics`` only: extra transit time of every import while the shock lasts
        (days, e.g. 10-14 for the Red Sea → Cape of Good Hope detour); the goods at sea
        when it starts arrive that much later (:math:`T(t)` in the module docstring).
    recovery_months
        Months after the shock ends before supply is whole again: the cut falls
        linearly to 0 over them (restarting fabs and mines, refilling the pipeline:
        e.g. a wafer's ~3-month fab cycle). 0 = back at once.
    """

    kind: ShockKind
    cut_share: float
    start_month: int = 1
    months: int = 1
    partner: str | None = None
    nodes: frozenset[str] | None = None
    products: frozenset[str] | None = None
    lead_time_days: float = 0.0
    recovery_months: int = 0

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
        if not (np.isfinite(float(self.lead_time_days)) and 0.0 <= float(self.lead_time_days) <= 365.0):
            raise ValueError(f"lead_time_days must lie in [0, 365], got {self.lead_time_days!r}")
        if int(self.recovery_months) < 0:
            raise ValueError(f"recovery_months must be >= 0, got {self.recovery_months!r}")
        if self.lead_time_days and self.kind != "logistics":
            raise ValueError("only a logistics shock takes lead_time_days")

    def active(self, horizon: int) -> np.ndarray:
        """Weight over months 1 … ``horizon``: 1 while in force, then falling over ``recovery_months``."""
        month = np.arange(1, horizon + 1)
        weight = ((month >= self.start_month) & (month < self.start_month + self.months)).astype(float)
        n = int(self.recovery_months)
        if n:
            after = month - (self.start_month + self.months - 1)  # 1 = the first month after the shock
            ramp = (after >= 1) & (after <= n)
            weight[ramp] = 1.0 - after[ramp] / (n + 1.0)
        return weight

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
    kind
        ``consumable`` (used up in production: a cut is an immediate input shortfall
        downstream) or ``capacity`` (equipment: a cut delays capacity additions of the
        nodes that consume it, a lagged and persistent loss; see :math:`U_i` below).
    spare_capacity
        Spare capacity of the world's unaffected producers at the node's stage, as a
        share of their output they can add within the horizon, in [0, 1] (used with
        world shares; :math:`\\sigma` below).
    capacity_growth_per_year
        ``capacity`` nodes: share of the consuming node's capacity that a year of this
        node's normal deliveries adds or maintains, in [0, 1] (:math:`g` below).
    """

    inventory_days: float = 0.0
    ramp_up_share_per_month: float = 0.0
    alternative_capacity: float = 1.0
    substitution_share: float = 0.0
    domestic_share: float = 0.0
    input_dependence: float = 1.0
    kind: Literal["consumable", "capacity"] = "consumable"
    spare_capacity: float = 0.1
    capacity_growth_per_year: float = 0.15

    def __post_init__(self) -> None:
        if self.kind not in ("consumable", "capacity"):
            raise ValueError(f"kind must be consumable or capacity, got {self.kind!r}")
        for name in ("ramp_up_share_per_month", "substitution_share", "domestic_share", "input_dependence",
                     "spare_capacity", "capacity_growth_per_year"):
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
    lead_time_loss, upstream_loss
        :math:`T(t)` (imports delayed by longer transit) and :math:`U(t)` (share of
        domestic output lost to short inputs) of each month.
    value_at_risk_usd
        :math:`VaR = V \\sum_t S(t)`: shortfall-months times the node's normal monthly
        demand valued at import prices, :math:`V = M / (1 - d)` (USD; 0 without imports).
    time_to_survive_months
        Simchi-Levi's TTS: months the node meets demand (stock, alternatives,
        substitutes) before its first shortfall; None = beyond the horizon.
    time_to_recover_months
        Simchi-Levi's TTR: months from the start until the node's supply is whole again
        (the last month with a supply gap :math:`G(t) > 0`, before stock); 0 if never
        hit; None if still hit at the end of the horizon.
    path
        How the shortfall reached the node: keys from the node back to where the loss
        starts (``("ev", "ics")``: the node's loss comes through input ``ics``, whose
        loss is its own); ``(node,)`` for a direct hit; ``()`` if never hit.
    kind
        ``consumable`` or ``capacity`` (:class:`NodeBuffers`).
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
    lead_time_loss: np.ndarray | None = None
    upstream_loss: np.ndarray | None = None
    value_at_risk_usd: float = 0.0
    time_to_survive_months: int | None = None
    time_to_recover_months: int | None = 0
    path: tuple[str, ...] = ()
    kind: str = "consumable"


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
    value_at_risk_usd: float = 0.0
    """Sum of the nodes' value at risk (USD; a good is counted at each stage it passes)."""


def _combined_cut(cuts: list[np.ndarray], horizon: int) -> np.ndarray:
    """:math:`1 - \\prod_i (1 - c_i(t))` over the shocks in force, per month."""
    keep = np.ones(horizon)
    for cut in cuts:
        keep = keep * (1.0 - cut)
    return 1.0 - keep


def _summary(shortfall: np.ndarray) -> tuple[int | None, float, int | None]:
    short = np.flatnonzero(shortfall > IMPACT_TOLERANCE)
    if short.size == 0:
        return None, float(shortfall.max(initial=0.0)), 0
    first, last = int(short[0]), int(short[-1])
    recovery = None if last == shortfall.size - 1 else last + 1
    return first, float(shortfall.max()), recovery


#: A stage where one country holds at least this share of world supply cannot be
#: substituted within a stress horizon (new mines, refineries and fabs take years).
DOMINANT_WORLD_SHARE = 0.5


@dataclass(frozen=True)
class Input:
    """An edge of the supply network: the node consumes ``node``'s output.

    Parameters
    ----------
    node
        Key of the upstream node (any chain: ``chain/node`` in the catalog).
    share
        Share of the consuming node's domestic output that cannot be made without this
        input (an essential input, whatever its value), in [0, 1]: that share of output
        falls in proportion to the input's shortfall.
    lead_months
        Months between the input's shortfall and its effect on the consumer (its stock
        in transit and in process), >= 0.
    """

    node: str
    share: float = 1.0
    lead_months: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= float(self.share) <= 1.0:
            raise ValueError(f"input {self.node!r}: share must lie in [0, 1], got {self.share!r}")
        if int(self.lead_months) < 0:
            raise ValueError(f"input {self.node!r}: lead_months must be >= 0, got {self.lead_months!r}")


@dataclass(frozen=True)
class NodeSpec:
    """One node of the network the engine simulates.

    Parameters
    ----------
    key
        Node key (``chain/node`` in the catalog).
    imports
        (partner, product) → normal monthly import value (USD/month).
    inputs
        The nodes it consumes (:class:`Input`), any chain.
    criticality
        Weight in its chain's impact score, (0, 1].
    buffers
        Its buffers and supply structure.
    world_shares
        Producer (ISO3) → its share of world supply at the node's binding stage, in
        [0, 1] (stored USGS output, or configured); empty = unknown, then
        ``alternative_capacity`` bounds the replacement.
    """

    key: str
    imports: Mapping[tuple[str, str], float] = field(default_factory=dict)
    inputs: tuple[Input, ...] = ()
    criticality: float = 1.0
    buffers: NodeBuffers = field(default_factory=NodeBuffers)
    world_shares: Mapping[str, float] = field(default_factory=dict)


def _network_order(specs: Mapping[str, NodeSpec]) -> list[str]:
    for key, spec in specs.items():
        for inp in spec.inputs:
            if inp.node not in specs:
                raise ValueError(f"node {key!r} depends on {inp.node!r}, which has no baseline")
    return upstream_first({key: tuple(i.node for i in spec.inputs) for key, spec in specs.items()})


def _rows_by_partner(partners: list[str]) -> dict[str, list[int]]:
    rows: dict[str, list[int]] = {}
    for i, partner in enumerate(partners):
        rows.setdefault(partner, []).append(i)
    return rows


def _world_cut(spec: NodeSpec, export: np.ndarray, partners: list[str], horizon: int) -> np.ndarray:
    """:math:`w_c(t) = \\sum_p w_p\\,e_p(t)`: share of world supply at the node's stage cut off."""
    out = np.zeros(horizon)
    if not spec.world_shares:
        return out
    for partner, rows in _rows_by_partner(partners).items():
        out += float(spec.world_shares.get(partner, 0.0)) * export[rows].max(axis=0)
    return np.clip(out, 0.0, 1.0)


def _replaceable(spec: NodeSpec, export: np.ndarray, partners: list[str], horizon: int) -> np.ndarray | None:
    """:math:`\\phi(t)`, the share of the export-cut loss the world's other producers can replace.

    None when the node has no world shares (the caller falls back to ``alternative_capacity``).
    """
    if not spec.world_shares:
        return None
    phi = np.ones(horizon)
    cut_share = np.zeros(horizon)
    dominant = np.zeros(horizon, dtype=bool)
    for partner, rows in _rows_by_partner(partners).items():
        cut = export[rows].max(axis=0)
        share = float(spec.world_shares.get(partner, 0.0))
        cut_share += share * cut
        dominant |= (cut > 0) & (share >= DOMINANT_WORLD_SHARE)
    cut_share = np.clip(cut_share, 0.0, 1.0)
    lost = cut_share > IMPACT_TOLERANCE
    phi[lost] = np.minimum(1.0, spec.buffers.spare_capacity * (1.0 - cut_share[lost]) / cut_share[lost])
    phi[dominant] = 0.0
    return phi


def _lead_time_loss(shocks: Sequence[Shock], node: str, horizon: int, import_share: float,
                    logistics: np.ndarray) -> np.ndarray:
    """:math:`T(t)`: goods at sea when a longer route starts arrive ``lead_time_days`` later."""
    loss = np.zeros(horizon)
    for shock in shocks:
        if shock.kind != "logistics" or not shock.lead_time_days or not shock.hits_node(node):
            continue
        remaining = float(shock.lead_time_days) / DAYS_PER_MONTH  # months of imports delayed
        t = shock.start_month - 1
        while remaining > IMPACT_TOLERANCE and t < min(horizon, shock.start_month - 1 + shock.months):
            part = min(1.0, remaining)
            loss[t] += import_share * (1.0 - logistics[t]) * part
            remaining -= part
            t += 1
    return loss


def simulate_network(specs: Sequence[NodeSpec], shocks: Sequence[Shock], horizon_months: int
                     ) -> dict[str, NodeStressResult]:
    """Simulate every node of a supply network month by month (model in the module docstring).

    Nodes are simulated upstream first, so a shortfall propagates along ``inputs``
    with their shares and lead times, across chains. Shocks name nodes by key.

    Raises
    ------
    ValueError
        If ``horizon_months`` < 1, keys repeat, an input is unknown or cyclic, or an
        import value is negative or not finite.
    """
    horizon = int(horizon_months)
    if horizon < 1:
        raise ValueError(f"horizon_months must be >= 1, got {horizon_months!r}")
    by_key: dict[str, NodeSpec] = {}
    for spec in specs:
        if spec.key in by_key:
            raise ValueError(f"baselines: node {spec.key!r} appears twice")
        by_key[spec.key] = spec
    results: dict[str, NodeStressResult] = {}
    active = [shock.active(horizon) * float(shock.cut_share) for shock in shocks]
    month = np.arange(1, horizon + 1)

    for node in _network_order(by_key):
        spec = by_key[node]
        buf = spec.buffers
        volumes = np.fromiter(spec.imports.values(), dtype=float, count=len(spec.imports))
        if not (np.isfinite(volumes).all() and (volumes >= 0).all()):
            raise ValueError(f"node {node!r}: import volumes must be finite and >= 0")
        if not any(shock.hits_node(node) for shock in shocks) and \
                not any(results[inp.node].shortfall.any() for inp in spec.inputs):
            # nothing reaches this node (most nodes of most scenarios): skip the month loop
            results[node] = _untouched(node, buf, horizon)
            continue
        flows = [(partner, product, float(volume)) for (partner, product), volume in spec.imports.items()]
        total = float(volumes.sum())
        if total <= 0:
            flows = []  # no observed imports (or only zeros): the node counts as fully domestic
        domestic = buf.domestic_share if total > 0 else 1.0
        shares = np.array([(1.0 - domestic) * v / total for _, _, v in flows]) if total > 0 else np.zeros(0)

        logistics = _combined_cut([cut for shock, cut in zip(shocks, active)
                                   if shock.kind == "logistics" and shock.hits_node(node)], horizon)
        production = _combined_cut([cut for shock, cut in zip(shocks, active)
                                    if shock.kind == "production_drop" and shock.hits_node(node)], horizon)
        export = np.zeros((len(flows), horizon))
        cutting = [(shock, cut) for shock, cut in zip(shocks, active)
                   if shock.kind == "export_cut" and shock.hits_node(node)]
        if cutting:
            cache: dict[tuple, np.ndarray] = {}
            for i, (partner, product, _) in enumerate(flows):
                matched = tuple(j for j, (shock, _) in enumerate(cutting)
                                if shock.partner == partner and shock.hits_product(product))
                if matched:
                    if matched not in cache:
                        cache[matched] = _combined_cut([cutting[j][1] for j in matched], horizon)
                    export[i] = cache[matched]
        any_cut = bool(cutting) and bool(export.any())

        export_loss = (shares[:, None] * export).sum(axis=0) * (1.0 - logistics) if len(flows) else np.zeros(horizon)
        world_cut = _world_cut(spec, export, [p for p, _, _ in flows], horizon) if any_cut else np.zeros(horizon)
        # world rationing: the other partners' goods embody the cut stage too (dies fabbed in
        # the cut country, packaged elsewhere), so imports lose at least w_c of their volume
        export_loss = np.maximum(export_loss, (1.0 - domestic) * world_cut * (1.0 - logistics))
        logistics_loss = (1.0 - domestic) * logistics if total > 0 else np.zeros(horizon)
        lead_loss = _lead_time_loss(shocks, node, horizon, 1.0 - domestic, logistics) if total > 0 \
            else np.zeros(horizon)
        hit = np.flatnonzero(export_loss > 0)
        ramp = np.zeros(horizon)
        if hit.size:
            first = int(month[hit[0]])
            ramp = np.clip(buf.ramp_up_share_per_month * (month - first), 0.0, 1.0)
        phi = _replaceable(spec, export, [p for p, _, _ in flows], horizon) if any_cut else \
            (np.ones(horizon) if spec.world_shares else None)
        if phi is None:
            spare = ((shares[:, None] * (export == 0)).sum(axis=0) if len(flows) else np.zeros(horizon))
            capacity = buf.alternative_capacity * (1.0 - logistics) * spare
            replacement = np.minimum(ramp * export_loss, capacity)
        else:
            replacement = ramp * phi * export_loss

        upstream = np.zeros(horizon)
        segment = np.ones(horizon)  # share a_i of the binding input: the part of the node's goods it hits
        driver: str | None = None
        best = 0.0
        for inp in spec.inputs:
            up = results[inp.node]
            lag = int(inp.lead_months)
            source = up.shortfall
            if up.kind == "capacity":
                # lost deliveries of equipment: lost capacity additions, cumulative and persistent
                source = np.clip(by_key[inp.node].buffers.capacity_growth_per_year / 12.0 * np.cumsum(source),
                                 0.0, 1.0)
            delayed = np.zeros(horizon)
            if lag < horizon:
                delayed[lag:] = source[:horizon - lag]
            effect = float(inp.share) * delayed
            if effect.sum() > best + IMPACT_TOLERANCE:
                best, driver = float(effect.sum()), inp.node
            binding = effect > upstream + IMPACT_TOLERANCE
            segment[binding] = float(inp.share)
            upstream = np.maximum(upstream, effect)
        domestic_loss = domestic * (1.0 - (1.0 - production) * (1.0 - upstream))

        raw = np.clip(domestic_loss + export_loss + logistics_loss + lead_loss - replacement, 0.0, 1.0)
        gap = (1.0 - buf.substitution_share) * raw
        upstream_gap = np.minimum(gap, (1.0 - buf.substitution_share) * domestic * upstream * (1.0 - production))
        initial = float(buf.inventory_days) / DAYS_PER_MONTH
        stock, drawn_upstream = initial, 0.0
        shortfall = np.zeros(horizon)
        stock_left = np.zeros(horizon)
        for t in range(horizon):
            # a loss through an input hits only the goods that need it, so only their stock
            # (share a_i of the node's stock) can cover it: NCM cathode stock, not LFP's
            used_up = min(upstream_gap[t], stock, max(0.0, segment[t] * initial - drawn_upstream))
            drawn_upstream += used_up
            stock -= used_up
            used = min(stock, gap[t] - upstream_gap[t])
            stock -= used
            shortfall[t] = gap[t] - used_up - used
            stock_left[t] = stock * DAYS_PER_MONTH
        shortfall = np.clip(shortfall, 0.0, 1.0)
        first, peak, _ = _summary(shortfall)
        _, _, recovery = _summary(shortfall)
        hit_months = np.flatnonzero(gap > IMPACT_TOLERANCE)
        ttr = 0 if hit_months.size == 0 else (None if hit_months[-1] == horizon - 1 else int(hit_months[-1]) + 1)
        own = float((domestic * production + export_loss + logistics_loss + lead_loss).sum())
        if hit_months.size == 0:
            path: tuple[str, ...] = ()
        elif driver is not None and float((domestic * upstream).sum()) > own:
            path = (node, *results[driver].path) if results[driver].path else (node, driver)
        else:
            path = (node,)
        value = total / (1.0 - domestic) if total > 0 and domestic < 1.0 else 0.0
        results[node] = NodeStressResult(
            node=node, shortfall=shortfall, inventory_days=stock_left,
            import_loss=export_loss + logistics_loss + lead_loss, replacement=replacement,
            domestic_loss=domestic_loss, time_to_impact_months=first, peak_shortfall=peak,
            months_to_recovery=recovery, impact_score=100.0 * peak, lead_time_loss=lead_loss,
            upstream_loss=upstream, value_at_risk_usd=float(value * shortfall.sum()),
            time_to_survive_months=first, time_to_recover_months=ttr, path=path, kind=buf.kind,
        )
    return {spec.key: results[spec.key] for spec in specs}


def _untouched(node: str, buf: NodeBuffers, horizon: int) -> NodeStressResult:
    """The result of a node no shock and no input shortfall reaches: nothing lost, stock kept."""
    zeros = np.zeros(horizon)
    return NodeStressResult(
        node=node, shortfall=zeros, inventory_days=np.full(horizon, float(buf.inventory_days)),
        import_loss=zeros, replacement=zeros, domestic_loss=zeros, time_to_impact_months=None,
        peak_shortfall=0.0, months_to_recovery=0, impact_score=0.0, lead_time_loss=zeros, upstream_loss=zeros,
        value_at_risk_usd=0.0, time_to_survive_months=None, time_to_recover_months=0, path=(), kind=buf.kind,
    )


def chain_result(chain: str, nodes: Mapping[str, NodeStressResult], criticality: Mapping[str, float],
                 horizon_months: int, thresholds: Mapping[str, float] = DEFAULT_LEVEL_THRESHOLDS
                 ) -> ChainStressResult:
    """A chain's impact score, level, time to impact and value at risk from its nodes' results."""
    score = chain_score([r.impact_score for r in nodes.values()], [criticality[n] for n in nodes]) if nodes else None
    score = 0.0 if score is None else float(score)
    impacts = [r.time_to_impact_months for r in nodes.values() if r.time_to_impact_months is not None]
    return ChainStressResult(
        chain=chain, horizon_months=int(horizon_months), nodes=dict(nodes), impact_score=score,
        level=level_for(score, thresholds), time_to_impact_months=min(impacts) if impacts else None,
        value_at_risk_usd=float(sum(r.value_at_risk_usd for r in nodes.values())),
    )


#: Assumptions :func:`sensitivity` moves, with what each scales.
SENSITIVITY_ASSUMPTIONS: dict[str, str] = {
    "inventory_days": "stock held at every node (days of normal use)",
    "ramp_up_share_per_month": "how fast alternative suppliers ramp up",
    "spare_capacity": "spare capacity of the world's other producers",
    "world_share_of_cut_partners": "world-supply share of the partners under export cuts",
    "alternative_capacity": "extra shipments of other partners (nodes without world shares)",
    "domestic_share": "share of supply produced at home",
    "input_share": "input shares of cross-node edges (and input_dependence)",
    "lead_months": "lead times of inputs and extra transit days of logistics shocks",
    "cut_share": "depth of every shock",
    "capacity_growth_per_year": "capacity equipment adds per year (capacity nodes)",
}


def _scaled(specs: Sequence[NodeSpec], shocks: Sequence[Shock], name: str, factor: float
            ) -> tuple[list[NodeSpec], list[Shock]]:
    """``specs`` and ``shocks`` with assumption ``name`` multiplied by ``factor`` (clipped to its bounds)."""
    from dataclasses import replace

    def unit(x: float) -> float:
        return float(min(1.0, max(0.0, x * factor)))

    cut_partners = {s.partner for s in shocks if s.kind == "export_cut"}
    out_specs = []
    for spec in specs:
        buf = spec.buffers
        if name in ("inventory_days", "alternative_capacity"):
            buf = replace(buf, **{name: float(getattr(buf, name)) * factor})
        elif name in ("ramp_up_share_per_month", "spare_capacity", "domestic_share", "capacity_growth_per_year"):
            buf = replace(buf, **{name: unit(float(getattr(buf, name)))})
        spec = replace(spec, buffers=buf)
        if name == "input_share":
            spec = replace(spec, inputs=tuple(replace(i, share=unit(i.share)) for i in spec.inputs))
        elif name == "lead_months":
            spec = replace(spec, inputs=tuple(replace(i, lead_months=int(round(i.lead_months * factor)))
                                              for i in spec.inputs))
        elif name == "world_share_of_cut_partners" and spec.world_shares:
            spec = replace(spec, world_shares={p: (unit(v) if p in cut_partners else v)
                                               for p, v in spec.world_shares.items()})
        out_specs.append(spec)
    out_shocks = list(shocks)
    if name == "cut_share":
        out_shocks = [replace(s, cut_share=unit(s.cut_share)) for s in shocks]
    elif name == "lead_months":
        out_shocks = [replace(s, lead_time_days=min(365.0, s.lead_time_days * factor)) for s in shocks]
    return out_specs, out_shocks


def headline_value_at_risk(results: Mapping[str, NodeStressResult]) -> float:
    """The headline of a scenario: total value at risk over all nodes (USD)."""
    return float(sum(r.value_at_risk_usd for r in results.values()))


def sensitivity(specs: Sequence[NodeSpec], shocks: Sequence[Shock], horizon_months: int,
                factors: tuple[float, float] = (0.5, 1.5), assumptions: Sequence[str] | None = None
                ) -> list[dict]:
    """How the headline (:func:`headline_value_at_risk`) moves when each assumption moves.

    Each assumption of :data:`SENSITIVITY_ASSUMPTIONS` is multiplied by ``factors``
    (default −50 % and +50 %) at every node and shock, all else held, shares clipped
    to [0, 1]. Returns one row per assumption, largest swing first (a tornado table):
    ``{"assumption", "what", "low", "base", "high", "swing"}`` (USD; ``low``/``high``
    are the headline at the first/second factor, ``swing`` = |high − low|).
    """
    base = headline_value_at_risk(simulate_network(specs, shocks, horizon_months))
    rows = []
    for name in (assumptions or SENSITIVITY_ASSUMPTIONS):
        values = []
        for factor in factors:
            moved_specs, moved_shocks = _scaled(specs, shocks, name, factor)
            values.append(headline_value_at_risk(simulate_network(moved_specs, moved_shocks, horizon_months)))
        rows.append({"assumption": name, "what": SENSITIVITY_ASSUMPTIONS.get(name, name), "low": values[0],
                     "base": base, "high": values[-1], "swing": abs(values[-1] - values[0])})
    rows.sort(key=lambda r: -r["swing"])
    return rows


def simulate_chain(
    chain: str,
    baselines: Sequence[NodeBaseline],
    shocks: Sequence[Shock],
    horizon_months: int,
    buffers: Mapping[str, NodeBuffers] | None = None,
    thresholds: Mapping[str, float] = DEFAULT_LEVEL_THRESHOLDS,
) -> ChainStressResult:
    """Simulate a chain month by month under ``shocks`` (see the module docstring for the model).

    One chain on its own: ``depends_on`` becomes inputs with share ``input_dependence``
    and no lead time; :func:`simulate_network` does the work.

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
    buffers = buffers or {}
    specs = []
    for base in baselines:
        buf = buffers.get(base.node, NodeBuffers())
        specs.append(NodeSpec(key=base.node, imports=base.imports, criticality=base.criticality, buffers=buf,
                              inputs=tuple(Input(dep, buf.input_dependence, 0) for dep in base.depends_on)))
    nodes = simulate_network(specs, shocks, horizon_months)
    return chain_result(chain, nodes, {b.node: b.criticality for b in baselines}, horizon_months, thresholds)
