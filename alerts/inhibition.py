"""Inhibition: a firing alert mutes other alerts that it makes redundant.

As in Alertmanager's ``inhibit_rules``: an alert matching ``target`` is inhibited
while some *other* firing alert matches ``source`` and has the same values of the
``equal`` labels. The default rule says a chain-level red alert
(``node=""``, ``level="red"``) inhibits the same chain's node alerts below red,
because the chain message already tells the story.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from alerts.matchers import Matcher, matches_all
from alerts.model import Alert


@dataclass(frozen=True)
class InhibitRule:
    """Targets are muted while a matching source with equal ``equal`` labels fires."""

    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()


def inhibited(rules: Sequence[InhibitRule], alerts: Sequence[Alert]) -> dict[str, str]:
    """Map fingerprint → fingerprint of the firing alert that inhibits it.

    Only firing alerts inhibit; an alert never inhibits itself.
    """
    result: dict[str, str] = {}
    firing = [a for a in alerts if a.is_firing]
    for rule in rules:
        sources = [a for a in firing if matches_all(rule.source, a.labels)]
        if not sources:
            continue
        for alert in alerts:
            if alert.fingerprint in result or not matches_all(rule.target, alert.labels):
                continue
            for source in sources:
                if source.fingerprint == alert.fingerprint:
                    continue
                if all(source.labels.get(n, "") == alert.labels.get(n, "") for n in rule.equal):
                    result[alert.fingerprint] = source.fingerprint
                    break
    return result
