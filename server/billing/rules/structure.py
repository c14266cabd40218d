"""The structure pass: each file has a known `kind` and the shape of that kind's schema.

cerberus reports problems as paths into the document; we map each path back to its line and
column and say what was expected in words finance can act on. Values come back normalized:
decimals as Decimal, instants as aware UTC datetimes, defaults filled in.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from cerberus import errors as cerberus_errors

from billing.rules.errors import RuleError, RulePath, RuleWarning
from billing.rules.schemas import KINDS, RESERVED_KINDS, SCHEMAS, RuleValidator, Schema
from billing.rules.values import CODE_LENGTH_MAX, CODE_PATTERN, describe
from billing.rules.yaml_loader import YamlDocument

_CODE_WORDS = (
    f"a code (letters, digits, '_', '-' or '.', at most {CODE_LENGTH_MAX} characters, "
    "starting with a letter or digit)"
)
_TYPE_WORDS = {
    "string": "text",
    "int": "a whole number",
    "decimal": "a decimal string or number",
    "instant": "a UTC instant with Z or an offset, such as 2024-01-01T00:00:00Z",
    "date": "a date such as 2024-01-01",
    "duration": "a duration such as 30s, 10m, 1h or 7d",
    "boolean": "true or false",
    "list": "a list",
    "dict": "a mapping",
}


@dataclass(frozen=True, slots=True)
class ValidatedFile:
    """A file that has a known kind. `data` is normalized; `broken` lists the items (and
    top-level keys) that failed the structure pass, which the meaning pass leaves out."""

    document: YamlDocument
    kind: str
    data: Mapping[str, Any]
    broken: frozenset[RulePath]

    @property
    def name(self) -> str:
        return self.document.file

    def items(self, section: str) -> Iterator[tuple[RulePath, Mapping[str, Any]]]:
        """(path, item) for each sound item of a top-level list such as 'plans'."""
        if (section,) in self.broken:
            return
        for index, item in enumerate(self.data.get(section) or ()):
            path: RulePath = (section, index)
            if path not in self.broken:
                yield path, item

    def broken_codes(self, section: str) -> set[str]:
        """Codes of items that failed the structure pass, so references to them are not
        reported a second time as dangling."""
        raw = self.document.data.get(section) if isinstance(self.document.data, dict) else None
        if not isinstance(raw, list):
            return set()
        codes = set()
        for index, item in enumerate(raw):
            if (section, index) in self.broken and isinstance(item, dict):
                code = item.get("code")
                if isinstance(code, str):
                    codes.add(code)
        return codes

    def error(self, path: RulePath, message: str, *, at_key: bool = False) -> RuleError:
        line, column = self._position(path, at_key)
        return RuleError(self.name, line, column, path, message)

    def warning(self, path: RulePath, message: str) -> RuleWarning:
        line, column = self._position(path, False)
        return RuleWarning(self.name, line, column, path, message)

    def where(self, path: RulePath) -> str:
        """'catalog.yaml:12' for messages that point at another definition."""
        return f"{self.name}:{self.document.position(path).line}"

    def _position(self, path: RulePath, at_key: bool) -> tuple[int, int]:
        if at_key:
            return self.document.key_position(path)
        return self.document.position(path)


def check_structure(document: YamlDocument) -> tuple[ValidatedFile | None, list[RuleError]]:
    """Validate one file's shape. None when even its kind is unknown: nothing in it is usable."""
    data = document.data

    def error(path: RulePath, message: str) -> RuleError:
        line, column = document.position(path)
        return RuleError(document.file, line, column, path, message)

    if not isinstance(data, dict):
        return None, [
            error((), f"a rule file is a mapping with a top-level kind, got {describe(data)}")
        ]
    kind = data.get("kind")
    if kind is None:
        return None, [error((), f"missing top-level kind; expected one of {', '.join(KINDS)}")]
    if kind not in KINDS:
        message = f"unknown kind {describe(kind)}; expected one of {', '.join(KINDS)}"
        return None, [error(("kind",), message)]

    schema = SCHEMAS[kind]
    validator = RuleValidator(schema, allow_unknown=kind in RESERVED_KINDS)
    validator.validate(data)
    leaves = list(_leaf_errors(validator._errors))  # the error tree; `.errors` is text only
    found = [_rule_error(document, schema, leaf) for leaf in leaves]
    broken = frozenset(_broken_item(tuple(leaf.document_path)) for leaf in leaves)
    return ValidatedFile(document, kind, validator.document, broken), found


