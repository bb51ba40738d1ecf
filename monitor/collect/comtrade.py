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

Mirror fallback (``mirror`` in the config): after the reporter's own flows are fetched,
every requested product × period for which the reporter returned *no row at all* is
asked again from the partners' side — ``reporterCode`` = the configured partners
(omitted when none are listed: every reporting partner, so the month is complete),
``partnerCode`` = the reporter, the opposite ``flowCode`` — and stored as the
reporter's flow from each partner, marked ``provenance = "mirror"`` (imports: the
partner's FOB exports × ``cif_fob_factor``; exports: the partner's CIF imports ÷ it).
A period the reporter reported, even partly, is never mirrored. Stored reported
flows always override mirror flows of the same reporter/product/flow/period
(:func:`~monitor.store.observations.load_trade_flows`), whichever arrived first.

Country codes: see :mod:`monitor.collect.codes` (World ``0`` → ``WORLD``, areas
n.e.s. → ``_X``, several n.e.s. codes of one flow are summed). ``primaryValue`` is
USD, ``netWgt`` kg (0 or missing → unknown quantity).

Estimates: ``isReported``, ``legacyEstimationFlag`` and the ``is…Estimated`` flags of a
record are stored with it as ``estimate_flags`` (:func:`comtrade_estimate_flags`;
docs/provenance.md); a mirror row keeps the partner record's flags.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import date

import httpx
import pandas as pd

