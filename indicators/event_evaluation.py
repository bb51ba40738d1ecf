"""How well events are mapped onto nodes, and how much earlier they warn than trade data.

Pure data, no I/O. Inputs: per event, the nodes it should touch (pre-registered,
``benchmarks/events/preregistered_events.csv``) and the nodes the mapper matched.

- **recall** = expected (event, node) pairs matched / expected pairs (targets only);
- **false matches per 100 events** = 100 × matched pairs not expected / events
  (controls included: every node matched for a control is false);
- **lead time** of an event (days) = last day of the month whose trade data first
  showed its effect − the announcement day. The month's end is the earliest day the
  trade data could show it; customs publish weeks later (China: about the 20th of the
  next month), so the lead over the published data is longer. The median is over the
  events whose trade-effect month is documented.
"""

from __future__ import annotations

import calendar
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

__all__ = ["MappingScore", "score_mapping", "lead_time_days", "median_lead_days"]


@dataclass(frozen=True)
class MappingScore:
    """Recall and false matches of a mapping against the expected nodes."""

    events: int
    expected_pairs: int
    found_pairs: int
    false_pairs: int
    missed: tuple[tuple[str, str], ...]
    """(event id, chain/node) expected but not matched."""
    false: tuple[tuple[str, str], ...]
    """(event id, chain/node) matched but not expected."""

    @property
    def recall(self) -> float | None:
        """Share of expected pairs matched (None without expected pairs)."""
        return self.found_pairs / self.expected_pairs if self.expected_pairs else None

    @property
    def false_per_100_events(self) -> float | None:
        """Matched pairs not expected, per 100 events (None without events)."""
        return 100.0 * self.false_pairs / self.events if self.events else None


def score_mapping(expected: Mapping[str, set[str]], matched: Mapping[str, set[str]]) -> MappingScore:
    """Compare ``matched`` (event id -> nodes) with ``expected`` (event id -> nodes, empty for controls)."""
    missed, false = [], []
    for event_id, nodes in expected.items():
        got = matched.get(event_id, set())
        missed += [(event_id, n) for n in sorted(nodes - got)]
        false += [(event_id, n) for n in sorted(got - nodes)]
    expected_pairs = sum(len(n) for n in expected.values())
    return MappingScore(len(expected), expected_pairs, expected_pairs - len(missed), len(false),
                        tuple(missed), tuple(false))


def lead_time_days(announced: date, effect_month: date) -> int:
    """Days from the announcement to the last day of the trade-effect month."""
    last = date(effect_month.year, effect_month.month, calendar.monthrange(effect_month.year, effect_month.month)[1])
    return (last - announced).days


def median_lead_days(pairs: list[tuple[date, date]]) -> float | None:
    """Median :func:`lead_time_days` over (announced, effect month) pairs (None when there are none)."""
    return statistics.median(lead_time_days(a, m) for a, m in pairs) if pairs else None
