"""Tests for indicators.supply_risk: governance-weighted HHI and the EU supply-risk formula."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from indicators.concentration import RESIDUAL_PARTNERS, concentration_table
from indicators.production import usgs_world_production
from indicators.supply_risk import (
    eu_supply_risk,
    governance_findings,
    governance_weighted_concentration,
    wgi_to_risk_score,
)
from tests.shared_data import read_usgs_world

KEYS = ["reporter", "product", "period"]


def flows(rows):
    return pd.DataFrame(rows, columns=[*KEYS, "partner", "value"])


def test_wgi_rescaling_endpoints_and_clip():
    assert wgi_to_risk_score(2.5) == 0.0 and wgi_to_risk_score(-2.5) == 10.0 and wgi_to_risk_score(0.0) == 5.0
    np.testing.assert_allclose(wgi_to_risk_score([3.0, -0.5, -3.0]), [0.0, 6.0, 10.0])


def test_weighted_hhi_hand_computed():
    df = flows([("WORLD", "ga", 2023, "CHN", 60.0), ("WORLD", "ga", 2023, "JPN", 30.0),
                ("WORLD", "ga", 2023, "Other countries", 10.0)])
    scores = {"CHN": 6.0, "jpn": 2.0}  # matched case-insensitively
    out = governance_weighted_concentration(df, scores, residual_partners=RESIDUAL_PARTNERS).iloc[0]
    # shares of the total 100 (residual included): 0.6, 0.3; residual carries no term
    # HHI = 0.36 + 0.09 = 0.45; HHI_WGI = 0.36*6 + 0.09*2 = 2.34; weighted score = 2.34 / 0.45 = 5.2
    assert out["hhi"] == pytest.approx(0.45) and out["hhi_weighted"] == pytest.approx(2.34)
    assert out["weighted_score"] == pytest.approx(5.2) and out["score_coverage"] == 1.0
    # trade-restriction factor 1.2 on China: 0.36*6*1.2 + 0.18 = 2.772
    t = governance_weighted_concentration(df, scores, trade_factors={"CHN": 1.2}, residual_partners=RESIDUAL_PARTNERS)
    assert t.iloc[0]["hhi_weighted"] == pytest.approx(2.772)
    # plain HHI agrees with concentration_table
    assert out["hhi"] == pytest.approx(concentration_table(df, residual_partners=RESIDUAL_PARTNERS).iloc[0]["hhi"])


def test_missing_scores_are_an_error_unless_a_default_is_given():
    df = flows([("W", "x", 1, "A", 1.0), ("W", "x", 1, "B", 3.0), ("W", "x", 1, "C", 0.0)])
    with pytest.raises(ValueError, match=r"no entry for 1 supplying partner\(s\): 'B'"):
        governance_weighted_concentration(df, {"A": 1.0})  # C supplies nothing: not needed
    out = governance_weighted_concentration(df, {"A": 1.0}, missing_score=10.0).iloc[0]
    assert out["hhi_weighted"] == pytest.approx(0.25**2 * 1 + 0.75**2 * 10)
    assert out["score_coverage"] == pytest.approx(0.25)
    with pytest.raises(ValueError, match=r"scores\['A'\] must be >= 0"):
        governance_weighted_concentration(df, {"A": -1.0, "B": 1.0})
    with pytest.raises(ValueError, match=r"trade_factors\['A'\] must be > 0"):
        governance_weighted_concentration(df, {"A": 1.0, "B": 1.0}, trade_factors={"A": 0})


def test_eu_supply_risk_formula():
    # SR = [HHI_GS * IR/2 + HHI_EU * (1 - IR/2)] * (1 - EoL) * SI
    assert eu_supply_risk(4.0, 2.0, 1.0) == pytest.approx(4 * 0.5 + 2 * 0.5)
    assert eu_supply_risk(4.0, 2.0, 0.5, eol_rir=0.1, substitution_index=0.9) == pytest.approx(
        (4 * 0.25 + 2 * 0.75) * 0.9 * 0.9)
    assert eu_supply_risk(4.0, 2.0, 1.7) == eu_supply_risk(4.0, 2.0, 1.0)  # IR clipped to [0, 1]
    np.testing.assert_allclose(eu_supply_risk([1.0, 2.0], 1.0, 0.0), [1.0, 1.0])
    with pytest.raises(ValueError, match="eol_rir"):
        eu_supply_risk(1.0, 1.0, 0.5, eol_rir=1.5)


def test_governance_findings_need_an_explicit_threshold():
    df = flows([("WORLD", "ga", 2023, "CHN", 98.0), ("WORLD", "ga", 2023, "JPN", 2.0)])
    table = governance_weighted_concentration(df, {"CHN": 6.0, "JPN": 2.0})
    [finding] = governance_findings(table, threshold=2.0, names={"ga": ("gallium", "镓")})
    assert finding.kind == "governance_weighted_concentration"
    assert finding.observed == pytest.approx(0.98**2 * 6 + 0.02**2 * 2)
    assert finding.explanation_en.startswith("In 2023, governance-weighted concentration of WORLD's gallium supply is 5.76 > 2")
    assert governance_findings(table, threshold=6.0) == []
    with pytest.raises(TypeError):
        governance_findings(table)  # no default threshold


def test_gallium_world_production_weighted():
    df = usgs_world_production(read_usgs_world("mcs2024", "galli"), "gallium", field="Prod_kg_est_2023")
    # illustrative scores (not real WGI values): the point is the arithmetic on real shares
    scores = {"China": 6.0, "Japan": 2.0, "Korea, Republic of": 2.5, "Russia": 7.0, "United States": 2.0}
    out = governance_weighted_concentration(df, scores, residual_partners=RESIDUAL_PARTNERS).iloc[0]
    # (600^2*6 + 3^2*2 + 2^2*2.5 + 5^2*7) / 610^2 = 2,160,203 / 372,100 = 5.805437
    assert out["hhi_weighted"] == pytest.approx(2_160_203 / 372_100, abs=1e-9)
