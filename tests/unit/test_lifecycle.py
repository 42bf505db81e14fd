"""The scheduler's lifecycle steps over the local backend, with hand-offs recorded."""

from __future__ import annotations

import pytest

from app.backends.base import TransitionOutcome
from app.backends.factory import open_backend
from app.models import Job, JobState
from app.scheduler import Scheduler
from app.settings import load_settings
from tests.factories import heartbeat


class RecordingHandoff:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str | None, int]] = []
        self.stopped: list[str] = []

    def run(self, job: Job) -> None:
        self.sent.append((job.job_id, job.node_id, job.attempt))

    def run_many(self, jobs: list[Job]) -> None:
        for job in jobs:
            self.run(job)

    def stop(self, job: Job) -> None:
        self.stopped.append(job.job_id)


@pytest.fixture
def handoff() -> RecordingHandoff:
    return RecordingHandoff()


@pytest.fixture
def scheduler(tmp_path, handoff: RecordingHandoff) -> Scheduler:
    settings = load_settings(
        mode="local",
        data_dir=tmp_path,
        node_timeout_s=10,
        dispatch_timeout_s=30,
        pending_timeout_s=300,
        node_refresh_s=0.001,
    )
    return Scheduler(settings, open_backend(settings), handoff)


def beat(scheduler: Scheduler, node_id: str, slots: int = 1, **fields: object) -> None:
    scheduler.heartbeat(heartbeat(node_id, slots=slots, **fields).model_dump())


def report(scheduler: Scheduler, job: dict, event: str, **fields: object) -> TransitionOutcome:
    data = {
        "job_id": job["job_id"],
        "attempt": job["attempt"],
        "node_id": job["node_id"],
        "event": event,
        **fields,
    }
    return scheduler.report(data).outcome


def test_a_job_runs_to_success_and_frees_its_slot(scheduler: Scheduler, handoff) -> None:
    beat(scheduler, "a")
    job = scheduler.create({"request_id": "r", "kind": "echo"})["job"]
    assert handoff.sent == [(job["job_id"], "a", 1)]
    assert report(scheduler, job, "started") is TransitionOutcome.APPLIED
    assert scheduler.backend.nodes()[0].running == 1
    assert report(scheduler, job, "succeeded", result={"ok": True}) is TransitionOutcome.APPLIED
    final = scheduler.backend.get_job(job["job_id"])
    assert final is not None and final.state is JobState.SUCCEEDED and final.result == {"ok": True}
    assert scheduler.backend.nodes()[0].used == 0


def test_a_report_for_an_old_attempt_or_another_node_changes_nothing(scheduler) -> None:
    beat(scheduler, "a")
    beat(scheduler, "b")
    job = scheduler.create({"request_id": "r", "kind": "echo"})["job"]
    other = "b" if job["node_id"] == "a" else "a"
    assert report(scheduler, {**job, "node_id": other}, "started") is TransitionOutcome.STALE
    assert report(scheduler, {**job, "attempt": 2}, "succeeded") is TransitionOutcome.STALE
    stored = scheduler.backend.get_job(job["job_id"])
    assert stored is not None and stored.state is JobState.ASSIGNED


def test_node_loss_requeues_to_another_node_and_ignores_the_dead_attempt(
    scheduler: Scheduler, handoff
) -> None:
    beat(scheduler, "a")
    beat(scheduler, "b")
    job = scheduler.create({"request_id": "r", "kind": "echo", "preferred_node": "a"})["job"]
    assert job["node_id"] == "a"
    report(scheduler, job, "started")
    import time

    now = time.time()
    scheduler.backend.heartbeat(heartbeat("b", slots=1), now + 20)
    sweep = scheduler.placement.sweep(now + 20)
    assert sweep.lost_nodes == 1 and sweep.requeued == 1 and sweep.placed == 1
    moved = scheduler.backend.get_job(job["job_id"])
    assert moved is not None
    assert (moved.state, moved.node_id, moved.attempt) == (JobState.ASSIGNED, "b", 2)
    assert moved.tried_nodes == ["a"]
    assert handoff.sent[-1] == (job["job_id"], "b", 2)
    assert report(scheduler, job, "succeeded") is TransitionOutcome.STALE
    assert scheduler.backend.get_job(job["job_id"]) == moved


