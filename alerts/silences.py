"""Silences: mute matching alerts for a time window, with who and why.

A silence never changes alert state; it only keeps notifications from going out
while it is active (``starts_at <= now < ends_at``). Expiring a silence sets
``ends_at`` to now, so the record of who muted what stays.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from alerts.matchers import Matcher, matches_all, matches_every_alert


@dataclass(frozen=True)
class Silence:
    """Mute alerts matching all ``matchers`` from ``starts_at`` until ``ends_at``."""

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str

    def __post_init__(self) -> None:
        if not self.matchers:
            raise ValueError(f"silence {self.id}: needs at least one matcher (an empty silence would mute everything)")
        if self.ends_at <= self.starts_at:
            raise ValueError(f"silence {self.id}: ends_at must be after starts_at")
        if not self.created_by.strip():
            raise ValueError(f"silence {self.id}: created_by must name who silenced")
        if all(m.matches({}) for m in self.matchers):
            raise ValueError(f"silence {self.id}: matchers {[str(m) for m in self.matchers]} match every alert")

    def state(self, now: datetime) -> str:
        """``pending`` (not started), ``active`` or ``expired``."""
        if now < self.starts_at:
            return "pending"
        return "active" if now < self.ends_at else "expired"

    def mutes(self, labels: Mapping[str, str], now: datetime) -> bool:
        """True if this silence is active and matches ``labels``."""
        return self.state(now) == "active" and matches_all(self.matchers, labels)


def refuse_catch_all(matchers: Sequence[Matcher]) -> None:
    """Raise ValueError if ``matchers`` select every alert, whatever their operators
    (``chain!=""``, ``chain=~".*"``, ``chain!~""``, ...): checked when a silence is created.

    Not in :class:`Silence` itself, so a silence stored before this check existed still loads.
    """
    if matches_every_alert(matchers):
        raise ValueError(f"matchers {', '.join(str(m) for m in matchers)} match every alert; name a chain, node "
                         "or kind to silence")


def silenced_by(silences: Iterable[Silence], labels: Mapping[str, str], now: datetime) -> list[str]:
    """Ids of the active silences that mute ``labels``."""
    return [s.id for s in silences if s.mutes(labels, now)]


def muted_fingerprints(silences: Sequence[Silence], alerts: Iterable, now: datetime) -> set[str]:
    """Fingerprints of ``alerts`` muted by any active silence."""
    active = [s for s in silences if s.state(now) == "active"]
    return {a.fingerprint for a in alerts if any(matches_all(s.matchers, a.labels) for s in active)}
