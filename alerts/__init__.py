"""Alerts: from risk levels to signed webhook notifications.

The package is a one-way pipeline, one module per stage, modelled on Prometheus
Alertmanager. It knows nothing about collectors, storage or statistics: it receives
plain data (risk subjects) and returns plain data (alerts, notifications, outcomes).

::

    rules.evaluate_level_rules   RiskSubject  -> AlertCandidate
    lifecycle.reconcile          AlertCandidate + previous Alert state -> Alert state,
                                 and the alerts that need a notification
    payload.webhook_body         Alert group -> Alertmanager-style webhook JSON
    signing.sign                 raw body -> X-Chainwatch-Signature headers
    delivery.build_notification  everything above -> Notification (for the outbox)
    delivery.WebhookNotifier     Notification -> DeliveryOutcome (ok / retryable)

Helpers: ``model`` (the frozen dataclasses passed between stages) and
``fingerprint`` (stable label-set hashes).
"""
