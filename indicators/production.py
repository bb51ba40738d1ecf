"""World production by country as a flows table (USGS Mineral Commodity Summaries layout).

Pure parsing of a table that is already in memory, no I/O: the caller reads the file
(e.g. ``pandas.read_csv(path, dtype=str, encoding="utf-8-sig")``) and passes the
DataFrame. The result is a long table ``reporter, partner, product, period, value``
with ``reporter = "WORLD"`` and the producing country as ``partner``, ready for
:func:`indicators.concentration.concentration_table`.

The USGS MCS data-release world files (one per commodity, e.g.
``mcs2024-galli_world.csv``) have the columns ``Source, Country, Type,
Prod_<unit>_<year>, Prod_<unit>_est_<year>, Prod_notes, [Cap_...], Reserves_...``:
units live in the field names (``t``, ``kt``, ``kg``, ``mct`` ...), ``W`` means
withheld to avoid disclosing company data, ``NA`` not available, ``XX`` not
applicable; country names may carry footnote markers (``Other countries4``,
``New Caledonia11``, ``Japane`` with ``e`` = estimated); ``World total (rounded)`` and
``Other countries`` are aggregates. Publisher: U.S. Geological Survey, National
Minerals Information Center, *Mineral Commodity Summaries* data releases (e.g. MCS
2024, doi:10.5066/P144BA54).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "USGS_OTHER_COUNTRIES", "USGS_NAME_FIXES", "USGS_WORLD", "usgs_production_fields", "usgs_release",
    "usgs_reserves", "usgs_stage", "usgs_world_concentration", "usgs_world_production", "usgs_world_records",
]

#: Partner label given to USGS "Other countries" rows; pass it in
#: ``residual_partners`` (it is in :data:`indicators.vocabulary.RESIDUAL_PARTNERS`).
USGS_OTHER_COUNTRIES = "Other countries"

#: Country names carrying the footnote marker "e" (estimated) glued to the name, as
#: found in the MCS 2023 and 2024 world files. A trailing "e" cannot be stripped by
#: rule (Ukraine, Mozambique, Zimbabwe end in "e"), so the known cases are listed.
USGS_NAME_FIXES: Mapping[str, str] = {
    "Argentinae": "Argentina",
    "Armeniae": "Armenia",
    "Chinae": "China",
    "Greecee": "Greece",
    "Hungarye": "Hungary",
    "Irane": "Iran",
    "Japane": "Japan",
    "Korea, Republic ofe": "Korea, Republic of",
    "Mexicoe": "Mexico",
    "New Zealande": "New Zealand",
    "Russiae": "Russia",
    "Slovakiae": "Slovakia",
    "Turkeye": "Turkey",
    "Other countriese": "Other countries",
}

#: Partner label given to "World total" rows with ``include_world=True`` (a World row for
#: :func:`indicators.concentration.concentration_against_totals`).
USGS_WORLD = "WORLD"

_FIELD = re.compile(r"^Prod_(?P<unit>.+?)_(?P<est>[Ee]st_)?(?P<year>\d{4})$")
_MISSING_CODES = {"W": "withheld", "NA": "not_available", "XX": "not_applicable", "": "empty"}


def usgs_production_fields(raw: pd.DataFrame) -> pd.DataFrame:
    """The production columns of a USGS MCS world table and what they hold.

    Parameters
    ----------
    raw : pandas.DataFrame
        A world file as read, header included (any dtypes).

    Returns
    -------
    pandas.DataFrame
        One row per ``Prod_*`` column: ``field``, ``unit`` (e.g. ``t``, ``kg``,
        ``Sponge_t``), ``year`` (int), ``estimated`` (bool, ``_est_`` in the name).
    """
    rows = []
    for column in raw.columns:
        match = _FIELD.match(str(column).strip())
        if match:
            rows.append({"field": str(column), "unit": match["unit"], "year": int(match["year"]),
                         "estimated": match["est"] is not None})
    return pd.DataFrame(rows, columns=["field", "unit", "year", "estimated"])


def _clean_country(name: str, fixes: Mapping[str, str]) -> str:
    text = " ".join(str(name).replace("\xa0", " ").split())
    text = re.sub(r"(?<=[A-Za-z)])\d+$", "", text)  # footnote digits: "Other countries4"
    return fixes.get(text, text)


def _name_marked_estimated(name: str, fixes: Mapping[str, str]) -> bool:
    """The name carries the glued footnote marker ``e`` (estimated): ``Japane`` -> ``Japan``."""
    text = " ".join(str(name).replace("\xa0", " ").split())
    text = re.sub(r"(?<=[A-Za-z)])\d+$", "", text)
    fixed = fixes.get(text)
    return fixed is not None and text == fixed + "e"


def _notes_estimated(notes: object, year: int) -> bool:
    """``Prod_notes`` says the year's figure is an estimate ("Also estimated in 2022",
    "Production in 2021 is also estimated.", "estimated in 2022 also")."""
    text = str(notes).lower() if isinstance(notes, str) else ""
    return "estimated" in text and str(year) in text


def usgs_world_production(
    raw: pd.DataFrame,
    product: str,
    measure: str | None = None,
    field: str | None = None,
    include_other: bool = True,
    drop_missing: bool = True,
    fixes: Mapping[str, str] = USGS_NAME_FIXES,
    include_world: bool = False,
) -> pd.DataFrame:
    """World production by country from a USGS MCS world table, as flows.

    Parameters
    ----------
    raw : pandas.DataFrame
        A USGS MCS world file as read (column ``Country``; the third column is the
        production type, headed ``Type`` in most files).
    product : str
        Value of the ``product`` column, e.g. ``"gallium"``.
    measure : str, optional
        The ``Type`` to keep when the file has several (e.g. silicon:
        "Plant production, silicon metal" vs ferrosilicon). Required then.
    field : str, optional
        One production column (e.g. ``"Prod_t_est_2023"``); by default all
        ``Prod_<unit>[_est]_<year>`` columns, one period each.
    include_other : bool, default True
        Keep the "Other countries" row as partner :data:`USGS_OTHER_COUNTRIES`. Pass it
        in ``residual_partners`` to ``concentration_table`` so that shares are of the
        whole world while the HHI does not treat "others" as one producer.
    drop_missing : bool, default True
        Drop rows without a number (``W``, ``NA``, ``XX``, empty, text). With False
        they are kept with ``value`` NaN, for inspection.
    fixes : Mapping[str, str]
        Country-name corrections after stripping footnote digits.
    include_world : bool, default False
        Keep the "World total" rows as partner :data:`USGS_WORLD` (the denominator
        for :func:`indicators.concentration.concentration_against_totals`).

    Returns
    -------
    pandas.DataFrame
        Columns ``reporter`` (``"WORLD"``), ``partner`` (country), ``product``,
        ``period`` (int year), ``value`` (float, in ``unit``), ``unit`` (from the
        field name), ``estimated`` (bool), ``measure`` (the Type text), ``flag``
        (``""`` for a number, else ``withheld``, ``not_available``,
        ``not_applicable``, ``empty`` or ``text``), ``marked_estimated`` (bool: the
        country name carries the ``e`` marker, e.g. ``Japane``, or ``Prod_notes`` says
        the year's figure is estimated, e.g. "Also estimated in 2022"; ``estimated``
        stays the field's own ``_est_``). "World total" rows are returned only with
        ``include_world`` (partner :data:`USGS_WORLD`).

    Raises
    ------
    ValueError
        If ``Country`` or a production column is missing, ``field`` is unknown, two
        fields give the same year (pass ``field``), or the file holds several Types
        and ``measure`` is not one of them; the message lists the choices.

    Notes
    -----
    Numbers are parsed after removing thousands separators; a leading ``e``
    (estimated, e.g. ``e5000``) is dropped; ``<``/``>`` bounds are not numbers and get
    flag ``text``. Withheld countries (``W``) are missing from both the numerator and
    the denominator of shares, so shares of the others are over-stated by the
    withheld amount; check ``flag`` before trusting a concentration figure.
    """
    if "Country" not in raw.columns:
        raise ValueError(f"raw has no 'Country' column (has {', '.join(map(str, raw.columns))}); "
                         "is this a USGS MCS world file?")
    fields = usgs_production_fields(raw)
    if fields.empty:
        raise ValueError("raw has no production column named like Prod_<unit>_<year> or Prod_<unit>_est_<year>")
    if field is not None:
        if field not in set(fields["field"]):
            raise ValueError(f"field {field!r} not found; production fields are {', '.join(fields['field'])}")
        fields = fields[fields["field"] == field]
    elif fields["year"].duplicated().any():
        raise ValueError(
            f"several production fields per year ({', '.join(fields['field'])}); pass field= one of them"
        )
    type_col = "Type" if "Type" in raw.columns else raw.columns[2]
    table = raw[raw["Country"].notna() & (raw["Country"].astype(str).str.strip() != "")]
    types = table[type_col].astype(str).str.strip()
    distinct = sorted(set(types))
    if measure is not None:
        if measure not in distinct:
            raise ValueError(f"measure {measure!r} not in this file; its types are: {'; '.join(distinct)}")
        table, types = table[types == measure], types[types == measure]
    elif len(distinct) > 1:
        raise ValueError(f"the file has {len(distinct)} production types; pass measure= one of: {'; '.join(distinct)}")

    out = _production_rows(raw, table, types, fields, product, fixes)
    keep = (include_world | (out["partner"] != USGS_WORLD)) & (include_other | (out["partner"] != USGS_OTHER_COUNTRIES))
    out = out[keep.to_numpy()]
    if drop_missing:
        out = out[out["value"].notna()]
    return out.reset_index(drop=True)


def _production_rows(raw: pd.DataFrame, table: pd.DataFrame, types: pd.Series, fields: pd.DataFrame, product: str,
                     fixes: Mapping[str, str]) -> pd.DataFrame:
    """Every ``fields`` cell of ``table``'s rows (any Types), field by field, rows in file order:
    the columns of :func:`usgs_world_production`, World and Other rows included."""
    names = table["Country"].astype(str)
    unique = names.unique()  # a few dozen names: clean each once
    cleaned_names = {n: _clean_country(n, fixes) for n in unique}
    country = names.map(cleaned_names)
    name_marked = names.map({n: _name_marked_estimated(n, fixes) for n in unique}).to_numpy(dtype=bool)
    notes_col = next((c for c in raw.columns if str(c).strip().lower() in ("prod_notes", "prod_note")), None)
    notes = table[notes_col].tolist() if notes_col is not None else [""] * len(table)
    lower = country.str.lower()
    is_world = lower.str.startswith("world total")
    is_other = lower.str.startswith("other countries")
    partner = country.where(~is_other, USGS_OTHER_COUNTRIES).where(~is_world, USGS_WORLD).to_numpy()
    measures = types.to_numpy()

    frames = []
    for spec in fields.itertuples(index=False):
        cells = table[spec.field].astype("string").fillna("").str.strip()
        cleaned = cells.str.replace(",", "", regex=False).str.replace(r"^e(?=\d)", "", regex=True)
        value = pd.to_numeric(cleaned, errors="coerce")
        flag = np.where(value.notna(), "", cells.str.upper().map(lambda c: _MISSING_CODES.get(c, "text")))
        frames.append(pd.DataFrame({
            "reporter": "WORLD", "partner": partner, "product": product,
            "period": spec.year, "value": value.to_numpy(dtype="float64", na_value=np.nan),
            "unit": spec.unit, "estimated": spec.estimated, "measure": measures,
            "flag": flag,
            "marked_estimated": name_marked | np.array([_notes_estimated(n, spec.year) for n in notes], dtype=bool),
        }))
    return pd.concat(frames, ignore_index=True)


# --- whole files: every Type and field, stages, reserves, the release, concentration ----------

#: Stage slugs, first match wins, tried on the lower-cased Type text (after a leading
#: "World (total)" is dropped, so the World rows of a typed file join their stage).
_STAGES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("mine", re.compile(r"\bmi?ne\b|\bmne\b|\bmining\b")),
    ("smelter", re.compile(r"\bsmelter\b")),
    ("refinery", re.compile(r"\brefinery\b|\brefined\b")),
    ("plant", re.compile(r"\bplant\b")),
    ("primary", re.compile(r"\bprimary\b")),
)
_GENERIC_WORDS = {"production", "poduction", "world", "total", "rounded", "of", "the", "metric", "tons", "in",
                  "mine", "mne", "smelter", "refinery", "plant", "primary", "and", "secondary", "nan", "xx"}


def _normalised_type(text: object) -> str:
    raw = "" if not isinstance(text, str) else text
    low = " ".join(raw.lower().split())
    low = re.sub(r"^world( total)?\s+", "", low)
    return re.sub(r"\s*\(rounded\)", "", low)


def usgs_stage(type_text: str) -> str:
    """The stage slug of a USGS ``Type`` text: ``mine``, ``smelter``, ``refinery``,
    ``plant``, ``primary``, else ``production``.

    Examples: "Mine production, lithium content" -> ``mine``; "Primary production"
    (gallium) -> ``primary``; "Refinery production" (bismuth) -> ``refinery``;
    "Primary and secondary refinery production" -> ``refinery``; "Mne production ..."
    (a typo in the chromium file) -> ``mine``. The content basis ("lithium content",
    "rare-earth-oxide equivalent") is not in the slug: keep the Type text beside it.
    """
    low = _normalised_type(type_text)
    for slug, pattern in _STAGES:
        if pattern.search(low):
            return slug
    return "production"


def _qualifier(type_text: str) -> str:
    words = re.findall(r"[a-z0-9]+", _normalised_type(type_text))
    kept = [w for w in words if w not in _GENERIC_WORDS][:4]
    return "-".join(kept) or "other"


def usgs_release(raw: pd.DataFrame, fallback: str | None = None) -> str:
    """The release a world file belongs to, from its ``Source`` column (e.g. ``"MCS2024"``).

    Spaces are dropped (MCS 2024's aluminum file writes ``MCS 2024``). ``fallback`` (the
    release the file name gives) is used when the column is empty, as in MCS 2024's
    iron-oxide pigment, garnet and zeolite files. Raises ValueError when the column is
    missing or holds several releases, or is empty without a fallback.
    """
    if "Source" not in raw.columns:
        raise ValueError("raw has no 'Source' column (the release, e.g. MCS2024)")
    values = {re.sub(r"\s+", "", str(v)).upper() for v in raw["Source"].dropna() if str(v).strip()}
    if not values and fallback is not None:
        return fallback
    if len(values) != 1:
        raise ValueError(f"the 'Source' column names {len(values)} releases ({', '.join(sorted(values))}); "
                         "expected exactly one, e.g. MCS2024")
    return values.pop()


def usgs_world_records(raw: pd.DataFrame, product: str, fixes: Mapping[str, str] = USGS_NAME_FIXES) -> pd.DataFrame:
    """Every production figure of a USGS MCS world file, all Types and fields, cells kept.

    :func:`usgs_world_production` for each Type and each ``Prod_*`` field, with the
    "World total" (:data:`USGS_WORLD`) and "Other countries" rows and the cells that
    are not numbers (``value`` NaN, ``flag`` says why). Adds ``field`` and ``stage``
    (:func:`usgs_stage`; where one file has several Types of the same stage, e.g.
    silicon metal and ferrosilicon, the slug gets a qualifier from the Type text:
    ``plant-silicon-metal``). World rows typed "World mine production: Platinum" join
    the Type "Mine production: Platinum".

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`usgs_world_production` plus ``field`` and ``stage``.
    """
    if "Country" not in raw.columns:
        raise ValueError(f"raw has no 'Country' column (has {', '.join(map(str, raw.columns))}); "
                         "is this a USGS MCS world file?")
    fields = usgs_production_fields(raw)
    if fields.empty:
        raise ValueError("raw has no production column named like Prod_<unit>_<year> or Prod_<unit>_est_<year>")
    type_col = "Type" if "Type" in raw.columns else raw.columns[2]
    table = raw[raw["Country"].notna() & (raw["Country"].astype(str).str.strip() != "")]
    types = sorted(set(table[type_col].astype(str).str.strip()))
    normal = {t: _normalised_type(t) for t in types}
    base = {t: usgs_stage(t) for t in types}
    distinct_normal: dict[str, set[str]] = {}
    for t in types:
        distinct_normal.setdefault(base[t], set()).add(normal[t])
    stage = {t: base[t] if len(distinct_normal[base[t]]) == 1 else f"{base[t]}-{_qualifier(t)}" for t in types}
    columns = ["reporter", "partner", "product", "period", "value", "unit", "estimated", "measure", "flag",
               "marked_estimated", "field", "stage"]
    if not types:
        return pd.DataFrame(columns=columns)
    # All Types at once (one pass per field), then ordered Type by Type as before: a
    # per-Type pass cost a few hundred pandas calls per Type and field.
    measures = table[type_col].astype(str).str.strip()
    out = _production_rows(raw, table, measures, fields, product, fixes)
    n = len(table)
    out["field"] = np.repeat(fields["field"].to_numpy(), n)
    out["stage"] = out["measure"].map(stage)
    rank = {t: i for i, t in enumerate(types)}
    order = np.lexsort((np.arange(len(out)), np.repeat(np.arange(len(fields)), n), out["measure"].map(rank).to_numpy()))
    return out.iloc[order].reset_index(drop=True)[columns]


_RESERVES = re.compile(r"^Reserves_(?P<unit>.+)$")


def usgs_reserves(raw: pd.DataFrame, product: str, fixes: Mapping[str, str] = USGS_NAME_FIXES) -> pd.DataFrame:
    """Reserves by country from a USGS MCS world file (the ``Reserves_<unit>`` column).

    Returns
    -------
    pandas.DataFrame
        ``partner`` (country, :data:`USGS_OTHER_COUNTRIES` or :data:`USGS_WORLD`),
        ``product``, ``value`` (float; NaN where not a number: ``NA``, ">130,000,000",
        "Included in World total." ...), ``unit``, ``flag`` (as in
        :func:`usgs_world_production`; ``conflicting`` when a country's rows of a
        several-Type file give different numbers). One row per country; empty when
        the file publishes no reserves column.
    """
    columns = [c for c in raw.columns if _RESERVES.match(str(c).strip()) and "note" not in str(c).lower()]
    out_columns = ["partner", "product", "value", "unit", "flag"]
    if not columns or "Country" not in raw.columns:
        return pd.DataFrame(columns=out_columns)
    column = columns[0]
    table = raw[raw["Country"].notna() & (raw["Country"].astype(str).str.strip() != "")]
    country = table["Country"].map(lambda name: _clean_country(name, fixes))
    low = country.str.lower()
    country = country.where(~low.str.startswith("other countries"), USGS_OTHER_COUNTRIES)
    country = country.where(~low.str.startswith("world total"), USGS_WORLD)
    cells = table[column].astype("string").fillna("").str.strip()
    value = pd.to_numeric(cells.str.replace(",", "", regex=False).str.replace(r"^e(?=\d)", "", regex=True),
                          errors="coerce")
    flag = np.where(value.notna(), "", cells.str.upper().map(lambda c: _MISSING_CODES.get(c, "text")))
    frame = pd.DataFrame({"partner": country.to_numpy(), "product": product,
                          "value": value.to_numpy(dtype="float64", na_value=np.nan),
                          "unit": _RESERVES.match(str(column).strip())["unit"], "flag": flag})
    # One row per country, in order of first appearance: its first number, else its first
    # row; two different numbers are a conflict (vectorised: a loop per country was slow).
    out = frame.drop_duplicates("partner").set_index("partner")
    numbered = frame[frame["value"].notna()].drop_duplicates("partner").set_index("partner")
    has = out.index.isin(numbered.index)
    out.loc[has, ["value", "flag"]] = numbered.loc[out.index[has], ["value", "flag"]].to_numpy()
    conflicting = (frame.groupby("partner", sort=False)["value"].nunique() > 1).reindex(out.index).to_numpy()
    out.loc[conflicting, "value"] = np.nan
    out.loc[conflicting, "flag"] = "conflicting"
    out["value"] = out["value"].astype("float64")
    return out.reset_index()[out_columns]


def usgs_world_concentration(flows: pd.DataFrame, withheld: Mapping[tuple, Iterable[str]] | None = None,
                             keys: Sequence[str] = ("product", "period")) -> pd.DataFrame:
    """World-supply concentration of USGS production, against the World total.

    Parameters
    ----------
    flows : pandas.DataFrame
        ``partner`` and ``value`` rows of one or more (``keys``) groups, e.g. the
        output of :func:`usgs_world_records` / :func:`usgs_world_production` with
        ``include_world=True``, or loaded observations turned into this shape
        (``monitor.collect.usgs.usgs_observation_flows``). Partner
        :data:`USGS_WORLD` (or any World code) is the denominator; "Other countries"
        (``OTHERS``) and the part of the World total no named country accounts for
        (withheld countries among it) are the unallocated remainder: in the total,
        never a producer. Rows whose ``value`` is NaN (``W``, ``NA``...) are left out;
        those flagged ``withheld`` (column ``flag``) are named in the result.
    withheld : mapping, optional
        Further withheld countries per group key tuple (e.g. from stored metadata).
    keys : sequence of str, default ("product", "period")
        Group columns that exist in ``flows`` (missing ones are ignored).

    Returns
    -------
    pandas.DataFrame
        :func:`indicators.concentration.concentration_against_totals` per group
        (``top_partner``, ``top_share`` and ``hhi`` lower bounds, ``top_share_upper``,
        ``hhi_upper``, ``partner_coverage``, ``residual_share``...), plus
        ``world_total`` (the published World total; NaN without a World row),
        ``top_share_published`` (the top producer's value over the published World
        total: the release's own arithmetic, which can exceed ``top_share_upper``
        slightly where the rounded World total is below the named countries' sum;
        ``top_share`` then uses that sum) and ``withheld`` (comma-separated, sorted;
        "" when none).
    """
    from indicators.concentration import concentration_against_totals
    from indicators.vocabulary import RESIDUAL_PARTNERS

    group = [k for k in keys if k in flows.columns]
    frame = flows.copy()
    if not group:
        frame["group"] = "all"
        group = ["group"]
    names: dict[tuple, set[str]] = {}
    if "flag" in frame.columns:
        for key, part in frame[frame["flag"] == "withheld"].groupby(group, dropna=False):
            key = key if isinstance(key, tuple) else (key,)
            names.setdefault(key, set()).update(part["partner"].astype(str))
    for key, countries in (withheld or {}).items():
        names.setdefault(tuple(key), set()).update(countries)
    frame = frame[frame["value"].notna()]
    table = concentration_against_totals(frame[[*group, "partner", "value"]], keys=group, slices=(),
                                         residual_partners=RESIDUAL_PARTNERS | {USGS_OTHER_COUNTRIES.upper()},
                                         include_zero_total=True)
    from indicators.vocabulary import WORLD_PARTNERS

    is_world = frame["partner"].astype(str).str.strip().str.upper().isin(WORLD_PARTNERS)
    world = frame[is_world].groupby(group, dropna=False)["value"].max()
    if len(table):
        index = pd.MultiIndex.from_frame(table[group]) if len(group) > 1 else pd.Index(table[group[0]])
        table["world_total"] = world.reindex(index).to_numpy(dtype="float64")
        with np.errstate(divide="ignore", invalid="ignore"):
            top = table["top_share"].to_numpy(dtype="float64") * table["total"].to_numpy(dtype="float64")
            table["top_share_published"] = np.where(table["world_total"] > 0, top / table["world_total"], np.nan)
    else:
        table["world_total"] = pd.Series(dtype="float64")
        table["top_share_published"] = pd.Series(dtype="float64")
    table["withheld"] = [",".join(sorted(names.get(tuple(row), ()))) for row in table[group].itertuples(index=False)]
    return table
