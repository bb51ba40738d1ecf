"""0-100 scores of the exposure dimensions: import dependence, partner risk, logistics
pressure, value (unit-value gap) and world supply.

Pure functions, no I/O. Each dimension turns one indicator into a risk score through a
piecewise-linear map given by *anchors* ``(indicator value, score)``; the defaults
below are documented with their sources, and configuration may replace them
(``assessment.dimensions.<name>.anchors`` in ``settings.yaml``). Unknown input (None or
NaN) gives NaN: missing data is never risk. The concentration and disruption maps
live in :mod:`indicators.scoring`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "NET_IMPORT_RATIO_ANCHORS",
    "PARTNER_RISK_ANCHORS",
    "LOGISTICS_PRESSURE_ANCHORS",
    "UNIT_VALUE_RATIO_ANCHORS",
    "WGI_REFERENCE_RISK",
    "check_anchors",
    "anchored_score",
    "net_import_ratio",
    "import_dependence_score",
    "relative_weighted_hhi",
    "partner_risk_score",
    "logistics_pressure_score",
    "unit_value_gap_score",
    "world_supply_score",
]

#: (net-import ratio, score) knots; see :func:`import_dependence_score`.
NET_IMPORT_RATIO_ANCHORS: tuple[tuple[float, float], ...] = ((-1.0, 0.0), (0.0, 25.0), (0.6, 50.0), (1.0, 70.0))

#: (governance-relative HHI on the 0-1 HHI scale, score) knots; the HHI knots of
#: :data:`indicators.scoring.HHI_POINT_ANCHORS` divided by 10,000. See :func:`partner_risk_score`.
PARTNER_RISK_ANCHORS: tuple[tuple[float, float], ...] = (
    (0.0, 0.0), (0.10, 25.0), (0.18, 50.0), (0.40, 70.0), (1.0, 100.0))

#: (pressure in standard deviations from the average, score) knots; see :func:`logistics_pressure_score`.
LOGISTICS_PRESSURE_ANCHORS: tuple[tuple[float, float], ...] = (
    (0.0, 0.0), (1.0, 25.0), (2.0, 50.0), (3.0, 70.0), (4.0, 85.0), (5.0, 100.0))

#: (export/import unit-value ratio, score) knots, falling; see :func:`unit_value_gap_score`.
UNIT_VALUE_RATIO_ANCHORS: tuple[tuple[float, float], ...] = ((0.0, 60.0), (0.5, 45.0), (0.85, 25.0), (1.15, 0.0))

#: Risk score (0-10, :func:`indicators.supply_risk.wgi_to_risk_score`) of a WGI
#: estimate of 0, the cross-country average by construction of the WGI.
WGI_REFERENCE_RISK: float = 5.0


def check_anchors(anchors: Sequence[Sequence[float]], name: str = "anchors",
                  direction: str = "increasing") -> tuple[tuple[float, float], ...]:
    """Validate anchors and return them as a tuple of float pairs.

    Parameters
    ----------
    anchors : sequence of (x, score) pairs
        At least two; x strictly increasing and finite; scores in [0, 100].
    name : str
        Named in error messages (e.g. the config field).
    direction : {"increasing", "decreasing"}
        Scores must not decrease (``increasing``) or not increase (``decreasing``)
        along x, so the score is monotone in the indicator.

    Raises
    ------
    ValueError
        Naming ``name`` and the offending knot.
    """
    if direction not in ("increasing", "decreasing"):
        raise ValueError(f"direction must be 'increasing' or 'decreasing', got {direction!r}")
    try:
        pairs = [(float(x), float(y)) for x, y in anchors]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a list of [value, score] pairs, got {anchors!r}") from None
    if len(pairs) < 2:
        raise ValueError(f"{name} needs at least two [value, score] pairs, got {len(pairs)}")
    for i, (x, y) in enumerate(pairs):
        if not math.isfinite(x) or not math.isfinite(y):
            raise ValueError(f"{name}[{i}] must hold finite numbers, got {[x, y]}")
        if not 0.0 <= y <= 100.0:
            raise ValueError(f"{name}[{i}]: score {y:g} is outside [0, 100]")
    for i in range(1, len(pairs)):
        (x0, y0), (x1, y1) = pairs[i - 1], pairs[i]
        if x1 <= x0:
            raise ValueError(f"{name}[{i}]: values must increase strictly ({x1:g} after {x0:g})")
        if (direction == "increasing" and y1 < y0) or (direction == "decreasing" and y1 > y0):
            raise ValueError(f"{name}[{i}]: scores must be {'non-decreasing' if direction == 'increasing' else 'non-increasing'} "
                             f"({y1:g} after {y0:g})")
    return tuple(pairs)


def anchored_score(x, anchors: Sequence[Sequence[float]]):
    """Piecewise-linear score through ``anchors``, constant beyond the outer knots.

    Parameters
    ----------
    x : float or array_like
        Indicator value(s); None or NaN = unknown.
    anchors : sequence of (x, score)
        As :func:`check_anchors` accepts (either direction).

    Returns
    -------
    float or numpy.ndarray
        Score in [0, 100]; NaN where ``x`` is unknown.

    Notes
    -----
    .. math:: S(x) = y_k + (y_{k+1} - y_k) \\frac{x - x_k}{x_{k+1} - x_k}, \\quad x_k \\le x \\le x_{k+1}

    with :math:`S = y_0` below :math:`x_0` and :math:`S = y_n` above :math:`x_n`.
    """
    pairs = [(float(a), float(b)) for a, b in anchors]
    arr = np.asarray(np.nan if x is None else x, dtype="float64")
    xs = np.array([a for a, _ in pairs])
    ys = np.array([b for _, b in pairs])
    out = np.where(np.isnan(arr), np.nan, np.interp(np.where(np.isnan(arr), 0.0, arr), xs, ys))
    # np.interp can overshoot the outer knots by one ulp (x_k + t*(x_{k+1}-x_k) rounding); keep S in [min y, max y]
    out = np.clip(out, ys.min(), ys.max())
    return float(out) if out.ndim == 0 else out


def net_import_ratio(imports, exports):
    """Normalised trade balance of one product from the importer's side.

    Parameters
    ----------
    imports, exports : float or array_like
        Import and export value of the same goods over the same period (e.g. USD),
        >= 0; None or NaN = unknown.

    Returns
    -------
    float or numpy.ndarray
        :math:`(M - X) / (M + X)` in [-1, 1]: 1 = imports only, 0 = as much exported
        as imported, -1 = exports only. NaN where either is unknown or both are 0.

    Raises
    ------
    ValueError
        If a value is negative.

    Notes
    -----
    The negative of the trade balance index :math:`(X - M) / (X + M)` (Lafay, G. (1992),
    "The measurement of revealed comparative advantages", in Dagenais, M. G. and Muet,
    P.-A. (eds.), *International Trade Modelling*, Chapman & Hall, 209-234). It is a
    monotone transform of the import/export ratio :math:`r = M / X` of the EU
    strategic-dependency test, criterion 3 (European Commission SWD(2021) 352):
    :math:`(r - 1) / (r + 1)`, so :math:`r = 1` (the EU threshold) is 0. Dimensionless.
    """
    m = np.asarray(np.nan if imports is None else imports, dtype="float64")
    x = np.asarray(np.nan if exports is None else exports, dtype="float64")
    if np.any(m < 0) or np.any(x < 0):
        raise ValueError("imports and exports must be >= 0")
    total = m + x
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(total > 0, (m - x) / np.where(total > 0, total, 1.0), np.nan)
    return float(out) if out.ndim == 0 else out


def import_dependence_score(ratio, anchors: Sequence[Sequence[float]] = NET_IMPORT_RATIO_ANCHORS):
    """Import-dependence risk score 0-100 from the net-import ratio.

    Parameters
    ----------
    ratio : float or array_like
        :func:`net_import_ratio`, in [-1, 1]; NaN or None = unknown.
    anchors : sequence of (ratio, score)
        Default :data:`NET_IMPORT_RATIO_ANCHORS`.

    Returns
    -------
    float or numpy.ndarray
        Score in [0, 100], non-decreasing in ``ratio``; NaN where unknown.

    Raises
    ------
    ValueError
        If ``ratio`` lies outside [-1, 1].

    Notes
    -----
    Default knots (piecewise linear, dimensionless):

    =====  =====  ==========================================================
    ratio  score  reason
    =====  =====  ==========================================================
    -1     0      net exporter only
    0      25     imports = exports, the threshold of the EU test's third
                  criterion (imports/exports > 1, SWD(2021) 352) -> *blue*
    0.6    50     imports four times exports -> *yellow*
    1      70     no exports at all (no domestic capacity shows in trade)
                  -> *orange*, and no higher
    =====  =====  ==========================================================

    Capped at 70 because dependence is a structural exposure, not an event: on its
    own it is grave (orange), red needs concentration or a disruption. The 0.6 knot
    is a policy choice, not an estimate (hence configurable).
    """
    arr = np.asarray(np.nan if ratio is None else ratio, dtype="float64")
    if np.any(np.abs(arr[~np.isnan(arr)]) > 1 + 1e-9):
        raise ValueError("ratio must lie in [-1, 1] (use net_import_ratio)")
    return anchored_score(arr, anchors)


def relative_weighted_hhi(hhi_weighted, reference_score: float = WGI_REFERENCE_RISK):
    """Governance-weighted HHI relative to a supplier of reference (average) governance.

    Parameters
    ----------
    hhi_weighted : float or array_like
        :math:`HHI_{WGI} = \\sum_c s_c^2 r_c` from
        :func:`indicators.supply_risk.governance_weighted_concentration`, with
        partner risk scores :math:`r_c` in 0-10; NaN/None = unknown.
    reference_score : float, default 5
        :math:`r_{ref}` > 0: the risk score at which a supplier counts as neither
        safer nor riskier than average (:data:`WGI_REFERENCE_RISK`).

    Returns
    -------
    float or numpy.ndarray
        :math:`HHI_{WGI} / r_{ref}` on the HHI's 0-1 scale (up to :math:`10 / r_{ref}`).

    Notes
    -----
    Equal to the plain HHI when every supplier has the reference score; larger when
    supply is concentrated on suppliers with poorer governance. The WGI estimates
    are standardised to mean 0 across countries (Kaufmann, Kraay & Mastruzzi 2010,
    World Bank Policy Research WP 5430), and :math:`2 (2.5 - 0) = 5` on the EU 0-10
    scale, hence the default reference.
    """
    if not (isinstance(reference_score, (int, float)) and math.isfinite(reference_score) and reference_score > 0):
        raise ValueError(f"reference_score must be a positive number, got {reference_score!r}")
    arr = np.asarray(np.nan if hhi_weighted is None else hhi_weighted, dtype="float64")
    if np.any(arr[~np.isnan(arr)] < 0):
        raise ValueError("hhi_weighted must be >= 0")
    out = arr / float(reference_score)
    return float(out) if out.ndim == 0 else out


def partner_risk_score(relative_hhi, anchors: Sequence[Sequence[float]] = PARTNER_RISK_ANCHORS):
    """Partner-risk (decoupling) score 0-100 from the governance-relative HHI.

    Parameters
    ----------
    relative_hhi : float or array_like
        :func:`relative_weighted_hhi`, >= 0; NaN/None = unknown.
    anchors : sequence of (relative HHI, score)
        Default :data:`PARTNER_RISK_ANCHORS`.

    Returns
    -------
    float or numpy.ndarray
        Score in [0, 100], non-decreasing in ``relative_hhi``; NaN where unknown.

    Notes
    -----
    .. math:: S = f\\Big(\\sum_c s_c^2 \\frac{r_c}{r_{ref}}\\Big)

    :math:`f` uses the HHI knots of the concentration score (U.S. DOJ/FTC merger
    guidelines 1,000 and 1,800 points; the EU foreign-dependency HHI 0.4 of SWD(2021)
    352; see :func:`indicators.scoring.concentration_score`), so supply concentrated
    on suppliers of average governance scores like plain concentration, on poorly
    governed suppliers higher, on well governed ones lower. The weighting of squared
    shares by the WGI-based score is the EU criticality method's
    :math:`HHI_{WGI}` (European Commission 2017 guidelines; Blengini et al. 2017, EUR
    28654 EN). Dimensionless.
    """
    arr = np.asarray(np.nan if relative_hhi is None else relative_hhi, dtype="float64")
    if np.any(arr[~np.isnan(arr)] < 0):
        raise ValueError("relative_hhi must be >= 0")
    return anchored_score(arr, anchors)


def logistics_pressure_score(pressure, anchors: Sequence[Sequence[float]] = LOGISTICS_PRESSURE_ANCHORS):
    """Logistics-pressure score 0-100 from a supply-chain pressure index.

    Parameters
    ----------
    pressure : float or array_like
        Index in standard deviations from its average (the New York Fed's Global
        Supply Chain Pressure Index, GSCPI); negative = below-average pressure;
        NaN/None = unknown.
    anchors : sequence of (standard deviations, score)
        Default :data:`LOGISTICS_PRESSURE_ANCHORS`.

    Returns
    -------
    float or numpy.ndarray
        Score in [0, 100], non-decreasing in ``pressure``; NaN where unknown.

    Notes
    -----
    Default knots: 0 sd (average pressure or less) -> 0; each standard deviation adds
    a level: 1 -> 25 (*blue*), 2 -> 50 (*yellow*), 3 -> 70 (*orange*), 4 -> 85 (*red*),
    5 -> 100. On the GSCPI (Benigno, di Giovanni, Groen and Noble (2022), "The GSCPI: A
    New Barometer of Global Supply Chain Pressures", Federal Reserve Bank of New York
    Staff Report 1017; units: standard deviations from the series' average) this puts
    the 2011 Tohoku earthquake (1.63) at blue, April 2020 (3.39) at orange and the
    December 2021 peak (4.49) at red. Under normality a month exceeds 1, 2 and 3 sd
    with probability 16 %, 2.3 % and 0.13 %.
    """
    return anchored_score(pressure, anchors)


def unit_value_gap_score(ratio, anchors: Sequence[Sequence[float]] = UNIT_VALUE_RATIO_ANCHORS):
    """Value (unit-value gap) score 0-100 from the export/import unit-value ratio.

    Parameters
    ----------
    ratio : float or array_like
        :math:`RUV = UV^X / UV^M` of the same goods (``unit_value_ratio`` of
        :func:`indicators.unit_values.unit_value_table`), > 0; NaN/None = unknown.
    anchors : sequence of (ratio, score)
        Default :data:`UNIT_VALUE_RATIO_ANCHORS` (falling).

    Returns
    -------
    float or numpy.ndarray
        Score in [0, 100], non-increasing in ``ratio``; NaN where unknown.

    Raises
    ------
    ValueError
        If ``ratio`` is negative.

    Notes
    -----
    Default knots: :math:`RUV \\ge 1.15` -> 0 (exports at least as dear as imports);
    0.85 -> 25 (*blue*): below the +/-15 % band of "similar" unit values, trade is
    vertical and the exporter sells the low end (Abd-el-Rahman 1991; Greenaway, Hine
    and Milner 1995, *Economic Journal* 105(433)); 0.5 -> 45 (imports cost twice as
    much per unit); 0 -> 60. Capped below orange because a low-end position
    (低端锁定) is a structural weakness of the value chain, not a supply threat; the
    0.5 knot is a policy choice (configurable).
    """
    arr = np.asarray(np.nan if ratio is None else ratio, dtype="float64")
    if np.any(arr[~np.isnan(arr)] < 0):
        raise ValueError("ratio must be >= 0")
    return anchored_score(arr, anchors)


def world_supply_score(concentration: float, home_share) -> float:
    """World-supply risk score of one stage (0-100): world concentration, less what home produces.

    Parameters
    ----------
    concentration : float
        The concentration score (0-100) of the stage's world output across producing
        countries, :func:`indicators.scoring.concentration_score` of the world HHI and
        top-producer share (their lower bounds where part of the world total is
        unallocated).
    home_share : float or None
        The home economy's share of world output at that stage (0-1); None or NaN
        when unknown (withheld, not listed): then 0, the cautious choice.

    Returns
    -------
    float
        NaN when ``concentration`` is unknown, else the score in [0, 100].

    Notes
    -----
    .. math:: S = C \\cdot (1 - h)

    with :math:`C` the concentration score and :math:`h` the home share of world
    output. World concentration is a supply risk for the part of its needs a country
    cannot cover from its own output: a stage the home economy dominates (China and
    primary gallium, :math:`h \\approx 0.98`) carries little world-supply risk for it,
    the same stage seen from an importer without output carries the full score. The
    factor :math:`1 - h` is the import-reliance proxy of the "self-sufficiency"
    measure in European Commission (2017) *Methodology for establishing the EU list of
    critical raw materials* (supply risk is weighted by import reliance), with world
    output standing in for the home economy's own demand, which chainwatch does not
    observe. Dimensionless.
    """
    if concentration is None or (isinstance(concentration, float) and math.isnan(concentration)):
        return math.nan
    h = 0.0 if home_share is None or (isinstance(home_share, float) and math.isnan(home_share)) else float(home_share)
    h = min(max(h, 0.0), 1.0)
    return float(min(max(float(concentration) * (1.0 - h), 0.0), 100.0))
