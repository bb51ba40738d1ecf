"""The ``usgs`` source: USGS MCS world files parsed, stored as observations, vintages by release.

Fixtures: tests/fixtures/usgs/ (real MCS 2023 and 2024 data-release files, byte-exact;
provenance in tests/fixtures/README.md).
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timezone
from pathlib import Path

import pandas as pd
import pytest

from indicators.production import (
    USGS_OTHER_COUNTRIES,
    USGS_WORLD,
    usgs_release,
    usgs_reserves,
    usgs_stage,
    usgs_world_concentration,
    usgs_world_production,
    usgs_world_records,
)
from monitor.collect.collection import CollectionRunner, build_collectors
from monitor.collect.base import CollectionError
from monitor.collect.usgs import (
    MCS_RELEASE_DATES,
    UsgsCollector,
    UsgsWorldFile,
    read_world_file,
    usgs_iso3,
    usgs_observations,
    usgs_observations_batch,
    usgs_release_date,
    usgs_world_files,
    usgs_world_supply,
)
from monitor.config.models import SourcesFile, UsgsSource
from monitor.store.observations import load_observations
from monitor.store.tables import Observation, Series

FIXTURES = Path(__file__).parents[1] / "fixtures" / "usgs"
MCS2023 = FIXTURES / "mcs2023_world"
MCS2024 = FIXTURES / "mcs2024_world"


def world(release_dir: Path, name: str) -> pd.DataFrame:
    return read_world_file(release_dir / name)


# --- parser quirks (table-driven) ------------------------------------------------------

@pytest.mark.parametrize(
    ("path", "quirk", "check"),
    [
        (MCS2024 / "mcs2024-galli_world.csv", "UTF-8 BOM before 'Source'",
         lambda raw, rec: list(raw.columns[:3]) == ["Source", "Country", "Type"]),
        (MCS2024 / "mcs2024-fluor_world.csv", "3rd header 'Mine production, fluorspar' instead of 'Type'",
         lambda raw, rec: set(rec["stage"]) == {"mine"} and set(rec["measure"]) == {"Mine production, fluorspar"}),
        (MCS2024 / "MCS2024-bismu_world.csv", "upper-case file name, 'Prod_note' header",
         lambda raw, rec: set(rec["stage"]) == {"refinery"} and "Laos" in set(rec["partner"])),
        (MCS2024 / "mcs2024-lithi_world.csv", "W (withheld): no value, flag withheld",
         lambda raw, rec: rec[rec["partner"] == "United States"]["flag"].eq("withheld").all()
         and rec[rec["partner"] == "United States"]["value"].isna().all()),
        (MCS2024 / "mcs2024-fluor_world.csv", "NA (not available): no value",
         lambda raw, rec: rec[rec["partner"] == "United States"]["flag"].eq("not_available").all()),
        (MCS2024 / "mcs2024-galli_world.csv", "footnote markers 'Japane', 'Korea, Republic ofe', 'Other countries4'",
         lambda raw, rec: {"Japan", "Korea, Republic of", USGS_OTHER_COUNTRIES} <= set(rec["partner"])
         and rec[rec["partner"] == "Japan"]["marked_estimated"].all()),
        (MCS2024 / "mcs2024-galli_world.csv", "'World total (rounded)' is the WORLD row",
         lambda raw, rec: rec[rec["partner"] == USGS_WORLD]["value"].tolist() == [610000.0, 610000.0]),
        (MCS2023 / "mcs2023-lithi_world.csv", "'World total (rounded), excluding U.S. production'",
         lambda raw, rec: rec[rec["partner"] == USGS_WORLD]["value"].tolist() == [107000.0, 130000.0]),
        (MCS2024 / "mcs2024-graph_world.csv", "thousands separators in some cells ('72,000')",
         lambda raw, rec: rec[(rec["partner"] == "Brazil") & (rec["period"] == 2022)]["value"].tolist() == [72000.0]),
        (MCS2024 / "mcs2024-nicke_world.csv", "'Also estimated in 2022' note marks 2022 estimated",
         lambda raw, rec: rec[(rec["partner"] == "China") & (rec["period"] == 2022)]["marked_estimated"].all()
         and not rec[(rec["partner"] == "Canada") & (rec["period"] == 2022)]["marked_estimated"].any()),
        (MCS2023 / "mcs2023-cobal_world.csv", "'Production in 2021 is also estimated.' note",
         lambda raw, rec: rec[(rec["partner"] == "Congo (Kinshasa)") & (rec["period"] == 2021)]
         ["marked_estimated"].all()),
        (MCS2024 / "mcs2024-cobal_world.csv", "both years in _est_ fields",
         lambda raw, rec: rec["estimated"].all()),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_parser_quirks(path, quirk, check):
    raw = read_world_file(path)
    rec = usgs_world_records(raw, "x")
    assert check(raw, rec), quirk


@pytest.mark.parametrize(
    ("cell", "value", "flag"),
    [("1,200", 1200.0, ""), ("e5,000", 5000.0, ""), ("W", None, "withheld"), ("NA", None, "not_available"),
     ("XX", None, "not_applicable"), (">25000", None, "text"), ("    >9,100,000", None, "text"),
     ("Included in World total.", None, "text"), ("", None, "empty")],
)
def test_cells(cell, value, flag):
    raw = pd.DataFrame([["MCS2024", "Chile", "Mine production", cell]],
                       columns=["Source", "Country", "Type", "Prod_t_2022"], dtype=str)
    out = usgs_world_production(raw, "x", drop_missing=False)
    assert out["flag"].tolist() == [flag]
    assert (out["value"].isna().all() if value is None else out["value"].tolist() == [value])


@pytest.mark.parametrize(
    ("text", "stage"),
    [("Mine production, lithium content", "mine"), ("Primary production", "primary"),
     ("Refinery production", "refinery"), ("Primary and secondary refinery production", "refinery"),
     ("Smelter production, aluminum", "smelter"), ("Plant production, lime", "plant"),
     ("Mne production, grosss weight, marketable chromite ore", "mine"),
     ("Rare earths, mine production, rare-earth-oxide equivalent, metric tons", "mine"),
     ("World mine production: Platinum", "mine"), ("Pig iron, million metric tons", "production")],
)
def test_stage_slugs(text, stage):
    assert usgs_stage(text) == stage


def test_several_types_of_one_stage_get_qualified_slugs():
    raw = pd.DataFrame([["MCS2024", "China", "Plant production, silicon metal", "1"],
                        ["MCS2024", "China", "Plant production, silicon content of ferrosilicon", "2"],
                        ["MCS2024", "World total (rounded)", "Plant production, silicon metal", "3"]],
                       columns=["Source", "Country", "Type", "Prod_kt_2023"], dtype=str)
    rec = usgs_world_records(raw, "simet")
    assert set(rec["stage"]) == {"plant-silicon-metal", "plant-silicon-content-ferrosilicon"}


@pytest.mark.parametrize(
    ("name", "iso3"),
    [("Congo (Kinshasa)", "COD"), ("Korea, Republic of", "KOR"), ("Korea, North", "PRK"), ("Burma", "MMR"),
     ("Russia", "RUS"), ("Turkey", "TUR"), ("Laos", "LAO"), ("New Caledonia", "NCL"), ("Côte d’Ivoire", "CIV"),
     ("Brazil (beneficiated)", "BRA"), ("Kazakhstan, concentrate", "KAZ"), ("United States", "USA"),
     (USGS_WORLD, "WORLD"), (USGS_OTHER_COUNTRIES, "OTHERS"), ("United States and Canada", None)],
)
def test_country_codes(name, iso3):
    assert usgs_iso3(name) == iso3


def test_release_reserves_and_files():
    raw = world(MCS2024, "mcs2024-lithi_world.csv")
    assert usgs_release(raw) == "MCS2024"
    assert usgs_release_date("MCS2024") == date(2024, 1, 31) == MCS_RELEASE_DATES["MCS2024"]
    assert usgs_release_date("MCS2030") == date(2030, 1, 31)
    assert usgs_release_date("MCS2024", {"MCS2024": date(2024, 3, 6)}) == date(2024, 3, 6)
    res = usgs_reserves(raw, "lithi").set_index("partner")
    assert res.loc["Australia", "value"] == 6_200_000 and res.loc[USGS_WORLD, "value"] == 28_000_000
    nickel = usgs_reserves(world(MCS2024, "mcs2024-nicke_world.csv"), "nicke").set_index("partner")
    assert pd.isna(nickel.loc[USGS_WORLD, "value"]) and nickel.loc[USGS_WORLD, "flag"] == "text"  # ">130,000,000"
    codes = [code for code, _ in usgs_world_files(str(MCS2024))]
    assert "bismu" in codes and "galli" in codes  # MCS2024-bismu_world.csv matched despite upper case
    assert [c for c, _ in usgs_world_files([str(MCS2023), str(MCS2024)], ["galli"])] == ["galli", "galli"]


# --- observations ---------------------------------------------------------------------

def test_observations_of_one_file_series_ids_units_flags():
    frame, infos, rejected = usgs_observations(world(MCS2024, "mcs2024-galli_world.csv"), "galli")
    by = frame.set_index(["series_id", "period"])
    # kg converted to metric tons; 2023 field estimated; 2022 estimated by the name marker
    assert by.loc[("usgs.galli.primary.CHN", pd.Timestamp("2023-01-01")), "value"] == 600.0
    assert by.loc[("usgs.galli.primary.CHN", pd.Timestamp("2023-01-01")), "estimate_flags"] == "estimated"
    assert by.loc[("usgs.galli.primary.JPN", pd.Timestamp("2022-01-01")), "estimate_flags"] == "estimated"
    assert by.loc[("usgs.galli.primary.USA", pd.Timestamp("2022-01-01")), "estimate_flags"] is None
    assert by.loc[("usgs.galli.primary.WORLD", pd.Timestamp("2022-01-01")), "value"] == 610.0
    assert set(frame["vintage"]) == {"MCS2024"}
    assert set(frame["released_at"]) == {datetime(2024, 1, 31, tzinfo=timezone.utc)}
    assert infos["usgs.galli.primary.CHN"].unit == "t (Primary production)"
    assert {"usgs.galli.primary.OTHERS", "usgs.galli.primary.KOR", "usgs.galli.primary.RUS"} <= set(infos)
    assert not rejected


def test_withheld_is_no_value_and_flags_the_world_total_confidential():
    frame, infos, rejected = usgs_observations(world(MCS2024, "mcs2024-lithi_world.csv"), "lithi")
    assert not frame["series_id"].str.endswith(".USA").any() or \
        set(frame[frame["series_id"].str.endswith(".USA")]["series_id"]) == {"usgs.lithi.reserves.USA"}
    assert rejected["withheld"] == 2
    worlds = frame[frame["series_id"] == "usgs.lithi.mine.WORLD"].set_index("period")["estimate_flags"]
    assert worlds.to_dict() == {pd.Timestamp("2022-01-01"): "confidential",
                                pd.Timestamp("2023-01-01"): "estimated,confidential"}
    assert "withheld (W) in MCS2024: 2022 (mine): USA; 2023 (mine): USA" in infos["usgs.lithi.mine.WORLD"].description
    assert frame[frame["series_id"] == "usgs.lithi.reserves.USA"]["value"].tolist() == [1_100_000.0]


def test_a_batch_parses_each_file_as_it_would_alone():
    # The collector parses all files in one pass: no file's duplicates, withheld countries,
    # reserves year, release or series descriptions may leak into another's.
    files = []
    for code, path in usgs_world_files([str(MCS2023), str(MCS2024)]):
        raw = read_world_file(path)
        files.append(UsgsWorldFile(raw, code, usgs_release(raw), usgs_release_date(usgs_release(raw)), str(path)))
    frame, infos, rejected = usgs_observations_batch(files)
    alone = [usgs_observations(f.raw, f.code) for f in files]
    pd.testing.assert_frame_equal(frame, pd.concat([a[0] for a in alone], ignore_index=True))
    assert rejected == sum((a[2] for a in alone), Counter())
    described: dict = {}
    for _, file_infos, _ in alone:
        described.update(file_infos)  # the later file describes a series
    assert infos == described
    assert set(frame["vintage"]) == {"MCS2023", "MCS2024"}


def test_a_batch_names_the_file_that_is_no_world_file():
    good = read_world_file(MCS2024 / "mcs2024-galli_world.csv")
    bad = pd.DataFrame({"Source": ["MCS2024"], "Nation": ["Chile"], "Prod_t_2023": ["1"]})
    with pytest.raises(ValueError, match=r"^b\.csv: raw has no 'Country' column"):
        usgs_observations_batch([UsgsWorldFile(good, "galli", "MCS2024", date(2024, 1, 31), "a.csv"),
                                 UsgsWorldFile(bad, "x", "MCS2024", date(2024, 1, 31), "b.csv")])


def test_config_kind_usgs():
    parsed = SourcesFile.model_validate({"sources": [
        {"id": "usgs-mcs", "kind": "usgs", "location": ["a", "b"], "commodities": ["lithi", "galli"],
         "released": {"MCS2024": "2024-03-06"}}]})
    assert isinstance(parsed.sources[0], UsgsSource)
    with pytest.raises(ValueError):
        SourcesFile.model_validate({"sources": [{"id": "u", "kind": "usgs", "location": "a",
                                                 "commodities": ["lithium"]}]})


def test_missing_location_and_no_files_are_collection_errors(tmp_path):
    with pytest.raises(CollectionError, match="does not exist"):
        UsgsCollector(UsgsSource(id="u", kind="usgs", location=str(tmp_path / "nope"))).collect()
    with pytest.raises(CollectionError, match="no USGS MCS world file .* for manga"):
        UsgsCollector(UsgsSource(id="u", kind="usgs", location=str(MCS2024), commodities=["manga"])).collect()


# --- end to end into SQLite and PostgreSQL, the vintage rule --------------------------

def _runner(sessions, clock, location, **extra):
    source = UsgsSource(id="usgs-mcs", kind="usgs", location=location, **extra)
    return CollectionRunner([UsgsCollector(source)], sessions, clock)


SERIES_2022 = ["usgs.cobal.mine.COD", "usgs.cobal.mine.WORLD"]


def test_end_to_end_newest_release_wins_never_doubled(sessions, clock):
    # MCS 2024 loaded first, MCS 2023 (older release) afterwards: 2022 is read from MCS 2024
    first = _runner(sessions, clock, str(MCS2024), commodities=["cobal"]).collect("usgs-mcs")
    assert first.ok and first.rows_ingested > 0
    second = _runner(sessions, clock, str(MCS2023), commodities=["cobal"]).collect("usgs-mcs")
    assert second.ok
    with sessions() as session:
        loaded = load_observations(session, SERIES_2022, with_provenance=True)
        stored = session.query(Observation).filter(Observation.series_id == "usgs.cobal.mine.COD").all()
        unit = session.get(Series, "usgs.cobal.mine.COD").unit
    got = loaded.set_index(["series_id", "period"])["value"]
    assert got[("usgs.cobal.mine.COD", pd.Timestamp("2022-01-01"))] == 144000.0  # MCS2024, not MCS2023's 130000
    assert got[("usgs.cobal.mine.COD", pd.Timestamp("2021-01-01"))] == 119000.0  # only in MCS2023
    assert got[("usgs.cobal.mine.COD", pd.Timestamp("2023-01-01"))] == 170000.0
    assert len(loaded) == 6 and not loaded.duplicated(["series_id", "period"]).any()
    # both vintages of 2022 are stored
    assert sorted((o.period.year, o.vintage) for o in stored) == [
        (2021, "MCS2023"), (2022, "MCS2023"), (2022, "MCS2024"), (2023, "MCS2024")]
    assert unit.startswith("t (Mine production")


def test_end_to_end_both_releases_in_one_source_and_rerun_adds_nothing(sessions, clock):
    runner = _runner(sessions, clock, [str(MCS2023), str(MCS2024)], commodities=["cobal", "lithi", "galli"])
    first = runner.collect("usgs-mcs")
    assert first.ok, first.error
    with sessions() as session:
        loaded = load_observations(session, ["usgs.lithi.mine.AUS", "usgs.lithi.mine.WORLD",
                                             "usgs.galli.primary.CHN"], with_provenance=True)
    got = loaded.set_index(["series_id", "period"])
    assert got.loc[("usgs.lithi.mine.AUS", pd.Timestamp("2022-01-01")), "value"] == 74700.0  # MCS2024 (final)
    assert got.loc[("usgs.lithi.mine.AUS", pd.Timestamp("2022-01-01")), "estimate_flags"] is None
    assert got.loc[("usgs.lithi.mine.WORLD", pd.Timestamp("2022-01-01")), "estimate_flags"] == "confidential"
    assert got.loc[("usgs.galli.primary.CHN", pd.Timestamp("2022-01-01")), "value"] == 600.0  # MCS2024 over 540
    again = runner.collect("usgs-mcs")
    assert again.ok and again.rows_ingested == 0 and again.rows_unchanged == first.rows_ingested


def test_world_supply_from_loaded_observations(sessions, clock):
    _runner(sessions, clock, [str(MCS2023), str(MCS2024)], commodities=["lithi"]).collect("usgs-mcs")
    ids = [f"usgs.lithi.mine.{c}" for c in ("USA", "ARG", "AUS", "BRA", "CAN", "CHL", "CHN", "PRT", "ZWE",
                                             "OTHERS", "WORLD")]
    with sessions() as session:
        loaded = load_observations(session, ids)
    table = usgs_world_supply(loaded, withheld={("lithi.mine", 2023): ["USA"]}).set_index(["product", "period"])
    row = table.loc[("lithi.mine", 2023)]
    assert row["top_partner"] == "AUS" and row["world_total"] == 180000.0
    assert row["top_share_published"] == pytest.approx(86000 / 180000)
    assert row["withheld"] == "USA"
    assert table.loc[("lithi.mine", 2022), "top_share_published"] == pytest.approx(74700 / 146000)  # MCS2024


def test_build_collectors_knows_kind_usgs(catalog):
    from types import SimpleNamespace

    config = SimpleNamespace(catalog=catalog, sources=SourcesFile.model_validate(
        {"sources": [{"id": "u", "kind": "usgs", "location": str(MCS2024)}]}))
    assert isinstance(build_collectors(config)[0], UsgsCollector)


def test_world_concentration_treats_others_and_gap_as_remainder():
    flows = pd.DataFrame({"partner": ["A", "B", USGS_OTHER_COUNTRIES, USGS_WORLD, "C"],
                          "value": [50.0, 20.0, 10.0, 100.0, float("nan")],
                          "flag": ["", "", "", "", "withheld"], "period": 2023, "product": "x"})
    row = usgs_world_concentration(flows).iloc[0]
    assert row["top_partner"] == "A" and row["top_share"] == pytest.approx(0.5)
    assert row["partner_coverage"] == pytest.approx(0.7) and row["top_share_upper"] == pytest.approx(0.8)
    assert row["withheld"] == "C" and row["n_partners"] == 2
