"""CSET/ETO Chip Explorer: world market shares by country of each semiconductor input and stage.

Georgetown CSET's Emerging Technology Observatory publishes the *Advanced Semiconductor
Supply Chain Dataset* ("Chip Explorer", github.com/georgetown-cset/eto-supply-chain,
``data/*.csv``; licence CC BY-NC 4.0, so chainwatch never ships it: the user points the
source at a local copy). Config::

    - id: eto-chips
      kind: eto_chips
      location: /data/eto-supply-chain/data   # provision.csv, providers.csv, inputs.csv, stages.csv
      year: 2019                              # the year the shares describe

The files are read as published (``provision.csv`` or ``eto_chipexplorer_provision.csv``):

- ``provision.csv``: one row per provider and input or stage (``provided_id``: ``N20`` EUV
  scanners, ``S2`` Fabrication...), ``share_provided`` a percent string (``91%``), empty
  when not published (``negligible_market_share`` says ``negligible`` for a provider
  with a negligible share);
- ``providers.csv``: ``provider_type`` ``country`` (``provider_name`` a country code such as
  ``NLD``; ``Various`` the unnamed rest) or ``organization`` (a firm, with its ``country``);
- ``inputs.csv`` / ``stages.csv``: the names of the inputs and stages.

Stored, per input or stage, as the ``usgs`` source stores world output, so the
world-supply dimension reads both alike: series ``eto.<id>.<ISO3>`` (``eto.n22.NLD``:
the Netherlands' share of ArF immersion scanners), ``eto.<id>.WORLD`` = 100 (the shares
are percent of the world market) and ``eto.<id>.OTHERS`` for ``Various``; one
observation per series at January of ``year``. The country rows are the published
figures; an input published only by firm is aggregated to the firms' countries (sum of
the firms' shares per country). A provider with an empty share is not a figure:
counted as rejected (``negligible`` or ``not_published``), never stored as zero.

See docs/sources/eto.md.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, datetime, time, timezone
from pathlib import Path

import pandas as pd
import pycountry

from monitor.clock import Clock, system_clock
from monitor.collect.base import CollectionError, CollectionWindow
from monitor.collect.http import HttpOptions
from monitor.config.models import Catalog, EtoChipsSource
from monitor.records import ESTIMATE_FLAGS, CollectedBatch, SeriesInfo

__all__ = ["ETO_DOWNLOAD", "ETO_FILES", "EtoChipsCollector", "eto_country_shares", "eto_file", "eto_names",
           "eto_observations", "eto_series_id", "read_eto_files"]

ETO_DOWNLOAD = "https://github.com/georgetown-cset/eto-supply-chain (folder data/)"
"""Where the files are published (CC BY-NC 4.0)."""

ETO_FILES: dict[str, tuple[str, ...]] = {
    "provision": ("provider_name", "provider_id", "provided_name", "provided_id", "share_provided",
                  "negligible_market_share"),
    "providers": ("provider_name", "provider_id", "provider_type", "country"),
    "inputs": ("input_name", "input_id"),
    "stages": ("stage_id", "stage_name"),
}
"""The files the source reads and the columns it needs from each."""

_COUNTRY_FIXES = {"MAL": "MYS"}  # ETO's code for Malaysia is not ISO alpha-3
_UNALLOCATED = {"Various"}
_SHARE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


def eto_series_id(provided_id: str, country: str) -> str:
    """``eto.<input or stage id, lower case>.<ISO3 | WORLD | OTHERS>``, e.g. ``eto.n22.NLD``."""
    return f"eto.{provided_id.lower()}.{country}"


def eto_file(location: Path, name: str) -> Path:
    """``<name>.csv`` (as in the ETO repository) or ``eto_chipexplorer_<name>.csv`` in ``location``.

    Raises :class:`CollectionError` naming the file and where to get it when neither exists.
    """
    for candidate in (location / f"{name}.csv", location / f"eto_chipexplorer_{name}.csv"):
        if candidate.is_file():
            return candidate
    raise CollectionError(f"CSET/ETO Chip Explorer file {name}.csv not found in {location}: download "
                          f"data/{name}.csv from {ETO_DOWNLOAD} (CC BY-NC 4.0) into that directory")


def read_eto_files(location: Path) -> dict[str, pd.DataFrame]:
    """The four files as published (BOM dropped, every cell a string, empty cells ``""``)."""
    tables = {}
    for name, columns in ETO_FILES.items():
        path = eto_file(location, name)
        try:
            table = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
        except (OSError, UnicodeDecodeError, pd.errors.ParserError) as err:
            raise CollectionError(f"{path}: {err}") from None
        absent = [c for c in columns if c not in table.columns]
        if absent:
            raise CollectionError(f"{path}: missing column(s) {', '.join(absent)}")
        tables[name] = table
    return tables


def _country(code: str) -> str | None:
    """ISO alpha-3 of an ETO country code (``NLD``, ``MAL``), ``OTHERS`` for ``Various``."""
    code = code.strip()
    if code in _UNALLOCATED:
        return "OTHERS"
    code = _COUNTRY_FIXES.get(code, code)
    return code if pycountry.countries.get(alpha_3=code) is not None else None


def eto_country_shares(provision: pd.DataFrame, providers: pd.DataFrame,
                       path: str = "provision.csv") -> tuple[pd.DataFrame, Counter[str]]:
    """Market share (percent) per (``provided_id``, ``partner``) from the published files, pure.

    Country providers give the figures; an input or stage that has no country figure
    but has firm figures gets the sum of its firms' shares per firm country. Returns
    the table (``provided_id, partner, share``) and the rejected rows by reason
    (``negligible``, ``not_published``, ``unknown_country``, ``not_used`` for the firm
    rows of an input its country rows already give). Raises ``ValueError`` naming
    ``path`` and the row for a share that is neither empty nor a percent.
    """
    kinds = dict(zip(providers["provider_id"], providers["provider_type"]))
    homes = dict(zip(providers["provider_id"], providers["country"]))
    rejected: Counter[str] = Counter()
    rows = []
    for number, rec in enumerate(provision.itertuples(index=False), start=2):  # line 1 is the header
        text = str(rec.share_provided).strip()
        if not text:
            rejected["negligible" if str(rec.negligible_market_share).strip() else "not_published"] += 1
            continue
        found = _SHARE.match(text)
        if found is None:
            raise ValueError(f"{path}: row {number}: share_provided {text!r} is not a percent like 61%")
        kind = kinds.get(rec.provider_id)
        partner = _country(rec.provider_name if kind == "country" else homes.get(rec.provider_id, ""))
        if partner is None:
            rejected["unknown_country"] += 1
            continue
        rows.append({"provided_id": rec.provided_id, "partner": partner, "share": float(found.group(1)),
                     "by_country": kind == "country"})
    table = pd.DataFrame(rows, columns=["provided_id", "partner", "share", "by_country"])
    published = set(table.loc[table["by_country"], "provided_id"])
    firms = ~table["by_country"] & table["provided_id"].isin(published)
    rejected["not_used"] += int(firms.sum())
    table = table[~firms].groupby(["provided_id", "partner"], as_index=False, sort=True)["share"].sum()
    return table, +rejected


def eto_names(inputs: pd.DataFrame, stages: pd.DataFrame) -> dict[str, str]:
    """Input or stage id -> its published name (``N20`` -> ``EUV scanners``)."""
    names = dict(zip(stages["stage_id"], stages["stage_name"]))
    names.update(zip(inputs["input_id"], inputs["input_name"]))
    return {key: " ".join(str(value).split()) for key, value in names.items()}


def eto_observations(shares: pd.DataFrame, names: dict[str, str], year: int, released: date,
                     source: str) -> tuple[pd.DataFrame, list[SeriesInfo]]:
    """Observations and series of :func:`eto_country_shares`: the shares plus ``WORLD`` = 100 per input."""
    world = pd.DataFrame({"provided_id": sorted(set(shares["provided_id"])), "partner": "WORLD", "share": 100.0})
    table = pd.concat([shares, world], ignore_index=True)
    period = pd.Timestamp(date(year, 1, 1))
    stamp = datetime.combine(released, time(), tzinfo=timezone.utc)
    ids = [eto_series_id(p, c) for p, c in zip(table["provided_id"], table["partner"])]
    observations = pd.DataFrame({"series_id": ids, "period": period, "value": table["share"].astype(float),
                                 ESTIMATE_FLAGS: None, "vintage": f"ETO-{released.isoformat()}",
                                 "released_at": stamp})
    labels = {"WORLD": "world market", "OTHERS": "various other providers"}
    infos = [SeriesInfo(sid, source, "% of world market",
                        f"CSET/ETO Chip Explorer, {names.get(p, p)} ({p}): market share of "
                        f"{labels.get(c, c)}, about {year} (CC BY-NC 4.0)")
             for sid, p, c in zip(ids, table["provided_id"], table["partner"])]
    return observations, infos


class EtoChipsCollector:
    """Observations of the CSET/ETO Chip Explorer files at the configured location."""

    incremental = False
    lookback_months = 0

    def __init__(self, settings: EtoChipsSource, catalog: Catalog | None = None, options: HttpOptions | None = None,
                 clock: Clock = system_clock):
        self.source_id = settings.id
        self._settings = settings

    def close(self) -> None:
        """Nothing to release (local files)."""

    def collect(self, window: CollectionWindow | None = None) -> CollectedBatch:
        """Read the four files; every share is for one year, so the window does not cut them."""
        settings = self._settings
        where = f"source {self.source_id!r}"
        if not settings.location:
            raise CollectionError(f"{where}: no location given for the CSET/ETO Chip Explorer files: download "
                                  f"data/provision.csv, providers.csv, inputs.csv and stages.csv from "
                                  f"{ETO_DOWNLOAD} (CC BY-NC 4.0) and set the location (the snapshot "
                                  "profile: CHAINWATCH_ETO_DIR)")
        location = Path(settings.location)
        try:
            tables = read_eto_files(location)
            provision = eto_file(location, "provision")
            shares, rejected = eto_country_shares(tables["provision"], tables["providers"], str(provision))
        except CollectionError as err:
            raise CollectionError(f"{where}: {err}") from None
        except ValueError as err:
            raise CollectionError(f"{where}: {err}") from None
        if shares.empty:
            raise CollectionError(f"{where}: {provision}: no published market share")
        observations, infos = eto_observations(shares, eto_names(tables["inputs"], tables["stages"]),
                                               settings.year, settings.released, self.source_id)
        return CollectedBatch(self.source_id, f"ETO-{settings.released.isoformat()}", series=infos,
                              observations=observations,
                              released=datetime.combine(settings.released, time(), tzinfo=timezone.utc),
                              rejected=dict(rejected))
