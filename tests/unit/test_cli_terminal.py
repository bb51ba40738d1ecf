"""What people read at a terminal (#25): tables that fit, alert lines with level and reason,
summaries, ``--version`` and defaults in ``--help``."""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime, timezone

import pytest

from alerts.model import Alert
from monitor import __version__
from monitor.assess.assessment import AssessmentResult, ChainAssessment, Judgement, NodeAssessment
from monitor.cli.alerts import alerts_list_table
from monitor.cli.events import mapping_table
from monitor.cli.main import main
from monitor.cli.rendering import assessment_table
from monitor.cli.terminal import new_table, render
from monitor.store.tables import AlertRecord

LONG_DRIVER = ("import value (USD): Value 130,407,514 in 2025-12 is 79% below the path before the last "
               "3 months (628,761,390) and stayed below it every month: a lasting drop, not a one-month blip")


def _node(node: str, name: str, score: float, level: str, driver: str) -> NodeAssessment:
    return NodeAssessment(chain="minerals", node=node, name_en=name, name_zh="钴", criticality=1.0, own_score=score,
                          judgement=Judgement(score, level, level, 0, 1.0), dimensions={}, drivers=[driver])


def _alert(node: str, level: str, driver: str) -> Alert:
    return Alert(fingerprint=f"{node:0<16}"[:16],
                 labels={"chain": "minerals", "node": node, "kind": "risk_level", "severity": "critical",
                         "level": level},
                 annotations={"summary": f"Critical minerals / {node} is at {level}", "drivers": driver,
                              "level": level},
                 state="firing", starts_at=datetime(2026, 12, 7, tzinfo=timezone.utc))


@pytest.fixture
def result() -> AssessmentResult:
    nodes = [_node("cobalt", "Cobalt ores and intermediates", 100, "red", LONG_DRIVER),
             _node("nickel", "Nickel ores, intermediates, ferronickel and metal", 73, "orange",
                   "imports concentrated: top partner Indonesia 67% of the last 12 months")]
    chain = ChainAssessment("minerals", "Critical minerals and materials", "关键矿产", Judgement(100, "red", "red", 0, 1.0),
                            nodes)
    return AssessmentResult(run_id=7, as_of=date(2025, 12, 1), chains=[chain], findings=[])


def _words(text: str) -> set[str]:
    return set(re.findall(r"[\w,()%.:-]+", text))


@pytest.mark.parametrize("width", [60, 80, 120, 160])
def test_assess_table_fits_the_width_and_wraps_between_words(result, width):
    alerts = [_alert("cobalt", "red", LONG_DRIVER), _alert("nickel", "orange", "imports concentrated")]
    text = assessment_table(result, alerts, simulated=False, width=width)
    assert max(len(line) for line in text.splitlines()) <= width
    # Every word of the long reason is printed whole somewhere (wrapped, never cut mid-word).
    assert {w for w in _words(LONG_DRIVER)} <= _words(text)
    assert "…" not in text


def test_wide_keeps_each_row_on_one_line(result):
    text = assessment_table(result, [], simulated=False, wide=True)
    cobalt = [line for line in text.splitlines() if "Cobalt ores" in line]
    assert len(cobalt) == 1 and LONG_DRIVER in cobalt[0]


def test_alert_lines_show_level_and_reason_not_the_shared_severity(result):
    alerts = [_alert("cobalt", "red", "world supply: Congo 77% of mined cobalt"),
              _alert("nickel", "orange", "imports concentrated: Indonesia 67%")]
    lines = assessment_table(result, alerts, simulated=False, width=200).splitlines()
    red = next(line for line in lines if "cobalt is at red" in line)
    orange = next(line for line in lines if "nickel is at orange" in line)
    assert red.startswith("red") and "world supply: Congo 77% of mined cobalt" in red
    assert orange.startswith("orange") and "imports concentrated: Indonesia 67%" in orange
    assert "critical" not in red + orange


def test_assess_table_ends_with_a_summary(result):
    alerts = [_alert("cobalt", "red", "x")]
    last = assessment_table(result, alerts, simulated=False).splitlines()[-1]
    assert last == "1 chains, 2 nodes, 2 at orange or red; 1 alert(s) firing, 0 resolved this run"


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"chainwatch {__version__}"


@pytest.mark.parametrize("argv, shown", [
    (["run", "--help"], "(default: 9464)"),
    (["run", "--help"], "(default: 127.0.0.1)"),
    (["detect", "--help"], "(default: json)"),
    (["alerts", "list", "--help"], "--wide"),
])
def test_help_shows_defaults(capsys, argv, shown):
    with pytest.raises(SystemExit):
        main(argv)
    assert shown in " ".join(capsys.readouterr().out.split())


