"""The curated events file: an analyst's list or a policy tracker's export, as CSV.

Columns (header names, any order; contract: docs/events.md):

- required: ``id``, ``title``, ``issuer`` (ISO alpha-3, or ``EU``), ``kind`` (one of
  :data:`indicators.events.EVENT_KINDS`), ``announced`` (ISO date);
- optional: ``effective`` (ISO date), ``affected`` (``;``-separated ISO alpha-3, ``*`` =
  every destination; default ``*``), ``hs_codes`` (``;``-separated 4- or 6-digit codes,
  dots allowed), ``text``, ``link``, ``language`` (default ``en``), ``status``
  (``active`` / ``withdrawn``, default ``active``), ``issuing_body``.

Other columns are ignored. A bad row stops the load with one line naming the file,
the row and the field, so nothing is half-loaded.
"""

from __future__ import annotations

import csv
import re
from datetime import date
from pathlib import Path

from indicators.events import EVENT_KINDS, Event
from monitor.collect.base import CollectionError

REQUIRED = ("id", "title", "issuer", "kind", "announced")
_COUNTRY = re.compile(r"^(?:[A-Z]{3}|EU)$")
_HS = re.compile(r"^\d{4}(?:\d{2})?$")


class EventFileError(CollectionError):
    """The events file cannot be read; the message names file, row and field."""


def _date(value: str, where: str, field: str, required: bool) -> date | None:
    value = value.strip()
    if not value:
        if required:
            raise EventFileError(f"{where}: field {field!r} is empty (expected an ISO date, e.g. 2023-07-03)")
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise EventFileError(f"{where}: field {field!r} is {value!r}, not an ISO date (YYYY-MM-DD)") from None


def _countries(value: str, where: str, field: str) -> tuple[str, ...]:
    codes = tuple(c.strip().upper() for c in value.split(";") if c.strip()) or ("*",)
    bad = [c for c in codes if c != "*" and not _COUNTRY.match(c)]
    if bad:
        raise EventFileError(f"{where}: field {field!r} has {bad[0]!r}, not an ISO alpha-3 code (or EU, or *)")
    return codes


def _hs_codes(value: str, where: str) -> tuple[str, ...]:
    codes = tuple(c.strip().replace(".", "") for c in value.split(";") if c.strip())
    bad = [c for c in codes if not _HS.match(c)]
    if bad:
        raise EventFileError(f"{where}: field 'hs_codes' has {bad[0]!r}, not a 4- or 6-digit HS code")
    return codes


def event_from_row(row: dict[str, str], where: str, source: str) -> Event:
    """One :class:`Event` from a CSV row (``where`` names file and row in errors)."""
    for name in REQUIRED:
        if not (row.get(name) or "").strip():
            raise EventFileError(f"{where}: required field {name!r} is empty")
    kind = row["kind"].strip()
    if kind not in EVENT_KINDS:
        raise EventFileError(f"{where}: field 'kind' is {kind!r}; expected one of {', '.join(EVENT_KINDS)}")
    issuer = _countries(row["issuer"], where, "issuer")
    if len(issuer) != 1 or issuer[0] == "*":
        raise EventFileError(f"{where}: field 'issuer' must be one ISO alpha-3 code (or EU)")
    status = (row.get("status") or "active").strip()
    if status not in {"active", "withdrawn"}:
        raise EventFileError(f"{where}: field 'status' is {status!r}; expected active or withdrawn")
    return Event(
        event_id=f"{source}:{row['id'].strip()}", source=source, title=row["title"].strip(), kind=kind, issuer=issuer[0],
        announced=_date(row["announced"], where, "announced", True),
        effective=_date(row.get("effective") or "", where, "effective", False),
        affected=_countries(row.get("affected") or "", where, "affected"),
        hs_codes=_hs_codes(row.get("hs_codes") or "", where),
        text=(row.get("text") or "").strip(), link=(row.get("link") or "").strip(),
        language=(row.get("language") or "en").strip() or "en", status=status,
        issuing_body=(row.get("issuing_body") or "").strip())


def read_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV events file, its header checked (errors name the file)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
            if missing:
                raise EventFileError(f"{path}: header lacks column(s) {', '.join(missing)}")
            return list(reader)
    except OSError as err:
        raise EventFileError(f"{path}: cannot read ({err.strerror})") from None
    except (UnicodeDecodeError, csv.Error) as err:
        raise EventFileError(f"{path}: not a UTF-8 CSV file ({err})") from None


def read_events(path: Path, source: str = "events-file") -> list[Event]:
    """Every event of a curated CSV file; the first bad row raises :class:`EventFileError`."""
    rows = read_rows(path)
    events = [event_from_row(row, f"{path}: row {i}", source) for i, row in enumerate(rows, start=2)]
    seen: set[str] = set()
    for i, event in enumerate(events, start=2):
        if event.event_id in seen:
            raise EventFileError(f"{path}: row {i}: id {rows[i - 2]['id'].strip()!r} repeats an earlier row")
        seen.add(event.event_id)
    return events
