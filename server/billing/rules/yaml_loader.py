"""A YAML reader fit for money rules.

Built on PyYAML's composer so that every value keeps the line and column it came from, with
a resolver narrower than YAML 1.1's:

- numbers with a fraction become `Decimal` from their source text, never through float, so
  `0.0004` stays exactly `Decimal('0.0004')`; integers stay `int`; both in the one grammar of
  `parse_decimal` (`-12`, `0.5`; not `+5`, `.5`, `5.`, `1e3`, `1_000`), whose bounds they
  keep; anything else is text, which a number field then refuses with its position;
- only `true` and `false` are booleans: `yes`, `no`, `on`, `off` stay text (`NO` is Norway);
- timestamps stay text; the schema decides what an instant is;
- a key repeated in one mapping is an error, not a silent overwrite.

The result is plain data (dict, list, str, int, Decimal, bool, None) plus side tables from a
path such as ('plans', 0, 'prices', 1, 'amount') to a 1-based (line, column).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import yaml

from billing.domain.money import parse_decimal
from billing.rules.errors import RuleError, RulePath, RuleSetInvalid

# Deeper documents are refused: rule files are a few levels deep, and PyYAML recurses.
DEPTH_MAX = 64
# Values read per file, counting every use of an alias, so an alias bomb stops early.
NODES_MAX = 200_000

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_DECIMAL = "tag:yaml.org,2002:float"  # YAML's name for non-integers; we read them as Decimal
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"

_INT_TEXT = re.compile(r"-?[0-9]+")
# No exponent: `1e5` in a price list is a typo more often than a number, so it stays text
# and the schema reports it; so do `+5`, `.5` and `5.`, which the API refuses too.
_DECIMAL_TEXT = re.compile(r"-?[0-9]+\.[0-9]+")
_NUMBER_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")  # what `!!float 3` may hold
_BOOL_TEXT = {"true": True, "false": False}
_NULL_TEXT = frozenset({"", "~", "null", "Null", "NULL"})
_TAG_NAMES = {_INT: "a whole number", _DECIMAL: "a decimal number", _BOOL: "true or false"}
_TAG_NAMES[_NULL] = "null"


class Position(NamedTuple):
    line: int  # 1-based
    column: int  # 1-based


class _RulesLoader(yaml.SafeLoader):
    """SafeLoader's reader, scanner, parser and composer, with our implicit types only."""

    yaml_implicit_resolvers: dict[Any, Any] = {}


_RulesLoader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|false)$"), list("tf"))
_RulesLoader.add_implicit_resolver(_INT, re.compile(rf"^{_INT_TEXT.pattern}$"), list("-0123456789"))
_RulesLoader.add_implicit_resolver(
    _DECIMAL, re.compile(rf"^{_DECIMAL_TEXT.pattern}$"), list("-0123456789")
)
_RulesLoader.add_implicit_resolver(
    _NULL, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)


@dataclass(frozen=True, slots=True)
class YamlDocument:
    """One file's data with the position of every value (and of every mapping key)."""

    file: str
    data: Any
    positions: Mapping[RulePath, Position]
    key_positions: Mapping[RulePath, Position]

    def position(self, path: RulePath) -> Position:
        """Where the value at `path` starts; for a missing value, where its parent starts."""
        for end in range(len(path), -1, -1):
            found = self.positions.get(path[:end])
            if found is not None:
                return found
        return Position(1, 1)

    def key_position(self, path: RulePath) -> Position:
        """Where the key naming `path` starts (an unknown key is reported at the key)."""
        return self.key_positions.get(path) or self.position(path)


def load_yaml(source: bytes | str, file: str) -> YamlDocument:
    """Read one YAML document; raises RuleSetInvalid with every problem found in it."""
    document, errors = read_yaml(source, file)
    if errors or document is None:
        raise RuleSetInvalid(errors)
    return document


def read_yaml(source: bytes | str, file: str) -> tuple[YamlDocument | None, list[RuleError]]:
    """Read one YAML document and list its problems. The document is None when the text is
    not YAML at all; after a duplicate key or a bad tag it is still returned (the first
    occurrence kept, the bad value null), so the later passes can report the rest."""
    text, error = _decode(source, file)
    if error is not None:
        return None, [error]
    try:
        root = yaml.compose(text, Loader=_RulesLoader)
    except yaml.MarkedYAMLError as exc:
        return None, [_syntax_error(exc, file)]
    except yaml.YAMLError as exc:
        return None, [_reader_error(exc, text, file)]
    except RecursionError:
        return None, [RuleError(file, 0, 0, (), "YAML nesting is too deep")]
    builder = _Builder(file)
    data = None if root is None else builder.value(root, (), 0)
    positions = builder.positions or {(): Position(1, 1)}
    return YamlDocument(file, data, positions, builder.key_positions), builder.errors


