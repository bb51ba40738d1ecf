"""A CSV, JSON or Parquet file, local or over HTTP, mapped onto observations or trade flows.

For data without an API: national customs tables (e.g. China customs exports
saved as CSV), USGS mineral tables, a team's own spreadsheet exports. Config::

    - id: china-customs
      kind: file
      location: /data/customs/imports.csv        # or https://…
      table: trade_flows
      columns: {partner: country, product: hs, period: month, value: usd, quantity: kg}
      constants: {reporter: CHN, flow: M}
      country_codes: name                        # iso3 | iso2 | m49 | name

``columns`` maps contract columns to the file's; ``constants`` fills contract
columns the file lacks. ``records_path`` points into a JSON document (``data.rows``).
``format: parquet`` reads a Parquet file (:func:`monitor.collect.columnar.parquet_records`:
typed columns become the text a CSV would hold, dates as ``YYYY-MM-DD``).

Periods: a month (``2024-03``, ``202403``, ``2024M03``, ``2024-03-01``) or a bare year
(``2024``): an annual value, stored at January of its year as the Comtrade and World
Bank collectors store theirs (so a 12-month assessment window holds one annual value).
``country_codes: m49`` reads numeric codes as UN Comtrade writes them: ``0`` is World
(stored as ``WORLD``, the total the indicators use instead of summing partners),
``842`` the USA, the "n.e.s." areas ``_X`` (see :mod:`monitor.collect.codes`); in
any scheme ``World``/``WLD``/``0`` is World. A Comtrade CSV download maps as::

      columns: {reporter: reporterCode, partner: partnerCode, product: cmdCode, flow: flowCode,
                period: period, value: primaryValue, quantity: netWgt}
      country_codes: m49

(keep only the totals over transport mode and customs procedure: a file with
``motCode``/``customsCode`` breakdowns repeats each key with other values, and such
conflicting duplicates are all rejected).
Rows with an unknown country, a bad HS code, an unreadable period, a non-numeric or
negative value (unless ``allow_negative`` for observations, e.g. an index in standard
deviations), or an exact duplicate are rejected and counted; a missing column or an
unreadable file is a :class:`~monitor.collect.base.CollectionError` naming the
file (or URL without secrets). The vintage is ``sha256:<first 16 hex digits>`` of the
file's bytes, so an unchanged file adds nothing and a changed value is a new vintage.

Provenance (docs/provenance.md): ``columns`` may map ``estimate_flags`` to a column
whose cells flag estimates (``estimated``, ``provisional``, Eurostat letters ``p``/``e``...;
:func:`file_estimate_flags`), and ``released: YYYY-MM-DD`` dates the release the file
holds, so that of two releases giving the same period (USGS MCS 2023 and 2024 both
giving 2022) the later-released one is read, whichever file was loaded last::

    - id: usgs-mcs-2024
      kind: file
      location: /data/usgs/mcs2024-lithium.csv
      table: observations
      columns: {series_id: series, period: year, value: production, estimate_flags: note}
      released: 2024-01-31
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from datetime import datetime, time, timezone
from pathlib import Path

import httpx
import pycountry

from monitor.clock import Clock, system_clock
from monitor.collect.base import CollectionError, CollectionWindow
from monitor.records import (
    ESTIMATE_FLAGS,
    ESTIMATE_KINDS,
    OBSERVATION_COLUMNS,
    TRADE_FLOW_COLUMNS,
    CollectedBatch,
    SeriesInfo,
    estimate_flags,
    estimate_kinds,
)
from monitor.collect.columnar import TableFileError, parquet_records
from monitor.collect.codes import (
    WORLD,
    is_hs_code,
    iso3_from_alpha2,
    iso3_from_m49,
    iso3_from_name,
)
from monitor.collect.eurostat import eurostat_estimate_flags
from monitor.collect.http import HttpOptions, PayloadError, RetryPolicy, SourceClient
from monitor.collect.rows import (
    observation_builder,
    parse_number,
    parse_period,
    trade_flow_builder,
)
from monitor.config.models import Catalog, FileSource


_FLAG_SEPARATORS = re.compile(r"[,;|\s]+")
_NOT_FLAGS = {"", "0", "false", "no", "n", "reported", "none", "-"}


def file_estimate_flags(text: object) -> str | None:
    """The ``estimate_flags`` of a file's flag cell, None for a reported figure.

    The cell holds kinds of :data:`~monitor.records.ESTIMATE_KINDS`
    (``estimated``, ``provisional``, ``not_reported``...) separated by commas,
    semicolons, bars or spaces, or Eurostat status letters (``p``, ``e``, ``c``...,
    as :func:`~monitor.collect.eurostat.eurostat_estimate_flags`). Empty, ``0``,
    ``false``, ``no``, ``reported``: no flag. Any other word is kept as ``other``,
    so an unexpected flag still marks the value as not plainly reported.
    """
    if text is None or (isinstance(text, float) and text != text):
        return None
    kinds: list[str] = []
    for token in _FLAG_SEPARATORS.split(str(text).strip().lower()):
        if token in _NOT_FLAGS:
            continue
        if token in ESTIMATE_KINDS:
            kinds.append(token)
        elif token.isalpha() and len(token) <= 3:
            kinds.extend(estimate_kinds(eurostat_estimate_flags(token)) or ("other",))
        else:
            kinds.append("other")
    return estimate_flags(kinds)


class FileCollector:
    """Rows of one mapped CSV/JSON file."""

    incremental = True
    lookback_months = 0

    def __init__(self, settings: FileSource, catalog: Catalog | None = None, options: HttpOptions | None = None,
                 clock: Clock = system_clock):
        self.source_id = settings.id
        self._settings = settings
        self._clock = clock
        self._remote = settings.location.startswith(("http://", "https://"))
        options = options or HttpOptions()
        self._client = SourceClient(
            settings.id, timeout=httpx.Timeout(settings.timeout_seconds, connect=10.0), rate_per_second=1.0,
            retry=RetryPolicy(max_attempts=settings.max_attempts), transport=options.transport,
            sleep=options.sleep, monotonic=options.monotonic, jitter=options.jitter,
            observer=options.observer) if self._remote else None
        columns = OBSERVATION_COLUMNS if settings.table == "observations" else TRADE_FLOW_COLUMNS
        optional = {ESTIMATE_FLAGS}  # mapped from a file column only
        unknown = (sorted(set(settings.columns) - set(columns) - optional)
                   + sorted(set(settings.constants) - set(columns)))
        if unknown:
            raise ValueError(f"source {settings.id!r}: {unknown} are not columns of {settings.table} "
                             f"({', '.join([*columns, *optional])})")
        missing = [c for c in columns if c != "quantity" and c not in settings.columns
                   and c not in settings.constants]
        if missing:
            raise ValueError(f"source {settings.id!r}: no column or constant for {missing}")

    def close(self) -> None:
        """Release the HTTP connections (remote files)."""
        if self._client is not None:
            self._client.close()

    def collect(self, window: CollectionWindow | None = None) -> CollectedBatch:
        """Read the file; with ``window.since`` only rows from that period on."""
        window = window or CollectionWindow()
        raw = self._read()
        records = self._records(raw)
        settings = self._settings
        where = f"source {self.source_id!r}: {self._shown()}"
        if records:
            present = set(records[0])
            absent = [f for f in settings.columns.values() if f not in present]
            if absent:
                raise PayloadError(f"{where}: column(s) {absent} not in the file (has: {sorted(present)[:20]})")
        builder = observation_builder() if settings.table == "observations" else trade_flow_builder()
        series: dict[str, SeriesInfo] = {}
        for record in records:
            row = {c: record.get(f) for c, f in settings.columns.items()}
            row.update(settings.constants)
            period = parse_period(row.get("period"))
            if period is None:
                builder.reject("bad_period")
                continue
            if window.since is not None and period < window.since:
                continue
            row["period"] = period
            value = row.get("value")
            if settings.value_scale != 1.0:
                number = parse_number(value)
                value = None if number is None else number * settings.value_scale
            row["value"] = value
            if ESTIMATE_FLAGS in row:
                row[ESTIMATE_FLAGS] = file_estimate_flags(row[ESTIMATE_FLAGS])
            if settings.table == "trade_flows":
                if not self._trade_row(row, builder):
                    continue
            else:
                row["series_id"] = str(row["series_id"]).strip()
                if row["series_id"] not in series:
                    series[row["series_id"]] = SeriesInfo(row["series_id"], self.source_id, settings.unit,
                                                          f"{settings.location} ({settings.id})")
            builder.add(row, allow_negative=settings.allow_negative and settings.table == "observations")
        vintage = "sha256:" + hashlib.sha256(raw).hexdigest()[:16]
        released = (None if settings.released is None
                    else datetime.combine(settings.released, time(), tzinfo=timezone.utc))
        if settings.table == "observations":
            return CollectedBatch(self.source_id, vintage, series=list(series.values()),
                                  observations=builder.frame(), rejected=dict(builder.rejected),
                                  requests=1 if self._remote else 0, released=released)
        return CollectedBatch(self.source_id, vintage, trade_flows=builder.frame(),
                              rejected=dict(builder.rejected), requests=1 if self._remote else 0,
                              released=released)

    def _trade_row(self, row: dict, builder) -> bool:
        for field in ("reporter", "partner"):
            code = self._country(row.get(field))
            if code is None:
                builder.reject("unknown_country")
                return False
            row[field] = code
        product = str(row.get("product") or "").strip()
        if not is_hs_code(product):
            builder.reject("unknown_product")
            return False
        row["product"] = product
        flow = str(row.get("flow") or "").strip().upper()
        flow = {"IMPORT": "M", "IMPORTS": "M", "EXPORT": "X", "EXPORTS": "X"}.get(flow, flow)
        if flow not in {"M", "X"}:
            builder.reject("unknown_flow")
            return False
        row["flow"] = flow
        return True

    def _country(self, value: object) -> str | None:
        if value is None:
            return None
        text = str(value).strip()
        if text.upper() in {"WORLD", "WLD", "W00", "0"}:
            return WORLD
        kind = self._settings.country_codes
        if kind == "iso3":
            if text.upper() in {"EU27", "_X"}:
                return text.upper()
            country = pycountry.countries.get(alpha_3=text.upper())
            return country.alpha_3 if country is not None else None
        if kind == "iso2":
            return iso3_from_alpha2(text)
        if kind == "m49":
            return iso3_from_m49(text)
        return iso3_from_name(text)

    def _shown(self) -> str:
        return self._client.redact(self._settings.location) if self._client is not None else self._settings.location

    def _read(self) -> bytes:
        if self._client is not None:
            response = self._client.get(self._settings.location, check_later=True)
            if "html" in response.headers.get("Content-Type", "").lower():
                self._client.observe("bad_payload")
                raise PayloadError(f"source {self.source_id!r}: {self._shown()} returned an HTML page, not a "
                                   f"{self._settings.format.upper()} file")
            self._client.observe("success")
            return response.content
        path = Path(self._settings.location)
        try:
            return path.read_bytes()
        except OSError as err:
            raise CollectionError(f"source {self.source_id!r}: cannot read {path}: {err.strerror}") from None

    def _records(self, raw: bytes) -> list[dict]:
        where = f"source {self.source_id!r}: {self._shown()}"
        if self._settings.format == "parquet":
            try:
                return parquet_records(raw)
            except TableFileError as err:
                raise PayloadError(f"{where}: {err}") from None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise PayloadError(f"{where}: not UTF-8 text (byte {err.start})") from None
        if self._settings.format == "csv":
            # newline="": the csv module splits lines itself (a lone CR is a line end, as in the file)
            reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=self._settings.delimiter)
            records = []
            try:
                for line, record in enumerate(reader, start=2):
                    if None in record:
                        raise PayloadError(f"{where}: line {line} has more fields than the header")
                    records.append(record)
            except csv.Error as err:
                # line_num counts the lines read whole; the one that failed is the next
                raise PayloadError(f"{where}: not a readable CSV at line {reader.line_num + 1}: {err}") from None
            return records
        try:
            document = json.loads(text)
        except ValueError as err:
            raise PayloadError(f"{where}: malformed JSON ({err.msg} at character {err.pos})") from None
        if self._settings.records_path:
            for part in self._settings.records_path.split("."):
                if not isinstance(document, dict) or part not in document:
                    raise PayloadError(f"{where}: no {self._settings.records_path!r} in the JSON document")
                document = document[part]
        if not isinstance(document, list) or not all(isinstance(r, dict) for r in document):
            raise PayloadError(f"{where}: expected a list of records (objects)")
        return document
