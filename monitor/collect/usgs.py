"""USGS Mineral Commodity Summaries (MCS) data releases: world production and reserves.

The MCS data releases publish one CSV per commodity and release,
``mcs<YYYY>-<code>_world.csv`` (``code``: mostly 5 letters, e.g. ``lithi``, ``cobal``,
``galli``): world mine, refinery or plant production by country for two years (the
second estimated) and reserves. Public domain (U.S. Geological Survey, National
Minerals Information Center). Config::

    - id: usgs-mcs
      kind: usgs
      location: /data/usgs/mcs2024_world        # a directory, or a list of files/directories
      commodities: [lithi, cobal, raree, galli, graph, nicke, manga]
      released: {MCS2024: 2024-03-06}           # optional: overrides MCS_RELEASE_DATES

Parsing is :mod:`indicators.production` (pure); this module finds the files, maps
countries to ISO alpha-3 and turns the figures into observations:

- series ``usgs.<code>.<stage>.<ISO3>`` (``WORLD`` for the World total, ``OTHERS`` for
  "Other countries"), ``stage`` from the ``Type`` column (:func:`indicators.production.usgs_stage`:
  ``mine``, ``refinery``, ``primary``, ``plant``, ``smelter``...) and
  ``usgs.<code>.reserves.<ISO3>`` for reserves (period: January of the file's latest
  production year);
- period January 1 of the year; masses in metric tons (``kg``, ``kt``, ``Mt`` fields
  converted), other units (carats, cubic meters) as published;
- vintage the release (``MCS2024``, from the ``Source`` column), released on the date of
  :data:`MCS_RELEASE_DATES` (or the config's ``released``): of MCS 2023 and MCS 2024
  both giving 2022, the 2024 figure is read, the 2023 one stays stored;
- ``estimate_flags`` ``estimated`` for an ``_est_`` field, a name with the ``e``
  marker (``Japane``) or a note saying the year is estimated;
- ``W`` (withheld) is not a value: no observation for the country; the WORLD
  observation of that stage and year carries the ``confidential`` flag (the total
  holds or leaves out undisclosed production) and the WORLD series description names
  the withheld countries (:func:`usgs_withheld`). ``NA``, ``XX``, ``>25000`` and text are
  not values either (counted as rejected by reason).

See docs/sources/usgs.md.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timezone
from pathlib import Path

import pandas as pd

from indicators.production import (
    USGS_OTHER_COUNTRIES,
    USGS_WORLD,
    usgs_production_fields,
    usgs_release,
    usgs_reserves,
    usgs_world_concentration,
    usgs_world_records,
)
from monitor.clock import Clock, system_clock
from monitor.collect.base import CollectionError, CollectionWindow
from monitor.collect.codes import iso3_from_name
from monitor.collect.http import HttpOptions
from monitor.config.models import Catalog, UsgsSource
from monitor.records import ESTIMATE_FLAGS, CollectedBatch, SeriesInfo, estimate_flags

__all__ = [
    "MCS_RELEASE_DATES", "OTHERS", "USGS_ISO3", "UsgsCollector", "usgs_iso3", "usgs_observation_flows",
    "usgs_observations", "usgs_release_date", "usgs_series_id", "usgs_withheld", "usgs_world_files",
    "usgs_world_supply",
]

MCS_RELEASE_DATES: dict[str, date] = {
    "MCS2022": date(2022, 1, 31),
    "MCS2023": date(2023, 1, 31),
    "MCS2024": date(2024, 1, 31),
}
"""Publication dates of the MCS releases (the report and its data release come out at
the end of January each year: MCS 2022 on 2022-01-31, MCS 2023 on 2023-01-31, MCS 2024
on 2024-01-31). A release not listed is dated January 31 of its year; the config's
``released`` overrides (the MCS 2024 data release was revised as version 2.0 on
2024-03-06; its vintage stays ``MCS2024``)."""

OTHERS = "OTHERS"
"""Country code of the "Other countries" rows (a remainder, never a producer)."""

USGS_ISO3: dict[str, str] = {
    "Congo (Kinshasa)": "COD",
    "Congo (Brazzaville)": "COG",
    "Korea, Republic of": "KOR",
    "Korea, North": "PRK",
    "Burma": "MMR",
    "Côte d’Ivoire": "CIV",
    "Cote d'Ivoire": "CIV",
    "Laos": "LAO",
    "Russia": "RUS",
    "Turkey": "TUR",
    "Vietnam": "VNM",
    "Iran": "IRN",
    "Bolivia": "BOL",
    "Tanzania": "TZA",
    "Taiwan": "TWN",
    "Kosovo": "XKX",
    "United States (includes Puerto Rico)": "USA",
    "New Caledonia (overseas territory of France)": "NCL",
}
"""USGS country names pycountry does not resolve (or resolves wrongly), after the
footnote markers are removed (:data:`indicators.production.USGS_NAME_FIXES`). Other
names with a qualifier ("Brazil (beneficiated)", "Kazakhstan, concentrate") resolve by
the name before it; "United States and Canada" does not resolve (rejected as
``unknown_country``)."""

_MASS_TO_T = {"kg": 0.001, "t": 1.0, "kt": 1000.0, "Mt": 1e6, "mmt": 1e6}
# codes are mostly 5 letters (lithi); some are shorter or longer (tin, gold, mgcomp) or two (zirco-hafni)
_FILE = re.compile(r"(?:^|_)mcs(?P<year>\d{4})-(?P<code>[a-z]+(?:-[a-z]+)?)_world\.csv$", re.IGNORECASE)
_REJECT_REASONS = {"withheld": "withheld", "not_available": "not_available", "not_applicable": "not_applicable",
                   "empty": "empty", "text": "not_a_number", "conflicting": "conflicting_duplicate"}


def usgs_iso3(name: str) -> str | None:
    """ISO alpha-3 of a USGS country name (footnote markers already removed), None if unknown.

    ``WORLD`` for :data:`~indicators.production.USGS_WORLD`, :data:`OTHERS` for "Other
    countries"; :data:`USGS_ISO3` first, then pycountry
    (:func:`monitor.collect.codes.iso3_from_name`), then the name before a trailing
    "(qualifier)" or ", qualifier".
    """
    text = " ".join(str(name).split())
    if text == USGS_WORLD:
        return USGS_WORLD
    if text == USGS_OTHER_COUNTRIES:
        return OTHERS
    for candidate in (text, re.sub(r"\s*\([^)]*\)$", "", text), text.split(", ")[0]):
        code = USGS_ISO3.get(candidate) or iso3_from_name(candidate)
        if code is not None:
            return code
    return None


def usgs_series_id(code: str, stage: str, country: str) -> str:
    """``usgs.<code>.<stage>.<ISO3 | WORLD | OTHERS>``, e.g. ``usgs.galli.primary.CHN``."""
    return f"usgs.{code}.{stage}.{country}"


def usgs_release_date(release: str, overrides: Mapping[str, date] | None = None) -> date:
    """The publication date of an MCS release (``MCS2024`` -> 2024-01-31), see :data:`MCS_RELEASE_DATES`."""
    if overrides and release in overrides:
        return overrides[release]
    if release in MCS_RELEASE_DATES:
        return MCS_RELEASE_DATES[release]
    found = re.fullmatch(r"MCS(\d{4})", release)
    if not found:
        raise ValueError(f"{release!r} is not an MCS release name like MCS2024")
    return date(int(found.group(1)), 1, 31)


def usgs_world_files(location: str | Iterable[str], commodities: Iterable[str] = ()) -> list[tuple[str, Path]]:
    """``(code, path)`` of the MCS world files at ``location`` (directories are listed, not
    recursively; names matched case-insensitively, e.g. ``MCS2024-bismu_world.csv``),
    kept to ``commodities`` when given, sorted by path."""
    wanted = {c.lower() for c in commodities}
    places = [location] if isinstance(location, str) else list(location)
    found: list[tuple[str, Path]] = []
    for place in places:
        path = Path(place)
        candidates = sorted(path.iterdir()) if path.is_dir() else [path]
        for candidate in candidates:
            match = _FILE.search(candidate.name)
            if match and (not wanted or match["code"].lower() in wanted):
                found.append((match["code"].lower(), candidate))
    return sorted(found, key=lambda item: str(item[1]))


def _unit(unit: str) -> tuple[str, float]:
    if unit in _MASS_TO_T:
        return "t", _MASS_TO_T[unit]
    return unit, 1.0


def usgs_observations(raw: pd.DataFrame, code: str, *, released: date | None = None,
                      reserves: bool = True, release: str | None = None,
                      ) -> tuple[pd.DataFrame, dict[str, SeriesInfo], Counter[str]]:
    """Observations of one MCS world file (as read, strings), pure.

    Parameters
    ----------
    raw : pandas.DataFrame
        The file as read (``pandas.read_csv(path, dtype=str, encoding="utf-8-sig",
        keep_default_na=False)``).
    code : str
        The commodity code (from the file name, e.g. ``galli``, ``tin``, ``zirco-hafni``).
    released : date, optional
        Publication date of the release (default :func:`usgs_release_date`).
    reserves : bool, default True
        Also the reserves (stage ``reserves``).
    release : str, optional
        The release, when the file's ``Source`` column does not say it
        (:func:`indicators.production.usgs_release`'s fallback, e.g. from the file name).

    Returns
    -------
    tuple
        ``observations`` (``series_id, period, value, estimate_flags, vintage,
        released_at``), the :class:`SeriesInfo` per series id (``source`` left empty:
        the collector fills it) and the rejected cells counted by reason
        (``withheld``, ``not_available``, ``not_applicable``, ``empty``,
        ``not_a_number``, ``unknown_country``, ``conflicting_duplicate``).
    """
    release = usgs_release(raw, fallback=release)
    when = released or usgs_release_date(release)
    stamp = datetime.combine(when, time(), tzinfo=timezone.utc)
    records = usgs_world_records(raw, code)
    rejected: Counter[str] = Counter()
    rows: dict[tuple[str, date], dict] = {}
    conflicts: set[tuple[str, date]] = set()
    infos: dict[str, SeriesInfo] = {}
    withheld = usgs_withheld(records)

    def keep(series_id: str, period: date, value: float, kinds: list[str]) -> None:
        key = (series_id, period)
        if key in conflicts:
            rejected["conflicting_duplicate"] += 1
            return
        if key in rows:
            if rows[key]["value"] != value:
                del rows[key]
                conflicts.add(key)
                rejected["conflicting_duplicate"] += 2
            else:
                rejected["duplicate"] += 1
            return
        rows[key] = {"series_id": series_id, "period": period, "value": value,
                     ESTIMATE_FLAGS: estimate_flags(kinds), "vintage": release, "released_at": stamp}

    def country_of(rec) -> str | None:
        """The row's ISO3 (WORLD, OTHERS), or None after counting why the row is rejected."""
        country = usgs_iso3(rec.partner)
        if country is None:
            rejected["unknown_country"] += 1
        elif pd.isna(rec.value):
            rejected[_REJECT_REASONS.get(rec.flag, "not_a_number")] += 1
            return None
        return country

    for rec in records.itertuples(index=False):
        if (country := country_of(rec)) is None:
            continue
        unit, factor = _unit(rec.unit)
        series_id = usgs_series_id(code, rec.stage, country)
        kinds = ["estimated"] if rec.estimated or rec.marked_estimated else []
        names = withheld.get((rec.stage, int(rec.period)), [])
        if country == USGS_WORLD and names:
            kinds.append("confidential")
        keep(series_id, date(int(rec.period), 1, 1), float(rec.value) * factor, kinds)
        label = {USGS_WORLD: "World total", OTHERS: "Other countries"}.get(country, rec.partner)
        description = f"USGS Mineral Commodity Summaries, {code} ({rec.measure}): {label}"
        if country == USGS_WORLD and withheld:
            shown = "; ".join(f"{year} ({stage}): {', '.join(n)}" for (stage, year), n in sorted(withheld.items())
                              if stage == rec.stage)
            if shown:
                description += f"; withheld (W) in {release}: {shown}"
        infos[series_id] = SeriesInfo(series_id, "", f"{unit} ({rec.measure})", description)
    if reserves and len(records):
        year = int(records["period"].max())
        table = usgs_reserves(raw, code)
        for rec in table.itertuples(index=False):
            if (country := country_of(rec)) is None:
                continue
            unit, factor = _unit(rec.unit)
            series_id = usgs_series_id(code, "reserves", country)
            keep(series_id, date(year, 1, 1), float(rec.value) * factor, [])
            label = {USGS_WORLD: "World total", OTHERS: "Other countries"}.get(country, rec.partner)
            infos[series_id] = SeriesInfo(series_id, "", unit,
                                          f"USGS Mineral Commodity Summaries, {code} reserves: {label} "
                                          f"(as published in {release}, dated January of {year})")
    frame = pd.DataFrame(list(rows.values()),
                         columns=["series_id", "period", "value", ESTIMATE_FLAGS, "vintage", "released_at"])
    frame["period"] = pd.to_datetime(frame["period"])
    flags = frame[ESTIMATE_FLAGS].astype(object)
    frame[ESTIMATE_FLAGS] = flags.where(flags.notna(), None)
    return frame, infos, rejected


def usgs_withheld(records: pd.DataFrame) -> dict[tuple[str, int], list[str]]:
    """``(stage, year) -> [countries]`` whose production a parsed file withholds (``W``).

    ``records``: :func:`indicators.production.usgs_world_records`.
    """
    out: dict[tuple[str, int], set[str]] = {}
    for rec in records[records["flag"] == "withheld"].itertuples(index=False):
        out.setdefault((rec.stage, int(rec.period)), set()).add(usgs_iso3(rec.partner) or rec.partner)
    return {key: sorted(names) for key, names in sorted(out.items())}


def usgs_observation_flows(observations: pd.DataFrame) -> pd.DataFrame:
    """Loaded USGS observations (``series_id, period, value``) as a flows table for
    :func:`indicators.production.usgs_world_concentration`: ``product``
    (``<code>.<stage>``), ``period`` (the year), ``partner`` (ISO3, ``WORLD``,
    ``OTHERS``), ``value``. Reserves and non-USGS series are left out."""
    parts = observations["series_id"].astype(str).str.extract(r"^usgs\.(?P<code>[a-z]+(?:-[a-z]+)?)\.(?P<stage>[^.]+)\."
                                                               r"(?P<partner>[^.]+)$")
    keep = parts["code"].notna() & (parts["stage"] != "reserves")
    parts, rows = parts[keep], observations[keep]
    return pd.DataFrame({
        "product": (parts["code"] + "." + parts["stage"]).to_numpy(),
        "period": pd.to_datetime(rows["period"]).dt.year.to_numpy(),
        "partner": parts["partner"].to_numpy(),
        "value": rows["value"].astype(float).to_numpy(),
    })


def usgs_world_supply(observations: pd.DataFrame,
                      withheld: Mapping[tuple, Iterable[str]] | None = None) -> pd.DataFrame:
    """World-supply concentration per (``<code>.<stage>``, year) from loaded USGS observations.

    ``observations``: :func:`monitor.store.observations.load_observations` of the
    ``usgs.<code>.<stage>.*`` series (newest release of each year). The WORLD
    observation is the denominator; OTHERS and the part of the World total no
    country accounts for (withheld countries among it) are the unallocated remainder.
    Returns :func:`indicators.production.usgs_world_concentration` (keys ``product``,
    ``period``).
    """
    return usgs_world_concentration(usgs_observation_flows(observations), withheld=withheld)


def read_world_file(path: Path) -> pd.DataFrame:
    """A world file as published (BOM dropped, every cell a string, ``NA`` kept as text)."""
    return pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)


