"""Policy and event intelligence: which chain nodes an announced measure touches, and how much.

Pure data, no I/O. An :class:`Event` is one measure (an export ban, a licensing
requirement, a tariff, an entity listing, a notice, a sanction, an outage) as a source
published it; :func:`map_event` matches it onto catalog nodes (:class:`NodeProfile`) by
product evidence and grades each match by the node's exposure to the issuing country.

Product evidence (a match needs at least one):

- an HS code the event names (its ``hs_codes`` field or an ``HS 8486.20``-style
  mention in its text) that covers or is covered by one of the node's codes (a
  heading ``8112`` covers subheading ``811292`` and the reverse);
- one of the node's keywords (English, whole words, case-insensitive; Chinese, as a
  substring) in the event's title or text.

Exposure (0-1) of a node to an event = the larger of the node's import share from
the issuing country and the issuing country's share of world supply of the node's
product, both from measures already computed (partner shares, USGS world supply). A
measure by the home economy's supplier is what threatens the home economy's imports;
which country the measure targets only decides whether it can reach the home economy
(``affected`` lists the home country, or ``*`` = every destination).

Severity (docs/alerts.md, "Policy events"): ``weight(kind) × exposure`` mapped onto
the warning levels; with exposure unknown the kind alone decides, one level lower.
The kind weights are an ordering, not an estimate (export ban > licensing > tariff >
listing > notice, as the issue that asked for this feature ranks them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

__all__ = [
    "EVENT_KINDS", "KIND_WEIGHTS", "KIND_NAMES_ZH", "Event", "NodeProfile", "NodeMatch", "EventMapping",
    "hs_codes_in_text", "map_event", "map_events", "severity_level", "CountryNames", "same_measure",
    "kind_from_text",
]

#: ISO alpha-3 (or ``EU``) -> (English name, Chinese name); codes without an entry print as themselves.
CountryNames = Mapping[str, tuple[str, str]]

#: Kind -> weight in the severity product. Ordinal by design: the ranking is what the
#: analysts asked for; the numbers only space the kinds out over the levels.
KIND_WEIGHTS: dict[str, float] = {
    "export_ban": 1.0,
    "sanction": 0.9,
    "licensing": 0.8,
    "outage": 0.7,
    "tariff": 0.5,
    "listing": 0.4,
    "notice": 0.2,
}
EVENT_KINDS: tuple[str, ...] = tuple(KIND_WEIGHTS)

#: ``weight × exposure`` thresholds of the levels, highest first.
_LEVEL_FLOORS = (("red", 0.5), ("orange", 0.3), ("yellow", 0.15), ("blue", 0.0))

# "HS 8486.20", "HS codes 2846 and 280530", "heading 8542", "税则号列 2805.3000": the
# code must follow a marker, so years and docket numbers are never read as codes.
_HS_MARKER = re.compile(
    r"(?:\bHS\b|\bH\.S\.|\bheadings?\b|\bsubheadings?\b|\btariff (?:lines?|codes?)\b|税则号列|税号|商品编号|海关编码)"
    r"(?:\s*(?:codes?|numbers?|nos?\.?))?[\s:：]*"
    r"((?:\d{4}(?:\.?\d{2}){0,2}(?:\.\d{2,4})?)(?:\s*(?:,|、|;|and|or|和|及)\s*\d{4}(?:\.?\d{2}){0,2}(?:\.\d{2,4})?)*)",
    re.IGNORECASE)
_CODE = re.compile(r"\d{4}(?:\.?\d{2}){0,2}(?:\.\d{2,4})?")


def hs_codes_in_text(text: str) -> list[str]:
    """HS headings (4 digits) and subheadings (6 digits) named in ``text``, in order, unique.

    National 8/10-digit lines are cut to their subheading (``2805.3000`` -> ``280530``).
    """
    found: list[str] = []
    for marker in _HS_MARKER.finditer(text or ""):
        for raw in _CODE.findall(marker.group(1)):
            digits = raw.replace(".", "")
            code = digits[:6] if len(digits) >= 6 else digits[:4]
            if code not in found:
                found.append(code)
    return found


@dataclass(frozen=True)
class Event:
    """One measure as a source published it."""

    event_id: str
    """``<source>:<the source's own id>``, e.g. ``federal_register:2023-23049``."""
    source: str
    title: str
    kind: str
    issuer: str
    """ISO 3166 alpha-3 of the issuing country (``EU`` for the European Union)."""
    announced: date
    text: str = ""
    affected: tuple[str, ...] = ("*",)
    """ISO alpha-3 codes of the countries the measure targets; ``*`` = every destination."""
    hs_codes: tuple[str, ...] = ()
    effective: date | None = None
    link: str = ""
    language: str = "en"
    status: str = "active"
    """``active`` or ``withdrawn`` (a withdrawn measure resolves its warnings)."""
    issuing_body: str = ""


