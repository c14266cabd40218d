"""The plugin system: hook specifications, engine interfaces and the engine registry.

Built-in engines live in the `billing_builtin` package (plugins/) and are found through the
same `billing.plugins` entry-point group as any third-party package.
"""

from billing.plugins.engines import (
    FraudCheck,
    GatewayEngine,
    NotificationChannel,
    PaymentGateway,
    PricingModel,
    PricingRequest,
    ProrationPolicyEngine,
    ProrationRequest,
    RecognitionMethod,
    TaxEngine,
)
from billing.plugins.registry import ENGINE_KINDS, Engines, load_engines

__all__ = [
    "ENGINE_KINDS",
    "Engines",
    "FraudCheck",
    "GatewayEngine",
    "NotificationChannel",
    "PaymentGateway",
    "PricingModel",
    "PricingRequest",
    "ProrationPolicyEngine",
    "ProrationRequest",
    "RecognitionMethod",
    "TaxEngine",
    "load_engines",
]
