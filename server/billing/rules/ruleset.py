"""Load a rule set: every YAML file of a directory (or their stored bytes), both validation
passes, then the immutable model, identified by the hash of the exact bytes."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Mapping
from pathlib import Path

from billing.domain import limits
from billing.rules.build import build_rule_set
from billing.rules.errors import RuleError, RuleSetInvalid
from billing.rules.model import RuleSet
from billing.rules.semantics import check_meaning
from billing.rules.structure import ValidatedFile, check_structure
from billing.rules.yaml_loader import read_yaml

FILE_SUFFIXES = (".yaml", ".yml")
# Limits (their reasons are in `limits`): a rule set is edited by people, one file per concern.
FILES_MAX = limits.RULE_FILES_MAX
FILE_BYTES_MAX = limits.RULE_FILE_BYTES_MAX
FILE_NAME_CHARS_MAX = limits.RULE_FILE_NAME_CHARS_MAX

# Bump when the canonical form changes, so old and new hashes can never collide.
_HASH_PREFIX = b"billing-rules/v1\n"
_RULE_SET = "<rule set>"  # the "file" of problems about the set as a whole
_KIND_LINE = re.compile(rb"^kind:[ \t]*[\"']?([a-z]+)", re.MULTILINE)


def content_hash(files: Mapping[str, bytes]) -> str:
    """SHA-256 over the sorted file names and their exact bytes, each length-prefixed so no
    two different rule sets share a canonical form."""
    digest = hashlib.sha256(_HASH_PREFIX)
    for name in sorted(files):
        for part in (name.encode("utf-8"), files[name]):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
    return digest.hexdigest()


def guess_kind(source: bytes) -> str | None:
    """The kind a file that YAML cannot read probably has, from a `kind:` line. Only used to
    word messages about what that file may define; never to validate."""
    found = _KIND_LINE.search(source)
    return found.group(1).decode("ascii") if found else None


def is_rule_file_name(name: str) -> bool:
    """A plain file name ending in .yaml or .yml; dot files (editor backups) are not rules,
    and nothing that could name a path (`/`, `\\`, `..`) or hold a NUL is a file name."""
    return (
        0 < len(name) <= FILE_NAME_CHARS_MAX
        and name.endswith(FILE_SUFFIXES)
        and not name.startswith(".")
        and "/" not in name
        and "\\" not in name
        and ".." not in name
        and "\x00" not in name
    )


def load_rule_set(directory: Path, engines: Mapping[str, Collection[str]]) -> RuleSet:
    """Read every *.yaml / *.yml file directly in `directory` (not its subdirectories)."""
    files = {
        path.name: path.read_bytes()
        for path in sorted(directory.iterdir())
        if path.is_file() and is_rule_file_name(path.name)
    }
    return load_rule_set_from_files(files, engines)


def load_rule_set_from_files(
    files: Mapping[str, bytes], engines: Mapping[str, Collection[str]]
) -> RuleSet:
    """Validate and compile a rule set from file names and bytes (as stored by hash).

    Raises RuleSetInvalid with every problem of every file. `engines` maps an engine kind
    (e.g. "pricing_model") to the names registered for it.
    """
    bad_names = [name for name in files if not is_rule_file_name(name)]
    if bad_names:
        raise ValueError(f"not rule file names: {', '.join(sorted(bad_names))}")
    errors: list[RuleError] = []
    if not files:
        errors.append(RuleError(_RULE_SET, 0, 0, (), "no *.yaml or *.yml files"))
    if len(files) > FILES_MAX:
        errors.append(RuleError(_RULE_SET, 0, 0, (), f"more than {FILES_MAX} files"))

    validated: list[ValidatedFile] = []
    unreadable: dict[str, str | None] = {}  # file name -> its kind, if it can be guessed
    for name in sorted(files):
        source = files[name]
        if len(source) > FILE_BYTES_MAX:
            errors.append(RuleError(name, 0, 0, (), f"larger than {FILE_BYTES_MAX} bytes"))
            unreadable[name] = guess_kind(source)
            continue
        document, read_errors = read_yaml(source, name)
        errors.extend(read_errors)
        if document is None:
            unreadable[name] = guess_kind(source)
            continue
        checked, found = check_structure(document)
        # A value the reader refused reads as null; saying so again would be noise.
        refused = {error.path for error in read_errors}
        errors.extend(error for error in found if error.path not in refused)
        if checked is None:
            unreadable[name] = guess_kind(source)
        else:
            validated.append(checked)

    findings = check_meaning(validated, engines, unreadable)
    errors.extend(findings.errors)
    if errors:
        raise RuleSetInvalid(errors, findings.warnings)
    return build_rule_set(
        validated,
        content_hash=content_hash(files),
        sources=files,
        warnings=findings.warnings,
    )
