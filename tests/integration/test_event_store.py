"""Stored events (monitor/store/events.py, migration 0010) on SQLite and PostgreSQL:
upsert by source id, the same measure from two sources and its amendments as one family,
a withdrawal resolving the family."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timezone
from pathlib import Path

from indicators.events import Event
from monitor.cli.events import load_events as read_event_files
from monitor.store.events import load_events, save_events

FIXTURES = Path(__file__).parents[1] / "fixtures"
NOW = datetime(2026, 1, 15, 4, tzinfo=timezone.utc)


def fr_and_curated() -> list[Event]:
    pages = [FIXTURES / "federal_register" / f"documents_bis_2023-10_page{n}.json" for n in (1, 2)]
    return read_event_files([FIXTURES / "events" / "curated_events.csv"], pages)


def test_saving_twice_updates_instead_of_doubling(sessions):
    with sessions.begin() as session:
        first = save_events(session, fr_and_curated(), NOW)
    with sessions.begin() as session:
        again = save_events(session, fr_and_curated(), NOW)
        withdrawn = [replace(e, status="withdrawn") if e.event_id.endswith("cn-2024-antimony") else e
                     for e in fr_and_curated()]
        changed = save_events(session, withdrawn, NOW)
        stored = load_events(session)
    assert (first.new, first.updated, again.new, again.updated, changed.updated) == (7, 0, 0, 0, 1)
    assert (first.unchanged, again.unchanged, changed.unchanged) == (0, 7, 6)  # counted as stored: one read
    assert len(stored) == 7
    assert next(e for e in stored if e.event_id.endswith("cn-2024-antimony")).status == "withdrawn"
    gage = next(e for e in stored if e.event_id == "events-file:cn-2023-ga-ge")
    assert gage.title.startswith("商务部 海关总署公告2023年第23号") and gage.effective == date(2023, 8, 1)


def test_the_same_measure_from_a_tracker_links_to_the_federal_register_document(sessions):
    tracker = Event(event_id="tracker:us-2023-oct-sme", source="tracker", title="US semiconductor equipment controls",
                    kind="export_ban", issuer="USA", announced=date(2023, 10, 17), hs_codes=("848620",),
                    text="Federal Register document 2023-23049")
    correction = Event(event_id="federal_register:2024-00001", source="federal_register",
                       title="Export Controls on Semiconductor Manufacturing Items; Correction", kind="notice",
                       issuer="USA", announced=date(2024, 4, 4))
    with sessions.begin() as session:
        save_events(session, fr_and_curated(), NOW)
        saved = save_events(session, [tracker, correction], NOW)
        stored = load_events(session)
    assert saved.linked == 2
    sme = [e for e in stored if "Semiconductor Manufacturing Items" in e.title]
    assert [e.event_id for e in sme] == ["federal_register:2023-23049"]
    assert sme[0].hs_codes == ("848620",)  # the tracker's code joins the family


def test_a_later_withdrawal_withdraws_the_family(sessions):
    rule = Event(event_id="tracker:r1", source="tracker", title="Export ban on nickel ore", kind="export_ban",
                 issuer="IDN", announced=date(2020, 1, 1), hs_codes=("2604",))
    withdrawal = Event(event_id="tracker:r2", source="tracker", title="Export ban on nickel ore; amendment",
                       kind="notice", issuer="IDN", announced=date(2020, 6, 1), status="withdrawn")
    with sessions.begin() as session:
        save_events(session, [rule], NOW)
        assert load_events(session)[0].status == "active"
        save_events(session, [withdrawal], NOW)
        [family] = load_events(session)
    assert (family.event_id, family.status) == ("tracker:r1", "withdrawn")
