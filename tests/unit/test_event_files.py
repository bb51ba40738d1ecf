"""The curated events file (monitor/collect/event_files.py): rows read, bad rows named."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from monitor.collect.event_files import EventFileError, read_events

CURATED = Path(__file__).parents[1] / "fixtures" / "events" / "curated_events.csv"
HEADER = "id,title,issuer,affected,kind,announced,effective,hs_codes,status\n"


def test_curated_fixture_reads_every_field():
    events = {e.event_id: e for e in read_events(CURATED)}
    gage = events["events-file:cn-2023-ga-ge"]
    assert (gage.issuer, gage.kind, gage.language) == ("CHN", "licensing", "zh")
    assert (gage.announced, gage.effective) == (date(2023, 7, 3), date(2023, 8, 1))
    assert gage.hs_codes == ("811292", "282560") and gage.affected == ("*",)
    assert events["events-file:in-2020-api-restriction"].status == "withdrawn"


@pytest.mark.parametrize(("row", "message"), [
    ("a,t,CHN,*,ban,2023-07-03,,,active", r"row 2: field 'kind' is 'ban'; expected one of export_ban"),
    ("a,t,CHN,*,licensing,03/07/2023,,,active", r"row 2: field 'announced' is '03/07/2023', not an ISO date"),
    ("a,t,China,*,licensing,2023-07-03,,,active", r"row 2: field 'issuer' has 'CHINA', not an ISO alpha-3"),
    ("a,t,CHN,*,licensing,2023-07-03,,8112.9,active", r"row 2: field 'hs_codes' has '81129'"),
    ("a,t,CHN,*,licensing,2023-07-03,,,gone", r"row 2: field 'status' is 'gone'"),
    (",t,CHN,*,licensing,2023-07-03,,,active", r"row 2: required field 'id' is empty"),
])
def test_a_bad_row_names_file_row_and_field(tmp_path, row, message):
    path = tmp_path / "events.csv"
    path.write_text(HEADER + row + "\n", encoding="utf-8")
    with pytest.raises(EventFileError, match=message) as err:
        read_events(path)
    assert str(path) in str(err.value)


def test_missing_columns_and_repeated_ids_are_refused(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("id,title\na,t\n", encoding="utf-8")
    with pytest.raises(EventFileError, match="header lacks column"):
        read_events(path)
    path.write_text(HEADER + "a,t,CHN,*,licensing,2023-07-03,,,active\n" * 2, encoding="utf-8")
    with pytest.raises(EventFileError, match=r"row 3: id 'a' repeats"):
        read_events(path)


def test_a_missing_or_binary_file_is_one_line(tmp_path):
    with pytest.raises(EventFileError, match="cannot read"):
        read_events(tmp_path / "nope.csv")
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(EventFileError, match="not a UTF-8 CSV"):
        read_events(binary)
