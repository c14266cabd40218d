"""Rule set use cases: validate, push (store + activate), get; and the active rules that
every billing call reads.

Raises: RuleSetRefused (any error in the files; nothing is stored), NotFound (no such hash
for this tenant), NoActiveRuleSet, IdempotencyKeyReused, RequestInProgress.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from billing.app.audit_records import audit_of
from billing.app.context import CallContext, Write
from billing.app.ids import new_id
from billing.app.ports import Store, StoredRuleSet, Transaction
from billing.app.records import OutboxEvent
from billing.app.writes import WriteRunner
from billing.domain import limits
from billing.domain.errors import (
    FieldViolation,
    InvalidArgument,
    NoActiveRuleSet,
    NotFound,
    RuleSetRefused,
)
from billing.domain.limits import echo
from billing.plugins.engines import RecognitionMethod, TaxEngine
from billing.plugins.registry import Engines
from billing.rules import RuleSet, RuleSetInvalid, content_hash, load_rule_set_from_files
from billing.rules.errors import RuleDiagnostic, RuleError, RuleWarning
from billing.rules.ruleset import is_rule_file_name

COMPILED_CACHE_SIZE = 64  # rule sets kept compiled per process; old ones reload on demand
HASH_LENGTH = 64
_NO_ENGINES: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class RuleSetView:
    content_hash: str
    files: Mapping[str, bytes]
    created_at: datetime
    active: bool
    activated_at: datetime | None
    warnings: tuple[RuleDiagnostic, ...]

    @property
    def name(self) -> str:
        return f"ruleSets/{self.content_hash}"


@dataclass(frozen=True)
class Validation:
    content_hash: str
    errors: tuple[RuleDiagnostic, ...]
    warnings: tuple[RuleDiagnostic, ...]


@dataclass(frozen=True)
class ActiveRules:
    """The rules a call runs under, with their hash (every result records it)."""

    rules: RuleSet
    # The registered tax engines by name (ADR 0026): what `compute_tax` asks.
    tax_engines: Mapping[str, TaxEngine] = field(default_factory=lambda: _NO_ENGINES)
    # The plugins' recognition methods by name (ADR 0054): asked when a schedule is written.
    recognition_methods: Mapping[str, RecognitionMethod] = field(
        default_factory=lambda: _NO_ENGINES
    )

    @property
    def content_hash(self) -> str:
        return self.rules.content_hash

    @property
    def name(self) -> str:
        return f"ruleSets/{self.rules.content_hash}"


class CompiledRuleSets:
    """Validated, compiled rule sets by hash. Compiling is CPU work, so it runs in a thread
    and only on a cache miss: once per process per rule set. Calls that miss together share
    one compile: a process's first burst of calls (dozens in flight, all missing) once
    compiled the set dozens of times over, seconds of CPU in threads contending with the
    event loop for the GIL."""

    def __init__(self, engines: Engines, size: int = COMPILED_CACHE_SIZE) -> None:
        self._engines = engines
        self._size = size
        self._cache: OrderedDict[str, RuleSet] = OrderedDict()
        self._compiling: dict[str, asyncio.Future[RuleSet]] = {}
        self.compiles = 0  # how many compiles ran (tests count them)

    async def compile(self, files: Mapping[str, bytes]) -> RuleSet:
        """Raises RuleSetInvalid with every error."""
        digest = content_hash(files)
        known = self._cache.get(digest)
        if known is not None:
            self._cache.move_to_end(digest)
            return known
        running = self._compiling.get(digest)
        if running is None:
            running = asyncio.ensure_future(self._compile(digest, dict(files)))
            self._compiling[digest] = running
        # shield: one waiter cancelled (its call's deadline) must not cancel the others'
        return await asyncio.shield(running)

    async def _compile(self, digest: str, files: dict[str, bytes]) -> RuleSet:
        try:
            self.compiles += 1
            compiled = await asyncio.to_thread(
                load_rule_set_from_files, files, self._engines.by_kind
            )
            self._cache[digest] = compiled
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
            return compiled
        finally:
            del self._compiling[digest]

    @property
    def tax_engines(self) -> Mapping[str, TaxEngine]:
        return self._engines.by_kind.get("tax_engine", _NO_ENGINES)

    @property
    def engines(self) -> tuple[Mapping[str, TaxEngine], Mapping[str, RecognitionMethod]]:
        """What ActiveRules carries after the rules: tax engines, recognition methods."""
        by_kind = self._engines.by_kind
        return self.tax_engines, by_kind.get("recognition_method", _NO_ENGINES)

    def cached(self, digest: str) -> RuleSet | None:
        return self._cache.get(digest)


class RuleUseCases:
    def __init__(self, store: Store, writes: WriteRunner, compiled: CompiledRuleSets) -> None:
        self._store = store
        self._writes = writes
        self._compiled = compiled

    async def validate(self, ctx: CallContext, files: Mapping[str, bytes]) -> Validation:
        _check_file_names(files)
        try:
            rules = await self._compiled.compile(files)
        except RuleSetInvalid as invalid:
            return Validation(content_hash(files), invalid.errors, invalid.warnings)
        return Validation(rules.content_hash, (), rules.warnings)

    async def push(self, ctx: CallContext, write: Write[Mapping[str, bytes]]) -> RuleSetView:
        _check_file_names(write.input)
        try:
            rules = await self._compiled.compile(write.input)
        except RuleSetInvalid as invalid:
            raise _refused(invalid.errors) from None

        async def work(tx: Transaction, now: datetime) -> RuleSetView:
            stored = StoredRuleSet(rules.content_hash, dict(rules.files), now)
            await tx.rule_sets.add(ctx.tenant_id, stored, ctx.actor)
            previous = await tx.rule_sets.activate(
                ctx.tenant_id, rules.content_hash, now, ctx.actor
            )
            kept = await tx.rule_sets.get(ctx.tenant_id, rules.content_hash)
            created_at = kept.created_at if kept is not None else now
            view = RuleSetView(
                rules.content_hash, rules.files, created_at, True, now, rules.warnings
            )
            change = {"content_hash": rules.content_hash, "previous": previous}
            await tx.outbox.add(
                OutboxEvent(new_id("evt"), ctx.tenant_id, "rules.activated", view.name, change, now)
            )
            await tx.audit.add(
                audit_of(
                    ctx,
                    write,
                    view.name,
                    "activate",
                    change,
                    now,
                )
            )
            return view

        return await self._writes.run(ctx, write, RULE_SET_CODEC, work)

    async def get(self, ctx: CallContext, name: str) -> RuleSetView:
        digest = _parse_rule_set_name(name)
        async with self._store.read() as tx:
            stored = await tx.rule_sets.get(ctx.tenant_id, digest)
            active = await tx.rule_sets.active(ctx.tenant_id)
        if stored is None:
            raise NotFound(name)
        return await self._view(
            stored,
            active.content_hash == digest if active else False,
            active.activated_at if active and active.content_hash == digest else None,
        )

    async def get_active(self, ctx: CallContext) -> RuleSetView:
        async with self._store.read() as tx:
            active = await tx.rule_sets.active(ctx.tenant_id)
            stored = await tx.rule_sets.get(ctx.tenant_id, active.content_hash) if active else None
        if active is None or stored is None:
            raise NoActiveRuleSet()
        return await self._view(stored, True, active.activated_at)

    async def active_rules(self, ctx: CallContext) -> ActiveRules:
        """The tenant's active rules, read from the database on every call (so a push is
        seen by every process at once) and compiled from cache."""
        async with self._store.read() as tx:
            return await self.active_rules_in(tx, ctx.tenant_id)

    async def active_rules_in(self, tx: Transaction, tenant_id: str) -> ActiveRules:
        active = await tx.rule_sets.active(tenant_id)
        if active is None:
            raise NoActiveRuleSet()
        compiled = self._compiled.cached(active.content_hash)
        if compiled is None:
            stored = await tx.rule_sets.get(tenant_id, active.content_hash)
            if stored is None:  # the active row always points at a stored rule set
                raise RuntimeError(f"active rule set {active.content_hash} is not stored")
            compiled = await self._compiled.compile(stored.files)
        return ActiveRules(compiled, *self._compiled.engines)

    async def rules_of_version(
        self, tx: Transaction, tenant_id: str, content_hash: str
    ) -> ActiveRules | None:
        """The rule set version `content_hash` (e.g. the one an invoice was finalized
        under), compiled; None if the tenant never stored it."""
        compiled = self._compiled.cached(content_hash)
        if compiled is None:
            stored = await tx.rule_sets.get(tenant_id, content_hash)
            if stored is None:
                return None
            compiled = await self._compiled.compile(stored.files)
        return ActiveRules(compiled, *self._compiled.engines)

    async def _view(
        self, stored: StoredRuleSet, active: bool, activated_at: datetime | None
    ) -> RuleSetView:
        compiled = await self._compiled.compile(stored.files)
        return RuleSetView(
            stored.content_hash,
            stored.files,
            stored.created_at,
            active,
            activated_at,
            compiled.warnings,
        )


def _check_file_names(files: Mapping[str, bytes]) -> None:
    """Refused before any parsing: the loader takes only plain *.yaml / *.yml names."""
    if not files:
        raise InvalidArgument.single("files", "a rule set needs at least one file")
    bad = [name for name in sorted(files) if not is_rule_file_name(name)]
    if bad:
        raise InvalidArgument(
            [
                FieldViolation(
                    f'files["{_shown(name)}"]',
                    "must be a plain file name ending in .yaml or .yml (no '/', '\\', '..',"
                    f" NUL or leading '.'; at most {limits.RULE_FILE_NAME_CHARS_MAX} characters)",
                )
                for name in bad
            ]
        )


def _shown(name: str) -> str:
    """A file name as an error may quote it: short, its NULs visible."""
    return echo(name.replace("\x00", "\\0"))


def _parse_rule_set_name(name: str) -> str:
    head, _, digest = name.partition("/")
    if (
        head != "ruleSets"
        or len(digest) != HASH_LENGTH
        or not all(c in "0123456789abcdef" for c in digest)
    ):
        raise InvalidArgument.single("name", f"must be ruleSets/<64 hex digits>, got {name!r}")
    return digest


def _refused(errors: tuple[RuleError, ...]) -> RuleSetRefused:
    return RuleSetRefused(
        [
            FieldViolation(
                f'files["{e.file}"].{e.path_text}' if e.path_text else f'files["{e.file}"]',
                str(e),
            )
            for e in errors
        ]
    )


# --- stored replies of PushRuleSet --------------------------------------------------------


def _diagnostic_to_dict(d: RuleDiagnostic) -> dict[str, Any]:
    return {
        "file": d.file,
        "line": d.line,
        "column": d.column,
        "path": list(d.path),
        "message": d.message,
    }


class _RuleSetCodec:
    def encode(self, result: RuleSetView) -> bytes:
        return json.dumps(
            {
                "content_hash": result.content_hash,
                "files": {k: base64.b64encode(v).decode() for k, v in result.files.items()},
                "created_at": result.created_at.isoformat(),
                "activated_at": result.activated_at.isoformat() if result.activated_at else None,
                "warnings": [_diagnostic_to_dict(w) for w in result.warnings],
            }
        ).encode()

    def decode(self, data: bytes) -> RuleSetView:
        raw = json.loads(data)
        return RuleSetView(
            content_hash=raw["content_hash"],
            files={k: base64.b64decode(v) for k, v in raw["files"].items()},
            created_at=datetime.fromisoformat(raw["created_at"]),
            active=True,  # as it was when first answered
            activated_at=datetime.fromisoformat(raw["activated_at"])
            if raw["activated_at"]
            else None,
            warnings=tuple(
                RuleWarning(w["file"], w["line"], w["column"], tuple(w["path"]), w["message"])
                for w in raw["warnings"]
            ),
        )


RULE_SET_CODEC = _RuleSetCodec()
