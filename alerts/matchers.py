"""Label matchers, as in Alertmanager: ``name=value``, ``!=``, ``=~`` (regex), ``!~``.

Used by silences, inhibition rules and routes. A label an alert lacks matches as
the empty string (Alertmanager's rule), so ``node=""`` selects chain-level alerts.
Regular expressions are anchored at both ends, as in Prometheus.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

OPERATORS = ("=~", "!~", "!=", "=")
_PARSE = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$', re.S)


class MatcherError(ValueError):
    """A matcher could not be parsed or its regular expression is invalid."""


@dataclass(frozen=True)
class Matcher:
    """One condition on one label."""

    name: str
    op: str
    value: str
    _regex: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.op not in OPERATORS:
            raise MatcherError(f"matcher {self.name!r}: operator must be one of {', '.join(OPERATORS)}, got {self.op!r}")
        if self.op in ("=~", "!~"):
            try:
                object.__setattr__(self, "_regex", re.compile(f"(?:{self.value})\\Z", re.S))
            except re.error as err:
                raise MatcherError(f"matcher {self.name}{self.op}{self.value!r}: invalid regular expression: {err}") from None

    @classmethod
    def parse(cls, text: str) -> "Matcher":
        """Parse ``name=value``, ``name!="value"``, ``name=~"re"`` or ``name!~re``.

        Raises:
            MatcherError: naming the text when it is not a matcher.
        """
        found = _PARSE.match(text)
        if not found:
            raise MatcherError(f"{text!r} is not a matcher (expected name=value, name!=value, name=~regex or name!~regex)")
        name, op, value = found.groups()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        return cls(name, op, value)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """True if ``labels`` satisfy this matcher (a missing label counts as ``""``)."""
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        assert self._regex is not None
        hit = self._regex.match(actual) is not None
        return hit if self.op == "=~" else not hit

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.name}{self.op}"{escaped}"'


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """True if every matcher matches (an empty list matches everything)."""
    return all(m.matches(labels) for m in matchers)


def format_matchers(matchers: Iterable[Matcher]) -> str:
    """``{a="1", b=~"x.*"}``: the form Alertmanager uses in route keys."""
    return "{" + ", ".join(str(m) for m in matchers) + "}"
