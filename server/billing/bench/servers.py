"""The processes under test: start, wait until serving, stop; and their fresh databases.

Every server runs in its own session (process group), so a Ctrl-C at the terminal reaches
only the harness, which then stops each server itself: SIGTERM, wait, and SIGKILL to the
group only if it does not exit in time.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine.url import make_url

LOCALHOST = "127.0.0.1"
READY_TIMEOUT_S = 60.0
LISTENERS_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0
MIGRATE_TIMEOUT_S = 300.0
POLL_S = 0.05
LOG_TAIL_LINES = 30


class BenchError(RuntimeError):
    """A server or database could not be set up; the message says why."""


@dataclass(frozen=True)
class RunningServer:
    name: str
    pid: int  # the process we started (the supervisor when there are several workers)
    port: int
    processes: int  # server processes sharing the port
    log_path: Path

    @property
    def target(self) -> str:
        return f"{LOCALHOST}:{self.port}"


def free_port() -> int:
    """A port that was free a moment ago; needed when several processes share one port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        port: int = sock.getsockname()[1]
        return port


# A key ring of one random key per bench run: PostgreSQL servers do not start without one
# (ADR 0039), and the bench stores no secret worth keeping.
BENCH_ENCRYPTION_KEYS = "bench:" + base64.urlsafe_b64encode(os.urandom(32)).decode()


def clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    """This environment without the caller's BILLING_* settings, plus a bench key ring and
    `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILLING_")}
    env.update(extra)
    # Gateway tokens are encrypted at rest (ADR 0034): a PostgreSQL server needs a key ring;
    # a bench's throwaway one, unless the caller gave its own.
    if "BILLING_ENCRYPTION_KEYS" not in env:
        env["BILLING_ENCRYPTION_KEYS"] = BENCH_ENCRYPTION_KEYS
        env["BILLING_ENCRYPTION_KEY_ID"] = "bench"
    return env


def echo_command() -> list[str]:
    return [sys.executable, "-m", "billing.bench.echo", "--listen", f"{LOCALHOST}:0"]


def billing_command() -> list[str]:
    return [sys.executable, "-m", "billing", "serve"]


@contextlib.contextmanager
def running_server(
    name: str, argv: list[str], env: Mapping[str, str], workdir: Path, processes: int = 1
) -> Iterator[RunningServer]:
    """Start `argv --ready-file F`, wait until it serves, and stop it on the way out."""
    ready = workdir / f"{name}.port"
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*argv, "--ready-file", str(ready)],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        port = _wait_ready(name, process, ready, log_path)
        if processes > 1:
            _wait_listeners(name, process, port, processes, log_path)
        yield RunningServer(name, process.pid, port, processes, log_path)
    finally:
        stop_process_group(process)


def stop_process_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, wait; then make sure nothing of the group we started is left."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait()
    # A supervisor joins its workers before it exits; this only matters if it did not.
    if _signal_group(process.pid, signal.SIGTERM):
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while time.monotonic() < deadline and _signal_group(process.pid, 0):
            time.sleep(POLL_S)
        _signal_group(process.pid, signal.SIGKILL)


def _signal_group(pgid: int, signum: int) -> bool:
    """Signal the process group we created; False when it no longer exists."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    return True


def _wait_ready(name: str, process: subprocess.Popen[bytes], ready: Path, log_path: Path) -> int:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if ready.exists():
            text = ready.read_text().strip()
            if text:
                return int(text)
        if process.poll() is not None:
            raise BenchError(
                f"{name} server exited with status {process.returncode}\n{log_tail(log_path)}"
            )
        time.sleep(POLL_S)
    raise BenchError(f"{name} server not ready after {READY_TIMEOUT_S:.0f}s\n{log_tail(log_path)}")


def _wait_listeners(
    name: str, process: subprocess.Popen[bytes], port: int, expected: int, log_path: Path
) -> None:
    """The ready file comes from the first worker; wait until all of them listen."""
    deadline = time.monotonic() + LISTENERS_TIMEOUT_S
    while time.monotonic() < deadline:
        counts = connections_per_server_process(process.pid, port)
        if counts is None:  # no /proc: give the other workers a moment
            time.sleep(2.0)
            return
        if len(counts) >= expected:
            return
        if process.poll() is not None:
            raise BenchError(f"{name} server exited early\n{log_tail(log_path)}")
        time.sleep(POLL_S)
    raise BenchError(f"{name}: fewer than {expected} processes listen on port {port}")


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


# Connection balance (Linux /proc). Several workers share the port through SO_REUSEPORT and
# the kernel spreads connections over them by hash; with one connection per load process the
# split can be uneven, and the report says what it was.


