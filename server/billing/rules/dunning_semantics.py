"""The meaning pass for the `kind: dunning` file (ADR 0043, "Rules").

Policies have distinct names; their steps are written in order of `after`, a notice step (and
only a notice step) names a known template, on `email` or a registered notification channel;
nothing the customer loses comes before the policy's grace; retries come after the first
failure and later each time, on whole days when they run at a time of day; decline codes are
normalized ones, each under `hard` or `soft`, not both. Cases name policies of the file and
known plans and currencies; a case after one that matches every invoice can never match, and
a policy no case reaches is never used (warnings: the rules still mean something).
`update_method_url` is an http(s) address whose only placeholders are {customer} and {invoice}.

Only the first dunning file is read (a second is refused by the single-file check), and items
the structure pass refused are skipped, their names still counted as defined.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from billing.domain.dunning import EMAIL_CHANNEL, LOSING_ACTIONS, Action
from billing.domain.money import currency_problem
from billing.domain.payment_rules import duration_text
from billing.domain.payments import DECLINE_CODES
from billing.rules.errors import RuleError, RulePath, RuleWarning, format_path, sort_key
from billing.rules.structure import ValidatedFile

# Engine kinds the dunning file refers to: the templates are files the server (or `billing
# rules check`) adds to the engines at start (`delivery/notice_templates.py`).
ENGINE_NOTICE_TEMPLATE = "notice_template"
ENGINE_NOTIFICATION_CHANNEL = "notification_channel"
URL_PLACEHOLDERS = ("customer", "invoice")
URL_SCHEMES = ("http", "https")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_DAY = timedelta(days=1)


def check_dunning(
    files: Sequence[ValidatedFile],
    engines: Mapping[str, Collection[str]],
    unreadable: Mapping[str, str | None] | None = None,
) -> tuple[list[RuleError], list[RuleWarning]]:
    dunning = next((file for file in files if file.kind == "dunning"), None)
    if dunning is None:
        return [], []
    checker = _DunningChecker(dunning, files, engines, unreadable or {})
    checker.run()
    return checker.errors, sorted(checker.warnings, key=sort_key)  # in file order


def _span(span: timedelta) -> str:
    return "0d" if span == timedelta(0) else duration_text(span)


def _listing(names: Collection[str]) -> str:
    return ", ".join(sorted(names)) or "none"


class _DunningChecker:
    def __init__(
        self,
        file: ValidatedFile,
        files: Sequence[ValidatedFile],
        engines: Mapping[str, Collection[str]],
        unreadable: Mapping[str, str | None],
    ) -> None:
        # None: the caller gave no templates at all (not even an empty list of them).
        self.templates = engines.get(ENGINE_NOTICE_TEMPLATE)
        self.channels = {EMAIL_CHANNEL, *engines.get(ENGINE_NOTIFICATION_CHANNEL, ())}
        catalogs = [other for other in files if other.kind == "catalog"]
        self.plans = {item["code"] for catalog in catalogs for _, item in catalog.items("plans")}
        self.plans |= {code for catalog in catalogs for code in catalog.broken_codes("plans")}
        self.plans_unreadable = [
            name for name, kind in unreadable.items() if kind in (None, "catalog")
        ]
        self.errors: list[RuleError] = []
        self.warnings: list[RuleWarning] = []
        self.file = file
        self.policies: dict[str, RulePath] = {}  # name -> where it is defined
        self.broken_policies = _broken_names(file, "policies", "name")
        self.policies_known = ("policies",) not in file.broken

    def run(self) -> None:
        file = self.file
        if ("update_method_url",) not in file.broken and "update_method_url" in file.data:
            self._url(file.data["update_method_url"])
        for path, policy in file.items("policies"):
            self._policy(path, policy)
        self._cases()

    def _error(self, path: RulePath, message: str, *, at_key: bool = False) -> None:
        self.errors.append(self.file.error(path, message, at_key=at_key))

    def _line(self, path: RulePath) -> int:
        return self.file.document.position(path).line

    # -- update_method_url ---------------------------------------------------------------

    def _url(self, url: str) -> None:
        path: RulePath = ("update_method_url",)
        parts = urlsplit(_PLACEHOLDER.sub("x", url))
        if parts.scheme not in URL_SCHEMES or not parts.netloc:
            self._error(
                path,
                f"{url!r} is not a web address: it must start with https:// (or http://)"
                " and name a host",
            )
        allowed = ", ".join("{" + name + "}" for name in URL_PLACEHOLDERS)
        for name in dict.fromkeys(_PLACEHOLDER.findall(url)):
            if name not in URL_PLACEHOLDERS:
                self._error(
                    path, f"unknown placeholder {{{name}}}; the address may only use {allowed}"
                )
        if "{" in _PLACEHOLDER.sub("", url) or "}" in _PLACEHOLDER.sub("", url):
            self._error(path, f"a brace without its pair; the address may only use {allowed}")

    # -- policies ------------------------------------------------------------------------

    def _policy(self, path: RulePath, policy: Mapping[str, Any]) -> None:
        name = policy["name"]
        if name in self.policies:
            earlier = self.file.where(self.policies[name])
            self._error((*path, "name"), f"policy {name!r} is already defined at {earlier}")
        else:
            self.policies[name] = path
        self._retries(path, policy.get("retries") or {})
        self._declines(path, policy.get("declines") or {})
        self._steps(path, policy.get("steps") or (), policy.get("grace") or timedelta(0))

    def _steps(self, path: RulePath, steps: Sequence[Mapping[str, Any]], grace: timedelta) -> None:
        previous: timedelta | None = None
        names: dict[str, int] = {}
        for index, step in enumerate(steps):
            where: RulePath = (*path, "steps", index)
            after = step["after"]
            if previous is not None and after < previous:
                self._error(
                    (*where, "after"),
                    f"steps are written in order of after: {_span(after)} comes after a step"
                    f" at {_span(previous)} (move this step up, or change after)",
                )
            previous = after if previous is None else max(previous, after)
            action = Action(step["action"])
            if action in LOSING_ACTIONS and after < grace:
                self._error(
                    (*where, "after"),
                    f"{action.value} at {_span(after)} comes before the grace of"
                    f" {_span(grace)}: nothing the customer loses (mark_unpaid, suspend,"
                    " cancel_now, cancel_at_period_end, mark_uncollectible) may happen before"
                    " the grace ends",
                )
            self._step(where, action, step)
            label = step.get("name")
            if label is not None and label in names:
                self._error(
                    (*where, "name"),
                    f"step {label!r} is already the name of steps[{names[label]}] of this"
                    " policy; timelines and reports need one name per step",
                )
            if label is not None:
                names.setdefault(label, index)

    def _step(self, where: RulePath, action: Action, step: Mapping[str, Any]) -> None:
        if action is not Action.NOTICE:
            for key in ("template", "channel"):
                if key in step:
                    self._error(
                        (*where, key),
                        f"only a notice step sends a message; a {action.value} step takes no {key}",
                        at_key=True,
                    )
            return
        template = step.get("template")
        if template is None:
            self._error(where, f"a notice step needs a template; {self._known_templates()}")
        else:
            self._template((*where, "template"), template)
        channel = step.get("channel", EMAIL_CHANNEL)
        if channel not in self.channels:
            self._error(
                (*where, "channel"),
                f"unknown channel {channel!r}; known: {_listing(self.channels)}",
            )

    def _template(self, path: RulePath, name: str) -> None:
        if self.templates is not None and name in self.templates:
            return
        self._error(path, f"unknown notice template {name!r}; {self._known_templates()}")

    def _known_templates(self) -> str:
        if self.templates is None:
            return "no notice templates are known here (the templates directory was not given)"
        return f"known: {_listing(self.templates)} (files templates/notices/<name>.txt)"

    def _retries(self, path: RulePath, retries: Mapping[str, Any]) -> None:
        at = retries.get("at")
        previous: timedelta | None = None
        for index, offset in enumerate(retries.get("after") or ()):
            where: RulePath = (*path, "retries", "after", index)
            if offset <= timedelta(0):
                self._error(
                    where,
                    "a retry must come after the failed charge that opened the case (0d);"
                    f" {_span(offset)} does not",
                )
            elif previous is not None and offset <= previous:
                self._error(
                    where,
                    f"retries must come later each time: {_span(offset)} is not after"
                    f" {_span(previous)}",
                )
            if at is not None and offset % _DAY:
                self._error(
                    where,
                    f"with at: {at!r} each retry runs at that time on the day its offset"
                    f" lands, so offsets are whole days; {_span(offset)} is not",
                )
            previous = offset if previous is None else max(previous, offset)

    def _declines(self, path: RulePath, declines: Mapping[str, Any]) -> None:
        where: RulePath = (*path, "declines")
        hard = set(declines.get("hard") or ())
        for key in ("hard", "soft"):
            for index, code in enumerate(declines.get(key) or ()):
                if code not in DECLINE_CODES:
                    self._error(
                        (*where, key, index),
                        f"unknown decline code {code!r}; the normalized codes are:"
                        f" {_listing(DECLINE_CODES)}",
                    )
                elif key == "soft" and code in hard:
                    self._error(
                        (*where, key, index),
                        f"decline code {code!r} is listed under both hard and soft",
                    )
        for key in ("hard_notice", "requires_action_notice"):
            if key in declines:
                self._template((*where, key), declines[key])

    # -- cases ---------------------------------------------------------------------------

    def _cases(self) -> None:
        file = self.file
        reached = _broken_names(file, "cases", "policy")  # unknown: counted as reaching
        catch_all: RulePath | None = None
        names: dict[str, RulePath] = {}
        for path, case in file.items("cases"):
            name, policy = case.get("name"), case["policy"]
            if name is not None and name in names:
                self._error(
                    (*path, "name"),
                    f"case {name!r} is already the name of {format_path(names[name])}",
                )
            if name is not None:
                names.setdefault(name, path)
            known = policy in self.policies or policy in self.broken_policies
            if self.policies_known and not known:
                self._error(
                    (*path, "policy"),
                    f"unknown policy {policy!r}; this file defines: {_listing(self.policies)}",
                )
            when = case.get("when") or {}
            self._when((*path, "when"), when)
            if catch_all is not None:
                self.warnings.append(
                    file.warning(
                        path,
                        f"this case can never match: {format_path(catch_all)} (line"
                        f" {self._line(catch_all)}) comes first and, without when, matches"
                        " every invoice",
                    )
                )
                continue
            reached.add(policy)
            if not any(when.get(key) for key in ("plans", "segments", "customers", "currencies")):
                catch_all = path
        if ("cases",) in file.broken or not self.policies_known:
            return
        for name, path in self.policies.items():
            if name not in reached:
                self.warnings.append(
                    file.warning(
                        (*path, "name"),
                        f"no case chooses policy {name!r}: it is never used",
                    )
                )

    def _when(self, path: RulePath, when: Mapping[str, Any]) -> None:
        for index, currency in enumerate(when.get("currencies") or ()):
            problem = currency_problem(currency)
            if problem is not None:
                self._error((*path, "currencies", index), problem)
        for index, plan in enumerate(when.get("plans") or ()):
            if plan in self.plans:
                continue
            message = f"unknown plan {plan!r}"
            if self.plans_unreadable:
                verb = "is" if len(self.plans_unreadable) == 1 else "are"
                suspects = ", ".join(self.plans_unreadable)
                message += f" ({suspects} {verb} unreadable and may define it)"
            self._error((*path, "plans", index), message)


def _broken_names(file: ValidatedFile, section: str, key: str) -> set[str]:
    """`key` of the items of `section` the structure pass refused: names still defined (or
    used) though the items are skipped, so they are not reported again."""
    return {value for value in _raw_values(file, section, key) if isinstance(value, str)}


def _raw_values(file: ValidatedFile, section: str, key: str) -> Iterator[object]:
    raw = file.document.data.get(section) if isinstance(file.document.data, dict) else None
    for index, item in enumerate(raw if isinstance(raw, list) else ()):
        if (section, index) in file.broken and isinstance(item, dict):
            yield item.get(key)
