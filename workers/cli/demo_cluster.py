"""The demo's cluster: its environment, its schedulers, nodes and monitor, and readiness."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from app.backends.redis_connection import connect
from app.client import Client
from app.errors import JobrelayError
from app.models import NodeStatus
from app.settings import Settings, get_settings
from workers.cli.failure import CommandFailed
from workers.cli.processes import Child, Children

READY_TIMEOUT_S = 60.0
MONITOR_TIMEOUT_S = 15.0
ENV_SET_BY_DEMO = ("JOBRELAY_BROKER_URL", "JOBRELAY_RESULT_URL", "JOBRELAY_REDIS_URL")


@dataclass(frozen=True)
class DemoNode:
    node_id: str
    slots: int
    capabilities: tuple[str, ...]
    labels: dict[str, str] = field(default_factory=dict)

    def args(self) -> list[str]:
        args = ["node", "--id", self.node_id, "--slots", str(self.slots)]
        for capability in self.capabilities:
            args += ["--capability", capability]
        for key, value in self.labels.items():
            args += ["--label", f"{key}={value}"]
        return args


FLEET = (
    DemoNode("gpu-1", 2, ("asr:en", "asr:de", "tts:en"), {"pool": "eu", "gpu": "a100"}),
    DemoNode("gpu-2", 3, ("nmt:en-zh", "nmt:en-de", "tts:zh"), {"pool": "us", "gpu": "h100"}),
    DemoNode("cpu-1", 1, ("nmt:en-de",), {"pool": "eu"}),
)


@dataclass(frozen=True)
class ClusterPlan:
    data_dir: Path
    port: int
    redis_url: str | None = None
    schedulers: int = 1
    debug: bool = False

    @property
    def mode(self) -> str:
        return "cross_instance" if self.redis_url else "local"

    def environment(self, base: Mapping[str, str]) -> dict[str, str]:
        """The environment of the demo and its children: its own data and keys."""
        env = {key: value for key, value in base.items() if key not in ENV_SET_BY_DEMO}
        env["JOBRELAY_MODE"] = self.mode
        env["JOBRELAY_DATA_DIR"] = str(self.data_dir)
        env["JOBRELAY_MONITOR_PORT"] = str(self.port)
        if self.redis_url:
            env["JOBRELAY_REDIS_URL"] = self.redis_url
            env["JOBRELAY_KEY_PREFIX"] = f"demo-{uuid.uuid4().hex[:10]}"
        return env


def start_cluster(plan: ClusterPlan, children: Children) -> Child | None:
    """Start schedulers, nodes and (if its port is free) the monitor; returns the monitor."""
    debug = ["--debug"] if plan.debug else []
    for number in range(1, plan.schedulers + 1):
        children.start(f"scheduler-{number}", [*debug, "scheduler", "-n", f"scheduler-{number}@%h"])
    for node in FLEET:
        children.start(node.node_id, [*debug, *node.args()])
    if port_in_use(plan.port):
        return None
    return children.start("monitor", [*debug, "monitor", "--port", str(plan.port)])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def check_children(children: Children) -> None:
    """Fail with the first words of its log if a scheduler or node has exited."""
    for child in children.dead():
        if child.name != "monitor":
            raise CommandFailed(
                f"{child.name} exited with code {child.process.returncode}: "
                f"{child.tail(1) or 'no output'} (log: {child.log_path})"
            )


def wait_for_nodes(client: Client, children: Children, timeout_s: float = READY_TIMEOUT_S) -> None:
    """Poll the schedulers until every demo node has sent a heartbeat."""
    wanted = {node.node_id for node in FLEET}
    deadline = time.monotonic() + timeout_s
    while True:
        check_children(children)
        try:
            known = {
                node.node_id for node in client.reader.nodes() if node.status is NodeStatus.ALIVE
            }
        except JobrelayError:
            known = set()
        if wanted <= known:
            return
        if time.monotonic() >= deadline:
            missing = ", ".join(sorted(wanted - known))
            raise CommandFailed(f"nodes {missing} did not report within {timeout_s:g}s")
        time.sleep(0.2)


def monitor_status(monitor: Child | None, port: int, host: str) -> str:
    """Wait a little for the monitor to listen; say why not if it does not."""
    if monitor is None:
        return f"not started: port {port} is in use (choose another with --port)"
    deadline = time.monotonic() + MONITOR_TIMEOUT_S
    while monitor.running and time.monotonic() < deadline:
        if port_in_use(port, host):
            return f"http://{host}:{port}/"
        time.sleep(0.2)
    if monitor.running:
        return (
            f"not listening on port {port} after {MONITOR_TIMEOUT_S:g}s (log: {monitor.log_path})"
        )
    return f"could not start: {monitor.tail(1) or 'no output'} (log: {monitor.log_path})"


def demo_environment(plan: ClusterPlan) -> dict[str, str]:
    """Apply the demo's environment to this process too, before settings are read."""
    env = plan.environment(os.environ)
    for key in ENV_SET_BY_DEMO:
        os.environ.pop(key, None)
    os.environ.update(env)
    get_settings.cache_clear()
    return env


def forget_demo_keys(settings: Settings) -> int:
    """Delete the Redis keys of this demo's prefix: its jobs, nodes and queues."""
    if settings.local:
        return 0
    client = connect(settings.redis, settings.redis_timeout_s)
    prefix = settings.key_prefix
    deleted = 0
    try:
        for pattern in (f"{{{prefix}}}:*", f"{prefix}:*"):
            keys = list(client.scan_iter(match=pattern, count=1000))
            for start in range(0, len(keys), 1000):
                deleted += int(client.delete(*keys[start : start + 1000]))
    finally:
        client.close()
    return deleted
