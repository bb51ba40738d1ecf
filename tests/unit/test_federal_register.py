"""The Federal Register source (monitor/collect/federal_register.py): pages, kinds, retries, bad payloads.

Fixtures: tests/fixtures/federal_register/ (the documented documents.json shape; see the
provenance note in tests/fixtures/README.md).
"""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from hypothesis import given, settings, strategies as st

from monitor.collect.federal_register import FederalRegisterCollector, document_event, parse_page
from monitor.collect.http import HttpError, PayloadError
from monitor.config.models import FederalRegisterSource
from tests.collector_fakes import FakeTime, Script, fixture_json, html_response, json_response, options

PAGE1 = "federal_register/documents_bis_2023-10_page1.json"
PAGE2 = "federal_register/documents_bis_2023-10_page2.json"


def collector(script: Script, fake: FakeTime | None = None) -> FederalRegisterCollector:
    settings = FederalRegisterSource(id="federal-register", kind="federal_register", base_url="https://fr.test", max_attempts=3)
    return FederalRegisterCollector(settings, options=options(script, fake))


def test_follows_next_page_url_and_asks_for_the_agencies_since_the_day():
    script = Script(json_response(fixture_json(PAGE1)), json_response(fixture_json(PAGE2)))
    events = collector(script).collect_events(date(2023, 10, 17))
    assert [e.event_id for e in events] == ["federal-register:2023-23049", "federal-register:2023-23055", "federal-register:2023-23048"]
    first = script.requests[0].url
    assert first.path == "/api/v1/documents.json"
    assert first.params.get_list("conditions[agencies][]") == ["industry-and-security-bureau",
                                                                 "foreign-assets-control-office"]
    assert first.params["conditions[publication_date][gte]"] == "2023-10-17"
    assert "page=2" in str(script.requests[1].url)


def test_documents_become_events_with_dates_link_and_kind():
    events, next_url = parse_page(fixture_json(PAGE1), "page1")
    rule = events[0]
    assert next_url and "page=2" in next_url
    assert (rule.title, rule.kind, rule.issuer, rule.issuing_body) == (
        "Export Controls on Semiconductor Manufacturing Items", "licensing", "USA", "BIS")
    assert (rule.announced, rule.effective) == (date(2023, 10, 25), date(2023, 11, 17))
    assert rule.link.startswith("https://www.federalregister.gov/documents/2023/10/25/2023-23049/")
    listing, = parse_page(fixture_json(PAGE2), "page2")[0]
    assert listing.kind == "listing"


@pytest.mark.parametrize(("doc", "kind"), [
    ({"type": "Notice", "title": "Notice of OFAC Sanctions Actions",
      "agencies": [{"slug": "foreign-assets-control-office"}]}, "sanction"),
    ({"type": "Proposed Rule", "title": "Revisions to license exceptions", "agencies": [{"slug": "x"}]}, "notice"),
    ({"type": "Rule", "title": "Additions to the Entity List", "agencies": []}, "listing"),
])
def test_kind_follows_agency_title_and_type(doc, kind):
    doc = {"document_number": "2099-00001", "publication_date": "2099-01-02"} | doc
    assert document_event(doc, "d").kind == kind


def test_retries_a_server_error_then_succeeds_without_really_sleeping():
    fake = FakeTime()
    script = Script(httpx.Response(503), json_response(fixture_json(PAGE2)))
    events = collector(script, fake).collect_events(date(2023, 10, 17))
    assert len(events) == 1 and len(fake.sleeps) == 1


def test_gives_up_after_the_attempts_with_the_url_in_the_message():
    script = Script(default=lambda request: httpx.Response(503))
    with pytest.raises(HttpError, match="federal-register"):
        collector(script).collect_events(date(2023, 10, 17))
    assert len(script.requests) == 3


@pytest.mark.parametrize(("response", "message"), [
    (html_response(), "HTML page instead of JSON"),
    (json_response({"results": "none"}), "no 'results' list"),
    (json_response({"results": [{"title": "x"}]}), r"results\[0\]: lacks 'document_number'"),
    (json_response({"results": [{"document_number": "1", "title": "x", "publication_date": "25/10/2023"}]}),
     r"results\[0\]: 'publication_date' is '25/10/2023', not an ISO date"),
])
def test_a_bad_payload_is_one_clear_error(response, message):
    with pytest.raises(PayloadError, match=message):
        collector(Script(response)).collect_events(date(2023, 10, 17))


def test_a_next_page_url_that_loops_is_stopped():
    page = fixture_json(PAGE1)
    script = Script(default=lambda request: json_response(page))
    with pytest.raises(PayloadError, match="more than 200 pages"):
        collector(script).collect_events(date(2023, 10, 17))


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=12),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                     max_leaves=12)
_DOCS = st.fixed_dictionaries({}, optional={
    "document_number": _JSON | st.just("2023-23049"), "title": _JSON | st.just("A rule"),
    "type": _JSON | st.sampled_from(["Rule", "Notice"]), "publication_date": _JSON | st.just("2023-10-25"),
    "effective_on": _JSON | st.just("2023-11-17"), "agencies": _JSON, "abstract": _JSON})


@settings(max_examples=300, deadline=None)
@given(document=_JSON | st.fixed_dictionaries({"results": st.lists(_DOCS | _JSON, max_size=3)},
                                              optional={"next_page_url": _JSON}))
def test_any_json_is_either_events_or_one_payload_error(document):
    try:
        events, _next = parse_page(document, "fuzz")
    except PayloadError as err:
        assert str(err).startswith("fuzz")
    else:
        assert all(e.event_id and e.title for e in events)
