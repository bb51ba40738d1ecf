"""The columnar input path of ``detect``/``evaluate``/``concentration``: CSV and Parquet
read alike, row numbers in messages, chunked detection equal to detection at once."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from indicators.screening import SeriesMatrix
from monitor.cli.main import main
from monitor.cli.series_input import read_series_file
from tests.unit.test_detect_command import series_rows, write


def three_series(tmp_path):
    lines = ["series_id,period,value", *series_rows("b_ok"), *series_rows("a_hit", shock=0.75, seed=1),
             *series_rows("c_drop", shock=0.7, seed=2)]
    return write(tmp_path, lines)


def run(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_chunked_detection_prints_what_detection_at_once_prints(tmp_path, capsys, fmt):
    path = three_series(tmp_path)
    whole = run(["detect", "--input", str(path), "--format", fmt, "--chunk-size", "1000"], capsys)
    chunked = run(["detect", "--input", str(path), "--format", fmt, "--chunk-size", "1"], capsys)
    assert whole == chunked and whole[0] == 0
    if fmt == "json":
        assert {r["series_id"] for r in json.loads(whole[1])} == {"a_hit", "c_drop"}


def test_chunk_size_must_be_positive(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["detect", "--input", str(three_series(tmp_path)), "--chunk-size", "0"])
    assert stop.value.code == 2 and "positive whole number" in capsys.readouterr().err


def test_parquet_input_gives_the_csv_findings(tmp_path, capsys):
    path = three_series(tmp_path)
    frame = pd.read_csv(path, dtype={"period": str})
    parquet = tmp_path / "in.parquet"
    # a typed file: dates as dates, values as doubles
    frame.assign(period=pd.to_datetime(frame["period"])).to_parquet(parquet, index=False)
    assert run(["detect", "--input", str(parquet)], capsys) == run(["detect", "--input", str(path)], capsys)


def test_matrices_equal_the_matrix_of_the_long_frame_for_an_interleaved_file(tmp_path):
    a, b = series_rows("a", n=30), series_rows("b", n=20, seed=3)
    interleaved = [row for pair in zip(a, b) for row in pair] + a[20:]
    data = read_series_file(write(tmp_path, ["series_id,period,value", *interleaved]))
    expected = SeriesMatrix.from_long(data.frame)
    chunks = list(data.matrices(1))
    assert [m.ids for m in chunks] == [("a",), ("b",)]
    assert all(m.months.equals(expected.months) for m in chunks)
    np.testing.assert_array_equal(np.vstack([m.values for m in chunks]), expected.values)
    assert [r.split(",")[0] for r in interleaved[:4]] == ["a", "b", "a", "b"]
    assert data.frame["series_id"].tolist() == ["a"] * 30 + ["b"] * 20  # grouped, file order within a series


def test_row_numbers_count_blank_lines_and_ragged_lines_are_reported(tmp_path, capsys):
    lines = ["series_id,period,value", *series_rows("good"), "", "bad,2015-01,1", "bad,2015-01,2", "odd,2015-01,1,9"]
    path = write(tmp_path, lines)
    code, _, err = run(["detect", "--input", str(path)], capsys)
    blank_line = len(series_rows("good")) + 2
    assert code == 1
    assert f"series 'bad': row {blank_line + 2}: duplicate period 2015-01 (row {blank_line + 1} has '2015-01')" in err
    assert f"{path}: row {blank_line + 3}: 4 cell(s) where the header has 3; row skipped" in err


@pytest.mark.parametrize("rows, message", [
    (["q,2015-01,1", "q,2015-04,2", "q,2015-07,3", "q,2015-10,4"],
     "series 'q': row 2: periods are 3 months apart: the series is not monthly"),
    (["r,2015-01,1", "r,2015-02,2", "r,2015-05,3", "r,2015-08,4", "r,2015-11,5", "r,2015-12,6"],
     "series 'r': row 6: mixed frequencies: periods 3 months apart from row 3 while other rows are one month apart"),
    (["e,2015-01,", "e,2015-02,NA"], "series 'e': row 2: no numeric value in the series"),
    (["v,2015-01, 1.5 ", "v,2015-02,1_5"], "series 'v': row 3: value '1_5' is not a number"),
])
def test_whole_series_checks_name_the_row(tmp_path, capsys, rows, message):
    path = write(tmp_path, ["series_id,period,value", *rows, *series_rows("good")])
    code, _, err = run(["detect", "--input", str(path)], capsys)
    assert code == 1 and message in err


def test_concentration_reads_parquet_like_csv(tmp_path, capsys):
    text = ("reporter,partner,product,period,value\n"
            "USA,CHN,2846,2023-01,80\nUSA,NA,2846,2023-01,20\nUSA,CHN,2846,2023-02,50\nUSA,DEU,2846,2023-02,50\n")
    path = tmp_path / "flows.csv"
    path.write_text(text, encoding="utf-8")
    frame = pd.read_csv(path, dtype={"product": str}, keep_default_na=False)
    parquet = tmp_path / "flows.parquet"
    frame.to_parquet(parquet, index=False)
    from_csv = run(["concentration", "--input", str(path)], capsys)
    from_parquet = run(["concentration", "--input", str(parquet)], capsys)
    assert from_csv == from_parquet and from_csv[0] == 0
    shares = {r["period"]: r for r in json.loads(from_csv[1])}
    assert set(shares) == {"2023-01", "2023-02"}


def test_concentration_names_the_line_of_a_bad_value_after_a_blank_line(tmp_path, capsys):
    path = tmp_path / "flows.csv"
    path.write_text("reporter,partner,product,period,value\nUSA,CHN,2846,2023,1\n\nUSA,DEU,2846,2023,x\n",
                    encoding="utf-8")
    code, _, err = run(["concentration", "--input", str(path)], capsys)
    assert code == 2 and "line 4 (data row 3), column 'value': 'x' is not a number" in err



def test_file_source_reads_parquet_like_csv(tmp_path):
    from monitor.collect.files import FileCollector
    from monitor.collect.http import PayloadError
    from tests.unit.test_collector_sources import FIXTURES, customs

    csv_path = FIXTURES / "files/china_customs_imports.csv"
    parquet = tmp_path / "imports.parquet"
    pd.read_csv(csv_path, dtype=str, keep_default_na=False).to_parquet(parquet, index=False)
    from_csv = FileCollector(customs(str(csv_path))).collect().trade_flows
    from_parquet = FileCollector(customs(str(parquet), format="parquet")).collect().trade_flows
    pd.testing.assert_frame_equal(from_csv.reset_index(drop=True), from_parquet.reset_index(drop=True))
    with pytest.raises(PayloadError, match="not a readable Parquet file"):
        FileCollector(customs(str(csv_path), format="parquet")).collect()


def flow_lines(n: int) -> list[str]:
    return [f" R{i % 3} ,P{i % 7},{2800 + i % 5},{2015 + i % 4},{i}.5" for i in range(n)]


def test_whole_file_parse_on_many_blocks_reads_what_the_streaming_read_reads(tmp_path, monkeypatch):
    from monitor.collect import columnar

    lines = ["reporter,partner,product,period,value", *flow_lines(300), "", *flow_lines(200), "R1,P1,2801,2015,1,9",
             *flow_lines(100)]
    path = write(tmp_path, lines)
    columns = ("reporter", "partner", "product", "period", "value")
    streamed = columnar.read_columns(path, columns)
    monkeypatch.setattr(columnar, "WHOLE_FILE_BLOCK", 512)  # some 60 blocks, parsed on all cores
    whole = columnar.read_columns(path, columns, whole=True)
    assert whole.ragged == streamed.ragged == [(503, 6, 5)]
    assert whole.rows == streamed.rows == 601  # the blank line is a row (its number is kept), the ragged one not
    assert all(whole.columns[name].equals(streamed.columns[name]) for name in columns)


def test_dictionary_columns_hold_the_text_of_every_block(tmp_path, monkeypatch):
    """Columns parsed dictionary-encoded on many blocks (each with its own dictionary)
    decode to the text read as text; the blank line's empty cells included."""
    import pyarrow as pa

    from monitor.collect import columnar

    path = write(tmp_path, ["reporter,partner,product,period,value", *flow_lines(300), "", *flow_lines(200)])
    columns = ("reporter", "partner", "product", "period", "value")
    text = columnar.read_columns(path, columns)
    monkeypatch.setattr(columnar, "WHOLE_FILE_BLOCK", 512)
    coded = columnar.read_columns(path, columns, whole=True, dictionary=columns[:4])
    for name in columns[:4]:
        assert pa.types.is_dictionary(coded.columns[name].type)
        assert coded.columns[name].cast(pa.string()).equals(text.columns[name])
    assert coded.columns["value"].equals(text.columns["value"])


