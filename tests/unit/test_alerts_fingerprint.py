"""Fingerprints: stable, order-independent, sensitive to every label."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.fingerprint import fingerprint, identity_fingerprint

BASE = {"chain": "lithium", "node": "refining", "kind": "risk_level", "severity": "critical"}

labels_st = st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8), max_size=6)


def test_known_value_matches_the_documented_construction():
    payload = b"".join(
        k.encode() + b"\xff" + BASE[k].encode() + b"\xff" for k in sorted(BASE)
    )
    assert fingerprint(BASE) == hashlib.sha256(payload).hexdigest()[:16]


def test_format_is_16_lowercase_hex():
    fp = fingerprint(BASE)
    assert len(fp) == 16 and int(fp, 16) >= 0 and fp == fp.lower()


@given(labels_st, st.randoms())
def test_stable_under_key_order(labels, rnd):
    items = list(labels.items())
    rnd.shuffle(items)
    assert fingerprint(dict(items)) == fingerprint(labels)


@pytest.mark.parametrize(
    "changed",
    [
        {**BASE, "chain": "rare_earth"},
        {**BASE, "node": ""},
        {**BASE, "severity": "warning"},
        {**BASE, "extra": ""},
        {k: v for k, v in BASE.items() if k != "kind"},
    ],
    ids=["value", "empty-value", "severity", "added-label", "removed-label"],
)
def test_differs_when_a_label_differs(changed):
    assert fingerprint(changed) != fingerprint(BASE)


@pytest.mark.parametrize(
    "a, b",
    [
        ({"a": "b,c"}, {"a,b": "c"}),
        ({"a": "b=c"}, {"a=b": "c"}),
        ({"a": "", "b": ""}, {"a": "b"}),
        ({"ab": ""}, {"a": "b"}),
    ],
)
def test_separators_cannot_be_confused(a, b):
    assert fingerprint(a) != fingerprint(b)


def test_chinese_labels_hash():
    assert fingerprint({"chain": "锂电池"}) != fingerprint({"chain": "稀土"})


def test_non_string_value_is_refused_with_the_label_named():
    with pytest.raises(TypeError, match="'score'"):
        fingerprint({"score": 3})  # type: ignore[dict-item]


def test_identity_ignores_severity_and_alertname_only():
    escalated = {**BASE, "severity": "warning", "alertname": "ChainRed"}
    assert identity_fingerprint(escalated) == identity_fingerprint(BASE)
    assert identity_fingerprint({**BASE, "node": "mining"}) != identity_fingerprint(BASE)