from monitor.clock import Clock, system_clock
from monitor.collect.base import CollectionError, CollectionWindow
from monitor.records import ESTIMATE_FLAGS, CollectedBatch, MIRROR, REPORTED, estimate_flags, trade_key
from monitor.collect.codes import NOT_SPECIFIED, WORLD, iso3_from_m49, m49_from_iso3
from monitor.collect.http import HttpOptions, PayloadError, client_from_settings
from monitor.collect.rows import RowBuilder, parse_number, trade_flow_builder
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
        self._mirror = settings.mirror is not None
        self._mirror_partners = [m49_from_iso3(p) for p in settings.mirror.partners] if settings.mirror else []
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
        """Fetch every reporter × flow × product from the window's start to last month.

        With ``mirror`` configured, the product × periods the reporter left empty are
        then filled from the partners' side (rows marked ``mirror``).
        """
        window = window or CollectionWindow()
        now = self._clock()
        first = date(*map(int, self._settings.start.split("-")), 1)
        last = date(now.year, now.month, 1)
        builder = trade_flow_builder()
        mirror = trade_flow_builder()
        self._requests = 0
        for reporter_iso, reporter_code in self._reporters.items():
            for flow in self._settings.flows:
                asked: dict[str, list[str]] = {}
                for products in _chunks(self._products, self._settings.products_per_request):
                    start = window.start_for_all([trade_key(reporter_iso, p, flow) for p in products], first)
                    periods = self._periods(start, last)
                    for product in products:
                        asked[product] = periods
                    for chunk in _chunks(periods, self._settings.periods_per_request):
                        self._fetch([reporter_code], flow, products, chunk, self._partners,
                                    lambda record, wanted: self._add(record, wanted, builder))
                if self._mirror:
                    self._fill_from_mirror(reporter_iso, reporter_code, flow, asked, builder, mirror)
        flows = builder.frame().assign(provenance=REPORTED, cif_fob_factor=math.nan)
        if len(mirror):
            factor = self._settings.mirror.cif_fob_factor if self._settings.mirror else None
            mirrored = mirror.frame().assign(provenance=MIRROR,
                                             cif_fob_factor=math.nan if factor is None else factor)
            flows = pd.concat([flows, mirrored], ignore_index=True)
        rejected = dict(builder.rejected)
        for reason, count in mirror.rejected.items():
            rejected[f"mirror_{reason}"] = rejected.get(f"mirror_{reason}", 0) + count
        return CollectedBatch(
            source=self.source_id, vintage=now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            trade_flows=flows, rejected=rejected, requests=self._requests)

    def _periods(self, start: date, last: date) -> list[str]:
        if self._settings.frequency == "A":
            return [str(year) for year in range(start.year, last.year)]
        return [f"{m.year}{m.month:02d}" for m in _months(start, last)]

    def _fill_from_mirror(self, reporter_iso: str, reporter_code: int, flow: str, asked: dict[str, list[str]],
                          reported: RowBuilder, mirror: RowBuilder) -> None:
        """Ask the mirror partners for the product × periods the reporter returned nothing for."""
        frame = reported.frame()
        frame = frame[(frame["reporter"] == reporter_iso) & (frame["flow"] == flow)]
        present = {(p, (t.year, t.month)) for p, t in zip(frame["product"], frame["period"])}
        missing: dict[tuple[str, ...], list[str]] = {}
        for product, periods in asked.items():
            gaps = tuple(t for t in periods if (product, _period_key(t)) not in present)
            if gaps:
                missing.setdefault(gaps, []).append(product)
        opposite = "X" if flow == "M" else "M"
        for periods, products in missing.items():
            wanted = {(p, _period_key(t)) for p in products for t in periods}
            for chunk_products in _chunks(sorted(products), self._settings.products_per_request):
                for chunk in _chunks(list(periods), self._settings.periods_per_request):
                    self._fetch(self._mirror_partners, opposite, chunk_products, chunk, [reporter_code],
                                lambda record, _: self._add_mirror(record, reporter_iso, flow, wanted, mirror))

    def _fetch(self, reporters: list[int], flow: str, products: list[str], periods: list[str],
               partners: list[int], sink: Callable[[dict, set[str]], None]) -> None:
        params = {
            "period": ",".join(periods), "cmdCode": ",".join(products), "flowCode": flow, "partner2Code": "0",
            "customsCode": "C00", "motCode": "0", "maxRecords": str(self._max_records), "includeDesc": "false",
        }
        if reporters:  # omitted (mirror of every partner): every reporter
            params["reporterCode"] = ",".join(str(r) for r in reporters)
        if partners:
            params["partnerCode"] = ",".join(str(p) for p in partners)
        self._requests += 1
        document = self._client.get_json(self.url, params)
        records = self._records(document, params)
        if len(records) >= self._max_records:
            # The cap was reached: the answer may be cut short. Ask again in halves.
            for half in self._split(reporters, products, periods, partners):
                self._fetch(half[0], flow, *half[1:], sink)
            return
        for record in records:
            sink(record, set(products))

    def _split(self, reporters: list[int], products: list[str], periods: list[str],
               partners: list[int]) -> list[tuple[list[int], list[str], list[str], list[int]]]:
        if len(periods) > 1:
            mid = len(periods) // 2
            return [(reporters, products, periods[:mid], partners), (reporters, products, periods[mid:], partners)]
        if len(products) > 1:
            mid = len(products) // 2
            return [(reporters, products[:mid], periods, partners), (reporters, products[mid:], periods, partners)]
        if len(partners) > 1:
            mid = len(partners) // 2
            return [(reporters, products, periods, partners[:mid]), (reporters, products, periods, partners[mid:])]
        if len(reporters) > 1:
            mid = len(reporters) // 2
            return [(reporters[:mid], products, periods, partners), (reporters[mid:], products, periods, partners)]
        raise CollectionError(
            f"source {self.source_id!r}: {self.url} returned {self._max_records} records (the cap) for one "
            f"product {products[0]} and period {periods[0]}; list partners in the config or set an API key")

    def _records(self, document: object, params: dict[str, str]) -> list[dict]:
        where = (f"source {self.source_id!r}: {self.url} (reporter {params.get('reporterCode', 'all')}, "
                 f"period {params['period']})")
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
        if _is_breakdown(record):
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
        period = _record_period(record)
        if period is None:
            builder.reject("bad_period")
            return
        weight = record.get("netWgt")
        builder.add({
            "reporter": reporter, "partner": partner, "product": product, "flow": flow,
            "period": period, "value": record["primaryValue"],
            "quantity": weight if isinstance(weight, (int, float)) and weight > 0 else None,
            ESTIMATE_FLAGS: comtrade_estimate_flags(record),
        }, sum_duplicates=partner == NOT_SPECIFIED)

    def _add_mirror(self, record: dict, reporter: str, flow: str, wanted: set[tuple[str, tuple[int, int]]],
                    builder: RowBuilder) -> None:
        """One partner-reported record as ``reporter``'s ``flow`` from that partner (CIF/FOB adjusted)."""
        if _is_breakdown(record):
            builder.reject("breakdown_row")
            return
        partner = iso3_from_m49(record["reporterCode"])
        home = iso3_from_m49(record["partnerCode"])
        if partner is None or partner in {WORLD, NOT_SPECIFIED} or home != reporter:
            builder.reject("unknown_country")
            return
        if str(record["flowCode"]).strip() != ("X" if flow == "M" else "M"):
            builder.reject("unknown_flow")
            return
        period = _record_period(record)
        if period is None:
            builder.reject("bad_period")
            return
        product = str(record["cmdCode"]).strip()
        if (product, (period.year, period.month)) not in wanted:
            builder.reject("not_requested")
            return
        value = parse_number(record["primaryValue"])
        factor = self._settings.mirror.cif_fob_factor if self._settings.mirror else None
        if value is not None and factor is not None:
            # imports are valued CIF, exports FOB: partner's exports x factor ~ our imports
            value = value * factor if flow == "M" else value / factor
        weight = record.get("netWgt")
        builder.add({
            "reporter": reporter, "partner": partner, "product": product, "flow": flow, "period": period,
            "value": record["primaryValue"] if value is None else value,
            "quantity": weight if isinstance(weight, (int, float)) and weight > 0 else None,
            ESTIMATE_FLAGS: comtrade_estimate_flags(record),
        })


