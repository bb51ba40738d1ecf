"""Matcher lists in one string, and matcher sets that would silence every alert (issue 25)."""

from __future__ import annotations

import pytest

from alerts.matchers import Matcher, MatcherError, matches_every_alert, parse_matchers
from alerts.silences import refuse_catch_all


@pytest.mark.parametrize("text", ['chain="x" node="y"', 'chain="x",node="y"', 'chain="x", node="y"',
                                  '{chain="x", node="y"}', "chain=x node=y"])
def test_several_matchers_in_one_string_are_parsed_as_several(text):
    assert [(m.name, m.op, m.value) for m in parse_matchers(text)] == [("chain", "=", "x"), ("node", "=", "y")]


def test_quoted_values_keep_commas_spaces_and_escaped_quotes():
    (matcher,) = parse_matchers(r'node=~"a, b \"c\"\\d"')
    assert (matcher.op, matcher.value) == ("=~", 'a, b "c"\\d')
    assert Matcher.parse(str(matcher)) == matcher  # the stored form reads back the same


def test_one_matcher_where_one_is_expected():
    with pytest.raises(MatcherError, match="holds 2 matchers; give one matcher per item"):
        Matcher.parse('chain="x" node="y"')  # was one matcher with value 'x" node="y'


@pytest.mark.parametrize(("text", "message"), [
    ('chain="x" node', "cannot read from 'node'"),
    ('chain="x"node="y"', "expected a comma or space after"),
    ('chain="unterminated', "has no closing quote"),
    ("", "is not a matcher"),
])
def test_malformed_matcher_lists_are_refused_with_a_message(text, message):
    with pytest.raises(MatcherError, match=message):
        parse_matchers(text)


@pytest.mark.parametrize("text", ['chain!=""', 'chain=~".*"', 'chain=~".+"', 'chain!~""', 'chain!~"^$"',
                                  'chain!~"(?!)"', 'severity!=""', 'node=~".*"', 'chain!="" node=~".*"',
                                  'chain=~"[\\s\\S]*"'])
def test_matcher_sets_that_select_every_alert_are_refused_whatever_the_operator(text):
    matchers = parse_matchers(text)
    assert matches_every_alert(matchers)
    with pytest.raises(ValueError, match="match every alert"):
        refuse_catch_all(matchers)


@pytest.mark.parametrize("text", ['chain="batteries"', 'chain!="batteries"', 'chain!~"zzz"', 'chain=~"[a-z].*"',
                                  'node!=""', 'node=~".+"', 'chain!="" node="cells"', 'kind=~"risk.*"'])
def test_matcher_sets_that_leave_some_alert_out_are_accepted(text):
    matchers = parse_matchers(text)
    assert not matches_every_alert(matchers)
    refuse_catch_all(matchers)


def test_regex_escapes_in_quoted_values_are_kept():
    (matcher,) = parse_matchers(r'node=~"cells\d+"')
    assert matcher.value == r"cells\d+" and matcher.matches({"node": "cells42"})
