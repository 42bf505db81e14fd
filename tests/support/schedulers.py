"""Scheduler worker descriptions for tests, as a scheduler's sweep would write them."""

from __future__ import annotations

from typing import Any

from app.models import SchedulerWorker


def scheduler_worker(name: str, last_seen: float, **fields: Any) -> SchedulerWorker:
    """A worker on host ``host-a`` (local mode, 4 threads) unless ``fields`` say otherwise."""
    described = {
        "name": name,
        "hostname": "host-a",
        "pid": 4321,
        "mode": "local",
        "pool": "threads",
        "concurrency": 4,
        "started_at": last_seen - 60,
        "last_seen": last_seen,
        **fields,
    }
    return SchedulerWorker.model_validate(described)
