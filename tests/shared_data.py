"""Readers for the real-data fixtures copied into ``tests/fixtures/`` (provenance:
tests/fixtures/README.md), so that the tests run in any clone.

File reading lives here, in the tests; the parsing under test is pure code in
``indicators/``. The one real series not copied is the New York Fed GSCPI (its terms of
use are not an open licence): tests reading it take its path from
``CHAINWATCH_TEST_GSCPI_CSV`` and are skipped, with the reason shown, without it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
USGS = FIXTURES / "usgs_all"
"""Every world file of the USGS MCS 2024 data release, byte-exact (public domain)."""
EVAL = FIXTURES / "eval"
"""The disruption evaluation set: real series and labelled onsets (tests/fixtures/README.md)."""
COMTRADE_US_CN = FIXTURES / "comtrade" / "us_china_critical_minerals_annual_2020_2024.csv"

GSCPI = Path(os.environ.get("CHAINWATCH_TEST_GSCPI_CSV") or "/nonexistent/gscpi_monthly.csv")
"""The GSCPI CSV named by ``CHAINWATCH_TEST_GSCPI_CSV`` (unset: a path that never exists, not a file in the cwd)."""
needs_gscpi = pytest.mark.skipif(
    not GSCPI.is_file(),
    reason="the NY Fed GSCPI is not shipped (not openly licensed): set CHAINWATCH_TEST_GSCPI_CSV to its CSV"
           + (f" (now {GSCPI}, not a file)" if os.environ.get("CHAINWATCH_TEST_GSCPI_CSV") else ""))


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
