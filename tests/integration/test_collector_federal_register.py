"""The Federal Register source collected and stored like the other sources (SQLite and PostgreSQL):
events stored in the batch's transaction, incremental from the latest stored publication,
a failed fetch leaves stored events intact."""

from __future__ import annotations

import httpx

from monitor.collect.collection import CollectionRunner
from monitor.collect.federal_register import FederalRegisterCollector
from monitor.config.models import FederalRegisterSource
from monitor.store.events import load_events
from tests.collector_fakes import Script, fixture_json, json_response, options


def runner(sessions, clock, script: Script) -> CollectionRunner:
    settings = FederalRegisterSource(id="federal-register", kind="federal_register", base_url="https://fr.test",
                                     start="2023-01", lookback_months=1, max_attempts=2)
    return CollectionRunner([FederalRegisterCollector(settings, options=options(script))], sessions, clock)


def test_collected_documents_are_stored_then_fetched_incrementally(sessions, clock):
    pages = [json_response(fixture_json(f"federal_register/documents_bis_2023-10_page{n}.json")) for n in (1, 2)]
    first = runner(sessions, clock, Script(*pages)).collect("federal-register")
    assert first.ok and first.rows_ingested == 3
    with sessions() as session:
        assert [e.event_id for e in load_events(session)] == [
            "federal-register:2023-23048", "federal-register:2023-23049", "federal-register:2023-23055"]

    again = Script(*[json_response(fixture_json(f"federal_register/documents_bis_2023-10_page{n}.json"))
                     for n in (1, 2)])
    rerun = runner(sessions, clock, again).collect("federal-register")
    # counted against the stored events: nothing new or revised (#25 "collect counts truthfully")
    assert rerun.ok and (rerun.rows_new, rerun.rows_revised, rerun.rows_unchanged) == (0, 0, 3)
    # latest stored publication 2023-10-25 -> October, less one month of look-back
    assert again.requests[0].url.params["conditions[publication_date][gte]"] == "2023-09-01"
    with sessions() as session:
        assert len(load_events(session)) == 3  # updated, not doubled


def test_a_failed_fetch_keeps_the_stored_events(sessions, clock):
    page = json_response(fixture_json("federal_register/documents_bis_2023-10_page2.json"))
    assert runner(sessions, clock, Script(page)).collect("federal-register").ok
    failed = runner(sessions, clock, Script(default=lambda request: httpx.Response(503))).collect("federal-register")
    assert not failed.ok and "federal-register" in failed.error
    with sessions() as session:
        assert [e.event_id for e in load_events(session)] == ["federal-register:2023-23048"]
