"""Words for people (#23 item 7): Chinese messages use Chinese names, English ones English; ids only in labels."""

from __future__ import annotations

import json
import random

import httpx

from monitor.config.countries import COUNTRY_NAMES_ZH, country_name_en, country_name_zh
from monitor.config.loader import load_config
from monitor.config.models import AlertsFile
from monitor.notify.alerting import AlertPipeline
from monitor.store.tables import OutboxMessage
from tests.conftest import CONFIG_DIR
from tests.e2e.test_alertmanager_semantics import _result


def test_country_names():
    assert country_name_zh("CHL") == "智利" and country_name_zh("cod") == "刚果（金）"
    assert country_name_en("CHL") == "Chile"
    assert country_name_zh("XXX") == "XXX"
    assert len(COUNTRY_NAMES_ZH) >= 70


def _bodies(sessions, clock, language):
    base = load_config(CONFIG_DIR, environ={})
    config = base.model_copy(update={"alerts": AlertsFile.model_validate({
        "receivers": [{"name": "default-webhook", "kind": "wecom", "url": "http://127.0.0.1:9/x",
                       "language": language}],
        "default_receivers": ["default-webhook"],
        "rules": [{"name": "chain-orange", "scope": "chain", "min_level": "orange"},
                  {"name": "node-orange", "scope": "node", "min_level": "orange"}]})})
    with httpx.Client() as client:
        AlertPipeline(config, sessions, client, clock, rng=random.Random(1)).evaluate(
            _result(1, "orange", 75.0, "red", 88.0))
    with sessions() as session:
        return [json.loads(m.body)["markdown"]["content"] for m in session.query(OutboxMessage)]


def test_chinese_message_has_names_not_ids(sessions, clock):
    (text,) = _bodies(sessions, clock, "zh")
    assert "产业链 电池" in text and "环节 电芯与电池包" in text
    assert "橙色 ≥" in text and "红色 ≥" in text
    for identifier in ("batteries", "cells-packs", "orange ≥", "red ≥"):
        assert identifier not in text.split("](")[0], (identifier, text)


def test_english_message_has_english_names(sessions, clock):
    (text,) = _bodies(sessions, clock, "en")
    assert "Chain Batteries" in text and "node Cells and packs" in text and "orange ≥" in text
    assert "电池" not in text
