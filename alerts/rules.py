"""Alert rules: which risk subjects deserve an alert.

A *subject* is one chain or one node of a chain with its current early-warning level
(``none < blue < yellow < orange < red``). A :class:`LevelRule` fires for subjects of
its scope whose level is at or above its ``min_level``. The result is a list of
:class:`~alerts.model.AlertCandidate`, one per subject at most, for the lifecycle
stage to reconcile with what was firing before.

Three kinds of rule, evaluated together by :func:`evaluate_rules`:

- :class:`LevelRule` (``kind="risk_level"``): the subject's level is at least
  ``min_level``;
- :class:`LevelChangeRule` (``kind="level_change"``): the level rose since the
  previous assessment (to at least ``min_level``); it resolves at the next
  assessment without a rise;
- :class:`FindingRule` (``kind`` = the finding's kind, e.g. ``shock_down``):
  a detector finding of one of the listed kinds on a subject.

Every rule may require its condition for ``for_runs`` consecutive assessments
before the alert fires, hold a firing alert for ``keep_firing_runs`` assessments
after the condition stops, and override the level → severity map.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from alerts.model import AlertCandidate
from indicators.vocabulary import LEVELS, level_index

RISK_LEVEL_KIND = "risk_level"
"""``kind`` label of alerts raised by :func:`evaluate_level_rules`."""

LEVEL_CHANGE_KIND = "level_change"
"""``kind`` label of alerts raised by :class:`LevelChangeRule`."""

EXPOSURE_CHANGE_KIND = "exposure_change"
"""``kind`` label of alerts raised by :class:`ExposureChangeRule`."""

Scope = Literal["chain", "node"]


@dataclass(frozen=True)
class LevelRule:
    """Fire for every subject of ``scope`` whose level is at least ``min_level``.

    ``name`` becomes the alert's ``alertname`` label. ``min_level`` cannot be
    ``"none"``: that would alert on every chain all the time.
    """

    name: str
    scope: Scope
    min_level: str = "orange"
    for_runs: int = 1
    keep_firing_runs: int = 0
    severity: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        _check_scoped_rule(self, "would alert on every subject")


def _check_scoped_rule(rule, none_means: str) -> None:
    """The checks every rule on a chain or node level shares; ``none_means`` says why
    ``min_level: none`` is refused for this kind of rule."""
    if not rule.name:
        raise ValueError(f"{type(rule).__name__}.name must not be empty")
    _check_counts(rule.name, rule.for_runs, rule.keep_firing_runs)
    if rule.scope not in ("chain", "node"):
        raise ValueError(f"rule {rule.name!r}: scope must be 'chain' or 'node', got {rule.scope!r}")
    if level_index(rule.min_level) == 0:
        raise ValueError(f"rule {rule.name!r}: min_level 'none' {none_means}")


def _check_counts(name: str, for_runs: int, keep_firing_runs: int) -> None:
    if for_runs < 1:
        raise ValueError(f"rule {name!r}: for must be at least 1 assessment, got {for_runs}")
    if keep_firing_runs < 0:
        raise ValueError(f"rule {name!r}: keep_firing_for must not be negative, got {keep_firing_runs}")


@dataclass(frozen=True)
class LevelChangeRule:
    """Fire when a subject of ``scope`` rose a level since the previous assessment.

    Only rises to at least ``min_level`` count (default ``yellow``: blue noise is
    not news). The alert carries ``previous_level`` and resolves at the next
    assessment that shows no rise.
    """

    name: str
    scope: Scope
    min_level: str = "yellow"
    for_runs: int = 1
    keep_firing_runs: int = 0
    severity: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        _check_scoped_rule(self, "is not a rise")


@dataclass(frozen=True)
class ExposureChangeRule:
    """The risk register's alert: a subject's (structural) exposure level *changed*.

    Fires once when the level is new (first assessed at ``min_level`` or above), went
    up to at least ``min_level``, or went down from at least ``min_level``; the
    annotation ``change`` says which (``new``, ``up``, ``down``). A lasting exposure
    (a 65 % top supplier, run after run) therefore alerts when it appears and not at
    every assessment; the alert resolves at the next assessment without a change.
    Lasting conditions above a ceiling are :class:`LevelRule`'s job.
    """

    name: str
    scope: Scope
    min_level: str = "orange"
    for_runs: int = 1
    keep_firing_runs: int = 0
    severity: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        _check_scoped_rule(self, "would register every change")


def exposure_change(previous: str | None, level: str, min_level: str) -> str | None:
    """``new``, ``up``, ``down`` or None (no change worth an alert) for a level move."""
    floor = level_index(min_level)
    rank = level_index(level)
    if previous is None or level_index(previous) <= 0:
        return "new" if rank >= floor else None
    before = level_index(previous)
    if rank > before and rank >= floor:
        return "up"
    if rank < before and before >= floor:
        return "down"
    return None


@dataclass(frozen=True)
class FindingEvent:
    """One detector finding on a node, as plain data (from the assessment).

    ``kind`` names what was found (e.g. ``shock_down``: the disruption
    engine flagged a drop); ``level`` is the severity-bearing level the finding
    maps to (the node's level by default).
    """

    chain: str
    node: str
    kind: str
    series: str
    level: str
    summary_en: str
    summary_zh: str
    observed: float | None = None
    expected: float | None = None
    score: float | None = None
    period: str = ""


@dataclass(frozen=True)
class FindingRule:
    """Fire for each finding whose ``kind`` is in ``kinds`` (at ``min_level`` or worse)."""

    name: str
    kinds: tuple[str, ...]
    min_level: str = "blue"
    for_runs: int = 1
    keep_firing_runs: int = 0
    severity: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("FindingRule.name must not be empty")
        if not self.kinds:
            raise ValueError(f"rule {self.name!r}: kinds must list at least one finding kind")
        level_index(self.min_level)
        _check_counts(self.name, self.for_runs, self.keep_firing_runs)


Rule = LevelRule | LevelChangeRule | ExposureChangeRule | FindingRule


@dataclass(frozen=True)
class RiskSubject:
    """A chain (``node == ""``) or a node, with its current level and why.

    ``score`` is the 0-100 risk score, ``summary_en``/``summary_zh`` one-line
    summaries for the two audiences, ``drivers`` what pushed the score up, most
    important first.
    """

    chain: str
    node: str
    level: str
    score: float
    summary_en: str
    summary_zh: str
    drivers: list[str] = field(default_factory=list)
    previous_level: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)
    """Extra annotations for the message (threshold, data period, report link...)."""

    @property
    def scope(self) -> Scope:
        """``"chain"`` for a chain-level subject, ``"node"`` otherwise."""
        return "chain" if self.node == "" else "node"


def _check_severity_map(rules: Sequence[LevelRule], severity_map: Mapping[str, str]) -> None:
    # Checked up front for every level some rule could match, so a gap in the config
    # shows on the first run, not on the day a chain first turns red.
    lowest = min(level_index(rule.min_level) for rule in rules)
    missing = [lvl for lvl in LEVELS[lowest:] if lvl not in severity_map]
    if missing:
        raise ValueError(
            f"severity_map has no severity for level(s) {', '.join(missing)}, "
            f"which rule(s) {', '.join(r.name for r in rules)} can match"
        )


def _winning_rule(rules: Sequence[LevelRule], subject: RiskSubject) -> LevelRule | None:
    """The matching rule with the highest ``min_level`` (first one on a tie)."""
    rank = level_index(subject.level)
    best: LevelRule | None = None
    for rule in rules:
        if rule.scope != subject.scope or rank < level_index(rule.min_level):
            continue
        if best is None or level_index(rule.min_level) > level_index(best.min_level):
            best = rule
    return best


def _description(subject: RiskSubject) -> str:
    where = f"Chain {subject.chain}" if subject.scope == "chain" else f"Node {subject.node} of chain {subject.chain}"
    text = f"{where} is at {subject.level} level (risk score {subject.score:.1f}/100)."
    if subject.drivers:
        text += " Drivers: " + "; ".join(subject.drivers) + "."
    return text


def evaluate_level_rules(
    rules: Sequence[LevelRule],
    subjects: Sequence[RiskSubject],
    severity_map: Mapping[str, str],
) -> list[AlertCandidate]:
    """Turn subjects at or above a rule's level into alert candidates.

    Each subject yields at most one candidate, even when several rules match: the
    rule with the highest ``min_level`` wins (the most specific statement about the
    subject) and its name is recorded as the ``alertname`` label. Candidates keep the
    order of ``subjects``.

    Labels: ``alertname``, ``chain``, ``node`` (``""`` for chains), ``kind``
    (``"risk_level"``), ``severity`` (``severity_map[subject.level]``).
    Annotations: ``summary``, ``summary_zh``, ``description``, ``level``, ``score``
    (one decimal) and ``drivers`` (joined with ``"; "``).

    Raises:
        ValueError: if ``severity_map`` lacks a level some rule can match, or a
            subject has an unknown level (the message names the subject).
    """
    if not rules:
        return []
    _check_severity_map(rules, severity_map)
    candidates: list[AlertCandidate] = []
    for subject in subjects:
        try:
            level_index(subject.level)
        except ValueError as err:
            raise ValueError(f"subject chain={subject.chain!r} node={subject.node!r}: {err}") from None
        rule = _winning_rule(rules, subject)
        if rule is None:
            continue
        candidates.append(
            AlertCandidate(
                labels={
                    "alertname": rule.name,
                    "chain": subject.chain,
                    "node": subject.node,
                    "kind": RISK_LEVEL_KIND,
                    "severity": (rule.severity or severity_map)[subject.level],
                    "level": subject.level,
                },
                annotations={
                    **subject.annotations,
                    "summary": subject.summary_en,
                    "summary_zh": subject.summary_zh,
                    "description": _description(subject),
                    "level": subject.level,
                    "score": f"{subject.score:.1f}",
                    "drivers": "; ".join(subject.drivers),
                },
                for_runs=rule.for_runs,
            )
        )
    return candidates


def evaluate_rules(
    rules: Sequence[Rule],
    subjects: Sequence[RiskSubject],
    findings: Sequence[FindingEvent],
    severity_map: Mapping[str, str],
) -> list[AlertCandidate]:
    """All candidates of all rule kinds: level, level change, then findings.

    Level rules keep :func:`evaluate_level_rules`' one-candidate-per-subject
    behaviour. Level-change and finding alerts have their own ``kind`` label, so
    they are separate alerts of the same subject (findings also carry ``series``).

    Raises:
        ValueError: as :func:`evaluate_level_rules`, for any rule kind.
    """
    level_rules = [r for r in rules if isinstance(r, LevelRule)]
    candidates = evaluate_level_rules(level_rules, subjects, severity_map)
    for rule in rules:
        severity = rule.severity or severity_map
        if isinstance(rule, LevelChangeRule):
            _check_severity_map([LevelRule(rule.name, rule.scope, rule.min_level)], severity)
            for subject in subjects:
                if subject.scope != rule.scope or subject.previous_level is None:
                    continue
                rank = level_index(subject.level)
                if rank <= level_index(subject.previous_level) or rank < level_index(rule.min_level):
                    continue
                candidates.append(AlertCandidate(
                    labels={"alertname": rule.name, "chain": subject.chain, "node": subject.node,
                            "kind": LEVEL_CHANGE_KIND, "severity": severity[subject.level], "level": subject.level},
                    annotations={
                        **subject.annotations,
                        "summary": f"{subject.summary_en} (up from {subject.previous_level})",
                        "summary_zh": subject.summary_zh,
                        "description": _description(subject),
                        "level": subject.level, "previous_level": subject.previous_level,
                        "score": f"{subject.score:.1f}", "drivers": "; ".join(subject.drivers),
                    },
                    for_runs=rule.for_runs,
                ))
        elif isinstance(rule, ExposureChangeRule):
            for subject in subjects:
                if subject.scope != rule.scope:
                    continue
                change = exposure_change(subject.previous_level, subject.level, rule.min_level)
                if change is None:
                    continue
                candidates.append(AlertCandidate(
                    labels={"alertname": rule.name, "chain": subject.chain, "node": subject.node,
                            "kind": EXPOSURE_CHANGE_KIND, "severity": severity.get(subject.level, "info"),
                            "level": subject.level},
                    annotations={
                        **subject.annotations,
                        "summary": subject.summary_en + (f" ({change}, was {subject.previous_level})"
                                                         if change != "new" else " (new)"),
                        "summary_zh": subject.summary_zh,
                        "description": _description(subject),
                        "level": subject.level, "previous_level": subject.previous_level or "",
                        "change": change, "score": f"{subject.score:.1f}", "drivers": "; ".join(subject.drivers),
                    },
                    for_runs=rule.for_runs,
                ))
        elif isinstance(rule, FindingRule):
            seen: set[tuple[str, str, str, str]] = set()
            for finding in findings:
                key = (finding.chain, finding.node, finding.kind, finding.series)
                if finding.kind not in rule.kinds or key in seen:
                    continue
                if level_index(finding.level) < level_index(rule.min_level):
                    continue
                if finding.level not in severity:
                    raise ValueError(f"rule {rule.name!r}: severity_map has no severity for level {finding.level!r}")
                seen.add(key)
                annotations = {"summary": finding.summary_en, "summary_zh": finding.summary_zh,
                               "description": finding.summary_en, "level": finding.level,
                               "detector": finding.kind, "period": finding.period}
                for name in ("observed", "expected", "score"):
                    value = getattr(finding, name)
                    if value is not None:
                        annotations[name] = f"{value:.4g}"
                candidates.append(AlertCandidate(
                    labels={"alertname": rule.name, "chain": finding.chain, "node": finding.node,
                            "kind": finding.kind, "series": finding.series,
                            "severity": severity[finding.level], "level": finding.level},
                    annotations=annotations, for_runs=rule.for_runs,
                ))
    return candidates


def keep_firing_for(rules: Sequence[Rule]) -> dict[str, int]:
    """``alertname`` → keep-firing hold, for :func:`alerts.lifecycle.reconcile`."""
    return {r.name: r.keep_firing_runs for r in rules if r.keep_firing_runs}