def test_a_restarted_node_agents_running_job_moves_on_at_its_first_heartbeat(
    scheduler: Scheduler, handoff
) -> None:
    beat(scheduler, "a", incarnation="one")
    beat(scheduler, "b")
    job = scheduler.create({"request_id": "r", "kind": "echo", "preferred_node": "a"})["job"]
    report(scheduler, job, "started")

    beat(scheduler, "a", incarnation="two")

    moved = scheduler.backend.get_job(job["job_id"])
    assert moved is not None
    assert (moved.state, moved.node_id, moved.attempt) == (JobState.ASSIGNED, "b", 2)
    assert handoff.sent[-1] == (job["job_id"], "b", 2)
    assert report(scheduler, job, "succeeded") is TransitionOutcome.STALE


def test_a_dispatch_timeout_takes_the_job_back(scheduler: Scheduler) -> None:
    import time

    beat(scheduler, "a", slots=1)
    job = scheduler.create({"request_id": "r", "kind": "echo", "max_attempts": 1})["job"]
    now = time.time()
    scheduler.backend.heartbeat(heartbeat("a", slots=1), now + 31)
    scheduler.placement.sweep(now + 31)
    ended = scheduler.backend.get_job(job["job_id"])
    assert ended is not None and ended.state is JobState.FAILED
    assert ended.error == "dispatch timeout (attempt 1 of 1)"
    assert scheduler.backend.nodes()[0].used == 0


def test_retryable_failures_retry_until_max_attempts_then_fail(scheduler: Scheduler) -> None:
    beat(scheduler, "a", slots=1)
    job = scheduler.create({"request_id": "r", "kind": "echo", "max_attempts": 2})["job"]
    report(scheduler, job, "started")
    report(scheduler, job, "failed", error="ValueError: bad", retryable=True)
    again = scheduler.backend.get_job(job["job_id"])
    assert again is not None and again.state is JobState.ASSIGNED and again.attempt == 2
    second = again.public()
    report(scheduler, second, "started")
    report(scheduler, second, "failed", error="ValueError: bad", retryable=True)
    ended = scheduler.backend.get_job(job["job_id"])
    assert ended is not None and ended.state is JobState.FAILED
    assert ended.error is not None and "ValueError: bad" in ended.error


def test_backlog_is_placed_when_a_node_with_the_capability_joins(scheduler, handoff) -> None:
    beat(scheduler, "cpu", slots=4)
    low = scheduler.create({"request_id": "low", "kind": "echo", "requires": ["gpu"]})["job"]
    high = scheduler.create(
        {"request_id": "high", "kind": "echo", "requires": ["gpu"], "priority": 5}
    )["job"]
    assert low["state"] == high["state"] == "pending"
    beat(scheduler, "gpu", slots=1, capabilities=["gpu"])
    assert handoff.sent[-1] == (high["job_id"], "gpu", 1)
    placed_low = scheduler.backend.get_job(low["job_id"])
    assert placed_low is not None and placed_low.state is JobState.PENDING


def test_a_job_that_waits_too_long_fails_with_the_selector_explanation(scheduler) -> None:
    import time

    beat(scheduler, "cpu", slots=4)
    job = scheduler.create({"request_id": "r", "kind": "echo", "requires": ["gpu"]})["job"]
    scheduler.backend.heartbeat(heartbeat("cpu", slots=4), time.time() + 301)
    scheduler.placement.sweep(time.time() + 301)
    ended = scheduler.backend.get_job(job["job_id"])
    assert ended is not None and ended.state is JobState.FAILED
    assert ended.error is not None and "1 lack gpu" in ended.error


def test_cancel_stops_a_running_job_and_frees_the_slot(scheduler, handoff) -> None:
    beat(scheduler, "a", slots=1)
    job = scheduler.create({"request_id": "r", "kind": "sleep"})["job"]
    report(scheduler, job, "started")
    cancelled = scheduler.cancel(job["job_id"])
    assert cancelled.state is JobState.CANCELLED
    assert handoff.stopped == [job["job_id"]]
    assert scheduler.backend.nodes()[0].used == 0
    assert report(scheduler, job, "succeeded") is TransitionOutcome.REFUSED


def test_drain_keeps_new_jobs_away(scheduler: Scheduler) -> None:
    beat(scheduler, "a", slots=4)
    scheduler.drain("a")
    job = scheduler.create({"request_id": "r", "kind": "echo"})["job"]
    assert job["state"] == "pending"
    assert "draining" in job["explanation"]
