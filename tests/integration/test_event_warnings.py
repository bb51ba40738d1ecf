"""Issue #26 "done when": recorded Federal Register responses and the curated file give
node-level warnings on the right nodes, graded by exposure measured from stored data.

Stored data: the real USGS MCS 2024 gallium world file (tests/fixtures/usgs/) and a small
illustrative table of China's imports of wafer-fab equipment (HS 848620; the shares are
test input, not statistics), on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date, timedelta
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


def test_stored_events_alert_on_their_nodes_and_a_withdrawal_resolves(stored, catalog, clock):
    import random
    from datetime import datetime, timezone

    import httpx

    from indicators.events import Event
    from monitor.assess.assessment import AssessmentResult
    from monitor.config.loader import load_config
    from monitor.notify.alerting import AlertPipeline
    from monitor.store.events import save_events
    from tests.conftest import CONFIG_DIR

    clock.now = datetime(2023, 10, 25, 6, tzinfo=timezone.utc)
    with stored.begin() as session:
        save_events(session, load_events([CURATED], FR_PAGES), clock())
    config = load_config(CONFIG_DIR, environ={"CHAINWATCH_WEBHOOK_URL": "http://127.0.0.1:9/hook"})
    empty = AssessmentResult(run_id=1, as_of=date(2023, 9, 1), chains=[], findings=[])
    with httpx.Client() as client:
        pipeline = AlertPipeline(config, stored, client, clock, rng=random.Random(1))
        first = pipeline.evaluate(empty)
        firing = {(a.labels["node"], a.labels["series"]): a for a in first.alerts
                  if a.is_firing and a.labels["alertname"] == "policy-event"}
        sme = firing[("fab-equipment", "federal_register:2023-23049")]
        assert (sme.labels["level"], sme.labels["severity"]) == ("yellow", "warning")  # 0.8 x 31 % imports
        assert "BIS licensing 2023-10-25" in sme.annotations["summary"]
        assert "in force in 23 days (2023-11-17)" in sme.annotations["summary"]
        assert "https://www.federalregister.gov/documents/2023/10/25/2023-23049/" in sme.annotations["summary"]
        assert ("gallium-germanium", "events-file:cn-2023-ga-ge") in firing
        # the Ga/Ge licensing is withdrawn by a later notice: its alert resolves at the next evaluation
        withdrawal = Event(event_id="events-file:cn-2023-ga-ge-end", source="events-file", status="withdrawn",
                           title="商务部 海关总署公告2023年第23号 关于对镓、锗相关物项实施出口管制的公告; amendment",
                           kind="notice", issuer="CHN", announced=date(2023, 10, 24))
        with stored.begin() as session:
            assert save_events(session, [withdrawal], clock()).linked == 1
        clock.now += timedelta(hours=1)
        second = pipeline.evaluate(empty)
        states = {a.labels["series"]: a.state for a in second.alerts if a.labels["alertname"] == "policy-event"}
        assert states["events-file:cn-2023-ga-ge"] == "resolved"
        assert states["federal_register:2023-23049"] == "firing"
