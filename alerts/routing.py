"""The routing tree: which receivers get an alert, grouped how, and how often.

Modelled on Alertmanager's ``dispatch/route.go``. Every alert enters at the root
route and descends depth-first into the first child whose matchers all match; with
``continue`` a matching child lets the search go on to its later siblings, so one
alert can reach several routes. A route that no child takes is the match itself.
Settings a child does not set (receivers, ``group_by``, timings, escalation) are
inherited from its parent.

chainwatch's default (链长制): a route whose ``receivers`` are empty sends the alert
to the receivers of its chain, as named by the catalog (the chain's ``receivers``
and its contacts' receivers), falling back to ``default_receivers``; that is what
``chain_receivers`` returns.

Route keys follow Alertmanager: ``{}`` for the root, then ``/{matchers}/<index>``
per level, so group keys stay stable while the tree does not change shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from alerts.matchers import Matcher, format_matchers, matches_all

ROOT_KEY = "{}"


@dataclass(frozen=True)
class Timing:
    """When a group's notifications go out (Alertmanager's names and meaning).

    ``group_wait``: delay of a new group's first notification, to collect its
    alerts; ``group_interval``: least time between two notifications of a group
    about changes; ``repeat_interval``: re-send of a group that is still firing
    (and not acknowledged) with no changes.
    """

    group_wait: timedelta = timedelta(0)
    group_interval: timedelta = timedelta(minutes=5)
    repeat_interval: timedelta = timedelta(days=7)


@dataclass(frozen=True)
class Escalation:
    """Also notify ``receiver`` about firing alerts not acknowledged after ``after``."""

    receiver: str
    after: timedelta


@dataclass(frozen=True)
class Route:
    """One node of the routing tree; ``None`` fields inherit from the parent."""

    matchers: tuple[Matcher, ...] = ()
    receivers: tuple[str, ...] | None = None
    group_by: tuple[str, ...] | None = None
    timing: Timing | None = None
    escalation: Escalation | None = None
    continue_: bool = False
    routes: tuple["Route", ...] = ()


@dataclass(frozen=True)
class RouteMatch:
    """A route an alert ended in, with every inherited setting resolved."""

    key: str
    receivers: tuple[str, ...]
    group_by: tuple[str, ...]
    timing: Timing
    escalation: Escalation | None

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        """The alert's values of the route's ``group_by`` labels."""
        return {name: labels.get(name, "") for name in self.group_by}


@dataclass(frozen=True)
class _Resolved:
    key: str
    receivers: tuple[str, ...]
    group_by: tuple[str, ...]
    timing: Timing
    escalation: Escalation | None = field(default=None)


def match_routes(
    root: Route,
    labels: Mapping[str, str],
    chain_receivers: Callable[[str], Sequence[str]],
) -> list[RouteMatch]:
    """Every route ``labels`` end in, in tree order (at least the root).

    ``chain_receivers(chain_id)`` supplies the default receivers of a route that
    names none (the chain's own, see module docstring).
    """
    top = _Resolved(ROOT_KEY, root.receivers or (), root.group_by or ("chain",), root.timing or Timing(),
                    root.escalation)
    found: list[RouteMatch] = []
    _descend(root, top, labels, found)
    out = []
    for match in found:
        receivers = match.receivers or tuple(chain_receivers(labels.get("chain", "")))
        out.append(RouteMatch(match.key, tuple(dict.fromkeys(receivers)), match.group_by, match.timing, match.escalation))
    return out


def _descend(route: Route, here: _Resolved, labels: Mapping[str, str], found: list[RouteMatch]) -> None:
    matched_child = False
    for index, child in enumerate(route.routes):
        if not matches_all(child.matchers, labels):
            continue
        resolved = _Resolved(
            key=f"{here.key}/{format_matchers(child.matchers)}/{index}",
            receivers=child.receivers if child.receivers is not None else here.receivers,
            group_by=child.group_by if child.group_by is not None else here.group_by,
            timing=child.timing or here.timing,
            escalation=child.escalation or here.escalation,
        )
        _descend(child, resolved, labels, found)
        matched_child = True
        if not child.continue_:
            break
    if not matched_child:
        found.append(RouteMatch(here.key, here.receivers, here.group_by, here.timing, here.escalation))
