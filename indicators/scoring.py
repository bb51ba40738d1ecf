"""Risk scores on a 0-100 scale and the four-colour early-warning levels.

Pure functions, no I/O. A *dimension score* (concentration, disruption, ...) turns one
indicator into 0-100; a *node score* is the worst available dimension; a *chain score*
combines node scores with the nodes' criticality weights so that a critical node at
high risk drives the chain. Missing data (``None`` or NaN) is never counted as risk.

Levels follow Chinese early-warning practice: blue (蓝, general), yellow (黄, serious),
orange (橙, grave), red (红, most severe); ``"none"`` below blue.
"""

from __future__ import annotations

import graphlib
import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from indicators.vocabulary import LEVELS, UNKNOWN, level_index  # re-exported: scoring's callers name them here

__all__ = [
    "LEVELS",
    "UNKNOWN",
    "DEFAULT_LEVEL_THRESHOLDS",
    "HHI_POINT_ANCHORS",
    "TOP_SHARE_ANCHORS",
    "concentration_score",
    "disruption_score",
    "level_for",
    "level_index",
    "node_score",
    "chain_score",
    "propagate_along_dependencies",
    "upstream_first",
    "weakest_link_floor",
    "apply_hysteresis",
]

#: Suggested level thresholds (score >= threshold -> level). The concentration and
#: disruption anchors below are placed so that each regulatory threshold starts a level
#: with these values: HHI 1000 -> blue, 1800 -> yellow, 4000 or a 65 % top supplier ->
#: orange. Configuration may override them.
DEFAULT_LEVEL_THRESHOLDS: Mapping[str, float] = {"blue": 25.0, "yellow": 50.0, "orange": 70.0, "red": 85.0}

#: (HHI in points 0-10,000, score) knots of the piecewise-linear map f; see
#: :func:`concentration_score` for the source of each knot.
HHI_POINT_ANCHORS: tuple[tuple[float, float], ...] = (
    (0.0, 0.0),
    (1000.0, 25.0),
    (1800.0, 50.0),
    (4000.0, 70.0),
    (10000.0, 100.0),
)

#: (top-supplier share 0-1, score) knots of the piecewise-linear map g.
TOP_SHARE_ANCHORS: tuple[tuple[float, float], ...] = (
    (0.0, 0.0),
    (0.30, 25.0),
    (0.65, 70.0),
    (1.0, 100.0),
)

_LEVEL_KEYS = LEVELS[1:]


def _as_float_array(x, name: str) -> np.ndarray:
    if x is None:
        return np.array(np.nan)
    try:
        arr = np.asarray(x, dtype="float64")
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be numeric (scalar or array-like), got {x!r}") from err
    return arr


def _scalar_or_array(arr: np.ndarray) -> float | np.ndarray:
    return float(arr) if np.ndim(arr) == 0 else arr


def _interp(x: np.ndarray, anchors: Sequence[tuple[float, float]]) -> np.ndarray:
    xs = np.array([a for a, _ in anchors])
    ys = np.array([b for _, b in anchors])
    out = np.interp(x, xs, ys)
    return np.where(np.isnan(x), np.nan, out)


