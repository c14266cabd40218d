"""Every hook a plugin may implement. All are called with all results collected (pluggy's
default); each is handed a `register(name, engine)` callback and returns nothing.

A plugin is a module or object with `@hookimpl`-decorated functions of these names, found
through the `billing.plugins` entry-point group. Names are unique per engine kind: two
plugins registering the same name is an error at start-up, not a silent override.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

from billing.plugins.engines import (
    FraudCheck,
    GatewayEngine,
    NotificationChannel,
    PricingModel,
    ProrationPolicyEngine,
    RecognitionMethod,
    TaxEngine,
    TaxIdVerifier,
)

PROJECT = "billing"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def billing_register_pricing_models(register: Callable[[str, PricingModel], None]) -> None:
    """Register pricing models; a price's `model:` names one (e.g. `graduated`)."""


@hookspec
def billing_register_proration_policies(
    register: Callable[[str, ProrationPolicyEngine], None],
) -> None:
    """Register proration policies; a proration rule's `granularity:` names one."""


@hookspec
def billing_register_tax_engines(register: Callable[[str, TaxEngine], None]) -> None:
    """Register tax engines; a tax rule names one per jurisdiction."""


@hookspec
def billing_register_tax_id_verifiers(register: Callable[[str, TaxIdVerifier], None]) -> None:
    """Register online tax id verifiers (e.g. `vies` for EU VAT numbers); settings turn one on."""


@hookspec
def billing_register_payment_gateways(register: Callable[[str, GatewayEngine], None]) -> None:
    """Register payment gateway engines (`sandbox`, `stripe`, `adyen`); a gateway in the payment
    rules names its engine, and routing rules name gateways."""


@hookspec
def billing_register_fraud_checks(register: Callable[[str, FraudCheck], None]) -> None:
    """Register external fraud checks (scorers); the payment rules' fraud cases name them."""


@hookspec
def billing_register_recognition_methods(
    register: Callable[[str, RecognitionMethod], None],
) -> None:
    """Register revenue recognition methods; recognition rules name them."""


@hookspec
def billing_register_notification_channels(
    register: Callable[[str, NotificationChannel], None],
) -> None:
    """Register notification channels (email, webhook...); dunning rules name them."""
