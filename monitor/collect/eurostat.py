"""Eurostat Statistics API (JSON-stat 2.0): e.g. industrial production ``sts_inpr_m``.

``GET {base_url}/{dataset}?format=JSON&lang=EN&sinceTimePeriod=YYYY-MM&<dim>=<code>...``
(``base_url`` default ``https://ec.europa.eu/eurostat/api/dissemination/statistics/1.0/data``;
no key). The answer is a JSON-stat 2.0 dataset: ``id`` (dimension ids in order),
``size`` (their lengths), ``dimension.<id>.category.index`` (code → position, or a list
of codes), ``value`` (flat row-major index → number; a dict when sparse, or a list),
``updated`` (last update of the dataset, used as the vintage). Errors come as
``{"error": [{"status", "id", "label"}]}`` (or a single object).

Every combination of the non-time dimensions becomes one observation series
``eurostat.<dataset>.<code>.<code>...`` (codes in the dataset's dimension order);
time codes ``2024-01``, ``2024M01`` or ``2024`` are accepted. A value's ``status``
(``p`` provisional, ``e`` estimated...) is kept as its ``estimate_flags``
(:func:`eurostat_estimate_flags`; docs/provenance.md).
"""

from __future__ import annotations

from datetime import date

from monitor.clock import Clock, system_clock
from monitor.collect.base import CollectionError, CollectionWindow
from monitor.records import ESTIMATE_FLAGS, CollectedBatch, SeriesInfo, estimate_flags
from monitor.collect.http import HttpOptions, PayloadError, HttpSourceCollector
from monitor.collect.rows import RowBuilder, observation_builder, parse_period
from monitor.config.models import Catalog, EurostatDataset, EurostatSource

TIME = "time"


class EurostatCollector(HttpSourceCollector):
    """Observation series of the configured Eurostat datasets."""

    incremental = True

    def __init__(self, settings: EurostatSource, catalog: Catalog | None = None,
                 options: HttpOptions | None = None, clock: Clock = system_clock):
        super().__init__(settings, options, clock)

    def collect(self, window: CollectionWindow | None = None) -> CollectedBatch:
        """Fetch every dataset query from the window's start."""
        window = window or CollectionWindow()
        first = date(*map(int, self._settings.start.split("-")), 1)
        builder = observation_builder()
        infos: dict[str, SeriesInfo] = {}
        vintages: set[str] = set()
        for spec in self._settings.datasets:
            prefix = f"eurostat.{spec.dataset}."
            known = [k for k in window.latest if k.startswith(prefix)]
            start = window.start_for_all(known, first) if known else window.start_for("", first)
            vintage = self._fetch(spec, start, builder, infos)
            if vintage:
                vintages.add(vintage)
        vintage = max(vintages) if vintages else self._clock().date().isoformat()
        return CollectedBatch(self.source_id, vintage, series=list(infos.values()), observations=builder.frame(),
                              rejected=dict(builder.rejected), requests=len(self._settings.datasets))

    def _fetch(self, spec: EurostatDataset, start: date, builder: RowBuilder,
               infos: dict[str, SeriesInfo]) -> str | None:
        url = f"{self._settings.base_url.rstrip('/')}/{spec.dataset}"
        params: list[tuple[str, str]] = [("format", "JSON"), ("lang", "EN"),
                                         ("sinceTimePeriod", f"{start.year}-{start.month:02d}")]
        for dim, codes in spec.filters.items():
            for code in [codes] if isinstance(codes, str) else codes:
                params.append((dim, code))
        document = self._client.get_json(url, params)  # type: ignore[arg-type]
        where = f"source {self.source_id!r}: {url}"
        raise_api_error(document, where)
        dims, cells = jsonstat_cells(document, where, with_status=True)
        if TIME not in dims:
            raise PayloadError(f"{where}: no '{TIME}' dimension (dimensions: {dims})")
        time_pos = dims.index(TIME)
        for labels, value, status in cells:
            period = parse_period(labels[time_pos])
            if period is None:
                builder.reject("bad_period")
                continue
            series_id = f"eurostat.{spec.dataset}." + ".".join(
                label for d, label in enumerate(labels) if d != time_pos)
            if series_id not in infos:
                infos[series_id] = SeriesInfo(series_id, self.source_id, spec.unit,
                                              f"Eurostat {spec.dataset} " + ", ".join(
                                                  f"{dims[d]}={labels[d]}" for d in range(len(dims)) if d != time_pos),
                                              spec.chain, spec.node)
            builder.add({"series_id": series_id, "period": period, "value": value,
                         ESTIMATE_FLAGS: eurostat_estimate_flags(status)},
                        allow_negative=spec.allow_negative)
        updated = document.get("updated")
        return str(updated) if updated else None


