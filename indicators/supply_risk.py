"""Governance-weighted concentration and the EU critical-raw-materials supply risk.

Pure functions, no I/O. Concentration alone treats a supplier with strong, stable
institutions like one with weak ones; the EU criticality method weights each
supplier's squared share by a country score (the World Bank's Worldwide Governance
Indicators, rescaled so that 10 is the poorest governance, optionally multiplied by a
trade-restriction factor). The scores are data: they are passed in as a mapping
partner -> score (from configuration), so any index can be used (governance,
geopolitical alignment, sanctions exposure), as long as a higher score means a riskier
supplier.

Sources:

- European Commission (2017), *Methodology for establishing the EU list of critical
  raw materials: Guidelines*, Publications Office of the EU, doi:10.2873/769526.
- Blengini, G. A., Blagoeva, D., Dewulf, J., et al. (2017), *Assessment of the
  Methodology for Establishing the EU List of Critical Raw Materials: Background
  report*, JRC technical report EUR 28654 EN, doi:10.2760/73303.
- European Commission, Grohol, M. and Veeh, C. (2023), *Study on the critical raw
  materials for the EU 2023: Final report*, doi:10.2873/725585 (the 2023 assessment,
  which applies the 2017 method with updated data).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import numpy as np
import pandas as pd

from indicators.concentration import DEFAULT_KEYS, partner_shares
from indicators.tables import check_keys, normalised_codes, residual_set
from indicators.findings import IndicatorFinding, Names, name_en, name_zh, number
from indicators.periods import format_period, period_ordinals

__all__ = [
    "WGI_RANGE",
    "wgi_to_risk_score",
    "governance_weighted_concentration",
    "eu_supply_risk",
    "governance_findings",
]

#: Nominal range of a Worldwide Governance Indicators estimate (standard-normal units).
WGI_RANGE: tuple[float, float] = (-2.5, 2.5)


def wgi_to_risk_score(wgi):
    """Rescale a WGI estimate (-2.5 best ... 2.5 worst reversed) to a 0-10 risk score.

    Parameters
    ----------
    wgi : float or array_like
        World Bank Worldwide Governance Indicators estimate (e.g. the mean of the six
        dimensions), nominally in [-2.5, 2.5], higher = better governance.

    Returns
    -------
    float or numpy.ndarray
        Score in [0, 10], higher = poorer governance (riskier supplier); values
        outside the nominal range are clipped.

    Notes
    -----
    .. math:: score = 10 \\cdot \\frac{2.5 - WGI}{5} = 2\\,(2.5 - WGI), \\quad
              \\text{clipped to } [0, 10]

    The linear map of the WGI range onto a 0-10 scale on which 10 is the poorest
    governance, the scale used by the EU criticality methodology (European
    Commission 2017 guidelines, section on supply risk).
    """
    arr = np.asarray(wgi, dtype="float64")
    out = np.clip(2.0 * (WGI_RANGE[1] - arr), 0.0, 10.0)
    return float(out) if out.ndim == 0 else out


def _checked_mapping(mapping: Mapping, name: str, positive: bool = False) -> dict[str, float]:
    if not isinstance(mapping, Mapping):
        raise ValueError(f"{name} must be a mapping partner -> number, got {type(mapping).__name__}")
    out: dict[str, float] = {}
    for key, value in mapping.items():
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not np.isfinite(value):
            raise ValueError(f"{name}[{key!r}] must be a finite number, got {value!r}")
        if value < 0 or (positive and value == 0):
            raise ValueError(f"{name}[{key!r}] must be {'> 0' if positive else '>= 0'}, got {value!r}")
        out[str(key).strip().upper()] = float(value)
    return out


def governance_weighted_concentration(
    flows: pd.DataFrame,
    scores: Mapping[object, float],
    keys: Sequence[str] = DEFAULT_KEYS,
    trade_factors: Mapping[object, float] | None = None,
    missing_score: float | None = None,
    residual_partners: Collection[str] = (),
) -> pd.DataFrame:
    """HHI with each supplier's squared share weighted by its country score.

    Parameters
    ----------
    flows : pandas.DataFrame
        Long table ``keys + partner + value`` (as for
        :func:`indicators.concentration.concentration_table`).
    scores : Mapping
        Partner code -> score >= 0, higher = riskier (e.g. :func:`wgi_to_risk_score`
        of the WGI, 0-10). Matched on ``str(code).strip().upper()``.
    keys : sequence of str
        Group keys.
    trade_factors : Mapping, optional
        Partner code -> trade-restriction factor :math:`t > 0` (1 = none; the EU
        method uses values up to 1.2 for export taxes, quotas or bans, lowered for
        partners with a trade agreement). Missing partners get 1.
    missing_score : float, optional
        Score for partners without one. By default a supplier without a score is an
        error: an unknown supplier silently scored 0 would lower the risk.
    residual_partners : collection of str
        Unnamed "others" (see ``concentration_table``): count in the total, carry no
        score and add nothing (lower bound).

    Returns
    -------
    pandas.DataFrame
        One row per group with positive total, sorted by keys: ``keys``, ``total``,
        ``hhi`` (plain, 0-1, residual excluded), ``hhi_weighted``
        (:math:`HHI_{WGI,t}`, in score units, 0-10 with WGI scores),
        ``weighted_score`` (:math:`HHI_{WGI,t} / HHI`, the squared-share-weighted mean
        score; NaN when the HHI is 0) and ``score_coverage`` (share of named supply
        whose partner had a score in ``scores``; < 1 only with ``missing_score``).

    Raises
    ------
    ValueError
        As ``partner_shares``; if a score or factor is not a finite number >= 0
        (> 0 for factors); or if a supplying partner has no score and
        ``missing_score`` is None (the message lists the first few).

    Notes
    -----
    For group :math:`g` with shares :math:`s_c` of the total (residual included in the
    total, excluded from the sum), score :math:`WGI_c` and factor :math:`t_c`:

    .. math:: HHI_{WGI,t} = \\sum_c s_c^2 \\, WGI_c \\, t_c

    This is the supply-concentration term of the EU supply-risk indicator
    (European Commission 2017 guidelines; Blengini et al. 2017, EUR 28654 EN;
    applied unchanged in the 2023 assessment): shares as fractions, WGI scaled 0-10,
    so :math:`HHI_{WGI,t}` lies in [0, 10 max(t)]. See :func:`eu_supply_risk` for the
    full indicator.
    """
    keys = check_keys(keys)
    score_map = _checked_mapping(scores, "scores")
    factor_map = _checked_mapping(trade_factors or {}, "trade_factors", positive=True)
    if missing_score is not None and (isinstance(missing_score, bool) or not np.isfinite(missing_score) or missing_score < 0):
        raise ValueError(f"missing_score must be a finite number >= 0 or None, got {missing_score!r}")
    residual = residual_set(residual_partners)
    shares = partner_shares(flows, keys, residual_partners)
    codes, uniques = pd.factorize(shares["partner"], sort=False)
    norm = normalised_codes(pd.Series(uniques)).to_numpy()
    is_residual = np.isin(norm, list(residual)) if residual else np.zeros(len(norm), bool)
    score_u = np.array([score_map.get(p, np.nan) for p in norm], dtype="float64")
    factor_u = np.array([factor_map.get(p, 1.0) for p in norm], dtype="float64")
    share = shares["share"].to_numpy()
    named = ~is_residual[codes]
    known = ~np.isnan(score_u[codes])
    need = named & ~known & (share > 0)
    if need.any() and missing_score is None:
        missing = pd.unique(shares["partner"].to_numpy()[need])
        listed = ", ".join(map(repr, missing[:5])) + (" ..." if len(missing) > 5 else "")
        raise ValueError(
            f"scores has no entry for {len(missing)} supplying partner(s): {listed}; "
            "add them or pass missing_score"
        )
    score = np.where(known, score_u[codes], missing_score if missing_score is not None else 0.0)
    sq = np.where(named, share * share, 0.0)
    weighted = sq * score * factor_u[codes]
    gid = shares.groupby(keys, dropna=False, sort=False, observed=True).ngroup().to_numpy()
    n = int(gid.max()) + 1 if len(gid) else 0
    first = np.r_[True, gid[1:] != gid[:-1]] if len(gid) else np.zeros(0, bool)
    out = shares.loc[first, keys].reset_index(drop=True)
    total = np.bincount(gid, weights=shares["value"].to_numpy(), minlength=n)
    hhi = np.bincount(gid, weights=sq, minlength=n)
    hhi_w = np.bincount(gid, weights=weighted, minlength=n)
    named_share = np.bincount(gid, weights=np.where(named, share, 0.0), minlength=n)
    known_share = np.bincount(gid, weights=np.where(named & known, share, 0.0), minlength=n)
    out["total"] = total
    out["hhi"] = hhi
    out["hhi_weighted"] = hhi_w
    with np.errstate(divide="ignore", invalid="ignore"):
        out["weighted_score"] = np.where(hhi > 0, hhi_w / np.where(hhi > 0, hhi, 1.0), np.nan)
        out["score_coverage"] = np.where(named_share > 0, known_share / np.where(named_share > 0, named_share, 1.0), np.nan)
    return out


def eu_supply_risk(hhi_global, hhi_eu_sourcing, import_reliance, eol_rir=0.0, substitution_index=1.0):
    """The EU supply-risk indicator SR from its components (vectorised).

    Parameters
    ----------
    hhi_global : float or array_like
        :math:`HHI_{WGI,t}` of global supply (world production by country), >= 0.
    hhi_eu_sourcing : float or array_like
        :math:`HHI_{WGI,t}` of the EU's actual sourcing (domestic production + imports
        by country), >= 0.
    import_reliance : float or array_like
        :math:`IR = (M - X) / (P + M - X)`, clipped to [0, 1] by the method (see
        :func:`indicators.dependence.import_dependence`, ``net_import_reliance``).
    eol_rir : float or array_like, default 0
        End-of-life recycling input rate, [0, 1].
    substitution_index : float or array_like, default 1
        :math:`SI_{SR}`, [0, 1]; 1 = no substitute.

    Returns
    -------
    float or numpy.ndarray
        SR, dimensionless (same scale as the HHI_WGI inputs); the EU list treats
        :math:`SR \\ge 1` (with economic importance :math:`EI \\ge 2.8`) as critical.

    Raises
    ------
    ValueError
        If an input is negative or a rate lies outside [0, 1].

    Notes
    -----
    .. math:: SR = \\Big[HHI_{WGI,t}^{GS} \\frac{IR}{2} + HHI_{WGI,t}^{EU}
              \\Big(1 - \\frac{IR}{2}\\Big)\\Big] (1 - EoL_{RIR})\\, SI_{SR}

    European Commission (2017) guidelines, supply-risk formula; Blengini et al.
    (2017), EUR 28654 EN; unchanged in the 2023 assessment (Grohol & Veeh 2023).
    """
    gs = np.asarray(hhi_global, dtype="float64")
    eu = np.asarray(hhi_eu_sourcing, dtype="float64")
    ir = np.clip(np.asarray(import_reliance, dtype="float64"), 0.0, 1.0)
    eol = np.asarray(eol_rir, dtype="float64")
    si = np.asarray(substitution_index, dtype="float64")
    for name, arr in (("hhi_global", gs), ("hhi_eu_sourcing", eu)):
        if np.any(arr < 0):
            raise ValueError(f"{name} must be >= 0")
    for name, arr in (("eol_rir", eol), ("substitution_index", si)):
        if np.any((arr < 0) | (arr > 1)):
            raise ValueError(f"{name} must lie in [0, 1]")
    sr = (gs * ir / 2.0 + eu * (1.0 - ir / 2.0)) * (1.0 - eol) * si
    return float(sr) if sr.ndim == 0 else sr


def governance_findings(
    table: pd.DataFrame,
    threshold: float,
    names: Names | None = None,
    keys: Sequence[str] = DEFAULT_KEYS,
    period: str = "period",
    freq: str | None = None,
) -> list[IndicatorFinding]:
    """Findings for groups whose governance-weighted HHI exceeds ``threshold``.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`governance_weighted_concentration` output.
    threshold : float
        In the units of ``hhi_weighted`` (score units). No default on purpose: the EU
        method thresholds only the composite SR (>= 1), not this term, so the level
        must come from configuration and match the score scale used (e.g. 0.4 x the
        score of a median supplier to mirror the plain-HHI threshold).
    names, keys, period, freq
        As in :func:`indicators.concentration.concentration_findings`.

    Returns
    -------
    list of IndicatorFinding
        Kind ``governance_weighted_concentration``, observed = ``hhi_weighted``.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not np.isfinite(threshold) or threshold < 0:
        raise ValueError(f"threshold must be a finite number >= 0, got {threshold!r}")
    keys = list(keys)
    has_period = period in keys and period in table.columns
    if has_period and len(table):
        _, freq = period_ordinals(table[period], freq, name=period)
    out = []
    values = table["hhi_weighted"].to_numpy(dtype="float64")
    for pos in np.flatnonzero(values > threshold):
        row = table.iloc[pos]
        when = format_period(row[period], freq) if has_period else ""
        subject = tuple((k, str(row[k])) for k in keys if k != period)
        if "reporter" in keys and "product" in keys:
            what_en = f"{name_en(names, row['reporter'])}'s {name_en(names, row['product'])} supply"
            what_zh = f"{name_zh(names, row['reporter'])}{name_zh(names, row['product'])}供应"
        else:
            what_en = what_zh = ", ".join(f"{k}={v}" for k, v in subject)
        prefix_en = f"In {when}, " if when else ""
        prefix_zh = f"{when}，" if when else ""
        out.append(IndicatorFinding(
            kind="governance_weighted_concentration", subject=subject, period=when,
            observed=float(values[pos]), threshold=float(threshold),
            explanation_en=(f"{prefix_en}governance-weighted concentration of {what_en} is "
                            f"{number(values[pos])} > {threshold:g} (HHI {number(row['hhi'])}, weighted "
                            f"mean supplier score {number(row['weighted_score'])})."),
            explanation_zh=(f"{prefix_zh}{what_zh}的治理加权集中度为{number(values[pos])} > {threshold:g}"
                            f"（HHI {number(row['hhi'])}，供应国加权平均风险评分"
                            f"{number(row['weighted_score'])}）。"),
            details=(("hhi", float(row["hhi"])), ("weighted_score", float(row["weighted_score"])),
                     ("score_coverage", float(row["score_coverage"]))),
        ))
    return out