@dataclass(frozen=True)
class NodeProfile:
    """What the mapper knows of one catalog node."""

    chain: str
    node: str
    name_en: str
    name_zh: str
    hs_codes: tuple[str, ...]
    keywords_en: tuple[str, ...] = ()
    keywords_zh: tuple[str, ...] = ()
    import_shares: Mapping[str, float] = field(default_factory=dict)
    """ISO alpha-3 partner -> share (0-1) of the home economy's imports of the node's goods."""
    world_shares: Mapping[str, float] = field(default_factory=dict)
    """ISO alpha-3 producer -> share (0-1) of world supply of the node's product."""

    @property
    def key(self) -> str:
        """``chain/node``."""
        return f"{self.chain}/{self.node}"


@dataclass(frozen=True)
class NodeMatch:
    """One event matched onto one node, with why and how much."""

    event_id: str
    chain: str
    node: str
    evidence_en: tuple[str, ...]
    evidence_zh: tuple[str, ...]
    exposure: float | None
    level: str
    explanation_en: str
    explanation_zh: str

    @property
    def key(self) -> str:
        """``chain/node``."""
        return f"{self.chain}/{self.node}"


@dataclass(frozen=True)
class EventMapping:
    """Every match of a batch of events, and the events that matched nothing (kept, listed)."""

    matches: tuple[NodeMatch, ...]
    unmatched: tuple[Event, ...]

    def nodes_of(self, event_id: str) -> set[str]:
        """The ``chain/node`` keys an event matched."""
        return {m.key for m in self.matches if m.event_id == event_id}


#: Days apart two sources may date the same measure (an announcement and its Federal
#: Register publication are typically one to two weeks apart: 2023-10-17 / 2023-10-25).
SAME_MEASURE_DAYS = 14
_REVISION_WORDS = re.compile(r"\b(?:corrections?|amendments?|correcting amendment|revisions?)\b", re.IGNORECASE)


def _title_key(title: str) -> str:
    words = re.findall(r"[a-z0-9]+|[\u4e00-\u9fff]", _REVISION_WORDS.sub(" ", title.lower()))
    return " ".join(words)


def same_measure(a: Event, b: Event) -> bool:
    """Whether ``b`` repeats or amends ``a`` (docs/events.md, "Deduplication and revision").

    The same issuer, and either the same title once "correction"/"amendment" words are
    dropped (an amendment or correction, whatever its date), or announcements at most
    :data:`SAME_MEASURE_DAYS` apart that name a common HS code or one of which names
    the other's document id in its text (the same measure from two sources).
    """
    if a.issuer != b.issuer:
        return False
    if _title_key(a.title) and _title_key(a.title) == _title_key(b.title):
        return True
    if abs((a.announced - b.announced).days) > SAME_MEASURE_DAYS:
        return False
    if set(a.hs_codes) & set(b.hs_codes):
        return True
    ids = [e.event_id.rsplit(":", 1)[-1] for e in (a, b)]  # the source's own id, without prefixes
    return ids[0] in f"{b.title} {b.text} {b.link}" or ids[1] in f"{a.title} {a.text} {a.link}"


#: Patterns that name a kind in an announcement's title, strongest kind first (the first
#: hit wins). English allows up to two words between verb and "export(s)": "suspends
#: cobalt exports", "bans the export".
_KIND_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((kind, re.compile(pattern, re.IGNORECASE)) for kind, pattern in (
    ("export_ban", r"\b(?:bans?|banned|banning|suspends?|suspended|suspension of|prohibits?|prohibition of|halts?)"
                   r"(?:\s+[\w-]+){0,2}?\s+exports?\b|\bexport (?:ban|suspension|prohibition)|禁止出口|暂停出口|禁止向"),
    ("sanction", r"\bsanction|制裁"),
    ("licensing", r"\bexport control|\bexport licen|\blicensing\b|许可|出口管制"),
    ("outage", r"\boutage|\bforce majeure|\bstrike\b|\bshut ?down|停产|不可抗力|罢工"),
    ("tariff", r"\btariff|\bdut(?:y|ies)\b|关税|反倾销|反补贴"),
    ("listing", r"\bentity list|\bunreliable entit|实体清单|不可靠实体"),
))


def kind_from_text(title: str, default: str = "notice") -> str:
    """The kind an announcement's title names (``禁止出口`` -> export_ban, ``tariff`` -> tariff...), else ``default``."""
    return next((kind for kind, pattern in _KIND_PATTERNS if pattern.search(title)), default)


#: Chinese names of the kinds, for the Chinese explanation.
KIND_NAMES_ZH: dict[str, str] = {
    "export_ban": "出口禁令", "sanction": "制裁", "licensing": "出口许可管制", "outage": "停产或中断",
    "tariff": "关税措施", "listing": "实体清单", "notice": "公告",
}