def _decode(source: bytes | str, file: str) -> tuple[str, RuleError | None]:
    if isinstance(source, str):
        return source, None
    try:
        return source.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        before = source[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        return "", RuleError(file, line, column, (), "file is not UTF-8 text")


def _syntax_error(exc: yaml.MarkedYAMLError, file: str) -> RuleError:
    # PyYAML reads as "<context>, <problem>": "while scanning a simple key (line 3, column 1),
    # could not find expected ':'".
    parts = []
    if exc.context:
        context = exc.context
        if exc.context_mark is not None and exc.problem:
            context += f" (line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1})"
        parts.append(context)
    if exc.problem:
        parts.append(exc.problem)
    message = "YAML syntax error: " + (", ".join(parts) or "unreadable")
    mark = exc.problem_mark or exc.context_mark
    if mark is None:
        return RuleError(file, 0, 0, (), message)
    return RuleError(file, mark.line + 1, mark.column + 1, (), message)


def _reader_error(exc: yaml.YAMLError, text: str, file: str) -> RuleError:
    # The reader refuses control characters; it knows the offset, not the line.
    index = getattr(exc, "position", None)
    if not isinstance(index, int):
        return RuleError(file, 0, 0, (), f"YAML error: {exc}")
    before = text[:index]
    line = before.count("\n") + 1
    column = index - (before.rfind("\n") + 1) + 1
    return RuleError(file, line, column, (), "YAML syntax error: character not allowed in YAML")


class _Builder:
    """Turns composed nodes into plain data, noting positions and collecting problems."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.positions: dict[RulePath, Position] = {}
        self.key_positions: dict[RulePath, Position] = {}
        self.errors: list[RuleError] = []
        self._nodes = 0

    def value(self, node: yaml.Node, path: RulePath, depth: int) -> Any:
        self._nodes += 1
        if self._nodes > NODES_MAX:
            if self._nodes == NODES_MAX + 1:
                self._error(node, path, f"more than {NODES_MAX} values (aliases count each use)")
            return None
        if depth > DEPTH_MAX:
            self._error(node, path, f"nested deeper than {DEPTH_MAX} levels")
            return None
        self.positions[path] = _position(node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return self._sequence(node, path, depth)
        if not isinstance(node, yaml.ScalarNode):
            self._error(node, path, f"unsupported YAML node {type(node).__name__}")
            return None
        return self._scalar(node, path)

    def _mapping(self, node: yaml.MappingNode, path: RulePath, depth: int) -> dict[str, Any]:
        if node.tag != _MAP:
            self._error(node, path, f"unsupported YAML tag {node.tag!r}")
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self._scalar(key_node, path) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                self._error(key_node, path, "mapping keys must be text (quote it)")
                continue
            key_path = (*path, key)
            if key in result:
                first = self.key_positions[key_path]
                self._error(
                    key_node, key_path, f"duplicate key {key!r} (first at line {first.line})"
                )
                continue
            self.key_positions[key_path] = _position(key_node)
            result[key] = self.value(value_node, key_path, depth + 1)
        return result

    def _sequence(self, node: yaml.SequenceNode, path: RulePath, depth: int) -> list[Any]:
        if node.tag != _SEQ:
            self._error(node, path, f"unsupported YAML tag {node.tag!r}")
        return [
            self.value(item, (*path, index), depth + 1) for index, item in enumerate(node.value)
        ]

    def _scalar(self, node: yaml.ScalarNode, path: RulePath) -> Any:
        tag, text = node.tag, node.value
        if tag == _STR:
            return text
        shape = _INT_TEXT if tag == _INT else _NUMBER_TEXT
        if tag in (_INT, _DECIMAL) and shape.fullmatch(text):
            try:
                value = parse_decimal(text)  # the one grammar, with its bounds
            except ValueError as exc:
                self._error(node, path, str(exc))
                return None
            return int(value) if tag == _INT else value
        if tag in (_INT, _DECIMAL):
            pass
        elif tag == _BOOL and text in _BOOL_TEXT:
            return _BOOL_TEXT[text]
        elif tag == _NULL and text in _NULL_TEXT:
            return None
        elif tag not in (_INT, _BOOL, _NULL):
            self._error(node, path, f"unsupported YAML tag {tag!r}")
            return None
        self._error(node, path, f"{text!r} cannot be read as {_TAG_NAMES[tag]}")
        return None

    def _error(self, node: yaml.Node, path: RulePath, message: str) -> None:
        line, column = _position(node)
        self.errors.append(RuleError(self.file, line, column, path, message))


def _position(node: yaml.Node) -> Position:
    mark = node.start_mark
    return Position(mark.line + 1, mark.column + 1)
