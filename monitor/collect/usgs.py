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
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from indicators.production import (
    USGS_OTHER_COUNTRIES,
    USGS_WORLD,
    usgs_production_fields,
    usgs_release,
    usgs_reserves_batch,
    usgs_world_concentration,
    usgs_world_records_batch,
)
from monitor.clock import Clock, system_clock
from monitor.collect.base import CollectionError, CollectionWindow
from monitor.collect.codes import iso3_from_name
from monitor.collect.http import HttpOptions
from monitor.config.models import Catalog, UsgsSource
from monitor.records import ESTIMATE_FLAGS, CollectedBatch, SeriesInfo, estimate_flags

__all__ = [
    "MCS_RELEASE_DATES", "OTHERS", "USGS_ISO3", "UsgsCollector", "UsgsWorldFile", "usgs_iso3",
    "usgs_observation_flows", "usgs_observations", "usgs_observations_batch", "usgs_release_date", "usgs_series_id",
    "usgs_withheld", "usgs_world_files", "usgs_world_supply",
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


def usgs_observations(raw: pd.DataFrame, code: str, *, released: date | None = None,
                      reserves: bool = True, release: str | None = None,
                      ) -> tuple[pd.DataFrame, dict[str, SeriesInfo], Counter[str]]:
    """Observations of one MCS world file (as read, strings), pure: one file of
    :func:`usgs_observations_batch`.

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
        See :func:`usgs_observations_batch`.
    """
    release = usgs_release(raw, fallback=release)
    return usgs_observations_batch([UsgsWorldFile(raw, code, release, released or usgs_release_date(release))],
                                   reserves=reserves)


class UsgsWorldFile(NamedTuple):
    """One world file to turn into observations."""

    raw: pd.DataFrame
    """The file as read (:func:`read_world_file`)."""
    code: str
    """Its commodity code (``galli``)."""
    release: str
    """Its release (``MCS2024``, :func:`indicators.production.usgs_release`)."""
    released: date
    """The release's publication date (:func:`usgs_release_date`)."""
    name: str | None = None
    """What an error message calls the file (its path)."""


def usgs_observations_batch(files: Sequence[UsgsWorldFile], *, reserves: bool = True,
                            ) -> tuple[pd.DataFrame, dict[str, SeriesInfo], Counter[str]]:
    """Observations of many MCS world files, pure, parsed in one pass over all their cells.

    Each file keeps its own vintage (its release, released on its date): the rows of two
    releases for the same series and year are both returned, file by file in the order
    of ``files`` (pass them oldest release first). Within a file, a (series, year) given
    twice with the same value is kept once (counted ``duplicate``), with different values
    not at all (``conflicting_duplicate``, one per row and one more per conflict).

    Returns
    -------
    tuple
        ``observations`` (``series_id, period, value, estimate_flags, vintage,
        released_at``), the :class:`SeriesInfo` per series id (``source`` left empty:
        the collector fills it; a series' latest file describes it) and the rejected
        cells counted by reason (``withheld``, ``not_available``, ``not_applicable``,
        ``empty``, ``not_a_number``, ``unknown_country``, ``conflicting_duplicate``,
        ``duplicate``).

    Raises
    ------
    ValueError
        If a file is no world file (no ``Country`` or production column); the message
        starts with its ``name``.
    """
    raws, codes = [f.raw for f in files], [f.code for f in files]
    names = [f.name or "" for f in files] if any(f.name for f in files) else None
    records = usgs_world_records_batch(raws, codes, names=names)
    iso3 = {name: usgs_iso3(name) for name in records["partner"].unique()}
    withheld = _withheld(records, iso3)
    rejected: Counter[str] = Counter()
    production = _usable(records, iso3, rejected)
    code = np.array(codes, dtype=object)[production["file"].to_numpy(dtype="int64")]
    world = production["country"].to_numpy() == USGS_WORLD
    confidential = world & np.array([(f, s, y) in withheld for f, s, y in
                                     zip(production["file"], production["stage"], production["period"])], dtype=bool)
    estimated = (production["estimated"] | production["marked_estimated"]).to_numpy(dtype=bool)
    shown = _withheld_shown(withheld)
    label = production["country"].map(_LABELS).fillna(production["partner"])
    description = [f"USGS Mineral Commodity Summaries, {c} ({m}): {lab}"
                   + (f"; withheld (W) in {files[f].release}: {shown[f, s]}" if w and (f, s) in shown else "")
                   for c, m, lab, w, f, s in zip(code, production["measure"], label, world, production["file"],
                                                  production["stage"])]
    unit, factor = _units(production["unit"])
    parts = [pd.DataFrame({
        "file": production["file"].to_numpy(dtype="int64"), "part": 0,
        "series_id": _series_ids(code, production["stage"], production["country"]),
        "year": production["period"].to_numpy(dtype="int64"),
        "value": production["value"].to_numpy(dtype="float64") * factor,
        ESTIMATE_FLAGS: [_FLAGS[e, c] for e, c in zip(estimated, confidential)],
        "unit": [f"{u} ({m})" for u, m in zip(unit, production["measure"])], "description": description,
    })]
    # reserves: dated January of the file's latest production year
    latest = records.groupby("file")["period"].max()
    if reserves and len(latest):
        found = usgs_reserves_batch(raws, codes)
        usable = _usable(found[found["file"].isin(latest.index)], iso3 | {
            name: usgs_iso3(name) for name in found["partner"].unique() if name not in iso3}, rejected)
        file = usable["file"].to_numpy(dtype="int64")
        code, year = np.array(codes, dtype=object)[file], latest.reindex(file).to_numpy(dtype="int64")
        unit, factor = _units(usable["unit"])
        label = usable["country"].map(_LABELS).fillna(usable["partner"])
        parts.append(pd.DataFrame({
            "file": file, "part": 1, "series_id": _series_ids(code, ["reserves"] * len(usable), usable["country"]),
            "year": year, "value": usable["value"].to_numpy(dtype="float64") * factor, ESTIMATE_FLAGS: None,
            "unit": unit,
            "description": [f"USGS Mineral Commodity Summaries, {c} reserves: {lab} (as published in "
                            f"{files[f].release}, dated January of {y})" for c, lab, f, y in zip(code, label, file, year)],
        }))
    rows = pd.concat(parts, ignore_index=True).sort_values(["file", "part"], kind="stable", ignore_index=True)
    kept = _first_of_each(rows, rejected)
    infos = _series_infos(rows)
    file = kept["file"].to_numpy(dtype="int64")
    frame = pd.DataFrame({
        "series_id": kept["series_id"].tolist(),
        "period": [date(y, 1, 1) for y in kept["year"].tolist()],
        "value": kept["value"].tolist(),
        ESTIMATE_FLAGS: kept[ESTIMATE_FLAGS].tolist(),
        "vintage": [files[f].release for f in file],
        "released_at": [datetime.combine(files[f].released, time(), tzinfo=timezone.utc) for f in file],
    }, columns=["series_id", "period", "value", ESTIMATE_FLAGS, "vintage", "released_at"])
    frame["period"] = pd.to_datetime(frame["period"])
    flags = frame[ESTIMATE_FLAGS].astype(object)
    frame[ESTIMATE_FLAGS] = flags.where(flags.notna(), None)
    # typed even when empty (a file whose every cell is withheld)
    frame = frame.astype({"series_id": "str", "period": "datetime64[s]", "value": "float64", "vintage": "str",
                          "released_at": "datetime64[us, UTC]"})
    return frame, infos, rejected


_LABELS = {USGS_WORLD: "World total", OTHERS: "Other countries"}
_FLAGS = {(e, c): estimate_flags((["estimated"] if e else []) + (["confidential"] if c else []))
          for e in (False, True) for c in (False, True)}


def _units(units: pd.Series) -> tuple[list[str], np.ndarray]:
    """Units as stored (masses in metric tons) and the factor to them."""
    factor = units.map(_MASS_TO_T)
    return ["t" if u in _MASS_TO_T else u for u in units], factor.fillna(1.0).to_numpy(dtype="float64")


def _series_ids(codes: Iterable[str], stages: Iterable[str], countries: Iterable[str]) -> list[str]:
    return [usgs_series_id(c, s, k) for c, s, k in zip(codes, stages, countries)]


def _usable(found: pd.DataFrame, iso3: Mapping[str, str | None], rejected: Counter[str]) -> pd.DataFrame:
    """The rows of a known country holding a number, with their ``country`` code; the
    others counted in ``rejected`` by reason."""
    country = found["partner"].map(iso3)
    unknown = country.isna().to_numpy()
    missing = ~unknown & found["value"].isna().to_numpy()
    if unknown.any():
        rejected["unknown_country"] += int(unknown.sum())
    for reason, count in found.loc[missing, "flag"].map(_REJECT_REASONS).fillna("not_a_number").value_counts().items():
        rejected[reason] += int(count)
    out = found[~unknown & ~missing].copy()
    out["country"] = country[~unknown & ~missing]
    return out


def _first_of_each(rows: pd.DataFrame, rejected: Counter[str]) -> pd.DataFrame:
    """The first row of each (file, series, year), unless a later row of the same file
    gives another value (then none: a conflict); repeats counted in ``rejected``."""
    key = ["file", "series_id", "year"]
    groups = rows.groupby(key, sort=False)
    position = groups.cumcount().to_numpy()
    differs = (rows["value"] != groups["value"].transform("first")).to_numpy()
    # position of the first row that differs from the group's first: the conflict starts there
    conflict_at = pd.Series(np.where(differs, position, np.nan)).groupby(
        [rows[k] for k in key], sort=False).transform("min").to_numpy()
    clean = np.isnan(conflict_at)
    duplicate = int(((position > 0) & (clean | (position < conflict_at))).sum())
    conflicting = int((position >= conflict_at).sum() + (position == conflict_at).sum())
    if duplicate:
        rejected["duplicate"] += duplicate
    if conflicting:
        rejected["conflicting_duplicate"] += conflicting
    return rows[(position == 0) & clean]


def _series_infos(rows: pd.DataFrame) -> dict[str, SeriesInfo]:
    """A :class:`SeriesInfo` per series, in order of first appearance, from its last row."""
    first = rows.drop_duplicates("series_id")["series_id"]
    last = rows.drop_duplicates("series_id", keep="last").set_index("series_id").loc[first]
    return {s: SeriesInfo(s, "", u, d) for s, u, d in zip(last.index, last["unit"], last["description"])}


def _withheld(records: pd.DataFrame, iso3: Mapping[str, str | None]) -> dict[tuple[int, str, int], list[str]]:
    """``(file, stage, year) -> [countries]`` withheld (``W``) in records with a ``file`` column."""
    out: dict[tuple[int, str, int], set[str]] = {}
    rows = records[records["flag"] == "withheld"]
    for file, stage, year, partner in zip(rows["file"], rows["stage"], rows["period"], rows["partner"]):
        out.setdefault((int(file), stage, int(year)), set()).add(iso3.get(partner) or partner)
    return {key: sorted(names) for key, names in sorted(out.items())}


def _withheld_shown(withheld: Mapping[tuple[int, str, int], list[str]]) -> dict[tuple[int, str], str]:
    """``(file, stage) -> "2022 (mine): USA; 2023 (mine): USA"``, for the WORLD series description."""
    out: dict[tuple[int, str], list[str]] = {}
    for (file, stage, year), names in sorted(withheld.items()):
        out.setdefault((file, stage), []).append(f"{year} ({stage}): {', '.join(names)}")
    return {key: "; ".join(parts) for key, parts in out.items()}


def usgs_withheld(records: pd.DataFrame) -> dict[tuple[str, int], list[str]]:
    """``(stage, year) -> [countries]`` whose production a parsed file withholds (``W``).

    ``records``: :func:`indicators.production.usgs_world_records`.
    """
    iso3 = {name: usgs_iso3(name) for name in records["partner"].unique()}
    return {(stage, year): names for (_, stage, year), names in _withheld(records.assign(file=0), iso3).items()}


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
    """A world file as published (BOM dropped, every cell a string, ``NA`` kept as text).

    Python strings (``dtype=object``), not pandas' Arrow-backed ``str``: the parser turns
    each file into one object array, which costs ten times less from these."""
    return pd.read_csv(path, dtype=object, encoding="utf-8-sig", keep_default_na=False)


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
        batch: list[UsgsWorldFile] = []
        skipped: Counter[str] = Counter()
        for code, path in files:
            try:
                raw = read_world_file(path)
                if usgs_production_fields(raw).empty:
                    # capacity-only tables (abrasives: Cap_t_est_<year>) hold no production
                    skipped["no_production_field"] += 1
                    continue
                release = usgs_release(raw, fallback=f"MCS{_FILE.search(path.name)['year']}")
                batch.append(UsgsWorldFile(raw, code, release, usgs_release_date(release, settings.released), str(path)))
            except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as err:
                raise CollectionError(f"{where}: {path}: {err}") from None
        if not batch:
            raise CollectionError(f"{where}: no production figure in {len(files)} USGS MCS world file(s) "
                                  f"({skipped['no_production_field']} hold capacity only)")
        batch.sort(key=lambda item: (item.released, item.release))  # oldest release first: the newest describes a series
        try:
            observations, infos, rejected = usgs_observations_batch(batch, reserves=settings.reserves)
        except ValueError as err:  # names the file
            raise CollectionError(f"{where}: {err}") from None
        series = [SeriesInfo(s, self.source_id, info.unit, info.description) for s, info in infos.items()]
        if window.since is not None:
            observations = observations[observations["period"] >= pd.Timestamp(window.since)]
        observations = observations.reset_index(drop=True)
        newest_when, newest = batch[-1].released, batch[-1].release
        return CollectedBatch(self.source_id, newest, series=series, observations=observations,
                              released=datetime.combine(newest_when, time(), tzinfo=timezone.utc),
                              rejected=dict(skipped + rejected))
