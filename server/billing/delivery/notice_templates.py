"""Which dunning notice templates exist (ADR 0043): a template `name` is the file
`<templates_dir>/notices/<name>.txt`. The rules refer to templates by name; the rule loader
checks those names against this list like it checks engine names, as the kind
`notice_template`, so a step naming a missing template refuses the whole rule set. The
server reads the templates themselves once, at start (`load_notice_templates`)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from billing.domain.notices import (
    TEMPLATE_BYTES_MAX,
    NoticeTemplate,
    NoticeTemplateInvalid,
    parse_notice_template,
)
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


def load_notice_templates(templates_dir: Path) -> Mapping[str, NoticeTemplate]:
    """Every notice template under `templates_dir`, read and checked once (a send never
    reads a file). Raises NoticeTemplateInvalid naming every bad file: one bad template
    stops the start, as a bad rule set would, rather than fail the first customer's notice."""
    templates: dict[str, NoticeTemplate] = {}
    problems: list[str] = []
    for name, path in notice_template_paths(templates_dir).items():
        try:
            size = path.stat().st_size
            if size > TEMPLATE_BYTES_MAX:
                problems.append(f"{path}: {size} bytes; at most {TEMPLATE_BYTES_MAX}")
                continue
            templates[name] = parse_notice_template(name, path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{path}: cannot be read as UTF-8 text: {exc}")
        except NoticeTemplateInvalid as exc:
            problems.append(f"{path}: {exc}")
    if problems:
        raise NoticeTemplateInvalid("; ".join(problems))
    return MappingProxyType(templates)
