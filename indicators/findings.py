"""The verdict of a concentration or dependence indicator on one subject and period.

Pure data, no I/O. Every indicator module (:mod:`indicators.concentration`,
:mod:`indicators.dependence`, :mod:`indicators.unit_values`)
turns its table into :class:`IndicatorFinding` objects for the rows that cross a
threshold, each with the observed number, the threshold and one sentence in English
and one in Chinese, so that an analyst reads *why* without opening the table.

Names: indicators work on codes (``"156"``, ``"811292"``); a :data:`Names` mapping
turns codes into words in both languages, e.g.
``{"156": ("China", "中国"), "811292": ("gallium", "镓")}``. Codes without an entry
are shown as they are.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["FINDING_KINDS", "IndicatorFinding", "Names", "name_en", "name_zh", "percent", "number"]

#: Kinds of :class:`IndicatorFinding`, one per indicator and threshold:
#:
#: - ``import_concentration``: HHI of a reporter's imports of a product above threshold;
#: - ``production_concentration``: the same for world production (reporter ``WORLD``);
#: - ``concentration_rising``: HHI rose by more than a threshold in a concentrated market;
#: - ``governance_weighted_concentration``: governance-weighted HHI above threshold;
#: - ``single_point_of_failure``: one partner's share above threshold;
#: - ``import_dependence``: imports / apparent consumption above threshold;
#: - ``strategic_dependency``: the EU three-criteria test holds (persistently);
#: - ``low_unit_value``: export unit value far below import unit value (低端锁定).
FINDING_KINDS: tuple[str, ...] = (
    "import_concentration",
    "production_concentration",
    "concentration_rising",
    "governance_weighted_concentration",
    "single_point_of_failure",
    "import_dependence",
    "strategic_dependency",
    "low_unit_value",
)

#: Display names of codes: code -> (English, Chinese). Keys are matched on ``str(code)``.
Names = Mapping[object, tuple[str, str]]


@dataclass(frozen=True)
class IndicatorFinding:
    """One indicator's verdict on one subject and period, crossing its threshold.

    Attributes
    ----------
    kind : str
        One of :data:`FINDING_KINDS`.
    subject : tuple of (str, str) pairs
        What the finding is about, as ``(key, code)`` pairs in a fixed order, e.g.
        ``(("reporter", "842"), ("product", "811292"))``; see :meth:`subject_dict`.
    period : str
        Period label (``2023``, ``2023-01``; see
        :func:`indicators.periods.format_period`); ``""`` when not period-specific.
    observed : float
        The indicator value that crossed the threshold (unit per ``kind``: HHI 0-1,
        share 0-1, ratio, slope per period ...).
    threshold : float
        The threshold it crossed, in the same unit.
    explanation_en, explanation_zh : str
        One sentence each with the numbers, e.g. "China supplies 98% of USA's gallium
        imports; HHI 0.96 > 0.4".
    details : tuple of (str, object) pairs
        Further numbers and labels (top partner, p-values, the other criteria ...);
        see :meth:`details_dict`.
    """

    kind: str
    subject: tuple[tuple[str, str], ...]
    period: str
    observed: float
    threshold: float
    explanation_en: str
    explanation_zh: str
    details: tuple[tuple[str, object], ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in FINDING_KINDS:
            raise ValueError(f"kind must be one of {', '.join(FINDING_KINDS)}, got {self.kind!r}")

    def subject_dict(self) -> dict[str, str]:
        """``subject`` as a dict, e.g. ``{"reporter": "842", "product": "811292"}``."""
        return dict(self.subject)

    def details_dict(self) -> dict[str, object]:
        """``details`` as a dict."""
        return dict(self.details)

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready dict (NaN becomes None)."""

        def clean(value):
            if isinstance(value, float) and not math.isfinite(value):
                return None if math.isnan(value) else value
            return value

        return {
            "kind": self.kind,
            "subject": self.subject_dict(),
            "period": self.period,
            "observed": clean(self.observed),
            "threshold": clean(self.threshold),
            "explanation_en": self.explanation_en,
            "explanation_zh": self.explanation_zh,
            "details": {k: clean(v) for k, v in self.details},
        }


def _lookup(names: Names | None, code) -> tuple[str, str] | None:
    if not names:
        return None
    if code in names:
        return names[code]
    return names.get(str(code)) if not isinstance(code, str) else None


def name_en(names: Names | None, code) -> str:
    """English display name of ``code`` (the code itself when unnamed)."""
    found = _lookup(names, code)
    return found[0] if found else str(code)


def name_zh(names: Names | None, code) -> str:
    """Chinese display name of ``code`` (the code itself when unnamed)."""
    found = _lookup(names, code)
    return found[1] if found else str(code)


def percent(share: float) -> str:
    """A share 0-1 as a percentage for sentences: 0.9836 -> ``98%``, 0.004 -> ``0.4%``."""
    if share is None or not math.isfinite(share):
        return "n/a"
    pct = share * 100.0
    # one decimal near the ends, so 0.4 % is not shown as 0 % nor 99.6 % as 100 %
    if (pct != 0 and abs(pct) < 1) or 99 < pct < 100:
        return f"{pct:.1f}%"
    return f"{pct:.0f}%"


def number(value: float, digits: int = 2) -> str:
    """A number for sentences: finite values with ``digits`` decimals, else ``inf``/``n/a``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return f"{value:.{digits}f}"
