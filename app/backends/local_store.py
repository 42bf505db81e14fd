"""The local backend's records, and the steps every transition on them shares.

Nothing here locks: ``LocalBackend`` holds its lock around every call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from app.backends.base import JobQuery, Transition, TransitionOutcome
from app.models import (
    HISTORY_REASON_CHARS,
    Attempt,
    Heartbeat,
    Job,
    JobState,
    Node,
    NodeStatus,
    SchedulerWorker,
)

MISSING = Transition(TransitionOutcome.MISSING, None, "no such job")


@dataclass
class Binding:
    job_id: str
    fingerprint: str


@dataclass
class Store:
    """Jobs, bindings, nodes and their slots, counters, leases and scheduler workers."""

    jobs: dict[str, Job] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    bindings: dict[str, Binding] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)
    node_jobs: dict[str, set[str]] = field(default_factory=dict)
    accepted: set[str] = field(default_factory=set)
    counters: dict[str, float] = field(default_factory=dict)
    leases: dict[str, tuple[str, float]] = field(default_factory=dict)
    schedulers: dict[str, SchedulerWorker] = field(default_factory=dict)
    drained: set[str] = field(default_factory=set)
    unlisted: dict[str, dict[str, float]] = field(default_factory=dict)

    def incr(self, name: str, amount: float = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + amount

    def place(self, job: Job, candidates: Sequence[str], now: float) -> bool:
        """Reserve a slot on the first candidate that has one; False if none has."""
        for node_id in candidates:
            node = self.nodes.get(node_id)
            if node is None or not has_slot(node):
                continue
            node.reserved += 1
            self.node_jobs.setdefault(node_id, set()).add(job.job_id)
            job.state, job.node_id, job.attempt = JobState.ASSIGNED, node_id, job.attempt + 1
            job.assigned_at, job.started_at, job.updated_at = now, None, now
            job.explanation = None
            return True
        return False

    def release(self, job: Job) -> None:
        """Give back the slot the job holds on its node, reserved or running."""
        node = self.nodes.get(job.node_id or "")
        if node is not None and job.job_id in self.node_jobs.get(node.node_id, set()):
            self.node_jobs[node.node_id].discard(job.job_id)
            if job.state is JobState.RUNNING:
                node.running -= 1
            else:
                node.reserved -= 1
        self.accepted.discard(job.job_id)

    def end(self, job: Job, state: JobState, error: str | None, now: float) -> Transition:
        self.release(job)
        job.state, job.error, job.finished_at, job.updated_at = state, error, now, now
        self.incr(f"ended:{state.value}")
        return applied(job)

    def requeue(self, job: Job, reason: str, now: float) -> Transition:
        """Back to pending with the attempt kept in its history, or failed at the last."""
        if job.attempt >= job.max_attempts:
            error = f"{reason} (attempt {job.attempt} of {job.max_attempts})"
            return self.end(job, JobState.FAILED, error, now)
        job.history.append(
            Attempt(
                attempt=job.attempt,
                node_id=job.node_id,
                assigned_at=job.assigned_at,
                started_at=job.started_at,
                ended_at=now,
                reason=reason[:HISTORY_REASON_CHARS],
            )
        )
        self.release(job)
        if job.node_id and job.node_id not in job.tried_nodes:
            job.tried_nodes.append(job.node_id)
        job.state, job.node_id, job.error, job.updated_at = JobState.PENDING, None, reason, now
        job.assigned_at = job.started_at = None
        self.incr("requeued")
        return applied(job)


def has_slot(node: Node) -> bool:
    alive = node.status is NodeStatus.ALIVE and not node.draining
    return alive and node.used < node.slots


def applied(job: Job) -> Transition:
    return Transition(TransitionOutcome.APPLIED, job.model_copy(deep=True))


def stale(job: Job, detail: str) -> Transition:
    return Transition(TransitionOutcome.STALE, job.model_copy(deep=True), detail)


def refused(job: Job, detail: str) -> Transition:
    return Transition(TransitionOutcome.REFUSED, job.model_copy(deep=True), detail)


def matches(job: Job, query: JobQuery) -> bool:
    if query.state is not None and job.state is not query.state:
        return False
    if query.node_id is not None and job.node_id != query.node_id:
        return False
    if query.kind is not None and job.kind != query.kind:
        return False
    return query.search is None or query.search in (job.job_id, job.request_id)


def note_beat(node: Node, heartbeat: Heartbeat, now: float, drained: bool) -> None:
    """Copy what the heartbeat says onto the node; its running and reserved counts stay."""
    node.capabilities, node.kinds = list(heartbeat.capabilities), list(heartbeat.kinds)
    node.labels, node.slots = dict(heartbeat.labels), heartbeat.slots
    node.cpu_percent = heartbeat.cpu_percent
    node.memory_percent = heartbeat.memory_percent
    node.hostname, node.last_seen = heartbeat.hostname, now
    node.reported_running = len(heartbeat.running_jobs)
    node.draining = heartbeat.draining or drained
    node.status = NodeStatus.DRAINING if node.draining else NodeStatus.ALIVE
