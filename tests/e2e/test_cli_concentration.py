"""``chainwatch concentration`` run as a subprocess: output contract and bad input."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.shared_data import read_usgs_world

CHAINWATCH = Path(sys.executable).with_name("chainwatch")
CONTRACT = ["reporter", "product", "period", "total", "n_partners", "hhi", "hhi_points", "cr1", "cr3",
            "top_partner", "top_share", "effective_n"]

pytestmark = pytest.mark.skipif(not CHAINWATCH.exists(), reason=f"console script not installed at {CHAINWATCH}")


def run(tmp_path: Path, text: str, *args: str) -> subprocess.CompletedProcess:
    path = tmp_path / "flows.csv"
    path.write_text(text, encoding="utf-8")
    return subprocess.run([str(CHAINWATCH), "concentration", "--input", str(path), *args],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False)


GOOD = """reporter,partner,product,period,value
USA,CHN,2846,2022,60
USA,AUS,2846,2022,40
USA,CHN,2846,2023,80
USA,NA,2846,2023,20
USA,WORLD,2846,2023,999
USA,CHN,8105,2023,0
WORLD,COD,cobalt,2023,90
WORLD,Other countries,cobalt,2023,10
"""


def test_json_output_contract_and_values(tmp_path):
    result = run(tmp_path, GOOD)
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    assert all(list(r)[: len(CONTRACT)] == CONTRACT for r in records)
    by_key = {(r["reporter"], r["product"], r["period"]): r for r in records}
    assert sorted(by_key) == [("USA", "2846", "2022"), ("USA", "2846", "2023"), ("USA", "8105", "2023"),
                              ("WORLD", "cobalt", "2023")]
    r = by_key[("USA", "2846", "2022")]  # no WORLD row: the partners are the total
    assert r["total"] == 100 and r["partner_coverage"] == 1.0 and r["residual_share"] == 0.0
    assert r["hhi"] == pytest.approx(0.52) and r["top_share_upper"] == pytest.approx(0.6)
    r = by_key[("USA", "2846", "2023")]
    # CHN 80, NA (Namibia, not a missing value) 20 of a WORLD total of 999: the WORLD row is the
    # denominator and the 899 no partner accounts for is unallocated, so shares come with bounds
    assert r["total"] == 999 and r["n_partners"] == 2 and r["top_partner"] == "CHN"
    assert r["top_share"] == pytest.approx(80 / 999) and r["residual_share"] == pytest.approx(899 / 999)
    assert r["partner_coverage"] == pytest.approx(100 / 999)
    assert r["top_share_upper"] == pytest.approx((80 + 899) / 999)
    hhi = (80 / 999) ** 2 + (20 / 999) ** 2
    assert r["hhi"] == pytest.approx(hhi) and r["hhi_points"] == pytest.approx(hhi * 10_000)
    assert r["hhi_upper"] == pytest.approx(hhi + 2 * (80 / 999) * (899 / 999) + (899 / 999) ** 2)
    assert r["cr3"] == pytest.approx(100 / 999)
    assert r["effective_n"] == pytest.approx(1 / hhi, rel=1e-9)
    assert r["hhi_change_prev"] == pytest.approx(hhi - 0.52) and r["top_share_change_yoy"] == pytest.approx(80 / 999 - 0.6)
    assert r["status"] == "ok"
    zero = by_key[("USA", "8105", "2023")]  # a zero total is reported as such, nothing divided by zero
    assert zero["status"] == "zero_total" and zero["total"] == 0 and zero["n_partners"] == 0
    assert zero["hhi"] is None and zero["top_partner"] is None and zero["effective_n"] is None
    cobalt = by_key[("WORLD", "cobalt", "2023")]  # "Other countries" counts in the total, not as a producer
    assert cobalt["top_share"] == pytest.approx(0.9) and cobalt["hhi"] == pytest.approx(0.81)
    assert cobalt["residual_share"] == pytest.approx(0.1)


def test_csv_output_has_the_contract_columns_first(tmp_path):
    result = run(tmp_path, GOOD, "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0][: len(CONTRACT)] == CONTRACT
    assert len(rows) == 5
    zero = dict(zip(rows[0], rows[3]))
    assert zero["status"] == "zero_total" and zero["hhi"] == "" and zero["total"] == "0.0"


def test_monthly_periods_are_printed_as_months(tmp_path):
    text = "reporter,partner,product,period,value\nCHN,KOR,8542,2024-01,5\nCHN,KOR,8542,2024-02-15,5\n"
    result = run(tmp_path, text)
    assert result.returncode == 0, result.stderr
    assert [r["period"] for r in json.loads(result.stdout)] == ["2024-01", "2024-02"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("reporter,partner,product,value\nUSA,CHN,2846,1\n", "missing column(s) period"),
        ("reporter,partner,product,period,value\n", "no data rows"),
        ("reporter,partner,product,period,value\nUSA,CHN,2846,2023,1\nUSA,CHN,2846,2023,abc\n",
         "line 3 (data row 2), column 'value': 'abc' is not a number"),
        ("reporter,partner,product,period,value\nUSA,CHN,2846,2023,-5\n",
         "line 2 (data row 1), column 'value': '-5' is negative"),
        ("reporter,partner,product,period,value\nUSA,CHN,2846,2023,NaN\n",
         "column 'value': 'NaN' is not a number"),
        ("reporter,partner,product,period,value\nUSA,CHN,2846,2023,\n", "column 'value' is empty"),
        ("reporter,partner,product,period,value\nUSA,CHN,2846,2023,inf\n", "column 'value': 'inf' is not a finite number"),
        ("reporter,partner,product,period,value\nUSA,,2846,2023,1\n", "line 2 (data row 1), column 'partner' is empty"),
        ("reporter,partner,product,period,value\n,CHN,2846,2023,1\n", "column 'reporter' is empty"),
        ("reporter,partner,product,period,value\nUSA,CHN,2846,2023-13,1\n",
         "column 'period': '2023-13' is not YYYY, YYYY-MM or a date"),
        ('reporter,partner,product,period,value\n"USA,CHN,2846,2023,1\n', "not a readable CSV"),
    ],
)
def test_bad_input_exits_2_with_a_message_naming_row_and_column(tmp_path, text, expected):
    result = run(tmp_path, text)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert expected in result.stderr
    assert str(tmp_path / "flows.csv") in result.stderr
    assert result.stdout == ""


def test_missing_file(tmp_path):
    result = subprocess.run([str(CHAINWATCH), "concentration", "--input", str(tmp_path / "nope.csv")],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2 and "file not found" in result.stderr and "Traceback" not in result.stderr


def test_usgs_gallium_through_the_cli(tmp_path):
    """Real data, written as the CLI's long CSV: world primary gallium 2022-2023 (MCS 2024)."""
    from indicators.production import usgs_world_production

    flows = usgs_world_production(read_usgs_world("mcs2024", "galli"), "gallium")
    text = flows[["reporter", "partner", "product", "period", "value"]].to_csv(index=False)
    result = run(tmp_path, text)
    assert result.returncode == 0, result.stderr
    records = {r["period"]: r for r in json.loads(result.stdout)}
    # 600,000 of 610,000 kg -> 0.983607; HHI (600^2 + 3^2 + 2^2 + 5^2) / 610^2 = 0.967584
    assert records["2023"]["top_partner"] == "China"
    assert records["2023"]["top_share"] == pytest.approx(0.983607, abs=1e-6)
    assert records["2023"]["hhi"] == pytest.approx(0.967584, abs=1e-6)
    assert records["2023"]["hhi_change_yoy"] == pytest.approx(0.0, abs=1e-12)
