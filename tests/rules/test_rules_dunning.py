"""The `kind: dunning` rule file (ADR 0043, "Rules"): what a good file builds, and every
refusal at its file, line and column, the whole rule set refused; the worked example in
rules/examples/dunning."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from textwrap import dedent
from types import MappingProxyType
from typing import Any

import pytest
from rule_files import EXAMPLE_RULES

from billing.delivery.notice_templates import NOTICE_TEMPLATE_KIND, with_notice_templates
from billing.domain.dunning import (
    DEFAULT_HARD_DECLINES,
    Action,
    CaseStatus,
    DeclineRules,
    DunningCase,
    DunningPolicy,
    DunningRules,
    DunningStep,
    EventKind,
    PolicyCase,
    PolicyMatch,
    RetrySchedule,
    next_event,
)
from billing.domain.payments import DECLINE_CODES
from billing.plugins.engines import DECLINE_CODES as ENGINE_DECLINE_CODES
from billing.plugins.registry import load_engines
from billing.rules import RuleSet, RuleSetInvalid, content_hash, load_rule_set_from_files
from billing.rules.dunning_semantics import ENGINE_NOTICE_TEMPLATE

# The installed engines (the `log` notification channel among them) and the shipped notices.
REPO_ENGINES: Mapping[str, Any] = with_notice_templates(
    load_engines(), EXAMPLE_RULES / "templates"
).by_kind
# The same with a fixed list of notices, so these tests read the same when notices are added.
NOTICES = (
    "authenticate_payment",
    "final_notice",
    "payment_failed",
    "payment_reminder",
    "update_payment_method",
)
ENGINES: Mapping[str, Any] = {**REPO_ENGINES, NOTICE_TEMPLATE_KIND: frozenset(NOTICES)}
KNOWN = (
    "known: authenticate_payment, final_notice, payment_failed, payment_reminder,"
    " update_payment_method (files templates/notices/<name>.txt)"
)
EXAMPLE = EXAMPLE_RULES / "examples" / "dunning"

GOOD = """\
kind: dunning
update_method_url: "https://pay.example.com/update?customer={customer}&invoice={invoice}"
policies:
  - name: standard
    grace: 10d
    retries: {after: [1d, 3d, 5d, 7d], at: "10:00", skip_weekends: true}
    declines:
      hard: [do_not_honor]
      soft: [expired_card]
      hard_notice: update_payment_method
      requires_action_notice: authenticate_payment
    steps:
      - {after: 0d, action: notice, template: payment_failed}
      - {after: 0d, action: mark_past_due, name: past_due}
      - {after: 9d, action: notice, template: final_notice, channel: log}
      - {after: 10d, action: suspend}
      - {after: 21d, action: cancel_now}
  - name: big_accounts
    grace: 30d
    retries: {after: [12h, 2d]}
    steps:
      - {after: 30d, action: mark_uncollectible}
cases:
  - {name: enterprise_eur, when: {segments: [enterprise], currencies: [EUR]}, policy: big_accounts}
  - when: {plans: [pro_monthly], customers: [cus_01HZX]}
    policy: big_accounts
  - {policy: standard}
"""

CATALOG = """\
kind: catalog
products:
  - {code: pro, name: Pro, features: []}
plans:
  - code: pro_monthly
    product: pro
    interval: month
    prices: [{currency: EUR, amount: 50.00}]