def concentration_score(hhi, top_share):
    """Concentration risk score 0-100 from the HHI and the top supplier's share.

    Parameters
    ----------
    hhi : float or array_like
        Herfindahl-Hirschman index on the **0-1** scale (``concentration_table``'s
        ``hhi``; divide ``hhi_points`` by 10,000). NaN or None = unknown.
    top_share : float or array_like
        Share of the largest supplier, 0-1 (``top_share``). NaN or None = unknown.
        Broadcast against ``hhi``.

    Returns
    -------
    float or numpy.ndarray
        Score in [0, 100] (float for scalar inputs). NaN only where both inputs are
        unknown; if one is unknown the other alone decides (missing data never adds
        risk).

    Raises
    ------
    ValueError
        If ``hhi`` or ``top_share`` lies outside [0, 1] (the message suggests the
        points scale) or is not numeric.

    Notes
    -----
    .. math:: S = \\max\\big(f(10^4 \\cdot HHI),\\; g(s_{top})\\big)

    Both :math:`f` and :math:`g` are piecewise linear between these knots
    (:data:`HHI_POINT_ANCHORS`, :data:`TOP_SHARE_ANCHORS`), score dimensionless:

    ========================  =====  ==========================================
    HHI (points)              f      source / reason
    ========================  =====  ==========================================
    0                         0      perfectly diversified supply
    1,000                     25     upper bound of "unconcentrated" in the U.S.
                                     DOJ/FTC Horizontal Merger Guidelines 1992
                                     (rev. 1997) section 1.51 -> starts *blue*
    1,800                     50     "highly concentrated": U.S. DOJ/FTC Merger
                                     Guidelines 2023, Guideline 1 (and 1992
                                     s. 1.51) -> starts *yellow*
    4,000                     70     HHI > 0.4 of extra-EU imports, first criterion
                                     of a "foreign dependency" in European
                                     Commission SWD(2021) 352 *Strategic
                                     dependencies and capacities* -> starts *orange*
    10,000                    100    a single supplier
    ========================  =====  ==========================================

    ========================  =====  ==========================================
    top share                 g      source / reason
    ========================  =====  ==========================================
    0                         0
    0.30                      25     share presumption of the 2023 Merger
                                     Guidelines (a firm above 30 %) -> *blue*
    0.65                      70     EU Critical Raw Materials Act, Regulation
                                     (EU) 2024/1252, Art. 5 benchmark: no more than
                                     65 % of EU consumption of a strategic raw
                                     material from a single third country ->
                                     *orange*
    1.0                       100    a single supplier
    ========================  =====  ==========================================

    Why these anchors: the 2023 Guidelines are the current U.S. standard for when a
    market is highly concentrated (1,800); they name no lower band, so 1,000 is taken
    from the 1992/1997 text they returned to. The 2010 Guidelines' bands (1,500 and
    2,500 points) map to f = 40.6 and 56.4, i.e. the same levels (blue, yellow) as
    their 2023 counterparts with :data:`DEFAULT_LEVEL_THRESHOLDS`. Merger thresholds
    describe firms in a market; supplier *countries* are fewer and HHIs higher, so
    above 1,800 the map flattens and uses the EU's trade-dependency threshold (0.4)
    built for country shares. The top-share term catches a dominant supplier that the
    HHI alone under-weights (one supplier at 65 % and many small ones gives
    HHI ~ 0.43). With the default thresholds red (85) starts at HHI 7,000 or a top
    share of 82.5 %.
    """
    h = _as_float_array(hhi, "hhi")
    t = _as_float_array(top_share, "top_share")
    tol = 1e-9
    if np.any((h < -tol) | (h > 1 + tol)):
        raise ValueError(
            "hhi must be on the 0-1 scale (sum of squared shares); "
            f"got values outside [0, 1], e.g. {h[(h < -tol) | (h > 1 + tol)].flat[0]!r} "
            "(for HHI points 0-10,000 divide by 10,000)"
        )
    if np.any((t < -tol) | (t > 1 + tol)):
        raise ValueError(
            f"top_share must be a share in [0, 1]; got e.g. {t[(t < -tol) | (t > 1 + tol)].flat[0]!r}"
        )
    f = _interp(np.clip(h, 0.0, 1.0) * 10_000.0, HHI_POINT_ANCHORS)
    g = _interp(np.clip(t, 0.0, 1.0), TOP_SHARE_ANCHORS)
    return _scalar_or_array(np.fmax(f, g))


def disruption_score(z, threshold: float = 3.5):
    """Disruption risk score 0-100 from a robust z-score (downward moves only).

    Parameters
    ----------
    z : float or array_like
        Robust z-score of the judged month (``DetectionResult.score``): negative =
        below expected. NaN or None = unknown.
    threshold : float, default 3.5
        The detector's flag threshold (|z| at which a month is flagged), > 0.

    Returns
    -------
    float or numpy.ndarray
        Score in [0, 100]; NaN where ``z`` is unknown.

    Notes
    -----
    With :math:`d = \\max(-z, 0)` (upward moves are not a supply risk) and
    :math:`\\tau` = ``threshold``, the score is piecewise linear in :math:`d` through

    .. math:: (0, 0),\\ (\\tau/2, 10),\\ (\\tau, 60),\\ (2\\tau, 100)

    and 100 beyond :math:`2\\tau`. Dimensionless. Reasons: below :math:`\\tau/2`
    (1.75 for the default; a Gaussian falls below -1.75 about 4 % of months) a move
    is ordinary noise and stays far from any level; a month the detector flags
    (:math:`d = \\tau`) scores 60, i.e. *yellow* with
    :data:`DEFAULT_LEVEL_THRESHOLDS`; twice the flag distance is the most severe
    case. With those thresholds blue (25) starts at :math:`0.65\\tau`, yellow (50)
    at :math:`0.9\\tau`, orange (70) at :math:`1.25\\tau` and red (85) at
    :math:`1.625\\tau`.
    The 3.5 default follows Iglewicz & Hoaglin (1993), *How to Detect and Handle
    Outliers*, who recommend labelling modified z-scores (MAD-based) with
    :math:`|z| > 3.5` as potential outliers.
    """
    if not (isinstance(threshold, (int, float)) and math.isfinite(threshold) and threshold > 0):
        raise ValueError(f"threshold must be a positive number, got {threshold!r}")
    arr = _as_float_array(z, "z")
    d = np.maximum(-arr, 0.0)
    anchors = ((0.0, 0.0), (threshold / 2.0, 10.0), (float(threshold), 60.0), (2.0 * threshold, 100.0))
    return _scalar_or_array(_interp(d, anchors))


