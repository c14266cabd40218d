"""The embedded default's rules: the files in `rules/` are pushed at start for the default
tenant, and again whenever they change. A broken edit is logged with every error and the
last good rule set stays active, exactly as with `billing rules push`."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from pathlib import Path

from billing.app.context import CallContext, Write
from billing.app.rules import RuleUseCases
from billing.domain.errors import BillingError, InvalidArgument
from billing.rules.ruleset import is_rule_file_name

log = logging.getLogger("billing.rules")

POLL_INTERVAL_S = 1.0  # editors save in bursts; a second is quick enough and cheap


class RulesDirectoryWatcher:
    def __init__(self, rules: RuleUseCases, directory: Path, tenant_id: str) -> None:
        self._rules = rules
        self._directory = directory
        self._tenant_id = tenant_id
        self._seen: tuple[tuple[str, int, int], ...] | None = None

    async def sync(self) -> None:
        """Push the directory's files if they changed since the last look."""
        stamp = await asyncio.to_thread(self._stamp)
        if stamp == self._seen:
            return
        self._seen = stamp
        files = await asyncio.to_thread(self._read)
        if not files:
            log.warning("no rule files found", extra={"directory": str(self._directory)})
            return
        digest = hashlib.sha256(repr(sorted(files.items())).encode()).digest()
        ctx = CallContext(self._tenant_id, "rules-directory", "PushRuleSet", "rules-watch")
        # A fresh key per change seen: going back to earlier files must push them again.
        request_id = f"rules-dir-{uuid.uuid4().hex}"
        try:
            pushed = await self._rules.push(ctx, Write(request_id, digest, files))
        except InvalidArgument as refused:
            log.error(
                "rule files refused; the active rule set is unchanged",
                extra={"errors": [v.description for v in refused.violations]},
            )
        except BillingError as error:
            log.error("rule files not pushed", extra={"error": error.message})
        else:
            log.info("rules active", extra={"rule_set": pushed.name, "tenant": self._tenant_id})

    async def watch(self) -> None:
        while True:
            await asyncio.sleep(POLL_INTERVAL_S)
            try:
                await self.sync()
            except Exception:
                log.exception("watching the rules directory failed; will retry")

    def _paths(self) -> list[Path]:
        if not self._directory.is_dir():
            return []
        return sorted(
            p for p in self._directory.iterdir() if p.is_file() and is_rule_file_name(p.name)
        )

    def _stamp(self) -> tuple[tuple[str, int, int], ...]:
        return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in self._paths())

    def _read(self) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in self._paths()}
