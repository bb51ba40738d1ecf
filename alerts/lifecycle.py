"""Alert lifecycle: reconcile what fires now with what fired before.

Pure: the previous state and the clock come in as arguments, the new state and the
alerts worth a notification come out. The caller stores ``alerts`` and queues
notifications for ``changed``.

State transitions per identity fingerprint (see :mod:`alerts.fingerprint`)::

    absent / resolved  --candidate-->   firing (starts_at = now)       notify
    firing             --candidate-->   firing (starts_at kept,        notify only if
                                        labels/annotations updated)    labels changed
    firing             --no candidate-> resolved (ends_at = now)       notify
    resolved           --no candidate-> resolved (unchanged)           no notification
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

    ``alerts``: the new state of every known alert, by fingerprint.
    ``changed``: the alerts that need a notification, in a stable order (current
    candidates in their order, then newly resolved alerts in the order of
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
) -> ReconcileResult:
    """Compute the new alert state from the previous one and the current candidates.

    - A candidate with no firing alert becomes a new firing alert with
      ``starts_at = now`` (also when an earlier episode of it was resolved: that is a
      new episode). It is *changed*.
    - A candidate whose alert is still firing keeps ``starts_at`` and takes the new
      labels and annotations. It is *changed* only if its labels changed, which,
      because the identity excludes them, means its ``severity`` (or the winning
      rule's ``alertname``) changed. New annotation text alone (a score moving
      within a level) does not notify, or receivers would hear every run.
    - A firing alert with no candidate becomes resolved with ``ends_at = now``; it is
      *changed*.
    - An alert already resolved and still absent stays as it is and is not changed;
      with ``resolved_retention`` it is dropped from ``alerts`` once
      ``ends_at < now - resolved_retention``.

    Raises:
        ValueError: if two candidates share an identity (rules should give one per
            subject), or a key of ``previous`` is not its alert's fingerprint.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware (UTC), got naive {now.isoformat()}")
    for key, alert in previous.items():
        if key != alert.fingerprint:
            raise ValueError(f"previous[{key!r}] holds alert {alert.fingerprint!r}; keys must be fingerprints")

    alerts: dict[str, Alert] = {}
    changed: list[Alert] = []

    for candidate in candidates:
        fp = identity_fingerprint(candidate.labels)
        if fp in alerts:
            raise ValueError(f"two candidates share the identity {fp} (labels {candidate.labels!r})")
        before = previous.get(fp)
        if before is not None and before.is_firing:
            alert = Alert(
                fingerprint=fp,
                labels=candidate.labels,
                annotations=candidate.annotations,
                state="firing",
                starts_at=before.starts_at,
            )
            if alert.labels != before.labels:
                changed.append(alert)
        else:
            alert = Alert(
                fingerprint=fp,
                labels=candidate.labels,
                annotations=candidate.annotations,
                state="firing",
                starts_at=now,
            )
            changed.append(alert)
        alerts[fp] = alert

    for fp, before in previous.items():
        if fp in alerts:
            continue
        if before.is_firing:
            resolved = Alert(
                fingerprint=fp,
                labels=before.labels,
                annotations=before.annotations,
                state="resolved",
                starts_at=before.starts_at,
                # A clock stepped backwards must not make the alert unrepresentable.
                ends_at=max(now, before.starts_at),
            )
            alerts[fp] = resolved
            changed.append(resolved)
        elif resolved_retention is None or (before.ends_at is not None and before.ends_at >= now - resolved_retention):
            alerts[fp] = before

    return ReconcileResult(alerts=alerts, changed=tuple(changed))
