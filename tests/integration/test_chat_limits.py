"""Chat receivers within platform limits (#23 item 5) in the outbox dispatcher, on both
backends: a burst of 60 notifications per bot keeps every sliding-window limit and reaches
the bot whole (one by one or inside digests), a digest's rows are delivered together and
only once it was acknowledged (a death mid-digest loses nothing), @mentions reach the
message; and chat receiver config errors are one clear line.

Time is an injected clock (datetime for the outbox, seconds for the windows): nothing
sleeps. The pure parts (window, digest queue, platform rendering) are in
tests/unit/test_chat_limits.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone

import httpx
import pytest
import yaml
from sqlalchemy import select

from alerts.integrations import RenderContext
from alerts.model import Alert
from alerts.ratelimit import CHAT_LIMITS
from alerts.receivers import INTEGRATIONS
from monitor.assess.assessment import AssessmentResult, ChainAssessment, Judgement, NodeAssessment
from monitor.config.loader import ConfigError, load_config
from monitor.clock import as_utc
from monitor.config.models import AlertsFile
from monitor.notify.alerting import AlertPipeline
from monitor.store.alert_store import QueuedNotification, enqueue
from monitor.store.tables import OutboxMessage
from tests.conftest import CONFIG_DIR

BOTS = {"ding": "dingtalk", "wecom": "wecom", "feishu": "feishu"}
T0 = datetime(2026, 1, 15, 4, 0, tzinfo=timezone.utc)
REPLIES = {"dingtalk": b'{"errcode":0}', "wecom": b'{"errcode":0}', "feishu": b'{"code":0}'}


class Killed(BaseException):
    """The process dying while a request is in flight (nothing after it runs)."""


class Bots:
    """Chat platforms behind ``httpx.MockTransport``: every request with its (injected) time."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.requests: list[tuple[float, str, dict]] = []  # (seconds, bot, body)
        self.kill_on_digest = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if self.kill_on_digest and "Digest of" in json.dumps(body, ensure_ascii=False):
            self.kill_on_digest = False
            raise Killed()
        bot = request.url.host.split(".")[0]
        self.requests.append((self.seconds(), bot, body))
        return httpx.Response(200, content=REPLIES[BOTS[bot]])


def _config(**receiver_settings):
    base = load_config(CONFIG_DIR, environ={})
    alerts = yaml.safe_load((CONFIG_DIR / "alerts.yaml").read_text(encoding="utf-8"))
    alerts["receivers"] = [{"name": bot, "kind": kind, "url": f"https://{bot}.example/robot?token=t",
                            **receiver_settings.get(kind, {})} for bot, kind in BOTS.items()]
    alerts["default_receivers"] = list(BOTS)
    return base.model_copy(update={"alerts": AlertsFile.model_validate(alerts)})


def _pipeline(config, sessions, clock, bots: Bots) -> AlertPipeline:
    return AlertPipeline(config, sessions, httpx.Client(transport=httpx.MockTransport(bots)), clock,
                         monotonic=bots.seconds)


def _body(kind: str, i: int) -> str:
    """Notification ``i`` as the platform's body; ``chain-0NN`` names it in every rendering."""
    alert = Alert(fingerprint=f"fp-{i}", labels={"alertname": "r", "chain": f"chain-{i:03d}", "node": "",
                                                 "kind": "risk_level", "severity": "critical", "level": "red"},
                  annotations={"summary": f"chain-{i:03d} is red", "level": "red", "score": "90"},
                  state="firing", starts_at=T0, ends_at=None)
    integration = INTEGRATIONS[kind]
    ctx = RenderContext(alerts=[alert], receiver="bot", group_labels={"chain": f"chain-{i:03d}"}, route_key="{}",
                        external_url="https://cw.example", report_url="https://cw.example/reports/latest",
                        language="en", max_bytes=integration.max_bytes, now=T0)
    return json.dumps(integration.render(ctx), ensure_ascii=False)


def _enqueue(sessions, now, numbers) -> None:
    with sessions.begin() as session:
        enqueue(session, [QueuedNotification(idempotency_key=f"{bot}-{i}", receiver=bot, group_key=f"g{i}",
                                             body=_body(kind, i)) for bot, kind in BOTS.items() for i in numbers],
                now)


def as_seconds(moment, start) -> float:
    return (as_utc(moment) - start).total_seconds()


def _outbox(sessions) -> list[OutboxMessage]:
    with sessions() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def _assert_within(times: list[float], limits) -> None:
    for n, seconds in limits:
        for i, start in enumerate(times):
            in_window = [t for t in times[i:] if t < start + seconds]
            assert len(in_window) <= n, f"{len(in_window)} sends within {seconds}s from t={start} (limit {n})"


@pytest.mark.parametrize("spread", [0.0, 0.5], ids=["all-at-once", "one-every-half-second"])
def test_a_burst_of_60_keeps_every_limit_and_reaches_every_bot_whole(sessions, clock, spread):
    start = clock.now
    bots = Bots(lambda: (clock.now - start).total_seconds())
    pipeline = _pipeline(_config(), sessions, clock, bots)
    arrivals: dict[float, list[int]] = {}
    for i in range(60):
        arrivals.setdefault(i * spread, []).append(i)
    for _ in range(500):  # dispatcher passes, each at the next arrival or the next due outbox row
        waiting = [as_seconds(m.next_attempt_at, start) for m in _outbox(sessions) if m.status == "pending"]
        if not arrivals and not waiting:
            break
        now = min([*arrivals, *waiting])
        clock.now = start + timedelta(seconds=now)
        for t in [t for t in arrivals if t <= now]:
            _enqueue(sessions, clock.now, arrivals.pop(t))
        pipeline.deliver_due()
    assert all(m.status == "delivered" and m.attempts == 1 for m in _outbox(sessions))  # 180 rows
    for bot, kind in BOTS.items():
        sent = [(t, json.dumps(body, ensure_ascii=False)) for t, b, body in bots.requests if b == bot]
        _assert_within([t for t, _ in sent], CHAT_LIMITS[kind])
        for i in range(60):  # every notification reached the bot once, alone or inside a digest
            assert sum(f"chain-{i:03d}" in text for _, text in sent) == 1, (bot, i)
        digests = [text for _, text in sent if "Digest of" in text]
        assert bool(digests) == (kind != "feishu" or not spread)  # 2 a second stay within Feishu's limits


