"""The fraud checks before a charge, with the external scorers (ADR 0034, ADR 0040).

The rules' own checks (`domain.fraud.assess`) run first; then each scorer the rules name,
in order, with a deadline, outside any transaction (they are outside calls, like gateways).
The worst outcome wins and every reason is kept, prefixed with the scorer's name.

A scorer that fails, times out, is not registered in this process or answers an outcome
that is not allow/review/block neither blocks nor silently allows: the attempt is flagged
`review` with the reason, and the charge goes ahead (an outage of a scoring service must
not stop all collection, nor pass unseen). When the rules' own checks already block, the
scorers are not asked: nothing they say can change the outcome.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from billing.domain.fraud import ALLOW, FraudFacts, Verdict, assess, is_outcome, worst
from billing.domain.payment_rules import FraudRules
from billing.plugins.engines import FraudCheck, FraudRequest

# Per scorer: it runs before every charge, so a slow one slows every PayInvoice.
SCORER_TIMEOUT_S = 5.0


async def assess_payment(
    rules: FraudRules,
    facts: FraudFacts,
    checks: Mapping[str, FraudCheck],
    *,
    timeout_s: float = SCORER_TIMEOUT_S,
) -> Verdict:
    """The rules' checks, then the scorers named in `rules.scorers` found in `checks` (the
    registered engines of kind `fraud_check`)."""
    verdict = assess(rules, facts)
    if verdict.outcome == "block" or not rules.scorers:
        return verdict
    found = [verdict]
    for name in rules.scorers:
        found.append(await _score(name, checks.get(name), rules, facts, timeout_s))
    return worst(found)


def scorer_request(rules: FraudRules, facts: FraudFacts, name: str) -> FraudRequest:
    """What a scorer sees: the facts, the largest count of each velocity scope (the longest
    window), and its own settings from the rules."""
    by_scope: dict[str, int] = {}
    for index, limit in enumerate(rules.velocity):
        count = _count_or_zero(facts, limit, index)
        by_scope[limit.scope] = max(by_scope.get(limit.scope, 0), count)
    return FraudRequest(
        tenant_id=facts.tenant_id,
        customer_id=facts.customer_id,
        amount_minor=facts.amount_minor,
        currency=facts.currency,
        method_type=facts.method_type,
        card_country=facts.card_country,
        billing_country=facts.billing_country,
        request_country=facts.request_country,
        customer_age_days=facts.customer_age_days,
        attempts_by_method=by_scope.get("method", 0),
        attempts_by_customer=by_scope.get("customer", 0),
        attempts_by_country=by_scope.get("country", 0),
        settings=rules.settings.get(name, {}),
    )


def _count_or_zero(facts: FraudFacts, limit: object, index: int) -> int:
    for key, count in facts.recent_attempts:
        if key is limit:
            return count
    if index < len(facts.recent_attempts):
        return facts.recent_attempts[index][1]
    return 0


async def _score(
    name: str,
    check: FraudCheck | None,
    rules: FraudRules,
    facts: FraudFacts,
    timeout_s: float,
) -> Verdict:
    if check is None:
        return Verdict("review", (f"{name}: no such scorer is installed on this server",))
    try:
        answer = await asyncio.wait_for(check.assess(scorer_request(rules, facts, name)), timeout_s)
    except TimeoutError:
        return Verdict("review", (f"{name}: no answer within {timeout_s:g}s",))
    except Exception as error:  # a plugin's failure is a reason on the attempt, never a crash
        return Verdict("review", (f"{name}: failed ({type(error).__name__})",))
    if not is_outcome(answer.outcome):
        return Verdict("review", (f"{name}: answered an unknown outcome {answer.outcome!r}",))
    if answer.outcome == "allow":
        return ALLOW  # its reasons for allowing are not worth flagging on the attempt
    reasons = tuple(f"{name}: {reason}" for reason in answer.reasons)
    if not reasons:
        reasons = (f"{name}: {answer.outcome} (no reason given)",)
    return Verdict(answer.outcome, reasons)
