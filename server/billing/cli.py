"""`billing` command line: serve, migrate, token, rules, due-work, keys, ledger, mrr."""

from __future__ import annotations

import argparse
import dataclasses
import gc
import logging
import multiprocessing
import os
import signal
import sys
from multiprocessing.process import BaseProcess
from pathlib import Path

from billing import event_loop
from billing.config import Settings, SettingsError
from billing.due_processes import Role, WakeSignal, lower_priority
from billing.observability.logs import configure_logging

log = logging.getLogger("billing.cli")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="billing", description="gRPC billing core")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the gRPC server in the foreground")
    serve.add_argument("--listen", help="host:port (default BILLING_LISTEN, 127.0.0.1:50051)")
    serve.add_argument("--workers", type=int, help="server processes (PostgreSQL only)")
    serve.add_argument("--ready-file", help="write the bound port here once serving")

    commands.add_parser("migrate", help="bring the database schema up to date")

    token = commands.add_parser("token", help="print a development token (HS256)")
    token.add_argument("--tenant", help="default: BILLING_DEV_TENANT (dev)")

    rules = commands.add_parser("rules", help="check, push or describe a rules directory")
    rules_commands = rules.add_subparsers(dest="rules_command", required=True)
    rules_check = rules_commands.add_parser("check", help="validate a rules directory")
    rules_check.add_argument("directory", type=Path)
    rules_push = rules_commands.add_parser("push", help="validate, store and activate (gRPC)")
    rules_push.add_argument("directory", type=Path)
    rules_push.add_argument("--target", default="127.0.0.1:50051", help="server host:port")
    rules_push.add_argument("--token", help="bearer token with rules.admin (or BILLING_TOKEN)")
    rules_schema = rules_commands.add_parser("schema", help="write a JSON Schema per kind")
    rules_schema.add_argument("out_dir", type=Path)

    _add_due_work_commands(commands)
    _add_keys_commands(commands)
    _add_ledger_commands(commands)
    _add_mrr_commands(commands)

    args = parser.parse_args(argv)
    if args.command == "rules":
        return _rules(args)
    if args.command == "due-work" and args.target:
        from billing import due_work_remote

        return due_work_remote.run(
            args.due_work_command, args.target, args.token, **_due_work_options(args)
        )
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"billing: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    overrides = {
        k: v
        for k, v in {
            "listen": getattr(args, "listen", None),
            "workers": getattr(args, "workers", None),
        }.items()
        if v
    }
    settings = dataclasses.replace(settings, **overrides)
    try:
        settings.check()
        if args.command == "migrate":
            return _migrate(settings)
        if args.command == "due-work":
            return _due_work(args, settings)
        if args.command == "keys":
            return _keys(args, settings)
        if args.command in ("ledger", "mrr"):
            return _ledger(args, settings) if args.command == "ledger" else _mrr(args, settings)
        if args.command == "token":
            from billing.runtime import development_token

            print(development_token(settings, args.tenant))
            return 0
        return _serve(settings, args.ready_file)
    except SettingsError as exc:
        print(f"billing: {exc}", file=sys.stderr)
        return 2


def _rules(args: argparse.Namespace) -> int:
    from billing import rules_cli

    if args.rules_command == "check":
        return rules_cli.check(args.directory)
    if args.rules_command == "push":
        return rules_cli.push(args.directory, args.target, args.token)
    return rules_cli.schema(args.out_dir)


def _add_due_work_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    due_work = commands.add_parser(
        "due-work", help="due work: list, retry, park, unpark (gRPC with --target, or database)"
    )
    due_commands = due_work.add_subparsers(dest="due_work_command", required=True)
    remote = argparse.ArgumentParser(add_help=False)
    remote.add_argument("--target", help="server host:port: over gRPC (DueWorkService, ADR 0058)")
    remote.add_argument("--token", help="with --target: token with billing.admin (BILLING_TOKEN)")
    due_list = due_commands.add_parser(
        "list", parents=[remote], help="list unfinished due work (one JSON object a line)"
    )
    which = due_list.add_mutually_exclusive_group()
    for flag in ("parked", "failing", "stuck"):
        which.add_argument(f"--{flag}", action="store_true", help=f"{flag} items only")
    due_list.add_argument("--kind", help="one kind only, e.g. renew")
    due_list.add_argument("--tenant", help="database: one tenant's (default: every tenant's)")
    helps = {
        "retry": "run an item now (gRPC); on the database: a parked item claimable again",
        "park": "stop workers claiming an item until unparked",
        "unpark": "a parked item claimable again, attempts from zero",
    }
    for name, text in helps.items():
        command = due_commands.add_parser(name, parents=[remote], help=text)
        command.add_argument("id", help="the item's id (`due_...`)")
        command.add_argument("--tenant", help="database: the item's tenant")
        if name == "park":
            command.add_argument("--reason", help="why, for the audit trail")


