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
from typing import NamedTuple

import numpy as np
import pandas as pd

__all__ = [
    "USGS_OTHER_COUNTRIES", "USGS_NAME_FIXES", "USGS_WORLD", "usgs_production_fields", "usgs_release",
    "usgs_reserves", "usgs_reserves_batch", "usgs_stage", "usgs_world_concentration", "usgs_world_production",
    "usgs_world_records", "usgs_world_records_batch",
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
    return pd.DataFrame([spec[1:] for spec in _field_specs(raw)], columns=["field", "unit", "year", "estimated"])


def _field_specs(raw: pd.DataFrame) -> list[tuple[int, str, str, int, bool]]:
    """``(column position, field, unit, year, estimated)`` of each production column (no
    DataFrame: a batch of files asks this of every file)."""
    specs = []
    for position, column in enumerate(raw.columns):
        match = _FIELD.match(str(column).strip())
        if match:
            specs.append((position, str(column), match["unit"], int(match["year"]), match["est"] is not None))
    return specs


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
    values, columns = _named_rows(raw)
    measures = _measures(values, columns)
    distinct = sorted(set(measures))
    if measure is not None:
        if measure not in distinct:
            raise ValueError(f"measure {measure!r} not in this file; its types are: {'; '.join(distinct)}")
        values, measures = values[measures == measure], measures[measures == measure]
    elif len(distinct) > 1:
        raise ValueError(f"the file has {len(distinct)} production types; pass measure= one of: {'; '.join(distinct)}")

    chosen = set(fields["field"])
    part = _Part(product, values, columns, measures, [spec for spec in _field_specs(raw) if spec[1] in chosen])
    out = _production_cells([part], fixes).drop(columns=["file", "row", "field", "field_no"])
    keep = (include_world | (out["partner"] != USGS_WORLD)) & (include_other | (out["partner"] != USGS_OTHER_COUNTRIES))
    out = out[keep.to_numpy()]
    if drop_missing:
        out = out[out["value"].notna()]
    return out.reset_index(drop=True)


def _named_rows(raw: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """A file's cells as one object array, kept to the rows that name a country (blank and
    missing ``Country`` cells are layout), and its column names. One pandas call per file:
    the rest is plain arrays, because per-file pandas calls were most of the cost of
    parsing a whole release (hundreds of small files)."""
    columns = [str(c) for c in raw.columns]
    values = raw.to_numpy(dtype=object)
    names = values[:, columns.index("Country")]
    keep = np.fromiter((not pd.isna(c) and str(c).strip() != "" for c in names), dtype=bool, count=len(names))
    return values[keep], columns


def _measures(values: np.ndarray, columns: list[str]) -> np.ndarray:
    """The production Type of each row, stripped, "" where missing (the column ``Type``, or
    the third where a file heads it otherwise, e.g. "Mine production, fluorspar")."""
    position = columns.index("Type") if "Type" in columns else 2
    return np.array(["" if pd.isna(t) else str(t).strip() for t in values[:, position]], dtype=object)


def _parse_cells(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``value`` (float, NaN when not a number) and ``flag`` of many cells at once:
    thousands separators and a leading ``e`` (estimated) dropped, missing cells empty."""
    text = pd.Series(cells, dtype=object).astype("string").fillna("").str.strip()
    value = pd.to_numeric(text.str.replace(",", "", regex=False).str.replace(r"^e(?=\d)", "", regex=True),
                          errors="coerce")
    codes = text.str.upper().map(_MISSING_CODES).astype(object)
    flag = np.where(value.notna(), "", np.where(codes.isna(), "text", codes))
    return value.to_numpy(dtype="float64", na_value=np.nan), flag.astype(object)


def _partners(names: Iterable[str], fixes: Mapping[str, str]) -> dict[str, str]:
    """The partner of each distinct country name: footnote markers removed, the World
    total :data:`USGS_WORLD`, "Other countries" :data:`USGS_OTHER_COUNTRIES`."""
    out = {}
    for name in names:
        text = _clean_country(name, fixes)
        low = text.lower()
        out[name] = (USGS_WORLD if low.startswith("world total")
                     else USGS_OTHER_COUNTRIES if low.startswith("other countries") else text)
    return out


class _Part(NamedTuple):
    """One file's production cells to parse: its rows naming a country, their Types, fields."""

    product: str
    values: np.ndarray
    columns: list[str]
    measures: np.ndarray
    fields: list[tuple[int, str, str, int, bool]]  # column position, field, unit, year, estimated


def _production_cells(parts: Sequence[_Part], fixes: Mapping[str, str]) -> pd.DataFrame:
    """Every field cell of every part, parsed in one pass over all of them: the columns of
    :func:`usgs_world_production` plus ``file`` (position in ``parts``), ``row`` (position
    among all parts' rows), ``field`` and ``field_no`` (position among the file's fields);
    part by part, field by field, rows in file order."""
    cells, rows, sizes, spec = [], [], [], []
    names, measures, notes, offset = [], [], [], 0
    for file, part in enumerate(parts):
        n = len(part.values)
        for number, (position, field, unit, year, estimated) in enumerate(part.fields):
            cells.append(part.values[:, position])
            rows.append(np.arange(offset, offset + n))
            sizes.append(n)
            spec.append((file, part.product, field, number, unit, year, estimated))
        names.append([str(c) for c in part.values[:, part.columns.index("Country")]])
        measures.append(part.measures)
        note = next((i for i, c in enumerate(part.columns) if c.strip().lower() in ("prod_notes", "prod_note")), None)
        notes.append([""] * n if note is None else [t.lower() if isinstance(t, str) else "" for t in part.values[:, note]])
        offset += n
    columns = ["file", "row", "reporter", "partner", "product", "period", "value", "unit", "estimated", "measure",
               "flag", "marked_estimated", "field", "field_no"]
    if not cells:
        return pd.DataFrame(columns=columns)
    row = np.concatenate(rows)
    name = np.array([n for part in names for n in part], dtype=object)
    note = np.array([n for part in notes for n in part], dtype=object)
    distinct = set(name.tolist())
    partner = _partners(distinct, fixes)
    marked = {n: _name_marked_estimated(n, fixes) for n in distinct}
    file, product, field, field_no, unit, year, estimated = (np.repeat(np.array(c, dtype=object), sizes)
                                                              for c in zip(*spec))
    value, flag = _parse_cells(np.concatenate(cells))
    cell_name, cell_note = name[row], note[row]
    # the name's "e" marker, or Prod_notes saying the year is estimated ("Also estimated in 2022")
    marked_estimated = np.fromiter(
        (marked[n] or ("estimated" in t and str(y) in t) for n, t, y in zip(cell_name, cell_note, year)),
        dtype=bool, count=len(row))
    out = pd.DataFrame({
        "file": file.astype("int64"), "row": row, "reporter": "WORLD",
        "partner": [partner[n] for n in cell_name], "product": product, "period": year.astype("int64"),
        "value": value, "unit": unit, "estimated": estimated.astype(bool),
        "measure": np.concatenate(measures)[row], "flag": flag, "marked_estimated": marked_estimated,
        "field": field, "field_no": field_no.astype("int64"),
    })
    return out[columns]


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
    the Type "Mine production: Platinum". One file of :func:`usgs_world_records_batch`.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`usgs_world_production` plus ``field`` and ``stage``, Type
        by Type (sorted), field by field, rows in file order.
    """
    return usgs_world_records_batch([raw], [product], fixes).drop(columns="file")


def usgs_world_records_batch(raws: Sequence[pd.DataFrame], products: Sequence[str],
                             fixes: Mapping[str, str] = USGS_NAME_FIXES,
                             names: Sequence[str] | None = None) -> pd.DataFrame:
    """:func:`usgs_world_records` of many world files at once (a whole release: the cells of
    all files are parsed in one pass, the per-file work is a few list operations).

    Parameters
    ----------
    raws : sequence of pandas.DataFrame
        World files as read.
    products : sequence of str
        The ``product`` of each file (e.g. its commodity code).
    fixes : Mapping[str, str]
        Country-name corrections after stripping footnote digits.
    names : sequence of str, optional
        A name per file (e.g. its path) that starts the message of a ValueError.

    Returns
    -------
    pandas.DataFrame
        ``file`` (position in ``raws``) and the columns of :func:`usgs_world_records`, file
        by file in the order of ``raws``.

    Raises
    ------
    ValueError
        If a file has no ``Country`` column or no production column.
    """
    parts, stages, ranks = [], [], []
    for i, raw in enumerate(raws):
        where = f"{names[i]}: " if names is not None else ""
        if "Country" not in raw.columns:
            raise ValueError(f"{where}raw has no 'Country' column (has {', '.join(map(str, raw.columns))}); "
                             "is this a USGS MCS world file?")
        fields = _field_specs(raw)
        if not fields:
            raise ValueError(f"{where}raw has no production column named like Prod_<unit>_<year> or "
                             "Prod_<unit>_est_<year>")
        values, columns = _named_rows(raw)
        measures = _measures(values, columns)
        stage, rank = _file_stages(sorted(set(measures)))
        stages.append([stage[m] for m in measures])
        ranks.append([rank[m] for m in measures])
        parts.append(_Part(products[i], values, columns, measures, fields))
    out = _production_cells(parts, fixes)
    row_stage = np.array([s for part in stages for s in part], dtype=object)
    row_rank = np.array([r for part in ranks for r in part], dtype="int64")
    row = out["row"].to_numpy(dtype="int64")
    out["stage"] = row_stage[row] if len(row) else []
    # Type by Type, field by field, rows in file order, within each file
    order = np.lexsort((row, out["field_no"].to_numpy(dtype="int64"), row_rank[row], out["file"].to_numpy(dtype="int64")))
    columns = ["file", "reporter", "partner", "product", "period", "value", "unit", "estimated", "measure", "flag",
               "marked_estimated", "field", "stage"]
    return out.iloc[order].reset_index(drop=True)[columns]


def _file_stages(types: list[str]) -> tuple[dict[str, str], dict[str, int]]:
    """Stage slug and sort rank of each of one file's (sorted) Types: the slug gets a
    qualifier where the file has several Types of the same stage."""
    normal = {t: _normalised_type(t) for t in types}
    base = {t: usgs_stage(t) for t in types}
    distinct_normal: dict[str, set[str]] = {}
    for t in types:
        distinct_normal.setdefault(base[t], set()).add(normal[t])
    stage = {t: base[t] if len(distinct_normal[base[t]]) == 1 else f"{base[t]}-{_qualifier(t)}" for t in types}
    return stage, {t: i for i, t in enumerate(types)}


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
        the file publishes no reserves column. One file of :func:`usgs_reserves_batch`.
    """
    return usgs_reserves_batch([raw], [product], fixes).drop(columns="file")


def usgs_reserves_batch(raws: Sequence[pd.DataFrame], products: Sequence[str],
                        fixes: Mapping[str, str] = USGS_NAME_FIXES) -> pd.DataFrame:
    """:func:`usgs_reserves` of many world files at once, with a leading ``file`` column
    (position in ``raws``), file by file; files without a reserves column give no rows."""
    cells, names, spec = [], [], []
    for file, raw in enumerate(raws):
        columns = [c for c in raw.columns if _RESERVES.match(str(c).strip()) and "note" not in str(c).lower()]
        if not columns or "Country" not in raw.columns:
            continue
        values, names_of = _named_rows(raw)
        cells.append(values[:, names_of.index(str(columns[0]))])
        names.extend(str(c) for c in values[:, names_of.index("Country")])
        spec.append((file, products[file], _RESERVES.match(str(columns[0]).strip())["unit"], len(values)))
    out_columns = ["file", "partner", "product", "value", "unit", "flag"]
    if not cells:
        return pd.DataFrame(columns=out_columns)
    partner = _partners(set(names), fixes)
    value, flag = _parse_cells(np.concatenate(cells))
    file, product, unit = (np.repeat(np.array(c, dtype=object), [s[3] for s in spec]) for c in list(zip(*spec))[:3])
    frame = pd.DataFrame({"file": file.astype("int64"), "partner": [partner[n] for n in names], "product": product,
                          "value": value, "unit": unit, "flag": flag})
    # One row per country of a file, in order of first appearance: its first number, else
    # its first row; two different numbers are a conflict.
    key = ["file", "partner"]
    out = frame.drop_duplicates(key).reset_index(drop=True)
    numbered = frame[frame["value"].notna()].drop_duplicates(key)
    found = out[key].merge(numbered, on=key, how="left")
    has = found["value"].notna().to_numpy()
    out.loc[has, ["value", "flag"]] = found.loc[has, ["value", "flag"]].to_numpy()
    # groups in order of first appearance, as the rows of ``out``
    conflicting = (frame.groupby(key, sort=False)["value"].nunique() > 1).to_numpy()
    out.loc[conflicting, "value"] = np.nan
    out.loc[conflicting, "flag"] = "conflicting"
    out["value"] = out["value"].astype("float64")
    return out[out_columns]


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
