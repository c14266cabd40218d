"""A RabbitMQ node of the test's own: its own node name, AMQP and distribution ports, data and
log directories and Erlang cookie (HOME) in a temp dir, no plugins. Stopping and starting it
never touches the machine's shared broker on 5672."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

from workers import free_port

_LIB = Path("/usr/lib/rabbitmq/bin")  # the real scripts: /usr/sbin's wrappers su to rabbitmq


def _tool(name: str) -> str | None:
    if (_LIB / name).exists():
        return str(_LIB / name)
    return shutil.which(name)


def available() -> bool:
    return _tool("rabbitmq-server") is not None and _tool("rabbitmqctl") is not None


def _free_port() -> int:
    # The node binds seconds after the pick: from this worker's own slice (ADR 0056), where no
    # other xdist worker's pick nor any port-0 server can land in the meantime.
    return free_port()


class RabbitNode:
    def __init__(self, base: Path) -> None:
        self.base = base
        base.mkdir(parents=True, exist_ok=True)
        self.node = f"billingtest-{uuid.uuid4().hex[:8]}@localhost"
        self.port = _free_port()
        self.dist_port = _free_port()
        (base / "enabled_plugins").write_text("[].\n")  # management plugin and the rest off
        (base / "rabbitmq.conf").write_text(f"listeners.tcp.default = 127.0.0.1:{self.port}\n")
        self.env = {
            **os.environ,
            "HOME": str(base),  # the Erlang cookie lives here, shared by server and rabbitmqctl
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
            "RABBITMQ_PID_FILE": str(base / "node.pid"),
        }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def ctl(self, *args: str, timeout: float = 60) -> str:
        done = subprocess.run(
            [str(_tool("rabbitmqctl")), "-n", self.node, *args],
            env=self.env,
            capture_output=True,
            timeout=timeout,
            check=True,
        )
        return done.stdout.decode()

    def start(self) -> float:
        """Start the node and wait until it serves AMQP (rabbitmqctl reaching it also proves
        the cookie); the seconds it took."""
        began = time.monotonic()
        log = (self.base / "server.out").open("ab")
        self.process = subprocess.Popen(
            [str(_tool("rabbitmq-server"))],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, which teardown may kill
        )
        self.ctl("wait", str(self.base / "node.pid"), "--timeout", "60", timeout=70)
        with socket.create_connection(("127.0.0.1", self.port), timeout=5):
            pass
        return time.monotonic() - began

    def stop(self) -> float:
        """Stop the node (rabbitmqctl stop: the broker shuts down, connections drop); the
        seconds it took."""
        began = time.monotonic()
        self.ctl("stop", timeout=60)
        if self.process is not None:
            self.process.wait(timeout=30)
            self.process = None
        return time.monotonic() - began

    def kill(self) -> None:
        """Teardown: whatever is left of the process group this node started."""
        if self.process is not None and self.process.poll() is None:
            try:
                self.ctl("stop", timeout=20)
                self.process.wait(timeout=20)
            except (subprocess.SubprocessError, OSError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process = None