def _due_work_options(args: argparse.Namespace) -> dict[str, object]:
    which = next((f for f in ("parked", "failing", "stuck") if getattr(args, f, False)), "")
    return {
        "id": getattr(args, "id", None),
        "which": which,
        "kind": getattr(args, "kind", None),
        "reason": getattr(args, "reason", None),
    }


def _due_work(args: argparse.Namespace, settings: Settings) -> int:
    from billing import due_work_cli

    options = _due_work_options(args)
    if args.due_work_command != "list" and not args.tenant:
        print("billing: give --tenant (database) or --target (gRPC)", file=sys.stderr)
        return 2
    if args.due_work_command == "list":
        return due_work_cli.list_items(settings, args.tenant, str(options["which"]), args.kind)
    if args.due_work_command == "park":
        return due_work_cli.park(settings, args.tenant, args.id)
    return due_work_cli.retry(settings, args.tenant, args.id)  # retry and unpark alike


def _add_keys_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    keys = commands.add_parser("keys", help="stored secrets: re-encrypt, check (database)")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True)
    keys_rotate = keys_commands.add_parser(
        "rotate", help="re-encrypt every stored secret not under BILLING_ENCRYPTION_KEY_ID"
    )
    keys_rotate.add_argument("--batch-rows", type=int, default=500, help="rows per transaction")
    keys_commands.add_parser("check", help="check that every stored secret decrypts")


def _add_ledger_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    ledger = commands.add_parser("ledger", help="the journal's hash chain (database)")
    ledger_commands = ledger.add_subparsers(dest="ledger_command", required=True)
    verify = ledger_commands.add_parser("verify", help="seal and verify a tenant's hash chain")
    verify.add_argument("--tenant", required=True)


def _ledger(args: argparse.Namespace, settings: Settings) -> int:
    from billing import ledger_cli

    return ledger_cli.verify(settings, args.tenant)


def _add_mrr_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    mrr = commands.add_parser("mrr", help="MRR state (database)")
    mrr_commands = mrr.add_subparsers(dest="mrr_command", required=True)
    rebuild = mrr_commands.add_parser(
        "rebuild", help="recompute a tenant's MRR state from its subscriptions (idempotent)"
    )
    rebuild.add_argument("--tenant", required=True)


def _mrr(args: argparse.Namespace, settings: Settings) -> int:
    from billing import mrr_cli

    return mrr_cli.rebuild_tenant(settings, args.tenant)


def _keys(args: argparse.Namespace, settings: Settings) -> int:
    from billing import keys_cli

    if args.keys_command == "rotate":
        return keys_cli.rotate(settings, args.batch_rows)
    return keys_cli.check(settings)


def _migrate(settings: Settings) -> int:
    from billing.store.migrate import upgrade

    upgrade(settings.database_url)
    print(f"billing: database at head ({_safe_url(settings.database_url)})")
    return 0


def _serve(settings: Settings, ready_file: str | None) -> int:
    if settings.is_sqlite:
        from billing.runtime import development_token
        from billing.store.migrate import upgrade

        upgrade(settings.database_url)  # the embedded default needs no set-up step
        if not settings.auth_jwks_file:
            token = development_token(settings)
            _write_dev_token(settings, token)
            _print_dev_banner(settings, token)
    if settings.workers == 1:
        _run_worker(settings, ready_file)
        return 0
    return _supervise(settings, ready_file)


# The cyclic collector is tuned for small scripts: every 700 allocations, and a full pass over
# every object whenever a quarter more survive. A server allocating per event (StreamUsage:
# tens of thousands a second, held until their batch is written) spent a quarter of its CPU
# in it (gc.callbacks under the bench). Our objects rarely form cycles (refcounting frees
# them), so: young collections every 50,000 allocations, and what exists once the server is
# loaded (modules, classes, metadata) frozen out of every later pass.
GC_YOUNG_THRESHOLD = 50_000


def tune_gc() -> None:
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


