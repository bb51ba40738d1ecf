"""A feed source collected and stored like the other sources (SQLite and PostgreSQL), and
its items mapped onto the catalog's nodes."""

from __future__ import annotations

from datetime import date

import httpx

from indicators.events import map_events
from monitor.assess.event_exposure import node_profiles
from monitor.collect.collection import CollectionRunner
from monitor.collect.feeds import FeedCollector
from monitor.config.models import FeedSource
from monitor.store.events import load_events
from tests.collector_fakes import Script, fixture_text, options


def test_feed_items_are_stored_and_map_onto_their_nodes(sessions, clock, catalog):
    source = FeedSource(id="mofcom", kind="feed", base_url="https://feeds.test/rss", issuer="CHN",
                        issuing_body="MOFCOM", language="zh", start="2023-01")
    rss = httpx.Response(200, content=fixture_text("feeds/announcements_rss.xml").encode("utf-8"),
                         headers={"Content-Type": "application/rss+xml"})
    outcome = CollectionRunner([FeedCollector(source, options=options(Script(rss)))], sessions, clock).collect("mofcom")
    assert outcome.ok and outcome.rows_ingested == 2 and outcome.rows_rejected == {"no_date": 1}
    with sessions() as session:
        events = load_events(session)
    assert [e.announced for e in events] == [date(2023, 7, 3), date(2023, 10, 20)]
    mapping = map_events(events, node_profiles(catalog), catalog.home)
    assert mapping.nodes_of("mofcom:mofcom-gac-2023-23") == {"critical-minerals/gallium-germanium"}
    assert mapping.nodes_of("mofcom:mofcom-gac-2023-39") == {"critical-minerals/natural-graphite",
                                                             "batteries/graphite-anode"}