def _codes_overlap(event_code: str, node_code: str) -> bool:
    return node_code.startswith(event_code) or event_code.startswith(node_code)


def _keyword_hits(text: str, words_en: Iterable[str], words_zh: Iterable[str]) -> list[str]:
    lowered = text.lower()
    hits = [w for w in words_en if re.search(rf"(?<![a-z0-9]){re.escape(w.lower())}(?![a-z0-9])", lowered)]
    return hits + [w for w in words_zh if w in text]


def severity_level(kind: str, exposure: float | None) -> str:
    """Warning level of a match: ``KIND_WEIGHTS[kind] × exposure`` over the level floors.

    Unknown exposure: the kind's weight alone, one level lower (never below blue), so
    a measure on a node whose trade is not measured still warns, but modestly.
    """
    weight = KIND_WEIGHTS.get(kind, KIND_WEIGHTS["notice"])
    score = weight if exposure is None else weight * exposure
    levels = [name for name, _ in _LEVEL_FLOORS]
    level = next(name for name, floor in _LEVEL_FLOORS if score >= floor)
    if exposure is None:
        level = levels[min(levels.index(level) + 1, len(levels) - 1)]
    return level


def _reaches_home(event: Event, home: str) -> bool:
    return "*" in event.affected or home in event.affected


def _exposure(event: Event, profile: NodeProfile, home: str,
              names: CountryNames) -> tuple[float | None, list[str], list[str]]:
    """The node's exposure to the issuer, with the sentences that justify it."""
    if event.issuer == home:
        return None, [], []  # the home economy's own measure: not a supply threat to it
    en, zh = [], []
    values = []
    issuer_en, issuer_zh = names.get(event.issuer, (event.issuer, event.issuer))
    share = profile.import_shares.get(event.issuer)
    if share is not None and _reaches_home(event, home):
        values.append(share)
        en.append(f"{share:.0%} of the node's imports come from {issuer_en}")
        zh.append(f"该环节 {share:.0%} 的进口来自{issuer_zh}")
    world = profile.world_shares.get(event.issuer)
    if world is not None:
        values.append(world)
        en.append(f"{issuer_en} supplies {world:.0%} of world output")
        zh.append(f"{issuer_zh}占全球产量的 {world:.0%}")
    return (max(values) if values else None), en, zh


def map_event(event: Event, profiles: Iterable[NodeProfile], home: str,
              names: CountryNames | None = None) -> list[NodeMatch]:
    """The nodes ``event`` touches (product evidence), each with exposure, level and explanation."""
    names = names or {}
    text = f"{event.title}\n{event.text}"
    codes = list(dict.fromkeys([*event.hs_codes, *hs_codes_in_text(text)]))
    issuer_en, issuer_zh = names.get(event.issuer, (event.issuer, event.issuer))
    label_en = f"{event.issuing_body or issuer_en} {event.kind.replace('_', ' ')} {event.announced.isoformat()}"
    label_zh = f"{issuer_zh}{event.announced.isoformat()}{KIND_NAMES_ZH.get(event.kind, event.kind)}"
    matches = []
    for profile in profiles:
        ev_en, ev_zh = [], []
        hs = [c for c in codes if any(_codes_overlap(c, n) for n in profile.hs_codes)]
        if hs:
            ev_en.append(f"names HS {', '.join(hs)}")
            ev_zh.append(f"列明 HS {'、'.join(hs)}")
        words = _keyword_hits(text, profile.keywords_en, profile.keywords_zh)
        if words:
            ev_en.append(f"mentions {', '.join(repr(w) for w in words)}")
            ev_zh.append(f"提及{'、'.join('“' + w + '”' for w in words)}")
        if not ev_en:
            continue
        exposure, exp_en, exp_zh = _exposure(event, profile, home, names)
        level = severity_level(event.kind, exposure)
        tail_en = "; ".join(exp_en) if exp_en else "exposure unknown (no import or world-supply share measured)"
        tail_zh = "；".join(exp_zh) if exp_zh else "暴露度未知（无进口或全球供应份额数据）"
        matches.append(NodeMatch(
            event.event_id, profile.chain, profile.node, tuple(ev_en), tuple(ev_zh), exposure, level,
            f"{label_en} {' and '.join(ev_en)}; {tail_en}",
            f"{label_zh}{'，'.join(ev_zh)}；{tail_zh}"))
    return matches


def map_events(events: Iterable[Event], profiles: Iterable[NodeProfile], home: str,
               names: CountryNames | None = None) -> EventMapping:
    """:func:`map_event` over a batch; events that match nothing are kept in ``unmatched``."""
    profiles = list(profiles)
    matches: list[NodeMatch] = []
    unmatched: list[Event] = []
    for event in events:
        found = map_event(event, profiles, home, names)
        matches += found
        if not found:
            unmatched.append(event)
    return EventMapping(tuple(matches), tuple(unmatched))
