"""Config YAML parsing refuses alias bombs, deep nesting and duplicate keys, and reads only
true/false as booleans (issue 25, hardening)."""

from __future__ import annotations

import pytest
import yaml

from monitor.config.yaml_reader import MAX_ALIASES, MAX_DEPTH, YamlProblem, parse_yaml
from tests.conftest import CONFIG_DIR


def _bomb(levels: int) -> str:
    """The billion-laughs pattern: each level lists the previous one nine times (~6 KB at 9 levels)."""
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused():
    with pytest.raises(YamlProblem, match="alias bomb"):
        parse_yaml(_bomb(9))


def test_too_many_aliases_are_refused():
    text = "a: &a 1\nb: [" + ", ".join(["*a"] * (MAX_ALIASES + 1)) + "]\n"
    with pytest.raises(YamlProblem, match=f"more than {MAX_ALIASES} aliases"):
        parse_yaml(text)


def test_merge_key_alias_as_shipped_is_accepted():
    assert parse_yaml("a: &w {x: 1, y: 2}\nb: {<<: *w, y: 3}\n") == {"a": {"x": 1, "y": 2}, "b": {"x": 1, "y": 3}}


@pytest.mark.parametrize("text", ["a: " + "[" * 50_000 + "]" * 50_000, "a:\n" + "".join(
    " " * i + "- \n" for i in range(1, 200)) + " " * 200 + "- x\n"])
def test_deep_nesting_is_refused_without_recursion_error(text):
    with pytest.raises(YamlProblem, match=f"nested more than {MAX_DEPTH} levels deep"):
        parse_yaml(text)


def test_nesting_at_the_bound_is_accepted():
    value = parse_yaml("[" * MAX_DEPTH + "]" * MAX_DEPTH)
    depth = 0
    while isinstance(value, list):
        depth += 1
        value = value[0] if value else None
    assert depth == MAX_DEPTH


@pytest.mark.parametrize(("text", "line", "first"), [
    ("a: 1\nb: 2\na: 3\n", 3, 1),
    ("x:\n  - {k: 1, k: 2}\n", 2, 2),
])
def test_duplicate_key_names_both_lines(text, line, first):
    with pytest.raises(YamlProblem, match=f"^line {line}: duplicate key") as info:
        parse_yaml(text)
    assert f"first at line {first}" in str(info.value)


def test_yes_on_no_stay_strings_true_false_are_booleans():
    assert parse_yaml("a: yes\nb: on\nc: no\nd: off\ne: true\nf: False\n") == {
        "a": "yes", "b": "on", "c": "no", "d": "off", "e": True, "f": False}


def test_unprintable_characters_are_a_problem_not_a_reader_error():
    with pytest.raises(YamlProblem, match="unacceptable character #x001f"):
        parse_yaml("\x1f")


def test_broken_yaml_names_line_and_column():
    with pytest.raises(YamlProblem, match=r"^line 2, column 1: "):
        parse_yaml("a: [1\n")


def test_shipped_configs_read_as_safe_load_reads_them():
    for path in sorted(CONFIG_DIR.rglob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        assert parse_yaml(text) == yaml.safe_load(text), path