def _run_worker(
    settings: Settings,
    ready_file: str | None,
    role: Role = Role.ALL,
    due_wake: WakeSignal | None = None,
) -> None:
    from billing.runtime import serve

    if role is Role.DUE:
        lower_priority(settings.due_work_nice)  # before any thread starts: they inherit it
    tune_gc()

    def on_ready(port: int) -> None:
        if ready_file:
            tmp = Path(ready_file + ".tmp")
            tmp.write_text(str(port))
            tmp.replace(ready_file)  # atomic: readers never see a partial file

    event_loop.run(serve(settings, on_ready, role, due_wake), settings.event_loop)


def _supervise(settings: Settings, ready_file: str | None) -> int:
    """Several server processes on one port (SO_REUSEPORT), and the due-work processes (ADR
    0067) after them; SIGTERM is passed on to each."""
    stopping = False
    stop_signals: set[int] = set()
    workers: list[BaseProcess] = []

    def stop_all(signum: int, _frame: object = None) -> None:
        nonlocal stopping
        stopping = True
        stop_signals.add(signum)
        for process in workers:
            if process.pid is not None and process.is_alive():
                os.kill(process.pid, signum)

    # First of all, before the shared Event starts multiprocessing's resource tracker and the
    # children start: a stop asked for meanwhile is a stop, not death by the default handler
    # half way through the starts (children left without their parent).
    signal.signal(signal.SIGTERM, stop_all)
    signal.signal(signal.SIGINT, stop_all)
    ctx = multiprocessing.get_context("spawn")  # gRPC must not be forked after it starts
    dedicated = settings.dedicated_due_processes
    due_wake = ctx.Event() if dedicated else None
    serving = Role.CALLS if dedicated else Role.ALL
    workers += [
        ctx.Process(
            target=_worker_entry,
            args=(_nth_worker(settings, i), ready_file if i == 0 else None, serving, due_wake),
        )
        for i in range(settings.workers)
    ] + [
        ctx.Process(
            target=_worker_entry,
            args=(_nth_worker(settings, settings.workers + i), None, Role.DUE, due_wake),
            name=f"billing-due-work-{i}",
        )
        for i in range(dedicated)
    ]
    for process in workers:
        if stopping:
            break  # asked to stop: start no more
        process.start()
    workers[:] = [p for p in workers if p.pid is not None]
    while any(p.is_alive() for p in workers):
        for process in workers:
            process.join(timeout=0.2)
            if process.exitcode not in (None, 0) and not stopping:
                # A worker died: fail loudly as a whole, so the service manager restarts us,
                # rather than limp along on fewer processes.
                log.error("worker exited", extra={"pid": process.pid, "code": process.exitcode})
                stop_all(signal.SIGTERM)
    return max((_exit_status(p.exitcode, stop_signals) for p in workers), default=0)


def _exit_status(exitcode: int | None, stop_signals: set[int]) -> int:
    """A child's part in the supervisor's exit status. One that a stop signal ended before it
    had installed its own handler (it was still importing: nothing served, nothing done)
    stopped as asked."""
    if exitcode is None or exitcode == 0:
        return 0
    if exitcode < 0 and -exitcode in stop_signals:
        return 0
    return abs(exitcode)


def _nth_worker(settings: Settings, i: int) -> Settings:
    """Worker i's settings: its metrics on a port of its own (ADR 0061)."""
    from billing.observability.metrics import worker_listen

    return dataclasses.replace(settings, metrics_listen=worker_listen(settings.metrics_listen, i))


def _worker_entry(
    settings: Settings, ready_file: str | None, role: Role, due_wake: WakeSignal | None
) -> None:
    configure_logging(settings.log_level)
    _run_worker(settings, ready_file, role, due_wake)


def _write_dev_token(settings: Settings, token: str) -> None:
    """Kept where the Python client looks (`var/dev-token`), so a first call needs no paste."""
    path = Path(settings.data_dir) / "dev-token"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.touch(mode=0o600)
    tmp.write_text(token + "\n")
    tmp.replace(path)


def _print_dev_banner(settings: Settings, token: str) -> None:
    print(
        "\nbilling: embedded SQLite database at "
        f"{_safe_url(settings.database_url)}; listening on {settings.listen}\n"
        "billing: development token (tenant 'dev', all scopes, 30 days):\n\n"
        f"{token}\n",
        flush=True,
    )


def _safe_url(url: str) -> str:
    from sqlalchemy.engine.url import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    sys.exit(main())
