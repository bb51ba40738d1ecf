"""Eurostat Comext: EU member states' (and the EU's) trade by HS code and partner, monthly.

``GET {base_url}/{dataset}?format=JSON&lang=EN&freq=M&reporter=DE&flow=1
&indicators=VALUE_IN_EUROS&indicators=QUANTITY_IN_100KG&product=8542&product=...
&sinceTimePeriod=2024-01&untilTimePeriod=2024-12[&partner=CN...]``
(``base_url`` default ``https://ec.europa.eu/eurostat/api/comext/dissemination/statistics/1.0/data``,
dataset default ``ds-045409`` "EU trade since 1988 by HS2-4-6 and CN8"; no key). The
answer is a JSON-stat 2.0 dataset with the dimensions ``freq, reporter, partner,
product, flow, indicators, time`` (found by name, so their order does not matter),
``updated`` the dataset's last update (the vintage). Errors come as ``{"error":
[{"status", "id", "label"}]}``; a query too large to answer at once is refused with
HTTP 413, and the chunk is then split (periods first, then products) and asked again.

Codes: ``reporter`` and ``partner`` are ISO alpha-2 (Greece ``GR``, also ``EL``;
the EU as ``EU27_2020`` → ``EU27``), ``WORLD`` the total; EU aggregates
(``EU27_2020_EXTRA``/``_INTRA``, ``EXT_EU27_2020`` ...) are skipped like the Census
groupings; Comext's secret/unallocated partners (``Q*`` codes: high seas, stores and
provisions, countries not specified) → ``_X`` (summed); any other unknown code is
rejected as ``unknown_country``. ``flow`` 1 is imports (M), 2 exports (X).

Units: ``VALUE_IN_EUROS`` is converted to USD with the month's average ECB reference
rate (Eurostat ``ert_bil_eur_m``, ``statinfo=AVG``, ``unit=NAC``, ``currency=USD``: US
dollars per euro), fetched once per collection from ``rates_base_url`` — the trade-flow
model stores USD (Comtrade, Census), and converting monthly totals at the month's
average rate is how the IMF's DOTS converts too. A month without a published rate is
rejected (``no_exchange_rate``), not guessed. ``QUANTITY_IN_100KG`` × 100 is kg.

Estimates: the JSON-stat ``status`` of a value cell (``p`` provisional, ``e``
estimated, ``c`` confidential...) is stored as the flow's ``estimate_flags``
(:func:`monitor.collect.eurostat.eurostat_estimate_flags`; docs/provenance.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date

from monitor.clock import Clock, system_clock
from monitor.collect.base import CollectionError, CollectionWindow
from monitor.records import ESTIMATE_FLAGS, CollectedBatch, trade_key
from monitor.collect.codes import NOT_SPECIFIED, WORLD, iso3_from_alpha2
from monitor.collect.eurostat import eurostat_estimate_flags, jsonstat_cells, raise_api_error
from monitor.collect.http import HttpError, HttpOptions, HttpSourceCollector, PayloadError
from monitor.collect.rows import RowBuilder, parse_number, parse_period, trade_flow_builder
from monitor.config.models import Catalog, ComextSource

EU = "EU27"
EU_REPORTER = "EU27_2020"
VALUE = "VALUE_IN_EUROS"
QUANTITY = "QUANTITY_IN_100KG"
_STATUS = "status"  # the value cell's Eurostat status code, kept beside the measures
FLOW_CODES = {"M": "1", "X": "2"}
DIMENSIONS = ("reporter", "partner", "product", "flow", "indicators", "time")
RATES_DATASET = "ert_bil_eur_m"
TOO_LARGE = 413


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def _months(start: date, end: date) -> list[str]:
    out, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        out.append(f"{year}-{month:02d}")
        year, month = year + month // 12, month % 12 + 1
    return out


def partner_iso3(code: str) -> str | None:
    """ISO alpha-3 (``WORLD``, ``_X``) of a Comext partner code; ``""`` for an EU aggregate; None if unknown."""
    code = code.strip().upper()
    if code == "WORLD":
        return WORLD
    if code.startswith(("EU", "EXT_", "INT_", "EA")) and len(code) > 2:
        return ""
    if len(code) == 2 and code.startswith("Q"):
        return NOT_SPECIFIED
    return iso3_from_alpha2(code) if len(code) == 2 else None


def reporter_code(iso3: str) -> str:
    """The Comext reporter code of an ISO alpha-3 member state (or ``EU27``)."""
    if iso3 == EU:
        return EU_REPORTER
    import pycountry

    country = pycountry.countries.get(alpha_3=iso3)
    if country is None:
        raise ValueError(f"{iso3!r} is not an ISO 3166-1 alpha-3 country code")
    return country.alpha_2


class ComextCollector(HttpSourceCollector):
    """Imports/exports of the configured EU reporters by HS code and partner, in USD."""

    incremental = True

    def __init__(self, settings: ComextSource, catalog: Catalog, options: HttpOptions | None = None,
                 clock: Clock = system_clock):
        super().__init__(settings, options, clock)
        reporters = settings.reporters or [catalog.home]
        self._reporters = {iso3: reporter_code(iso3) for iso3 in reporters}
        self._partners = [reporter_code(p) for p in settings.partners]
        self._products = sorted(set(settings.products) or {
            code for chain in catalog.chains for node in chain.nodes for code in node.hs_codes})
        self.url = f"{settings.base_url.rstrip('/')}/{settings.dataset}"
        self.rates_url = f"{settings.rates_base_url.rstrip('/')}/{RATES_DATASET}"
        self._requests = 0

    def collect(self, window: CollectionWindow | None = None) -> CollectedBatch:
        """Fetch every reporter × flow × product chunk × period chunk from the window's start."""
        window = window or CollectionWindow()
        now = self._clock()
        first = date(*map(int, self._settings.start.split("-")), 1)
        last = date(now.year, now.month, 1)
        self._requests = 0
        raw: list[tuple[str, str, dict]] = []  # (reporter iso3, flow, cell) before conversion
        starts: list[date] = []
        vintages: set[str] = set()
        for reporter_iso, reporter in self._reporters.items():
            for flow in self._settings.flows:
                for products in _chunks(self._products, self._settings.products_per_request):
                    start = window.start_for_all([trade_key(reporter_iso, p, flow) for p in products], first)
                    starts.append(start)
                    for periods in _chunks(_months(start, last), self._settings.periods_per_request):
                        for cell, updated in self._fetch(reporter, flow, products, periods):
                            raw.append((reporter_iso, flow, cell))
                            if updated:
                                vintages.add(updated)
        builder = trade_flow_builder()
        if raw:
            rates = self._rates(min(starts), last)
            self._build(raw, rates, builder)
        vintage = max(vintages) if vintages else now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return CollectedBatch(self.source_id, vintage, trade_flows=builder.frame(),
                              rejected=dict(builder.rejected), requests=self._requests)

    def _fetch(self, reporter: str, flow: str, products: list[str],
               periods: list[str]) -> list[tuple[dict, str | None]]:
        params: list[tuple[str, str]] = [
            ("format", "JSON"), ("lang", "EN"), ("freq", "M"), ("reporter", reporter),
            ("flow", FLOW_CODES[flow]), ("indicators", VALUE), ("indicators", QUANTITY),
            *(("product", p) for p in products), *(("partner", p) for p in self._partners),
            ("sinceTimePeriod", periods[0]), ("untilTimePeriod", periods[-1]),
        ]
        where = f"source {self.source_id!r}: {self.url} (reporter {reporter}, {periods[0]}..{periods[-1]})"
        self._requests += 1
        try:
            document = self._client.get_json(self.url, params)
        except HttpError as err:
            if err.status != TOO_LARGE:
                raise
            # Comext refuses extractions that are too large: ask again in halves.
            if len(periods) > 1:
                mid = len(periods) // 2
                return self._fetch(reporter, flow, products, periods[:mid]) + \
                    self._fetch(reporter, flow, products, periods[mid:])
            if len(products) > 1:
                mid = len(products) // 2
                return self._fetch(reporter, flow, products[:mid], periods) + \
                    self._fetch(reporter, flow, products[mid:], periods)
            raise CollectionError(f"{where}: HTTP 413 (extraction too large) even for one product "
                                  f"{products[0]} and month {periods[0]}; list partners in the config") from None
        raise_api_error(document, where)
        dims, cells = jsonstat_cells(document, where, with_status=True)
        missing = [d for d in DIMENSIONS if d not in dims]
        if missing:
            raise PayloadError(f"{where}: JSON-stat dataset lacks dimension(s) {missing} (schema changed?); "
                               f"dimensions: {dims}")
        position = {d: dims.index(d) for d in DIMENSIONS}
        updated = document.get("updated") if isinstance(document, dict) else None
        return [({d: labels[position[d]] for d in DIMENSIONS} | {"value": value, "products": products,
                                                                  "status": status},
                 str(updated) if updated else None) for labels, value, status in cells]

    def _rates(self, start: date, last: date) -> dict[tuple[int, int], float]:
        """USD per EUR, monthly average, by (year, month)."""
        params = [("format", "JSON"), ("lang", "EN"), ("statinfo", "AVG"), ("unit", "NAC"), ("currency", "USD"),
                  ("sinceTimePeriod", f"{start.year}-{start.month:02d}"),
                  ("untilTimePeriod", f"{last.year}-{last.month:02d}")]
        where = f"source {self.source_id!r}: {self.rates_url} (USD per EUR)"
        self._requests += 1
        document = self._client.get_json(self.rates_url, params)
        raise_api_error(document, where)
        dims, cells = jsonstat_cells(document, where)
        if "time" not in dims or "currency" not in dims:
            raise PayloadError(f"{where}: exchange-rate dataset lacks 'time' or 'currency' (dimensions: {dims})")
        time_pos, currency_pos = dims.index("time"), dims.index("currency")
        rates: dict[tuple[int, int], float] = {}
        for labels, value in cells:
            period, rate = parse_period(labels[time_pos]), parse_number(value)
            if labels[currency_pos] == "USD" and period is not None and rate is not None and rate > 0:
                rates[(period.year, period.month)] = rate
        return rates

    def _build(self, raw: list[tuple[str, str, dict]], rates: dict[tuple[int, int], float],
               builder: RowBuilder) -> None:
        """Pair each cell's value with its quantity, convert to USD and kg, and check the row."""
        keyed: dict[tuple, dict[str, object]] = {}
        for reporter, flow, cell in raw:
            key = (reporter, flow, cell["partner"], cell["product"], cell["time"], tuple(cell["products"]))
            keyed.setdefault(key, {})[cell["indicators"]] = cell["value"]
            if cell["indicators"] == VALUE and cell.get("status"):
                keyed[key][_STATUS] = cell["status"]  # the value's status; the quantity's says nothing of it
        for (reporter, flow, partner_code, product, period_code, requested), measures in keyed.items():
            if VALUE not in measures:
                continue  # a quantity without a value says nothing about the flow's size
            partner = partner_iso3(partner_code)
            if partner == "":
                continue  # an EU aggregate, not a partner
            if partner is None:
                builder.reject("unknown_country")
                continue
            if product not in requested:
                builder.reject("unknown_product")
                continue
            period = parse_period(period_code)
            if period is None:
                builder.reject("bad_period")
                continue
            rate = rates.get((period.year, period.month))
            if rate is None:
                builder.reject("no_exchange_rate")
                continue
            euros = parse_number(measures[VALUE])
            hundred_kg = parse_number(measures.get(QUANTITY))
            builder.add({
                "reporter": reporter, "partner": partner, "product": product, "flow": flow, "period": period,
                "value": None if euros is None else euros * rate,
                "quantity": hundred_kg * 100 if hundred_kg is not None and hundred_kg > 0 else None,
                ESTIMATE_FLAGS: eurostat_estimate_flags(measures.get(_STATUS)),
            }, sum_duplicates=partner == NOT_SPECIFIED)
