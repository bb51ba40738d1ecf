"""Source config: the live profile, keys from the environment only, errors without secrets."""

from __future__ import annotations

import shutil

import pytest

from monitor.collect.collection import build_collectors
from monitor.config.loader import ConfigError, load_config
from tests.conftest import CONFIG_DIR


def test_default_profile_stays_offline_demo():
    assert [s.kind for s in load_config(CONFIG_DIR, environ={}).sources.sources] == ["demo"]


def test_live_profile_loads_and_builds_every_collector():
    config = load_config(CONFIG_DIR / "live", environ={})
    kinds = [s.kind for s in config.sources.sources]
    assert kinds == ["comtrade", "fred", "worldbank", "eurostat", "census", "file", "federal_register"]
    collectors = build_collectors(config)
    try:
        comtrade = collectors[0]
        assert comtrade.keyed is False and comtrade.url.endswith("/public/v1/preview/C/M/HS")
    finally:
        for c in collectors:
            c.close()


def test_live_catalog_names_only_production_series_the_live_sources_collect():
    config = load_config(CONFIG_DIR / "live", environ={})
    collected: set[str] = set()
    for source in config.sources.sources:
        if source.kind == "fred":
            collected |= {m.series_id or f"{source.id}.{m.id}" for m in source.series}
        elif source.kind == "eurostat":
            for spec in source.datasets:  # filters are listed in the dataset's dimension order
                combos = [[]]
                for codes in spec.filters.values():
                    combos = [c + [code] for c in combos for code in ([codes] if isinstance(codes, str) else codes)]
                collected |= {f"eurostat.{spec.dataset}.M." + ".".join(c) for c in combos}
    named = {s for chain in config.catalog.chains for node in chain.nodes for s in node.production_series}
    assert named and not any(s.startswith("demo.") for s in named)
    assert named <= collected, sorted(named - collected)
    assert config.sources.sources[0].mirror.cif_fob_factor == 1.06
    assert config.sources.sources[0].mirror.partners == []  # every reporting partner


def test_api_key_comes_from_the_named_variable_and_never_prints():
    secret = "live-key-do-not-print-42"
    config = load_config(CONFIG_DIR / "live", environ={"COMTRADE_API_KEY": secret})
    source = config.sources.sources[0]
    assert source.api_key.get_secret_value() == secret
    assert secret not in repr(config) and secret not in str(source.model_dump())
    collectors = build_collectors(config)
    try:
        assert collectors[0].keyed and collectors[0].url.endswith("/data/v1/get/C/M/HS")
    finally:
        for c in collectors:
            c.close()


def test_source_config_errors_name_the_field(tmp_path):
    target = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, target, ignore=shutil.ignore_patterns("grafana", "prometheus", "live"))
    (target / "sources.yaml").write_text(
        "sources:\n  - {id: ct, kind: comtrade, base_url: 'ftp://x', frequency: Q, api_key_env: 'bad name'}\n")
    with pytest.raises(ConfigError) as info:
        load_config(target, environ={})
    text = str(info.value)
    assert "sources[0].base_url" in text and "sources[0].frequency" in text and "sources[0].api_key_env" in text
