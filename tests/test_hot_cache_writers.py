"""Every statement in the store that writes what a cached read is computed from marks the
transaction's `Changes` (ADR 0066), so its commit invalidates the cache. A new writer that
forgets fails here, by reading the store's source: the tables, their aliases, the statements
built from them (module constants included) and the functions that send them."""

from __future__ import annotations

import ast
import re
from pathlib import Path

STORE = Path(__file__).parents[1] / "server" / "billing" / "store"
# What the cached reads are computed from: GetEntitlements reads the customer's subscriptions
# and the tenant's active rule set.
TABLES = {"subscriptions", "active_rule_sets"}
WRITE_CALLS = {"insert", "update", "delete", "upsert", "insert_or_ignore", "_unnest_insert"}
RAW_WRITE = re.compile(r"\b(UPDATE|INSERT\s+INTO|DELETE\s+FROM)\s+(\w+)", re.IGNORECASE)


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _aliases(tree: ast.Module) -> set[str]:
    """The tables and the module-level names bound to them (`s = subscriptions`, or
    `import ... as`)."""
    aliases = set(TABLES)
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            aliases |= {a.asname for a in node.names if a.name in TABLES and a.asname}
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            pairs: list[tuple[ast.expr, ast.expr]] = [(target, node.value)]
            if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                pairs = list(zip(target.elts, node.value.elts, strict=False))
            for name, value in pairs:
                if (
                    isinstance(name, ast.Name)
                    and isinstance(value, ast.Name)
                    and value.id in aliases
                ):
                    aliases.add(name.id)
    return aliases


def _writes(node: ast.AST, aliases: set[str], constants: set[str]) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            func = sub.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name in WRITE_CALLS and any(
                isinstance(arg, ast.Name) and arg.id in aliases for arg in sub.args
            ):
                return True
        if (
            isinstance(sub, ast.Constant)
            and isinstance(sub.value, str)
            and any(table in TABLES for _, table in RAW_WRITE.findall(sub.value))
        ):
            return True
        if isinstance(sub, ast.Name) and sub.id in constants:
            return True
    return False


def _writer_constants(tree: ast.Module, aliases: set[str]) -> set[str]:
    constants: set[str] = set()
    changed = True
    while changed:  # constants built from constants
        changed = False
        for node in tree.body:
            if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = set().union(*(_names(t) for t in targets)) - constants
                if names and _writes(node.value, aliases, constants):
                    constants |= names
                    changed = True
    return constants


def _writers() -> dict[str, bool]:
    """Each store function that writes a tracked table: whether it marks `self._changes`."""
    found: dict[str, bool] = {}
    for path in sorted(STORE.glob("*.py")):
        tree = ast.parse(path.read_text())
        aliases = _aliases(tree)
        constants = _writer_constants(tree, aliases)
        for cls in ast.walk(tree):
            if not isinstance(cls, ast.ClassDef):
                continue
            for fn in cls.body:
                if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef) and _writes(
                    fn, aliases, constants
                ):
                    marks = any(
                        isinstance(n, ast.Attribute) and n.attr == "_changes" for n in ast.walk(fn)
                    )
                    found[f"{path.stem}.{cls.name}.{fn.name}"] = marks
    return found


def test_every_store_writer_of_a_cached_reads_tables_marks_its_changes():
    writers = _writers()
    # The finder finds the writers there are (it would pass vacuously otherwise)...
    assert {
        "billing.SqlSubscriptions.insert",
        "billing.SqlSubscriptions.update",
        "due_batch.SqlDueBatch.update_subscriptions",
        "rule_sets.SqlRuleSets.activate",
    } <= set(writers)
    # ...and each of them marks what its commit must invalidate.
    assert [name for name, marks in writers.items() if not marks] == []
