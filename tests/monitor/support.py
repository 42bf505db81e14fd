"""A real scheduler over a real local backend, and a Client whose commands go straight to it.

Reads go through ``app.control.BackendReader`` exactly as a scheduler answers them; only
``Client.call`` (sending a task and waiting for its answer) is replaced, by a direct call
of the same ``Scheduler`` method the Celery task would run.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from celery import Celery
from fastapi import FastAPI

from app.backends.local import LocalBackend
from app.client import Client
from app.control import BackendReader
from app.handoff import NoHandoff
from app.models import Job, SchedulerWorker
from app.scheduler import Scheduler, selector_options
from app.settings import Settings
from tests.support.schedulers import scheduler_worker


class InProcessClient(Client):
    """A Client whose tasks are answered by a scheduler in this process."""

    def __init__(self, settings: Settings, scheduler: Scheduler) -> None:
        super().__init__(settings, celery=Celery("jobrelay-monitor-tests"))
        self.scheduler = scheduler
        self.reader = BackendReader(
            scheduler.backend, selector_options(settings), settings.max_payload_bytes
        )

    def call(self, task: str, *args: Any, timeout_s: float | None = None, shown: str = "") -> Any:
        if task == "jobrelay.create_job":
            return self.scheduler.create(*args)
        if task == "jobrelay.create_jobs":
            return self.scheduler.create_many(*args)
        if task == "jobrelay.cancel_job":
            return self.scheduler.cancel(*args).public()
        if task == "jobrelay.drain_node":
            return self.scheduler.drain(*args).model_dump(mode="json")
        raise AssertionError(f"the monitor sent an unexpected task {task}")


class Cluster:
    """A scheduler, its backend, and helpers to play the part of node agents and scheduler
    workers."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.backend = LocalBackend()
        self.scheduler = Scheduler(settings, self.backend, NoHandoff())
        self.client = InProcessClient(settings, self.scheduler)

    def node(self, node_id: str, slots: int = 2, **fields: Any) -> None:
        beat = {"node_id": node_id, "slots": slots, "kinds": ["echo", "sleep"], **fields}
        self.scheduler.heartbeat({"sent_at": time.time(), **beat})

    def scheduler_worker(self, name: str, **fields: Any) -> SchedulerWorker:
        """Describe a scheduler worker to the backend, as its sweep does."""
        now = time.time()
        last_seen = fields.pop("last_seen", now)
        mode = self.settings.resolved_mode.value
        worker = scheduler_worker(name, last_seen, **{"mode": mode, **fields})
        self.backend.scheduler_seen(worker, now)
        return worker

    def submit(self, request_id: str, kind: str = "echo", **fields: Any) -> Job:
        body = {"request_id": request_id, "kind": kind, "payload": {"secret": "p4yl0ad"}}
        return self.client.submit({**body, **fields}).job

    def create_many(self, count: int, prefix: str = "bulk", batch: int = 500) -> None:
        for start in range(0, count, batch):
            requests = [
                {"request_id": f"{prefix}-{n}", "kind": "echo", "payload": {"n": n}}
                for n in range(start, min(start + batch, count))
            ]
            self.scheduler.create_many(requests)

    def report(self, job: Job, event: str, **fields: Any) -> Job:
        current = self.client.reader.get_job(job.job_id)
        body = {"job_id": job.job_id, "attempt": current.attempt, "node_id": current.node_id}
        self.scheduler.report({**body, "event": event, **fields})
        return self.client.reader.get_job(job.job_id)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a thread; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="monitor-under-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the monitor did not start within 10 s")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
