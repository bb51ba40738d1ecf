"""Issue #26 "done when": recorded Federal Register responses and the curated file give
node-level warnings on the right nodes, graded by exposure measured from stored data.

Stored data: the real USGS MCS 2024 gallium world file (tests/fixtures/usgs/) and a small
illustrative table of China's imports of wafer-fab equipment (HS 848620; the shares are
test input, not statistics), on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from indicators.events import map_events
from monitor.assess.event_exposure import node_profiles
from monitor.cli.events import country_names, load_events, mapping_document
from monitor.collect.collection import CollectionRunner
from monitor.collect.usgs import UsgsCollector
from monitor.config.models import UsgsSource
from monitor.records import CollectedBatch
from monitor.store.observations import store_batch

FIXTURES = Path(__file__).parents[1] / "fixtures"
FR_PAGES = [FIXTURES / "federal_register" / f"documents_bis_2023-10_page{n}.json" for n in (1, 2)]
CURATED = FIXTURES / "events" / "curated_events.csv"
#: illustrative import values, USD million a month, HS 848620 into China
FAB_IMPORTS = {"JPN": 35.0, "USA": 31.0, "NLD": 24.0, "KOR": 10.0}


@pytest.fixture
def stored(sessions, clock):
    usgs = UsgsSource(id="usgs-mcs", kind="usgs", location=str(FIXTURES / "usgs" / "mcs2024_world"),
                      commodities=["galli"])
    assert CollectionRunner([UsgsCollector(usgs)], sessions, clock).collect("usgs-mcs").ok
    rows = [{"reporter": "CHN", "partner": partner, "product": "848620", "flow": "M", "period": period,
             "value": value * 1e6, "quantity": np.nan}
            for period in pd.date_range("2022-11-01", "2023-12-01", freq="MS") for partner, value in FAB_IMPORTS.items()]
    store_batch(sessions, CollectedBatch(source="test", vintage="v1", trade_flows=pd.DataFrame(rows)), clock())
    return sessions


def warnings_on(day: date, sessions, catalog) -> dict:
    events = load_events([CURATED], FR_PAGES)
    with sessions() as session:
        profiles = node_profiles(catalog, session, day)
    mapping = map_events(events, profiles, catalog.home, country_names(events, catalog.home))
    return mapping_document(events, mapping, day)


def test_bis_rule_and_ga_ge_licensing_warn_on_the_right_nodes_graded_by_exposure(stored, catalog):
    doc = warnings_on(date(2023, 10, 25), stored, catalog)
    found = {(w["event_id"], f"{w['chain']}/{w['node']}"): w for w in doc["warnings"]}

    sme = found[("federal_register:2023-23049", "semiconductors/fab-equipment")]
    assert sme["exposure"] == pytest.approx(0.31)  # the USA's share of the stored imports
    assert sme["level"] == "yellow"  # licensing 0.8 x 0.31 = 0.25
    assert "31% of the node's imports come from United States" in sme["explanation"]["en"]
    assert sme["days_until_effective"] == 23  # in force 2023-11-17: a countdown
    assert ("federal_register:2023-23055", "semiconductors/integrated-circuits") in found

    gage = found[("events-file:cn-2023-ga-ge", "critical-minerals/gallium-germanium")]
    assert gage["exposure"] is None  # China's own measure: no supply exposure for the home economy CHN
    assert {n for e, n in found if e == "events-file:cn-2023-ga-ge"} == {"critical-minerals/gallium-germanium"}

    assert {u["event_id"] for u in doc["unmatched"]} == {"events-file:cn-2024-antimony", "federal_register:2023-23048"}


def test_ga_ge_licensing_grades_red_for_an_economy_importing_from_china(stored, catalog):
    watched_from_usa = catalog.model_copy(update={"home": "USA"})
    doc = warnings_on(date(2023, 7, 3), stored, watched_from_usa)
    gage = next(w for w in doc["warnings"] if w["event_id"] == "events-file:cn-2023-ga-ge")
    assert gage["exposure"] == pytest.approx(600000 / 610000)  # MCS 2024: China's primary gallium, 2022
    assert gage["level"] == "red"
    assert gage["days_until_effective"] == 29


def test_a_withdrawn_measure_resolves_its_warning(stored, catalog):
    doc = warnings_on(date(2020, 4, 7), stored, catalog)
    withdrawn = [w for w in doc["warnings"] if w["event_id"] == "events-file:in-2020-api-restriction"]
    assert withdrawn and all(w["level"] == "none" and w["status"] == "withdrawn" for w in withdrawn)


def test_nothing_after_the_day_is_read(stored, catalog):
    before = warnings_on(date(2022, 10, 31), stored, catalog)  # imports stored from 2022-11 only
    sme = next(w for w in before["warnings"] if w["event_id"] == "federal_register:2023-23049" and w["node"] == "fab-equipment")
    assert sme["exposure"] is None
