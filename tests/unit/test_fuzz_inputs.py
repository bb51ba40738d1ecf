"""Fuzzing (hypothesis) of everything that reads outside input: only clear domain errors, never a
traceback or a hang.

* the config loader: random YAML, the shipped files with a value replaced at a
  random place (wrong types, huge numbers, unicode), and ``${VAR}`` edge cases;
* each collector's payload parser, fed mutated recorded responses and random bodies;
* the CSV inputs of ``detect`` and ``concentration`` and the scenario file of
  ``stress``, through the CLI: exit 0/1/2 and no traceback;
* the receivers' templates: any labels and annotations render to a body that is
  valid JSON and within the platform's size limit.

Example counts are modest (CI); every example has a deadline, so a hang fails.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.alertmanager_api import render as render_alertmanager
from alerts.fingerprint import identity_fingerprint
from alerts.integrations import RenderContext
from alerts.model import Alert
from alerts.receivers import INTEGRATIONS
from monitor.cli.main import main
from monitor.collect.base import CollectionError
from monitor.records import CollectedBatch
from monitor.collect.files import FileCollector
from monitor.config.loader import ConfigError, load_config
from tests.collector_fakes import fixture_json
from tests.conftest import CONFIG_DIR, examples

FUZZ = settings(max_examples=examples(20), deadline=timedelta(seconds=20), derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])
# Properties whose every example is a whole command or config load, and whose input space is
# small or covered elsewhere too: half the examples (the deep profile still runs 100).
SLOW_FUZZ = settings(FUZZ, max_examples=examples(10))
CONFIG_FILES = ("chains.yaml", "sources.yaml", "settings.yaml", "alerts.yaml")

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
    st.sampled_from(["", "${X}", "${UNSET}", "${X:-}", "${:-a}", "$${X}", "${X", "${X:-${Y}}", "2h", "-1s",
                     "0 3 * * *", "99999-99", "2026-13", "🚀链", "\x00", "1e400", "NaN", "yes", "null"]),
)
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=12)


def _mutate(document, data: st.DataObject, depth: int = 0):
    """``document`` with one node (chosen by hypothesis) replaced, deleted or kept and recursed into."""
    if depth < 6 and isinstance(document, dict) and document and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(sorted(document, key=str)))
        if data.draw(st.integers(0, 4)) == 0:
            return {k: v for k, v in document.items() if k != key}
        return {**document, key: _mutate(document[key], data, depth + 1)}
    if depth < 6 and isinstance(document, list) and document and data.draw(st.booleans()):
        index = data.draw(st.integers(0, len(document) - 1))
        return document[:index] + [_mutate(document[index], data, depth + 1)] + document[index + 1:]
    return data.draw(json_values)


def _is_domain_error(err: Exception) -> bool:
    return isinstance(err, ConfigError) and all(isinstance(p, str) and p for p in err.problems)


# --- config loader -----------------------------------------------------------------


def _load_with(replacements: dict[str, str], environ: dict[str, str]):
    with tempfile.TemporaryDirectory() as directory:
        target = Path(directory) / "config"
        shutil.copytree(CONFIG_DIR, target, ignore=shutil.ignore_patterns("grafana", "prometheus"))
        for name, content in replacements.items():
            (target / name).write_text(content, encoding="utf-8", errors="surrogatepass")
        return load_config(target, environ=environ)


def _loads_or_domain_error(replacements: dict[str, str], environ: dict[str, str]) -> None:
    try:
        _load_with(replacements, environ)
    except ConfigError as err:
        assert _is_domain_error(err), err.problems
        assert all(p.split(":", 1)[0].endswith((".yaml", ".yml")) or "config" in p for p in err.problems), \
            err.problems  # each problem names its file


@FUZZ
@given(name=st.sampled_from(CONFIG_FILES), text=st.one_of(
    st.text(max_size=300), st.builds(lambda v: yaml.safe_dump(v, allow_unicode=True), json_values)))
def test_config_loader_random_yaml(name, text):
    _loads_or_domain_error({name: text}, {})


@FUZZ
@given(name=st.sampled_from(CONFIG_FILES), data=st.data())
def test_config_loader_shipped_files_with_one_value_replaced(name, data):
    document = yaml.safe_load((CONFIG_DIR / name).read_text(encoding="utf-8"))
    mutated = _mutate(document, data)
    _loads_or_domain_error({name: yaml.safe_dump(mutated, allow_unicode=True)}, {})


@SLOW_FUZZ  # eight templates, and env values are text: ten examples cover it (deep: 100)
@given(template=st.sampled_from(["${V}", "${V:-fallback}", "x${V}y", "${V}${W}", "${V:-}", "${W:-${V}}",
                                 "http://${V}/hook", "${V:-http://a/b}"]),
       value=st.one_of(st.text(max_size=60), st.sampled_from(["", "${W}", "a: b\nc: [d", "http://h/p?key=1",
                                                             "\n", "'", '"', "{x: 1}", "🚀"])),
       other=st.text(max_size=10))
def test_config_loader_env_interpolation_edges(template, value, other):
    """An environment value is text: it can never change the YAML structure or expand again."""
    settings_doc = yaml.safe_load((CONFIG_DIR / "settings.yaml").read_text(encoding="utf-8"))
    settings_doc["external_url"] = template
    try:
        config = _load_with({"settings.yaml": yaml.safe_dump(settings_doc, allow_unicode=True)},
                            {"V": value, "W": other})
    except ConfigError as err:
        assert _is_domain_error(err)
        return
    shown = config.settings.external_url
    assert isinstance(shown, str)
    if value and "${" not in template.replace("${V}", ""):
        assert value in shown  # substituted verbatim, once


# --- collector payloads ------------------------------------------------------------

CLOCK = lambda: datetime(2026, 6, 20, tzinfo=UTC)  # noqa: E731


def _collectors():
    """(name, recorded fixture, factory(handler) -> collector) for each network collector."""
    from tests.integration import test_collector_comext as comext
    from tests.unit import test_collector_comtrade as comtrade
    from tests.unit import test_collector_sources as sources

    catalog = load_config(CONFIG_DIR, environ={}).catalog
    return {
        "comtrade": ("comtrade/preview_annual_usa_8105_2846.json",
                     lambda handler: comtrade.collector(handler, catalog, products=["8105"])),
        "fred": ("fred/observations_IPG3344S.json", lambda handler: sources.fred(handler)),
        "worldbank": ("worldbank/manf_page1.json", lambda handler: sources.worldbank(handler)),
        "eurostat": ("eurostat/sts_inpr_m_c26.json", lambda handler: sources.eurostat(handler)),
        "census": ("census/imports_hs_8542.json", lambda handler: sources.census(handler, catalog)),
        "comext": ("comext/ds-045409_de_2846_8105.json", lambda handler: comext.collector(handler, catalog)),
    }


COLLECTORS = _collectors()


def _collect(collector):
    try:
        batch = collector.collect()
    except CollectionError as err:
        assert str(err)
        return None
    finally:
        close = getattr(collector, "close", None)
        if close is not None:
            close()
    assert isinstance(batch, CollectedBatch)
    return batch


@pytest.mark.parametrize("kind", sorted(COLLECTORS))
@FUZZ
@given(data=st.data())
def test_collector_parsers_take_mutated_responses(kind, data):
    fixture, factory = COLLECTORS[kind]
    document = _mutate(fixture_json(fixture), data)
    body = json.dumps(document, allow_nan=True)
    status = data.draw(st.sampled_from([200, 200, 200, 400, 404, 500]))
    _collect(factory(lambda request: httpx.Response(status, text=body,
                                                    headers={"Content-Type": "application/json"})))


@pytest.mark.parametrize("kind", sorted(COLLECTORS))
@FUZZ
@given(body=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)),
       content_type=st.sampled_from(["application/json", "text/html", "text/csv", "application/octet-stream", ""]))
def test_collector_parsers_take_random_bodies(kind, body, content_type):
    _collect(COLLECTORS[kind][1](lambda request: httpx.Response(200, content=body,
                                                                headers={"Content-Type": content_type})))


@FUZZ
@given(text=st.one_of(st.text(max_size=300), st.lists(st.lists(st.one_of(
    st.text(max_size=8), st.integers(-5, 10**12).map(str), st.sampled_from(["", "NaN", "inf", "-1", "1e309"])),
    min_size=5, max_size=5), max_size=8).map(
    lambda rows: "country,hs,year,usd,kg\n" + "\n".join(",".join(r) for r in rows))))
def test_file_collector_takes_random_csv(text):
    from tests.unit.test_collector_sources import customs

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "imports.csv"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        _collect(FileCollector(customs(str(path))))


# --- CLI inputs ----------------------------------------------------------------------

cells = st.one_of(st.text(max_size=8), st.integers(-10, 10**9).map(str),
                  st.sampled_from(["", "NaN", "inf", "-1", "2024-01", "2024-13", "2024", "1e309", "CHN", "WORLD"]))


def _csv(header: str, width: int):
    return st.lists(st.lists(cells, min_size=width, max_size=width), max_size=30).map(
        lambda rows: header + "\n" + "\n".join(",".join(c.replace(",", " ").replace("\n", " ") for c in r)
                                               for r in rows))


def _run_cli(argv: list[str], capsys) -> int:
    code = main(argv)
    captured = capsys.readouterr()
    assert code in (0, 1, 2), code
    assert "Traceback" not in captured.err and "Traceback" not in captured.out
    if code == 2:
        assert captured.err.strip()  # a refusal says why
    return code


@FUZZ
@given(text=st.one_of(st.text(max_size=200), _csv("series_id,period,value", 3), _csv("period,value", 2)))
def test_detect_takes_any_csv(text, capsys):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "series.csv"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        _run_cli(["detect", "--input", str(path), "--format", "json"], capsys)


@FUZZ
@given(text=st.one_of(st.text(max_size=200), _csv("reporter,partner,product,period,value", 5),
                      _csv("reporter,partner,product,period", 4)))
def test_concentration_takes_any_csv(text, capsys):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "flows.csv"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        _run_cli(["concentration", "--input", str(path), "--format", "json"], capsys)


@SLOW_FUZZ  # a whole `stress` command per example; scenario validation is also unit-tested (test_stress_scenarios.py)
@given(data=st.data())
def test_stress_takes_any_scenario_file(data, capsys, tmp_path):
    document = yaml.safe_load((CONFIG_DIR / "scenarios" / "embargo-cobalt-cod.yaml").read_text(encoding="utf-8"))
    mutated = data.draw(st.one_of(st.just(None), st.text(max_size=100))) if data.draw(st.integers(0, 5)) == 0 \
        else yaml.safe_dump(_mutate(document, data), allow_unicode=True)
    path = tmp_path / "scenario.yaml"
    path.write_text(mutated or "", encoding="utf-8", errors="surrogatepass")
    _run_cli(["stress", "--scenario", str(path), "--config", str(CONFIG_DIR),
              "--db", f"sqlite:///{tmp_path / 'stress.db'}"], capsys)


# --- receiver templates --------------------------------------------------------------

label_text = st.text(max_size=300)
alerts_strategy = st.lists(st.builds(
    lambda chain, node, extra, annotations, state: {"labels": {"chain": chain, "node": node, "kind": "risk_level", "severity": "critical",
                                                               "level": "red", **extra},
                                                    "annotations": annotations, "state": state},
    st.text(min_size=1, max_size=40), st.text(max_size=40),
    st.dictionaries(st.from_regex(r"[a-z_]{1,12}", fullmatch=True), label_text, max_size=4),
    st.dictionaries(st.sampled_from(["summary", "summary_zh", "drivers", "drivers_zh", "threshold", "data_period",
                                     "report_url", "description"]), st.text(max_size=3000), max_size=6),
    st.sampled_from(["firing", "resolved"])), min_size=1, max_size=25)


@pytest.mark.parametrize("kind", sorted(INTEGRATIONS))
@FUZZ
@given(raw=alerts_strategy, language=st.sampled_from(["en", "zh"]))
def test_receiver_templates_render_any_alerts_within_limits(kind, raw, language):
    now = datetime(2026, 1, 15, 4, 0, tzinfo=UTC)
    alerts = [Alert(fingerprint=identity_fingerprint(a["labels"]), labels=a["labels"], annotations=a["annotations"],
                    state=a["state"], starts_at=now - timedelta(hours=1),
                    ends_at=now if a["state"] == "resolved" else None) for a in raw]
    integration = INTEGRATIONS[kind]
    ctx = RenderContext(alerts=alerts, receiver="r", group_labels={"chain": alerts[0].labels["chain"]},
                        route_key="{}", external_url="http://localhost:9464", report_url="http://localhost:9464",
                        language=language, max_bytes=integration.max_bytes or 0, now=now)
    body = render_alertmanager(ctx, timedelta(hours=1)) if kind == "alertmanager" else integration.render(ctx)
    encoded = json.dumps(body, ensure_ascii=False).encode("utf-8")
    json.loads(encoded)
    if integration.max_bytes:
        assert len(encoded) <= integration.max_bytes, (kind, len(encoded))
    prepared = integration.prepare(encoded, "https://hooks.example/abc", "s3cret", now)
    assert prepared.body and "s3cret" not in prepared.body.decode("utf-8", "replace")
