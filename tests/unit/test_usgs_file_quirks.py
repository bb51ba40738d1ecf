"""USGS MCS world files whose header quirks once failed a whole load of the three releases.

Each case copies the first lines of a published MCS 2024 file (the shared data folder's
``usgs_minerals/mcs2024_world``): ``mcs2024-alumi_world.csv`` writes its release
``MCS 2024``; ``mcs2024-garne_world.csv`` (also ``fepig``, ``zeoli``) leaves ``Source``
empty; ``mcs2024-abras_world.csv`` holds plant capacity only (``Cap_t_est_<year>``).
"""

from __future__ import annotations

import pandas as pd
import pytest

from indicators.production import usgs_release
from monitor.collect.base import CollectionError
from monitor.collect.usgs import UsgsCollector
from monitor.config.models import UsgsSource

GARNET = ("\ufeffSource,Country,Type,Prod_t_2022,Prod_t_est_2023,Prod_notes,Reserves_t,Reserves_notes,,\n"
          ",United States,Mine production,76400,68000,,5000000,,,\n"
          ",Australia,Mine production,388000,390000,,NA,Considered to be moderate to large,,\n"
          ",World total (rounded),Mine production,1100000,1100000,,NA,,,\n")
ABRASIVES = ("\ufeffSource,Country,Type,Cap_t_est_2022,Cap_t_est_2023,Prod_notes\n"
             "MCS2024,United States,\"Plant capacity, fused aluminum oxide\",0,0,\n")


def _collect(tmp_path, files: dict[str, str]):
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return UsgsCollector(UsgsSource(id="usgs", kind="usgs", location=str(tmp_path))).collect()


def test_a_release_written_with_a_space_is_the_same_release():
    raw = pd.DataFrame({"Source": ["MCS 2024", "MCS2024"], "Country": ["United States", "Australia"]})
    assert usgs_release(raw) == "MCS2024"


def test_an_empty_source_column_takes_the_release_from_the_file_name(tmp_path):
    batch = _collect(tmp_path, {"mcs2024-garne_world.csv": GARNET})
    assert set(batch.observations["vintage"]) == {"MCS2024"}
    values = batch.observations.set_index(["series_id", "period"])["value"]
    assert values[("usgs.garne.mine.AUS", pd.Timestamp(2023, 1, 1))] == 390000.0


def test_without_a_fallback_an_empty_source_column_is_an_error():
    with pytest.raises(ValueError, match="names 0 releases"):
        usgs_release(pd.DataFrame({"Source": ["", ""], "Country": ["a", "b"]}))


def test_a_capacity_only_file_is_skipped_and_counted_not_fatal(tmp_path):
    batch = _collect(tmp_path, {"mcs2024-garne_world.csv": GARNET, "mcs2024-abras_world.csv": ABRASIVES})
    assert batch.rejected["no_production_field"] == 1
    assert not batch.observations["series_id"].str.startswith("usgs.abras.").any()


def test_only_capacity_files_is_an_error_that_says_so(tmp_path):
    with pytest.raises(CollectionError, match="1 hold capacity only"):
        _collect(tmp_path, {"mcs2024-abras_world.csv": ABRASIVES})


def test_codes_other_than_five_letters_are_world_files_too(tmp_path):
    # mcs2024-tin_world.csv, mcs2024-zirco-hafni_world.csv: once silently not found
    text = GARNET.replace(",United", "MCS2024,United").replace(",Australia", "MCS2024,Australia")
    batch = _collect(tmp_path, {"mcs2024-tin_world.csv": text, "mcs2024-zirco-hafni_world.csv": text})
    codes = set(batch.observations["series_id"].str.split(".").str[1])
    assert codes == {"tin", "zirco-hafni"}
