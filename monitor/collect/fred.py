"""FRED (Federal Reserve Bank of St. Louis): monthly series such as industrial production.

Two ways in, chosen by whether a key is set (env ``FRED_API_KEY``):

- with a key: ``{base_url}/fred/series/observations?series_id=…&api_key=…&file_type=json
  &observation_start=YYYY-MM-DD`` (``base_url`` default ``https://api.stlouisfed.org``).
  JSON ``{"realtime_start", "realtime_end", "count", "offset", "limit",
  "observations": [{"date": "2024-01-01", "value": "102.5"}, ...]}``; ``"."`` is
  FRED's missing value. Paged by ``offset`` when ``count`` exceeds ``limit``. The
  vintage is the response's ``realtime_start`` (the ALFRED vintage date). Limit: 120
  requests a minute per key.
- without a key: the graph download ``{graph_url}/graph/fredgraph.csv?id=…&cosd=…``
  (``graph_url`` default ``https://fred.stlouisfed.org``), a CSV with header
  ``observation_date,<ID>`` (older files: ``DATE,<ID>``). Vintage: the retrieval date.

Each configured series lands as observation series ``series_id`` (default
``fred.<ID>``); daily or weekly series are not averaged: use monthly series.
"""

from __future__ import annotations

import csv
import io
from datetime import date

from monitor.clock import Clock, system_clock
from monitor.collect.base import CollectionWindow
from monitor.records import CollectedBatch, SeriesInfo
from monitor.collect.http import HttpOptions, PayloadError, HttpSourceCollector
from monitor.collect.rows import RowBuilder, observation_builder, parse_period
from monitor.config.models import Catalog, FredSource, SeriesMapping

_DATE_HEADERS = {"DATE", "OBSERVATION_DATE"}


class FredCollector(HttpSourceCollector):
    """Observations of the configured FRED series."""

    incremental = True

    def __init__(self, settings: FredSource, catalog: Catalog | None = None, options: HttpOptions | None = None,
                 clock: Clock = system_clock):
        super().__init__(settings, options, clock)
        self._key = settings.api_key.get_secret_value() if settings.api_key is not None else None

    def series_id(self, mapping: SeriesMapping) -> str:
        """The chainwatch id of a configured FRED series."""
        return mapping.series_id or f"{self.source_id}.{mapping.id}"

    def collect(self, window: CollectionWindow | None = None) -> CollectedBatch:
        """Fetch every configured series from its window start."""
        window = window or CollectionWindow()
        first = date(*map(int, self._settings.start.split("-")), 1)
        builder = observation_builder()
        infos, vintages, requests = [], set(), 0
        for mapping in self._settings.series:
            series_id = self.series_id(mapping)
            start = window.start_for(series_id, first)
            if self._key:
                vintage, n = self._observations(mapping, series_id, start, builder)
            else:
                vintage, n = self._graph_csv(mapping, series_id, start, builder)
            vintages.add(vintage)
            requests += n
            infos.append(SeriesInfo(series_id, self.source_id, mapping.unit,
                                    mapping.description or f"FRED series {mapping.id}", mapping.chain, mapping.node))
        vintage = max(vintages) if vintages else self._clock().date().isoformat()
        return CollectedBatch(self.source_id, vintage, series=infos, observations=builder.frame(),
                              rejected=dict(builder.rejected), requests=requests)

    def _observations(self, mapping: SeriesMapping, series_id: str, start: date,
                      builder: RowBuilder) -> tuple[str, int]:
        url = f"{self._settings.base_url.rstrip('/')}/fred/series/observations"
        offset, requests, vintage = 0, 0, self._clock().date().isoformat()
        while True:
            params = {"series_id": mapping.id, "api_key": self._key, "file_type": "json",
                      "observation_start": start.isoformat(), "offset": str(offset)}
            document = self._client.get_json(url, params)
            requests += 1
            where = f"source {self.source_id!r}: {self._client.redact(url)} (series {mapping.id})"
            if not isinstance(document, dict) or not isinstance(document.get("observations"), list):
                raise PayloadError(f"{where}: response has no 'observations' list (schema changed?)")
            vintage = str(document.get("realtime_start") or vintage)
            observations = document["observations"]
            for i, item in enumerate(observations):
                if not isinstance(item, dict) or "date" not in item or "value" not in item:
                    raise PayloadError(f"{where}: observations[{i}] lacks 'date' or 'value' (schema changed?)")
                self._add(builder, series_id, item["date"], item["value"], mapping.allow_negative)
            count = document.get("count")
            offset += len(observations)
            if not observations or not isinstance(count, int) or offset >= count:
                return vintage, requests

    def _graph_csv(self, mapping: SeriesMapping, series_id: str, start: date,
                   builder: RowBuilder) -> tuple[str, int]:
        url = f"{self._settings.graph_url.rstrip('/')}/graph/fredgraph.csv"
        text = self._client.get_text(url, {"id": mapping.id, "cosd": start.isoformat()})
        where = f"source {self.source_id!r}: {url}?id={mapping.id}"
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        if not header or len(header) < 2 or header[0].strip().upper() not in _DATE_HEADERS \
                or header[1].strip().upper() != mapping.id.upper():
            raise PayloadError(f"{where}: unexpected CSV header {header!r}; expected "
                               f"['observation_date', {mapping.id!r}] (schema changed?)")
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) < 2:
                raise PayloadError(f"{where}: line {line} has {len(row)} field(s), expected 2 (truncated?)")
            self._add(builder, series_id, row[0], row[1], mapping.allow_negative)
        return self._clock().date().isoformat(), 1

    @staticmethod
    def _add(builder: RowBuilder, series_id: str, when: object, value: object, allow_negative: bool) -> None:
        period = parse_period(when)
        if period is None:
            builder.reject("bad_period")
            return
        if str(value).strip() in {".", ""}:
            builder.reject("missing")  # FRED's own marker for "no value this period"
            return
        builder.add({"series_id": series_id, "period": period, "value": value}, allow_negative=allow_negative)
