"""A real Celery worker for a benchmark, in cross_instance mode, stopped by its pid."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from celery import Celery

from app.celery_app import make_celery
from app.settings import Settings, load_settings
from bench.scratch import escape, namespace_pattern
from celeryconfig import SCHEDULER_QUEUE

ROOT = Path(__file__).resolve().parents[1]
STOP_TIMEOUT_S = 20.0
# Nodes are registered once by the benchmark and no node agent runs: keep them alive, and
# keep the sweep from requeueing hand-offs nobody accepts mid-run.
KEEP_NODES = {"node_timeout_s": 3600.0, "dispatch_timeout_s": 86400.0}


@dataclass
class Worker:
    """One worker process consuming ``queue``; ``app`` is a client of the same broker."""

    prefix: str
    redis_url: str
    includes: tuple[str, ...]
    concurrency: int = 2
    popen: subprocess.Popen[bytes] | None = None
    log_path: Path = field(default_factory=lambda: Path(tempfile.mkstemp(suffix=".log")[1]))

    @property
    def queue(self) -> str:
        """The scheduler queue; its broker key carries the key prefix, so it is this run's own."""
        return SCHEDULER_QUEUE

    @property
    def settings(self) -> Settings:
        return load_settings(
            mode="cross_instance", redis_url=self.redis_url, key_prefix=self.prefix, **KEEP_NODES
        )

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JOBRELAY_")}
        env.update(
            JOBRELAY_MODE="cross_instance",
            JOBRELAY_REDIS_URL=self.redis_url,
            JOBRELAY_KEY_PREFIX=self.prefix,
        )
        env.update({f"JOBRELAY_{name.upper()}": f"{value:g}" for name, value in KEEP_NODES.items()})
        return env

    def argv(self) -> list[str]:
        return [
            sys.executable, "-m", "celery", "-A", "app", "worker",
            "-Q", self.queue, "--pool", "prefork", "--concurrency", str(self.concurrency),
            "-I", ",".join(self.includes), "--hostname", f"{self.prefix}@%h",
            "--loglevel", "INFO", "--without-mingle", "--without-gossip",
        ]  # fmt: skip

    def start(self) -> None:
        with self.log_path.open("wb") as out:
            self.popen = subprocess.Popen(
                self.argv(), env=self.env(), stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
            )

    @property
    def pid(self) -> int:
        if self.popen is None:
            raise RuntimeError("the benchmark worker has not been started")
        return self.popen.pid

    def wait_ready(self, app: Celery, timeout_s: float = 90.0) -> None:
        """Wait until the worker answers a no-op task."""
        deadline = time.monotonic() + timeout_s
        result = app.send_task("bench.noop", args=[{}], queue=self.queue)
        while time.monotonic() < deadline:
            if self.popen is not None and self.popen.poll() is not None:
                raise RuntimeError(f"the benchmark worker exited: {self.tail()}")
            if result.ready():
                result.forget()
                return
            time.sleep(0.1)
        raise RuntimeError(f"the benchmark worker did not answer in {timeout_s:g}s: {self.tail()}")

    @property
    def hostname(self) -> str:
        return f"{self.prefix}@{socket.gethostname()}"

    def consume(self, app: Celery, on: bool) -> None:
        """Stop or resume consuming the queue, so that a round can be queued up first."""
        control = app.control.add_consumer if on else app.control.cancel_consumer
        replies = control(self.queue, destination=[self.hostname], reply=True, timeout=10)
        if not replies:
            raise RuntimeError(f"the benchmark worker {self.hostname} did not answer control")

    def send(self, app: Celery, task: str, argument: Any) -> Any:
        return app.send_task(task, args=[argument], queue=self.queue)

    def stop(self) -> None:
        """Stop the worker this object started (by its pid), killing it if it hangs."""
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(STOP_TIMEOUT_S)

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-2000:]

    def client(self) -> Celery:
        return make_celery(self.settings)


def broker_patterns(prefix: str) -> list[str]:
    """SCAN patterns of every key a benchmark worker leaves: broker and results (which carry
    ``<prefix>:`` as kombu's global key prefix), the backend's namespace, and pidbox."""
    return [escape(f"{prefix}:") + "*", namespace_pattern(prefix), escape(f"{prefix}@") + "*"]


def node_queue_pattern(prefix: str) -> str:
    return escape(f"{prefix}:jobrelay.node.") + "*"
