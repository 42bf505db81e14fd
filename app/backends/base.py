"""The backend protocol: the store behind the scheduler, local (a dict) or Redis.

Every method is one atomic step. Times are passed in as ``now`` (seconds since the epoch)
so that every backend, and every test, sees the same clock. A backend never selects a
node itself: the selector orders candidates and the backend reserves the first one that
still has a free slot, so a lost race costs no extra round trip.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from pydantic import BaseModel, Field

from app.models import Heartbeat, Job, JobState, Node, Report, SchedulerWorker


class ClaimOutcome(enum.StrEnum):
    CREATED = "created"
    EXISTING = "existing"
    CONFLICT = "conflict"


@dataclass(frozen=True)
class Claim:
    """The result of binding a request_id: the new job, or the one already bound."""

    outcome: ClaimOutcome
    job: Job


class TransitionOutcome(enum.StrEnum):
    APPLIED = "applied"
    STALE = "stale"
    REFUSED = "refused"
    MISSING = "missing"


@dataclass(frozen=True)
class Transition:
    """What a lifecycle step did. ``job`` is the job after the step (None if missing)."""

    outcome: TransitionOutcome
    job: Job | None
    detail: str = ""

    @property
    def applied(self) -> bool:
        return self.outcome is TransitionOutcome.APPLIED


@dataclass(frozen=True)
class Beat:
    """What a heartbeat did: the node as stored now, and the jobs it took back."""

    node: Node
    taken_back: list[Transition] = field(default_factory=list)


@dataclass(frozen=True)
class ClaimSpec:
    """One creation of a batch: the job to create and the nodes to try, in order."""

    job: Job
    candidates: Sequence[str]
    counters: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class BackendOptions:
    """What a backend needs from the settings."""

    retention_s: float = 86_400.0
    dispatch_timeout_s: float = 30.0
    key_prefix: str = "jobrelay"


# A scheduler worker not seen for this long is forgotten.
FORGET_SCHEDULER_S = 3_600.0


class JobQuery(BaseModel):
    """Filters and a page of the job list, newest first."""

    state: JobState | None = None
    node_id: str | None = None
    kind: str | None = None
    search: str | None = Field(default=None, description="a job_id or request_id")
    limit: int = Field(default=100, ge=1, le=1000)
    before: str | None = Field(default=None, description="the job_id to page after")


class JobPage(BaseModel):
    jobs: list[Job]
    next: str | None = None


class Stats(BaseModel):
    """Counts for the dashboard and the metrics.

    ``states`` counts retained jobs per state; ``counters`` are totals since the store
    began (``created``, ``repeats``, ``conflicts``, ``requeued``, ``ended:<state>``,
    ``no_node:<reason>``, ``hist:<name>:<le>`` buckets with ``hist:<name>:sum``).
    """

    states: dict[str, int] = Field(default_factory=dict)
    counters: dict[str, float] = Field(default_factory=dict)
    backlog: int = 0


class Backend(Protocol):
    """The state store. Local and Redis implementations pass the same contract tests."""

    @property
    def shared(self) -> bool:
        """True when other processes and hosts see the same state (Redis)."""
        ...

    def claim(
        self,
        job: Job,
        candidates: Sequence[str],
        now: float,
        counters: Mapping[str, float] | None = None,
    ) -> Claim:
        """Create ``job`` once per request_id, in one atomic step.

        If ``job.request_id`` is bound: EXISTING with the bound job when the stored
        fingerprint equals ``job.fingerprint``, else CONFLICT with the bound job; nothing
        changes but the ``repeats`` or ``conflicts`` counter. Otherwise bind it, and
        reserve a slot on the first candidate that is alive, not draining and has
        running + reserved < slots: the job is stored ASSIGNED there with attempt 1.
        If no candidate has a slot, the job is stored PENDING (attempt 0) in the backlog.
        ``counters`` (name to amount) are added to, and ``created`` incremented, with the
        creation.
        """
        ...

    def claim_many(self, specs: Sequence[ClaimSpec], now: float) -> list[Claim]:
        """``claim`` for each spec in order, in as few round trips as the store allows."""
        ...

    def get_job(self, job_id: str) -> Job | None: ...

    def list_jobs(self, query: JobQuery) -> JobPage: ...

    def stats(self) -> Stats: ...

    def count(self, counters: dict[str, float]) -> None:
        """Add to named counters (metrics that are not part of a transition)."""
        ...

    def heartbeat(self, heartbeat: Heartbeat, now: float) -> Beat:
        """Record a node's heartbeat: capacity, capabilities, labels and resource use.

        The node's running and reserved counts are the store's own and are kept. The node
        is draining if the heartbeat says so or an operator drained it (an operator's
        drain lasts until ``set_draining(node, False)``, across restarts, like a cordon);
        otherwise alive. A heartbeat with a new ``incarnation`` (the agent process started
        again) counts a restart and requeues, as ``node <id> restarted``, the node's
        running jobs that the heartbeat does not list; any other running job it has not
        listed for longer than the dispatch timeout is requeued too (its report was lost).
        Returns the node, so the agent learns it was drained, and those requeues.
        """
        ...

    def nodes(self) -> list[Node]:
        """Every known node with its running and reserved counts."""
        ...

    def set_draining(self, node_id: str, draining: bool, now: float) -> Node:
        """Stop (or resume) handing new jobs to a node. Raises NodeNotFound."""
        ...

    def node_lost(self, node_id: str, now: float) -> list[Transition]:
        """Mark a node offline and requeue each of its assigned and running jobs at once.

        Each requeue is as ``requeue`` with the node excluded. Returns one transition per
        job. Does nothing for a node already offline.
        """
        ...

    def report(self, report: Report, now: float) -> Transition:
        """Apply a node's report about an attempt.

        STALE if the attempt is not the job's current one or the node no longer owns it;
        REFUSED if the state machine forbids the step (e.g. ``started`` on a final job);
        MISSING for an unknown job. ``accepted`` keeps ASSIGNED and records it;
        ``started`` makes RUNNING (reserved slot becomes running); ``succeeded`` and
        ``failed`` end the job and free its slot. A retryable failure requeues instead
        (as ``requeue``) while attempts remain.
        """
        ...

    def requeue(self, job_id: str, attempt: int, reason: str, now: float) -> Transition:
        """Take an active job back from its node: pending again with the node excluded.

        Frees the slot. STALE unless the job is active at ``attempt``. When the attempt
        was the last of ``max_attempts`` the job becomes FAILED with ``reason`` instead.
        """
        ...

    def assign(self, job_id: str, candidates: Sequence[str], now: float) -> Transition:
        """Hand a pending job to the first candidate with a free slot (attempt + 1).

        STALE if the job is no longer pending; REFUSED with the job unchanged when no
        candidate has a free slot.
        """
        ...

    def fail_pending(self, job_id: str, reason: str, now: float) -> Transition:
        """End a pending job as FAILED (it waited too long); STALE if not pending."""
        ...

    def note_pending(self, job_id: str, explanation: str, now: float) -> None:
        """Record the selector's latest explanation on a pending job."""
        ...

    def cancel(self, job_id: str, now: float) -> Transition:
        """Cancel a job that is not final, freeing its slot. REFUSED if already final."""
        ...

    def backlog(self, limit: int) -> list[Job]:
        """Pending jobs, highest priority first, then oldest first."""
        ...

    def due(self, now: float, limit: int) -> list[tuple[str, int, str]]:
        """Active jobs past a deadline: ``(job_id, attempt, reason)``.

        The reason is ``dispatch timeout`` for an assigned job its node has not accepted
        within ``dispatch_timeout_s``, ``run timeout`` for a running job past its
        ``timeout_s``.
        """
        ...

    def node_jobs(self, node_id: str) -> list[str]:
        """Ids of the jobs assigned to or running on a node."""
        ...

    def expire(self, now: float) -> int:
        """Drop final jobs and their bindings older than the retention; returns how many."""
        ...

    def scheduler_seen(self, worker: SchedulerWorker, now: float) -> None:
        """Record how a scheduler worker describes itself; forget those not seen for
        ``FORGET_SCHEDULER_S``."""
        ...

    def schedulers(self) -> list[SchedulerWorker]:
        """The scheduler workers seen within ``FORGET_SCHEDULER_S``, by name."""
        ...

    def try_lease(self, name: str, owner: str, ttl_s: float, now: float) -> bool:
        """Hold a named lease for ``ttl_s`` (renewable by its owner); False if another holds it."""
        ...

    def close(self) -> None: ...