def _check_thresholds(thresholds: Mapping[str, float]) -> list[float]:
    if not isinstance(thresholds, Mapping):
        raise ValueError(f"thresholds must be a mapping with keys {', '.join(_LEVEL_KEYS)}")
    missing = [k for k in _LEVEL_KEYS if k not in thresholds]
    if missing:
        raise ValueError(f"thresholds is missing level {missing[0]!r} (needs {', '.join(_LEVEL_KEYS)})")
    extra = sorted(set(thresholds) - set(_LEVEL_KEYS))
    if extra:
        raise ValueError(f"thresholds has unknown level {extra[0]!r} (allowed: {', '.join(_LEVEL_KEYS)})")
    values = []
    for key in _LEVEL_KEYS:
        value = thresholds[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"thresholds[{key!r}] must be a finite number, got {value!r}")
        values.append(float(value))
    for (k1, v1), (k2, v2) in zip(zip(_LEVEL_KEYS, values), zip(_LEVEL_KEYS[1:], values[1:])):
        if v2 < v1:
            raise ValueError(
                f"thresholds[{k2!r}]={v2} is below thresholds[{k1!r}]={v1}; levels must not decrease"
            )
    return values


def _is_missing(score) -> bool:
    return score is None or (isinstance(score, (int, float, np.floating)) and math.isnan(score))


def level_for(score: float | None, thresholds: Mapping[str, float]) -> str:
    """Early-warning level of a score.

    Parameters
    ----------
    score : float or None
        Risk score 0-100; None or NaN (no data) gives ``"none"``.
    thresholds : Mapping[str, float]
        Keys exactly ``blue``, ``yellow``, ``orange``, ``red`` with non-decreasing
        values on the score scale, e.g. :data:`DEFAULT_LEVEL_THRESHOLDS`.

    Returns
    -------
    str
        The most severe level whose threshold the score reaches, one of
        :data:`LEVELS`.

    Raises
    ------
    ValueError
        If ``thresholds`` lacks a level, has an unknown key, a non-numeric value, or
        values that decrease with severity.

    Notes
    -----
    .. math:: level(S) = \\max\\{\\ell : S \\ge \\theta_\\ell\\}, \\quad
              \\text{"none" if } S < \\theta_{blue}

    Boundaries are inclusive (a score equal to a threshold gets that level). Colour
    scale as in China's emergency early-warning practice (Emergency Response Law of
    the PRC, 2007, art. 42: levels I-IV marked red, orange, yellow, blue).
    """
    values = _check_thresholds(thresholds)
    if _is_missing(score):
        return "none"
    level = "none"
    for key, threshold in zip(_LEVEL_KEYS, values):
        if score >= threshold:
            level = key
    return level


def _checked_score(value, name: str) -> float | None:
    if _is_missing(value):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number or None, got {value!r}")
    value = float(value)
    if not 0.0 <= value <= 100.0:
        raise ValueError(f"{name} must lie in [0, 100], got {value}")
    return value


def node_score(dimension_scores: Mapping[str, float | None]) -> float | None:
    """Risk score of a node: its worst available dimension.

    Parameters
    ----------
    dimension_scores : Mapping[str, float or None]
        Scores 0-100 per dimension (e.g. ``{"concentration": 72.0, "disruption":
        None}``); None or NaN means the dimension has no data.

    Returns
    -------
    float or None
        :math:`\\max_d S_d` over available dimensions; None when none is available.

    Raises
    ------
    ValueError
        If a score is not a number in [0, 100]; the message names the dimension.

    Notes
    -----
    .. math:: S_{node} = \\max_{d \\in D_{avail}} S_d

    The maximum (not a mean) because one severe risk (a choke point) is enough to
    endanger a node; a missing dimension is left out, so missing data can never
    raise a node's score. The same worst-case logic as the EU criticality assessment
    (European Commission, *Study on the Critical Raw Materials for the EU 2023*), which
    takes the supply risk of the bottleneck stage (the higher of extraction and
    processing), and as the weakest-link view of Hirshleifer (1983), *Public Choice*
    41(3), 371-386.
    """
    available = [
        s for name, value in dimension_scores.items()
        if (s := _checked_score(value, f"dimension score {name!r}")) is not None
    ]
    return max(available) if available else None


