"""The stress engine's network model (issue 22): substitution bounded by world supply,
world rationing, propagation across chains with shares and lead times, capacity goods,
lead-time effects, value at risk, TTS/TTR and the sensitivity table. Pure, no I/O."""

from __future__ import annotations

import numpy as np
import pytest

from indicators.stress import (
    DAYS_PER_MONTH,
    SENSITIVITY_ASSUMPTIONS,
    Input,
    NodeBuffers,
    NodeSpec,
    Shock,
    sensitivity,
    simulate_network,
)

CUT_X = Shock("export_cut", 1.0, months=6, partner="X")


def _node(key="n", imports=None, world=None, **buffers):
    return NodeSpec(key, imports if imports is not None else {("X", "1"): 50.0, ("Y", "1"): 50.0},
                    buffers=NodeBuffers(**buffers), world_shares=world or {})


def test_a_dominant_producer_cannot_be_replaced():
    spec = _node(world={"X": 0.7, "Y": 0.1}, ramp_up_share_per_month=1.0, spare_capacity=1.0)
    result = simulate_network([spec], [CUT_X], 6)["n"]
    assert np.all(result.replacement == 0.0)
    assert result.shortfall[0] == pytest.approx(0.7)  # world rationing: Y's goods carry X's stage too


def test_replacement_is_bounded_by_spare_capacity_of_the_rest_of_the_world():
    spec = _node(world={"X": 0.4, "Y": 0.3}, ramp_up_share_per_month=1.0, spare_capacity=0.1)
    result = simulate_network([spec], [CUT_X], 6)["n"]
    phi = 0.1 * (1 - 0.4) / 0.4  # 0.15 of the loss can be replaced
    loss = 0.5  # X ships half of the imports (more than the world rationing 0.4)
    assert result.replacement[2] == pytest.approx(phi * loss)
    assert result.shortfall[2] == pytest.approx(loss * (1 - phi))


def test_without_world_shares_the_old_alternative_capacity_rule_applies():
    spec = _node(ramp_up_share_per_month=1.0, alternative_capacity=0.2)
    result = simulate_network([spec], [CUT_X], 3)["n"]
    assert result.replacement[2] == pytest.approx(0.2 * 0.5)  # Y ships +20% of its half


def test_shortfalls_propagate_across_chains_with_share_and_lead_time_and_show_the_path():
    mine = _node("minerals/cobalt", imports={("X", "1"): 1.0})
    refine = NodeSpec("batteries/precursors", {}, inputs=(Input("minerals/cobalt", 0.5, 2),))
    pack = NodeSpec("nev/packs", {}, inputs=(Input("batteries/precursors", 1.0, 1),))
    results = simulate_network([pack, refine, mine], [CUT_X], 12)
    assert results["minerals/cobalt"].shortfall[0] == pytest.approx(1.0)
    up = results["batteries/precursors"]
    assert up.upstream_loss[:2].sum() == 0 and up.upstream_loss[2] == pytest.approx(0.5)  # 2 months later
    assert up.shortfall[2] == pytest.approx(0.5)  # fully domestic node: its output falls
    assert results["nev/packs"].shortfall[3] == pytest.approx(0.5)
    assert results["nev/packs"].path == ("nev/packs", "batteries/precursors", "minerals/cobalt")
    assert results["minerals/cobalt"].path == ("minerals/cobalt",)


def test_an_essential_input_stops_the_output_that_needs_it_whatever_its_value():
    # a $1/month microcontroller supply short by 40% and a $1000/month steel supply short by 10%
    mcu = NodeSpec("mcu", {("X", "1"): 1.0})
    steel = NodeSpec("steel", {("Y", "1"): 1000.0})
    car = NodeSpec("car", {}, inputs=(Input("mcu", 1.0, 0), Input("steel", 1.0, 0)))
    module = NodeSpec("module", {}, inputs=(Input("mcu", 0.3, 0),))  # 30% of modules carry the chip
    shocks = [Shock("export_cut", 0.4, months=3, partner="X"), Shock("export_cut", 0.1, months=3, partner="Y")]
    results = simulate_network([mcu, steel, car, module], shocks, 3)
    assert results["mcu"].shortfall[0] == pytest.approx(0.4)
    # Leontief: the scarcest input binds in full, not weighted by its value nor averaged with steel
    assert results["car"].shortfall[0] == pytest.approx(0.4)
    assert results["car"].path == ("car", "mcu")
    # only the part of output that needs the input loses it
    assert results["module"].shortfall[0] == pytest.approx(0.3 * 0.4)