def test_help_does_not_repeat_a_default_its_text_names(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: WARNING)" not in text and "(default: False)" not in text


def _record(chain: str, node: str, kind: str, level: str, acked: str | None = None) -> AlertRecord:
    return AlertRecord(fingerprint=hashlib.sha256(f"{chain}{node}{kind}".encode()).hexdigest()[:32], state="firing",
                       labels={"chain": chain, "node": node, "kind": kind, "severity": "critical", "level": level},
                       annotations={"chain_name": CHAIN_NAMES[chain], "node_name": NODE_NAMES.get(node, ""),
                                    "score": "97.0", "summary": "x"},
                       starts_at=datetime(2026, 12, 7, 8, 0, tzinfo=timezone.utc), acknowledged_by=acked)


CHAIN_NAMES = {"semiconductors": "Semiconductors and advanced packaging",
               "minerals": "Critical minerals and materials"}
NODE_NAMES = {"lithography": "Lithography and wafer-fab equipment", "cobalt": "Cobalt ores and intermediates"}


@pytest.fixture
def stored_alerts() -> list[AlertRecord]:
    # the longest kinds are single words of 24 characters: no nine-column row fits 80 columns whole
    return [_record("semiconductors", "lithography", "production_concentration", "red"),
            _record("minerals", "cobalt", "single_point_of_failure", "orange", acked="ops-oncall"),
            _record("minerals", "", "risk_level", "red")]


@pytest.mark.parametrize("width", [60, 72, 80, 100, 110, 120, 160])
def test_alerts_list_wraps_between_words_at_any_width(stored_alerts, width):
    text = alerts_list_table(stored_alerts, width=width)
    assert max(len(line) for line in text.splitlines()) <= width
    expected = set()
    for r in stored_alerts:
        expected |= {*r.annotations["chain_name"].split(), *r.annotations["node_name"].split(), r.labels["kind"],
                     r.fingerprint[:12], "2026-12-07", "08:00"}
    assert expected <= set(text.split())  # every word whole: nothing split mid-word or cut off
    assert "…" not in text
    assert text.splitlines()[-1] == "3 alert(s): 3 firing"


def test_alerts_list_keeps_one_row_per_alert_where_it_fits(stored_alerts):
    lines = alerts_list_table(stored_alerts, width=200).splitlines()
    cobalt = next(line for line in lines if "Cobalt" in line)
    assert cobalt.split()[:3] == ["orange", "97.0", "firing"] and cobalt.split()[-1] == "ops-oncall"
    wide = alerts_list_table(stored_alerts, wide=True, width=60).splitlines()
    assert len(wide) == 1 + len(stored_alerts) + 2  # header, rows, blank, count


@pytest.mark.parametrize("width", [60, 80])
def test_a_table_whose_words_cannot_fit_becomes_header_value_lines(width):
    name, word = "n" * 45, "w" * 40  # 45 + 2 + 40 columns at least as a table: more than 80
    table = new_table(["name", "description"])
    table.add_row(name, f"a {word} b")
    table.add_row("b2", "short")
    assert render(table, width=width).splitlines() == [
        f"name         {name}", f"description  a {word} b" if width >= 13 + 44 else f"description  a {word}",
        *([] if width >= 13 + 44 else ["             b"]), "",
        "name         b2", "description  short"]


def test_events_map_ends_with_a_summary_and_lists_unmatched_only_when_there_are_some():
    warning = {"event_id": "e1", "chain": "minerals", "node": "cobalt", "level": "orange", "status": "active",
               "days_until_effective": None, "effective": None, "announced": "2026-01-02", "link": "",
               "explanation": {"en": "export licence on cobalt", "zh": "钴出口许可"}}
    unmatched = {"event_id": "e2", "announced": "2026-01-03", "issuer": "USA", "kind": "notice", "title": "t"}
    both = mapping_table({"warnings": [warning, {**warning, "node": "nickel"}], "unmatched": [unmatched]})
    assert "1 event(s) matched no node:" in both
    assert both.splitlines()[-1] == "2 event(s): 2 warning(s) on 2 node(s), 1 event(s) matched no node"
    empty = mapping_table({"warnings": [], "unmatched": []})
    assert empty == "0 event(s): 0 warning(s) on 0 node(s), 0 event(s) matched no node"
