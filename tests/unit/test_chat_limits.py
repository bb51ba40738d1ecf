"""Chat receivers within platform limits (#23 item 5), the pure parts: sliding windows per
bot, digests instead of drops, @mentions in each platform's format, Slack text escaped.

Time is an injected number of seconds: nothing sleeps. The outbox dispatcher using them
is tested on both backends in tests/integration/test_chat_limits.py.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from alerts.integrations import RenderContext
from alerts.model import Alert
from alerts.receivers import INTEGRATIONS
from alerts.templates import title
from alerts.ratelimit import CHAT_LIMITS, DigestQueue, SlidingWindow, TokenBucket, chat_window

T0 = datetime(2026, 1, 15, 4, 0, tzinfo=timezone.utc)
CHAT_KINDS = ("dingtalk", "wecom", "feishu", "slack")


def alert(i: int, summary: str | None = None) -> Alert:
    labels = {"alertname": "r", "chain": f"chain-{i}", "node": "", "kind": "risk_level", "severity": "critical",
              "level": "red"}
    return Alert(fingerprint=f"fp-{i}", labels=labels,
                 annotations={"summary": summary or f"chain {i} red", "level": "red", "score": "90.0"},
                 state="firing", starts_at=T0, ends_at=None)


def context(alerts, **kw) -> RenderContext:
    return RenderContext(alerts=alerts, receiver="bot", group_labels={"chain": alerts[0].labels["chain"]},
                         route_key="{}", external_url="https://cw.example", report_url="https://cw.example/r?a=1&b=2",
                         language=kw.pop("language", "en"), max_bytes=kw.pop("max_bytes", 4_096), now=T0, **kw)


def drain(queue: DigestQueue, arrivals: dict[float, list], until: float, step: float = 0.05) -> list[tuple[float, object]]:
    """Run the queue on a fake clock: push what arrives, release what may go."""
    sent, now = [], 0.0
    while now <= until:
        for message in arrivals.get(round(now, 2), []):
            queue.push(message)
        sent += [(now, m) for m in queue.release(now)]
        now = round(now + step, 2)
    return sent


def flatten(message) -> list[int]:
    return [x for part in message for x in flatten(part)] if isinstance(message, list) else [message]


def assert_within(sent_times: list[float], limits) -> None:
    for n, seconds in limits:
        for i, start in enumerate(sent_times):
            in_window = [t for t in sent_times[i:] if t < start + seconds]
            assert len(in_window) <= n, f"{len(in_window)} sends within {seconds}s from t={start} (limit {n})"


def test_a_full_token_bucket_breaks_the_per_minute_limit_that_the_sliding_window_keeps():
    bucket, window = TokenBucket(20, 60.0), SlidingWindow(((20, 60.0),))
    times = [t / 10 for t in range(600)]  # one try every 0.1 s for a minute
    assert sum(bucket.take(t) == 0.0 for t in times) == 39  # the old limiter: 20 at once, then one every 3 s
    assert sum(window.take(t) == 0.0 for t in times) == 20


@pytest.mark.parametrize("kind", CHAT_KINDS)
@pytest.mark.parametrize("spread", [0.0, 0.5], ids=["all-at-once", "one-every-half-second"])
def test_a_burst_of_60_keeps_every_limit_and_loses_nothing(kind, spread):
    queue = DigestQueue(chat_window(kind), merge=list)
    arrivals: dict[float, list] = {}
    for i in range(60):
        arrivals.setdefault(round(i * spread, 2), []).append(i)
    sent = drain(queue, arrivals, until=400.0)
    assert_within([t for t, _ in sent], CHAT_LIMITS[kind])
    delivered = [x for _, m in sent for x in flatten(m)]
    assert sorted(delivered) == list(range(60))  # every notification, once
    assert len(queue) == 0
    held_back = not (kind == "feishu" and spread)  # 2 a second, 60 a minute: within Feishu's limits
    assert any(isinstance(m, list) for _, m in sent) == held_back  # what the limit held back went as a digest


def test_rate_per_minute_lowers_the_platform_limit_but_keeps_its_per_second_one():
    window = chat_window("feishu", per_minute=30)
    assert window.limits == ((30, 60.0), (5, 1.0))
    assert chat_window("webhook") is None


@pytest.mark.parametrize("kind", CHAT_KINDS)
def test_platform_digest_holds_every_held_back_message_within_the_size_limit(kind):
    integration = INTEGRATIONS[kind]
    bodies = [json.loads(json.dumps(integration.render(context([alert(i)], max_bytes=integration.max_bytes))))
              for i in range(40)]
    digest = integration.digest(bodies, "en")
    text = json.dumps(digest, ensure_ascii=False)
    assert "Digest of 40 notifications" in text
    assert all(f"chain-{i}" in text for i in range(40))  # each message at least by its title line
    content = {"dingtalk": lambda d: d["markdown"]["text"], "wecom": lambda d: d["markdown"]["content"],
               "feishu": lambda d: d["card"]["elements"][0]["content"], "slack": lambda d: d["text"]}[kind](digest)
    assert len(content.encode()) <= integration.max_bytes


def test_dingtalk_mentions_in_at_and_in_the_text():
    body = INTEGRATIONS["dingtalk"].render(context([alert(1)], mentions=("13800000000", "manager01"),
                                                   mention_all=True))
    assert body["at"] == {"atMobiles": ["13800000000"], "atUserIds": ["manager01"], "isAtAll": True}
    assert body["markdown"]["text"].endswith("@13800000000 @manager01")
    assert "at" not in INTEGRATIONS["dingtalk"].render(context([alert(1)]))


def test_feishu_and_wecom_mentions_in_their_markup():
    card = INTEGRATIONS["feishu"].render(context([alert(1)], mentions=("ou_abc123",), mention_all=True))
    assert card["card"]["elements"][0]["content"].endswith("<at id=all></at> <at id=ou_abc123></at>")
    wecom = INTEGRATIONS["wecom"].render(context([alert(1)], mentions=("zhangsan", "lisi")))
    assert wecom["markdown"]["content"].endswith("<@zhangsan> <@lisi>")
    assert len(wecom["markdown"]["content"].encode()) <= 4_096


def test_slack_text_is_escaped_but_its_link_markup_is_not():
    body = INTEGRATIONS["slack"].render(context([alert(1, summary="R&D <!channel> > 50%")]))
    assert "R&amp;D &lt;!channel&gt; &gt; 50%" in body["text"]
    assert "<!channel>" not in body["text"]
    assert "<https://cw.example/r?a=1&b=2|Report>" in body["text"]


def test_release_next_sends_one_by_one_then_merges_at_the_last_free_slot():
    queue = DigestQueue(SlidingWindow(((3, 60.0),)), merge=list)
    for i in range(5):
        queue.push(i)
    assert [queue.release_next(0.0), queue.release_next(0.0)] == [0, 1]
    assert queue.release_next(0.0) == [2, 3, 4]  # the third and last slot carries everything that waits
    assert queue.release_next(0.0) is None and queue.waiting() == []
    queue.push(5)
    assert queue.release_next(30.0) is None and queue.waiting() == [5]  # full until the first send leaves
    assert queue.next_release(30.0) == 30.0
    assert queue.release_next(60.0) == 5



def test_titles_name_the_chain_and_node_for_people_not_their_ids():
    named = Alert(fingerprint="fp", labels={"alertname": "r", "chain": "batteries", "node": "cells-packs",
                                            "kind": "risk_level", "severity": "critical", "level": "red"},
                  annotations={"chain_name": "Batteries", "chain_name_zh": "电池", "node_name": "Cells and packs",
                               "node_name_zh": "电芯与电池包"}, state="firing", starts_at=T0, ends_at=None)
    group = {"chain": "batteries", "node": "cells-packs"}
    assert title([named], group, "en") == "[FIRING:1] Chain Batteries, Cells and packs"
    assert title([named], group, "zh") == "[告警:1] 产业链 电池, 电芯与电池包"
