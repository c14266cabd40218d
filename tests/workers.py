"""What keeps pytest-xdist workers apart (ADR 0056): each one's name and its own ports."""

from __future__ import annotations

import os
import random
import socket

# Ports handed out below the kernel's ephemeral range (32768+ here), so a server bound to
# port 0 never lands on one; each worker draws from its own slice, so workers never share.
PORTS_BASE = 20000
PORTS_PER_WORKER = 500


def worker_id() -> str:
    """The xdist worker ("gw0", ...) or "main" without xdist: part of every name a test makes."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _worker_slot() -> int:
    worker = worker_id()
    return int(worker.removeprefix("gw")) + 1 if worker.startswith("gw") else 0


def free_port() -> int:
    """A port nothing listens on now, in this worker's slice (bound, then released)."""
    low = PORTS_BASE + _worker_slot() * PORTS_PER_WORKER
    for port in random.sample(range(low, low + PORTS_PER_WORKER), PORTS_PER_WORKER):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue  # taken (another run on this machine): try the next
            return port
    raise RuntimeError(f"no free port in {low}..{low + PORTS_PER_WORKER - 1}")
