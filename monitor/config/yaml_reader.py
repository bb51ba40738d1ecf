"""Parse configuration YAML with the limits a hostile or careless file needs.

``yaml.safe_load`` alone accepts an alias bomb (a few KB that expand to billions of
nodes), recurses once per nesting level (a RecursionError traceback at ~1,000 levels),
lets a duplicate key silently replace the first, and reads ``yes``/``on``/``no`` as
booleans (YAML 1.1), so ``hysteresis_runs: yes`` became 1. :func:`parse_yaml` refuses
the first three with a message naming the line, and resolves only ``true``/``false``
as booleans (YAML 1.2 core schema), so ``yes`` stays a string the models refuse.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

#: Deepest nesting of mappings and sequences accepted; the shipped files nest at most 8 deep.
MAX_DEPTH = 64
#: Most ``*alias`` references in one file; the shipped files use 1.
MAX_ALIASES = 100
#: Most nodes a document may have once every alias is expanded; the largest shipped file
#: (chains.yaml) has about 1,400, so this leaves room for catalogs 70 times larger.
MAX_EXPANDED_NODES = 100_000


class YamlProblem(ValueError):
    """The text is not YAML chainwatch accepts; the message names the line."""


class _Resolver(Resolver):
    """YAML 1.1 resolution except booleans, which are only true/false (YAML 1.2 core schema)."""


_Resolver.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in Resolver.yaml_implicit_resolvers.items()
}
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


class _BoundedComposer(Composer):
    """Composes nodes while counting nesting depth and alias references."""

    def __init__(self) -> None:
        super().__init__()
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:  # noqa: ANN401
        if self.check_event(AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise YamlProblem(f"line {mark.line + 1}: more than {MAX_ALIASES} aliases (*name)")
        self._depth += 1
        if self._depth > MAX_DEPTH:
            mark = self.peek_event().start_mark
            raise YamlProblem(f"line {mark.line + 1}: nested more than {MAX_DEPTH} levels deep")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _Constructor(SafeConstructor):
    """Refuses a key written twice in one mapping instead of keeping the last."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # merged keys may be overridden by the mapping's own: that is YAML's meaning
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                if key in seen:
                    raise YamlProblem(f"line {line}: duplicate key {key!r} (first at line {seen[key]})")
                seen[key] = line
            except TypeError:
                continue  # an unhashable key: SafeConstructor reports it
        return super().construct_mapping(node, deep=deep)


class _Loader(Reader, Scanner, Parser, _BoundedComposer, _Constructor, _Resolver):
    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        _BoundedComposer.__init__(self)
        _Constructor.__init__(self)
        _Resolver.__init__(self)


def _expanded_size(node: Node, memo: dict[int, int]) -> int:
    """Nodes in ``node`` with every alias expanded (an alias shares its anchor's node object)."""
    known = memo.get(id(node))
    if known is not None:
        return known
    size = 1
    if isinstance(node, SequenceNode):
        size += sum(_expanded_size(child, memo) for child in node.value)
    elif isinstance(node, MappingNode):
        size += sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    memo[id(node)] = size
    return size


def parse_yaml(text: str) -> Any:  # noqa: ANN401
    """The single document in ``text`` as Python values (None when empty).

    Raises
    ------
    YamlProblem
        Not valid YAML, nested deeper than :data:`MAX_DEPTH`, more than :data:`MAX_ALIASES`
        aliases or :data:`MAX_EXPANDED_NODES` nodes once expanded, or a duplicate key.
    """
    try:
        loader = _Loader(text)  # the reader refuses unprintable characters here already
    except yaml.YAMLError as err:
        raise YamlProblem(_describe(err)) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        size = _expanded_size(node, {})
        if size > MAX_EXPANDED_NODES:
            raise YamlProblem(f"aliases expand to {size:,} nodes, more than {MAX_EXPANDED_NODES:,} "
                              "(an alias bomb?)")
        return loader.construct_document(node)
    except YamlProblem:
        raise
    except ConstructorError as err:
        raise YamlProblem(_describe(err)) from None
    except yaml.YAMLError as err:
        raise YamlProblem(_describe(err)) from None
    finally:
        loader.dispose()


def _describe(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    if mark is not None:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return problem
