"""How the scheduler hands jobs to nodes; Celery implements it in ``workers``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from app.models import Job


class Handoff(Protocol):
    def run(self, job: Job) -> None:
        """Send an assigned job's current attempt to its node's queue."""
        ...

    def run_many(self, jobs: Sequence[Job]) -> None:
        """``run`` for each job, in as few broker round trips as the broker allows."""
        ...

    def stop(self, job: Job) -> None:
        """Tell the node running ``job`` to stop it (the job is already cancelled)."""
        ...


class NoHandoff:
    """A hand-off that sends nothing, for tools that only read or explain."""

    def run(self, job: Job) -> None:
        return None

    def run_many(self, jobs: Sequence[Job]) -> None:
        return None

    def stop(self, job: Job) -> None:
        return None
