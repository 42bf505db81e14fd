"""Reports, requeues, assignment, cancellation: each checks attempt, owner and state."""

from __future__ import annotations

from typing import Any

import pytest

from app.backends.base import Backend, TransitionOutcome
from app.models import Job, JobState

from .helpers import NOW, add_node, make_job, node, report


def assigned(backend: Backend, node_id: str = "n1", **fields: Any) -> Job:
    add_node(backend, node_id, slots=2)
    job = backend.claim(make_job(**fields), [node_id], NOW).job
    assert job.state is JobState.ASSIGNED
    return job


def running(backend: Backend, node_id: str = "n1", **fields: Any) -> Job:
    job = backend.report(report(assigned(backend, node_id, **fields), "started"), NOW + 1).job
    assert job is not None
    return job


def test_accepted_keeps_the_job_assigned(backend: Backend) -> None:
    job = assigned(backend)

    step = backend.report(report(job, "accepted"), NOW + 1)

    assert step.outcome is TransitionOutcome.APPLIED
    assert step.job is not None
    assert step.job.state is JobState.ASSIGNED
    assert node(backend, "n1").reserved == 1


def test_started_turns_the_reserved_slot_into_a_running_one(backend: Backend) -> None:
    job = assigned(backend)

    step = backend.report(report(job, "started"), NOW + 2)

    assert step.applied
    assert step.job is not None
    assert (step.job.state, step.job.started_at) == (JobState.RUNNING, NOW + 2)
    assert (node(backend, "n1").running, node(backend, "n1").reserved) == (1, 0)


def test_an_end_that_overtakes_its_start_keeps_when_the_run_began(backend: Backend) -> None:
    job = assigned(backend)

    step = backend.report(report(job, "succeeded", result=1, started_at=NOW + 1.5), NOW + 3)
    late_start = backend.report(report(job, "started"), NOW + 4)

    assert step.applied
    assert step.job is not None
    assert (step.job.state, step.job.started_at) == (JobState.SUCCEEDED, NOW + 1.5)
    assert late_start.outcome is TransitionOutcome.REFUSED
    assert (node(backend, "n1").running, node(backend, "n1").reserved) == (0, 0)


def test_a_start_time_from_the_node_never_replaces_the_stored_one(backend: Backend) -> None:
    job = running(backend)

    step = backend.report(report(job, "failed", error="boom", started_at=NOW + 0.5), NOW + 3)
    ahead = assigned(backend, "n2")
    clamped = backend.report(report(ahead, "succeeded", started_at=NOW + 60), NOW + 5)

    assert step.job is not None and step.job.started_at == NOW + 1
    assert clamped.job is not None and clamped.job.started_at == NOW + 5


def test_each_requeue_keeps_the_attempt_it_ended_in_the_history(backend: Backend) -> None:
    job = running(backend, "n1")
    backend.requeue(job.job_id, 1, "run timeout", NOW + 5)
    add_node(backend, "n2", slots=2)
    second = backend.assign(job.job_id, ["n2"], NOW + 6).job
    assert second is not None
    backend.node_lost("n2", NOW + 7)

    stored = backend.get_job(job.job_id)

    assert stored is not None
    assert (stored.state, stored.attempt, stored.node_id) == (JobState.PENDING, 2, None)
    assert [a.model_dump() for a in stored.history] == [
        {
            "attempt": 1,
            "node_id": "n1",
            "assigned_at": NOW,
            "started_at": NOW + 1,
            "ended_at": NOW + 5,
            "reason": "run timeout",
        },
        {
            "attempt": 2,
            "node_id": "n2",
            "assigned_at": NOW + 6,
            "started_at": None,
            "ended_at": NOW + 7,
            "reason": "node lost",
        },
    ]


def test_a_job_that_ran_once_has_no_history(backend: Backend) -> None:
    job = running(backend)
    backend.report(report(job, "succeeded", result=1), NOW + 2)

    stored = backend.get_job(job.job_id)

    assert stored is not None and stored.history == []


def test_succeeded_ends_the_job_and_frees_its_slot(backend: Backend) -> None:
    job = running(backend)
    result = {"text": "done", "scores": [0.5, 1]}

    step = backend.report(report(job, "succeeded", result=result), NOW + 3)

    assert step.applied
    stored = backend.get_job(job.job_id)
    assert stored is not None
    assert stored == step.job
    assert (stored.state, stored.result, stored.finished_at) == ("succeeded", result, NOW + 3)
    assert (stored.node_id, stored.error) == ("n1", None)
    assert node(backend, "n1").used == 0
    assert backend.node_jobs("n1") == []
    assert backend.stats().counters["ended:succeeded"] == 1


