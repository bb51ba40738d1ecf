"""The world-supply dimension of a node: where the world's output of its stages sits.

For each stage a node declares (``Node.world_supply``: the mine, the refinery, the
fab...), the stored annual output by country (``<series>.<ISO3>``, the World total
``<series>.WORLD`` and the unnamed rest ``<series>.OTHERS``, as the ``usgs`` source
stores them) gives the world's concentration against the World total, with coverage
and bounds (:func:`indicators.production.usgs_world_concentration`), and the home
economy's own share of world output. The stage's score is the concentration score
less what home produces (:func:`indicators.dimension_scores.world_supply_score`); the
node's is its worst stage. Pure: the assessment hands in the observations.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date

import pandas as pd

from indicators.dimension_scores import world_supply_score
from indicators.production import usgs_world_concentration
from indicators.scoring import concentration_score
from monitor.config.countries import country_name_en, country_name_zh
from monitor.config.models import Node

__all__ = ["measure_world_supply", "world_shares"]

_Result = tuple[float | None, dict, tuple[float, str, str] | None]


def _flows(observations: pd.DataFrame, stem: str) -> pd.DataFrame:
    """``<stem>.<partner>`` observations as a (product, period, partner, value) table, flagged rows kept."""
    partner = observations["series_id"].astype(str).str.slice(len(stem) + 1)
    return pd.DataFrame({
        "product": stem,
        "period": pd.to_datetime(observations["period"]).dt.year.to_numpy(),
        "partner": partner.to_numpy(),
        "value": observations["value"].astype(float).to_numpy(),
    })


def world_shares(observations: Mapping[str, pd.DataFrame | None]) -> tuple[dict[str, float], list[str]]:
    """Producer -> its share of world output, the largest over the stages, and the basis.

    ``observations``: series stem -> its stored observations (``series_id, period,
    value``; none after the day judged). Per stage, the latest year's output of each
    named producer (``<stem>.<ISO3>``) over the stage's stored World total
    (``<stem>.WORLD``); a stage without a positive World total is left out (the sum of
    named producers would overstate every share). Returns the shares (producers with
    positive output only) and ``"<stem> <year>"`` of each stage used. Used by the event
    mapper's exposure and the stress test's substitution limit.
    """
    shares: dict[str, float] = {}
    basis = []
    for stem, frame in observations.items():
        if frame is None or frame.empty:
            continue
        flows = _flows(frame, stem)
        year = int(flows["period"].max())
        values = flows[flows["period"] == year].groupby("partner")["value"].sum()
        world = float(values.get("WORLD", 0.0))
        if not world > 0:
            continue
        for partner, value in values.items():
            if partner not in ("WORLD", "OTHERS") and value > 0:
                shares[partner] = max(shares.get(partner, 0.0), float(value) / world)
        basis.append(f"{stem} {year}")
    return shares, basis


def _latest(stem: str, observations: pd.DataFrame | None, as_of: date | None, max_age_years: int,
            why_none: str | None = None) -> pd.DataFrame | dict:
    """The latest judged year's output of one stage (``_flows`` rows), or why it is missing."""
    if observations is None or observations.empty:
        return {"series": stem, "missing": "no world output stored for this stage"
                + (f" ({why_none})" if why_none else "")}
    frame = _flows(observations, stem)
    if as_of is not None:  # never a year after the assessed month
        frame = frame[frame["period"] <= as_of.year]
    if frame.empty:
        return {"series": stem, "missing": f"no world output up to {as_of.year}"}
    year = int(frame["period"].max())
    if as_of is not None and as_of.year - year > max_age_years:
        return {"series": stem, "year": year, "missing": f"latest world output is for {year}, older than "
                                                          f"{max_age_years} years"}
    return frame[frame["period"] == year]


def _stage(stem: str, latest: pd.DataFrame, table: pd.DataFrame, observations: pd.DataFrame, home: str,
           min_coverage: float) -> dict:
    """One stage's numbers from its latest year's rows and its row of the concentration ``table``."""
    year = int(latest["period"].iloc[0])
    row = table[(table["product"] == stem) & (table["period"] == year)]
    if not len(row) or not float(row["total"].iloc[0]) > 0:
        return {"series": stem, "year": year, "missing": f"no positive world output in {year}"}
    row = row.iloc[0]
    home_rows = latest[latest["partner"] == home]
    total = float(row["total"])
    home_share = float(home_rows["value"].sum()) / total if len(home_rows) else None
    flags = observations.loc[pd.to_datetime(observations["period"]).dt.year == year, "estimate_flags"] \
        if "estimate_flags" in observations else pd.Series(dtype=object)
    kinds = sorted({k for f in flags.dropna() for k in str(f).split(",") if k})
    return {
        "series": stem, "year": year, "top_partner": str(row["top_partner"]),
        "top_share": float(row["top_share"]), "top_share_bounds": [float(row["top_share"]),
                                                                   float(row["top_share_upper"])],
        "hhi": float(row["hhi"]), "hhi_bounds": [float(row["hhi"]), float(row["hhi_upper"])],
        "partner_coverage": float(row["partner_coverage"]), "n_producers": int(row["n_partners"]),
        "home_share": home_share, "estimate_kinds": kinds,
        "gated": float(row["partner_coverage"]) < min_coverage,
    }


