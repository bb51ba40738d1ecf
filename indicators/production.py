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
from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["USGS_OTHER_COUNTRIES", "USGS_NAME_FIXES", "usgs_production_fields", "usgs_world_production"]

#: Partner label given to USGS "Other countries" rows; pass it in
#: ``residual_partners`` (it is in :data:`indicators.concentration.RESIDUAL_PARTNERS`).
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


def usgs_world_production(
    raw: pd.DataFrame,
    product: str,
    measure: str | None = None,
    field: str | None = None,
    include_other: bool = True,
    drop_missing: bool = True,
    fixes: Mapping[str, str] = USGS_NAME_FIXES,
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

    Returns
    -------
    pandas.DataFrame
        Columns ``reporter`` (``"WORLD"``), ``partner`` (country), ``product``,
        ``period`` (int year), ``value`` (float, in ``unit``), ``unit`` (from the
        field name), ``estimated`` (bool), ``measure`` (the Type text), ``flag``
        (``""`` for a number, else ``withheld``, ``not_available``,
        ``not_applicable``, ``empty`` or ``text``). "World total" rows are never
        returned (aggregates).

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

    country = table["Country"].map(lambda name: _clean_country(name, fixes))
    is_world = country.str.lower().str.startswith("world total")
    is_other = country.str.lower().str.startswith("other countries")
    country = country.where(~is_other, USGS_OTHER_COUNTRIES)
    keep = ~is_world & (include_other | ~is_other)

    frames = []
    for spec in fields.itertuples(index=False):
        cells = table[spec.field].astype("string").fillna("").str.strip()
        cleaned = cells.str.replace(",", "", regex=False).str.replace(r"^e(?=\d)", "", regex=True)
        value = pd.to_numeric(cleaned, errors="coerce")
        flag = np.where(value.notna(), "", cells.str.upper().map(lambda c: _MISSING_CODES.get(c, "text")))
        frames.append(pd.DataFrame({
            "reporter": "WORLD", "partner": country.to_numpy(), "product": product,
            "period": spec.year, "value": value.to_numpy(dtype="float64", na_value=np.nan),
            "unit": spec.unit, "estimated": spec.estimated, "measure": types.to_numpy(),
            "flag": flag, "_keep": keep.to_numpy(),
        }))
    out = pd.concat(frames, ignore_index=True)
    out = out[out.pop("_keep")]
    if drop_missing:
        out = out[out["value"].notna()]
    return out.reset_index(drop=True)
