"""World Bank Indicators API v2: annual indicators (manufacturing value added, trade...).

``GET {base_url}/country/{CHN;USA}/indicator/{ID}?format=json&per_page=N&page=P
&date=YYYY:YYYY`` (``base_url`` default ``https://api.worldbank.org/v2``; no key).
The answer is a two-element JSON array: paging metadata ``{"page", "pages",
"per_page", "total", "lastupdated"}`` and the records ``[{"indicator": {"id"},
"countryiso3code", "date": "2023", "value": 1.2e12, ...}]``; pages are followed until
``page == pages``. An error is a one-element array ``[{"message": [{"id", "key",
"value"}]}]`` (often with HTTP 200). ``null`` values (not yet published) are skipped
and counted as ``missing``. Values are annual and stored at January of their year,
series ``wb.<INDICATOR>.<ISO3>``; the vintage is ``lastupdated``.
"""

from __future__ import annotations

from datetime import date

from monitor.clock import Clock, system_clock
from monitor.collect.base import CollectionError, CollectionWindow
from monitor.records import CollectedBatch, SeriesInfo
from monitor.collect.http import HttpOptions, PayloadError, HttpSourceCollector
from monitor.collect.rows import RowBuilder, observation_builder, parse_period
from monitor.config.models import Catalog, WorldBankIndicator, WorldBankSource

MAX_PAGES = 1000


class WorldBankCollector(HttpSourceCollector):
    """Annual World Bank indicators for the configured economies."""

    incremental = True

    def __init__(self, settings: WorldBankSource, catalog: Catalog | None = None,
                 options: HttpOptions | None = None, clock: Clock = system_clock):
        super().__init__(settings, options, clock)

    @staticmethod
    def series_id(indicator: str, country: str) -> str:
        """The chainwatch id of one indicator for one economy."""
        return f"wb.{indicator}.{country}"

    def collect(self, window: CollectionWindow | None = None) -> CollectedBatch:
        """Fetch every indicator for its economies from the window's start year."""
        window = window or CollectionWindow()
        first = date(*map(int, self._settings.start.split("-")), 1)
        builder = observation_builder()
        infos: list[SeriesInfo] = []
        vintages: set[str] = set()
        requests = 0
        for spec in self._settings.indicators:
            ids = {c: self.series_id(spec.indicator, c) for c in spec.countries}
            start = window.start_for_all(list(ids.values()), first)
            vintage, n = self._fetch(spec, set(ids), start, builder)
            requests += n
            if vintage:
                vintages.add(vintage)
            infos += [SeriesInfo(sid, self.source_id, spec.unit, f"World Bank indicator {spec.indicator}, {c}",
                                 spec.chain, spec.node) for c, sid in ids.items()]
        vintage = max(vintages) if vintages else self._clock().date().isoformat()
        return CollectedBatch(self.source_id, vintage, series=infos, observations=builder.frame(),
                              rejected=dict(builder.rejected), requests=requests)

    def _fetch(self, spec: WorldBankIndicator, countries: set[str], start: date,
               builder: RowBuilder) -> tuple[str | None, int]:
        url = (f"{self._settings.base_url.rstrip('/')}/country/{';'.join(spec.countries)}"
               f"/indicator/{spec.indicator}")
        end_year = self._clock().year
        page, pages, vintage = 1, 1, None
        while page <= pages:
            document = self._client.get_json(url, {"format": "json", "per_page": str(self._settings.per_page),
                                                   "page": str(page), "date": f"{start.year}:{end_year}"})
            where = f"source {self.source_id!r}: {url} page {page}"
            if isinstance(document, list) and len(document) == 1 and isinstance(document[0], dict) \
                    and "message" in document[0]:
                messages = document[0]["message"]
                text = "; ".join(f"{m.get('key')}: {m.get('value')}" for m in messages if isinstance(m, dict)) \
                    if isinstance(messages, list) else str(messages)
                raise CollectionError(f"{where}: the API reported an error: {text[:300]}")
            if not (isinstance(document, list) and len(document) == 2 and isinstance(document[0], dict)):
                raise PayloadError(f"{where}: expected [paging, records], got {type(document).__name__}"
                                   f"{' of length ' + str(len(document)) if isinstance(document, list) else ''}")
            meta, records = document
            try:
                pages = int(meta["pages"])
            except (KeyError, TypeError, ValueError):
                raise PayloadError(f"{where}: paging metadata lacks 'pages' (schema changed?)") from None
            if pages > MAX_PAGES:
                raise PayloadError(f"{where}: {pages} pages announced, more than {MAX_PAGES}")
            vintage = meta.get("lastupdated") or vintage
            for i, record in enumerate(records or []):
                if not isinstance(record, dict) or "date" not in record or "value" not in record:
                    raise PayloadError(f"{where}: record {i} lacks 'date' or 'value' (schema changed?)")
                country = record.get("countryiso3code") or ""
                if country not in countries:
                    builder.reject("unknown_country")
                    continue
                if record["value"] is None:
                    builder.reject("missing")
                    continue
                period = parse_period(record["date"])
                if period is None:
                    builder.reject("bad_period")
                    continue
                builder.add({"series_id": self.series_id(spec.indicator, country), "period": period,
                             "value": record["value"]}, allow_negative=spec.allow_negative)
            page += 1
        return vintage, page - 1
