"""Backtest: the 2021 chip shortage's effect on US motor-vehicle output (protocol: docs/stress.md).

``python -m benchmarks.backtest_chip_shortage`` runs the stress engine on two nodes
(chips for vehicle makers → vehicles) with the pre-registered shocks and compares the
vehicles' output loss with G.17 ``IPG3361T3S`` against its 2015–2019 trend
(``config/snapshot/data/fred/IPG3361T3S.csv``, shipped with chainwatch).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from indicators.backtest import PathErrors, path_errors, trend_shortfall
from indicators.stress import DAYS_PER_MONTH, Input, NodeBuffers, NodeSpec, Shock, simulate_network

SERIES = Path(__file__).resolve().parents[1] / "config" / "snapshot" / "data" / "fred" / "IPG3361T3S.csv"
FIT = ("2015-01-01", "2019-12-01")
HORIZON = ("2021-01-01", "2022-12-01")
MONTHS = 24

# The pre-registered inputs (docs/stress.md, "Backtest"); month 1 = 2021-01. Depths illustrative.
SHOCKS = (
    Shock("production_drop", 0.10, start_month=1, months=12, nodes=frozenset({"chips"}), recovery_months=6),
    Shock("production_drop", 0.05, start_month=2, months=2, nodes=frozenset({"chips"}), recovery_months=2),
    Shock("production_drop", 0.10, start_month=4, months=3, nodes=frozenset({"chips"})),
    Shock("production_drop", 0.10, start_month=7, months=3, nodes=frozenset({"chips"}), recovery_months=2),
)
NODES = (
    # stock: median inventory of key chips at their users in 2019, 40 days (US Commerce RFI, Jan 2022)
    NodeSpec("chips", buffers=NodeBuffers(inventory_days=40.0)),
    # share and lead as the catalog's new-energy-vehicles/electric-vehicles input of integrated circuits when
    # the protocol was registered (docs/stress.md); the catalog says 1.0 since, the registered run keeps 0.9
    NodeSpec("vehicles", inputs=(Input("chips", 0.9, 1),)),
)


def model_path() -> pd.Series:
    """The vehicles node's monthly output loss (share of normal output) over the horizon."""
    result = simulate_network(NODES, SHOCKS, MONTHS)["vehicles"]
    return pd.Series(result.domestic_loss, index=pd.date_range(HORIZON[0], periods=MONTHS, freq="MS"))


def actual_path(path: Path = SERIES) -> pd.Series:
    """``1 − IPG3361T3S / trend`` over the horizon."""
    frame = pd.read_csv(path, parse_dates=["observation_date"])
    series = frame.set_index("observation_date")["IPG3361T3S"].astype(float)
    return trend_shortfall(series, FIT, HORIZON)


def run() -> tuple[pd.DataFrame, PathErrors]:
    """Both paths side by side and the errors."""
    model, actual = model_path(), actual_path()
    table = pd.DataFrame({"model": model, "actual": actual})
    return table, path_errors(table["model"].to_numpy(), table["actual"].to_numpy())


def main() -> int:
    if not SERIES.is_file():
        print(f"backtest: {SERIES} not found (it ships with chainwatch's snapshot profile)", file=sys.stderr)
        return 1
    table, errors = run()
    print("2021 chip shortage, US motor vehicles and parts (IPG3361T3S): output shortfall vs 2015-2019 trend, %")
    print(f"{'month':<8} {'model':>7} {'actual':>7}")
    for month, row in table.iterrows():
        print(f"{month:%Y-%m}  {100 * row['model']:>7.1f} {100 * row['actual']:>7.1f}")
    print(f"peak shortfall difference (model - actual): {errors.peak_difference_points:+.1f} points")
    print(f"trough timing (model - actual): {errors.trough_timing_months:+d} months")
    print(f"mean absolute error of the path: {errors.mean_absolute_error_points:.1f} points")
    print(f"(chips' stock: {NODES[0].buffers.inventory_days / DAYS_PER_MONTH:.2f} months of use)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
