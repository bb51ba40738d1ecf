"""Alert lifecycle: firing, resolved, re-notification rules, with an injected clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from alerts.fingerprint import identity_fingerprint
from alerts.lifecycle import reconcile
from alerts.model import Alert, AlertCandidate

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=timezone.utc)
T1 = T0 + timedelta(days=1)
T2 = T0 + timedelta(days=2)


def cand(chain="lithium", node="", severity="critical", score="72.0") -> AlertCandidate:
    return AlertCandidate(
        labels={"alertname": "ChainAtRisk", "chain": chain, "node": node, "kind": "risk_level", "severity": severity},
        annotations={"summary": f"{chain} at risk", "score": score},
    )


def state(*alerts: Alert) -> dict[str, Alert]:
    return {a.fingerprint: a for a in alerts}


def run(previous, candidates, now):
    return reconcile(previous, candidates, now)


def test_new_candidate_fires_now():
    result = run({}, [cand()], T0)
    (alert,) = result.alerts.values()
    assert alert.state == "firing" and alert.starts_at == T0 and alert.ends_at is None
    assert alert.fingerprint == identity_fingerprint(cand().labels)
    assert result.changed == (alert,)


def test_still_firing_keeps_starts_at_and_updates_annotations_without_notifying():
    first = run({}, [cand(score="72.0")], T0)
    second = run(first.alerts, [cand(score="75.5")], T1)
    (alert,) = second.alerts.values()
    assert alert.starts_at == T0
    assert alert.annotations["score"] == "75.5"
    assert second.changed == ()


def test_severity_change_notifies_and_keeps_starts_at():
    first = run({}, [cand(severity="warning")], T0)
    second = run(first.alerts, [cand(severity="critical")], T1)
    (alert,) = second.alerts.values()
    assert alert.fingerprint in first.alerts  # same alert, escalated
    assert alert.severity == "critical" and alert.starts_at == T0
    assert second.changed == (alert,)


def test_gone_becomes_resolved_once_and_is_not_renotified():
    first = run({}, [cand()], T0)
    second = run(first.alerts, [], T1)
    (resolved,) = second.alerts.values()
    assert resolved.state == "resolved" and resolved.starts_at == T0 and resolved.ends_at == T1
    assert second.changed == (resolved,)

    third = run(second.alerts, [], T2)
    assert third.changed == ()
    assert third.alerts == second.alerts  # kept, unchanged, for storage to prune


def test_refiring_after_resolution_is_a_new_episode():
    resolved = run(run({}, [cand()], T0).alerts, [], T1).alerts
    again = run(resolved, [cand()], T2)
    (alert,) = again.alerts.values()
    assert alert.state == "firing" and alert.starts_at == T2
    assert again.changed == (alert,)


@pytest.mark.parametrize(
    "previous_candidates, current_candidates, expected_changed",
    [
        # (chain, severity) lists; expected: (chain, state) of changed alerts, in order
        ([], [], []),
        ([("a", "critical")], [("a", "critical")], []),
        ([("a", "critical")], [("a", "critical"), ("b", "warning")], [("b", "firing")]),
        ([("a", "critical"), ("b", "warning")], [("b", "critical")], [("b", "firing"), ("a", "resolved")]),
        ([("a", "critical"), ("b", "warning")], [], [("a", "resolved"), ("b", "resolved")]),
    ],
)
def test_changed_table(previous_candidates, current_candidates, expected_changed):
    previous = run({}, [cand(chain=c, severity=s) for c, s in previous_candidates], T0).alerts
    result = run(previous, [cand(chain=c, severity=s) for c, s in current_candidates], T1)
    assert [(a.labels["chain"], a.state) for a in result.changed] == expected_changed


def test_resolved_retention_drops_old_resolved_alerts():
    resolved = run(run({}, [cand()], T0).alerts, [], T1).alerts
    assert reconcile(resolved, [], T2, resolved_retention=timedelta(days=2)).alerts == resolved
    assert reconcile(resolved, [], T2, resolved_retention=timedelta(hours=1)).alerts == {}


def test_naive_now_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        reconcile({}, [cand()], datetime(2024, 5, 1))


def test_duplicate_candidates_are_refused():
    with pytest.raises(ValueError, match="share the identity"):
        reconcile({}, [cand(severity="warning"), cand(severity="critical")], T0)


def test_previous_must_be_keyed_by_fingerprint():
    (alert,) = run({}, [cand()], T0).alerts.values()
    with pytest.raises(ValueError, match="keys must be fingerprints"):
        reconcile({"wrong": alert}, [], T1)


def test_inputs_are_not_mutated():
    previous = run({}, [cand()], T0).alerts
    snapshot = dict(previous)
    reconcile(previous, [], T1)
    assert previous == snapshot


def test_times_are_normalised_to_utc():
    beijing = timezone(timedelta(hours=8))
    (alert,) = reconcile({}, [cand()], T0.astimezone(beijing)).alerts.values()
    assert alert.starts_at == T0 and alert.starts_at.tzinfo == timezone.utc
