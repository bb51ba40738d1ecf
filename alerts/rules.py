"""Alert rules: which risk subjects deserve an alert.

A *subject* is one chain or one node of a chain with its current early-warning level
(``none < blue < yellow < orange < red``). A :class:`LevelRule` fires for subjects of
its scope whose level is at or above its ``min_level``. The result is a list of
:class:`~alerts.model.AlertCandidate`, one per subject at most, for the lifecycle
stage to reconcile with what was firing before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from alerts.model import AlertCandidate

LEVEL_ORDER = ("none", "blue", "yellow", "orange", "red")
"""Early-warning levels from harmless to worst."""

RISK_LEVEL_KIND = "risk_level"
"""``kind`` label of alerts raised by :func:`evaluate_level_rules`."""

Scope = Literal["chain", "node"]


def level_rank(level: str) -> int:
    """Return the position of ``level`` in :data:`LEVEL_ORDER` (``none`` is 0).

    Raises:
        ValueError: for a level not in :data:`LEVEL_ORDER`, naming it.
    """
    try:
        return LEVEL_ORDER.index(level)
    except ValueError:
        raise ValueError(f"unknown level {level!r}; expected one of {', '.join(LEVEL_ORDER)}") from None


@dataclass(frozen=True)
class LevelRule:
    """Fire for every subject of ``scope`` whose level is at least ``min_level``.

    ``name`` becomes the alert's ``alertname`` label. ``min_level`` cannot be
    ``"none"``: that would alert on every chain all the time.
    """

    name: str
    scope: Scope
    min_level: str = "orange"

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("LevelRule.name must not be empty")
        if self.scope not in ("chain", "node"):
            raise ValueError(f"rule {self.name!r}: scope must be 'chain' or 'node', got {self.scope!r}")
        if level_rank(self.min_level) == 0:
            raise ValueError(f"rule {self.name!r}: min_level 'none' would alert on every subject")


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

    @property
    def scope(self) -> Scope:
        """``"chain"`` for a chain-level subject, ``"node"`` otherwise."""
        return "chain" if self.node == "" else "node"


def _check_severity_map(rules: Sequence[LevelRule], severity_map: Mapping[str, str]) -> None:
    # Checked up front for every level some rule could match, so a gap in the config
    # shows on the first run, not on the day a chain first turns red.
    lowest = min(level_rank(rule.min_level) for rule in rules)
    missing = [lvl for lvl in LEVEL_ORDER[lowest:] if lvl not in severity_map]
    if missing:
        raise ValueError(
            f"severity_map has no severity for level(s) {', '.join(missing)}, "
            f"which rule(s) {', '.join(r.name for r in rules)} can match"
        )


def _winning_rule(rules: Sequence[LevelRule], subject: RiskSubject) -> LevelRule | None:
    """The matching rule with the highest ``min_level`` (first one on a tie)."""
    rank = level_rank(subject.level)
    best: LevelRule | None = None
    for rule in rules:
        if rule.scope != subject.scope or rank < level_rank(rule.min_level):
            continue
        if best is None or level_rank(rule.min_level) > level_rank(best.min_level):
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
            level_rank(subject.level)
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
                    "severity": severity_map[subject.level],
                },
                annotations={
                    "summary": subject.summary_en,
                    "summary_zh": subject.summary_zh,
                    "description": _description(subject),
                    "level": subject.level,
                    "score": f"{subject.score:.1f}",
                    "drivers": "; ".join(subject.drivers),
                },
            )
        )
    return candidates