def test_concentration_names_a_ragged_line_past_the_first_block(tmp_path, capsys, monkeypatch):
    from monitor.collect import columnar

    monkeypatch.setattr(columnar, "WHOLE_FILE_BLOCK", 512)
    path = write(tmp_path, ["reporter,partner,product,period,value", *flow_lines(400), "R1,P1,2801,2015",
                            *flow_lines(10)])
    code, _, err = run(["concentration", "--input", str(path)], capsys)
    assert code == 2 and f"{path}: not a readable CSV: line 402 has 4 cell(s) where the header has 5" in err


@pytest.mark.parametrize("pad", [(" ", ""), ("", "\t"), ("\u00a0", " ")])
def test_concentration_reads_cells_with_spaces_around_them_as_the_bare_cells(tmp_path, capsys, pad):
    before, after = pad
    bare = ["reporter,partner,product,period,value", *[line.replace(" ", "") for line in flow_lines(60)]]
    padded = [bare[0], *[",".join(f"{before}{cell}{after}" for cell in line.split(",")) for line in bare[1:]]]
    results = []
    for name, lines in (("bare", bare), ("padded", padded)):
        (tmp_path / name).mkdir()
        results.append(run(["concentration", "--input", str(write(tmp_path / name, lines)), "--format", "csv"], capsys))
    assert results[0] == results[1] and results[0][0] == 0 and len(results[0][1].splitlines()) > 1


