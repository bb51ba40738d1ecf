"""Table tests of the pure alert stages: matchers, silences, inhibition, routing, grouping,
rules and lifecycle (for / keep_firing_for), signatures, rate limits and message sizes."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from alerts import dingtalk, feishu, wecom
from alerts.grouping import GroupLog, decide_flush
from alerts.inhibition import InhibitRule, inhibited
from alerts.integrations import RenderContext
from alerts.lifecycle import reconcile
from alerts.matchers import Matcher, MatcherError
from alerts.model import Alert, AlertCandidate
from alerts.ratelimit import TokenBucket
from alerts.routing import Escalation, Route, Timing, match_routes
from alerts.rules import FindingEvent, FindingRule, LevelChangeRule, LevelRule, RiskSubject, evaluate_rules
from alerts.signing import dingtalk_sign, feishu_sign
from alerts.silences import Silence
from alerts.templates import render_text

T0 = datetime(2026, 1, 15, 4, 0, tzinfo=timezone.utc)
SEVERITY = {"blue": "info", "yellow": "warning", "orange": "critical", "red": "critical"}


def alert(chain="batteries", node="", level="red", state="firing", fp=None, starts=T0, ends=None):
    labels = {"alertname": "r", "chain": chain, "node": node, "kind": "risk_level",
              "severity": SEVERITY.get(level, "info"), "level": level}
    return Alert(fingerprint=fp or f"{chain}-{node or 'chain'}", labels=labels,
                 annotations={"summary": f"{chain} {node} {level}", "level": level, "score": "90.0"},
                 state=state, starts_at=starts, ends_at=ends if state == "resolved" else None)


M = Matcher.parse


@pytest.mark.parametrize("text, labels, expected", [
    ('chain="batteries"', {"chain": "batteries"}, True),
    ("chain=batteries", {"chain": "lithium"}, False),
    ('node=""', {"chain": "x"}, True),             # a missing label is ""
    ('node!=""', {"node": "cells"}, True),
    ('severity=~"crit.*"', {"severity": "critical"}, True),
    ('severity=~"crit"', {"severity": "critical"}, False),  # anchored
    ('level!~"red|orange"', {"level": "yellow"}, True),
])
def test_matchers(text, labels, expected):
    assert M(text).matches(labels) is expected


@pytest.mark.parametrize("text", ["no operator", 'x=~"("', "1bad=x"])
def test_bad_matchers_are_named(text):
    with pytest.raises(MatcherError, match="matcher|regular expression"):
        M(text)


@pytest.mark.parametrize("matchers, start, end, now, labels, muted", [
    (['chain="batteries"'], T0, T0 + timedelta(hours=2), T0 + timedelta(hours=1), {"chain": "batteries"}, True),
    (['chain="batteries"'], T0, T0 + timedelta(hours=2), T0 + timedelta(hours=3), {"chain": "batteries"}, False),
    (['chain="batteries"'], T0 + timedelta(hours=1), T0 + timedelta(hours=2), T0, {"chain": "batteries"}, False),
    (['chain="batteries"', 'node=~"cells.*"'], T0, T0 + timedelta(hours=2), T0, {"chain": "batteries", "node": "x"}, False),
])
def test_silences(matchers, start, end, now, labels, muted):
    silence = Silence("s1", tuple(M(m) for m in matchers), start, end, "alice", "maintenance")
    assert silence.mutes(labels, now) is muted


def test_silence_refuses_matching_everything_and_anonymous():
    with pytest.raises(ValueError, match="every alert"):
        Silence("s", (M('node=""'),), T0, T0 + timedelta(hours=1), "a", "c")
    with pytest.raises(ValueError, match="who"):
        Silence("s", (M("chain=x"),), T0, T0 + timedelta(hours=1), " ", "c")


RED_CHAIN_INHIBITS = InhibitRule((M('node=""'), M('level="red"')), (M('node!=""'), M('level!="red"')), ("chain",))


@pytest.mark.parametrize("alerts_, expected", [
    ([alert(level="red"), alert(node="cells", level="orange")], {"batteries-cells"}),
    ([alert(level="red"), alert(node="cells", level="red")], set()),                       # not lower
    ([alert(level="orange"), alert(node="cells", level="orange")], set()),                 # chain not red
    ([alert(chain="lithium", level="red"), alert(node="cells", level="orange")], set()),   # other chain
    ([alert(level="red", state="resolved", ends=T0), alert(node="cells", level="orange")], set()),
])
def test_inhibition(alerts_, expected):
    assert set(inhibited([RED_CHAIN_INHIBITS], alerts_)) == expected


TREE = Route(routes=(
    Route(matchers=(M('severity="critical"'),), receivers=("oncall",), continue_=True,
          escalation=Escalation("chief", timedelta(hours=4))),
    Route(matchers=(M('chain="batteries"'),), receivers=("battery-team",)),
    Route(matchers=(M('kind="level_change"'),), receivers=("analysts",)),
))


@pytest.mark.parametrize("labels, expected", [
    ({"chain": "batteries", "severity": "critical"}, [("oncall",), ("battery-team",)]),   # continue
    ({"chain": "lithium", "severity": "critical"}, [("oncall",)]),
    ({"chain": "lithium", "severity": "warning", "kind": "level_change"}, [("analysts",)]),
    ({"chain": "lithium", "severity": "warning"}, [("lithium-chief", "lithium-dept")]),   # default: the chain's own
])
def test_routing(labels, expected):
    got = match_routes(TREE, labels, lambda chain: [f"{chain}-chief", f"{chain}-dept"])
    assert [m.receivers for m in got] == expected
    assert all(m.group_by == ("chain",) for m in got)


def test_route_keys_are_stable_and_root_is_alertmanagers():
    (root,) = match_routes(Route(), {"chain": "x"}, lambda c: ["r"])
    assert root.key == "{}"
    (child, _) = match_routes(TREE, {"chain": "batteries", "severity": "critical"}, lambda c: [])
    assert child.key == '{}/{severity="critical"}/0' and child.escalation.receiver == "chief"


TIMING = Timing(group_wait=timedelta(seconds=30), group_interval=timedelta(minutes=5), repeat_interval=timedelta(hours=4))


@pytest.mark.parametrize("case", ["new_waits", "new_after_wait", "no_change", "changed_within_interval",
                                  "changed_after_interval", "resolved", "repeat", "repeat_acked", "never_notified_resolved"])
def test_grouping(case):
    a, b = alert(fp="a"), alert(node="cells", fp="b")
    sent_a = GroupLog(firing={"a": _hash(a)}, last_sent_at=T0, sequence=1)
    table = {
        "new_waits": ([a], None, T0, set(), (0, None)),
        "new_after_wait": ([a, b], GroupLog(first_seen_at=T0), T0 + timedelta(seconds=30), set(), (2, "new")),
        "no_change": ([a], sent_a, T0 + timedelta(hours=1), set(), (0, None)),
        "changed_within_interval": ([a, b], sent_a, T0 + timedelta(minutes=1), set(), (0, None)),
        "changed_after_interval": ([a, b], sent_a, T0 + timedelta(minutes=5), set(), (2, "changed")),
        "resolved": ([alert(fp="a", state="resolved", ends=T0)], sent_a, T0 + timedelta(hours=1), set(), (1, "resolved")),
        "repeat": ([a], sent_a, T0 + timedelta(hours=4), set(), (1, "repeat")),
        "repeat_acked": ([a], sent_a, T0 + timedelta(hours=4), {"a"}, (0, None)),
        "never_notified_resolved": ([alert(fp="z", state="resolved", ends=T0)], sent_a, T0 + timedelta(hours=1), set(), (0, None)),
    }
    alerts_, log, now, acked, (count, reason) = table[case]
    decision = decide_flush(alerts_, log, TIMING, now, acked)
    assert (len(decision.alerts), decision.reason) == (count, reason)
    if count:
        assert decision.log.sequence == (log.sequence if log else 0) + 1 and decision.log.last_sent_at == now


def test_new_group_remembers_first_seen_so_group_wait_counts_from_it():
    first = decide_flush([alert(fp="a")], None, TIMING, T0)
    assert first.alerts == () and first.log.first_seen_at == T0 and first.due_at == T0 + timedelta(seconds=30)
    assert decide_flush([alert(fp="a")], first.log, TIMING, T0 + timedelta(seconds=31)).reason == "new"


def _hash(a):
    from alerts.grouping import labels_hash
    return labels_hash(a)


def subject(level, previous=None, node=""):
    return RiskSubject(chain="batteries", node=node, level=level, score=80.0, summary_en="s", summary_zh="z",
                       previous_level=previous)


@pytest.mark.parametrize("rule, subjects, findings, expected", [
    (LevelChangeRule("rose", "chain", "orange"), [subject("red", "orange")], [], [("level_change", "red")]),
    (LevelChangeRule("rose", "chain", "orange"), [subject("orange", "red")], [], []),          # a fall
    (LevelChangeRule("rose", "chain", "orange"), [subject("yellow", "blue")], [], []),         # below min
    (LevelChangeRule("rose", "chain", "orange"), [subject("red", None)], [], []),              # first run
    (FindingRule("drop", ("stl_residual_down",)), [],
     [FindingEvent("batteries", "cells", "stl_residual_down", "s1", "orange", "drop", "下降", -40.0, 100.0, -5.1, "2025-12")],
     [("stl_residual_down", "orange")]),
    (FindingRule("drop", ("stl_residual_down",), min_level="red"), [],
     [FindingEvent("batteries", "cells", "stl_residual_down", "s1", "orange", "drop", "下降")], []),
    (FindingRule("drop", ("stl_residual_down",)), [],
     [FindingEvent("batteries", "cells", "stl_residual_up", "s1", "orange", "up", "上升")], []),
])
def test_rule_kinds(rule, subjects, findings, expected):
    got = evaluate_rules([rule], subjects, findings, SEVERITY)
    assert [(c.labels["kind"], c.labels["level"]) for c in got] == expected


def test_rule_severity_override():
    rule = LevelRule("r", "chain", "yellow", severity={"yellow": "critical", "orange": "critical", "red": "critical"})
    (candidate,) = evaluate_rules([rule], [subject("yellow")], [], SEVERITY)
    assert candidate.labels["severity"] == "critical"


def cand(for_runs=1):
    return AlertCandidate(labels={"alertname": "r", "chain": "c", "node": "", "kind": "risk_level",
                                  "severity": "critical"}, for_runs=for_runs)


@pytest.mark.parametrize("present, for_runs, hold, states", [
    ([1, 1, 1], 2, 0, ["pending", "firing", "firing"]),
    ([1, 0, 1, 1], 2, 0, ["pending", None, "pending", "firing"]),        # pending drops when the condition stops
    ([1, 0, 1, 0, 0], 1, 1, ["firing", "firing", "firing", "firing", "resolved"]),  # held one run, then resolves
    ([1, 0], 1, 0, ["firing", "resolved"]),
])
def test_lifecycle_for_and_hold(present, for_runs, hold, states):
    alerts_, got, now = {}, [], T0
    for step in present:
        result = reconcile(alerts_, [cand(for_runs)] if step else [], now, keep_firing_for={"r": hold})
        alerts_ = result.alerts
        got.append(next(iter(alerts_.values())).state if alerts_ else None)
        now += timedelta(days=1)
    assert got == states


def test_pending_alert_keeps_its_start_when_it_fires():
    first = reconcile({}, [cand(2)], T0).alerts
    fired = reconcile(first, [cand(2)], T0 + timedelta(days=1))
    assert [a.state for a in fired.changed] == ["firing"] and fired.changed[0].starts_at == T0


def test_feishu_signature_known_vector():
    # openssl: printf '' | openssl dgst -sha256 -mac HMAC -macopt hexkey:$(printf '1599360473\ndemo' | xxd -p) -binary | base64
    assert feishu_sign("demo", 1599360473) == "l1N0gAcBjdwBvGm1xMjOF0XSyaLRpR7tuO5dHfhAYc8="


def test_dingtalk_signature_known_vector():
    # openssl: printf '1577262236757\nSEC000' | openssl dgst -sha256 -hmac SEC000 -binary | base64, URL-encoded
    assert dingtalk_sign("SEC000", 1577262236757) == "0mUoy51oaZiRp9zSbtu3Gh7pbwvH33YBGob4MsxeXA4%3D"


def test_feishu_and_dingtalk_sign_at_send_time():
    now = datetime.fromtimestamp(1599360473, timezone.utc)
    request = feishu.prepare(b'{"msg_type":"text"}', "https://open.feishu.cn/hook/t", "demo", now)
    body = json.loads(request.body)
    assert body["timestamp"] == "1599360473" and body["sign"] == feishu_sign("demo", 1599360473)
    request = dingtalk.prepare(b"{}", "https://oapi.dingtalk.com/robot/send?access_token=t", "SEC000", now)
    assert request.url.endswith(f"&timestamp=1599360473000&sign={dingtalk_sign('SEC000', 1599360473000)}")


@pytest.mark.parametrize("check, answer, ok, retryable", [
    (dingtalk.INTEGRATION.check, b'{"errcode":0,"errmsg":"ok"}', True, False),
    (dingtalk.INTEGRATION.check, b'{"errcode":130101,"errmsg":"send too fast"}', False, True),
    (dingtalk.INTEGRATION.check, b'{"errcode":310000,"errmsg":"sign not match"}', False, False),
    (wecom.INTEGRATION.check, b'{"errcode":45009,"errmsg":"api freq out of limit"}', False, True),
    (feishu.INTEGRATION.check, b'{"code":0,"msg":"success"}', True, False),
    (feishu.INTEGRATION.check, b'{"code":19021,"msg":"sign match fail"}', False, False),
])
def test_platform_answers(check, answer, ok, retryable):
    outcome = check(answer)
    assert (outcome is None) is ok
    if outcome is not None:
        assert outcome.retryable is retryable


def test_token_bucket_20_per_minute():
    bucket = TokenBucket(20, 60.0)
    assert all(bucket.take(0.0) == 0.0 for _ in range(20))
    assert bucket.take(0.0) == pytest.approx(3.0)      # one token every 3 s
    assert bucket.take(3.0) == 0.0


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("max_bytes", [4096, 20000])
def test_messages_fit_the_platform_limit_with_a_note(language, max_bytes):
    many = [alert(node=f"node-{i:03d}", level="orange", fp=f"f{i}") for i in range(300)]
    text = render_text(many, {"chain": "batteries"}, language, "http://report.example", max_bytes)
    assert len(text.encode("utf-8")) <= max_bytes
    assert ("not shown" in text) if language == "en" else ("未显示" in text)
    body = wecom.render(RenderContext(many, "w", {"chain": "batteries"}, "{}", "", "", language, 4096, T0))
    assert len(body["markdown"]["content"].encode("utf-8")) <= 4096


def test_message_explains_the_alert():
    a = Alert(fingerprint="f", labels={"chain": "batteries", "node": "cells", "kind": "risk_level",
                                       "severity": "critical", "level": "red"},
              annotations={"summary": "Batteries / Cells is at red", "summary_zh": "电池 / 电芯 预警等级：红色",
                           "score": "90.0", "threshold": "red ≥ 85", "drivers": "top partner KOR 80% (+12 pp)",
                           "data_period": "2025-12", "level": "red"}, state="firing", starts_at=T0)
    en = render_text([a], {"chain": "batteries"}, "en", "http://r.example/report", 4096)
    zh = render_text([a], {"chain": "batteries"}, "zh", "http://r.example/report", 4096)
    for piece in ("cells", "red", "90.0", "red ≥ 85", "KOR 80%", "2025-12", "http://r.example/report"):
        assert piece in en
    assert "电芯" in zh and "红色" in zh and "数据期 2025-12" in zh and "查看报告" in zh
