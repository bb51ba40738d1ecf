"""Official announcement feeds (RSS 2.0, Atom, JSON Feed) as policy events.

``GET {base_url}`` returns the feed. RSS and Atom are parsed by ``feedparser``. JSON Feed
(https://jsonfeed.org/version/1.1: ``{"version", "title", "items": [{"id", "url",
"title", "content_text" | "content_html" | "summary", "date_published",
"date_modified"}]}``) is read here, because feedparser does not read it. Each item becomes
one :class:`indicators.events.Event`:

- ``<source id>:<item id or link>``;
- the item's title and text, with HTML tags stripped;
- the publication (else update) day as ``announced``;
- the feed's ``issuer``, ``issuing_body``, ``language`` and ``affected``;
- the kind its title names (:func:`indicators.events.kind_from_text`), else the
  source's ``event_kind``.

Items dated before the window's start are skipped (incremental). An item without a date
or a title is rejected and counted (``no_date``, ``no_title``). A body that is neither a
feed nor a JSON Feed is a :class:`PayloadError` naming the URL.
"""

from __future__ import annotations

import html
import json
import re
from datetime import date, datetime
from typing import Any

import feedparser

from indicators.events import Event, kind_from_text
from monitor.clock import Clock, system_clock
from monitor.collect.base import CollectionWindow
from monitor.collect.http import HttpOptions, HttpSourceCollector, PayloadError
from monitor.config.models import Catalog, FeedSource
from monitor.records import EVENTS_KEY, CollectedBatch

_TAGS = re.compile(r"<[^>]+>")


def _plain(text: str) -> str:
    return " ".join(html.unescape(_TAGS.sub(" ", text or "")).split())


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _json_feed_items(document: Any, where: str) -> list[dict]:
    """JSON Feed items as feedparser-like entries (``id``, ``link``, ``title``, ``summary``, ``day``)."""
    if not isinstance(document, dict) or not str(document.get("version", "")).startswith("https://jsonfeed.org/"):
        raise PayloadError(f"{where}: JSON without a JSON Feed 'version' (https://jsonfeed.org/version/1.1)")
    if not isinstance(document.get("items"), list):
        raise PayloadError(f"{where}: JSON Feed has no 'items' list")
    entries = []
    for item in document["items"]:
        if not isinstance(item, dict):
            continue
        stamp = str(item.get("date_published") or item.get("date_modified") or "")
        try:
            day = datetime.fromisoformat(stamp.replace("Z", "+00:00")).date() if stamp else None
        except ValueError:
            day = None
        text = next((item[k] for k in ("content_text", "content_html", "summary") if _is_text(item.get(k))), "")
        entries.append({"id": item.get("id") if _is_text(item.get("id")) else None,
                        "link": item["url"] if _is_text(item.get("url")) else "",
                        "title": item["title"] if _is_text(item.get("title")) else "", "summary": text, "day": day})
    return entries


def _xml_feed_items(body: bytes, where: str) -> list[dict]:
    parsed = feedparser.parse(body)
    if not parsed.version and not parsed.entries:
        reason = getattr(parsed, "bozo_exception", None) or "no RSS or Atom elements"
        raise PayloadError(f"{where}: not an RSS or Atom feed ({reason})")
    entries = []
    for entry in parsed.entries:
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        entries.append({"id": entry.get("id"), "link": entry.get("link") or "", "title": entry.get("title") or "",
                        "summary": entry.get("summary") or "", "day": date(*stamp[:3]) if stamp else None})
    return entries


def feed_entries(body: bytes, where: str) -> list[dict]:
    """The items of a feed body, whatever its format (``day`` None when it carries no date)."""
    if body.lstrip()[:1] == b"{":
        try:
            document = json.loads(body)
        except ValueError as err:
            raise PayloadError(f"{where}: malformed JSON Feed ({err})") from None
        return _json_feed_items(document, where)
    return _xml_feed_items(body, where)


class FeedCollector(HttpSourceCollector):
    """The items of one feed published from the window's start on."""

    incremental = True

    def __init__(self, settings: FeedSource, catalog: Catalog | None = None, options: HttpOptions | None = None,
                 clock: Clock = system_clock):
        super().__init__(settings, options, clock)

    def collect(self, window: CollectionWindow | None = None) -> CollectedBatch:
        """Fetch the feed; keep the items dated on or after the window's start."""
        window = window or CollectionWindow()
        settings = self._settings
        start = window.start_for(EVENTS_KEY, date(*map(int, settings.start.split("-")), 1))
        response = self._client.get(settings.base_url, check_later=True)
        where = f"source {self.source_id!r}: {self._client.redact(settings.base_url)}"
        if "html" in response.headers.get("Content-Type", "").lower():
            self._client.observe("bad_payload")
            raise PayloadError(f"{where} returned an HTML page instead of a feed")
        try:
            entries = feed_entries(response.content, where)
        except PayloadError:
            self._client.observe("bad_payload")
            raise
        self._client.observe("success")
        events, rejected = [], {}
        for entry in entries:
            title = _plain(entry["title"])
            reason = "no_title" if not title else "no_date" if entry["day"] is None else None
            if reason:
                rejected[reason] = rejected.get(reason, 0) + 1
                continue
            if entry["day"] < start:
                continue
            own_id = str(entry["id"] or entry["link"] or title)
            events.append(Event(
                event_id=f"{self.source_id}:{own_id}", source=self.source_id, title=title,
                kind=kind_from_text(title, settings.event_kind), issuer=settings.issuer,
                announced=entry["day"], text=_plain(entry["summary"]), affected=tuple(settings.affected),
                link=str(entry["link"]), language=settings.language, issuing_body=settings.issuing_body))
        return CollectedBatch(self.source_id, self._clock().date().isoformat(), events=events, rejected=rejected,
                              requests=1)
