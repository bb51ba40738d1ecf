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
# One matcher: a label name, an operator, and a double-quoted value (with \" and \\
# escapes) or an unquoted one (up to a comma or space).
_ONE = r'([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|[^\s,"]*)'
_MATCHER = re.compile(_ONE, re.S)
_SEPARATOR = re.compile(r"\s*,?\s*")

#: Labels every alert carries with a non-empty value (``node`` is "" on chain-level alerts).
NON_EMPTY_LABELS = ("chain", "kind", "severity")
# Values a catch-all regex must match; a pattern matching all of them is treated as matching anything.
_PROBES = ("a", "Z", "0", "_", "-", ".", "batteries", "critical-minerals", "chain/node", "x y", "x\ny", "中文",
           "a" * 200)


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
        """Parse one matcher: ``name=value``, ``name!="value"``, ``name=~"re"`` or ``name!~re``.

        Raises:
            MatcherError: naming the text when it is not exactly one matcher (several in
            one string, e.g. ``chain="x" node="y"``, are refused: see :func:`parse_matchers`).
        """
        parsed = parse_matchers(text)
        if len(parsed) != 1:
            raise MatcherError(f"{text!r} holds {len(parsed)} matchers; give one matcher per item")
        return parsed[0]

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


def parse_matchers(text: str) -> list[Matcher]:
    """Every matcher in ``text``: one, or several separated by commas or spaces, optionally
    in braces as Alertmanager writes them (``{chain="x", node="y"}``, ``chain="x" node="y"``).

    Raises:
        MatcherError: naming the text and where parsing stopped.
    """
    body = text.strip()
    if body.startswith("{") and body.endswith("}"):
        body = body[1:-1]
    found: list[Matcher] = []
    pos = _SEPARATOR.match(body, 0).end()
    while pos < len(body):
        match = _MATCHER.match(body, pos)
        if not match:
            raise MatcherError(f"{text!r} is not a matcher list: cannot read from {body[pos:pos + 20]!r} (expected "
                               'name=value, name!=value, name=~regex or name!~regex, e.g. chain="batteries")')
        name, op, value = match.groups()
        if value.startswith('"'):
            value = re.sub(r'\\(["\\])', r"\1", value[1:-1])  # \" and \\; a regex's \d stays
        found.append(Matcher(name, op, value))
        end = match.end()
        if body.startswith('"', end):
            raise MatcherError(f"{text!r}: a quoted value after {body[match.start():end]!r} has no closing quote")
        pos = _SEPARATOR.match(body, end).end()
        if pos == end and pos < len(body):
            raise MatcherError(f"{text!r}: expected a comma or space after {body[match.start():end]!r}")
    if not found:
        raise MatcherError(f"{text!r} is not a matcher (expected name=value, name!=value, name=~regex or name!~regex)")
    return found


def matches_every_value(matcher: Matcher) -> bool:
    """True if ``matcher`` matches whatever value its label has on any alert.

    For a label in :data:`NON_EMPTY_LABELS` that is every non-empty string (so
    ``chain!=""`` and ``chain=~".+"`` qualify); for others also the empty string (a
    missing label). Exact for ``=`` and ``!=``; a ``=~`` regex qualifies when it matches
    a set of varied probe values, a ``!~`` one when it can match no non-empty string.
    """
    non_empty = matcher.name in NON_EMPTY_LABELS
    if matcher.op == "=":
        return False
    if matcher.op == "!=":
        return non_empty and matcher.value == ""
    if matcher.op == "=~":
        return all(matcher.matches({matcher.name: probe}) for probe in _PROBES + (() if non_empty else ("",)))
    # "!~": the regex matches at most the empty string (largest match width 0). re's own
    # parser gives the width; it has no public name.
    import re._parser as sre_parser

    if sre_parser.parse(matcher.value).getwidth()[1] > 0:
        return False
    return non_empty or matcher.matches({})  # a regex matching nothing, not even ""


def matches_every_alert(matchers: Iterable[Matcher]) -> bool:
    """True if a set of matchers (all must match) selects every alert, whatever the operators."""
    return all(matches_every_value(m) for m in matchers)


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """True if every matcher matches (an empty list matches everything)."""
    return all(m.matches(labels) for m in matchers)


def format_matchers(matchers: Iterable[Matcher]) -> str:
    """``{a="1", b=~"x.*"}``: the form Alertmanager uses in route keys."""
    return "{" + ", ".join(str(m) for m in matchers) + "}"