"""


def _load(dunning: str, engines: Mapping[str, Any] = ENGINES, **more: str) -> RuleSet:
    files = {"dunning.yaml": dunning, "catalog.yaml": CATALOG, **more}
    encoded = {name: dedent(text).encode() for name, text in files.items()}
    return load_rule_set_from_files(encoded, engines)


def _refused(dunning: str, engines: Mapping[str, Any] = ENGINES, **more: str) -> list[str]:
    with pytest.raises(RuleSetInvalid) as raised:
        _load(dunning, engines, **more)
    return [str(error) for error in raised.value.errors]


def _policy(body: str) -> str:
    """A dunning file of one policy `p` (its lines after `name`) and a case choosing it."""
    indented = "".join(f"    {line}\n" for line in dedent(body).splitlines())
    return f"kind: dunning\npolicies:\n  - name: p\n{indented}cases:\n  - {{policy: p}}\n"


# --- what a good file builds ------------------------------------------------------------


def test_a_good_file_builds_the_dunning_rules() -> None:
    rules = _load(GOOD)
    assert rules.warnings == ()
    standard = DunningPolicy(
        name="standard",
        retries=RetrySchedule(
            after=tuple(timedelta(days=d) for d in (1, 3, 5, 7)),
            at=time(10, 0),
            skip_weekends=True,
        ),
        grace=timedelta(days=10),
        declines=DeclineRules(
            hard_codes=frozenset(
                {"stolen_card", "lost_card", "pickup_card", "fraudulent", "invalid_account"}
                | {"do_not_honor"}
            ),
            hard_notice="update_payment_method",
            requires_action_notice="authenticate_payment",
        ),
        steps=(
            DunningStep(timedelta(0), Action.NOTICE, "payment_failed", "email", "steps[0]"),
            DunningStep(timedelta(0), Action.MARK_PAST_DUE, "", "email", "past_due"),
            DunningStep(timedelta(days=9), Action.NOTICE, "final_notice", "log", "steps[2]"),
            DunningStep(timedelta(days=10), Action.SUSPEND, "", "email", "steps[3]"),
            DunningStep(timedelta(days=21), Action.CANCEL_NOW, "", "email", "steps[4]"),
        ),
    )
    big = DunningPolicy(
        name="big_accounts",
        retries=RetrySchedule(after=(timedelta(hours=12), timedelta(days=2))),
        grace=timedelta(days=30),
        declines=DeclineRules(hard_codes=DEFAULT_HARD_DECLINES),
        steps=(
            DunningStep(timedelta(days=30), Action.MARK_UNCOLLECTIBLE, "", "email", "steps[0]"),
        ),
    )
    assert rules.dunning == DunningRules(
        policies=MappingProxyType({"standard": standard, "big_accounts": big}),
        cases=(
            PolicyCase(
                PolicyMatch(segments=("enterprise",), currencies=("EUR",)),
                "big_accounts",
                "enterprise_eur",
            ),
            PolicyCase(
                PolicyMatch(plans=("pro_monthly",), customers=("cus_01HZX",)),
                "big_accounts",
                "cases[1]",
            ),
            PolicyCase(PolicyMatch(), "standard", "cases[2]"),
        ),
        update_method_url="https://pay.example.com/update?customer={customer}&invoice={invoice}",
    )
    dunning = rules.dunning
    assert dunning.policy_for("basic", "enterprise", "cus_x", "EUR") == big
    assert dunning.policy_for("basic", "enterprise", "cus_x", "USD") == standard
    assert dunning.policy_for("pro_monthly", "", "cus_01HZX", "USD") == big
    assert dunning.policy_for("pro_monthly", "", "cus_other", "USD") == standard


def test_hard_declines_default_and_a_policy_moves_codes_either_way() -> None:
    rules = _load(
        """\
        kind: dunning
        policies:
          - name: defaults
          - name: stricter
            declines: {hard: [do_not_honor, insufficient_funds]}
          - name: lenient
            declines: {soft: [expired_card, lost_card]}
        cases:
          - {when: {segments: [a]}, policy: defaults}
          - {when: {segments: [b]}, policy: stricter}
          - {policy: lenient}
        """
    ).dunning
    assert {
        "stolen_card",
        "lost_card",
        "pickup_card",
        "fraudulent",
        "invalid_account",
        "expired_card",
    } == DEFAULT_HARD_DECLINES
    assert DEFAULT_HARD_DECLINES <= DECLINE_CODES
    policies = rules.policies
    assert policies["defaults"].declines == DeclineRules(DEFAULT_HARD_DECLINES, "", "")
    assert policies["stricter"].declines.hard_codes == DEFAULT_HARD_DECLINES | {
        "do_not_honor",
        "insufficient_funds",
    }
    assert policies["lenient"].declines.hard_codes == {
        "stolen_card",
        "pickup_card",
        "fraudulent",
        "invalid_account",
    }
    lenient = policies["lenient"].declines
    assert (lenient.is_hard("stolen_card"), lenient.is_hard("expired_card")) == (True, False)
    assert policies["stricter"].declines.is_hard("insufficient_funds")
    assert not policies["defaults"].declines.is_hard("insufficient_funds")


def test_the_rules_name_the_loaders_kinds_and_codes() -> None:
    assert ENGINE_NOTICE_TEMPLATE == NOTICE_TEMPLATE_KIND
    assert ENGINE_DECLINE_CODES is DECLINE_CODES


# --- every refusal at its place -----------------------------------------------------------


def test_templates_must_exist_and_belong_to_notices() -> None:
    policy = _policy(
        """\
        declines: {hard_notice: new_card, requires_action_notice: authenticate_payment}
        steps:
          - {after: 0d, action: notice, template: payment_faild}
          - {after: 1d, action: notice}
          - {after: 2d, action: mark_past_due, template: payment_failed}
          - {after: 3d, action: mark_past_due, channel: email}
        """
    )
    assert _refused(policy) == [
        f"dunning.yaml:4:29: policies[0].declines.hard_notice: unknown notice template"
        f" 'new_card'; {KNOWN}",
        f"dunning.yaml:6:47: policies[0].steps[0].template: unknown notice template"
        f" 'payment_faild'; {KNOWN}",
        f"dunning.yaml:7:9: policies[0].steps[1]: a notice step needs a template; {KNOWN}",
        "dunning.yaml:8:44: policies[0].steps[2].template: only a notice step sends a message;"
        " a mark_past_due step takes no template",
        "dunning.yaml:9:44: policies[0].steps[3].channel: only a notice step sends a message;"
        " a mark_past_due step takes no channel",
    ]


def test_without_templates_given_no_template_is_known_and_the_message_says_so() -> None:
    bare = {kind: names for kind, names in ENGINES.items() if kind != NOTICE_TEMPLATE_KIND}
    policy = _policy("steps: [{after: 0d, action: notice, template: payment_failed}]")
    assert _refused(policy, bare) == [
        "dunning.yaml:4:51: policies[0].steps[0].template: unknown notice template"
        " 'payment_failed'; no notice templates are known here (the templates directory was"
        " not given)"
    ]
    empty = {**bare, NOTICE_TEMPLATE_KIND: {}}
    assert _refused(policy, empty) == [
        "dunning.yaml:4:51: policies[0].steps[0].template: unknown notice template"
        " 'payment_failed'; known: none (files templates/notices/<name>.txt)"
    ]


def test_a_channel_is_email_or_a_registered_one() -> None:
    policy = _policy(
        """\
        steps:
          - {after: 0d, action: notice, template: payment_failed, channel: sms}
          - {after: 0d, action: notice, template: payment_failed, channel: log}
          - {after: 0d, action: notice, template: payment_failed, channel: email}
        """
    )
    assert _refused(policy) == [
        "dunning.yaml:5:72: policies[0].steps[0].channel: unknown channel 'sms'; known: email, log"
    ]
    without_plugins = {**ENGINES, "notification_channel": {}}
    assert _refused(policy, without_plugins) == [
        "dunning.yaml:5:72: policies[0].steps[0].channel: unknown channel 'sms'; known: email",
        "dunning.yaml:6:72: policies[0].steps[1].channel: unknown channel 'log'; known: email",
    ]


def test_decline_codes_are_normalized_ones_under_hard_or_soft() -> None:
    policy = _policy(
        """\
        declines:
          hard: [do_not_honor, card_declined]
          soft: [Insufficient_Funds, do_not_honor, expired_card]
        """
    )
    codes = ", ".join(sorted(DECLINE_CODES))
    assert _refused(policy) == [
        f"dunning.yaml:5:28: policies[0].declines.hard[1]: unknown decline code"
        f" 'card_declined'; the normalized codes are: {codes}",
        f"dunning.yaml:6:14: policies[0].declines.soft[0]: unknown decline code"
        f" 'Insufficient_Funds'; the normalized codes are: {codes}",
        "dunning.yaml:6:34: policies[0].declines.soft[1]: decline code 'do_not_honor' is listed"
        " under both hard and soft",
    ]


def test_steps_are_written_in_order_of_after() -> None:
    policy = _policy(
        """\
        steps:
          - {after: 0d, action: notice, template: payment_failed}
          - {after: 5d, action: mark_past_due}
          - {after: 2d, action: notice, template: payment_reminder}
          - {after: 3d, action: notice, template: final_notice}
          - {after: 5d, action: notice, template: final_notice}
        """
    )
    # The step after the misplaced one is compared with the latest so far: one error, not two.
    assert _refused(policy) == [
        "dunning.yaml:7:17: policies[0].steps[2].after: steps are written in order of after: 2d"
        " comes after a step at 5d (move this step up, or change after)",
        "dunning.yaml:8:17: policies[0].steps[3].after: steps are written in order of after: 3d"
        " comes after a step at 5d (move this step up, or change after)",
    ]


def test_retries_come_after_the_first_failure_and_later_each_time() -> None:
    policy = _policy("retries: {after: [0d, 2d, 1d, 2d, 3d]}")
    assert _refused(policy) == [
        "dunning.yaml:4:23: policies[0].retries.after[0]: a retry must come after the failed"
        " charge that opened the case (0d); 0d does not",
        "dunning.yaml:4:31: policies[0].retries.after[2]: retries must come later each time: 1d"
        " is not after 2d",
        "dunning.yaml:4:35: policies[0].retries.after[3]: retries must come later each time: 2d"
        " is not after 2d",
    ]


def test_at_a_time_of_day_retries_are_whole_days_apart() -> None:
    policy = _policy('retries: {after: [12h, 1d, 36h, 2d], at: "10:00"}')
    assert _refused(policy) == [
        "dunning.yaml:4:23: policies[0].retries.after[0]: with at: '10:00' each retry runs at"
        " that time on the day its offset lands, so offsets are whole days; 12h is not",
        "dunning.yaml:4:32: policies[0].retries.after[2]: with at: '10:00' each retry runs at"
        " that time on the day its offset lands, so offsets are whole days; 36h is not",
    ]
    # Without `at` an offset is an exact span of time: hours are fine.
    assert _load(_policy("retries: {after: [12h, 1d, 36h, 2d]}")).dunning.policies[
        "p"
    ].retries.after == tuple(timedelta(hours=h) for h in (12, 24, 36, 48))


def test_nothing_the_customer_loses_comes_before_the_grace() -> None:
    policy = _policy(
        """\
        grace: 10d
        steps:
          - {after: 0d, action: notice, template: payment_failed}
          - {after: 1d, action: mark_past_due}
          - {after: 9d, action: mark_unpaid}
          - {after: 9d, action: suspend}
          - {after: 10d, action: cancel_at_period_end}
          - {after: 10d, action: mark_uncollectible}
          - {after: 10d, action: cancel_now}
        """
    )
    losing = (
        "nothing the customer loses (mark_unpaid, suspend, cancel_now, cancel_at_period_end,"
        " mark_uncollectible) may happen before the grace ends"
    )
    assert _refused(policy) == [
        f"dunning.yaml:8:17: policies[0].steps[2].after: mark_unpaid at 9d comes before the"
        f" grace of 10d: {losing}",
        f"dunning.yaml:9:17: policies[0].steps[3].after: suspend at 9d comes before the grace"
        f" of 10d: {losing}",
    ]
    # Without grace (0d) a losing step may come at once.
    assert _load(_policy("steps: [{after: 0d, action: suspend}]")).dunning.policies["p"].steps == (
        DunningStep(timedelta(0), Action.SUSPEND, name="steps[0]"),
    )


def test_policies_have_one_name_and_cases_name_them() -> None:
    assert _refused(
        """\
        kind: dunning
        policies:
          - name: standard
          - name: standard
            grace: 1d
        cases:
          - {when: {segments: [enterprise]}, policy: enterprise}
          - {policy: standard}
        """
    ) == [
        "dunning.yaml:4:11: policies[1].name: policy 'standard' is already defined at"
        " dunning.yaml:3",
        "dunning.yaml:7:46: cases[0].policy: unknown policy 'enterprise'; this file defines:"
        " standard",
    ]


def test_cases_name_known_plans_currencies_and_names_once() -> None:
    assert _refused(
        """\
        kind: dunning
        policies: [{name: p}]
        cases:
          - name: eu
            when: {plans: [pro_monthly, pro_yearly], currencies: [EUR, EUX]}
            policy: p
          - {name: eu, policy: p}
        """
    ) == [
        "dunning.yaml:5:33: cases[0].when.plans[1]: unknown plan 'pro_yearly'",
        "dunning.yaml:5:64: cases[0].when.currencies[1]: 'EUX' is not an ISO 4217 currency code",
        "dunning.yaml:7:12: cases[1].name: case 'eu' is already the name of cases[0]",
    ]


def test_an_unreadable_catalog_may_define_the_plan() -> None:
    errors = _refused(
        """\
        kind: dunning
        policies: [{name: p}]
        cases: [{when: {plans: [pro_monthly]}, policy: p}]
        """,
        **{"catalog.yaml": "kind: catalog\nproducts: [\n"},
    )
    assert errors[-1] == (
        "dunning.yaml:3:25: cases[0].when.plans[0]: unknown plan 'pro_monthly' (catalog.yaml"
        " is unreadable and may define it)"
    )


NOT_WEB = "is not a web address: it must start with https:// (or http://) and name a host"
ONLY = "the address may only use {customer}, {invoice}"


@pytest.mark.parametrize(
    ("url", "problems"),
    [
        (
            "ftp://pay.example.com/u?c={customer}",
            [f"'ftp://pay.example.com/u?c={{customer}}' {NOT_WEB}"],
        ),
        ("pay.example.com/u", [f"'pay.example.com/u' {NOT_WEB}"]),
        ("https:///u?c={customer}", [f"'https:///u?c={{customer}}' {NOT_WEB}"]),
        (
            "https://pay.example.com/u?a={account}&i={invoice_id}&b={account}",
            [
                f"unknown placeholder {{account}}; {ONLY}",
                f"unknown placeholder {{invoice_id}}; {ONLY}",
            ],
        ),
        ("https://pay.example.com/u?i={invoice", [f"a brace without its pair; {ONLY}"]),
        ("https://pay.example.com/u?c=customer}", [f"a brace without its pair; {ONLY}"]),
    ],
)
def test_update_method_url_is_a_web_address_with_known_placeholders(
    url: str, problems: list[str]
) -> None:
    errors = _refused(
        f'kind: dunning\nupdate_method_url: "{url}"\npolicies: [{{name: p}}]\n'
        "cases: [{policy: p}]\n"
    )
    assert errors == [f"dunning.yaml:2:20: update_method_url: {p}" for p in problems]


def test_http_and_both_placeholders_are_accepted() -> None:
    url = "http://pay.example.com/{customer}/invoices/{invoice}?again={customer}"
    rules = _load(
        f'kind: dunning\nupdate_method_url: "{url}"\npolicies: [{{name: p}}]\ncases: [{{policy: p}}]\n'
    )
    assert rules.dunning.update_method_url == url


# --- warnings: the rules still mean something --------------------------------------------


def test_a_policy_no_case_reaches_and_a_case_after_a_catch_all_are_warnings() -> None:
    rules = _load(
        """\
        kind: dunning
        policies:
          - name: standard
          - name: enterprise
          - name: unused
        cases:
          - {when: {segments: [vip]}, policy: standard}
          - {when: {}, policy: standard}
          - {when: {segments: [enterprise]}, policy: enterprise}
          - {policy: standard}
        """
    )
    assert [str(w) for w in rules.warnings] == [
        "dunning.yaml:4:11: policies[1].name: no case chooses policy 'enterprise': it is never"
        " used",
        "dunning.yaml:5:11: policies[2].name: no case chooses policy 'unused': it is never used",
        "dunning.yaml:9:5: cases[2]: this case can never match: cases[1] (line 8) comes first"
        " and, without when, matches every invoice",
        "dunning.yaml:10:5: cases[3]: this case can never match: cases[1] (line 8) comes first"
        " and, without when, matches every invoice",
    ]


# --- the structure pass first: a broken item is reported once -----------------------------


def test_an_item_the_structure_pass_refused_is_not_reported_again() -> None:
    # Both passes report at once; the broken policy is skipped (its missing template is not
    # reported) but its name still counts: the case naming it is not an unknown policy.
    assert _refused(
        """\
        kind: dunning
        policies:
          - name: standard
            steps: [{after: 0d, action: explode}, {after: 1d, action: notice, template: gone}]
          - name: other
            steps: [{after: 0d, action: notice, template: misssing}]
        cases:
          - {when: {segments: [b]}, policy: other}
          - {policy: standard}
          - {policy: 7}
        """
    ) == [
        "dunning.yaml:4:33: policies[0].steps[0].action: expected one of notice, mark_past_due,"
        " mark_unpaid, suspend, cancel_now, cancel_at_period_end, mark_uncollectible, got"
        " 'explode'",
        f"dunning.yaml:6:51: policies[1].steps[0].template: unknown notice template"
        f" 'misssing'; {KNOWN}",
        "dunning.yaml:10:14: cases[2].policy: expected text, got 7",
    ]


def test_a_second_dunning_file_is_refused_and_only_the_first_is_read() -> None:
    second = _policy("steps: [{after: 0d, action: notice, template: missing}]")
    assert _refused(_policy(""), **{"dunning_more.yaml": second}) == [
        "dunning_more.yaml:1:7: kind: only one dunning file is allowed; dunning.yaml already"
        " holds the dunning rules"
    ]


# --- the worked example in rules/examples/dunning -----------------------------------------


def test_the_example_loads_clean_with_two_policies_chosen_by_segment() -> None:
    files = {p.name: p.read_bytes() for p in EXAMPLE.glob("*.yaml")}
    rules = load_rule_set_from_files(files, REPO_ENGINES)
    assert rules.warnings == ()
    dunning = rules.dunning
    assert list(dunning.policies) == ["standard", "enterprise"]
    assert [(c.name, c.policy) for c in dunning.cases] == [
        ("enterprise", "enterprise"),
        ("everyone_else", "standard"),
    ]
    assert (
        dunning.policy_for("pro_monthly", "enterprise", "cus_1", "EUR")
        is (dunning.policies["enterprise"])
    )
    assert dunning.policy_for("pro_monthly", "smb", "cus_1", "EUR") is dunning.policies["standard"]
    enterprise = dunning.policies["enterprise"]
    assert enterprise.grace == timedelta(days=30)
    assert [(s.after.days, s.action.value) for s in enterprise.steps] == [
        (0, "notice"),
        (7, "mark_past_due"),
        (14, "notice"),
        (28, "notice"),
        (30, "suspend"),
        (45, "cancel_at_period_end"),
    ]


def test_the_examples_worked_timeline() -> None:
    """The table of rules/examples/dunning/README.md: a customer in Paris whose payment failed
    on Friday 9 January 2026 at 14:00 UTC, under the standard policy, never paying."""
    files = {p.name: p.read_bytes() for p in EXAMPLE.glob("*.yaml")}
    policy = load_rule_set_from_files(files, REPO_ENGINES).dunning.policies["standard"]
    case = DunningCase(
        id="dun_1",
        customer_id="cus_1",
        invoice_id="inv_1",
        subscription_id="sub_1",
        clock_id=None,
        policy="standard",
        rule_set="hash",
        status=CaseStatus.ACTIVE,
        started_at=datetime(2026, 1, 9, 14, 0, tzinfo=UTC),
        amount_minor=5000,
        currency="EUR",
        time_zone="Europe/Paris",
    )
    walked: list[tuple[str, str, int]] = []
    event = next_event(policy, case)
    while event is not None:
        walked.append((event.at.strftime("%a %d %H:%M"), event.kind.value, event.index))
        if event.kind is EventKind.RETRY:
            case = replace(case, retries_done=case.retries_done + 1)
        else:
            case = replace(case, steps_done=case.steps_done + 1)
        event = next_event(policy, case)
    assert walked == [
        ("Fri 09 14:00", "step", 0),  # payment_failed
        ("Sat 10 14:00", "step", 1),  # mark_past_due
        ("Mon 12 09:00", "retry", 0),  # 1d: Saturday, moved to Monday 10:00 Paris
        ("Tue 13 09:00", "retry", 1),  # 3d: Monday, taken by the first: Tuesday
        ("Tue 13 14:00", "step", 2),  # payment_reminder
        ("Wed 14 09:00", "retry", 2),  # 5d
        ("Fri 16 09:00", "retry", 3),  # 7d
        ("Sun 18 14:00", "step", 3),  # final_notice (steps are not moved off weekends)
        ("Mon 19 14:00", "step", 4),  # suspend, at the end of the 10 days' grace
        ("Fri 30 14:00", "step", 5),  # cancel_now
    ]


def test_billing_rules_check_accepts_the_example_with_its_templates(tmp_path: Path) -> None:
    result = _check(EXAMPLE)
    assert result.returncode == 0, result.stderr
    files = {p.name: p.read_bytes() for p in EXAMPLE.glob("*.yaml")}
    assert f"ok, rule set {content_hash(files)}" in result.stdout
    assert result.stderr == ""
    # The check looks for the notices in DIR/templates: without them it refuses the file.
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(EXAMPLE / "dunning.yaml", bare / "dunning.yaml")
    refused = _check(bare)
    assert refused.returncode == 1
    assert (
        "error: dunning.yaml:15:47: policies[0].steps[0].template: unknown notice template"
        " 'payment_failed'; known: none (files templates/notices/<name>.txt)"
    ) in refused.stderr.splitlines()


def _check(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "billing", "rules", "check", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