class UsgsCollector:
    """Observations of the configured USGS MCS world files."""

    incremental = True
    lookback_months = 0

    def __init__(self, settings: UsgsSource, catalog: Catalog | None = None, options: HttpOptions | None = None,
                 clock: Clock = system_clock):
        self.source_id = settings.id
        self._settings = settings
        self._clock = clock

    def close(self) -> None:
        """Nothing to release (local files)."""

    def collect(self, window: CollectionWindow | None = None) -> CollectedBatch:
        """Read every world file; with ``window.since`` only the years from then on."""
        window = window or CollectionWindow()
        settings = self._settings
        where = f"source {self.source_id!r}"
        places = [settings.location] if isinstance(settings.location, str) else settings.location
        for place in places:
            if not Path(place).exists():
                raise CollectionError(f"{where}: {place} does not exist")
        files = usgs_world_files(settings.location, settings.commodities)
        if not files:
            raise CollectionError(f"{where}: no USGS MCS world file (mcsYYYY-<code>_world.csv) in "
                                  f"{', '.join(places)}" + (f" for {', '.join(settings.commodities)}"
                                                            if settings.commodities else ""))
        parsed = []
        skipped: Counter[str] = Counter()
        for code, path in files:
            try:
                raw = read_world_file(path)
                if usgs_production_fields(raw).empty:
                    # capacity-only tables (abrasives: Cap_t_est_<year>) hold no production
                    skipped["no_production_field"] += 1
                    continue
                release = usgs_release(raw, fallback=f"MCS{_FILE.search(path.name)['year']}")
                frame, infos, rejected = usgs_observations(
                    raw, code, released=usgs_release_date(release, settings.released), reserves=settings.reserves,
                    release=release)
            except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as err:
                raise CollectionError(f"{where}: {path}: {err}") from None
            parsed.append((usgs_release_date(release, settings.released), release, frame, infos, rejected))
        if not parsed:
            raise CollectionError(f"{where}: no production figure in {len(files)} USGS MCS world file(s) "
                                  f"({skipped['no_production_field']} hold capacity only)")
        parsed.sort(key=lambda item: (item[0], item[1]))  # oldest release first: the newest describes a series
        series: dict[str, SeriesInfo] = {}
        rejected_total: Counter[str] = Counter(skipped)
        frames = []
        for _when, _release, frame, infos, rejected in parsed:
            for series_id, info in infos.items():
                series[series_id] = SeriesInfo(series_id, self.source_id, info.unit, info.description)
            rejected_total.update(rejected)
            frames.append(frame)
        observations = pd.concat(frames, ignore_index=True)
        if window.since is not None:
            observations = observations[observations["period"] >= pd.Timestamp(window.since)]
        observations = observations.reset_index(drop=True)
        newest_when, newest = parsed[-1][0], parsed[-1][1]
        return CollectedBatch(self.source_id, newest, series=list(series.values()), observations=observations,
                              released=datetime.combine(newest_when, time(), tzinfo=timezone.utc),
                              rejected=dict(rejected_total))
