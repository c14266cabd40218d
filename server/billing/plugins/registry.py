"""Loads plugins once and collects the engines they register, by kind and name."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import pluggy

from billing.plugins import hookspecs

ENTRY_POINT_GROUP = "billing.plugins"

# kind -> the hook that registers engines of that kind. Rule validation refers to kinds.
ENGINE_KINDS: Mapping[str, str] = MappingProxyType(
    {
        "pricing_model": "billing_register_pricing_models",
        "proration_policy": "billing_register_proration_policies",
        "tax_engine": "billing_register_tax_engines",
        "tax_id_verifier": "billing_register_tax_id_verifiers",
        "payment_gateway": "billing_register_payment_gateways",
        "fraud_check": "billing_register_fraud_checks",
        "recognition_method": "billing_register_recognition_methods",
        "notification_channel": "billing_register_notification_channels",
    }
)


class DuplicateEngine(RuntimeError):
    """Two plugins registered the same engine name for one kind."""


@dataclass(frozen=True)
class Engines:
    """Engines by kind and name; immutable once loaded."""

    by_kind: Mapping[str, Mapping[str, Any]]
    plugin_names: tuple[str, ...]

    def get(self, kind: str, name: str) -> Any:
        return self.by_kind[kind][name]

    def names(self) -> dict[str, set[str]]:
        """What the rule validator checks engine references against."""
        return {kind: set(engines) for kind, engines in self.by_kind.items()}


def collect(manager: pluggy.PluginManager) -> Engines:
    by_kind: dict[str, Mapping[str, Any]] = {}
    for kind, hook_name in ENGINE_KINDS.items():
        found: dict[str, Any] = {}

        def register(
            name: str, engine: Any, *, _kind: str = kind, _found: dict[str, Any] = found
        ) -> None:
            if name in _found:
                raise DuplicateEngine(f"two plugins register the {_kind} {name!r}")
            _found[name] = engine

        getattr(manager.hook, hook_name)(register=register)
        by_kind[kind] = MappingProxyType(found)
    names = tuple(sorted(manager.get_name(p) or repr(p) for p in manager.get_plugins()))
    return Engines(MappingProxyType(by_kind), names)


def make_manager(
    extra_plugins: Iterable[object] = (), *, entry_points: bool = True
) -> pluggy.PluginManager:
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    if entry_points:
        manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for plugin in extra_plugins:
        manager.register(plugin)
    return manager


@functools.cache
def load_engines() -> Engines:
    """The engines of every installed plugin, loaded once per process (entry points are
    imported here, on first use, never at import time)."""
    return collect(make_manager())
