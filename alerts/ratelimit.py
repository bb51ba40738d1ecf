"""Rate limits of outgoing requests: token buckets for sources, sliding windows for chat bots.

One home for every limiter chainwatch has (collectors and receivers alike; it is in
``alerts/`` because ``alerts/`` may not import ``monitor/``). Time is injected
(monotonic seconds), so tests need no sleeping.

- :class:`TokenBucket`: up to ``capacity`` at once, then ``capacity / period`` per
  second. Right for a data source's API (a polite average rate). :meth:`~TokenBucket.take`
  takes a token or says how long until one is free; :meth:`~TokenBucket.reserve`
  takes it anyway and says how long to sleep first (the collectors' client).
- :class:`SlidingWindow`: at most ``n`` sends in *any* window of ``seconds``, for
  every (n, seconds) limit at once. Right for chat robots, whose platforms count
  messages per window: a full token bucket of 20/min lets 20 out at once and then one
  every 3 s, 39 in the first minute against DingTalk's and WeCom's 20.
- :class:`DigestQueue`: one chat bot's messages behind a :class:`SlidingWindow`;
  what the window holds back is merged into one digest when it may go, never dropped.

Platform limits (:data:`CHAT_LIMITS`): DingTalk and WeCom robots 20 messages a
minute (DingTalk then blocks the robot for 10 minutes), Feishu bots 100 a minute and
5 a second, Slack incoming webhooks about one a second.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["CHAT_LIMITS", "Limits", "TokenBucket", "SlidingWindow", "DigestQueue", "chat_window"]

Limits = tuple[tuple[int, float], ...]
"""(messages, per seconds) pairs, every one of which holds."""

#: The documented limits of each chat platform, per bot (webhook URL).
CHAT_LIMITS: dict[str, Limits] = {
    "dingtalk": ((20, 60.0),),
    "wecom": ((20, 60.0),),
    "feishu": ((100, 60.0), (5, 1.0)),
    "slack": ((60, 60.0), (1, 1.0)),
}


@dataclass
class TokenBucket:
    """``capacity`` requests per ``period`` seconds, allowing bursts up to ``capacity``."""

    capacity: int
    period: float
    _tokens: float = field(init=False)
    _updated: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.capacity < 1 or self.period <= 0:
            raise ValueError(f"token bucket needs capacity >= 1 and period > 0, got {self.capacity}/{self.period}")
        self._tokens = float(self.capacity)

    def _refill(self, now: float) -> None:
        if self._updated is not None:
            elapsed = max(0.0, now - self._updated)
            self._tokens = min(float(self.capacity), self._tokens + elapsed * self.capacity / self.period)
        self._updated = now

    def take(self, now: float) -> float:
        """Take a token at monotonic time ``now``: 0.0 if taken, else seconds until one is free."""
        self._refill(now)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) * self.period / self.capacity

    def reserve(self, now: float) -> float:
        """Take a token at ``now`` even if none is there yet; returns the seconds to wait before using it."""
        self._refill(now)
        self._tokens -= 1.0
        return max(0.0, -self._tokens * self.period / self.capacity)


class SlidingWindow:
    """At most ``n`` sends in any ``seconds``-long window, for every ``(n, seconds)`` in ``limits``.

    :meth:`take` has :class:`TokenBucket`'s interface, so either can guard a receiver.
    """

    def __init__(self, limits: Limits) -> None:
        limits = tuple((int(n), float(s)) for n, s in limits)
        if not limits or any(n < 1 or s <= 0 for n, s in limits):
            raise ValueError(f"a sliding window needs limits of n >= 1 per seconds > 0, got {limits!r}")
        self.limits = limits
        self._sent: deque[float] = deque()  # send times, oldest first
        self._span = max(s for _, s in limits)

    def _forget(self, now: float) -> None:
        while self._sent and self._sent[0] <= now - self._span:
            self._sent.popleft()

    def room(self, now: float) -> int:
        """How many more sends every limit allows at ``now``."""
        self._forget(now)
        return min(n - sum(1 for t in self._sent if t > now - s) for n, s in self.limits)

    def wait(self, now: float) -> float:
        """Seconds from ``now`` until one more send keeps every limit (0.0: now)."""
        self._forget(now)
        wait = 0.0
        for n, seconds in self.limits:
            recent = [t for t in self._sent if t > now - seconds]
            if len(recent) >= n:
                # the send that must leave the window first is the n-th most recent
                wait = max(wait, recent[-n] + seconds - now)
        return wait

    def take(self, now: float) -> float:
        """Record a send at ``now`` if every limit allows it (returns 0.0), else the seconds to wait."""
        wait = self.wait(now)
        if wait <= 0.0:
            self._sent.append(now)
            return 0.0
        return wait


def chat_window(kind: str, per_minute: int | None = None) -> SlidingWindow | None:
    """The :class:`SlidingWindow` of a chat receiver kind (None for kinds without a limit).

    ``per_minute`` (a receiver's ``rate_per_minute``) lowers the per-minute limit; it
    never raises it above the platform's, and the per-second limits stay.
    """
    limits = CHAT_LIMITS.get(kind)
    if limits is None:
        return None if per_minute is None else SlidingWindow(((per_minute, 60.0),))
    if per_minute is not None:
        limits = tuple((min(n, per_minute), s) if s == 60.0 else (n, s) for n, s in limits)
    return SlidingWindow(limits)


M = TypeVar("M")


class DigestQueue(Generic[M]):
    """One chat bot's outgoing messages behind its :class:`SlidingWindow`; nothing is dropped.

    ``push`` queues a message; ``release(now)`` returns what may be sent now. While the
    window has room, messages go out one by one in order; when more than one message
    waits for the next free slot, they all go out in that slot as one digest
    (``merge(messages)``), so a burst costs the bot one message, not one per alert.
    """

    def __init__(self, window: SlidingWindow, merge: Callable[[Sequence[M]], M]) -> None:
        self.window = window
        self._merge = merge
        self._waiting: list[M] = []

    def __len__(self) -> int:
        return len(self._waiting)

    def waiting(self) -> list[M]:
        """The messages still queued, oldest first."""
        return list(self._waiting)

    def push(self, message: M) -> None:
        """Queue ``message`` (it leaves with the next :meth:`release` that has room)."""
        self._waiting.append(message)

    def next_release(self, now: float) -> float | None:
        """Seconds until :meth:`release` will send something (None: nothing waits)."""
        return self.window.wait(now) if self._waiting else None

    def release_next(self, now: float) -> M | None:
        """The next message to send at ``now`` (a digest when it takes the last free slot),
        already counted in the window; None when nothing waits or the window is full.

        A sender that takes time per message calls this before each send, so every
        send is counted at the moment it leaves.
        """
        if not self._waiting or self.window.wait(now) > 0.0:
            return None
        if self.window.room(now) > 1 or len(self._waiting) == 1:
            message = self._waiting.pop(0)  # room for more: send it as it is
        else:  # the last free slot for now: everything that waits goes in one digest
            message = self._merge(self._waiting)
            self._waiting = []
        self.window.take(now)
        return message

    def release(self, now: float) -> list[M]:
        """The messages to send at ``now``, each already counted in the window."""
        out: list[M] = []
        while (message := self.release_next(now)) is not None:
            out.append(message)
        return out
