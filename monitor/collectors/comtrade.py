"""UN Comtrade API v1: bilateral trade flows by HS code, partner and month (or year).

Endpoints (``base_url`` default ``https://comtradeapi.un.org``):

- without a key, the public preview ``/public/v1/preview/C/{M|A}/HS``: at most 500
  records per call;
- with a key (env ``COMTRADE_API_KEY``, sent as header ``Ocp-Apim-Subscription-Key``),
  ``/data/v1/get/C/{M|A}/HS``: up to 100 000 records per call, 500 calls a day.

Query parameters: ``reporterCode`` (M49), ``period`` (comma list of ``YYYYMM`` or
``YYYY``), ``cmdCode`` (comma list of HS codes), ``flowCode`` (``M``/``X``),
``partnerCode`` (omitted: every partner), and ``partner2Code=0``, ``customsCode=C00``,
``motCode=0`` so each reporter/partner/product/period comes once, as a total.

Chunking: requests go per reporter × flow × chunk of ``products_per_request`` codes ×
chunk of ``periods_per_request`` periods. A response holding ``max_records`` rows may be
truncated, so that chunk is split (periods first, then products, then partners) and
asked again; a single period × product × partner still at the cap is an error.

Response: ``{"elapsedTime", "count", "data": [record, ...], "error"}`` with records in
the API v1 schema (``reporterCode, partnerCode, cmdCode, flowCode, refYear, refMonth,
primaryValue, netWgt, partner2Code, customsCode, motCode`` ...). ``refMonth = 52``
marks an annual record; annual values are stored at January of their year. Rate
limiting answers HTTP 429 ``{"statusCode": 429, "message": "Rate limit is exceeded.
Try again in N seconds."}``; that N is honoured like a ``Retry-After``.

Country codes: see :mod:`monitor.collectors.codes` (World ``0`` → ``WORLD``, areas
n.e.s. → ``_X``, several n.e.s. codes of one flow are summed). ``primaryValue`` is
USD, ``netWgt`` kg (0 or missing → unknown quantity).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import date

import httpx

from monitor.clock import Clock, system_clock
from monitor.collectors.base import (
    CollectedBatch,
    CollectionError,
    CollectionWindow,
    trade_key,
)
from monitor.collectors.codes import NOT_SPECIFIED, iso3_from_m49, m49_from_iso3
from monitor.collectors.http import HttpOptions, PayloadError, client_from_settings
from monitor.collectors.rows import RowBuilder, trade_flow_builder
from monitor.config.models import Catalog, ComtradeSource

PREVIEW_MAX_RECORDS = 500
KEYED_MAX_RECORDS = 100_000
REQUIRED_FIELDS = ("reporterCode", "partnerCode", "cmdCode", "flowCode", "refYear", "refMonth", "primaryValue")
_TRY_AGAIN = re.compile(r"try again in (\d+(?:\.\d+)?) second", re.IGNORECASE)


def comtrade_retry_hint(response: httpx.Response) -> float | None:
    """Seconds from Comtrade's "Rate limit is exceeded. Try again in N seconds." body."""
    found = _TRY_AGAIN.search(response.text)
    return float(found.group(1)) if found else None


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def _months(start: date, end: date) -> list[date]:
    out, current = [], date(start.year, start.month, 1)
    while current <= end:
        out.append(current)
        current = date(current.year + current.month // 12, current.month % 12 + 1, 1)
    return out


class ComtradeCollector:
    """Imports/exports of the configured reporters by HS code and partner."""

    incremental = True

    def __init__(self, settings: ComtradeSource, catalog: Catalog, options: HttpOptions | None = None,
                 clock: Clock = system_clock):
        self.source_id = settings.id
        self.lookback_months = settings.lookback_months
        self._settings = settings
        self._clock = clock
        key = settings.api_key.get_secret_value() if settings.api_key is not None else None
        self.keyed = bool(key)
        self._client = client_from_settings(
            settings, options, headers={"Ocp-Apim-Subscription-Key": key} if key else None,
            retry_hint=comtrade_retry_hint)
        reporters = settings.reporters or [catalog.home]
        if "EU27" in reporters:
            raise ValueError(f"source {settings.id!r}: EU27 is not a Comtrade reporter; list member states "
                             "in 'reporters'")
        self._reporters = {iso3: m49_from_iso3(iso3) for iso3 in reporters}
        self._partners = [m49_from_iso3(p) for p in settings.partners]
        self._products = sorted(set(settings.products) or {
            code for chain in catalog.chains for node in chain.nodes for code in node.hs_codes})
        self._max_records = settings.max_records or (KEYED_MAX_RECORDS if key else PREVIEW_MAX_RECORDS)
        path = "data/v1/get" if key else "public/v1/preview"
        self.url = f"{settings.base_url.rstrip('/')}/{path}/C/{settings.frequency}/HS"
        self._requests = 0

    def close(self) -> None:
        """Release the HTTP connections."""
        self._client.close()

    def collect(self, window: CollectionWindow | None = None) -> CollectedBatch:
        """Fetch every reporter × flow × product from the window's start to last month."""
        window = window or CollectionWindow()
        now = self._clock()
        first = date(*map(int, self._settings.start.split("-")), 1)
        last = date(now.year, now.month, 1)
        builder = trade_flow_builder()
        self._requests = 0
        for reporter_iso, reporter_code in self._reporters.items():
            for flow in self._settings.flows:
                for products in _chunks(self._products, self._settings.products_per_request):
                    start = window.start_for_all([trade_key(reporter_iso, p, flow) for p in products], first)
                    periods = self._periods(start, last)
                    for chunk in _chunks(periods, self._settings.periods_per_request):
                        self._fetch(reporter_code, flow, products, chunk, self._partners, builder)
        return CollectedBatch(
            source=self.source_id, vintage=now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            trade_flows=builder.frame(), rejected=dict(builder.rejected), requests=self._requests)

    def _periods(self, start: date, last: date) -> list[str]:
        if self._settings.frequency == "A":
            return [str(year) for year in range(start.year, last.year)]
        return [f"{m.year}{m.month:02d}" for m in _months(start, last)]

    def _fetch(self, reporter: int, flow: str, products: list[str], periods: list[str],
               partners: list[int], builder: RowBuilder) -> None:
        params = {
            "reporterCode": str(reporter), "period": ",".join(periods), "cmdCode": ",".join(products),
            "flowCode": flow, "partner2Code": "0", "customsCode": "C00", "motCode": "0",
            "maxRecords": str(self._max_records), "includeDesc": "false",
        }
        if partners:
            params["partnerCode"] = ",".join(str(p) for p in partners)
        self._requests += 1
        document = self._client.get_json(self.url, params)
        records = self._records(document, params)
        if len(records) >= self._max_records:
            # The cap was reached: the answer may be cut short. Ask again in halves.
            for half in self._split(products, periods, partners):
                self._fetch(reporter, flow, *half, builder)
            return
        for record in records:
            self._add(record, set(products), builder)

    def _split(self, products: list[str], periods: list[str],
               partners: list[int]) -> list[tuple[list[str], list[str], list[int]]]:
        if len(periods) > 1:
            mid = len(periods) // 2
            return [(products, periods[:mid], partners), (products, periods[mid:], partners)]
        if len(products) > 1:
            mid = len(products) // 2
            return [(products[:mid], periods, partners), (products[mid:], periods, partners)]
        if len(partners) > 1:
            mid = len(partners) // 2
            return [(products, periods, partners[:mid]), (products, periods, partners[mid:])]
        raise CollectionError(
            f"source {self.source_id!r}: {self.url} returned {self._max_records} records (the cap) for one "
            f"product {products[0]} and period {periods[0]}; list partners in the config or set an API key")

    def _records(self, document: object, params: dict[str, str]) -> list[dict]:
        where = f"source {self.source_id!r}: {self.url} (reporter {params['reporterCode']}, period {params['period']})"
        if not isinstance(document, dict):
            raise PayloadError(f"{where}: expected a JSON object, got {type(document).__name__}")
        error = document.get("error")
        if error:
            raise CollectionError(f"{where}: the API reported an error: {self._client.redact(str(error))[:300]}")
        if "data" not in document:
            raise PayloadError(f"{where}: response has no 'data' field (keys: {sorted(document)[:10]})")
        records = document["data"]
        if records is None:
            return []
        if not isinstance(records, list):
            raise PayloadError(f"{where}: 'data' is {type(records).__name__}, expected a list")
        for i, record in enumerate(records):
            if not isinstance(record, dict):
                raise PayloadError(f"{where}: data[{i}] is {type(record).__name__}, expected an object")
            missing = [f for f in REQUIRED_FIELDS if f not in record]
            if missing:
                raise PayloadError(f"{where}: data[{i}] lacks field(s) {missing} (schema changed?)")
        return records

    def _add(self, record: dict, requested: set[str], builder: RowBuilder) -> None:
        if str(record.get("partner2Code", 0)) not in {"0", "None"} or \
                str(record.get("motCode", 0)) not in {"0", "None"} or \
                str(record.get("customsCode", "C00")) not in {"C00", "None"}:
            builder.reject("breakdown_row")
            return
        reporter = iso3_from_m49(record["reporterCode"])
        partner = iso3_from_m49(record["partnerCode"])
        if reporter is None or partner is None:
            builder.reject("unknown_country")
            return
        product = str(record["cmdCode"]).strip()
        if product not in requested:
            builder.reject("unknown_product")
            return
        flow = str(record["flowCode"]).strip()
        if flow not in {"M", "X"}:
            builder.reject("unknown_flow")
            return
        try:
            year, month = int(record["refYear"]), int(record["refMonth"])
            period = date(year, 1 if month == 52 else month, 1)
        except (TypeError, ValueError):
            builder.reject("bad_period")
            return
        weight = record.get("netWgt")
        builder.add({
            "reporter": reporter, "partner": partner, "product": product, "flow": flow,
            "period": period, "value": record["primaryValue"],
            "quantity": weight if isinstance(weight, (int, float)) and weight > 0 else None,
        }, sum_duplicates=partner == NOT_SPECIFIED)