@pytest.mark.parametrize("whole", [False, True])
def test_number_columns_are_read_as_numbers_or_the_file_as_text(tmp_path, whole):
    """``read_columns(numbers=...)``: float64 when every cell is a number as Arrow reads
    it (spaces around, ``nan`` and ``1e400`` included, for the caller's checks), else
    every column as text, rows unchanged, so that the caller can name the bad cell."""
    from monitor.collect.columnar import read_columns

    numbers = (tmp_path / "numbers.csv")
    numbers.write_text("a,v\nx,1.5\ny, 2 \nz,nan\nw,1e400\n", encoding="utf-8")
    column = read_columns(numbers, ("a", "v"), whole=whole, numbers=("v",)).columns["v"]
    assert str(column.type) == "double"
    assert column.to_pylist()[:2] == [1.5, 2.0] and np.isnan(column[2].as_py()) and column[3].as_py() == np.inf
    for bad in ("", "1_5", "x"):
        path = tmp_path / "bad.csv"
        path.write_text(f"a,v\nx,1.5\ny,{bad}\nz,3\n", encoding="utf-8")
        read = read_columns(path, ("a", "v"), whole=whole, numbers=("v",))
        assert read.columns["v"].to_pylist() == ["1.5", bad, "3"]
        assert read.columns["a"].to_pylist() == ["x", "y", "z"]
