"""Concentration over millions of flow rows: the vectorised table vs a groupby().apply().

Synthetic, seeded data shaped like a product-level trade extract: 20 reporters x 500
HS6 products x 10 years = 100,000 (reporter, product, year) groups, partners drawn
from 200 countries with skewed (gamma) values, so about 50 rows per group and some
repeated (group, partner) rows that must be summed. Codes are strings, as read from a
CSV or the database. Target (issue 4): 5 million rows in <= 3 s on the 2-core machine.

The straightforward implementation (one Python function per group through
``groupby().apply()``) is timed on a 5 % sample (25 of the 500 products, the same rows
per group) and extrapolated linearly in the number of groups; the vectorised table is
timed on the same sample too, so the sample ratio is measured, not extrapolated.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from benchmarks.table import BenchRow
from indicators.concentration import concentration_table
from indicators.vocabulary import AGGREGATE_PARTNERS

KEYS = ["reporter", "product", "period"]


def synthetic_flows(n_rows: int, seed: int = 20240501, n_products: int = 500) -> pd.DataFrame:
    """Seeded long table ``reporter, partner, product, period, value`` with string codes."""
    rng = np.random.default_rng(seed)
    reporters = np.array([f"R{i:02d}" for i in range(20)])
    products = np.array([f"{280000 + i:06d}" for i in range(n_products)])
    partners = np.array([f"P{i:03d}" for i in range(200)])
    # a few big suppliers and a long tail: partner index drawn from a truncated geometric
    partner_idx = np.minimum(rng.geometric(0.03, n_rows) - 1, len(partners) - 1)
    return pd.DataFrame({
        "reporter": reporters[rng.integers(0, len(reporters), n_rows)],
        "partner": partners[partner_idx],
        "product": products[rng.integers(0, n_products, n_rows)],
        "period": rng.integers(2015, 2025, n_rows),
        "value": np.ceil(rng.gamma(0.6, 1e6, n_rows)),  # whole units, never 0
    })


def naive_concentration(flows: pd.DataFrame) -> pd.DataFrame:
    """The obvious implementation: one Python function per group via groupby().apply()."""
    flows = flows[~flows["partner"].astype(str).str.strip().str.upper().isin(AGGREGATE_PARTNERS)]

    def one_group(group: pd.DataFrame) -> pd.Series:
        by_partner = group.groupby("partner")["value"].sum()
        total = by_partner.sum()
        shares = (by_partner / total).sort_values(ascending=False, kind="mergesort")
        hhi = float((shares**2).sum())
        return pd.Series({
            "total": total, "n_partners": int((by_partner > 0).sum()), "hhi": hhi,
            "hhi_points": hhi * 10_000, "cr1": shares.iloc[0], "cr3": shares.iloc[:3].sum(),
            "top_partner": shares.index[0], "top_share": shares.iloc[0], "effective_n": 1 / hhi,
        })

    return flows.groupby(KEYS).apply(one_group).reset_index()


def _timed(repeats: int, func, *args):
    """(first run, best run, result): the first run is cold (string hashes not yet cached)."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = func(*args)
        times.append(time.perf_counter() - start)
    return times[0], min(times), result


def run(quick: bool) -> list[BenchRow]:
    """Time concentration_table on 5M rows (200k with ``quick``) and the apply() baseline."""
    n_rows = 200_000 if quick else 5_000_000
    repeats = 1 if quick else 3
    flows = synthetic_flows(n_rows)
    n_groups = flows.groupby(KEYS).ngroups
    label = f"{n_rows / 1e6:g}M rows, {n_groups:,} groups"

    first, seconds, table = _timed(repeats, concentration_table, flows)
    assert len(table) == n_groups
    cat = flows.astype({"reporter": "category", "partner": "category", "product": "category"})
    _, cat_seconds, _ = _timed(repeats, concentration_table, cat)

    # the apply() baseline on a 5 % sample: 25 of the 500 products, same rows per group
    # (generated fresh, so its strings sit together in memory like the full table's)
    subset = synthetic_flows(n_rows // 20, seed=7, n_products=25)
    sub_groups = subset.groupby(KEYS).ngroups
    naive_seconds, _, naive = _timed(1, naive_concentration, subset)
    _, vec_sub_seconds, vec_sub = _timed(repeats, concentration_table, subset)
    merged = vec_sub.merge(naive, on=KEYS, suffixes=("", "_naive"))
    assert len(merged) == sub_groups
    assert np.allclose(merged["hhi"], merged["hhi_naive"].astype(float), rtol=1e-9)
    naive_full = naive_seconds * n_groups / sub_groups

    target = "<= 3 s" if not quick else "(quick)"
    return [
        BenchRow("concentration", f"concentration_table, {label}", seconds, "s", target, f"best of {repeats}"),
        BenchRow("concentration", "concentration_table, first (cold) run", first, "s", target,
                 "includes hashing every string once"),
        BenchRow("concentration", "concentration_table throughput", n_rows / seconds, "rows/s"),
        BenchRow("concentration", "concentration_table, categorical codes", cat_seconds, "s", "",
                 "same data with category dtype for the code columns"),
        BenchRow("concentration", f"groupby().apply(), {len(subset):,} rows / {sub_groups:,} groups",
                 naive_seconds, "s", "", "measured on a 5 % sample (25 products)"),
        BenchRow("concentration", f"concentration_table, same {len(subset):,} rows", vec_sub_seconds, "s", "",
                 "measured; results equal to apply()"),
        BenchRow("concentration", "speed-up on the sample (apply / vectorised)", naive_seconds / vec_sub_seconds,
                 "x", "", "measured"),
        BenchRow("concentration", f"groupby().apply(), {label}", naive_full, "s", "",
                 "EXTRAPOLATED linearly in groups from the sample, not run"),
        BenchRow("concentration", "speed-up at full size (apply / vectorised)", naive_full / seconds, "x", "",
                 "uses the extrapolated apply() time"),
    ]
