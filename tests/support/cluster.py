"""Real scheduler and node processes for end-to-end tests, stopped by pid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from app.celery_app import make_celery
from app.client import Client
from app.settings import Settings, load_settings

T = TypeVar("T")

FAST = {
    "JOBRELAY_HEARTBEAT_INTERVAL_S": "0.5",
    "JOBRELAY_NODE_TIMEOUT_S": "3",
    "JOBRELAY_SWEEP_INTERVAL_S": "0.2",
    "JOBRELAY_NODE_REFRESH_S": "0.2",
    "JOBRELAY_POLLING_INTERVAL_S": "0.02",
    "JOBRELAY_DISPATCH_TIMEOUT_S": "10",
}


def wait_for(check: Callable[[], T], timeout_s: float, what: str, every_s: float = 0.1) -> T:
    """Poll ``check`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except Exception as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what} (last: {last!r})")


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def kill9(self) -> None:
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)

    def terminate(self, timeout_s: float = 20) -> None:
        if self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill9()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class Cluster:
    """A jobrelay cluster of subprocesses sharing one data dir (local) or Redis prefix."""

    root: Path
    env_overrides: dict[str, str] = field(default_factory=dict)
    procs: list[Proc] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("JOBRELAY_")}
        self.env.update(FAST)
        self.env["JOBRELAY_DATA_DIR"] = str(self.root / "data")
        self.env.update(self.env_overrides)
        self.env.setdefault("JOBRELAY_MODE", "local")
        self.env["PYTHONUNBUFFERED"] = "1"
        settings_env = {
            k[len("JOBRELAY_") :].lower(): v
            for k, v in self.env.items()
            if k.startswith("JOBRELAY_")
        }
        self.settings: Settings = load_settings(**settings_env)
        self.celery = make_celery(self.settings)
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = Client(self.settings, self.celery)
        return self._client

    def spawn(self, name: str, argv: list[str]) -> Proc:
        log = self.root / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                argv,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=Path(__file__).resolve().parents[2],
            )
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def start_scheduler(self, name: str = "scheduler", *extra: str) -> Proc:
        return self.spawn(
            name,
            [
                sys.executable,
                "-m",
                "workers.cli.main",
                "scheduler",
                "--hostname",
                f"{name}@%h",
                "--loglevel",
                "INFO",
                *extra,
            ],
        )

    def start_node(
        self,
        node_id: str,
        slots: int = 2,
        capabilities: tuple[str, ...] = (),
        labels: dict[str, str] | None = None,
        handlers: tuple[str, ...] = (),
    ) -> Proc:
        argv = [
            sys.executable,
            "-m",
            "workers.cli.main",
            "node",
            "--id",
            node_id,
            "--slots",
            str(slots),
        ]
        for capability in capabilities:
            argv += ["--capability", capability]
        for key, value in (labels or {}).items():
            argv += ["--label", f"{key}={value}"]
        for handler in handlers:
            argv += ["--handler", handler]
        return self.spawn(f"node-{node_id}", [*argv, "--loglevel", "INFO"])

    def wait_nodes(self, *node_ids: str, timeout_s: float = 60) -> None:
        def ready() -> bool:
            alive = {n.node_id for n in self.client.reader.nodes() if n.status == "alive"}
            return set(node_ids) <= alive

        wait_for(ready, timeout_s, f"nodes {node_ids} to be alive", every_s=0.3)

    def stop(self, timeout_s: float = 20) -> None:
        """SIGTERM every process at once, then wait; SIGKILL what is still there."""
        running = [proc for proc in self.procs if proc.popen.poll() is None]
        for proc in running:
            proc.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for proc in running:
            try:
                proc.popen.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                proc.kill9()

    def dump_logs(self) -> str:
        return "\n".join(f"===== {p.name}\n{p.output()[-4000:]}" for p in self.procs)
