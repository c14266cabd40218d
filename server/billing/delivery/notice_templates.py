"""Which dunning notice templates exist (ADR 0043): a template `name` is the file
`<templates_dir>/notices/<name>.txt`. The rules refer to templates by name; the rule loader
checks those names against this list like it checks engine names, as the kind
`notice_template`, so a step naming a missing template refuses the whole rule set."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from types import MappingProxyType

from billing.plugins.registry import Engines

NOTICE_TEMPLATE_KIND = "notice_template"
NOTICES_DIR = "notices"
SUFFIX = ".txt"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")  # a rule code


def notice_template_paths(templates_dir: Path) -> dict[str, Path]:
    """Template names and their files; none when the directory is missing."""
    directory = templates_dir / NOTICES_DIR
    if not directory.is_dir():
        return {}
    return {
        path.name.removesuffix(SUFFIX): path
        for path in sorted(directory.iterdir())
        if path.is_file()
        and path.name.endswith(SUFFIX)
        and _NAME.match(path.name.removesuffix(SUFFIX))
    }


def with_notice_templates(engines: Engines, templates_dir: Path) -> Engines:
    """`engines` plus the notice templates found under `templates_dir`, by name."""
    by_kind = dict(engines.by_kind)
    by_kind[NOTICE_TEMPLATE_KIND] = MappingProxyType(notice_template_paths(templates_dir))
    return dataclasses.replace(engines, by_kind=MappingProxyType(by_kind))
