"""Time, injected: the service asks a clock instead of calling ``datetime.now``."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

Clock = Callable[[], datetime]
"""A function returning the current time as an aware UTC datetime."""


def system_clock() -> datetime:
    """The machine's current UTC time."""
    return datetime.now(timezone.utc)


def as_utc(value: datetime | None) -> datetime | None:
    """Attach UTC to naive datetimes (SQLite returns them naive) and convert aware ones."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: object) -> timedelta:
    """``30s``, ``5m``, ``2h``, ``1d`` (Prometheus style), or plain seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str):
        found = _DURATION.match(value.strip())
        if found:
            return timedelta(seconds=float(found.group(1)) * _UNIT_SECONDS[found.group(2)])
    raise ValueError(f"{value!r} is not a duration (e.g. 30s, 5m, 2h, 1d)")
