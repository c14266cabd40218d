"""Problems found in a rule set, each pinned to a file, a line, a column and a field path.

Loading collects every problem before it fails, so finance fixes a rule set in one round
instead of one error per attempt.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

PathPart = str | int
RulePath = tuple[PathPart, ...]

# The exception message lists this many problems; `RuleSetInvalid.errors` keeps all of them.
MESSAGE_ERRORS_MAX = 100

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def format_path(path: RulePath) -> str:
    """('plans', 0, 'prices', 1, 'amount') -> 'plans[0].prices[1].amount'."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not _PLAIN_KEY.fullmatch(part):
            text += f"[{part!r}]"
        else:
            text += f".{part}" if text else part
    return text


@dataclass(frozen=True, slots=True)
class RuleDiagnostic:
    """One finding. Line and column are 1-based; line 0 means the file as a whole."""

    file: str
    line: int
    column: int
    path: RulePath
    message: str

    @property
    def path_text(self) -> str:
        return format_path(self.path)

    def __str__(self) -> str:
        where = self.file if self.line == 0 else f"{self.file}:{self.line}:{self.column}"
        field = self.path_text
        return f"{where}: {field}: {self.message}" if field else f"{where}: {self.message}"


class RuleError(RuleDiagnostic):
    """A problem that makes the rule set unusable."""

    __slots__ = ()


class RuleWarning(RuleDiagnostic):
    """Legal but almost certainly not what the author meant (a case that can never match)."""

    __slots__ = ()


def sort_key(item: RuleDiagnostic) -> tuple[str, int, int, str, str]:
    return (item.file, item.line, item.column, item.path_text, item.message)


class RuleSetInvalid(Exception):
    """The rule set cannot be used; `errors` holds every problem, in file and line order."""

    def __init__(self, errors: Iterable[RuleError], warnings: Iterable[RuleWarning] = ()) -> None:
        self.errors: tuple[RuleError, ...] = tuple(sorted(errors, key=sort_key))
        self.warnings: tuple[RuleWarning, ...] = tuple(sorted(warnings, key=sort_key))
        if not self.errors:
            raise ValueError("RuleSetInvalid needs at least one error")
        count = len(self.errors)
        lines = [str(error) for error in self.errors[:MESSAGE_ERRORS_MAX]]
        if count > MESSAGE_ERRORS_MAX:
            lines.append(f"... and {count - MESSAGE_ERRORS_MAX} more")
        noun = "error" if count == 1 else "errors"
        super().__init__(f"rule set has {count} {noun}:\n" + "\n".join(lines))
