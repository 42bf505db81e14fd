"""Placing jobs that have no node yet, and taking jobs back from nodes that failed them.

The sweep runs in every scheduler every ``sweep_interval_s``; a lease keeps all but one
idle at a time, and every step it takes is an atomic backend step that checks the job's
state and attempt, so two sweeps at once change nothing twice.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from app.backends.base import Backend, Transition
from app.fleet import Fleet
from app.handoff import Handoff
from app.models import Job, JobState, NodeStatus
from app.selection import Selection, Selector
from app.settings import Settings

log = logging.getLogger(__name__)

SWEEP_BACKLOG_LIMIT = 2000
QUICK_BACKLOG_LIMIT = 50
EXPIRE_EVERY_S = 30.0


@dataclass
class SweepReport:
    lost_nodes: int = 0
    requeued: int = 0
    placed: int = 0
    failed: int = 0
    expired: int = 0


class Placement:
    """Backlog placement, requeues and the periodic sweep of one scheduler."""

    def __init__(
        self,
        settings: Settings,
        backend: Backend,
        handoff: Handoff,
        selector: Selector,
        fleet: Fleet,
    ) -> None:
        self.settings = settings
        self.backend = backend
        self.handoff = handoff
        self.selector = selector
        self.fleet = fleet
        self._last_expire = 0.0

    def place_backlog(self, limit: int = QUICK_BACKLOG_LIMIT, now: float | None = None) -> int:
        """Try to place pending jobs in backlog order while any node has a free slot."""
        now = time.time() if now is None else now
        free = self._free_slots(now)
        placed = 0
        # A few more than the free slots, so a head job that fits nowhere does not hold up
        # the next; the sweep looks further.
        for job in self.backend.backlog(min(limit, free * 4)) if free > 0 else []:
            if placed >= free:
                break
            placed += self._try_assign(job, now) is None
        return placed

    def _free_slots(self, now: float) -> int:
        return self.fleet.view(now).free_slots(now, self.settings.node_timeout_s)

    def _try_assign(self, job: Job, now: float) -> Selection | None:
        """Assign ``job`` if a node takes it; otherwise return the selection that failed."""
        selection = self.selector.select(job, self.fleet.view(now), now)
        if selection.candidates:
            transition = self.backend.assign(job.job_id, selection.candidates, now)
            if transition.applied and transition.job is not None:
                self._handed(transition.job)
                return None
        return selection

    def _place_or_expire(self, job: Job, now: float) -> str:
        """The sweep's step for one pending job: place it, fail it if it waited too
        long, or record why it waits."""
        selection = self._try_assign(job, now)
        if selection is None:
            return "placed"
        explanation = selection.explanation.summary() if not selection.candidates else "full"
        if now - job.updated_at > self.settings.pending_timeout_s:
            limit = self.settings.pending_timeout_s
            reason = f"no node could take it within {limit:g}s ({explanation})"
            if self.backend.fail_pending(job.job_id, reason, now).applied:
                log.info("job %s: failed: %s", job.job_id, reason)
                return "failed"
        elif explanation != job.explanation:
            self.backend.note_pending(job.job_id, explanation, now)
        return "waiting"

    def _handed(self, job: Job) -> None:
        assert job.node_id is not None
        self.fleet.note_reserved(job.node_id)
        log.info("job %s: assigned to %s (attempt %d)", job.job_id, job.node_id, job.attempt)
        self.handoff.run(job)

    def sweep(self, now: float | None = None) -> SweepReport:
        """One pass: lost nodes, overdue jobs, the backlog, and expiry now and then."""
        now = time.time() if now is None else now
        report = SweepReport()
        report.lost_nodes, lost_requeued = self._lost_nodes(now)
        report.requeued = lost_requeued + self._overdue(now)
        for job in self.backend.backlog(SWEEP_BACKLOG_LIMIT):
            outcome = self._place_or_expire(job, now)
            report.placed += outcome == "placed"
            report.failed += outcome == "failed"
        if now - self._last_expire >= EXPIRE_EVERY_S:
            self._last_expire = now
            report.expired = self.backend.expire(now)
        return report

    def _lost_nodes(self, now: float) -> tuple[int, int]:
        lost = requeued = 0
        for node in self.backend.nodes():
            silent = now - node.last_seen > self.settings.node_timeout_s
            if node.status is NodeStatus.OFFLINE or not silent:
                continue
            transitions = self.backend.node_lost(node.node_id, now)
            lost += 1
            requeued += log_requeues(transitions, f"node {node.node_id} lost")
            log.warning(
                "node %s: offline, no heartbeat for %.1fs; %d jobs taken back",
                node.node_id,
                now - node.last_seen,
                len(transitions),
            )
        if lost:
            self.fleet.invalidate()
        return lost, requeued

    def _overdue(self, now: float) -> int:
        requeued = 0
        for job_id, attempt, reason in self.backend.due(now, SWEEP_BACKLOG_LIMIT):
            transition = self.backend.requeue(job_id, attempt, reason, now)
            requeued += log_requeues([transition], reason)
        return requeued


def log_requeues(transitions: list[Transition], reason: str | None = None) -> int:
    """Log each requeue that was applied, with ``reason`` or the job's own error; count them."""
    count = 0
    for transition in transitions:
        job = transition.job
        if not transition.applied or job is None:
            continue
        count += 1
        why = reason or job.error
        if job.state is JobState.PENDING:
            log.info("job %s: requeued after attempt %d: %s", job.job_id, job.attempt, why)
        else:
            log.info("job %s: %s after attempt %d: %s", job.job_id, job.state, job.attempt, why)
    return count
