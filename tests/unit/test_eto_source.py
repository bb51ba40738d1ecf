"""The CSET/ETO Chip Explorer source (monitor/collect/eto.py) on an extract of the published files.

Golden figures: CSET/ETO Chip Explorer ``provision.csv`` (github.com/georgetown-cset/eto-supply-chain,
data/, provision last changed 2022-09-13; CC BY-NC 4.0; the CSET report "The Semiconductor
Supply Chain: Assessing National Competitiveness", 2021): the Netherlands 100 % of EUV
scanners and 91 % of ArF immersion scanners. Tolerance 1 percentage point of the file's own
number. Fixtures: tests/fixtures/eto/ (tests/fixtures/README.md).
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from monitor.assess.world_supply import measure_world_supply
from monitor.collect.base import CollectionError
from monitor.collect.eto import EtoChipsCollector, eto_country_shares, read_eto_files
from monitor.config.countries import country_name_en
from monitor.config.models import EtoChipsSource, Node

ETO = Path(__file__).parents[1] / "fixtures" / "eto"


def _collect(location: Path | str = ETO):
    return EtoChipsCollector(EtoChipsSource(id="eto-chips", kind="eto_chips", location=str(location))).collect()


def _node(stems: dict[str, str]) -> Node:
    return Node.model_validate({
        "id": "fab-equipment", "name": {"en": "Fab equipment", "zh": "晶圆制造设备"}, "stage": "upstream",
        "criticality": 1.0, "hs_codes": ["848620"],
        "world_supply": [{"series": s, "name": {"en": n, "zh": n}} for s, n in stems.items()]})


def _by_stem(observations: pd.DataFrame) -> dict[str, pd.DataFrame]:
    stem = observations["series_id"].str.rsplit(".", n=1).str[0]
    return {s: g.reset_index(drop=True) for s, g in observations.groupby(stem)}


@pytest.mark.parametrize(("stem", "name", "country", "published"), [
    ("eto.n20", "EUV scanner", "NLD", 1.00),
    ("eto.n22", "ArF immersion scanner", "NLD", 0.91),
])
def test_lithography_shares_match_the_published_file(stem, name, country, published):
    # through the world-supply dimension, as the assessment reads it
    score, details, driver = measure_world_supply(_node({stem: name}), _by_stem(_collect().observations),
                                                  "CHN", None, 8, 0.8)
    stage = details["stages"][0]
    assert stage["top_partner"] == country
    assert abs(stage["top_share"] - published) <= 0.01
    assert stage["year"] == 2019 and stage["home_share"] is None  # China has no published share
    assert f"{country_name_en(country)} {published:.0%} of world {name} output in 2019" in driver[1]


def test_firm_shares_add_up_to_the_country_figures_the_file_publishes():
    # The aggregation used when an input is published only by firm, checked where the
    # file gives both: ASML -> NLD, Nikon -> JPN reproduce the country rows of N20-N22.
    tables = read_eto_files(ETO)
    provision, providers = tables["provision"], tables["providers"]
    countries = set(providers.loc[providers["provider_type"] == "country", "provider_id"])
    lithography = provision["provided_id"].isin(["N20", "N21", "N22"])
    published, _ = eto_country_shares(provision[lithography], providers)
    firms_only, rejected = eto_country_shares(provision[lithography & ~provision["provider_id"].isin(countries)],
                                              providers)
    pd.testing.assert_frame_equal(firms_only, published)
    assert rejected == {"negligible": 1}  # SMEE's ArF share: negligible, not a figure


def test_unpublished_and_negligible_shares_are_not_stored_as_zero():
    batch = _collect()
    ids = set(batch.observations["series_id"])
    assert not any(i.startswith("eto.n31.") for i in ids)  # photoresist: no share published
    assert "eto.n21.CHN" not in ids  # SMEE (China) negligible in ArF scanners
    assert batch.rejected["not_published"] > 0 and batch.rejected["negligible"] > 0
    assert (batch.observations["value"] > 0).all()


def test_world_is_the_whole_market_and_rounding_over_100_is_not_hidden():
    observations = _collect().observations
    obs = observations.set_index("series_id")["value"]
    assert obs["eto.n71.WORLD"] == 100.0
    named = obs[obs.index.str.startswith("eto.n71.") & ~obs.index.str.endswith(".WORLD")]
    assert named.sum() == 104.0  # the file's rounded shares of dicing tools
    _, details, _ = measure_world_supply(_node({"eto.n71": "dicing tool"}), _by_stem(observations),
                                         "CHN", None, 8, 0.8)
    stage = details["stages"][0]
    # the denominator is the larger of 100 and the named sum (docs/dimensions.md): 85/104, not 85/100
    assert stage["top_share"] == pytest.approx(85 / 104)
    assert stage["partner_coverage"] == pytest.approx(1.0)


def test_malaysia_code_and_firm_countries_resolve(tmp_path):
    provision = pd.DataFrame({"provider_name": ["MAL", "Various", "Acme"], "provider_id": ["P46", "P5", "P9"],
                              "provided_name": "Testing", "provided_id": ["N78", "N78", "N79"],
                              "share_provided": ["60%", "40%", "70%"], "negligible_market_share": ""})
    providers = pd.DataFrame({"provider_name": ["MAL", "Various", "Acme"], "provider_id": ["P46", "P5", "P9"],
                              "provider_type": ["country", "country", "organization"], "country": ["", "", "USA"]})
    shares, _ = eto_country_shares(provision, providers)
    assert shares.to_dict("records") == [{"provided_id": "N78", "partner": "MYS", "share": 60.0},
                                         {"provided_id": "N78", "partner": "OTHERS", "share": 40.0},
                                         {"provided_id": "N79", "partner": "USA", "share": 70.0}]


def test_a_share_that_is_not_a_percent_names_file_and_row(tmp_path):
    for name in ("providers", "inputs", "stages"):
        shutil.copy(ETO / f"{name}.csv", tmp_path / f"eto_chipexplorer_{name}.csv")  # the shared-folder names
    text = (ETO / "provision.csv").read_text(encoding="utf-8").replace("NLD,P45,EUV scanners,N20,100%",
                                                                        "NLD,P45,EUV scanners,N20,about all")
    (tmp_path / "provision.csv").write_text(text, encoding="utf-8")
    with pytest.raises(CollectionError, match=r"provision\.csv: row \d+: share_provided 'about all'"):
        _collect(tmp_path)


@pytest.mark.parametrize("location", ["", "missing"])
def test_absent_files_say_which_and_where_to_get_them(tmp_path, location):
    where = "" if not location else str(tmp_path / location)
    with pytest.raises(CollectionError) as err:
        _collect(where)
    message = str(err.value)
    assert "provision.csv" in message and "github.com/georgetown-cset/eto-supply-chain" in message
    assert "\n" not in message


def test_year_and_release_are_configurable():
    batch = EtoChipsCollector(EtoChipsSource(id="eto", kind="eto_chips", location=str(ETO), year=2021,
                                             released=date(2024, 9, 26))).collect()
    assert set(batch.observations["period"]) == {pd.Timestamp(2021, 1, 1)}
    assert batch.vintage == "ETO-2024-09-26"
