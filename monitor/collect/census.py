"""US Census Bureau international trade time series: US imports/exports by HS and country.

``GET {base_url}/imports/hs?get=CTY_CODE,CTY_NAME,GEN_VAL_MO&I_COMMODITY=<HS>
&COMM_LVL=HS4|HS6&time=from+YYYY-MM`` and ``{base_url}/exports/hs?get=CTY_CODE,CTY_NAME,
ALL_VAL_MO&E_COMMODITY=<HS>&COMM_LVL=…&time=from+YYYY-MM`` (``base_url`` default
``https://api.census.gov/data/timeseries/intltrade``; optional key, env
``CENSUS_API_KEY``, sent as ``key=``: without one the API allows 500 queries a day
per IP). One request per flow and HS code, monthly data from 2013-01.

The answer is a JSON array of arrays, the first row the header (requested variables,
then the predicate variables, e.g. ``["CTY_CODE", "CTY_NAME", "GEN_VAL_MO",
"GEN_QY1_MO", "UNIT_QY1", "I_COMMODITY", "COMM_LVL", "time"]``); HTTP 204 with an empty
body means no data. Values are USD (general imports ``GEN_VAL_MO``, total exports
``ALL_VAL_MO``).

Quantities (so unit values can be computed): general imports ``GEN_QY1_MO`` (the
quantity of the same general-imports basis as ``GEN_VAL_MO``; ``CON_QY1_MO`` would be
imports for consumption), exports ``QTY_1_MO``, both in the unit ``UNIT_QY1`` of the
HS-10 statistical reporting schedule. The trade-flow model stores kilograms, so
``KG`` is kept, ``T`` (metric tons) × 1000, ``G`` ÷ 1000; any other unit (``NO``
number, ``M2``, ``L``, content weights ``CKG``/``CGM``, ``-`` / ``X`` none) leaves the
quantity unknown (NaN) while the value is kept: a unit value needs a mass. A zero
quantity is unknown too (Census writes 0 where no quantity is collected).

Countries: ``CTY_CODE`` is the Census Schedule C code; ``-`` is the total of all
countries (``WORLD``), codes starting with ``0`` or containing ``X`` are groupings
(continents, EU, USMCA...) and are skipped; other rows are mapped from ``CTY_NAME``
to ISO alpha-3 (:func:`~monitor.collect.codes.iso3_from_name`), unknown names are
rejected as ``unknown_country``. Reporter is always ``USA``.
"""

from __future__ import annotations

from datetime import date

from monitor.clock import Clock, system_clock
from monitor.collect.base import CollectionWindow
from monitor.records import CollectedBatch, trade_key
from monitor.collect.codes import WORLD, iso3_from_name
from monitor.collect.http import HttpOptions, PayloadError, HttpSourceCollector
from monitor.collect.rows import RowBuilder, parse_number, parse_period, trade_flow_builder
from monitor.config.models import Catalog, CensusSource

REPORTER = "USA"
_ENDPOINTS = {"M": ("imports", "I_COMMODITY", "GEN_VAL_MO", "GEN_QY1_MO"),
              "X": ("exports", "E_COMMODITY", "ALL_VAL_MO", "QTY_1_MO")}
UNIT_FIELD = "UNIT_QY1"
KG_PER_UNIT = {"KG": 1.0, "T": 1000.0, "G": 0.001}
"""Census quantity units that are a mass, in kilograms per unit."""


def quantity_kg(quantity: object, unit: object) -> float | None:
    """A Census quantity in kilograms; None when its unit is not a mass or it is zero/missing."""
    factor = KG_PER_UNIT.get(str(unit).strip().upper())
    number = parse_number(quantity)
    if factor is None or number is None or number <= 0:
        return None
    return number * factor


class CensusCollector(HttpSourceCollector):
    """US imports/exports of the configured HS codes by partner country, monthly."""

    incremental = True

    def __init__(self, settings: CensusSource, catalog: Catalog, options: HttpOptions | None = None,
                 clock: Clock = system_clock):
        super().__init__(settings, options, clock)
        self._key = settings.api_key.get_secret_value() if settings.api_key is not None else None
        self._products = sorted(set(settings.products) or {
            code for chain in catalog.chains for node in chain.nodes for code in node.hs_codes})

    def collect(self, window: CollectionWindow | None = None) -> CollectedBatch:
        """Fetch every flow × HS code from its window start."""
        window = window or CollectionWindow()
        first = date(*map(int, self._settings.start.split("-")), 1)
        builder = trade_flow_builder()
        requests = 0
        for flow in self._settings.flows:
            for code in self._products:
                start = window.start_for(trade_key(REPORTER, code, flow), first)
                self._fetch(flow, code, start, builder)
                requests += 1
        return CollectedBatch(self.source_id, self._clock().strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                              trade_flows=builder.frame(), rejected=dict(builder.rejected), requests=requests)

    def _fetch(self, flow: str, code: str, start: date, builder: RowBuilder) -> None:
        path, commodity, value_field, quantity_field = _ENDPOINTS[flow]
        url = f"{self._settings.base_url.rstrip('/')}/{path}/hs"
        params = {"get": f"CTY_CODE,CTY_NAME,{value_field},{quantity_field},{UNIT_FIELD}", commodity: code,
                  "COMM_LVL": f"HS{len(code)}", "time": f"from {start.year}-{start.month:02d}"}
        if self._key:
            params["key"] = self._key
        response = self._client.get(url, params, check_later=True)
        if response.status_code == 204 or not response.content.strip():
            self._client.observe("success")
            return  # the API's "no data for this query"
        document = self._client.parse_json(response)
        where = f"source {self.source_id!r}: {url} ({commodity}={code})"
        if not (isinstance(document, list) and document and isinstance(document[0], list)):
            raise PayloadError(f"{where}: expected a JSON array of rows with a header row first")
        header = [str(h) for h in document[0]]
        missing = [f for f in ("CTY_CODE", "CTY_NAME", value_field, quantity_field, UNIT_FIELD, "time")
                   if f not in header]
        if missing:
            raise PayloadError(f"{where}: header lacks {missing} (schema changed?); header: {header}")
        col = {name: header.index(name) for name in header}
        for i, row in enumerate(document[1:], start=1):
            if not isinstance(row, list) or len(row) != len(header):
                raise PayloadError(f"{where}: row {i} has {len(row) if isinstance(row, list) else '?'} fields, "
                                   f"header has {len(header)}")
            cty_code, name = str(row[col["CTY_CODE"]]).strip(), str(row[col["CTY_NAME"]])
            if cty_code == "-":
                partner = WORLD
            elif cty_code.startswith("0") or "X" in cty_code.upper():
                continue  # a grouping of countries, not a partner
            else:
                partner = iso3_from_name(name)
                if partner is None:
                    builder.reject("unknown_country")
                    continue
            if commodity in col and str(row[col[commodity]]).strip() != code:
                builder.reject("unknown_product")
                continue
            period = parse_period(row[col["time"]])
            if period is None:
                builder.reject("bad_period")
                continue
            quantity = quantity_kg(row[col[quantity_field]], row[col[UNIT_FIELD]])
            builder.add({"reporter": REPORTER, "partner": partner, "product": code, "flow": flow,
                         "period": period, "value": row[col[value_field]], "quantity": quantity})

