"""Webhook body: exactly the docs/webhooks.md (Alertmanager v4) shape, and Chinese text intact."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from alerts.model import Alert
from alerts.payload import encode_body, format_label_set, format_rfc3339, group_key, webhook_body

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=timezone.utc)
URL = "https://chainwatch.example.org"

FIRING = Alert(
    fingerprint="0123456789abcdef",
    labels={"alertname": "NodeAtRisk", "chain": "lithium", "node": "refining", "kind": "risk_level", "severity": "critical"},
    annotations={"summary": "Refining concentrated", "summary_zh": "锂精炼高度集中", "level": "red"},
    state="firing",
    starts_at=T0,
)
RESOLVED = Alert(
    fingerprint="fedcba9876543210",
    labels={"alertname": "NodeAtRisk", "chain": "lithium", "node": "cells", "kind": "risk_level", "severity": "warning"},
    annotations={"summary": "Cells recovered", "summary_zh": "电芯恢复", "level": "red"},
    state="resolved",
    starts_at=T0,
    ends_at=T0 + timedelta(days=1, microseconds=250000),
)


def test_shape_equals_design_exactly():
    body = webhook_body([FIRING, RESOLVED], "analysts", {"chain": "lithium"}, URL)
    assert body == {
        "version": "4",
        "status": "firing",
        "receiver": "analysts",
        "groupKey": '{}:{chain="lithium"}',
        "groupLabels": {"chain": "lithium"},
        "commonLabels": {"alertname": "NodeAtRisk", "chain": "lithium", "kind": "risk_level"},
        "commonAnnotations": {"level": "red"},
        "externalURL": URL,
        "alerts": [
            {
                "status": "firing",
                "fingerprint": "0123456789abcdef",
                "labels": FIRING.labels,
                "annotations": FIRING.annotations,
                "startsAt": "2024-05-01T08:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": URL,
            },
            {
                "status": "resolved",
                "fingerprint": "fedcba9876543210",
                "labels": RESOLVED.labels,
                "annotations": RESOLVED.annotations,
                "startsAt": "2024-05-01T08:00:00Z",
                "endsAt": "2024-05-02T08:00:00.25Z",
                "generatorURL": URL,
            },
        ],
    }


@pytest.mark.parametrize(
    "alerts, status",
    [([FIRING], "firing"), ([RESOLVED], "resolved"), ([RESOLVED, FIRING], "firing")],
)
def test_status_is_firing_if_any_alert_fires(alerts, status):
    assert webhook_body(alerts, "r", {}, URL)["status"] == status


def test_single_alert_common_labels_are_all_its_labels():
    body = webhook_body([FIRING], "r", {"chain": "lithium"}, URL)
    assert body["commonLabels"] == FIRING.labels
    assert body["commonAnnotations"] == FIRING.annotations


def test_generator_url_can_be_supplied():
    body = webhook_body([FIRING], "r", {}, URL, generator_url=lambda a: f"{URL}/chains/{a.labels['chain']}")
    assert body["alerts"][0]["generatorURL"] == f"{URL}/chains/lithium"


def test_empty_group_is_refused():
    with pytest.raises(ValueError, match="no alerts"):
        webhook_body([], "r", {}, URL)


@pytest.mark.parametrize(
    "labels, expected",
    [
        ({}, "{}:{}"),
        ({"chain": "lithium"}, '{}:{chain="lithium"}'),
        ({"node": "a", "chain": "b"}, '{}:{chain="b", node="a"}'),
        ({"chain": '锂"电\\池\n'}, '{}:{chain="锂\\"电\\\\池\\n"}'),
    ],
)
def test_group_key_like_alertmanager(labels, expected):
    assert group_key(labels) == expected


def test_label_set_string_sorted():
    assert format_label_set({"b": "2", "a": "1"}) == '{a="1", b="2"}'


def test_encode_is_compact_sorted_utf8_and_chinese_round_trips():
    body = webhook_body([FIRING], "分析师", {"chain": "锂电池"}, URL)
    raw = encode_body(body)
    text = raw.decode("utf-8")
    assert "锂精炼高度集中" in text and "\\u" not in text  # readable, not escaped
    assert raw == json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert json.loads(raw) == body
    assert text.index('"alerts"') < text.index('"commonAnnotations"') < text.index('"version"')


def test_encode_refuses_nan():
    with pytest.raises(ValueError):
        encode_body({"x": float("nan")})


@pytest.mark.parametrize(
    "value, expected",
    [
        (T0, "2024-05-01T08:00:00Z"),
        (T0.replace(microsecond=123000), "2024-05-01T08:00:00.123Z"),
        (datetime(2024, 5, 1, 16, 0, tzinfo=timezone(timedelta(hours=8))), "2024-05-01T08:00:00Z"),
    ],
)
def test_rfc3339(value, expected):
    assert format_rfc3339(value) == expected


def test_rfc3339_refuses_naive():
    with pytest.raises(ValueError, match="naive"):
        format_rfc3339(datetime(2024, 5, 1))


def test_group_key_refuses_a_receiver_name_in_place_of_labels():
    with pytest.raises(TypeError, match="group_labels must be a mapping"):
        group_key("analysts", {"chain": "lithium"})  # type: ignore[arg-type]
