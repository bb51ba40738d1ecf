"""US Federal Register: rules and notices of the Bureau of Industry and Security and OFAC.

``GET {base_url}/api/v1/documents.json`` (public, no key) with
``conditions[agencies][]=industry-and-security-bureau`` (and
``foreign-assets-control-office``), ``conditions[publication_date][gte]=YYYY-MM-DD``,
``order=oldest``, ``per_page`` and ``fields[]``. The answer (documentation:
https://www.federalregister.gov/developers/documentation/api/v1)::

    {"count": 2, "total_pages": 1, "next_page_url": null,
     "results": [{"document_number": "2023-23049", "title": "...", "type": "Rule",
                  "action": "Interim final rule; request for comments.", "abstract": "...",
                  "publication_date": "2023-10-25", "effective_on": "2023-11-17",
                  "html_url": "https://www.federalregister.gov/documents/...",
                  "agencies": [{"name": "Industry and Security Bureau",
                                "slug": "industry-and-security-bureau", ...}]}, ...]}

``next_page_url`` is followed until it is null. Each document becomes one
:class:`indicators.events.Event` (issuer USA, every destination affected: EAR licence
requirements apply to exports to any country the rule names, and the text decides
which nodes). Kind from the document: OFAC -> ``sanction``; title or action naming the
Entity List -> ``listing``; any other rule -> ``licensing``; notices and proposed
rules -> ``notice``. Incremental: a scheduled collection fetches from the latest stored
publication month less ``lookback_months`` (``start`` when nothing is stored), and the
store updates documents it already holds (docs/events.md).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from indicators.events import Event
from monitor.clock import Clock, system_clock
from monitor.collect.base import CollectionWindow
from monitor.collect.http import HttpOptions, HttpSourceCollector, PayloadError
from monitor.config.models import Catalog
from monitor.records import EVENTS_KEY, CollectedBatch

FIELDS = ("document_number", "title", "type", "action", "abstract", "publication_date", "effective_on",
          "html_url", "agencies")
BIS = "industry-and-security-bureau"
OFAC = "foreign-assets-control-office"
_BODIES = {BIS: "BIS", OFAC: "OFAC"}
_MAX_PAGES = 200  # runaway-pagination guard: 200 pages x 100 documents is decades of BIS and OFAC


def _kind(doc: dict[str, Any], slugs: list[str]) -> str:
    words = f"{doc.get('title') or ''} {doc.get('action') or ''}".lower()
    if OFAC in slugs:
        return "sanction"
    if "entity list" in words:
        return "listing"
    if doc.get("type") == "Rule":
        return "licensing"
    return "notice"


def _day(value: Any, where: str, field: str, required: bool) -> date | None:
    if value in (None, ""):
        if required:
            raise PayloadError(f"{where}: {field!r} is missing (schema changed?)")
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise PayloadError(f"{where}: {field!r} is {value!r}, not an ISO date (schema changed?)") from None


def document_event(doc: Any, where: str, source: str = "federal_register") -> Event:
    """One Federal Register document as an :class:`Event` (a bad document is a :class:`PayloadError`)."""
    if not isinstance(doc, dict) or not doc.get("document_number") or not doc.get("title"):
        raise PayloadError(f"{where}: lacks 'document_number' or 'title' (schema changed?)")
    agencies = doc.get("agencies") if isinstance(doc.get("agencies"), list) else []
    slugs = [str(a.get("slug", "")) for a in agencies if isinstance(a, dict)]
    body = next((_BODIES[s] for s in slugs if s in _BODIES), "")
    return Event(
        event_id=f"{source}:{doc['document_number']}", source=source, title=str(doc["title"]), kind=_kind(doc, slugs), issuer="USA",
        announced=_day(doc.get("publication_date"), where, "publication_date", True),
        effective=_day(doc.get("effective_on"), where, "effective_on", False),
        text=str(doc.get("abstract") or ""), link=str(doc.get("html_url") or ""), language="en",
        issuing_body=body or "Federal Register")


def parse_page(document: Any, where: str, source: str = "federal_register") -> tuple[list[Event], str | None]:
    """The events of one page of ``documents.json`` and the next page's URL (None: last page)."""
    if not isinstance(document, dict) or not isinstance(document.get("results", []), list):
        raise PayloadError(f"{where}: response has no 'results' list (schema changed?)")
    events = [document_event(doc, f"{where} results[{i}]", source)
              for i, doc in enumerate(document.get("results", []))]
    next_url = document.get("next_page_url")
    return events, (str(next_url) if next_url else None)


class FederalRegisterCollector(HttpSourceCollector):
    """BIS and OFAC documents published since a day, all pages; an incremental event source."""

    incremental = True

    def __init__(self, settings: Any, catalog: Catalog | None = None, options: HttpOptions | None = None,
                 clock: Clock = system_clock):
        super().__init__(settings, options, clock)

    def collect(self, window: CollectionWindow | None = None) -> CollectedBatch:
        """Documents from the window's start (the latest stored publication month less the look-back)."""
        window = window or CollectionWindow()
        first = date(*map(int, self._settings.start.split("-")), 1)
        events, requests = self._collect(window.start_for(EVENTS_KEY, first))
        return CollectedBatch(self.source_id, self._clock().date().isoformat(), events=events, requests=requests)

    def collect_events(self, since: date) -> list[Event]:
        """Every document of the configured agencies published on or after ``since``."""
        return self._collect(since)[0]

    def _collect(self, since: date) -> tuple[list[Event], int]:
        url: str | None = f"{self._settings.base_url.rstrip('/')}/api/v1/documents.json"
        params: dict[str, Any] | None = {
            "conditions[agencies][]": list(self._settings.agencies),
            "conditions[publication_date][gte]": since.isoformat(),
            "order": "oldest", "per_page": str(self._settings.per_page), "fields[]": list(FIELDS)}
        events: list[Event] = []
        for page in range(_MAX_PAGES):
            if url is None:
                return events, page
            document = self._client.get_json(url, params)
            page, url = parse_page(document, f"source {self.source_id!r}: {self._client.redact(url)}", self.source_id)
            events += page
            params = None  # next_page_url carries the query
        raise PayloadError(f"source {self.source_id!r}: more than {_MAX_PAGES} pages (next_page_url loops?)")