def raise_api_error(document: object, where: str) -> None:
    """Raise :class:`CollectionError` for Eurostat's ``{"error": [{"status", "id", "label"}]}`` body."""
    if isinstance(document, dict) and "error" in document:
        errors = document["error"] if isinstance(document["error"], list) else [document["error"]]
        text = "; ".join(str(e.get("label", e)) if isinstance(e, dict) else str(e) for e in errors)
        raise CollectionError(f"{where}: the API reported an error: {text[:300]}")


# Eurostat's observation status codes (https://ec.europa.eu/eurostat/data/database/information):
# those that make a value an estimate or partial. b (break in series), d (definition
# differs), r (revised), n (not significant), z (not applicable) leave it a reported figure.
_STATUS_KINDS = {"p": "provisional", "e": "estimated", "s": "estimated", "f": "estimated",
                 "c": "confidential", "u": "other"}


def eurostat_estimate_flags(status: object) -> str | None:
    """The ``estimate_flags`` of a Eurostat JSON-stat ``status`` code (one letter or several, e.g. ``"ep"``).

    ``p`` → ``provisional``; ``e``, ``s`` (Eurostat estimate), ``f`` (forecast) →
    ``estimated``; ``c`` → ``confidential``; ``u`` (low reliability) → ``other``.
    None (no status, or only b/d/r/n/z): a reported figure.
    """
    if not isinstance(status, str):
        return None
    return estimate_flags(_STATUS_KINDS[c] for c in status.strip().lower() if c in _STATUS_KINDS)


def jsonstat_statuses(document: object) -> dict[int, str]:
    """Flat index → status code of a JSON-stat 2.0 dataset (``status``: an object, a list or one string)."""
    status = document.get("status") if isinstance(document, dict) else None
    if isinstance(status, dict):
        out = {}
        for key, code in status.items():
            try:
                out[int(key)] = str(code)
            except ValueError:
                continue  # a status key that is no index says nothing about a value
        return out
    if isinstance(status, list):
        return {i: str(code) for i, code in enumerate(status) if code}
    return {}


def jsonstat_cells(document: object, where: str, *, with_status: bool = False) -> tuple[list[str], list[tuple]]:
    """Dimension ids and every present cell (its category codes in dimension order, its value).

    The flat ``value`` index is row-major over ``size`` (the last dimension fastest),
    as JSON-stat 2.0 specifies; an index outside the cube is a :class:`PayloadError`.
    ``with_status``: each cell also carries its status code (None without one).
    """
    dims, sizes, codes = _structure(document, where)
    values = document.get("value")  # type: ignore[union-attr]
    if isinstance(values, list):
        cells = {i: v for i, v in enumerate(values) if v is not None}
    elif isinstance(values, dict):
        cells = {}
        for key, v in values.items():
            try:
                cells[int(key)] = v
            except ValueError:
                raise PayloadError(f"{where}: value key {key!r} is not an index") from None
    else:
        raise PayloadError(f"{where}: 'value' is {type(values).__name__}, expected an object or a list")
    total = 1
    for size in sizes:
        total *= size
    strides = [1] * len(sizes)
    for i in range(len(sizes) - 2, -1, -1):
        strides[i] = strides[i + 1] * sizes[i + 1]
    out: list[tuple[list[str], object]] = []
    for index, value in sorted(cells.items()):
        if not 0 <= index < total:
            raise PayloadError(f"{where}: value index {index} outside the cube of {total} cells (truncated?)")
        out.append(([codes[d][(index // strides[d]) % sizes[d]] for d in range(len(dims))], value))
    if with_status:
        statuses = jsonstat_statuses(document)
        return dims, [(labels, value, statuses.get(index))
                      for (labels, value), index in zip(out, sorted(cells))]
    return dims, out


def _structure(document: object, where: str) -> tuple[list[str], list[int], list[list[str]]]:
    if not isinstance(document, dict) or document.get("class") != "dataset":
        raise PayloadError(f"{where}: not a JSON-stat 2.0 dataset (no \"class\": \"dataset\")")
    dims, sizes, dimension = document.get("id"), document.get("size"), document.get("dimension")
    if not (isinstance(dims, list) and isinstance(sizes, list) and isinstance(dimension, dict)
            and len(dims) == len(sizes)):
        raise PayloadError(f"{where}: JSON-stat 'id', 'size' or 'dimension' missing or inconsistent")
    codes: list[list[str]] = []
    for dim, size in zip(dims, sizes):
        try:
            index = dimension[dim]["category"]["index"]
        except (KeyError, TypeError):
            raise PayloadError(f"{where}: dimension {dim!r} has no category index (schema changed?)") from None
        if isinstance(index, list):
            ordered = [str(c) for c in index]
        elif isinstance(index, dict):
            ordered = [str(c) for c, _ in sorted(index.items(), key=lambda item: item[1])]
        else:
            raise PayloadError(f"{where}: dimension {dim!r} index is {type(index).__name__}")
        if len(ordered) != size:
            raise PayloadError(f"{where}: dimension {dim!r} has {len(ordered)} codes but size {size}")
        codes.append(ordered)
    return [str(d) for d in dims], [int(s) for s in sizes], codes
