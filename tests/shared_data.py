"""Readers for the real-data fixtures in ``../shared/data`` (see its PROVENANCE.md).

File reading lives here, in the tests; the parsing under test is pure code in
``indicators/``. Tests that need the folder use :data:`needs_shared`, which skips them
with the path in the reason when it is absent.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
DATA = SHARED / "data"
USGS = DATA / "usgs_minerals"
COMTRADE_US_CN = DATA / "bilateral_trade" / "comtrade_us_china_critical_minerals_annual_2020_2024.csv"

needs_shared = pytest.mark.skipif(
    not (USGS.is_dir() and COMTRADE_US_CN.is_file()),
    reason=f"shared real-data folder not found at {DATA} (expected next to the repository)",
)


def read_usgs_world(release: str, code: str) -> pd.DataFrame:
    """A USGS MCS world file as published (strings), e.g. ``("mcs2024", "galli")``."""
    folder = USGS / f"{release}_world"
    matches = [p for p in folder.glob("*.csv") if p.name.lower() == f"{release}-{code}_world.csv"]
    if not matches:
        raise FileNotFoundError(f"no {release}-{code}_world.csv in {folder}")
    return pd.read_csv(matches[0], dtype=str, encoding="utf-8-sig")


def read_comtrade_us_china() -> pd.DataFrame:
    """The Comtrade extract as a flows table.

    Keeps the totals over mode of transport, customs procedure and second partner
    (``motCode == 0``, ``customsCode == "C00"``, ``partner2Code == 0``, ``mosCode ==
    0``): the file also has per-transport-mode breakdowns that would double count.
    Columns: ``reporter, partner, product, period, flow, value`` (primaryValue, USD),
    ``quantity`` (qty, kg: qtyUnitCode 8), ``unit`` (qtyUnitCode).
    """
    raw = pd.read_csv(COMTRADE_US_CN)
    total = raw[(raw["motCode"] == 0) & (raw["customsCode"] == "C00") & (raw["partner2Code"] == 0)
                & (raw["mosCode"] == 0)]
    return pd.DataFrame({
        "reporter": total["reporterCode"].astype(str),
        "partner": total["partnerCode"].astype(str),
        "product": total["cmdCode"].astype(str),
        "period": total["refYear"].astype("int64"),
        "flow": total["flowCode"],
        "value": total["primaryValue"].astype(float),
        "quantity": total["qty"].astype(float),
        "unit": total["qtyUnitCode"].astype(str),
    }).reset_index(drop=True)