_FALSE = {"false", "0", "no", "f", "n"}
_TRUE = {"true", "1", "yes", "t", "y"}


def _flag(value: object) -> bool | None:
    """A JSON or CSV boolean (``true``, ``"True"``, ``1``...); None when absent or unreadable."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return None if value != value else value != 0  # NaN: absent
    text = str(value).strip().lower() if value is not None else ""
    return True if text in _TRUE else False if text in _FALSE else None


def comtrade_estimate_flags(record: dict) -> str | None:
    """The ``estimate_flags`` of a Comtrade API v1 record (JSON or CSV), None for a reported figure.

    - ``isReported`` false → ``not_reported`` (UN Statistics estimated the figure);
    - ``legacyEstimationFlag`` other than 0 → ``estimated``;
    - ``isNetWgtEstimated`` / ``isQtyEstimated`` / ``isAltQtyEstimated`` true →
      ``netwgt_estimated`` / ``qty_estimated`` / ``altqty_estimated``.

    Absent fields say nothing (older extracts lack them).
    """
    kinds = []
    if _flag(record.get("isReported")) is False:
        kinds.append("not_reported")
    legacy = parse_number(record.get("legacyEstimationFlag"))
    if legacy is not None and legacy != 0:
        kinds.append("estimated")
    for field, kind in (("isNetWgtEstimated", "netwgt_estimated"), ("isQtyEstimated", "qty_estimated"),
                        ("isAltQtyEstimated", "altqty_estimated")):
        if _flag(record.get(field)) is True:
            kinds.append(kind)
    return estimate_flags(kinds)


def _is_breakdown(record: dict) -> bool:
    """A record split by second partner, mode of transport or customs procedure (not the total)."""
    return str(record.get("partner2Code", 0)) not in {"0", "None"} or \
        str(record.get("motCode", 0)) not in {"0", "None"} or \
        str(record.get("customsCode", "C00")) not in {"C00", "None"}


def _period_key(period: str) -> tuple[int, int]:
    """(year, month) of a requested ``YYYYMM`` or (annual, stored at January) ``YYYY``."""
    return (int(period[:4]), int(period[4:6]) if len(period) == 6 else 1)


def _record_period(record: dict) -> date | None:
    """The month a record is for (annual records, refMonth 52, are stored at January); None if unreadable."""
    try:
        year, month = int(record["refYear"]), int(record["refMonth"])
        return date(year, 1 if month == 52 else month, 1)
    except (TypeError, ValueError):
        return None
