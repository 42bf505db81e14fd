"""The one path that creates jobs: claim-or-return by request_id, with a node if one fits."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from ulid import ULID

from app.backends.base import Backend, Claim, ClaimOutcome, ClaimSpec
from app.errors import IdempotencyConflict
from app.fleet import Fleet
from app.models import Created, Job, JobRequest, JobState
from app.observe import observation
from app.selection import Selection, Selector, reason_category

log = logging.getLogger(__name__)


def new_job(request: JobRequest, now: float) -> Job:
    """A pending job for ``request``, not stored yet."""
    return Job(
        job_id=str(ULID()),
        state=JobState.PENDING,
        created_at=now,
        updated_at=now,
        fingerprint=request.fingerprint(),
        **request.model_dump(),
    )


def create_job(
    request: JobRequest,
    backend: Backend,
    selector: Selector,
    fleet: Fleet,
    now: float | None = None,
) -> Created:
    """Create the job for ``request`` once; a repeat gets the existing job.

    Raises ``IdempotencyConflict`` when the request_id is bound to a different body.
    """
    spec = prepare(request, selector, fleet, time.time() if now is None else now)
    return conclude(
        backend.claim(spec.job, spec.candidates, spec.job.created_at, spec.counters), fleet
    )


def create_jobs(
    requests: Sequence[JobRequest], backend: Backend, selector: Selector, fleet: Fleet
) -> list[Created | IdempotencyConflict]:
    """Create a batch in one backend call; conflicts are returned in place, not raised."""
    now = time.time()
    specs = [prepare(request, selector, fleet, now) for request in requests]
    outcomes: list[Created | IdempotencyConflict] = []
    for claim in backend.claim_many(specs, now):
        try:
            outcomes.append(conclude(claim, fleet))
        except IdempotencyConflict as exc:
            outcomes.append(exc)
    return outcomes


def prepare(request: JobRequest, selector: Selector, fleet: Fleet, now: float) -> ClaimSpec:
    """Build the job and choose its candidate nodes."""
    job = new_job(request, now)
    started = time.perf_counter()
    selection = selector.select(job, fleet.view(now), now)
    counters = observation("select_s", time.perf_counter() - started)
    if not selection.candidates:
        job.explanation = selection.explanation.summary()
        counters.update(no_node_counters(selection))
    return ClaimSpec(job=job, candidates=selection.candidates, counters=counters)


def no_node_counters(selection: Selection) -> dict[str, float]:
    reasons = {reason_category(reason) for reason in selection.explanation.rejected}
    return {f"no_node:{reason}": 1 for reason in sorted(reasons or {"no nodes"})}


def conclude(claim: Claim, fleet: Fleet) -> Created:
    """Turn the backend's claim into the answer, logging one line per creation."""
    job = claim.job
    if claim.outcome is ClaimOutcome.CONFLICT:
        raise IdempotencyConflict(
            f"request {job.request_id} is already bound to job {job.job_id} with a "
            "different body; send the same body to get that job, or use a new request_id"
        )
    if claim.outcome is ClaimOutcome.EXISTING:
        log.debug("job %s: repeat of request %s answered", job.job_id, job.request_id)
        return Created(job=job, created=False)
    if job.node_id:
        fleet.note_reserved(job.node_id)
        log.info(
            "job %s: created, assigned to %s (attempt %d)", job.job_id, job.node_id, job.attempt
        )
    else:
        log.info("job %s: created, pending: %s", job.job_id, job.explanation)
    return Created(job=job, created=True)
