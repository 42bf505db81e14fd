"""Throwaway namespaces on the machine's servers, and private Redis servers for fault tests."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import redis

MAIN_REDIS = "redis://127.0.0.1:6379/0"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def delete_prefix(url: str, prefix: str) -> None:
    """Delete this test's state keys (``{prefix}:*``) and broker keys (``prefix:*``)."""
    client = redis.Redis.from_url(url)
    for pattern in (f"{{{prefix}}}:*", f"{prefix}:*"):
        keys = list(client.scan_iter(match=pattern, count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
    client.close()


def new_prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@dataclass
class RabbitVhost:
    """A vhost of its own on the machine's RabbitMQ, removed afterwards."""

    name: str

    @classmethod
    def create(cls) -> RabbitVhost:
        name = f"jobrelay-test-{uuid.uuid4().hex[:8]}"
        subprocess.run(["rabbitmqctl", "-q", "add_vhost", name], check=True, timeout=60)
        subprocess.run(
            ["rabbitmqctl", "-q", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"],
            check=True,
            timeout=60,
        )
        return cls(name)

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:5672/{self.name}"

    def remove(self) -> None:
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", self.name], check=False, timeout=60)


@dataclass
class PrivateRedis:
    """A redis-server of the test's own, on a free port in a temp dir, stopped by pid."""

    root: Path
    port: int = 0
    appendonly: bool = True
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        if not self.port:
            self.port = free_port()
        self.root.mkdir(parents=True, exist_ok=True)
        binary = shutil.which("redis-server") or "redis-server"
        argv = [
            binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.root),
            "--save",
            "",
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--appendfsync",
            "always",
        ]
        log = (self.root / "redis.log").open("ab")
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=self.port, socket_timeout=0.5).ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise AssertionError(f"private redis on port {self.port} did not start")

    def stop(self) -> None:
        """Stop the server as an operator would (SHUTDOWN writes the append-only file)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        self.proc.wait(20)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(20)
