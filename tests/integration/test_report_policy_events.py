"""The report's "what changed" section lists the policy events announced since the previous
assessment, with their nodes, levels and countdown (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date, datetime, timezone

from indicators.events import Event
from monitor.config.loader import load_config
from monitor.report.content import build_report
from monitor.report.render import write_report
from monitor.store.events import save_events
from tests.conftest import CONFIG_DIR
from tests.stored_state import populate

NOW = datetime(2026, 1, 15, 4, 0, tzinfo=timezone.utc)  # the populated run finishes on 2026-01-15


def event(own_id: str, title: str, announced: date, **extra) -> Event:
    return Event(event_id=f"analyst:{own_id}", source="analyst", title=title, kind="export_ban", issuer="COD",
                 announced=announced, issuing_body="ARECOMS", **extra)


def test_events_since_the_previous_assessment_appear_with_their_nodes(sessions, tmp_path):
    populate(sessions, NOW)
    with sessions.begin() as session:
        save_events(session, [
            event("cobalt", "DRC suspends cobalt exports", date(2026, 1, 10), effective=date(2026, 2, 1),
                  link="https://announcements.example.org/cobalt"),
            event("bauxite", "Ban on bauxite ore exports", date(2026, 1, 5)),
            event("old", "Suspension of copper exports", date(2025, 6, 1)),  # before the 90-day first-run window
        ], NOW)
    config = load_config(CONFIG_DIR)
    with sessions() as session:
        document, plots = build_report(config, session)
    rows = {r["event_id"]: r for r in document["policy_events"]}
    assert list(rows) == ["analyst:cobalt", "analyst:bauxite"]  # newest first, the old one left out
    cobalt = rows["analyst:cobalt"]
    assert cobalt["days_until_effective"] == 17
    assert {(n["chain"], n["node"]) for n in cobalt["nodes"]} == {("critical-minerals", "cobalt"),
                                                                  ("batteries", "cathode-precursors")}
    assert rows["analyst:bauxite"]["nodes"] == []  # kept and listed although it matched nothing
    html = write_report(document, plots, tmp_path / "report").read_text(encoding="utf-8")
    assert "Policy events announced since the previous assessment" in html
    assert "in force in 17 days (2026-02-01)" in html and "matched no node" in html
    assert 'href="https://announcements.example.org/cobalt"' in html
