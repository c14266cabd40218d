"""The built-in engines, registered through the `billing.plugins` entry point like any
third-party plugin. Each module registers one kind."""

from billing_builtin import (
    gateways,
    notifications,
    pricing,
    proration,
    recognition,
    tax,
    tax_europe,
    tax_world,
    vies,
)

PLUGIN_MODULES = (
    pricing,
    proration,
    tax,
    tax_world,
    gateways,
    recognition,
    notifications,
    vies,
    tax_europe,
)