def test_a_death_mid_digest_leaves_every_row_pending_and_a_restart_delivers_them_once(sessions, clock):
    start = clock.now
    bots = Bots(lambda: (clock.now - start).total_seconds())
    _enqueue(sessions, clock.now, range(30))
    bots.kill_on_digest = True
    with pytest.raises(Killed):
        _pipeline(_config(), sessions, clock, bots).deliver_due()
    rows = [m for m in _outbox(sessions) if m.receiver == "ding"]
    delivered = [m for m in rows if m.status == "delivered"]
    assert len(delivered) == 19  # the ones sent alone before the digest
    held = [m for m in rows if m.status == "pending"]
    assert len(held) == 11 and all(m.attempts == 1 and m.claimed_until is not None for m in held)
    # A new process (its window empty, as after a restart) once the lease lapsed: the same rows, once more.
    clock.now += timedelta(minutes=2)
    _pipeline(_config(), sessions, clock, bots).deliver_due()
    assert all(m.status == "delivered" for m in _outbox(sessions))
    texts = [json.dumps(body, ensure_ascii=False) for _, bot, body in bots.requests if bot == "ding"]
    assert all(sum(f"chain-{i:03d}" in text for text in texts) == 1 for i in range(30))


def _assessment() -> AssessmentResult:
    """A red chain outside the catalog (so it goes to ``default_receivers``: every bot)."""
    node = NodeAssessment(chain="unlisted", node="cells-packs", name_en="Cells", name_zh="电芯", criticality=1.0,
                          own_score=75.0, judgement=Judgement(75.0, "orange", "orange", 0, 1.0),
                          dimensions={"concentration": 75.0}, drivers=[])
    chain = ChainAssessment(chain="unlisted", name_en="Batteries", name_zh="电池",
                            judgement=Judgement(90.0, "red", "red", 0, 1.0), nodes=[node])
    return AssessmentResult(run_id=1, as_of=date(2025, 12, 1), chains=[chain], findings=[])


def test_mentions_from_the_receiver_config_reach_the_message(sessions, clock):
    start = clock.now
    bots = Bots(lambda: (clock.now - start).total_seconds())
    config = _config(dingtalk={"mentions": ["13800000000", "manager01"], "mention_all": True},
                     feishu={"mentions": ["ou_abc123"]}, wecom={"mentions": ["zhangsan"]})
    pipeline = _pipeline(config, sessions, clock, bots)
    pipeline.evaluate(_assessment())
    pipeline.deliver_due()
    bodies = {bot: body for _, bot, body in bots.requests}
    assert bodies["ding"]["at"] == {"atMobiles": ["13800000000"], "atUserIds": ["manager01"], "isAtAll": True}
    assert bodies["ding"]["markdown"]["text"].endswith("@13800000000 @manager01")
    assert bodies["feishu"]["card"]["elements"][0]["content"].endswith("<at id=ou_abc123></at>")
    assert bodies["wecom"]["markdown"]["content"].endswith("<@zhangsan>")


@pytest.fixture
def config_dir(tmp_path):
    target = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, target)
    return target


def _with_receiver(config_dir, receiver: dict) -> None:
    path = config_dir / "alerts.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["receivers"].append({"name": "bot", "url": "https://oapi.example/robot?access_token=t", **receiver})
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")


@pytest.mark.parametrize(("receiver", "message"), [
    ({"kind": "dingtalk", "rate_per_minute": 30}, "rate_per_minute 30 is above DingTalk's limit of 20 messages a minute"),
    ({"kind": "slack", "mentions": ["U123"]}, "mentions and mention_all are not supported for slack receivers"),
    ({"kind": "wecom", "mention_all": True}, "mention_all is not supported for wecom receivers"),
    ({"kind": "feishu", "mentions": ["ou a"]}, "mentions must be ids or mobile numbers without spaces"),
])
def test_chat_receiver_config_errors_are_one_clear_line(config_dir, receiver, message):
    _with_receiver(config_dir, receiver)
    with pytest.raises(ConfigError) as info:
        load_config(config_dir, environ={})
    problems = [p for p in info.value.problems if message in p]
    assert len(problems) == 1 and "\n" not in problems[0] and problems[0].startswith("alerts.yaml: receivers[")


def test_a_mention_config_loads_and_a_bad_one_exits_2(config_dir, tmp_path):
    _with_receiver(config_dir, {"kind": "feishu", "mentions": ["ou_abc123"], "mention_all": True})
    receiver = next(r for r in load_config(config_dir, environ={}).alerts.receivers if r.name == "bot")
    assert (receiver.mentions, receiver.mention_all) == (["ou_abc123"], True)
    _with_receiver(config_dir, {"kind": "dingtalk", "name": "bot2", "rate_per_minute": 25})
    proc = subprocess.run([sys.executable, "-m", "monitor.cli.main", "check-config", "--config", str(config_dir)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "rate_per_minute 25 is above DingTalk's limit of 20 messages a minute per bot" in proc.stderr
