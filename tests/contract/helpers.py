"""Builders shared by the contract tests: jobs with time-ordered ids, nodes, reports."""

from __future__ import annotations

import itertools
from typing import Any

from ulid import ULID

from app.backends.base import Backend
from app.models import Heartbeat, Job, JobRequest, JobState, Node, Report

NOW = 1_700_000_000.0
_ticks = itertools.count(1)


def new_job_id() -> str:
    """A ULID one millisecond after the previous one, so creation order is id order."""
    return str(ULID.from_timestamp(NOW + next(_ticks) / 1000))


def make_job(request_id: str | None = None, **fields: Any) -> Job:
    """A job for a request with ``fields``, the way the creation step builds one."""
    body = {"request_id": request_id or f"req-{new_job_id()}", "kind": "echo", **fields}
    request = JobRequest.model_validate(body)
    return Job(
        job_id=new_job_id(),
        state=JobState.PENDING,
        created_at=NOW,
        updated_at=NOW,
        fingerprint=request.fingerprint(),
        **request.model_dump(),
    )


def add_node(
    backend: Backend, node_id: str, slots: int = 1, now: float = NOW, **fields: Any
) -> Node:
    return backend.heartbeat(Heartbeat(node_id=node_id, slots=slots, **fields), now).node


def report(job: Job, event: str, node_id: str | None = None, **fields: Any) -> Report:
    """A report about the job's current attempt, from its node unless told otherwise."""
    return Report.model_validate(
        {
            "job_id": job.job_id,
            "attempt": job.attempt,
            "node_id": node_id or job.node_id,
            "event": event,
            **fields,
        }
    )


def node(backend: Backend, node_id: str) -> Node:
    return next(n for n in backend.nodes() if n.node_id == node_id)
