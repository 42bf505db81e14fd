"""What a scheduler does with each message, independent of Celery.

Celery tasks in ``workers`` are thin wrappers around these methods: they parse nothing
themselves and never touch the backend directly.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from app.backends.base import Backend, Transition
from app.creation import create_job, create_jobs
from app.errors import InvalidRequest, JobNotFound, JobrelayError
from app.fleet import Fleet
from app.handoff import Handoff
from app.models import Created, Heartbeat, Job, JobState, Node, Report, parse_model, parse_request
from app.observe import observation
from app.placement import Placement, log_requeues
from app.selection import Selector, SelectorOptions
from app.settings import Settings

log = logging.getLogger(__name__)


def selector_options(settings: Settings) -> SelectorOptions:
    return SelectorOptions(
        node_timeout_s=settings.node_timeout_s,
        best_few=settings.best_few,
        retry_without_exclusions=settings.retry_without_exclusions,
        max_cpu_percent=settings.max_cpu_percent,
        max_memory_percent=settings.max_memory_percent,
    )


class Scheduler:
    """Creation, heartbeats, reports and cancellation against one backend."""

    def __init__(self, settings: Settings, backend: Backend, handoff: Handoff) -> None:
        self.settings = settings
        self.backend = backend
        self.handoff = handoff
        self.selector = Selector(selector_options(settings))
        self.fleet = Fleet(backend, settings.node_refresh_s)
        self.placement = Placement(settings, backend, handoff, self.selector, self.fleet)

    def create(self, data: object) -> dict[str, Any]:
        request = parse_request(data, self.settings.max_payload_bytes)
        created = create_job(request, self.backend, self.selector, self.fleet)
        if to_hand_off(created):
            self.handoff.run(created.job)
        return created.public()

    def create_many(self, items: object) -> list[dict[str, Any]]:
        """Create a batch; each item's answer is its job or its error, in order."""
        if not isinstance(items, list):
            kind = type(items).__name__
            raise InvalidRequest(f"invalid requests: expected a JSON list, got {kind}")
        answers: list[dict[str, Any]] = [{} for _ in items]
        valid: list[tuple[int, Any]] = []
        for index, item in enumerate(items):
            try:
                valid.append((index, parse_request(item, self.settings.max_payload_bytes)))
            except JobrelayError as exc:
                answers[index] = {"error": exc.to_dict()}
        outcomes = create_jobs([req for _, req in valid], self.backend, self.selector, self.fleet)
        handed = []
        for (index, _), outcome in zip(valid, outcomes, strict=True):
            if isinstance(outcome, Created):
                answers[index] = outcome.public()
                if to_hand_off(outcome):
                    handed.append(outcome.job)
            else:
                answers[index] = {"error": outcome.to_dict()}
        if handed:
            self.handoff.run_many(handed)
        return answers

    def heartbeat(self, data: object) -> Node:
        beat = parse_model(Heartbeat, data, "heartbeat")
        before = self.fleet.view(time.time()).nodes.get(beat.node_id)
        done = self.backend.heartbeat(beat, time.time())
        node = done.node
        if before is None or node.restarts != before.restarts:
            log.info(
                "node %s: %s with %d slots",
                node.node_id,
                "joined" if before is None else "restarted",
                node.slots,
            )
        if before is None or log_requeues(done.taken_back):
            self.fleet.invalidate()
            self.placement.place_backlog()
        return node

    def report(self, data: object) -> Transition:
        report = parse_model(Report, data, "report")
        transition = self.backend.report(report, time.time())
        if not transition.applied:
            log.info(
                "job %s: %s report for attempt %d from %s ignored (%s: %s)",
                report.job_id,
                report.event,
                report.attempt,
                report.node_id,
                transition.outcome,
                transition.detail,
            )
            return transition
        job = transition.job
        assert job is not None
        log.info(
            "job %s: %s on %s (attempt %d)", job.job_id, job.state, report.node_id, report.attempt
        )
        if job.final or job.state is JobState.PENDING:
            self.fleet.note_released(report.node_id)
            self._record_end(job)
            self.placement.place_backlog()
        return transition

    def _record_end(self, job: Job) -> None:
        if not job.final or job.started_at is None:
            return
        counters = observation("wait_s", max(job.started_at - job.created_at, 0.0))
        if job.finished_at is not None:
            for name, amount in observation("run_s", job.finished_at - job.started_at).items():
                counters[name] = counters.get(name, 0) + amount
        self.backend.count(counters)

    def cancel(self, job_id: str) -> Job:
        transition = self.backend.cancel(job_id, time.time())
        job = transition.job
        if job is None:
            raise JobNotFound(f"job {job_id} does not exist (or its retention has passed)")
        if not transition.applied:
            return job
        log.info("job %s: cancelled", job_id)
        # A cancelled job keeps the node it was assigned to or running on; a pending one
        # has none.
        if job.node_id:
            self.fleet.note_released(job.node_id)
            self.handoff.stop(job)
        self.placement.place_backlog()
        return job

    def drain(self, node_id: str, draining: bool = True) -> Node:
        node = self.backend.set_draining(node_id, draining, time.time())
        log.info("node %s: %s", node_id, "draining" if draining else "taking jobs again")
        self.fleet.invalidate()
        return node


def to_hand_off(created: Created) -> bool:
    """A job this call created with a node: its node must be told to run it."""
    return created.created and created.job.state is JobState.ASSIGNED