def chain_score(node_scores: Sequence[float | None], weights: Sequence[float]) -> float | None:
    """Risk score of a chain from its node scores and criticality weights.

    Parameters
    ----------
    node_scores : Sequence[float or None]
        Node scores 0-100; None or NaN = node without data (ignored).
    weights : Sequence[float]
        Criticality weight of each node, >= 0, same length; at least one > 0.

    Returns
    -------
    float or None
        Chain score in [0, 100]; None when no node with a positive weight has data.

    Raises
    ------
    ValueError
        If lengths differ, a weight is negative/non-finite, all weights are 0, or a
        score is outside [0, 100].

    Notes
    -----
    With :math:`A` the nodes that have data, :math:`w_i` weights and
    :math:`w_{max} = \\max_{all\\ i} w_i`:

    .. math::

        \\bar S = \\frac{\\sum_{i \\in A} w_i S_i}{\\sum_{i \\in A} w_i}, \\qquad
        L = \\max_{i \\in A} \\frac{w_i}{w_{max}} S_i, \\qquad
        S_{chain} = \\max(\\bar S, L)

    :math:`\\bar S` is the criticality-weighted mean; :math:`L` is the weakest-link
    term (Hirshleifer 1983): a node as critical as the most critical one passes its
    full score to the chain, so one choke point at high risk drives the chain even
    when the other nodes are fine. :math:`w_{max}` is taken over *all* nodes, so a
    node's relative criticality does not grow when another node's data is missing.
    Missing nodes are never counted as risk; note that dropping a low-risk node
    changes :math:`\\bar S` (it is a mean over what is known), which is why reports
    should show coverage next to the score. Dimensionless, 0-100.
    """
    scores = list(node_scores)
    w = list(weights)
    if len(scores) != len(w):
        raise ValueError(f"node_scores has {len(scores)} entries but weights has {len(w)}")
    if not w:
        return None
    w_arr = np.asarray(w, dtype="float64")
    if not np.all(np.isfinite(w_arr)) or np.any(w_arr < 0):
        bad = int(np.flatnonzero(~np.isfinite(w_arr) | (w_arr < 0))[0])
        raise ValueError(f"weights[{bad}] must be a finite number >= 0, got {w[bad]!r}")
    w_max = float(w_arr.max())
    if w_max <= 0:
        raise ValueError("weights must contain at least one positive value")
    checked = [_checked_score(s, f"node_scores[{i}]") for i, s in enumerate(scores)]
    avail = [(wi, si) for wi, si in zip(w_arr, checked) if si is not None and wi > 0]
    if not avail:
        return None
    known = [si for _, si in avail]
    w_sum = sum(wi for wi, _ in avail)
    mean = sum(wi * si for wi, si in avail) / w_sum
    # A weighted mean lies between its extremes; clamping only undoes the rounding
    # that tiny (subnormal) weights cause.
    mean = min(max(mean, min(known)), max(known))
    link = max(wi / w_max * si for wi, si in avail)
    return float(min(100.0, max(mean, link)))


