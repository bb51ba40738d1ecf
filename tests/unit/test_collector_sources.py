"""FRED, World Bank, Eurostat, US Census and file collectors against recorded responses."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime

import httpx
import pytest
from pydantic import SecretStr

from monitor.collect.base import CollectionError, CollectionWindow
from monitor.collect.census import CensusCollector
from monitor.collect.eurostat import EurostatCollector
from monitor.collect.files import FileCollector
from monitor.collect.fred import FredCollector
from monitor.collect.http import HttpError, PayloadError
from monitor.collect.worldbank import WorldBankCollector
from monitor.config.models import (
    CensusSource,
    EurostatSource,
    FileSource,
    FredSource,
    WorldBankSource,
)
from tests.collector_fakes import (
    FIXTURES,
    FakeTime,
    Script,
    fixture_json,
    fixture_text,
    html_response,
    json_response,
    options,
)

CLOCK = lambda: datetime(2026, 6, 20, tzinfo=UTC)
KEY = "fred-key-0123456789abcdef"

# -- FRED ------------------------------------------------------------------------------


def fred(handler, key: str | None = KEY, fake: FakeTime | None = None, **kw) -> FredCollector:
    settings = FredSource(id="fred", kind="fred", base_url="https://fred.test", graph_url="https://graph.test",
                          series=[{"id": "IPG3344S", "chain": "semiconductors", "node": "integrated-circuits"}],
                          api_key=SecretStr(key) if key else None, start="2025-10", backoff_seconds=1.0, **kw)
    return FredCollector(settings, None, options(handler, fake), CLOCK)


def test_fred_observations_api():
    script = Script(json_response(fixture_json("fred/observations_IPG3344S.json")))
    batch = fred(script).collect()
    params = script.requests[0].url.params
    assert params["series_id"] == "IPG3344S" and params["api_key"] == KEY and params["file_type"] == "json"
    assert params["observation_start"] == "2025-10-01"
    obs = batch.observations
    assert list(obs["series_id"].unique()) == ["fred.IPG3344S"] and len(obs) == 8
    assert obs.iloc[-1]["value"] == pytest.approx(188.0105)
    assert batch.vintage == "2026-06-16"
    assert batch.series[0].node == "integrated-circuits"


def test_fred_pages_by_offset():
    script = Script(json_response(fixture_json("fred/observations_IPG3344S_page1.json")),
                    json_response(fixture_json("fred/observations_IPG3344S_page2.json")))
    assert len(fred(script).collect().observations) == 8
    assert [r.url.params["offset"] for r in script.requests] == ["0", "4"]


def test_fred_graph_csv_without_key_and_incremental_start():
    script = Script(httpx.Response(200, text=fixture_text("fred/fredgraph_IPG3344S.csv"),
                                   headers={"Content-Type": "text/csv"}))
    window = CollectionWindow(latest={"fred.IPG3344S": date(2026, 3, 1)}, lookback_months=2)
    batch = fred(script, key=None).collect(window)
    assert script.requests[0].url.path == "/graph/fredgraph.csv"
    assert script.requests[0].url.params["cosd"] == "2026-01-01"
    assert len(batch.observations) == 8 and "api_key" not in str(script.requests[0].url)


def test_fred_csv_header_drift_and_missing_values():
    drifted = httpx.Response(200, text="date,value\n2026-01-01,1\n", headers={"Content-Type": "text/csv"})
    with pytest.raises(PayloadError, match="unexpected CSV header"):
        fred(Script(drifted), key=None).collect()
    dotted = httpx.Response(200, text="observation_date,IPG3344S\n2026-01-01,.\n2026-02-01,-3\n2026-03-01,abc\n")
    batch = fred(Script(dotted), key=None).collect()
    assert batch.rejected == {"missing": 1, "negative": 1, "non_numeric": 1} and len(batch.observations) == 0


def test_fred_error_does_not_leak_the_key():
    script = Script(json_response(fixture_json("fred/error_400.json"), 400))
    with pytest.raises(HttpError) as info:
        fred(script).collect()
    assert KEY not in str(info.value) and "api_key=***" in str(info.value)


def test_fred_429_then_success_and_schema_drift():
    fake = FakeTime()
    script = Script(httpx.Response(429, headers={"Retry-After": "5"}),
                    json_response(fixture_json("fred/observations_IPG3344S.json")))
    assert len(fred(script, fake=fake).collect().observations) == 8 and 5.0 in fake.sleeps
    with pytest.raises(PayloadError, match="no 'observations' list"):
        fred(Script(json_response({"seriess": []}))).collect()


# -- World Bank -------------------------------------------------------------------------


def worldbank(handler) -> WorldBankCollector:
    settings = WorldBankSource(id="worldbank", kind="worldbank", base_url="https://wb.test/v2", start="2022-01",
                               indicators=[{"indicator": "NV.IND.MANF.KD", "countries": ["CHN", "USA"],
                                            "unit": "USD 2015"}])
    return WorldBankCollector(settings, None, options(handler), CLOCK)


def test_worldbank_follows_pages():
    script = Script(json_response(fixture_json("worldbank/manf_page1.json")),
                    json_response(fixture_json("worldbank/manf_page2.json")))
    batch = worldbank(script).collect()
    assert script.requests[0].url.path == "/v2/country/CHN;USA/indicator/NV.IND.MANF.KD"
    assert [r.url.params["page"] for r in script.requests] == ["1", "2"]
    assert script.requests[0].url.params["date"] == "2022:2026"
    obs = batch.observations.set_index(["series_id", "period"])["value"]
    assert obs[("wb.NV.IND.MANF.KD.CHN", "2023-01-01")] == 4.38e12
    assert batch.rejected == {"missing": 2} and batch.vintage == "2025-07-01"


def test_worldbank_error_message_and_drift():
    with pytest.raises(CollectionError, match="Invalid value"):
        worldbank(Script(json_response(fixture_json("worldbank/error_invalid_value.json")))).collect()
    with pytest.raises(PayloadError, match=r"expected \[paging, records\]"):
        worldbank(Script(json_response({"page": 1}))).collect()
    page = fixture_json("worldbank/manf_page1.json")
    del page[0]["pages"]
    with pytest.raises(PayloadError, match="lacks 'pages'"):
        worldbank(Script(json_response(page))).collect()


# -- Eurostat ---------------------------------------------------------------------------


def eurostat(handler, fake: FakeTime | None = None) -> EurostatCollector:
    settings = EurostatSource(id="eurostat", kind="eurostat", base_url="https://es.test/data", start="2024-01",
                              datasets=[{"dataset": "sts_inpr_m", "filters": {
                                  "nace_r2": "C26", "s_adj": "SCA", "unit": "I21", "geo": ["DE", "FR"]}}],
                              backoff_seconds=1.0)
    return EurostatCollector(settings, None, options(handler, fake), CLOCK)


def test_eurostat_jsonstat_cube():
    script = Script(json_response(fixture_json("eurostat/sts_inpr_m_c26.json")))
    batch = eurostat(script).collect()
    params = script.requests[0].url.params
    assert params.get_list("geo") == ["DE", "FR"] and params["sinceTimePeriod"] == "2024-01"
    obs = batch.observations.set_index(["series_id", "period"])["value"]
    assert obs[("eurostat.sts_inpr_m.M.PRD.C26.SCA.I21.DE", "2024-03-01")] == 91.8
    assert obs[("eurostat.sts_inpr_m.M.PRD.C26.SCA.I21.FR", "2024-01-01")] == 99.4
    assert len(obs) == 5  # sparse: FR 2024-02 absent
    assert batch.vintage == "2024-05-15T23:00:00+0200"


def test_eurostat_errors_and_drift():
    with pytest.raises(CollectionError, match="No results found"):
        eurostat(Script(json_response(fixture_json("eurostat/error_400.json"), 200))).collect()
    with pytest.raises(HttpError, match="HTTP 400"):
        eurostat(Script(json_response(fixture_json("eurostat/error_400.json"), 400))).collect()
    drifted = fixture_json("eurostat/sts_inpr_m_c26.json")
    drifted["size"][5] = 3
    with pytest.raises(PayloadError, match="has 2 codes but size 3"):
        eurostat(Script(json_response(drifted))).collect()
    with pytest.raises(PayloadError, match="not a JSON-stat"):
        eurostat(Script(json_response({"value": {}}))).collect()
    fake = FakeTime()
    script = Script(httpx.Response(503), json_response(fixture_json("eurostat/sts_inpr_m_c26.json")))
    assert len(eurostat(script, fake).collect().observations) == 5 and fake.sleeps[-1] == 1.0


# -- US Census --------------------------------------------------------------------------


def census(handler, catalog, key: str | None = None, products=("8542",), **kw) -> CensusCollector:
    settings = CensusSource(id="census", kind="census", base_url="https://census.test/intltrade", start="2024-01",
                            products=list(products), api_key=SecretStr(key) if key else None, **kw)
    return CensusCollector(settings, catalog, options(handler), CLOCK)


def test_census_imports_by_country(catalog):
    script = Script(json_response(fixture_json("census/imports_hs_8542.json")))
    batch = census(script, catalog, key="census-secret").collect()
    params = script.requests[0].url.params
    assert script.requests[0].url.path == "/intltrade/imports/hs"
    assert params["I_COMMODITY"] == "8542" and params["COMM_LVL"] == "HS4" and params["time"] == "from 2024-01"
    flows = batch.trade_flows
    assert set(flows["partner"]) == {"WORLD", "TWN", "MYS", "KOR"}  # groupings (EU, NORTH AMERICA) skipped
    assert set(flows["reporter"]) == {"USA"} and set(flows["flow"]) == {"M"}
    row = flows[(flows["partner"] == "TWN") & (flows["period"] == "2024-02-01")].iloc[0]
    assert row["value"] == 2211223344.0


def test_census_quantities_in_kilograms_for_unit_values(catalog):
    script = Script(json_response(fixture_json("census/imports_hs_8105.json")))
    batch = census(script, catalog, products=["8105"]).collect()
    assert script.requests[0].url.params["get"] == "CTY_CODE,CTY_NAME,GEN_VAL_MO,GEN_QY1_MO,UNIT_QY1"
    flows = batch.trade_flows.set_index(["partner", "period"])
    assert flows.loc[("CHN", "2024-01-01"), "quantity"] == 21034.0          # KG as is
    assert flows.loc[("CHN", "2024-02-01"), "quantity"] == 20543.0
    assert flows.loc[("DEU", "2024-01-01"), "quantity"] == 35_000.0         # metric tons -> kg
    assert math.isnan(flows.loc[("CAN", "2024-01-01"), "quantity"])        # 0: not collected
    assert math.isnan(flows.loc[("TWN", "2024-01-01"), "quantity"])        # a count is not a mass
    assert flows.loc[("TWN", "2024-01-01"), "value"] == 123456.0           # ... but the value is kept
    assert batch.rejected == {}
    # unit value (USD/kg) of the imports from China, as indicators/unit_values.py computes it
    assert flows.loc[("CHN", "2024-01-01"), "value"] / flows.loc[("CHN", "2024-01-01"), "quantity"] == \
        pytest.approx(712345 / 21034)
    script = Script(json_response(fixture_json("census/exports_hs_8542.json")))
    exports = census(script, catalog, flows=["X"]).collect()
    assert script.requests[0].url.params["get"] == "CTY_CODE,CTY_NAME,ALL_VAL_MO,QTY_1_MO,UNIT_QY1"
    assert math.isnan(exports.trade_flows["quantity"].iloc[0])             # HS 8542 is counted (NO)


def test_census_exports_no_content_and_drift(catalog):
    script = Script(json_response(fixture_json("census/exports_hs_8542.json")), httpx.Response(204))
    batch = census(script, catalog, flows=["X", "M"]).collect()
    assert list(batch.trade_flows["partner"]) == ["CHN"] and list(batch.trade_flows["flow"]) == ["X"]
    drifted = [["CTY_CODE", "CTY_NAME", "VAL", "GEN_QY1_MO", "UNIT_QY1", "time"],
               ["5700", "CHINA", "1", "1", "KG", "2024-01"]]
    with pytest.raises(PayloadError, match=r"header lacks \['GEN_VAL_MO'\]"):
        census(Script(json_response(drifted)), catalog).collect()
    no_quantity = [["CTY_CODE", "CTY_NAME", "GEN_VAL_MO", "time"], ["5700", "CHINA", "1", "2024-01"]]
    with pytest.raises(PayloadError, match=r"header lacks \['GEN_QY1_MO', 'UNIT_QY1'\]"):
        census(Script(json_response(no_quantity)), catalog).collect()
    with pytest.raises(PayloadError, match="HTML page"):
        census(Script(html_response()), catalog).collect()


# -- files ------------------------------------------------------------------------------


def customs(location: str, **kw) -> FileSource:
    return FileSource(id="customs", kind="file", location=location, table="trade_flows",
                      columns={"partner": "country", "product": "hs", "period": "year", "value": "usd",
                               "quantity": "kg"},
                      constants={"reporter": "CHN", "flow": "M"}, country_codes="name", **kw)


def test_file_csv_with_mapping_and_rejections():
    batch = FileCollector(customs(str(FIXTURES / "files/china_customs_imports.csv"))).collect()
    flows = batch.trade_flows
    assert len(flows) == 3 and set(flows["partner"]) == {"USA"}
    row = flows[(flows["product"] == "253090") & (flows["period"] == "2023-01-01")].iloc[0]  # annual: January
    assert (row["value"], row["quantity"]) == (293206952.0, 68462941.0)
    assert batch.rejected == {"unknown_country": 1, "unknown_product": 1, "non_numeric": 1}
    assert batch.vintage.startswith("sha256:")


def test_file_over_http_and_errors(tmp_path):
    text = fixture_text("files/china_customs_imports.csv")
    script = Script(httpx.Response(200, text=text, headers={"Content-Type": "text/csv"}))
    c = FileCollector(customs("https://files.test/imports.csv?token=abc"), None, options(script))
    assert len(c.collect().trade_flows) == 3
    with pytest.raises(CollectionError, match="cannot read"):
        FileCollector(customs(str(tmp_path / "absent.csv"))).collect()
    bad = tmp_path / "renamed.csv"
    bad.write_text(text.replace("usd", "value_usd"))
    with pytest.raises(PayloadError, match=r"column\(s\) \['usd'\] not in the file"):
        FileCollector(customs(str(bad))).collect()
    script = Script(html_response(200))
    with pytest.raises(PayloadError, match="HTML page") as info:
        FileCollector(customs("https://files.test/x.csv?token=abc"), None, options(script)).collect()
    assert "token=abc" not in str(info.value)


def test_file_json_observations(tmp_path):
    path = tmp_path / "usgs.json"
    # primary gallium production 2022, kg: USGS MCS 2024 (shared/data/usgs_minerals/mcs2024_world)
    path.write_text(json.dumps({"data": {"rows": [
        {"series": "usgs.gallium.chn", "year": "2022", "kg": 600000},
        {"series": "usgs.gallium.world", "year": "2022", "kg": 610000}]}}))
    settings = FileSource(id="usgs", kind="file", location=str(path), format="json", table="observations",
                          records_path="data.rows", columns={"series_id": "series", "period": "year", "value": "kg"},
                          unit="kg")
    batch = FileCollector(settings).collect()
    assert list(batch.observations["value"]) == [600000.0, 610000.0] and batch.series[0].unit == "kg"
    with pytest.raises(ValueError, match="no column or constant"):
        FileCollector(settings.model_copy(update={"columns": {"period": "year", "value": "kg"}}))


@pytest.mark.parametrize("text, expect", [
    # a lone CR is a line end (as the csv module reads files), not "new-line character seen in unquoted field"
    ("country,hs,year,usd,kg\r\nUnited States,8105,2023,10,1\rUnited States,8105,2024,12,1\n", 2),
    # a field beyond the csv module's limit: one line naming the file and line, no traceback
    ("country,hs,year,usd,kg\nUnited States,8105,2023,10,1\n" + "x" * 200_000 + ",8105,2024,12,1\n", "line 3"),
], ids=["lone-cr", "huge-field"])
def test_file_csv_odd_line_ends_and_bytes(tmp_path, text, expect):
    path = tmp_path / "imports.csv"
    path.write_bytes(text.encode("utf-8"))
    collector = FileCollector(customs(str(path)))
    if isinstance(expect, int):
        assert len(collector.collect().trade_flows) == expect
    else:
        with pytest.raises(PayloadError, match=f"imports.csv.*not a readable CSV at {expect}"):
            collector.collect()
