"""The stress-test engine (indicators/stress.py): hand-computed graphs and properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indicators.stress import (
    DAYS_PER_MONTH,
    NodeBaseline,
    NodeBuffers,
    Shock,
    simulate_chain,
)

TOL = 1e-12


def test_embargo_with_ramp_up_capacity_cap_and_inventory():
    # X ships 80%, Y 20% of a fully imported node; X stops for 3 months. Stock: 1.2 months
    # (36.5 days). Alternatives add 25% of the lost volume per month from the month after
    # the loss, capped by Y doubling its 0.2: R = 0, min(0.2, 0.2), min(0.4, 0.2).
    # Gap 0.8, 0.6, 0.6 -> stock covers 0.8 + 0.4 -> shortfall 0, 0.2, 0.6, 0, 0.
    base = NodeBaseline("a", {("X", "1111"): 80.0, ("Y", "1111"): 20.0})
    buffers = {"a": NodeBuffers(inventory_days=36.5, ramp_up_share_per_month=0.25, alternative_capacity=1.0)}
    shock = Shock("export_cut", 1.0, start_month=1, months=3, partner="X")
    result = simulate_chain("c", [base], [shock], 5, buffers)
    node = result.nodes["a"]
    np.testing.assert_allclose(node.shortfall, [0, 0.2, 0.6, 0, 0], atol=TOL)
    np.testing.assert_allclose(node.replacement, [0, 0.2, 0.2, 0, 0], atol=TOL)
    np.testing.assert_allclose(node.import_loss, [0.8, 0.8, 0.8, 0, 0], atol=TOL)
    np.testing.assert_allclose(node.inventory_days, [0.4 * DAYS_PER_MONTH, 0, 0, 0, 0], atol=1e-9)
    assert node.time_to_impact_months == 1      # month 1 is covered by stock, month 2 is short
    assert node.peak_shortfall == pytest.approx(0.6)
    assert node.months_to_recovery == 3         # short up to month 3, normal from month 4
    assert node.impact_score == pytest.approx(60.0)
    assert result.impact_score == pytest.approx(60.0)
    assert result.level == "yellow"             # 50 <= 60 < 70
    assert result.time_to_impact_months == 1


def test_shortfall_propagates_downstream_in_proportion_to_input_dependence():
    # u: half domestic, its only partner X cuts 50% for 2 months -> loss 0.5 * 0.5 = 0.25.
    # d: 80% domestic, half of its domestic output needs u -> Q_loss = 0.8 * 0.5 * 0.25 = 0.1,
    # and half of any gap is met by substitutes -> 0.05.
    u = NodeBaseline("u", {("X", "2222"): 100.0}, criticality=1.0)
    d = NodeBaseline("d", {("Z", "3333"): 10.0}, depends_on=("u",), criticality=0.5)
    buffers = {"u": NodeBuffers(domestic_share=0.5),
               "d": NodeBuffers(domestic_share=0.8, input_dependence=0.5, substitution_share=0.5)}
    shock = Shock("export_cut", 0.5, months=2, partner="X", nodes=frozenset({"u"}))
    result = simulate_chain("c", [u, d], [shock], 3, buffers)
    np.testing.assert_allclose(result.nodes["u"].shortfall, [0.25, 0.25, 0], atol=TOL)
    np.testing.assert_allclose(result.nodes["d"].domestic_loss, [0.1, 0.1, 0], atol=TOL)
    np.testing.assert_allclose(result.nodes["d"].shortfall, [0.05, 0.05, 0], atol=TOL)
    assert result.nodes["d"].months_to_recovery == 2
    # chain: weighted mean (1*25 + 0.5*5)/1.5 = 18.33, weakest link max(25, 0.5*5) = 25
    assert result.impact_score == pytest.approx(25.0)
    assert result.level == "blue"


def test_logistics_and_production_shocks_combine():
    # Half domestic. Output -20% in months 1-4 (loss 0.1); imports -30% in months 2-3
    # (loss 0.15): 0.1, 0.25, 0.25, 0.1, 0.
    base = NodeBaseline("n", {("X", "4444"): 1.0})
    shocks = [Shock("production_drop", 0.2, months=4), Shock("logistics", 0.3, start_month=2, months=2)]
    result = simulate_chain("c", [base], shocks, 5, {"n": NodeBuffers(domestic_share=0.5)})
    np.testing.assert_allclose(result.nodes["n"].shortfall, [0.1, 0.25, 0.25, 0.1, 0], atol=TOL)
    assert result.nodes["n"].time_to_impact_months == 0


def test_overlapping_cuts_multiply_and_logistics_losses_are_not_replaceable():
    # X and Y ship half each. Two overlapping 50% cuts by X -> 75% of X lost; logistics
    # -20% on everything. L_exp = 0.5 * 0.8 * 0.75 = 0.3; L_log = 0.2. Ramp-up is 1 but
    # starts the month after the first loss, so month 1 has no replacement.
    base = NodeBaseline("n", {("X", "5555"): 50.0, ("Y", "5555"): 50.0})
    shocks = [Shock("export_cut", 0.5, months=2, partner="X"), Shock("export_cut", 0.5, months=2, partner="X"),
              Shock("logistics", 0.2, months=1)]
    result = simulate_chain("c", [base], shocks, 2, {"n": NodeBuffers(ramp_up_share_per_month=1.0)})
    node = result.nodes["n"]
    np.testing.assert_allclose(node.import_loss, [0.5, 0.375], atol=TOL)
    # month 2: ramp 1 -> replace min(0.375, Y's spare 1.0 * 0.5) = 0.375
    np.testing.assert_allclose(node.replacement, [0, 0.375], atol=TOL)
    np.testing.assert_allclose(node.shortfall, [0.5, 0], atol=TOL)


def test_product_filter_matches_longer_codes_and_other_partners_are_spared():
    base = NodeBaseline("n", {("X", "810520"): 30.0, ("X", "2605"): 70.0})
    result = simulate_chain("c", [base], [Shock("export_cut", 1.0, partner="X", products=frozenset({"8105"}))], 1)
    assert result.nodes["n"].shortfall[0] == pytest.approx(0.3)


def test_node_without_imports_is_hit_only_through_production_and_inputs():
    base = NodeBaseline("n", {})
    result = simulate_chain("c", [base], [Shock("logistics", 1.0), Shock("production_drop", 0.4)], 1)
    assert result.nodes["n"].shortfall[0] == pytest.approx(0.4)


def test_never_short_gives_no_impact_and_zero_recovery():
    result = simulate_chain("c", [NodeBaseline("n", {("X", "1"): 1.0})], [Shock("export_cut", 0.0, partner="X")], 3)
    node = result.nodes["n"]
    assert (node.time_to_impact_months, node.peak_shortfall, node.months_to_recovery) == (None, 0.0, 0)
    assert (result.impact_score, result.level, result.time_to_impact_months) == (0.0, "none", None)


def test_still_short_at_the_horizon_has_no_recovery():
    result = simulate_chain("c", [NodeBaseline("n", {("X", "1"): 1.0})], [Shock("export_cut", 1.0, partner="X",
                                                                                months=6)], 3)
    assert result.nodes["n"].months_to_recovery is None


@pytest.mark.parametrize(("make", "message"), [
    (lambda: Shock("export_cut", 1.5, partner="X"), "cut_share must lie in [0, 1]"),
    (lambda: Shock("export_cut", 1.0, months=0, partner="X"), "months must be >= 1"),
    (lambda: Shock("export_cut", 1.0), "needs a partner"),
    (lambda: Shock("flood", 1.0), "kind must be"),
    (lambda: NodeBuffers(domestic_share=1.2), "domestic_share must lie in [0, 1]"),
    (lambda: NodeBuffers(inventory_days=-1), "inventory_days must be a finite number >= 0"),
    (lambda: simulate_chain("c", [NodeBaseline("n")], [], 0), "horizon_months must be >= 1"),
    (lambda: simulate_chain("c", [NodeBaseline("n", depends_on=("m",))], [], 1), "depends on 'm'"),
    (lambda: simulate_chain("c", [NodeBaseline("a", depends_on=("b",)), NodeBaseline("b", depends_on=("a",))], [], 1),
     "dependency cycle"),
])
def test_invalid_inputs_name_the_argument(make, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        make()


# --- properties ---------------------------------------------------------------------

volumes = st.dictionaries(st.sampled_from(["X", "Y", "Z"]), st.floats(0.0, 1000.0), min_size=1)
shares = st.floats(0.0, 1.0)


@st.composite
def chains(draw):
    """A three-node chain a, b -> c with random imports and buffers."""
    baselines = [
        NodeBaseline("a", {(p, "1111"): v for p, v in draw(volumes).items()}),
        NodeBaseline("b", {(p, "2222"): v for p, v in draw(volumes).items()}),
        NodeBaseline("c", {(p, "3333"): v for p, v in draw(volumes).items()}, depends_on=("a", "b"),
                     criticality=0.5),
    ]
    buffers = {n: NodeBuffers(inventory_days=draw(st.floats(0, 120)), ramp_up_share_per_month=draw(shares),
                              alternative_capacity=draw(st.floats(0, 3)), substitution_share=draw(shares),
                              domestic_share=draw(shares), input_dependence=draw(shares)) for n in "abc"}
    horizon = draw(st.integers(1, 12))
    kind = draw(st.sampled_from(["export_cut", "production_drop", "logistics"]))
    nodes = draw(st.sampled_from([None, frozenset({"a"}), frozenset({"a", "c"})]))
    template = {"kind": kind, "start_month": draw(st.integers(1, horizon)), "months": draw(st.integers(1, 12)),
                "partner": "X" if kind == "export_cut" else None, "nodes": nodes}
    return baselines, buffers, horizon, template


def _run(case, **changes):
    baselines, buffers, horizon, template = case
    buffers = changes.pop("buffers", buffers)
    shock = Shock(**{**template, "cut_share": changes.pop("cut_share", 0.5), **changes})
    return simulate_chain("c", baselines, [shock], horizon, buffers)


@settings(max_examples=150, deadline=None)
@given(chains(), shares, shares)
def test_a_bigger_shock_never_gives_a_smaller_shortfall(case, first, second):
    small, big = sorted([first, second])
    low, high = _run(case, cut_share=small), _run(case, cut_share=big)
    for node in "abc":
        assert np.all(low.nodes[node].shortfall <= high.nodes[node].shortfall + TOL)
    assert low.impact_score <= high.impact_score + 1e-9


@settings(max_examples=100, deadline=None)
@given(chains(), st.integers(1, 12), st.integers(1, 12))
def test_a_longer_shock_never_gives_a_smaller_shortfall(case, first, second):
    short, long = sorted([first, second])
    low, high = _run(case, cut_share=0.8, months=short), _run(case, cut_share=0.8, months=long)
    for node in "abc":
        assert np.all(low.nodes[node].shortfall <= high.nodes[node].shortfall + TOL)


@settings(max_examples=150, deadline=None)
@given(chains(), st.floats(0, 200), shares)
def test_more_inventory_never_gives_an_earlier_impact(case, extra_days, cut):
    buffers = case[1]
    more = {n: NodeBuffers(**{**b.__dict__, "inventory_days": b.inventory_days + extra_days})
            for n, b in buffers.items()}
    base, stocked = _run(case, cut_share=cut), _run(case, cut_share=cut, buffers=more)
    for node in "abc":
        before, after = base.nodes[node].time_to_impact_months, stocked.nodes[node].time_to_impact_months
        assert after is None or (before is not None and after >= before)
        assert np.all(stocked.nodes[node].shortfall <= base.nodes[node].shortfall + TOL)


@settings(max_examples=100, deadline=None)
@given(chains())
def test_zero_shock_gives_zero_shortfall(case):
    result = _run(case, cut_share=0.0)
    for node in result.nodes.values():
        assert np.all(node.shortfall == 0.0)
        assert node.time_to_impact_months is None and node.months_to_recovery == 0
    assert result.impact_score == 0.0 and result.level == "none"


@settings(max_examples=150, deadline=None)
@given(chains(), shares)
def test_shortfall_stays_within_zero_and_one(case, cut):
    result = _run(case, cut_share=cut)
    for node in result.nodes.values():
        assert np.all((node.shortfall >= 0) & (node.shortfall <= 1))
        assert np.all(node.inventory_days >= 0)
    assert 0 <= result.impact_score <= 100


def test_zero_import_volumes_count_as_no_imports():
    result = simulate_chain("c", [NodeBaseline("n", {("X", "1"): 0.0, ("Y", "1"): 0.0})],
                            [Shock("export_cut", 1.0, partner="X"), Shock("logistics", 1.0)], 2)
    assert np.all(result.nodes["n"].shortfall == 0.0)