def _stages(node: Node, observations: dict[str, pd.DataFrame], home: str, as_of: date | None,
            max_age_years: int, min_coverage: float, why_none: Mapping[str, str]) -> list[dict]:
    """Each stage's numbers (or why missing), in the node's order.

    The stages' latest years go through one :func:`usgs_world_concentration` call keyed
    by (stem, year): its fixed pandas cost (~0.1 s on a few rows) was most of the
    dimension's time when paid once per stage.
    """
    latest = {stage.series: _latest(stage.series, observations.get(stage.series), as_of, max_age_years,
                                    why_none.get(stage.series)) for stage in node.world_supply}
    frames = [frame for frame in latest.values() if isinstance(frame, pd.DataFrame)]
    table = usgs_world_concentration(pd.concat(frames, ignore_index=True)) if frames else None
    return [dict(latest[stage.series]) if isinstance(latest[stage.series], dict)
            else _stage(stage.series, latest[stage.series], table, observations[stage.series], home, min_coverage)
            for stage in node.world_supply]


def measure_world_supply(node: Node, observations: dict[str, pd.DataFrame], home: str, as_of: date | None,
                         max_age_years: int, min_coverage: float,
                         why_none: Mapping[str, str] | None = None) -> _Result:
    """World-supply score, details and driver of one node (the worst of its stages).

    ``observations``: series stem -> its stored observations (``series_id, period,
    value`` and optionally ``estimate_flags``), newest release of each year. A stage
    below ``min_coverage`` (named producers' share of the World total) gives no score;
    the node's dimension is missing when no stage has one. ``why_none``: stem with
    nothing stored -> why (:func:`monitor.assess.inputs.world_supply_gaps`), said in
    the stage's ``missing``.
    """
    stages = []
    best: tuple[float, dict, object] | None = None
    for stage, numbers in zip(node.world_supply,
                              _stages(node, observations, home, as_of, max_age_years, min_coverage, why_none or {})):
        numbers["name"] = {"en": stage.name.en, "zh": stage.name.zh}
        stages.append(numbers)
        if "missing" in numbers or numbers["gated"]:
            continue
        score = world_supply_score(float(concentration_score(numbers["hhi"], numbers["top_share"])),
                                   numbers["home_share"])
        numbers["score"] = score
        if best is None or score > best[0]:
            best = (score, numbers, stage)
    details: dict = {"stages": stages, "home": home}
    if best is None:
        # stages missing for one reason (a source that failed) are named together, the reason once
        grouped: dict[str, list[str]] = {}
        for s in stages:
            grouped.setdefault(s.get("missing") or "named producers cover too little", []).append(s["name"]["en"])
        reasons = "; ".join(f"{', '.join(names)}: {why}" for why, names in grouped.items())
        details["missing"] = f"no world-supply figure: {reasons}"
        return None, details, None
    score, numbers, stage = best
    # USGS lists every major producer by name, so "Other countries" are small ones: the
    # named top share is the figure (the bounds stay in the details); a withheld
    # producer is said, since it could be large.
    share_en = f"{numbers['top_share']:.0%}"
    est_en = " (estimated)" if "estimated" in numbers["estimate_kinds"] else ""
    est_zh = "（估计值）" if "estimated" in numbers["estimate_kinds"] else ""
    if "confidential" in numbers["estimate_kinds"]:
        est_en += "; some producers withheld"
        est_zh += "；部分生产国数据保密"
    home_share = numbers["home_share"]
    top_en, top_zh = country_name_en(numbers["top_partner"]), country_name_zh(numbers["top_partner"])
    home_name_en, home_name_zh = country_name_en(home), country_name_zh(home)
    if home_share is None or math.isnan(home_share):
        home_en, home_zh = f"{home_name_en}'s own output not listed", f"{home_name_zh}本国产量未列出"
    else:
        home_en, home_zh = f"{home_name_en} produces {home_share:.0%}", f"{home_name_zh}本国占 {home_share:.0%}"
    return score, details, (
        score,
        f"world supply: {top_en} {share_en} of world {stage.name.en} output in "
        f"{numbers['year']}{est_en}, HHI {numbers['hhi']:.2f}; {home_en}",
        f"全球供给：{numbers['year']}年{top_zh}占全球{stage.name.zh}产量的 {share_en}{est_zh}，"
        f"HHI {numbers['hhi']:.2f}；{home_zh}",
    )