def propagate_along_dependencies(
    scores: Mapping[str, float | None],
    depends_on: Mapping[str, Sequence[str]],
    factor: float = 0.8,
) -> dict[str, float | None]:
    """Raise each node's score by the risk of the nodes it depends on.

    Parameters
    ----------
    scores : Mapping[str, float or None]
        Own score (0-100) of every node; None = no data.
    depends_on : Mapping[str, Sequence[str]]
        Upstream nodes of each node (the chain graph, a DAG).
    factor : float, default 0.8
        Attenuation per hop, in [0, 1]; 0 switches propagation off.

    Returns
    -------
    dict[str, float or None]
        Propagated score of every node of ``scores``.

    Raises
    ------
    ValueError
        If ``factor`` is outside [0, 1] or the graph has a cycle.

    Notes
    -----
    In topological order (upstream first),

    .. math::

        S'_i = \\max\\bigl(S_i,\\ \\alpha \\max_{j \\in \\mathrm{dep}(i)} S'_j\\bigr)

    with :math:`\\alpha` = ``factor``. A node cannot be safer than a fraction of its
    riskiest input: a red upstream node (85+) lifts its direct dependants to at
    least 68 with the default and their dependants to 54, so the effect fades with
    distance, as input-output shock propagation does when each stage holds some
    stock or alternative supply (cf. Acemoglu et al. 2012, "The network origins of
    aggregate fluctuations"). The attenuation value itself is a policy choice, not
    an estimate, hence configurable. A node without own data but with a risky input
    gets the propagated score (missing own data is not risk; inherited risk is).
    Dimensionless, 0-100.
    """
    if not 0.0 <= factor <= 1.0:
        raise ValueError(f"factor must lie in [0, 1], got {factor!r}")
    order = upstream_first({node: [j for j in depends_on.get(node, ()) if j in scores] for node in scores})
    result: dict[str, float | None] = {}
    for node in order:
        own = _checked_score(scores[node], f"scores[{node!r}]")
        inherited = [result[j] for j in depends_on.get(node, ()) if j in result and result[j] is not None]
        if inherited:
            lifted = factor * max(inherited)
            own = lifted if own is None else max(own, lifted)
        result[node] = own
    return {node: result[node] for node in scores}


def weakest_link_floor(
    chain_score_value: float | None,
    node_levels: Sequence[str],
    criticalities: Sequence[float],
    thresholds: Mapping[str, float],
    min_criticality: float = 0.8,
) -> float | None:
    """Lift a chain score so a critical node at red puts the chain at least at orange.

    Notes
    -----
    :math:`S_{chain} \\leftarrow \\max(S_{chain}, T_{orange})` when some node with
    criticality :math:`\\ge` ``min_criticality`` is at level red; :math:`T_{orange}` is
    the orange threshold. This is the weakest-link rule of chain management
    (a choke point, 卡脖子, decides the chain's security) stated as a floor, on top of
    the weakest-link term already inside :func:`chain_score`.
    """
    if len(node_levels) != len(criticalities):
        raise ValueError("node_levels and criticalities must have the same length")
    critical_red = any(level == "red" and c >= min_criticality for level, c in zip(node_levels, criticalities))
    if not critical_red:
        return chain_score_value
    floor = float(thresholds["orange"])
    return floor if chain_score_value is None else max(chain_score_value, floor)


def apply_hysteresis(
    raw_level: str, previous_level: str | None, previous_runs_below: int, runs_to_fall: int,
) -> tuple[str, int]:
    """The level to report, given the raw level and the previous run's state.

    Parameters
    ----------
    raw_level : str
        Level the current score maps to.
    previous_level : str or None
        Level reported by the previous run (None: first run).
    previous_runs_below : int
        Consecutive earlier runs whose raw level was below ``previous_level``.
    runs_to_fall : int
        Consecutive runs below the current level needed before it falls (>= 1;
        1 = no hysteresis).

    Returns
    -------
    (level, runs_below) : tuple[str, int]
        The reported level and the updated count to store for the next run.

    Notes
    -----
    A level rises at once (an early warning must not wait) but falls only after
    ``runs_to_fall`` consecutive runs below it, and then straight to the raw level.
    This is the "clear only after N consecutive good evaluations" rule that
    Prometheus' ``keep_firing_for`` and hysteresis bands in alarm management
    (ISA-18.2) use to stop an alarm from flapping around a threshold.
    """
    if runs_to_fall < 1:
        raise ValueError(f"runs_to_fall must be >= 1, got {runs_to_fall!r}")
    raw = level_index(raw_level)
    # Unknown holds no level to keep, and nothing is kept while the data are unknown.
    if previous_level in (None, UNKNOWN) or raw_level == UNKNOWN or raw >= level_index(previous_level):
        return raw_level, 0
    below = previous_runs_below + 1
    if below >= runs_to_fall:
        return raw_level, 0
    return previous_level, below


def upstream_first(depends_on: Mapping[str, Iterable[str]]) -> list[str]:
    """The nodes of a dependency graph in topological order: each after those it depends on.

    ``depends_on`` maps a node to its upstream nodes. Raises ValueError naming the
    cycle if there is one.
    """
    try:
        return list(graphlib.TopologicalSorter(depends_on).static_order())
    except graphlib.CycleError as err:
        cycle = " -> ".join(repr(n) for n in reversed(err.args[1]))
        raise ValueError(f"dependency cycle: {cycle}") from None
