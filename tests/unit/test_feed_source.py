"""The generic feed source (monitor/collect/feeds.py): RSS 2.0, Atom and JSON Feed items as events.

Fixtures: tests/fixtures/feeds/ (constructed in the three formats; tests/fixtures/README.md).
"""

from __future__ import annotations

from datetime import date

import json

import httpx
import pytest
from hypothesis import given, settings, strategies as st

from indicators.events import kind_from_text
from monitor.collect.base import CollectionWindow
from monitor.collect.feeds import FeedCollector
from monitor.collect.http import PayloadError
from monitor.config.models import FeedSource
from tests.collector_fakes import FakeTime, Script, fixture_text, html_response, options


def feed(script: Script, **settings) -> FeedCollector:
    source = FeedSource(**({"id": "announcements", "kind": "feed", "base_url": "https://feeds.test/feed",
                            "issuer": "CHN", "issuing_body": "MOFCOM", "language": "zh", "start": "2010-01",
                            "max_attempts": 2} | settings))
    return FeedCollector(source, options=options(script, FakeTime()))


def body(name: str, content_type: str) -> httpx.Response:
    return httpx.Response(200, content=fixture_text(f"feeds/{name}").encode("utf-8"),
                          headers={"Content-Type": content_type})


def test_rss_items_become_events_and_an_undated_item_is_counted():
    batch = feed(Script(body("announcements_rss.xml", "application/rss+xml"))).collect()
    events = {e.event_id: e for e in batch.events}
    gage = events["announcements:mofcom-gac-2023-23"]
    assert (gage.kind, gage.issuer, gage.issuing_body, gage.language) == ("licensing", "CHN", "MOFCOM", "zh")
    assert gage.announced == date(2023, 7, 3) and gage.link == "https://announcements.example.org/2023/23"
    assert "未经许可，不得出口" in gage.text
    graphite = events["announcements:mofcom-gac-2023-39"]
    assert "<p>" not in graphite.text and graphite.text.startswith("对高纯度")
    assert batch.rejected == {"no_date": 1}


def test_atom_and_json_feed_are_read_too():
    atom = feed(Script(body("announcements_atom.xml", "application/atom+xml")), issuer="JPN", language="en").collect()
    [korea] = atom.events
    assert (korea.announced, korea.kind) == (date(2019, 7, 1), "licensing")
    assert "hydrogen fluoride" in korea.text
    jsonfeed = feed(Script(body("announcements.json", "application/feed+json")), issuer="COD", language="en",
                    event_kind="notice").collect()
    assert [(e.event_id, e.kind, e.announced) for e in jsonfeed.events] == [
        ("announcements:arecoms-2025-02-22", "export_ban", date(2025, 2, 22)),
        ("announcements:arecoms-2025-06-21", "export_ban", date(2025, 6, 21))]


def test_items_before_the_window_start_are_skipped():
    batch = feed(Script(body("announcements.json", "application/feed+json")), issuer="COD").collect(
        CollectionWindow(latest={"events": date(2025, 6, 21)}, lookback_months=0))
    assert [e.announced for e in batch.events] == [date(2025, 6, 21)]


@pytest.mark.parametrize(("response", "message"), [
    (html_response(), "HTML page instead of a feed"),
    (httpx.Response(200, content=b"just text", headers={"Content-Type": "text/plain"}), "not an RSS or Atom feed"),
    (httpx.Response(200, content=b'{"items": []}', headers={"Content-Type": "application/json"}),
     "without a JSON Feed 'version'"),
    (httpx.Response(200, content=b'{"version": "https://jsonfeed.org/version/1.1", "items": [',
                    headers={"Content-Type": "application/json"}), "malformed JSON Feed"),
])
def test_a_bad_body_is_one_error_naming_the_feed(response, message):
    with pytest.raises(PayloadError, match=message) as err:
        feed(Script(response)).collect()
    assert "https://feeds.test/feed" in str(err.value)


def test_a_server_error_is_retried():
    script = Script(httpx.Response(503), body("announcements.json", "application/feed+json"))
    assert len(feed(script, issuer="COD").collect().events) == 2 and len(script.requests) == 2


@pytest.mark.parametrize(("title", "kind"), [
    ("商务部公告2024年第46号 关于加强相关两用物项对美国出口管制的公告", "licensing"),
    ("关于禁止向美国出口镓、锗的公告", "export_ban"),
    ("Indonesia bans export of bauxite ore", "export_ban"),
    ("Notice of OFAC Sanctions Actions", "sanction"),
    ("Section 301 tariff increases on electric vehicles", "tariff"),
    ("不可靠实体清单工作机制公告", "listing"),
    ("Force majeure declared at a lithium plant", "outage"),
    ("Public consultation on a draft regulation", "notice"),
])
def test_kind_from_title(title, kind):
    assert kind_from_text(title) == kind


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=12),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                     max_leaves=12)
_ITEMS = st.fixed_dictionaries({}, optional={k: _JSON | st.just(v) for k, v in {
    "id": "x", "url": "https://e/1", "title": "Export ban", "content_text": "t",
    "date_published": "2025-02-22T10:00:00+01:00"}.items()})


@settings(max_examples=200, deadline=None)
@given(items=st.lists(_ITEMS | _JSON, max_size=4), version=st.just("https://jsonfeed.org/version/1.1") | _JSON)
def test_any_json_feed_is_either_events_or_one_payload_error(items, version):
    raw = json.dumps({"version": version, "items": items}).encode("utf-8")
    try:
        batch = feed(Script(httpx.Response(200, content=raw, headers={"Content-Type": "application/feed+json"})),
                     issuer="COD").collect()
    except PayloadError as err:
        assert "https://feeds.test/feed" in str(err)
    else:
        assert all(e.title and e.announced for e in batch.events)