def test_a_loss_through_an_input_draws_only_the_stock_of_the_goods_that_need_it():
    mine = _node("cobalt", imports={("X", "1"): 1.0})
    # 30% of the cathode output (NCM) needs the precursor; its stock is 30% of 2 months'
    cathode = NodeSpec("cathode", {}, inputs=(Input("cobalt", 0.3, 0),),
                       buffers=NodeBuffers(inventory_days=2 * DAYS_PER_MONTH))
    result = simulate_network([mine, cathode], [Shock("export_cut", 1.0, months=12, partner="X")], 12)["cathode"]
    # 0.3 of demand lost a month; its 0.6 months of stock last 2 months (not the whole stock's 6.7)
    assert result.shortfall[:2] == pytest.approx([0.0, 0.0])
    assert result.shortfall[2] == pytest.approx(0.3)
    assert result.inventory_days[-1] == pytest.approx(0.7 * 2 * DAYS_PER_MONTH)  # the rest stays for other losses


def test_an_unknown_input_or_a_cycle_is_refused():
    with pytest.raises(ValueError, match="which has no baseline"):
        simulate_network([NodeSpec("a", inputs=(Input("b"),))], [], 1)
    with pytest.raises(ValueError, match="cycle"):
        simulate_network([NodeSpec("a", inputs=(Input("b"),)), NodeSpec("b", inputs=(Input("a"),))], [], 1)


def test_a_capacity_good_delays_capacity_additions_lagged_and_persistent():
    tools = _node("tools", imports={("X", "1"): 1.0}, kind="capacity", capacity_growth_per_year=0.12)
    fab = NodeSpec("fab", {}, inputs=(Input("tools", 1.0, 2),))
    results = simulate_network([tools, fab], [Shock("export_cut", 1.0, months=3, partner="X")], 12)
    loss = results["fab"].upstream_loss
    assert results["tools"].kind == "capacity"
    assert loss[:2].sum() == 0  # nothing before the lead time
    assert loss[2] == pytest.approx(0.01) and loss[4] == pytest.approx(0.03)  # 1%/month of tools lost
    assert loss[-1] == pytest.approx(0.03)  # persistent: lost capacity is not rebuilt within the horizon
    consumable = simulate_network([_node("tools", imports={("X", "1"): 1.0}), fab],
                                  [Shock("export_cut", 1.0, months=3, partner="X")], 12)
    assert consumable["fab"].upstream_loss[2] == pytest.approx(1.0) and consumable["fab"].upstream_loss[-1] == 0


def test_a_longer_route_delays_the_goods_at_sea():
    spec = _node(domestic_share=0.5)
    shock = Shock("logistics", 0.0, months=3, lead_time_days=DAYS_PER_MONTH / 2)
    result = simulate_network([spec], [shock], 4)["n"]
    assert result.lead_time_loss[0] == pytest.approx(0.5 * 0.5) and result.lead_time_loss[1:].sum() == 0
    assert result.shortfall[0] == pytest.approx(0.25)
    with pytest.raises(ValueError, match="only a logistics shock"):
        Shock("export_cut", 1.0, partner="X", lead_time_days=3)


def test_value_at_risk_and_simchi_levi_times():
    spec = _node(imports={("X", "1"): 600.0, ("Y", "1"): 400.0}, domestic_share=0.5,
                 inventory_days=DAYS_PER_MONTH * 0.3)
    result = simulate_network([spec], [Shock("export_cut", 1.0, months=2, partner="X")], 6)["n"]
    # loss 0.3 a month for 2 months, 0.3 months of stock: short 0 then 0.3
    assert list(np.round(result.shortfall, 6)) == [0, 0.3, 0, 0, 0, 0]
    assert result.value_at_risk_usd == pytest.approx(0.3 * 1000 / 0.5)  # demand = imports / (1 - d)
    assert (result.time_to_survive_months, result.time_to_recover_months) == (1, 2)


def test_recovery_months_let_a_cut_fade_after_the_shock():
    shock = Shock("export_cut", 1.0, months=2, partner="X", recovery_months=3)
    assert list(shock.active(6)) == [1, 1, 0.75, 0.5, 0.25, 0]


def test_the_sensitivity_table_moves_each_assumption_both_ways():
    spec = _node(world={"X": 0.3}, inventory_days=20, ramp_up_share_per_month=0.2, domestic_share=0.4)
    rows = sensitivity([spec], [CUT_X], 8)
    assert {r["assumption"] for r in rows} == set(SENSITIVITY_ASSUMPTIONS)
    assert all(r["base"] == rows[0]["base"] for r in rows) and rows[0]["base"] > 0
    assert [r["swing"] for r in rows] == sorted((r["swing"] for r in rows), reverse=True)
    inventory = next(r for r in rows if r["assumption"] == "inventory_days")
    assert inventory["low"] > inventory["base"] > inventory["high"]
