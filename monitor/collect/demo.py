"""The embedded demo source: SIMULATED DEMO DATA, offline and deterministic.

Nothing this module returns is an official statistic. It lets chainwatch run end to
end with no network: the default configuration collects from it, so a first
``chainwatch assess --once`` shows concentrated nodes, disruptions and a spread of
risk levels. Every batch it returns has ``simulated=True`` and vintage
``demo-seed<seed>``, and every series description starts with
``SIMULATED DEMO DATA:``.

What is simulated
-----------------
Months ``t`` run from ``settings.start`` to ``settings.end`` inclusive; ``y_t`` is the
time in years from the reference month; ``m_t`` the calendar month.

**Trade flows** (table ``TRADE_FLOW_COLUMNS``): imports (``flow="M"``) of the
catalog's ``home`` economy, for every HS code of every node, by partner country
(ISO 3166-1 alpha-3). Each code gets a :class:`PartnerProfile`: the longest HS
prefix (6, then 4 digits) found in :data:`PARTNER_PROFILES`, otherwise a profile
drawn from the seeded generator (:func:`fallback_profile`). For code ``c`` with
profile shares ``s_p``, annual value ``V`` (USD, around 2019), unit value ``U``
(USD/kg) and growth ``g``::

    total_t    = V / 12 * (1 + g) ** y_t * S_import[m_t] * exp(e_t)      e_t ~ N(0, 0.05²)
    d_tp       = 0.95 * d_(t-1)p + N(0, 0.03²)                             share drift, AR(1)
    share_tp   = s_p * exp(d_tp) / sum_q s_q * exp(d_tq)
    value_tp   = total_t * share_tp * exp(n_tp) * episodes_tp   (USD)  n_tp ~ N(0, 0.08²)
    unit_tp    = U * premium_p * (1 + g_u) ** y_t * exp(u_tp)   (USD/kg) u_tp ~ N(0, 0.05²)
    quantity   = value_tp / unit_tp                              (kg)

with ``y_t`` in years from 2019-01, ``premium_p = exp(N(0, 0.15²))`` a fixed price
level per partner (unit values differ by origin), ``g_u = 0.02``. ``S_import`` is a
monthly factor with a Chinese New Year dip in January/February and a year-end
rise, scaled to average 1. Partners with a normal share below 3 % ship in only about
three months out of four (rows absent, as in customs data). Partners equal to
``home`` (or, for ``EU27``, its member states) are left out. Quantities are always
known, so ``quantity`` has no NaN.

**Production indices** (table ``OBSERVATION_COLUMNS``), one per id in a node's
``production_series``::

    index_t = 100 * (1 + g) ** y_t * S_output[m_t] * exp(a_t) * episodes_t
    a_t     = 0.5 * a_(t-1) + N(0, 0.02²)

with ``y_t`` in years from 2017-07, so 2017 averages about 100 ("2017 = 100"); ``g``
from :data:`OUTPUT_GROWTH` by node id, else drawn in [0.01, 0.08]. Unit ``index``.

**Exports** (``flow="X"``, partner ``WORLD``) of every HS code, for the import
dependence and value dimensions, with ``(r_v, r_u)`` from :data:`EXPORT_PROFILES`::

    export_t   = r_v * V / 12 * (1 + g) ** y_t * S_import[m_t] * exp(x_t)   x_t ~ N(0, 0.06²)
    unit_x,t   = r_u * U * (1 + g_u) ** y_t * exp(w_t)          (USD/kg)    w_t ~ N(0, 0.05²)

Episodes do not touch exports.

**Partner governance** (``demo.wgi.<PV.EST|GE.EST>.<ISO3>``, annual at January, WGI
scale -2.5..2.5) for every import partner: the illustrative level of
:data:`DEMO_GOVERNANCE` plus N(0, 0.05²) per year, clipped.

**Supply-chain pressure** (``demo.gscpi``, monthly, standard deviations): AR(1) noise
(ρ = 0.7, σ = 0.2) plus the additive :data:`PRESSURE_BUMPS` (2020 lockdowns, the 2021
shipping crunch, +0.8 to +1.2 in the last three months).

**Episodes** (:data:`EPISODES`) multiply the values above in given months:
:class:`PartnerCut` (one partner's shipments of one node's products: the
export-control / ban signature), :class:`OutputDrop` (a node's production series) and
:class:`BroadDip` (every import flow or every output index, optionally of some chains
only). Months are calendar months (``"2020-02"``) or counted back from the last
simulated month (``"end"``, ``"end-2"``), so the final-period episodes always land
at the end of whatever range is configured. Episodes naming a node absent from the
catalog are skipped. The default table makes critical-minerals clearly high risk
at the end (cobalt: supplier share ≈ 0.9, its imports collapse and refined output
drops 25 % in the final month), semiconductors moderately at risk (a partial cut of
one of several equipment suppliers), and leaves the other chains with
concentration risk only.

Determinism
-----------
No clock, no network, no global random state. Every HS code and every production
series draws from its own generator, ``numpy.random.default_rng([seed, k])`` with
``k`` from the SHA-256 of the code or series id (never Python's ``hash()``, which is
salted per process). Adding a node to the catalog therefore leaves every other
series unchanged, and the same seed gives the same batch on every machine. All
random draws happen before episodes are applied, so episodes change only the cells
they target. Each HS code is simulated once even when several nodes list it (the
same physical imports), so an episode on a shared code shows on every such node.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from monitor.records import OBSERVATION_COLUMNS, TRADE_FLOW_COLUMNS, CollectedBatch, SeriesInfo
from monitor.config.models import Catalog, Chain, DemoSource, Node

SIMULATED_PREFIX = "SIMULATED DEMO DATA:"
"""Every description this source writes starts with this."""

# ---------------------------------------------------------------------------------
# Partner profiles
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartnerProfile:
    """Who normally supplies one HS code to the home economy, and at what scale.

    ``shares`` maps ISO alpha-3 partner codes to their normal share of imports
    (normalised to sum to 1 when used). ``annual_value_usd`` is the order of magnitude
    of yearly imports around 2019, ``unit_value_usd_per_kg`` the typical price per kg,
    ``annual_growth`` the trend of import value per year.
    """

    shares: Mapping[str, float]
    annual_value_usd: float
    unit_value_usd_per_kg: float
    annual_growth: float


def _profile(value: float, unit_value: float, growth: float, **shares: float) -> PartnerProfile:
    return PartnerProfile(dict(shares), value, unit_value, growth)


# Plausible magnitudes for China's imports (order of magnitude only, not statistics).
# Shares follow the publicly known supplier pattern of each product; the very
# concentrated ones (cobalt: COD; lithium ore: AUS; nickel ore after 2020: PHL;
# photoresists: JPN) are concentrated on purpose, the rest moderately (HHI 0.15-0.35).
PARTNER_PROFILES: dict[str, PartnerProfile] = {
    # semiconductors
    "280461": _profile(2.0e9, 14, -0.03, DEU=.38, MYS=.22, KOR=.14, USA=.10, JPN=.08, NOR=.05, TWN=.03),
    "381800": _profile(2.5e9, 900, 0.06, JPN=.38, TWN=.20, KOR=.14, DEU=.10, USA=.07, MYS=.05, SGP=.04, ITA=.02),
    "370790": _profile(2.2e9, 60, 0.07, JPN=.70, KOR=.10, USA=.08, TWN=.05, DEU=.04, BEL=.03),
    "280429": _profile(2.5e8, 250, 0.03, RUS=.25, UKR=.20, USA=.20, JPN=.15, KOR=.10, DEU=.10),
    "281111": _profile(6.0e7, 3, 0.02, JPN=.50, KOR=.25, TWN=.15, USA=.10),
    "848610": _profile(2.5e9, 300, 0.08, JPN=.42, USA=.25, DEU=.13, KOR=.10, TWN=.05, SGP=.05),
    "848620": _profile(1.8e10, 600, 0.10, JPN=.36, NLD=.24, USA=.18, KOR=.08, SGP=.08, DEU=.03, ISR=.03),
    "848690": _profile(5.0e9, 250, 0.09, JPN=.35, USA=.20, KOR=.14, SGP=.10, TWN=.08, NLD=.08, DEU=.05),
    "8542": _profile(3.3e11, 3000, 0.04, TWN=.36, KOR=.22, MYS=.09, JPN=.07, VNM=.06, PHL=.05, USA=.05,
                     SGP=.05, THA=.03, DEU=.02),
    "848640": _profile(3.0e9, 300, 0.07, JPN=.34, SGP=.18, NLD=.12, MYS=.10, KOR=.10, USA=.10, DEU=.06),
    "903082": _profile(2.0e9, 800, 0.08, JPN=.38, USA=.30, SGP=.12, KOR=.10, DEU=.05, TWN=.05),
    "903141": _profile(3.0e9, 1000, 0.09, USA=.42, JPN=.28, ISR=.10, SGP=.10, KOR=.05, DEU=.05),
    "250610": _profile(1.5e8, 0.5, 0.08, USA=.35, NOR=.15, IND=.15, BRA=.10, VNM=.10, MYS=.08, MDG=.07),
    # batteries
    "283691": _profile(1.5e9, 12, 0.15, CHL=.65, ARG=.28, BOL=.03, USA=.02, AUS=.02),
    "282520": _profile(1.0e8, 15, 0.10, CHL=.30, ARG=.20, USA=.20, KOR=.15, JPN=.10, RUS=.05),
    "282200": _profile(2.0e8, 30, 0.05, FIN=.30, BEL=.20, COD=.20, ZMB=.10, JPN=.10, KOR=.10),
    "283324": _profile(3.0e8, 4, 0.12, FIN=.25, JPN=.20, KOR=.15, IDN=.15, BEL=.10, AUS=.10, RUS=.05),
    "282590": _profile(6.0e8, 15, 0.08, KOR=.40, JPN=.25, FIN=.10, DEU=.10, USA=.10, BEL=.05),
    "284190": _profile(1.0e9, 25, 0.05, KOR=.40, JPN=.35, BEL=.10, DEU=.08, USA=.07),
    "284290": _profile(4.0e8, 8, 0.04, JPN=.30, KOR=.20, DEU=.20, USA=.15, FRA=.10, BEL=.05),
    "250410": _profile(1.5e8, 0.6, 0.10, MOZ=.45, MDG=.25, TZA=.10, BRA=.10, RUS=.05, NOR=.05),
    "380110": _profile(2.0e8, 3, 0.04, JPN=.35, KOR=.20, DEU=.15, USA=.15, GBR=.08, FRA=.07),
    "380190": _profile(5.0e7, 8, 0.05, JPN=.40, KOR=.20, USA=.15, DEU=.15, GBR=.10),
    "282690": _profile(5.0e7, 15, 0.05, JPN=.40, KOR=.35, USA=.10, DEU=.10, FRA=.05),
    "382499": _profile(1.0e10, 5, 0.04, JPN=.25, USA=.18, KOR=.15, DEU=.14, TWN=.08, SGP=.06, FRA=.05, NLD=.05,
                       BEL=.04),
    "392010": _profile(1.5e9, 4, 0.02, KOR=.25, JPN=.25, TWN=.12, USA=.10, DEU=.08, THA=.08, MYS=.07, SGP=.05),
    "392020": _profile(1.0e9, 5, 0.02, JPN=.35, KOR=.20, TWN=.12, DEU=.10, USA=.08, THA=.08, ITA=.07),
    "850760": _profile(3.0e9, 25, 0.05, KOR=.35, JPN=.20, VNM=.12, MYS=.10, DEU=.08, USA=.05, HUN=.05,
                       POL=.05),
    "850790": _profile(1.0e9, 15, 0.06, KOR=.35, JPN=.35, USA=.10, DEU=.10, VNM=.10),
    # critical minerals
    "2605": _profile(3.0e8, 6, 0.02, COD=.93, ZMB=.03, MAR=.02, AUS=.01, CAN=.01),
    "8105": _profile(3.5e9, 12, 0.08, COD=.90, ZMB=.03, ZAF=.02, FIN=.02, NOR=.01, BEL=.01, MAR=.01),
    "2604": _profile(3.5e9, 0.05, 0.03, PHL=.60, IDN=.30, NCL=.05, GTM=.02, AUS=.02, CIV=.01),
    "7501": _profile(3.0e9, 12, 0.20, IDN=.50, AUS=.12, PNG=.12, CAN=.10, FIN=.08, RUS=.05, CUB=.03),
    "7502": _profile(2.5e9, 18, 0.02, RUS=.35, AUS=.15, CAN=.12, NOR=.10, JPN=.08, ZAF=.05, FIN=.05,
                     BRA=.05, MDG=.05),
    "720260": _profile(8.0e9, 1.5, 0.20, IDN=.85, NCL=.05, MMR=.03, BRA=.03, COL=.02, GTM=.02),
    "2602": _profile(5.0e9, 0.2, 0.05, ZAF=.45, AUS=.18, GAB=.15, GHA=.08, BRA=.05, CIV=.04, MYS=.03, NAM=.02),
    "253090": _profile(3.0e9, 0.9, 0.15, AUS=.78, BRA=.06, ZWE=.06, CAN=.03, NGA=.03, MLI=.02, USA=.02),
    "250490": _profile(2.0e7, 0.5, 0.02, MOZ=.35, MDG=.25, BRA=.15, LKA=.10, RUS=.10, TZA=.05),
    "2846": _profile(6.0e8, 30, 0.05, MMR=.55, MYS=.20, LAO=.10, VNM=.06, USA=.03, JPN=.03, EST=.03),
    "280530": _profile(1.0e8, 60, 0.03, VNM=.35, MMR=.20, LAO=.15, JPN=.15, MYS=.10, USA=.05),
    "811292": _profile(2.0e8, 300, 0.02, JPN=.30, USA=.20, DEU=.15, RUS=.10, BEL=.10, CAN=.10, KOR=.05),
    "282560": _profile(1.0e8, 10, 0.03, JPN=.30, USA=.20, DEU=.20, FRA=.10, AUS=.10, KOR=.10),
    "850511": _profile(8.0e8, 50, 0.03, JPN=.45, DEU=.15, KOR=.10, VNM=.10, USA=.08, PHL=.07, THA=.05),
    # pharmaceuticals
    "2941": _profile(1.2e9, 80, 0.03, ITA=.22, IND=.18, ESP=.14, DEU=.12, NLD=.10, USA=.10, AUT=.08, IRL=.06),
    "2936": _profile(9.0e8, 30, 0.03, DEU=.25, CHE=.25, NLD=.15, USA=.10, FRA=.10, IND=.08, JPN=.07),
    "2937": _profile(2.0e9, 2000, 0.05, DNK=.25, DEU=.22, USA=.15, FRA=.12, IRL=.08, CHE=.08, ITA=.05, IND=.05),
    "2939": _profile(4.0e8, 500, 0.03, CHE=.20, IND=.20, USA=.15, DEU=.15, ITA=.10, GBR=.10, FRA=.10),
    "2934": _profile(6.0e9, 100, 0.05, IRL=.20, CHE=.18, USA=.15, DEU=.12, JPN=.10, IND=.10, ITA=.08, SGP=.07),
    "293329": _profile(6.0e8, 50, 0.04, DEU=.25, JPN=.20, USA=.15, IND=.12, KOR=.10, CHE=.10, ITA=.08),
    "293339": _profile(8.0e8, 40, 0.04, JPN=.25, USA=.20, DEU=.15, IND=.15, CHE=.10, KOR=.10, GBR=.05),
    "293349": _profile(3.0e8, 60, 0.04, IND=.25, DEU=.20, JPN=.15, USA=.15, ITA=.10, CHE=.10, KOR=.05),
    "293359": _profile(2.0e9, 150, 0.05, IRL=.18, USA=.18, CHE=.15, DEU=.14, IND=.12, JPN=.10, ITA=.08, SGP=.05),
    "293399": _profile(3.0e9, 200, 0.05, USA=.20, IRL=.16, CHE=.16, DEU=.14, JPN=.10, IND=.10, ITA=.08, SGP=.06),
    "3003": _profile(6.0e8, 80, 0.03, DEU=.25, FRA=.15, USA=.15, CHE=.12, IRL=.10, ITA=.08, GBR=.08, JPN=.07),
    "3004": _profile(3.0e10, 200, 0.06, DEU=.20, USA=.14, FRA=.10, IRL=.10, ITA=.09, CHE=.08, GBR=.07, SWE=.06,
                     JPN=.05, BEL=.05, DNK=.03, IND=.03),
    "3002": _profile(1.5e10, 2000, 0.10, USA=.22, DEU=.18, CHE=.15, IRL=.12, BEL=.10, SGP=.06, AUT=.06, GBR=.05,
                     DNK=.03, NLD=.03),
    "3005": _profile(3.0e8, 10, 0.04, DEU=.20, USA=.20, GBR=.12, JPN=.12, SWE=.10, FRA=.10, MYS=.08, MEX=.08),
    "901831": _profile(5.0e8, 20, 0.05, USA=.25, DEU=.15, JPN=.15, MEX=.12, SGP=.10, IRL=.08, FRA=.08, KOR=.07),
    "901832": _profile(4.0e8, 60, 0.05, JPN=.30, USA=.20, DEU=.15, IRL=.10, MEX=.10, KOR=.10, SGP=.05),
    # new-energy vehicles
    "854129": _profile(6.0e9, 800, 0.08, JPN=.30, DEU=.15, MYS=.12, KOR=.10, PHL=.08, USA=.08, TWN=.07, AUT=.05,
                       SGP=.05),
    "850152": _profile(1.5e9, 15, 0.04, JPN=.30, DEU=.25, KOR=.10, USA=.10, ITA=.08, THA=.07, MEX=.05, HUN=.05),
    "850153": _profile(5.0e8, 12, 0.03, DEU=.35, JPN=.20, USA=.12, FIN=.10, ITA=.08, CHE=.08, SWE=.07),
    "870380": _profile(5.0e9, 30, 0.05, DEU=.35, USA=.30, GBR=.08, SVK=.08, JPN=.07, SWE=.06, KOR=.03, AUT=.03),
    "870360": _profile(2.0e9, 30, 0.00, DEU=.45, SWE=.15, GBR=.12, JPN=.10, USA=.08, SVK=.05, BEL=.05),
    "870370": _profile(2.0e7, 30, 0.00, DEU=.60, SWE=.20, GBR=.10, JPN=.10),
}

FALLBACK_PARTNER_POOL: tuple[str, ...] = (
    "JPN", "KOR", "USA", "DEU", "TWN", "FRA", "ITA", "GBR", "NLD", "CHE",
    "SGP", "MYS", "VNM", "THA", "IND", "AUS", "BRA", "CAN", "RUS", "IDN",
)
"""Large trading economies the fallback profile picks its partners from."""

EU27_MEMBERS: frozenset[str] = frozenset({
    "AUT", "BEL", "BGR", "HRV", "CYP", "CZE", "DNK", "EST", "FIN", "FRA", "DEU", "GRC", "HUN", "IRL",
    "ITA", "LVA", "LTU", "LUX", "MLT", "NLD", "POL", "PRT", "ROU", "SVK", "SVN", "ESP", "SWE",
})
"""Imports of the EU27 from its own members are intra-EU trade, not imports."""


def profile_for(hs_code: str) -> PartnerProfile | None:
    """The table profile of ``hs_code``: its 6-digit entry, else its 4-digit heading, else None."""
    for length in (6, 4):
        profile = PARTNER_PROFILES.get(hs_code[:length]) if len(hs_code) >= length else None
        if profile is not None:
            return profile
    return None


def fallback_profile(hs_code: str, seed: int, excluded: Iterable[str] = ()) -> PartnerProfile:
    """A plausible, seeded profile for a code the table does not know.

    Five to eight partners from :data:`FALLBACK_PARTNER_POOL` with Dirichlet(1.5)
    shares, annual value log-normal around 1e9 USD, unit value log-normal around
    20 USD/kg, growth uniform in [-0.02, 0.08]. Same code and seed, same profile.
    """
    rng = _generator(seed, "profile", hs_code)
    excluded = set(excluded)
    pool = [p for p in FALLBACK_PARTNER_POOL if p not in excluded]
    count = min(len(pool), int(rng.integers(5, 9)))
    partners = rng.choice(pool, size=count, replace=False)
    shares = np.sort(rng.dirichlet(np.full(count, 1.5)))[::-1]
    return PartnerProfile(
        shares={str(p): float(s) for p, s in zip(partners, shares)},
        annual_value_usd=float(np.exp(rng.normal(np.log(1e9), 1.0))),
        unit_value_usd_per_kg=float(np.exp(rng.normal(np.log(20.0), 1.0))),
        annual_growth=float(rng.uniform(-0.02, 0.08)),
    )


def export_profile_for(hs_code: str, seed: int) -> tuple[float, float]:
    """(export/import value ratio, export/import unit-value ratio) of ``hs_code``.

    The longest prefix in :data:`EXPORT_PROFILES`; otherwise seeded draws, value
    ratio log-uniform in [0.1, 3] and unit-value ratio uniform in [0.5, 1.2].
    """
    for length in (6, 4):
        found = EXPORT_PROFILES.get(hs_code[:length]) if len(hs_code) >= length else None
        if found is not None:
            return found
    rng = _generator(seed, "export-profile", hs_code)
    return float(np.exp(rng.uniform(np.log(0.1), np.log(3.0)))), float(rng.uniform(0.5, 1.2))


# ---------------------------------------------------------------------------------
# Production profiles
# ---------------------------------------------------------------------------------

OUTPUT_GROWTH: dict[str, float] = {
    "silicon-wafers": 0.12,
    "integrated-circuits": 0.09,
    "cathode-materials": 0.25,
    "cells-packs": 0.28,
    "cobalt": 0.07,
    "nickel": 0.06,
    "rare-earths": 0.04,
    "antibiotic-apis": 0.02,
    "finished-medicines": 0.05,
    "traction-batteries": 0.32,
    "electric-vehicles": 0.33,
}
"""Yearly output growth by node id (battery and EV output grew fastest in 2016-2025)."""

# Monthly factors before scaling to mean 1. Chinese New Year falls in January or
# February, so both months are low; December is high (year-end rush).
_IMPORT_SEASON_RAW = (0.95, 0.80, 1.00, 1.00, 1.01, 1.01, 1.02, 1.02, 1.04, 0.97, 1.04, 1.10)
_OUTPUT_SEASON_RAW = (0.92, 0.82, 1.02, 1.00, 1.01, 1.04, 0.99, 1.00, 1.04, 1.00, 1.04, 1.10)
IMPORT_SEASONALITY = np.asarray(_IMPORT_SEASON_RAW) / np.mean(_IMPORT_SEASON_RAW)
OUTPUT_SEASONALITY = np.asarray(_OUTPUT_SEASON_RAW) / np.mean(_OUTPUT_SEASON_RAW)

# Noise and drift parameters (see the module docstring for the formulas).
TOTAL_NOISE_SD = 0.05
PARTNER_NOISE_SD = 0.08
SHARE_DRIFT_RHO = 0.95
SHARE_DRIFT_SD = 0.03
UNIT_VALUE_NOISE_SD = 0.05
UNIT_VALUE_GROWTH = 0.02
PARTNER_PREMIUM_SD = 0.15
SPORADIC_SHARE = 0.03
SPORADIC_GAP_PROBABILITY = 0.25
OUTPUT_NOISE_RHO = 0.5
OUTPUT_NOISE_SD = 0.02
TRADE_REFERENCE_MONTH = "2019-01"
OUTPUT_REFERENCE_MONTH = "2017-07"

# ---------------------------------------------------------------------------------
# Exports, partner governance scores, supply-chain pressure
# ---------------------------------------------------------------------------------

# (export value / import value, export unit value / import unit value) of the home
# economy for one HS code, by the longest matching prefix. Orders of magnitude in the
# spirit of China's trade pattern (ores imported, cells and vehicles exported, bulk
# APIs exported cheaply, finished drugs and chips imported dear); not statistics.
EXPORT_PROFILES: dict[str, tuple[float, float]] = {
    "280461": (0.6, 0.9), "381800": (0.5, 0.6), "370790": (0.15, 0.4), "280429": (1.2, 0.9),
    "281111": (3.0, 0.5), "848610": (0.15, 0.5), "848620": (0.1, 0.3), "848690": (0.3, 0.6),
    "8542": (0.45, 0.5), "848640": (0.3, 0.5), "903082": (0.2, 0.5), "903141": (0.15, 0.5),
    "283691": (0.1, 0.9), "282520": (4.0, 0.9), "282200": (1.5, 1.0), "283324": (0.3, 1.0),
    "282590": (1.0, 0.8), "284190": (1.5, 0.8), "284290": (1.2, 0.7), "250410": (3.0, 1.0),
    "380110": (4.0, 0.9), "850760": (15.0, 0.8), "850790": (2.0, 0.7),
    "2605": (0.01, 1.0), "8105": (0.2, 1.2), "2604": (0.002, 1.0), "7501": (0.05, 1.0), "7502": (0.3, 1.0),
    "253090": (0.01, 1.0), "250490": (2.0, 1.0), "2846": (2.0, 0.9), "280530": (3.0, 0.9),
    "811292": (2.0, 0.8), "282560": (2.0, 0.8), "850511": (5.0, 0.6),
    "2941": (4.0, 0.35), "2936": (5.0, 0.4), "2937": (0.6, 0.4), "2939": (0.8, 0.5), "2934": (0.7, 0.5),
    "3003": (0.6, 0.6), "3004": (0.15, 0.3), "3002": (0.3, 0.4), "3005": (2.5, 0.6),
    "901831": (3.0, 0.4), "901832": (1.5, 0.5),
    "250610": (1.0, 0.8), "380190": (5.0, 0.9), "282690": (3.0, 0.8), "382499": (1.5, 0.7),
    "392010": (1.0, 0.9), "392020": (1.2, 0.9), "720260": (0.05, 1.0), "2602": (0.01, 1.0),
    "293329": (1.5, 0.6), "293339": (2.0, 0.6), "293349": (1.5, 0.6), "293359": (1.0, 0.5), "293399": (1.0, 0.5),
    "870370": (0.5, 0.6),
    "854129": (0.8, 0.4), "850152": (2.5, 0.6), "850153": (1.5, 0.7), "870380": (6.0, 0.5), "870360": (3.0, 0.6),
}
EXPORT_NOISE_SD = 0.06
EXPORT_PARTNER = "WORLD"
"""Exports are simulated as totals to the world (Comtrade's partner 0), not by destination."""

# Illustrative governance estimates per partner on the WGI scale (-2.5 worst .. 2.5
# best): (political stability / absence of violence, government effectiveness).
# Rounded values in the spirit of the published pattern, NOT World Bank data.
DEMO_GOVERNANCE: dict[str, tuple[float, float]] = {
    "DEU": (0.6, 1.3), "MYS": (0.2, 0.8), "KOR": (0.6, 1.4), "USA": (0.0, 1.3), "JPN": (1.0, 1.4),
    "NOR": (1.0, 1.8), "TWN": (0.8, 1.4), "ITA": (0.5, 0.4), "SGP": (1.5, 2.2), "BEL": (0.5, 1.0),
    "RUS": (-0.9, -0.3), "UKR": (-2.0, -0.5), "NLD": (0.8, 1.7), "ISR": (-0.9, 1.2), "VNM": (0.0, 0.1),
    "PHL": (-0.8, 0.1), "THA": (-0.5, 0.3), "CHL": (0.1, 0.7), "ARG": (-0.1, -0.4), "BOL": (-0.4, -0.6),
    "AUS": (0.9, 1.5), "FIN": (0.9, 1.9), "COD": (-1.8, -1.6), "ZMB": (-0.1, -0.7), "IDN": (-0.4, 0.4),
    "FRA": (0.3, 1.1), "GBR": (0.5, 1.2), "MOZ": (-1.3, -0.8), "MDG": (-0.4, -1.1), "TZA": (-0.5, -0.6),
    "BRA": (-0.4, -0.5), "HUN": (0.7, 0.5), "POL": (0.6, 0.4), "MAR": (-0.3, -0.1), "ZAF": (-0.7, -0.1),
    "NCL": (0.5, 0.5), "GTM": (-0.5, -0.7), "CIV": (-0.8, -0.5), "PNG": (-0.7, -0.8), "CAN": (0.9, 1.5),
    "CUB": (0.4, -0.4), "ZWE": (-0.9, -1.2), "NGA": (-1.8, -1.0), "MLI": (-2.2, -1.5), "LKA": (-0.3, -0.4),
    "MMR": (-2.1, -1.5), "LAO": (0.3, -0.8), "EST": (0.6, 1.3), "IND": (-0.6, 0.4), "ESP": (0.3, 1.0),
    "AUT": (0.8, 1.3), "IRL": (0.9, 1.3), "CHE": (1.2, 2.0), "DNK": (0.9, 1.8), "SWE": (0.9, 1.7),
    "MEX": (-0.7, -0.3), "SVK": (0.6, 0.6), "GAB": (-0.1, -0.8), "GHA": (0.0, -0.2), "NAM": (0.6, 0.0),
    "COL": (-0.8, 0.0),
}
GOVERNANCE_INDICATORS: tuple[str, ...] = ("PV.EST", "GE.EST")
GOVERNANCE_NOISE_SD = 0.05
#: Illustrative world-output shares per world-supply stage (near USGS MCS 2024, 2023e, so
#: the demo resembles the real picture); the rest is ``OTHERS``. Simulated, not USGS data.
DEMO_WORLD_SHARES: dict[str, dict[str, float]] = {
    "usgs.cobal.mine": {"COD": 0.74, "IDN": 0.07, "RUS": 0.04, "AUS": 0.02},
    "usgs.nicke.mine": {"IDN": 0.50, "PHL": 0.11, "RUS": 0.06, "CAN": 0.05, "NCL": 0.06, "AUS": 0.05},
    "usgs.lithi.mine": {"AUS": 0.47, "CHL": 0.24, "CHN": 0.18, "ARG": 0.05},
    "usgs.graph.mine": {"CHN": 0.77, "MOZ": 0.05, "MDG": 0.06, "BRA": 0.05},
    "usgs.raree.mine": {"CHN": 0.69, "USA": 0.12, "MMR": 0.11, "AUS": 0.05},
    "usgs.galli.primary": {"CHN": 0.98, "RUS": 0.01},
    "usgs.manga.mine": {"ZAF": 0.36, "GAB": 0.23, "AUS": 0.17, "CHN": 0.05, "GHA": 0.05},
    # semiconductor inputs and stages: near the CSET/ETO Chip Explorer shares (about 2019)
    "eto.n26": {"JPN": 0.56, "TWN": 0.16, "DEU": 0.14, "KOR": 0.10, "CHN": 0.04},
    "eto.n20": {"NLD": 1.00},
    "eto.n22": {"NLD": 0.91, "JPN": 0.09},
    "eto.n21": {"NLD": 0.57, "JPN": 0.43},
    "eto.n38": {"USA": 0.91, "KOR": 0.05, "NLD": 0.04},
    "eto.n41": {"JPN": 0.38, "NLD": 0.36, "USA": 0.17, "KOR": 0.07},
    "eto.n42": {"USA": 0.92, "JPN": 0.07},
    "eto.n50": {"USA": 0.84, "JPN": 0.16},
    "eto.n51": {"JPN": 0.60, "USA": 0.36, "CHN": 0.03},
    "eto.n49": {"JPN": 0.72, "USA": 0.16, "KOR": 0.06, "CHN": 0.03},
    "eto.n62": {"USA": 0.58, "JPN": 0.23, "DEU": 0.18},
    "eto.s1": {"USA": 0.61, "CHN": 0.09, "TWN": 0.09, "JPN": 0.06, "KOR": 0.06},
    "eto.n84": {"USA": 0.96, "JPN": 0.03},
    "eto.n85": {"USA": 0.52, "GBR": 0.43},
    "eto.s2": {"TWN": 0.47, "USA": 0.27, "CHN": 0.12, "KOR": 0.11},
    "eto.s3": {"TWN": 0.29, "USA": 0.28, "CHN": 0.14, "KOR": 0.13, "JPN": 0.07},
    "eto.n71": {"JPN": 0.85, "CHN": 0.09},
    "eto.n74": {"SGP": 0.59, "CHN": 0.21, "DEU": 0.10, "JPN": 0.08},
    "eto.n80": {"JPN": 0.57, "USA": 0.41},
    "eto.n83": {"JPN": 0.43, "USA": 0.23, "KOR": 0.14, "TWN": 0.09, "MYS": 0.07},
}

GOVERNANCE_SERIES_PREFIX = "demo.wgi"
"""Series ``demo.wgi.<INDICATOR>.<ISO3>``: annual, stored at January, like ``wb.<INDICATOR>.<ISO3>``."""

PRESSURE_SERIES = "demo.gscpi"
PRESSURE_NOISE_RHO = 0.7
PRESSURE_NOISE_SD = 0.2
# (first month, additive bumps in standard deviations): the 2020 lockdowns, the
# 2021 shipping crunch (peaking in December) and a moderate rise in the final months.
PRESSURE_BUMPS: tuple[tuple[str, tuple[float, ...]], ...] = (
    ("2020-03", (1.2, 2.6, 2.0, 1.0, 0.4)),
    ("2021-01", (0.8, 1.2, 1.6, 2.0, 2.4, 2.8, 3.1, 3.4, 3.7, 3.9, 4.1, 4.3, 3.9, 3.4, 3.0, 2.5, 2.0, 1.4,
                 0.9, 0.5, 0.2)),
    ("end-2", (0.8, 1.0, 1.2)),
)

# ---------------------------------------------------------------------------------
# Episodes
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class EpisodeWindow:
    """Months ``first``..``last`` (inclusive) and the multiplier of each.

    A month is ``"YYYY-MM"``, ``"end"`` (the last simulated month) or ``"end-N"``
    (N months before it). ``factors[i]`` multiplies the i-th month of the window; the
    last factor repeats for longer windows (``(0.03,)`` over ``"2020-01".."end"``
    is a permanent cut). Months outside the simulated range are ignored.
    """

    first: str
    last: str
    factors: tuple[float, ...]

    def multipliers(self, ordinals: np.ndarray) -> np.ndarray:
        """Per-month multipliers (1 outside the window) for months given as ordinals."""
        end = int(ordinals[-1])
        low, high = _month_ordinal(self.first, end), _month_ordinal(self.last, end)
        out = np.ones(len(ordinals))
        inside = (ordinals >= low) & (ordinals <= high)
        offsets = np.minimum(ordinals[inside] - low, len(self.factors) - 1)
        out[inside] = np.asarray(self.factors, dtype=float)[offsets]
        return out

    @property
    def is_final(self) -> bool:
        """True when the window is anchored to the end of the simulated range."""
        return self.first.startswith("end")


@dataclass(frozen=True)
class PartnerCut:
    """One partner's shipments of one node's products fall to ``factors`` of normal.

    The signature of an export control, export ban or sanction: the value from the
    main supplier collapses while other suppliers carry on. ``node`` is
    ``"chain/node"``; ``products`` limits the cut to some of the node's HS codes.
    """

    name: str
    node: str
    partner: str
    window: EpisodeWindow
    products: tuple[str, ...] | None = None


@dataclass(frozen=True)
class OutputDrop:
    """Every production series of one node (``"chain/node"``) falls to ``factors`` of normal."""

    name: str
    node: str
    window: EpisodeWindow


@dataclass(frozen=True)
class BroadDip:
    """All import flows (``affects="trade"``) or output indices (``"output"``) dip together.

    ``chains`` limits the dip to the products/series of those chains (None: all).
    """

    name: str
    affects: Literal["trade", "output"]
    window: EpisodeWindow
    chains: tuple[str, ...] | None = None


Episode = PartnerCut | OutputDrop | BroadDip

EPISODES: tuple[Episode, ...] = (
    # -- history: gives the detectors real events to find on a replay ---------------
    # COVID-19 lockdowns in China, Feb-Apr 2020: output fell harder than imports.
    BroadDip("covid-2020-imports", "trade", EpisodeWindow("2020-02", "2020-04", (0.82, 0.90, 0.96))),
    BroadDip("covid-2020-output", "output", EpisodeWindow("2020-02", "2020-04", (0.72, 0.90, 0.97))),
    # Indonesia's nickel-ore export ban from January 2020 (permanent): ore imports
    # from IDN nearly stop and the Philippines becomes the dominant supplier.
    PartnerCut("indonesia-nickel-ore-ban-2020", "critical-minerals/nickel", "IDN",
               EpisodeWindow("2020-01", "end", (0.03,)), products=("2604",)),
    # Shanghai lockdown, Apr-May 2022: port and logistics disruption for all imports,
    # and a deeper output loss in the Yangtze-delta chip and vehicle clusters.
    BroadDip("shanghai-logistics-2022", "trade", EpisodeWindow("2022-04", "2022-05", (0.88, 0.93))),
    BroadDip("shanghai-lockdown-output-2022", "output", EpisodeWindow("2022-04", "2022-05", (0.75, 0.90)),
             chains=("semiconductors", "new-energy-vehicles")),
    # -- the final months: what the default assessment should warn about -------------
    # Cobalt: the dominant supplier (COD, ~90 % of imports) suspends exports over the
    # last three months, down to 20 % of normal in the final month ...
    PartnerCut("cobalt-export-suspension", "critical-minerals/cobalt", "COD",
               EpisodeWindow("end-2", "end", (0.75, 0.50, 0.20))),
    # ... and refined-cobalt output, short of feed, drops 25 % in the final month.
    OutputDrop("cobalt-refining-shortfall", "critical-minerals/cobalt", EpisodeWindow("end", "end", (0.75,))),
    # Fab equipment: one of several suppliers (NLD, ~20 % of the node) tightens export
    # licences over the last two months: a visible but moderate dip.
    PartnerCut("fab-equipment-licence-tightening", "semiconductors/fab-equipment", "NLD",
               EpisodeWindow("end-1", "end", (0.50, 0.40))),
)
"""The injected disruption episodes, applied in this order (multipliers compose)."""


# ---------------------------------------------------------------------------------
# The collector
# ---------------------------------------------------------------------------------


class DemoCollector:
    """Simulated imports and production indices for every node of a catalog.

    ``collect()`` is deterministic for a given catalog, settings and episode table;
    see the module docstring for the formulas. ``episodes`` defaults to
    :data:`EPISODES`; pass ``()`` for an undisturbed baseline.
    """

    def __init__(self, catalog: Catalog, settings: DemoSource, episodes: Iterable[Episode] = EPISODES):
        self.source_id = settings.id
        self._catalog = catalog
        self._settings = settings
        self._episodes = tuple(episodes)
        self._months = _month_range(settings)
        self._ordinals = np.asarray([m.year * 12 + m.month - 1 for m in self._months])
        self._nodes_by_ref = {
            f"{chain.id}/{node.id}": node for chain in catalog.chains for node in chain.nodes
        }

    def collect(self) -> CollectedBatch:
        """Simulate the whole range for every node; no network, no clock."""
        series, observations = self._production()
        flows = self._trade_flows()
        partners = sorted(set(flows.loc[flows["flow"] == "M", "partner"]))
        governance_series, governance = self._governance(partners)
        pressure_series, pressure = self._pressure()
        world_series, world = self._world_supply()
        return CollectedBatch(
            source=self.source_id,
            vintage=f"demo-seed{self._settings.seed}",
            series=series + governance_series + pressure_series + world_series,
            observations=pd.concat([observations, governance, pressure, world], ignore_index=True),
            trade_flows=flows,
            simulated=True,
        )

    # -- trade ------------------------------------------------------------------------

    def _trade_flows(self) -> pd.DataFrame:
        home = self._catalog.home
        excluded = {home} | (EU27_MEMBERS if home == "EU27" else set())
        chains_of_code: dict[str, set[str]] = {}
        for chain in self._catalog.chains:
            for node in chain.nodes:
                for code in node.hs_codes:
                    chains_of_code.setdefault(code, set()).add(chain.id)
        frames = [
            frame
            for code, chains in sorted(chains_of_code.items())
            for frame in (self._product_flows(code, chains, excluded), self._product_exports(code))
        ]
        flows = pd.concat(frames, ignore_index=True)
        return flows.sort_values(["product", "flow", "partner", "period"], ignore_index=True)

    def _product_flows(self, code: str, chains: set[str], excluded: set[str]) -> pd.DataFrame:
        seed = self._settings.seed
        profile = profile_for(code)
        if profile is None or not set(profile.shares) - excluded:
            profile = fallback_profile(code, seed, excluded)
        partners = [p for p in profile.shares if p not in excluded]
        base_shares = np.asarray([profile.shares[p] for p in partners], dtype=float)
        base_shares /= base_shares.sum()
        n_months, n_partners = len(self._months), len(partners)
        years = (self._ordinals - _calendar_ordinal(TRADE_REFERENCE_MONTH)) / 12.0

        # All random draws first, in a fixed order, so episodes never shift the stream.
        rng = _generator(seed, "trade", code)
        total_noise = rng.normal(0.0, TOTAL_NOISE_SD, n_months)
        drift_shocks = rng.normal(0.0, SHARE_DRIFT_SD, (n_months, n_partners))
        partner_noise = rng.normal(0.0, PARTNER_NOISE_SD, (n_months, n_partners))
        premium = np.exp(rng.normal(0.0, PARTNER_PREMIUM_SD, n_partners))
        unit_noise = rng.normal(0.0, UNIT_VALUE_NOISE_SD, (n_months, n_partners))
        gap_draws = rng.random((n_months, n_partners))

        season = IMPORT_SEASONALITY[(self._ordinals % 12)]
        total = (profile.annual_value_usd / 12.0) * (1.0 + profile.annual_growth) ** years * season
        total *= np.exp(total_noise)
        drift = _ar1(drift_shocks, SHARE_DRIFT_RHO)
        weights = base_shares * np.exp(drift)
        shares = weights / weights.sum(axis=1, keepdims=True)
        value = total[:, None] * shares * np.exp(partner_noise)
        value *= self._trade_multipliers(code, chains, partners)

        unit_value = (profile.unit_value_usd_per_kg * premium[None, :]
                      * (1.0 + UNIT_VALUE_GROWTH) ** years[:, None] * np.exp(unit_noise))
        quantity = value / unit_value

        # Small suppliers do not ship every month; customs tables then have no row.
        shipped = ~((base_shares[None, :] < SPORADIC_SHARE) & (gap_draws < SPORADIC_GAP_PROBABILITY))
        month_idx, partner_idx = np.nonzero(shipped)
        return pd.DataFrame({
            "reporter": self._catalog.home,
            "partner": np.asarray(partners, dtype=object)[partner_idx],
            "product": code,
            "flow": "M",
            "period": self._months[month_idx],
            "value": value[month_idx, partner_idx],
            "quantity": quantity[month_idx, partner_idx],
        }, columns=list(TRADE_FLOW_COLUMNS))

    def _trade_multipliers(self, code: str, chains: set[str], partners: list[str]) -> np.ndarray:
        out = np.ones((len(self._months), len(partners)))
        for episode in self._episodes:
            if isinstance(episode, BroadDip) and episode.affects == "trade":
                if episode.chains is None or chains & set(episode.chains):
                    out *= episode.window.multipliers(self._ordinals)[:, None]
            elif isinstance(episode, PartnerCut):
                node = self._nodes_by_ref.get(episode.node)
                if node is None or code not in node.hs_codes or episode.partner not in partners:
                    continue
                if episode.products is not None and code not in episode.products:
                    continue
                column = partners.index(episode.partner)
                out[:, column] *= episode.window.multipliers(self._ordinals)
        return out

    def _product_exports(self, code: str) -> pd.DataFrame:
        """The home economy's exports of ``code`` to the world (see the module docstring)."""
        profile = profile_for(code) or fallback_profile(code, self._settings.seed)
        value_ratio, unit_ratio = export_profile_for(code, self._settings.seed)
        years = (self._ordinals - _calendar_ordinal(TRADE_REFERENCE_MONTH)) / 12.0
        # Own stream: adding exports leaves every import draw unchanged.
        rng = _generator(self._settings.seed, "exports", code)
        value_noise = rng.normal(0.0, EXPORT_NOISE_SD, len(self._months))
        unit_noise = rng.normal(0.0, UNIT_VALUE_NOISE_SD, len(self._months))
        season = IMPORT_SEASONALITY[(self._ordinals % 12)]
        value = (value_ratio * profile.annual_value_usd / 12.0 * (1.0 + profile.annual_growth) ** years
                 * season * np.exp(value_noise))
        unit_value = (unit_ratio * profile.unit_value_usd_per_kg * (1.0 + UNIT_VALUE_GROWTH) ** years
                      * np.exp(unit_noise))
        return pd.DataFrame({
            "reporter": self._catalog.home, "partner": EXPORT_PARTNER, "product": code, "flow": "X",
            "period": self._months, "value": value, "quantity": value / unit_value,
        }, columns=list(TRADE_FLOW_COLUMNS))

    def _governance(self, partners: list[str]) -> tuple[list[SeriesInfo], pd.DataFrame]:
        """Annual governance estimates (WGI scale) of every import partner, at January."""
        years = pd.date_range(self._months[0].replace(month=1), self._months[-1], freq="YS")
        infos, frames = [], []
        for partner in partners:
            base = DEMO_GOVERNANCE.get(partner)
            if base is None:  # a partner of a fallback profile: a seeded, plausible level
                draw = _generator(self._settings.seed, "governance", partner).normal(0.0, 0.7, 2)
                base = tuple(float(np.clip(d, -2.5, 2.5)) for d in draw)
            for indicator, level in zip(GOVERNANCE_INDICATORS, base):
                series_id = f"{GOVERNANCE_SERIES_PREFIX}.{indicator}.{partner}"
                noise = _generator(self._settings.seed, "governance", series_id).normal(
                    0.0, GOVERNANCE_NOISE_SD, len(years))
                infos.append(SeriesInfo(
                    series_id=series_id, source=self.source_id, unit="WGI estimate (-2.5 worst .. 2.5 best)",
                    description=(f"{SIMULATED_PREFIX} governance estimate {indicator} of {partner} on the World "
                                 "Bank WGI scale; illustrative level plus seeded noise, not World Bank data")))
                frames.append(pd.DataFrame({"series_id": series_id, "period": years,
                                            "value": np.clip(level + noise, -2.5, 2.5)},
                                           columns=list(OBSERVATION_COLUMNS)))
        if not frames:
            return infos, pd.DataFrame(columns=list(OBSERVATION_COLUMNS))
        return infos, pd.concat(frames, ignore_index=True)

    def _pressure(self) -> tuple[list[SeriesInfo], pd.DataFrame]:
        """A monthly supply-chain pressure index in standard deviations (GSCPI-like)."""
        rng = _generator(self._settings.seed, "pressure", PRESSURE_SERIES)
        values = _ar1(rng.normal(0.0, PRESSURE_NOISE_SD, len(self._months))[:, None], PRESSURE_NOISE_RHO)[:, 0]
        end = int(self._ordinals[-1])
        for first, bumps in PRESSURE_BUMPS:
            offsets = self._ordinals - _month_ordinal(first, end)
            inside = (offsets >= 0) & (offsets < len(bumps))
            values[inside] += np.asarray(bumps)[offsets[inside]]
        info = SeriesInfo(
            series_id=PRESSURE_SERIES, source=self.source_id, unit="standard deviations from average",
            description=(f"{SIMULATED_PREFIX} global supply-chain pressure index in the manner of the New York "
                         "Fed GSCPI (AR(1) noise plus the 2020 and 2021 episodes), not the published index"))
        return [info], pd.DataFrame({"series_id": PRESSURE_SERIES, "period": self._months, "value": values},
                                    columns=list(OBSERVATION_COLUMNS))

    def _world_supply(self) -> tuple[list[SeriesInfo], pd.DataFrame]:
        """Annual world output by country of every world-supply stage in the catalog (at January).

        Shares are illustrative (:data:`DEMO_WORLD_SHARES`, near the USGS MCS 2024 figures
        so that the demo looks like the real picture), plus seeded noise; the rest of the
        world is ``OTHERS`` and ``WORLD`` their sum. Not USGS data.
        """
        years = pd.date_range(self._months[0].replace(month=1), self._months[-1], freq="YS")
        stems = sorted({s.series for chain in self._catalog.chains for node in chain.nodes for s in node.world_supply})
        infos, frames = [], []
        for stem in stems:
            shares = DEMO_WORLD_SHARES.get(stem, {"CHN": 0.4, "USA": 0.2, "AUS": 0.1})
            rng = _generator(self._settings.seed, "world", stem)
            noise = rng.normal(0.0, 0.02, (len(years), len(shares)))
            named = np.clip(np.asarray(list(shares.values()))[None, :] + noise, 0.0, None)
            others = np.clip(1.0 - named.sum(axis=1), 0.0, None)
            scale = 1000.0 * (1.0 + 0.03) ** np.arange(len(years))  # tonnes, growing 3 % a year
            columns = {**{c: named[:, i] for i, c in enumerate(shares)}, "OTHERS": others}
            columns["WORLD"] = named.sum(axis=1) + others
            for country, values in columns.items():
                series_id = f"{stem}.{country}"
                infos.append(SeriesInfo(
                    series_id=series_id, source=self.source_id, unit="t",
                    description=f"{SIMULATED_PREFIX} world output of {stem} by {country}; illustrative, not USGS data"))
                frames.append(pd.DataFrame({"series_id": series_id, "period": years, "value": values * scale},
                                           columns=list(OBSERVATION_COLUMNS)))
        if not frames:
            return infos, pd.DataFrame(columns=list(OBSERVATION_COLUMNS))
        return infos, pd.concat(frames, ignore_index=True)

    # -- production ---------------------------------------------------------------------

    def _production(self) -> tuple[list[SeriesInfo], pd.DataFrame]:
        infos: list[SeriesInfo] = []
        frames: list[pd.DataFrame] = []
        seen: set[str] = set()
        for chain in self._catalog.chains:
            for node in chain.nodes:
                for series_id in node.production_series:
                    # A series listed by two nodes is simulated once, for the first.
                    if series_id in seen:
                        continue
                    seen.add(series_id)
                    infos.append(_series_info(self.source_id, series_id, chain, node))
                    frames.append(pd.DataFrame({
                        "series_id": series_id,
                        "period": self._months,
                        "value": self._output_index(series_id, chain, node),
                    }, columns=list(OBSERVATION_COLUMNS)))
        if not frames:  # a catalog without production series: an empty, typed table
            frames.append(pd.DataFrame({"series_id": pd.Series([], dtype=str),
                                        "period": pd.Series([], dtype="datetime64[ns]"),
                                        "value": pd.Series([], dtype=float)}))
        observations = pd.concat(frames, ignore_index=True)
        return infos, observations.sort_values(["series_id", "period"], ignore_index=True)

    def _output_index(self, series_id: str, chain: Chain, node: Node) -> np.ndarray:
        rng = _generator(self._settings.seed, "production", series_id)
        fallback_growth = rng.uniform(0.01, 0.08)
        shocks = rng.normal(0.0, OUTPUT_NOISE_SD, len(self._months))
        growth = OUTPUT_GROWTH.get(node.id, fallback_growth)
        years = (self._ordinals - _calendar_ordinal(OUTPUT_REFERENCE_MONTH)) / 12.0
        index = 100.0 * (1.0 + growth) ** years * OUTPUT_SEASONALITY[self._ordinals % 12]
        index *= np.exp(_ar1(shocks[:, None], OUTPUT_NOISE_RHO)[:, 0])
        node_ref = f"{chain.id}/{node.id}"
        for episode in self._episodes:
            if isinstance(episode, BroadDip) and episode.affects == "output":
                if episode.chains is None or chain.id in episode.chains:
                    index *= episode.window.multipliers(self._ordinals)
            elif isinstance(episode, OutputDrop) and episode.node == node_ref:
                index *= episode.window.multipliers(self._ordinals)
        return index


# ---------------------------------------------------------------------------------
# Helpers private to this module
# ---------------------------------------------------------------------------------


def _series_info(source: str, series_id: str, chain: Chain, node: Node) -> SeriesInfo:
    return SeriesInfo(
        series_id=series_id,
        source=source,
        unit="index",
        description=(
            f"{SIMULATED_PREFIX} output index of {node.name.en} ({chain.name.en}), about 2017 = 100; "
            "trend, seasonality and noise from a seeded generator, not an official statistic"
        ),
        chain=chain.id,
        node=node.id,
    )


def _month_range(settings: DemoSource) -> pd.DatetimeIndex:
    start, end = pd.Timestamp(f"{settings.start}-01"), pd.Timestamp(f"{settings.end}-01")
    if start > end:
        raise ValueError(
            f"demo source {settings.id!r}: start {settings.start!r} is after end {settings.end!r}"
        )
    return pd.date_range(start, end, freq="MS")


def _calendar_ordinal(month: str) -> int:
    year, mon = month.split("-")
    return int(year) * 12 + int(mon) - 1


def _month_ordinal(spec: str, end_ordinal: int) -> int:
    """Ordinal (year * 12 + month - 1) of ``"YYYY-MM"``, ``"end"`` or ``"end-N"``."""
    if spec == "end":
        return end_ordinal
    if spec.startswith("end-"):
        return end_ordinal - int(spec[len("end-"):])
    return _calendar_ordinal(spec)


def _ar1(shocks: np.ndarray, rho: float) -> np.ndarray:
    """AR(1) paths along axis 0: x_t = rho * x_(t-1) + shock_t, x_0 = shock_0."""
    out = np.empty_like(shocks)
    out[0] = shocks[0]
    for t in range(1, len(shocks)):
        out[t] = rho * out[t - 1] + shocks[t]
    return out


def _generator(seed: int, *key: str) -> np.random.Generator:
    """A generator for one stream, from the seed and a stable digest of ``key``.

    SHA-256 rather than ``hash()`` because ``hash()`` of a str changes with every
    process (PYTHONHASHSEED), which would break determinism.
    """
    digest = hashlib.sha256("/".join(key).encode("utf-8")).digest()
    return np.random.default_rng([seed % 2**64, int.from_bytes(digest[:8], "big")])
