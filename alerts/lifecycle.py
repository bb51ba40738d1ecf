"""Alert lifecycle: reconcile what fires now with what fired before.

Pure: the previous state and the clock come in as arguments, the new state and the
alerts whose state changed come out. The caller stores ``alerts``; which of them
are notified, and when, is the grouping stage's business (:mod:`alerts.grouping`).

State transitions per identity fingerprint (see :mod:`alerts.fingerprint`), with
``for`` = the candidate's ``for_runs`` and ``hold`` = the rule's keep-firing count::

    absent / resolved --candidate--> pending (active_runs = 1)  or firing if for <= 1
    pending           --candidate--> pending, or firing once active_runs reaches for
    pending           --no candidate-> dropped (it never fired: nothing to resolve)
    firing            --candidate--> firing (starts_at kept; labels/annotations updated)
    firing            --no candidate-> firing while missing_runs <= hold, then resolved
    resolved          --no candidate-> resolved (unchanged, dropped after retention)

``starts_at`` is when the condition was first seen in this episode (Prometheus'
``ActiveAt``): a pending alert that fires keeps it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from alerts.fingerprint import identity_fingerprint
from alerts.model import Alert, AlertCandidate


@dataclass(frozen=True)
class ReconcileResult:
    """The outcome of :func:`reconcile`.

    ``alerts``: the new state of every known alert, by fingerprint (pending ones
    included; dropped ones absent). ``changed``: alerts that started firing,
    changed labels while firing (severity/level), or resolved, in a stable order
    (current candidates in their order, then newly resolved alerts in the order of
    ``previous``).
    """

    alerts: dict[str, Alert]
    changed: tuple[Alert, ...]


def reconcile(
    previous: Mapping[str, Alert],
    candidates: Sequence[AlertCandidate],
    now: datetime,
    *,
    resolved_retention: timedelta | None = None,
    keep_firing_for: Mapping[str, int] | None = None,
) -> ReconcileResult:
    """Compute the new alert state from the previous one and the current candidates.

    ``keep_firing_for`` maps an ``alertname`` to how many consecutive assessments
    a firing alert of that rule stays firing after its condition stopped holding
    (default 0), so a value hovering at a threshold does not fire and resolve in
    turns. New annotation text alone (a score moving within a level) is not a
    change, or receivers would hear every run.

    Raises:
        ValueError: if two candidates share an identity (rules should give one per
            subject), a key of ``previous`` is not its alert's fingerprint, or
            ``now`` is naive.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware (UTC), got naive {now.isoformat()}")
    for key, alert in previous.items():
        if key != alert.fingerprint:
            raise ValueError(f"previous[{key!r}] holds alert {alert.fingerprint!r}; keys must be fingerprints")
    holds = keep_firing_for or {}

    alerts: dict[str, Alert] = {}
    changed: list[Alert] = []

    for candidate in candidates:
        fp = identity_fingerprint(candidate.labels)
        if fp in alerts:
            raise ValueError(f"two candidates share the identity {fp} (labels {candidate.labels!r})")
        before = previous.get(fp)
        if before is not None and before.is_firing:
            alert = Alert(fingerprint=fp, labels=candidate.labels, annotations=candidate.annotations,
                          state="firing", starts_at=before.starts_at, active_runs=before.active_runs + 1)
            if alert.labels != before.labels:
                changed.append(alert)
        else:
            pending = before is not None and before.state == "pending"
            runs = before.active_runs + 1 if pending else 1
            starts_at = before.starts_at if pending else now
            state = "firing" if runs >= candidate.for_runs else "pending"
            alert = Alert(fingerprint=fp, labels=candidate.labels, annotations=candidate.annotations,
                          state=state, starts_at=starts_at, active_runs=runs)
            if state == "firing":
                changed.append(alert)
        alerts[fp] = alert

    for fp, before in previous.items():
        if fp in alerts or before.state == "pending":
            continue  # a pending alert whose condition stopped is forgotten: it never fired
        if before.is_firing:
            missing = before.missing_runs + 1
            if missing <= holds.get(before.labels.get("alertname", ""), 0):
                alerts[fp] = Alert(fingerprint=fp, labels=before.labels, annotations=before.annotations,
                                   state="firing", starts_at=before.starts_at,
                                   active_runs=before.active_runs, missing_runs=missing)
                continue
            resolved = Alert(
                fingerprint=fp, labels=before.labels, annotations=before.annotations,
                state="resolved", starts_at=before.starts_at,
                # A clock stepped backwards must not make the alert unrepresentable.
                ends_at=max(now, before.starts_at), active_runs=before.active_runs,
            )
            alerts[fp] = resolved
            changed.append(resolved)
        elif resolved_retention is None or (before.ends_at is not None and before.ends_at >= now - resolved_retention):
            alerts[fp] = before

    return ReconcileResult(alerts=alerts, changed=tuple(changed))
