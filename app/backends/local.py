"""The local backend: every record in dicts of this process, guarded by one lock.

NOTE: local mode keeps its state in the scheduler's memory only; it is gone when the
scheduler process ends. Use cross_instance mode (Redis with persistence) where jobs must
outlive the scheduler.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Mapping, Sequence

from app.backends.base import (
    FORGET_SCHEDULER_S,
    BackendOptions,
    Beat,
    Claim,
    ClaimOutcome,
    ClaimSpec,
    JobPage,
    JobQuery,
    Stats,
    Transition,
)
from app.backends.local_store import (
    MISSING,
    Binding,
    Store,
    applied,
    matches,
    note_beat,
    refused,
    stale,
)
from app.errors import NodeNotFound
from app.models import (
    ACTIVE_STATES,
    Heartbeat,
    Job,
    JobState,
    Node,
    NodeStatus,
    Report,
    SchedulerWorker,
)

ENDS = frozenset({"succeeded", "failed"})


class LocalBackend:
    """A backend for one scheduler process. Thread-safe; not shared between processes."""

    def __init__(self, options: BackendOptions | None = None) -> None:
        self._options = options or BackendOptions()
        self._lock = threading.RLock()
        self._s = Store()

    @property
    def shared(self) -> bool:
        return False

    def close(self) -> None:
        return None

    # creation

    def claim(
        self,
        job: Job,
        candidates: Sequence[str],
        now: float,
        counters: Mapping[str, float] | None = None,
    ) -> Claim:
        with self._lock:
            return self._claim(job, candidates, now, counters or {})

    def claim_many(self, specs: Sequence[ClaimSpec], now: float) -> list[Claim]:
        with self._lock:
            return [self._claim(s.job, s.candidates, now, s.counters) for s in specs]

    def _claim(
        self, job: Job, candidates: Sequence[str], now: float, counters: Mapping[str, float]
    ) -> Claim:
        bound = self._s.bindings.get(job.request_id)
        if bound is not None:
            existing = self._s.jobs[bound.job_id]
            if bound.fingerprint == job.fingerprint:
                self._s.incr("repeats")
                return Claim(ClaimOutcome.EXISTING, existing.model_copy(deep=True))
            self._s.incr("conflicts")
            return Claim(ClaimOutcome.CONFLICT, existing.model_copy(deep=True))

        stored = job.model_copy(deep=True, update={"created_at": now, "updated_at": now})
        stored.state, stored.attempt, stored.node_id = JobState.PENDING, 0, None
        self._s.bindings[job.request_id] = Binding(job.job_id, job.fingerprint)
        self._s.jobs[job.job_id] = stored
        bisect.insort(self._s.order, job.job_id)
        self._s.place(stored, candidates, now)
        self._s.incr("created")
        for name, amount in counters.items():
            self._s.incr(name, amount)
        return Claim(ClaimOutcome.CREATED, stored.model_copy(deep=True))

    # reads

    def get_job(self, job_id: str) -> Job | None:
        with self._lock:
            job = self._s.jobs.get(job_id)
            return job.model_copy(deep=True) if job else None

    def list_jobs(self, query: JobQuery) -> JobPage:
        with self._lock:
            end = len(self._s.order)
            if query.before is not None:
                end = bisect.bisect_left(self._s.order, query.before)
            found: list[Job] = []
            for index in range(end - 1, -1, -1):
                job = self._s.jobs[self._s.order[index]]
                if matches(job, query):
                    found.append(job.model_copy(deep=True))
                    if len(found) > query.limit:
                        break
        more = len(found) > query.limit
        page = found[: query.limit]
        return JobPage(jobs=page, next=page[-1].job_id if more else None)

    def stats(self) -> Stats:
        with self._lock:
            states = {state.value: 0 for state in JobState}
            for job in self._s.jobs.values():
                states[job.state.value] += 1
            return Stats(
                states=states,
                counters=dict(self._s.counters),
                backlog=states[JobState.PENDING.value],
            )

    def count(self, counters: dict[str, float]) -> None:
        with self._lock:
            for name, amount in counters.items():
                self._s.incr(name, amount)

    def backlog(self, limit: int) -> list[Job]:
        with self._lock:
            pending = [j for j in self._s.jobs.values() if j.state is JobState.PENDING]
            pending.sort(key=lambda job: (-job.priority, job.job_id))
            return [job.model_copy(deep=True) for job in pending[:limit]]

    def due(self, now: float, limit: int) -> list[tuple[str, int, str]]:
        with self._lock:
            found = []
            for node_jobs in self._s.node_jobs.values():
                for job_id in node_jobs:
                    reason = self._overdue(self._s.jobs[job_id], now)
                    if reason:
                        found.append((job_id, self._s.jobs[job_id].attempt, reason))
            return sorted(found)[:limit]

    def _overdue(self, job: Job, now: float) -> str:
        if job.state is JobState.ASSIGNED and job.job_id not in self._s.accepted:
            started = job.assigned_at or job.updated_at
            if now > started + self._options.dispatch_timeout_s:
                return "dispatch timeout"
        deadline = (job.started_at or now) + (job.timeout_s or float("inf"))
        if job.state is JobState.RUNNING and now > deadline:
            return "run timeout"
        return ""

    def node_jobs(self, node_id: str) -> list[str]:
        with self._lock:
            return sorted(self._s.node_jobs.get(node_id, set()))

    # nodes

    def heartbeat(self, heartbeat: Heartbeat, now: float) -> Beat:
        with self._lock:
            node = self._s.nodes.get(heartbeat.node_id) or Node(node_id=heartbeat.node_id)
            self._s.nodes[node.node_id] = node
            note_beat(node, heartbeat, now, node.node_id in self._s.drained)
            restarted = bool(heartbeat.incarnation) and node.incarnation not in (
                "",
                heartbeat.incarnation,
            )
            if restarted:
                node.restarts += 1
            taken_back: list[Transition] = []
            if restarted or node.running > node.reported_running:
                listed = set(heartbeat.running_jobs)
                taken_back = self._take_back_unlisted(node, listed, now, restarted)
            node.incarnation = heartbeat.incarnation
            return Beat(node.model_copy(deep=True), taken_back)

    def _take_back_unlisted(
        self, node: Node, listed: set[str], now: float, restarted: bool
    ) -> list[Transition]:
        """Requeue the running jobs the node does not list: at once after a restart, else
        once they have gone unlisted for longer than the dispatch timeout."""
        since = self._s.unlisted.pop(node.node_id, {})
        kept: dict[str, float] = {}
        taken_back: list[Transition] = []
        for job_id in sorted(self._s.node_jobs.get(node.node_id, set()) - listed):
            job = self._s.jobs[job_id]
            if job.state is not JobState.RUNNING:
                continue
            first = since.get(job_id, now)
            if restarted:
                taken_back.append(self._s.requeue(job, f"node {node.node_id} restarted", now))
            elif now - first > self._options.dispatch_timeout_s:
                reason = f"node {node.node_id} no longer runs it and sent no report"
                taken_back.append(self._s.requeue(job, reason, now))
            else:
                kept[job_id] = first
        self._s.unlisted[node.node_id] = kept
        return taken_back

    def nodes(self) -> list[Node]:
        with self._lock:
            return [node.model_copy(deep=True) for node in self._s.nodes.values()]

    def set_draining(self, node_id: str, draining: bool, now: float) -> Node:
        with self._lock:
            node = self._s.nodes.get(node_id)
            if node is None:
                raise NodeNotFound(f"node {node_id} is not known; check `jobrelay nodes`")
            if draining:
                self._s.drained.add(node_id)
            else:
                self._s.drained.discard(node_id)
            node.draining = draining
            if node.status is not NodeStatus.OFFLINE:
                node.status = NodeStatus.DRAINING if draining else NodeStatus.ALIVE
            return node.model_copy(deep=True)

    def node_lost(self, node_id: str, now: float) -> list[Transition]:
        with self._lock:
            node = self._s.nodes.get(node_id)
            if node is None or node.status is NodeStatus.OFFLINE:
                return []
            node.status = NodeStatus.OFFLINE
            self._s.unlisted.pop(node_id, None)
            jobs = sorted(self._s.node_jobs.get(node_id, set()))
            return [self._s.requeue(self._s.jobs[j], "node lost", now) for j in jobs]

    # lifecycle

    def report(self, report: Report, now: float) -> Transition:
        with self._lock:
            job = self._s.jobs.get(report.job_id)
            if job is None:
                return MISSING
            if job.attempt != report.attempt or job.node_id != report.node_id:
                return stale(job, f"attempt {report.attempt} from {report.node_id}")
            if job.state not in ACTIVE_STATES:
                return refused(job, f"{report.event} on a {job.state} job")
            if report.event in ENDS and report.started_at is not None:
                # The end overtook the start: keep when the run began (never after now).
                job.started_at = job.started_at or min(report.started_at, now)
            return _REPORT_STEPS[report.event](self, job, report, now)

    def _accepted(self, job: Job, report: Report, now: float) -> Transition:
        if job.state is not JobState.ASSIGNED:
            return refused(job, "accepted on a running job")
        self._s.accepted.add(job.job_id)
        job.updated_at = now
        return applied(job)

    def _started(self, job: Job, report: Report, now: float) -> Transition:
        if job.state is not JobState.ASSIGNED:
            return refused(job, "started on a running job")
        node = self._s.nodes[job.node_id or ""]
        node.reserved, node.running = node.reserved - 1, node.running + 1
        self._s.accepted.add(job.job_id)
        job.state, job.started_at, job.updated_at = JobState.RUNNING, now, now
        return applied(job)

    def _succeeded(self, job: Job, report: Report, now: float) -> Transition:
        job.result = report.result
        return self._s.end(job, JobState.SUCCEEDED, None, now)

    def _failed(self, job: Job, report: Report, now: float) -> Transition:
        error = report.error or "the handler failed"
        if report.retryable and job.attempt < job.max_attempts:
            return self._s.requeue(job, error, now)
        return self._s.end(job, JobState.FAILED, error, now)

    def requeue(self, job_id: str, attempt: int, reason: str, now: float) -> Transition:
        with self._lock:
            job = self._s.jobs.get(job_id)
            if job is None:
                return MISSING
            if job.state not in ACTIVE_STATES or job.attempt != attempt:
                return stale(job, f"attempt {attempt} is not active")
            return self._s.requeue(job, reason, now)

    def _pending(self, job_id: str) -> Job | Transition:
        """The pending job ``job_id``, or the transition that says why there is none."""
        job = self._s.jobs.get(job_id)
        if job is None:
            return MISSING
        if job.state is not JobState.PENDING:
            return stale(job, f"job is {job.state}, not pending")
        return job

    def assign(self, job_id: str, candidates: Sequence[str], now: float) -> Transition:
        with self._lock:
            job = self._pending(job_id)
            if isinstance(job, Transition):
                return job
            if not self._s.place(job, candidates, now):
                return refused(job, "no candidate has a free slot")
            return applied(job)

    def fail_pending(self, job_id: str, reason: str, now: float) -> Transition:
        with self._lock:
            job = self._pending(job_id)
            if isinstance(job, Transition):
                return job
            return self._s.end(job, JobState.FAILED, reason, now)

    def note_pending(self, job_id: str, explanation: str, now: float) -> None:
        with self._lock:
            job = self._s.jobs.get(job_id)
            if job is not None and job.state is JobState.PENDING:
                job.explanation = explanation

    def cancel(self, job_id: str, now: float) -> Transition:
        with self._lock:
            job = self._s.jobs.get(job_id)
            if job is None:
                return MISSING
            if job.final:
                return refused(job, f"job is already {job.state}")
            return self._s.end(job, JobState.CANCELLED, "cancelled", now)

    # housekeeping

    def expire(self, now: float) -> int:
        with self._lock:
            horizon = now - self._options.retention_s
            old = [
                job
                for job in self._s.jobs.values()
                if job.final and (job.finished_at or job.updated_at) < horizon
            ]
            for job in old:
                del self._s.jobs[job.job_id]
                self._s.bindings.pop(job.request_id, None)
            if old:
                self._s.order = [j for j in self._s.order if j in self._s.jobs]
            return len(old)

    def scheduler_seen(self, worker: SchedulerWorker, now: float) -> None:
        with self._lock:
            known = self._s.schedulers
            known[worker.name] = worker.model_copy()
            for name in [n for n, w in known.items() if now - w.last_seen > FORGET_SCHEDULER_S]:
                del known[name]

    def schedulers(self) -> list[SchedulerWorker]:
        with self._lock:
            return [w.model_copy() for _, w in sorted(self._s.schedulers.items())]

    def try_lease(self, name: str, owner: str, ttl_s: float, now: float) -> bool:
        with self._lock:
            holder = self._s.leases.get(name)
            if holder and holder[0] != owner and holder[1] > now:
                return False
            self._s.leases[name] = (owner, now + ttl_s)
            return True


_Step = Callable[[LocalBackend, Job, Report, float], Transition]
_REPORT_STEPS: dict[str, _Step] = {
    "accepted": LocalBackend._accepted,
    "started": LocalBackend._started,
    "succeeded": LocalBackend._succeeded,
    "failed": LocalBackend._failed,
}