def test_succeeded_straight_from_assigned_frees_the_reserved_slot(backend: Backend) -> None:
    job = assigned(backend)

    step = backend.report(report(job, "succeeded", result=1), NOW + 1)

    assert step.applied
    assert node(backend, "n1").used == 0


def test_failed_ends_the_job_with_its_error(backend: Backend) -> None:
    job = running(backend)

    step = backend.report(report(job, "failed", error="boom"), NOW + 3)

    assert step.job is not None
    assert (step.job.state, step.job.error) == (JobState.FAILED, "boom")
    assert node(backend, "n1").used == 0
    assert backend.stats().counters["ended:failed"] == 1


def test_retryable_failure_requeues_while_attempts_remain(backend: Backend) -> None:
    job = running(backend, max_attempts=2)

    step = backend.report(report(job, "failed", error="gpu busy", retryable=True), NOW + 3)

    assert step.applied
    assert step.job is not None
    assert (step.job.state, step.job.node_id, step.job.attempt) == ("pending", None, 1)
    assert step.job.tried_nodes == ["n1"]
    assert step.job.error == "gpu busy"
    assert node(backend, "n1").used == 0
    assert [j.job_id for j in backend.backlog(10)] == [job.job_id]
    assert backend.stats().counters["requeued"] == 1

    again = backend.assign(job.job_id, ["n1"], NOW + 4).job
    assert again is not None
    assert again.attempt == 2
    last = backend.report(report(again, "failed", error="gpu busy", retryable=True), NOW + 5)
    assert last.job is not None
    assert last.job.state is JobState.FAILED


@pytest.mark.parametrize("change", ["attempt", "node"])
def test_stale_report_changes_nothing(backend: Backend, change: str) -> None:
    job = running(backend)
    add_node(backend, "n2")
    stale = report(job, "succeeded", result=1)
    if change == "attempt":
        stale = stale.model_copy(update={"attempt": job.attempt + 1})
    else:
        stale = stale.model_copy(update={"node_id": "n2"})

    step = backend.report(stale, NOW + 3)

    assert step.outcome is TransitionOutcome.STALE
    assert backend.get_job(job.job_id) == job
    assert node(backend, "n1").running == 1


def test_report_from_a_previous_attempt_changes_nothing(backend: Backend) -> None:
    job = assigned(backend)
    backend.requeue(job.job_id, job.attempt, "dispatch timeout", NOW + 1)
    add_node(backend, "n2")
    second = backend.assign(job.job_id, ["n2"], NOW + 2).job
    assert second is not None

    for event in ("accepted", "started", "succeeded", "failed"):
        step = backend.report(report(job, event), NOW + 3)
        assert step.outcome is TransitionOutcome.STALE

    assert backend.get_job(job.job_id) == second
    assert (node(backend, "n1").used, node(backend, "n2").used) == (0, 1)


@pytest.mark.parametrize(
    ("setup", "event"),
    [
        ("running", "accepted"),
        ("running", "started"),
        ("succeeded", "started"),
        ("succeeded", "succeeded"),
        ("succeeded", "failed"),
        ("cancelled", "started"),
    ],
)
def test_forbidden_steps_are_refused(backend: Backend, setup: str, event: str) -> None:
    job = running(backend)
    if setup == "succeeded":
        backend.report(report(job, "succeeded", result=1), NOW + 2)
    elif setup == "cancelled":
        backend.cancel(job.job_id, NOW + 2)
    before = backend.get_job(job.job_id)
    used = node(backend, "n1").used

    step = backend.report(report(job, event), NOW + 3)

    assert step.outcome is TransitionOutcome.REFUSED
    assert backend.get_job(job.job_id) == before
    assert node(backend, "n1").used == used


def test_report_for_an_unknown_job_is_missing(backend: Backend) -> None:
    job = make_job().model_copy(update={"attempt": 1, "node_id": "n1"})

    step = backend.report(report(job, "started"), NOW)

    assert (step.outcome, step.job) == (TransitionOutcome.MISSING, None)


def test_requeue_takes_the_job_back_and_excludes_the_node(backend: Backend) -> None:
    job = running(backend)

    step = backend.requeue(job.job_id, job.attempt, "run timeout", NOW + 9)

    assert step.applied
    assert step.job is not None
    assert (step.job.state, step.job.node_id, step.job.tried_nodes) == ("pending", None, ["n1"])
    assert step.job.error == "run timeout"
    assert node(backend, "n1").used == 0
    assert backend.node_jobs("n1") == []
    assert backend.stats().counters["requeued"] == 1


