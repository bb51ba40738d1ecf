"""Policy events mapped onto catalog nodes (indicators/events.py): evidence, exposure, severity."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, strategies as st

from indicators.events import (
    EVENT_KINDS,
    KIND_WEIGHTS,
    Event,
    NodeProfile,
    hs_codes_in_text,
    map_event,
    map_events,
    severity_level,
)
from indicators.vocabulary import level_index

NAMES = {"USA": ("United States", "美国"), "CHN": ("China", "中国"), "IDN": ("Indonesia", "印度尼西亚")}

FAB = NodeProfile("semiconductors", "fab-equipment", "Wafer-fab equipment", "晶圆制造设备", ("848610", "848620"),
                  ("lithography", "semiconductor manufacturing equipment"), ("光刻机",),
                  import_shares={"USA": 0.31, "JPN": 0.35})
GA = NodeProfile("critical-minerals", "gallium-germanium", "Gallium and germanium", "镓与锗", ("811292", "282560"),
                 ("gallium", "germanium"), ("镓", "锗"), world_shares={"CHN": 0.98})
NICKEL = NodeProfile("critical-minerals", "nickel", "Nickel", "镍", ("2604", "7501"), ("nickel",), ("镍",))
PROFILES = [FAB, GA, NICKEL]


def event(**changes) -> Event:
    base = dict(event_id="e1", source="test", title="A rule", kind="licensing", issuer="USA",
                announced=date(2023, 10, 17))
    return Event(**(base | changes))


@pytest.mark.parametrize(("text", "codes"), [
    ("covers HS 8486.20 and the parts", ["848620"]),
    ("HS codes 2846, 280530 and 8105", ["2846", "280530", "8105"]),
    ("subheading 2805.30.00 (national line 2805.3000)", ["280530"]),
    ("税则号列 8112.9210、2825.6000", ["811292", "282560"]),
    ("published 2023-10-17 under docket 230925-0233, 88 FR 73424", []),  # numbers without an HS marker
    ("In 2019 BIS added 68 entities", []),
])
def test_hs_codes_are_read_only_after_a_marker(text, codes):
    assert hs_codes_in_text(text) == codes


def test_a_heading_in_the_event_covers_the_nodes_subheading_and_the_reverse():
    by_heading = map_event(event(hs_codes=("8486",)), PROFILES, "CHN", NAMES)
    by_line = map_event(event(text="tariff line 2604.0000 (nickel ores)"), [NICKEL], "CHN", NAMES)
    assert [m.key for m in by_heading] == ["semiconductors/fab-equipment"]
    assert [m.key for m in by_line] == ["critical-minerals/nickel"]
    assert "HS 8486" in by_heading[0].explanation_en


def test_english_keywords_match_whole_words_chinese_substrings():
    hits = map_events([
        event(event_id="en", title="Controls on LITHOGRAPHY systems"),
        event(event_id="part", title="Photolithographyless process notice"),  # not the word itself
        event(event_id="zh", title="关于对镓、锗相关物项实施出口管制的公告", issuer="CHN"),
    ], PROFILES, "CHN", NAMES)
    assert hits.nodes_of("en") == {"semiconductors/fab-equipment"}
    assert hits.nodes_of("part") == set()
    assert hits.nodes_of("zh") == {"critical-minerals/gallium-germanium"}


def test_unmatched_events_are_kept_and_listed():
    mapping = map_events([event(event_id="x", title="Entity List additions")], PROFILES, "CHN", NAMES)
    assert mapping.matches == ()
    assert [e.event_id for e in mapping.unmatched] == ["x"]


def test_explanation_names_the_rule_the_code_and_the_import_share():
    [match] = map_event(event(issuing_body="BIS", hs_codes=("848620",)), [FAB], "CHN", NAMES)
    assert match.exposure == pytest.approx(0.31)
    assert match.explanation_en.startswith("BIS licensing 2023-10-17 names HS 848620")
    assert "31% of the node's imports come from United States" in match.explanation_en
    assert "该环节 31% 的进口来自美国" in match.explanation_zh


def test_world_supply_share_is_exposure_for_a_suppliers_export_control():
    [match] = map_event(event(kind="licensing", issuer="CHN", title="gallium and germanium"), [GA], "USA",
                        NAMES)
    assert match.exposure == pytest.approx(0.98)
    assert match.level == "red"  # 0.8 x 0.98
    assert "China supplies 98% of world output" in match.explanation_en


def test_a_measure_aimed_elsewhere_does_not_count_the_import_share():
    # a US control aimed at Russia does not cut China's imports from the USA
    [match] = map_event(event(affected=("RUS",), hs_codes=("848620",)), [FAB], "CHN", NAMES)
    assert match.exposure is None


def test_the_home_economys_own_measure_has_no_supply_exposure():
    [match] = map_event(event(issuer="CHN", title="gallium"), [GA], "CHN", NAMES)
    assert match.exposure is None and "exposure unknown" in match.explanation_en


def test_kinds_rank_export_ban_licensing_tariff_listing_notice():
    ranked = ["export_ban", "licensing", "tariff", "listing", "notice"]
    weights = [KIND_WEIGHTS[k] for k in ranked]
    assert weights == sorted(weights, reverse=True) and len(set(weights)) == len(weights)
    levels = [level_index(severity_level(k, 0.5)) for k in ranked]
    assert levels == sorted(levels, reverse=True) and levels[0] > levels[-1]


def test_unknown_exposure_grades_one_level_below_the_kind_alone():
    assert severity_level("export_ban", None) == "orange"
    assert severity_level("export_ban", 1.0) == "red"
    assert severity_level("notice", None) == "blue"


@given(kind=st.sampled_from(EVENT_KINDS), low=st.floats(0, 1), high=st.floats(0, 1))
def test_severity_never_falls_as_exposure_rises(kind, low, high):
    low, high = sorted((low, high))
    assert level_index(severity_level(kind, low)) <= level_index(severity_level(kind, high))
    assert level_index(severity_level(kind, high)) >= level_index("blue")


def test_same_measure_links_sources_and_amendments_but_not_neighbours():
    from indicators.events import same_measure

    fr = event(event_id="fr:2023-23049", title="Export Controls on Semiconductor Manufacturing Items",
               announced=date(2023, 10, 25))
    tracker = event(event_id="t1", title="US chip tool rules", text="see FR doc 2023-23049",
                    announced=date(2023, 10, 17))
    correction = event(event_id="fr:2024-1", title="Export Controls on Semiconductor Manufacturing Items; Correction",
                       announced=date(2024, 4, 4))
    same_codes = event(event_id="t2", title="Other words", hs_codes=("848620",), announced=date(2023, 10, 20))
    neighbour = event(event_id="t3", title="A later tariff", hs_codes=("848620",), announced=date(2023, 12, 20))
    other_issuer = event(event_id="t4", title=fr.title, issuer="NLD", announced=fr.announced)
    assert same_measure(fr, tracker) and same_measure(fr, correction)
    assert same_measure(event(hs_codes=("848620",), announced=date(2023, 10, 25)), same_codes)
    assert not same_measure(same_codes, neighbour)  # two months apart, nothing else in common
    assert not same_measure(fr, other_issuer)
