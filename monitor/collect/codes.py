"""Country and product codes: UN M49 numeric / names ↔ ISO 3166-1 alpha-3, HS codes.

Country codes come from pycountry (ISO 3166-1, whose numeric codes are the UN M49
country codes). UN Comtrade deviates from ISO numeric for a few reporters and uses
special codes for aggregates; those are listed here explicitly:

- ``0`` World → ``WORLD`` (the indicators drop it from partner shares and use it as
  the total where needed);
- "areas not elsewhere specified" (``899`` Areas n.e.s., ``837`` Bunkers, ``838``
  Free zones, ``839`` Special categories, regional "... n.e.s." codes) → ``_X``,
  Comtrade's own partnerISO for them (no identifiable supplier; dropped from shares);
- Comtrade's historical codes ``842`` USA, ``251`` France, ``579`` Norway, ``699``
  India, ``757`` Switzerland (ISO: 840, 250, 578, 356, 756);
- ``490`` "Other Asia, n.e.s." → ``TWN``: Comtrade publishes Taiwan's trade under it.
"""

from __future__ import annotations

import re
from functools import cache

import pycountry

WORLD = "WORLD"
NOT_SPECIFIED = "_X"

COMTRADE_SPECIAL: dict[int, str] = {
    0: WORLD,
    842: "USA", 251: "FRA", 579: "NOR", 699: "IND", 757: "CHE",
    490: "TWN",
}
"""Comtrade numeric codes that are not, or not the same as, ISO 3166-1 numeric."""

COMTRADE_NES: frozenset[int] = frozenset({
    899, 837, 838, 839, 129, 221, 290, 471, 472, 473, 492, 527, 536, 568, 577, 636, 637, 697, 879,
})
"""Comtrade "areas not elsewhere specified" and similar unallocated partners."""

_HS = re.compile(r"^\d{2}(\d{2}){0,2}$")


@cache
def iso3_from_m49(code: int | str) -> str | None:
    """ISO alpha-3 (or ``WORLD`` / ``_X``) of a Comtrade/M49 numeric code, None if unknown."""
    try:
        number = int(str(code).strip())
    except ValueError:
        return None
    if number in COMTRADE_SPECIAL:
        return COMTRADE_SPECIAL[number]
    if number in COMTRADE_NES:
        return NOT_SPECIFIED
    country = pycountry.countries.get(numeric=f"{number:03d}")
    return country.alpha_3 if country is not None else None


@cache
def m49_from_iso3(iso3: str) -> int:
    """The numeric code Comtrade uses for an ISO alpha-3 country (ValueError if unknown)."""
    for number, alpha in COMTRADE_SPECIAL.items():
        if alpha == iso3 and number != 0:
            return number
    country = pycountry.countries.get(alpha_3=iso3)
    if country is None:
        raise ValueError(f"{iso3!r} is not an ISO 3166-1 alpha-3 country code")
    return int(country.numeric)


@cache
def iso3_from_alpha2(code: str) -> str | None:
    """ISO alpha-3 of an alpha-2 code (Eurostat's ``EL``/``UK`` included), None if unknown."""
    code = {"EL": "GR", "UK": "GB", "XK": "XK"}.get(code.upper(), code.upper())
    if code == "XK":
        return "XKX"  # Kosovo: user-assigned, used by the World Bank and Eurostat
    country = pycountry.countries.get(alpha_2=code)
    return country.alpha_3 if country is not None else None


_NAME_OVERRIDES = {
    "KOREA, SOUTH": "KOR", "KOREA, NORTH": "PRK", "RUSSIA": "RUS", "TAIWAN": "TWN", "VIETNAM": "VNM",
    "BURMA": "MMR", "CONGO, DEMOCRATIC REPUBLIC OF THE": "COD", "CONGO, REPUBLIC OF THE": "COG",
    "HONG KONG": "HKG", "MACAU": "MAC", "LAOS": "LAO", "IRAN": "IRN", "SYRIA": "SYR", "BOLIVIA": "BOL",
    "VENEZUELA": "VEN", "TANZANIA": "TZA", "MOLDOVA": "MDA", "BRUNEI": "BRN", "CZECH REPUBLIC": "CZE",
    "TURKEY": "TUR", "COTE D'IVOIRE": "CIV", "MACEDONIA": "MKD", "NORTH MACEDONIA": "MKD",
    "UNITED KINGDOM": "GBR", "NETHERLANDS": "NLD", "GERMANY (FEDERAL REPUBLIC OF GERMANY)": "DEU",
}


@cache
def iso3_from_name(name: str) -> str | None:
    """ISO alpha-3 of an English country name (as the US Census writes them), None if unknown."""
    key = " ".join(name.upper().split())
    if key in _NAME_OVERRIDES:
        return _NAME_OVERRIDES[key]
    try:
        return pycountry.countries.lookup(name.strip()).alpha_3
    except LookupError:
        return None


def is_hs_code(code: str) -> bool:
    """True for a 2-, 4- or 6-digit HS code."""
    return bool(_HS.match(str(code)))