def test_requeue_of_the_last_attempt_fails_the_job(backend: Backend) -> None:
    job = running(backend, max_attempts=1)

    step = backend.requeue(job.job_id, 1, "run timeout", NOW + 9)

    assert step.job is not None
    assert step.job.state is JobState.FAILED
    assert step.job.error is not None
    assert "run timeout" in step.job.error
    assert node(backend, "n1").used == 0
    assert backend.backlog(10) == []


def test_requeue_is_stale_unless_active_at_that_attempt(backend: Backend) -> None:
    job = running(backend)
    pending = backend.claim(make_job(), [], NOW).job

    wrong_attempt = backend.requeue(job.job_id, job.attempt + 1, "x", NOW)
    not_active = backend.requeue(pending.job_id, 0, "x", NOW)

    assert wrong_attempt.outcome is TransitionOutcome.STALE
    assert not_active.outcome is TransitionOutcome.STALE
    assert backend.get_job(job.job_id) == job
    assert backend.requeue("nope", 1, "x", NOW).outcome is TransitionOutcome.MISSING


def test_assign_hands_a_pending_job_to_the_first_free_candidate(backend: Backend) -> None:
    add_node(backend, "busy")
    add_node(backend, "free")
    backend.claim(make_job(), ["busy"], NOW)
    pending = backend.claim(make_job(), [], NOW).job
    backend.note_pending(pending.job_id, "1 full", NOW)

    step = backend.assign(pending.job_id, ["busy", "free"], NOW + 1)

    assert step.applied
    assert step.job is not None
    assert (step.job.state, step.job.node_id, step.job.attempt) == ("assigned", "free", 1)
    assert step.job.explanation is None
    assert backend.backlog(10) == []
    assert node(backend, "free").reserved == 1


def test_assign_without_a_free_slot_is_refused_and_changes_nothing(backend: Backend) -> None:
    add_node(backend, "busy")
    backend.claim(make_job(), ["busy"], NOW)
    pending = backend.claim(make_job(), [], NOW).job

    step = backend.assign(pending.job_id, ["busy", "ghost"], NOW + 1)

    assert step.outcome is TransitionOutcome.REFUSED
    assert backend.get_job(pending.job_id) == pending
    assert [j.job_id for j in backend.backlog(10)] == [pending.job_id]


def test_assign_is_stale_for_a_job_that_is_not_pending(backend: Backend) -> None:
    job = assigned(backend)

    step = backend.assign(job.job_id, ["n1"], NOW + 1)

    assert step.outcome is TransitionOutcome.STALE
    assert backend.get_job(job.job_id) == job
    assert node(backend, "n1").reserved == 1


def test_fail_pending_ends_only_pending_jobs(backend: Backend) -> None:
    job = assigned(backend)
    pending = backend.claim(make_job(), [], NOW).job

    failed = backend.fail_pending(pending.job_id, "waited too long", NOW + 300)
    stale = backend.fail_pending(job.job_id, "waited too long", NOW + 300)

    assert failed.job is not None
    assert (failed.job.state, failed.job.error) == ("failed", "waited too long")
    assert backend.backlog(10) == []
    assert stale.outcome is TransitionOutcome.STALE
    assert backend.get_job(job.job_id) == job


def test_note_pending_records_the_explanation_on_pending_jobs_only(backend: Backend) -> None:
    job = assigned(backend)
    pending = backend.claim(make_job(), [], NOW).job

    backend.note_pending(pending.job_id, "2 offline, 1 full", NOW + 1)
    backend.note_pending(job.job_id, "2 offline, 1 full", NOW + 1)

    stored = backend.get_job(pending.job_id)
    assert stored is not None
    assert stored.explanation == "2 offline, 1 full"
    assert backend.get_job(job.job_id) == job


def test_cancel_ends_pending_and_active_jobs_and_frees_slots(backend: Backend) -> None:
    job = running(backend)
    pending = backend.claim(make_job(), [], NOW).job

    steps = [backend.cancel(j.job_id, NOW + 5) for j in (job, pending)]

    assert all(step.applied for step in steps)
    assert [step.job.state for step in steps if step.job] == ["cancelled", "cancelled"]
    assert node(backend, "n1").used == 0
    assert backend.backlog(10) == []
    assert backend.stats().counters["ended:cancelled"] == 2


def test_cancel_of_a_final_or_unknown_job(backend: Backend) -> None:
    job = running(backend)
    backend.report(report(job, "succeeded", result=1), NOW + 2)
    done = backend.get_job(job.job_id)

    refused = backend.cancel(job.job_id, NOW + 3)

    assert refused.outcome is TransitionOutcome.REFUSED
    assert backend.get_job(job.job_id) == done
    assert backend.cancel("nope", NOW).outcome is TransitionOutcome.MISSING