def connections_per_server_process(root_pid: int, port: int) -> list[int] | None:
    """For each process under `root_pid` listening on `port`, its established connections.

    None where /proc cannot tell (not Linux).
    """
    if not Path("/proc/net/tcp").exists():
        return None
    listening, established = _tcp_sockets(port)
    counts: list[int] = []
    for pid in process_tree(root_pid):
        try:
            inodes = _socket_inodes(pid)
        except OSError:
            continue  # exited meanwhile
        if inodes & listening:
            counts.append(len(inodes & established))
    return counts


def _tcp_sockets(port: int) -> tuple[set[int], set[int]]:
    listening: set[int] = set()
    established: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) < 10 or int(fields[1].rsplit(":", 1)[1], 16) != port:
                continue
            if fields[3] == "0A":
                listening.add(int(fields[9]))
            elif fields[3] == "01":
                established.add(int(fields[9]))
    return listening, established


def process_stats() -> Iterator[tuple[int, str, list[str]]]:
    """(pid, name, the fields after the name) of every process's /proc/<pid>/stat; a process
    gone while it is read is skipped. The name in (...) may contain spaces."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name, rest = stat.split("(", 1)[1].rsplit(")", 1)
        yield int(entry.name), name, rest.split()


def process_tree(root_pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, _name, fields in process_stats():
        children.setdefault(int(fields[1]), []).append(pid)  # fields[1]: the parent's pid
    tree: list[int] = []
    todo = [root_pid]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def _socket_inodes(pid: int) -> set[int]:
    inodes: set[int] = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            link = os.readlink(fd)
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(int(link[len("socket:[") : -1]))
    return inodes


# Databases.


def sqlite_url(workdir: Path) -> str:
    return f"sqlite+aiosqlite:///{workdir / 'bench.db'}"


@contextlib.contextmanager
def postgresql_database(server_url: str) -> Iterator[str]:
    """A fresh database `billing_bench_<random>` on `server_url`'s server, dropped afterwards."""
    url = make_url(server_url)
    if url.host != LOCALHOST:
        raise BenchError(f"the PostgreSQL server must be on {LOCALHOST}, not {url.host!r}")
    admin_dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"billing_bench_{secrets.token_hex(6)}"
    try:
        with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error as exc:
        raise BenchError(f"cannot create a PostgreSQL database on {url.host}: {exc}") from exc
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        try:
            with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
        except psycopg.Error as exc:
            print(f"billing-bench: could not drop database {name}: {exc}", file=sys.stderr)


def _admin_dsn(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def autovacuum_off(server_url: str) -> bool:
    """Whether `server_url`'s PostgreSQL server runs without autovacuum (this machine's CI
    configuration does: its statistics then stay as the migration left them, empty)."""
    try:
        with psycopg.connect(_admin_dsn(server_url), autocommit=True, connect_timeout=5) as conn:
            row = conn.execute("SHOW autovacuum").fetchone()
    except psycopg.Error as exc:
        raise BenchError(f"cannot ask PostgreSQL whether autovacuum runs: {exc}") from exc
    return row is not None and row[0] == "off"


# The tables autovacuum would analyze now, by its default rule: more rows changed since the
# last ANALYZE than autovacuum_analyze_threshold (50) + autovacuum_analyze_scale_factor (0.1)
# of the table's rows.
_DUE_FOR_ANALYZE = (
    "SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid"
    " WHERE s.n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0)"
)


@contextlib.contextmanager
def analyzed_meanwhile(database_url: str, every_s: float) -> Iterator[None]:
    """Every `every_s` seconds while the block runs, ANALYZE the tables autovacuum would (by
    its default thresholds): the statistics a production server keeps, on a server that runs
    without autovacuum. The bench's tables start empty and grow by thousands of rows a
    second; planned on the empty tables' guesses, the due-work claim and its probes pick
    indexes no production server would (ADR 0078)."""
    stop = threading.Event()

    def loop() -> None:
        try:
            with psycopg.connect(
                _admin_dsn(database_url), autocommit=True, connect_timeout=5
            ) as conn:
                while not stop.wait(every_s):
                    for (table,) in conn.execute(_DUE_FOR_ANALYZE).fetchall():
                        conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
        except psycopg.Error as exc:
            if not stop.is_set():
                print(f"billing-bench: ANALYZE stopped: {exc}", file=sys.stderr)

    thread = threading.Thread(target=loop, name="analyze", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def migrate(env: Mapping[str, str]) -> None:
    """`python -m billing migrate` with BILLING_DATABASE_URL from `env`."""
    done = subprocess.run(
        [sys.executable, "-m", "billing", "migrate"],
        env=dict(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=MIGRATE_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        output = "\n".join((done.stdout + done.stderr).splitlines()[-LOG_TAIL_LINES:])
        raise BenchError(f"billing migrate failed with status {done.returncode}\n{output}")
