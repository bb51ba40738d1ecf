"""``chainwatch events map`` and ``chainwatch evaluate-events`` (contract: docs/cli.md, docs/events.md).

``events map`` reads curated events files and saved Federal Register responses, maps
every event onto the catalog's nodes and prints one line per (event, node) warning with
its level and explanation, then the events that matched nothing. With
``--exposure-from-db`` the exposures come from the stored trade flows and world supply
up to ``--as-of`` (default: today), else they are unknown and the kind alone grades.

``evaluate-events`` maps the pre-registered list (``benchmarks/events/``) with the
catalog's keywords and HS codes and prints recall, false matches per 100 events and
the median lead time of announcements over the trade data.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from indicators.event_evaluation import median_lead_days, score_mapping
from indicators.events import Event, EventMapping, map_events
from indicators.vocabulary import level_index
from monitor.assess.event_exposure import node_profiles
from monitor.collect.event_files import EventFileError, read_events, read_rows
from monitor.collect.federal_register import parse_page
from monitor.config.countries import country_name_en, country_name_zh
from monitor.config.models import Catalog

__all__ = ["load_events", "country_names", "mapping_document", "mapping_table",
           "evaluation_table", "evaluate_file", "countdown_days"]


def country_names(events: list[Event], home: str) -> dict[str, tuple[str, str]]:
    """English and Chinese names of every country the events and the home economy name."""
    codes = {home} | {e.issuer for e in events} | {c for e in events for c in e.affected if c != "*"}
    names = {code: (country_name_en(code), country_name_zh(code)) for code in codes}
    if "EU" in names:
        names["EU"] = ("European Union", "欧盟")
    return names


def load_events(files: list[Path], federal_register: list[Path]) -> list[Event]:
    """Events of curated CSV files and saved ``documents.json`` responses (errors name the file)."""
    events: list[Event] = []
    for path in files:
        events += read_events(path)
    for path in federal_register:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except OSError as err:
            raise EventFileError(f"{path}: cannot read ({err.strerror})") from None
        except ValueError as err:
            raise EventFileError(f"{path}: not JSON ({err})") from None
        page, _next = parse_page(document, str(path))
        events += page
    return events


def countdown_days(event: Event, today: date) -> int | None:
    """Days until the measure takes effect (None when it is already in force or has no date)."""
    if event.effective is None or event.effective <= today:
        return None
    return (event.effective - today).days


def mapping_document(events: list[Event], mapping: EventMapping, today: date) -> dict:
    """The JSON form of ``events map`` (docs/events.md)."""
    by_id = {e.event_id: e for e in events}
    warnings = []
    for match in mapping.matches:
        event = by_id[match.event_id]
        warnings.append({
            "event_id": event.event_id, "source": event.source, "title": event.title, "kind": event.kind,
            "issuer": event.issuer, "issuing_body": event.issuing_body, "announced": event.announced.isoformat(),
            "effective": event.effective.isoformat() if event.effective else None,
            "days_until_effective": countdown_days(event, today), "link": event.link, "status": event.status,
            "chain": match.chain, "node": match.node, "level": "none" if event.status == "withdrawn" else match.level,
            "exposure": match.exposure, "explanation": {"en": match.explanation_en, "zh": match.explanation_zh}})
    unmatched = [{"event_id": e.event_id, "title": e.title, "kind": e.kind, "issuer": e.issuer,
                  "announced": e.announced.isoformat()} for e in mapping.unmatched]
    return {"as_of": today.isoformat(), "warnings": warnings, "unmatched": unmatched}


def mapping_table(document: dict) -> str:
    """``events map`` for people: one line per warning, then the unmatched events."""
    lines = []
    ranked = sorted(document["warnings"], key=lambda w: (-level_index(w["level"]), w["chain"], w["node"]))
    for w in ranked:
        when = (f"in force in {w['days_until_effective']} days ({w['effective']})"
                if w["days_until_effective"] is not None else f"in force since {w['effective'] or w['announced']}")
        status = "WITHDRAWN (resolved)" if w["status"] == "withdrawn" else w["level"].upper()
        lines.append(f"{status:<8} {w['chain']}/{w['node']}: {w['explanation']['en']}; {when}")
        lines.append(f"         {w['explanation']['zh']}")
        if w["link"]:
            lines.append(f"         {w['link']}")
    if document["unmatched"]:
        lines.append(f"{len(document['unmatched'])} event(s) matched no node:")
        lines += [f"  {u['announced']} {u['issuer']} {u['kind']}: {u['title']}" for u in document["unmatched"]]
    events = {w["event_id"] for w in document["warnings"]} | {u["event_id"] for u in document["unmatched"]}
    nodes = {(w["chain"], w["node"]) for w in document["warnings"]}
    lines.append(f"{len(events)} event(s): {len(document['warnings'])} warning(s) on {len(nodes)} node(s), "
                 f"{len(document['unmatched'])} event(s) matched no node")
    return "\n".join(lines)


def _nodes(value: str) -> set[str]:
    return {n.strip() for n in (value or "").split(";") if n.strip()}


def evaluate_file(path: Path, catalog: Catalog) -> dict:
    """Map the pre-registered events of ``path`` and score them (the ``evaluate-events`` document)."""
    rows = read_rows(path)
    for i, row in enumerate(rows, start=2):
        if "expected_nodes" not in row or row.get("role") not in {"target", "control"}:
            raise EventFileError(f"{path}: row {i}: needs 'role' (target or control) and 'expected_nodes' columns")
    events = read_events(path, source="preregistered")
    known = {f"{c.id}/{n.id}" for c in catalog.chains for n in c.nodes}
    expected = {}
    for i, (row, event) in enumerate(zip(rows, events), start=2):
        nodes = _nodes(row["expected_nodes"])
        unknown = sorted(nodes - known)
        if unknown:
            raise EventFileError(f"{path}: row {i}: expected node {unknown[0]!r} is not in the catalog")
        expected[event.event_id] = nodes
    mapping = map_events(events, node_profiles(catalog), catalog.home, country_names(events, catalog.home))
    score = score_mapping(expected, {e.event_id: mapping.nodes_of(e.event_id) for e in events})
    leads = []
    for i, (row, event) in enumerate(zip(rows, events), start=2):
        month = (row.get("trade_effect_month") or "").strip()
        if month:
            try:
                leads.append((event.announced, date.fromisoformat(f"{month}-01")))
            except ValueError:
                raise EventFileError(f"{path}: row {i}: trade_effect_month {month!r} is not YYYY-MM") from None
    return {
        "events": score.events, "targets": sum(1 for r in rows if r["role"] == "target"),
        "controls": sum(1 for r in rows if r["role"] == "control"),
        "expected_pairs": score.expected_pairs, "found_pairs": score.found_pairs,
        "recall": score.recall, "false_matches": score.false_pairs,
        "false_matches_per_100_events": score.false_per_100_events,
        "lead_time_events": len(leads), "median_lead_days": median_lead_days(leads),
        "missed": [{"event_id": e, "node": n} for e, n in score.missed],
        "false": [{"event_id": e, "node": n} for e, n in score.false],
    }


def evaluation_table(doc: dict) -> str:
    """``evaluate-events`` for people."""
    recall = "n/a" if doc["recall"] is None else f"{doc['recall']:.2f}"
    false = "n/a" if doc["false_matches_per_100_events"] is None else f"{doc['false_matches_per_100_events']:.1f}"
    lead = "n/a" if doc["median_lead_days"] is None else f"{doc['median_lead_days']:.0f} days"
    lines = [
        f"events: {doc['events']} ({doc['targets']} targets, {doc['controls']} controls)",
        f"node-mapping recall: {recall} ({doc['found_pairs']}/{doc['expected_pairs']} expected event-node pairs)",
        f"false matches: {doc['false_matches']} ({false} per 100 events)",
        f"median lead time over the trade-effect month's end: {lead} ({doc['lead_time_events']} events with a "
        f"documented trade-effect month)",
    ]
    lines += [f"  missed: {m['event_id']} -> {m['node']}" for m in doc["missed"]]
    lines += [f"  false:  {m['event_id']} -> {m['node']}" for m in doc["false"]]
    return "\n".join(lines)