def _leaf_errors(errors: Any) -> Iterator[Any]:
    for error in errors:
        if error.is_group_error:
            yield from _leaf_errors(error.child_errors)
        else:
            yield error


def _broken_item(path: RulePath) -> RulePath:
    # An item of a top-level list (or an entry of a top-level mapping) is the unit the meaning
    # pass skips: ('plans', 0, 'prices', 1, 'amount') makes the whole of plans[0] unusable.
    return path[:2] if len(path) >= 2 else path[:1]


def _rule_error(document: YamlDocument, schema: Schema, error: Any) -> RuleError:
    path: RulePath = tuple(error.document_path)
    at_key = error.code in (cerberus_errors.UNKNOWN_FIELD.code, cerberus_errors.EXCLUDES_FIELD.code)
    line, column = document.key_position(path) if at_key else document.position(path)
    return RuleError(document.file, line, column, path, _message(schema, path, error))


def _message(schema: Schema, path: RulePath, error: Any) -> str:
    code, constraint, value = error.code, error.constraint, error.value
    if code == cerberus_errors.UNKNOWN_FIELD.code:
        allowed = _keys_at(schema, path[:-1])
        hint = f"; expected one of {', '.join(allowed)}" if allowed else ""
        return f"unknown key {path[-1]!r}{hint}"
    if code == cerberus_errors.REQUIRED_FIELD.code:
        return "required key is missing"
    if code == cerberus_errors.BAD_TYPE.code:
        return f"expected {_TYPE_WORDS.get(constraint, constraint)}, got {describe(value)}"
    if code == cerberus_errors.NOT_NULLABLE.code:
        return "expected a value, got null"
    if code == cerberus_errors.EMPTY_NOT_ALLOWED.code:
        return "must not be empty"
    if code == cerberus_errors.UNALLOWED_VALUE.code:
        return f"expected one of {', '.join(constraint)}, got {describe(value)}"
    if code == cerberus_errors.REGEX_MISMATCH.code:
        wanted = _CODE_WORDS if constraint == CODE_PATTERN else f"text matching {constraint}"
        return f"expected {wanted}, got {describe(value)}"
    if code == cerberus_errors.MIN_VALUE.code:
        return f"must be at least {constraint}, got {describe(value)}"
    if code == cerberus_errors.MAX_VALUE.code:
        return f"must be at most {constraint}, got {describe(value)}"
    if code == cerberus_errors.MIN_LENGTH.code:
        return f"needs at least {constraint} {'item' if constraint == 1 else 'items'}"
    if code == cerberus_errors.MAX_LENGTH.code:
        unit = "items" if isinstance(value, list) else "characters"
        return f"must have at most {constraint} {unit}, got {len(value)}"
    if code == cerberus_errors.EXCLUDES_FIELD.code:
        return f"give either {path[-1]!r} or {constraint!r}, not both"
    return f"failed the {error.rule!r} rule ({constraint!r})"  # a rule added without a message


def _keys_at(schema: Schema, path: RulePath) -> list[str]:
    """Keys the schema allows in the mapping at `path` (list indices step into items)."""
    rules: dict[str, Any] = {"type": "dict", "schema": schema}
    for part in path:
        if isinstance(part, int):
            rules = rules.get("schema", {})
        elif "valuesrules" in rules:
            rules = rules["valuesrules"]
        else:
            rules = rules.get("schema", {}).get(part, {})
    if rules.get("type") != "dict":
        return []
    return sorted(rules.get("schema", {}))
