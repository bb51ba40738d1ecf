"""Token buckets: keep within a chat platform's message rate.

DingTalk and WeCom robots accept 20 messages per minute (DingTalk then blocks the
robot for 10 minutes), Feishu 100 per minute and 5 per second. A bucket holds up
to ``capacity`` tokens and gains ``capacity / period`` per second; a message takes
one. When the bucket is empty the dispatcher leaves the message queued for the
returned number of seconds instead of sending it, without counting an attempt.
Time is injected (monotonic seconds), so tests need no sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    """``capacity`` messages per ``period`` seconds, allowing bursts up to ``capacity``."""

    capacity: int
    period: float
    _tokens: float = field(init=False)
    _updated: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.capacity < 1 or self.period <= 0:
            raise ValueError(f"token bucket needs capacity >= 1 and period > 0, got {self.capacity}/{self.period}")
        self._tokens = float(self.capacity)

    def take(self, now: float) -> float:
        """Take a token at monotonic time ``now``: 0.0 if taken, else seconds until one is free."""
        if self._updated is not None:
            elapsed = max(0.0, now - self._updated)
            self._tokens = min(float(self.capacity), self._tokens + elapsed * self.capacity / self.period)
        self._updated = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) * self.period / self.capacity
