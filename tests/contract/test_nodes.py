"""Heartbeats, draining and lost nodes."""

from __future__ import annotations

from typing import Any

import pytest

from app.backends.base import FORGET_SCHEDULER_S, Backend
from app.errors import NodeNotFound
from app.models import Heartbeat, JobState, NodeStatus, SchedulerWorker
from tests.support.schedulers import scheduler_worker

from .helpers import NOW, add_node, make_job, node, report


def test_heartbeat_records_the_node(backend: Backend) -> None:
    seen = add_node(
        backend,
        "n1",
        slots=3,
        capabilities=["asr:en", "gpu"],
        kinds=["echo"],
        labels={"pool": "eu"},
        cpu_percent=12.5,
        memory_percent=40.0,
        hostname="box-1",
        now=NOW + 7,
    )

    assert seen == node(backend, "n1")
    assert (seen.capabilities, seen.kinds, seen.labels) == (
        ["asr:en", "gpu"],
        ["echo"],
        {"pool": "eu"},
    )
    assert (seen.slots, seen.running, seen.reserved) == (3, 0, 0)
    assert (seen.cpu_percent, seen.memory_percent, seen.hostname) == (12.5, 40.0, "box-1")
    assert (seen.status, seen.draining, seen.last_seen) == (NodeStatus.ALIVE, False, NOW + 7)


def test_heartbeat_keeps_the_stores_counts(backend: Backend) -> None:
    add_node(backend, "n1", slots=2)
    job = backend.claim(make_job(), ["n1"], NOW).job
    backend.report(report(job, "started"), NOW)
    backend.claim(make_job(), ["n1"], NOW)

    seen = add_node(backend, "n1", slots=4, running_jobs=[], now=NOW + 2)

    assert (seen.slots, seen.running, seen.reserved) == (4, 1, 1)
    assert node(backend, "n1") == seen


def test_nodes_lists_every_node(backend: Backend) -> None:
    for node_id in ("b", "a", "c"):
        add_node(backend, node_id)
    backend.node_lost("c", NOW)

    nodes = {n.node_id: n.status for n in backend.nodes()}

    assert nodes == {"a": "alive", "b": "alive", "c": "offline"}


def test_a_draining_node_gets_no_new_jobs(backend: Backend) -> None:
    add_node(backend, "n1", draining=True)

    claim = backend.claim(make_job(), ["n1"], NOW)

    assert claim.job.state is JobState.PENDING
    assert node(backend, "n1").status is NodeStatus.DRAINING


def test_a_node_that_stops_draining_itself_gets_jobs_again(backend: Backend) -> None:
    add_node(backend, "n1", draining=True)

    seen = add_node(backend, "n1", draining=False, now=NOW + 2)

    assert (seen.status, seen.draining) == (NodeStatus.ALIVE, False)
    assert backend.claim(make_job(), ["n1"], NOW + 2).job.node_id == "n1"


def test_an_operators_drain_outlasts_heartbeats_until_resumed(backend: Backend) -> None:
    add_node(backend, "n1", slots=2)

    drained = backend.set_draining("n1", True, NOW + 1)
    after_heartbeat = add_node(backend, "n1", slots=2, now=NOW + 2)
    blocked = backend.claim(make_job(), ["n1"], NOW + 2)
    resumed = backend.set_draining("n1", False, NOW + 3)

    assert (drained.status, drained.draining) == (NodeStatus.DRAINING, True)
    assert after_heartbeat.status is NodeStatus.DRAINING
    assert blocked.job.state is JobState.PENDING
    assert (resumed.status, resumed.draining) == (NodeStatus.ALIVE, False)
    assert backend.claim(make_job(), ["n1"], NOW + 3).job.node_id == "n1"


def test_set_draining_on_an_unknown_node(backend: Backend) -> None:
    with pytest.raises(NodeNotFound):
        backend.set_draining("ghost", True, NOW)
    assert backend.nodes() == []


def test_node_lost_requeues_its_active_jobs_and_frees_the_slots(backend: Backend) -> None:
    add_node(backend, "n1", slots=3)
    first = backend.claim(make_job(), ["n1"], NOW).job
    backend.report(report(first, "started"), NOW + 1)
    second = backend.claim(make_job(), ["n1"], NOW).job
    last_try = backend.claim(make_job(max_attempts=1), ["n1"], NOW).job

    steps = backend.node_lost("n1", NOW + 10)

    by_id = {step.job.job_id: step.job for step in steps if step.job}
    assert all(step.applied for step in steps)
    assert set(by_id) == {first.job_id, second.job_id, last_try.job_id}
    for job_id in (first.job_id, second.job_id):
        assert (by_id[job_id].state, by_id[job_id].node_id) == ("pending", None)
        assert by_id[job_id].tried_nodes == ["n1"]
    assert by_id[last_try.job_id].state is JobState.FAILED
    lost = node(backend, "n1")
    assert (lost.status, lost.running, lost.reserved) == (NodeStatus.OFFLINE, 0, 0)
    assert backend.node_jobs("n1") == []
    assert {j.job_id for j in backend.backlog(10)} == {first.job_id, second.job_id}


def test_a_restarted_agent_gets_back_what_its_previous_process_left_running(
    backend: Backend,
) -> None:
    add_node(backend, "n1", slots=4, incarnation="first")
    orphan, kept, still_queued = (backend.claim(make_job(), ["n1"], NOW).job for _ in range(3))
    for job in (orphan, kept):
        backend.report(report(job, "started"), NOW + 1)
    last_try = backend.claim(make_job(max_attempts=1), ["n1"], NOW).job
    backend.report(report(last_try, "started"), NOW + 1)

    beat = Heartbeat(node_id="n1", slots=4, incarnation="second", running_jobs=[kept.job_id])
    done = backend.heartbeat(beat, NOW + 2)
    seen = done.node

    # Running and not listed: requeued. A queued order still reaches the new process.
    jobs = {j.job_id: backend.get_job(j.job_id) for j in (orphan, kept, still_queued, last_try)}
    assert jobs[orphan.job_id] is not None and jobs[last_try.job_id] is not None
    assert (jobs[orphan.job_id].state, jobs[orphan.job_id].tried_nodes) == ("pending", ["n1"])
    assert jobs[orphan.job_id].error == "node n1 restarted"
    assert jobs[last_try.job_id].state is JobState.FAILED
    assert [jobs[j.job_id].state for j in (kept, still_queued)] == ["running", "assigned"]
    assert (seen.restarts, seen.incarnation, seen.running, seen.reserved) == (1, "second", 1, 1)
    taken_back = {step.job.job_id: step.job.state for step in done.taken_back if step.job}
    assert taken_back == {orphan.job_id: "pending", last_try.job_id: "failed"}
    assert backend.node_jobs("n1") == sorted([kept.job_id, still_queued.job_id])
    assert backend.stats().counters["requeued"] == 1


def test_a_running_job_its_node_stopped_listing_without_a_report_is_requeued(
    backend: Backend,
) -> None:
    # Default dispatch timeout: 30 s. The agent is the same process throughout.
    add_node(backend, "n1", slots=3, incarnation="one")
    lost, late, kept = (backend.claim(make_job(), ["n1"], NOW).job for _ in range(3))
    for job in (lost, late, kept):
        backend.report(report(job, "started"), NOW)

    add_node(backend, "n1", slots=3, incarnation="one", running_jobs=[kept.job_id], now=NOW + 1)
    backend.report(report(late, "succeeded", result=None), NOW + 2)
    add_node(backend, "n1", slots=3, incarnation="one", running_jobs=[kept.job_id], now=NOW + 30)
    waiting = backend.get_job(lost.job_id)
    add_node(backend, "n1", slots=3, incarnation="one", running_jobs=[kept.job_id], now=NOW + 32)

    assert waiting is not None and waiting.state is JobState.RUNNING
    taken_back = backend.get_job(lost.job_id)
    assert taken_back is not None and taken_back.state is JobState.PENDING
    assert taken_back.error == "node n1 no longer runs it and sent no report"
    assert backend.report(report(lost, "succeeded"), NOW + 33).outcome == "stale"
    assert [backend.get_job(j.job_id).state for j in (late, kept)] == ["succeeded", "running"]
    assert (node(backend, "n1").running, node(backend, "n1").restarts) == (1, 0)
    assert backend.stats().counters["requeued"] == 1


def test_a_lost_node_forgets_which_jobs_it_stopped_listing(backend: Backend) -> None:
    add_node(backend, "n1", slots=1)
    job = backend.claim(make_job(), ["n1"], NOW).job
    backend.report(report(job, "started"), NOW)
    add_node(backend, "n1", slots=1, running_jobs=[], now=NOW + 1)
    backend.node_lost("n1", NOW + 5)
    again = backend.assign(job.job_id, ["n1"], NOW + 6)
    assert again.job is not None and again.job.state is JobState.PENDING  # n1 is offline

    add_node(backend, "n1", slots=1, now=NOW + 40)
    moved = backend.assign(job.job_id, ["n1"], NOW + 40).job
    assert moved is not None
    backend.report(report(moved, "started"), NOW + 40)
    add_node(backend, "n1", slots=1, running_jobs=[], now=NOW + 41)

    # The second attempt is unlisted since NOW + 41, not since the first attempt's NOW + 1.
    current = backend.get_job(job.job_id)
    assert current is not None and (current.state, current.attempt) == ("running", 2)


def test_heartbeats_of_the_same_incarnation_take_nothing_back(backend: Backend) -> None:
    add_node(backend, "n1", slots=2)
    unnamed = backend.claim(make_job(), ["n1"], NOW).job
    backend.report(report(unnamed, "started"), NOW)

    add_node(backend, "n1", slots=2, incarnation="first", now=NOW + 1)
    seen = add_node(backend, "n1", slots=2, incarnation="first", now=NOW + 2)

    # An agent without an incarnation, then the same one twice: no restart.
    assert (seen.restarts, seen.running) == (0, 1)
    job = backend.get_job(unnamed.job_id)
    assert job is not None and job.state is JobState.RUNNING


def test_node_lost_twice_or_for_an_unknown_node_does_nothing(backend: Backend) -> None:
    add_node(backend, "n1")
    backend.claim(make_job(), ["n1"], NOW)
    backend.node_lost("n1", NOW)
    pending = backend.backlog(10)

    assert backend.node_lost("n1", NOW + 1) == []
    assert backend.node_lost("ghost", NOW + 1) == []
    assert backend.backlog(10) == pending
    assert backend.stats().counters["requeued"] == 1


def test_a_lost_node_gets_no_jobs_until_it_heartbeats_again(backend: Backend) -> None:
    add_node(backend, "n1")
    backend.node_lost("n1", NOW)

    while_lost = backend.claim(make_job(), ["n1"], NOW + 1)
    back = add_node(backend, "n1", now=NOW + 2)

    assert while_lost.job.state is JobState.PENDING
    assert back.status is NodeStatus.ALIVE
    assert backend.claim(make_job(), ["n1"], NOW + 2).job.node_id == "n1"


def test_a_drained_node_returns_from_offline_still_drained(backend: Backend) -> None:
    add_node(backend, "n1")
    backend.set_draining("n1", True, NOW)
    backend.node_lost("n1", NOW + 1)

    back = add_node(backend, "n1", now=NOW + 2)

    assert (back.status, back.draining) == (NodeStatus.DRAINING, True)


def test_node_jobs_lists_assigned_and_running_jobs_only(backend: Backend) -> None:
    add_node(backend, "n1", slots=3)
    done, started, waiting = (backend.claim(make_job(), ["n1"], NOW).job for _ in range(3))
    backend.report(report(started, "started"), NOW)
    backend.report(report(done, "succeeded", result=None), NOW)

    assert backend.node_jobs("n1") == sorted([started.job_id, waiting.job_id])
    assert backend.node_jobs("ghost") == []


def test_the_nodes_own_running_count_holds_slots_the_store_thinks_free(
    backend: Backend,
) -> None:
    # A handler that outlived its run timeout still occupies a thread on the node.
    add_node(backend, "n1", slots=2, running_jobs=["old-1"])
    first = backend.claim(make_job(), ["n1"], NOW)
    second = backend.claim(make_job(), ["n1"], NOW)

    assert first.job.state is JobState.ASSIGNED
    assert second.job.state is JobState.PENDING
    seen = node(backend, "n1")
    assert (seen.running, seen.reported_running, seen.reserved, seen.used) == (0, 1, 1, 2)

    add_node(backend, "n1", slots=2, running_jobs=[])
    assert backend.assign(second.job.job_id, ["n1"], NOW).job.state is JobState.ASSIGNED


def scheduler(name: str, last_seen: float, **fields: Any) -> SchedulerWorker:
    described = {"mode": "cross_instance", "pool": "prefork", "concurrency": 2, **fields}
    return scheduler_worker(name, last_seen, **{"started_at": NOW, **described})


def test_scheduler_workers_are_known_by_their_latest_description(backend: Backend) -> None:
    backend.scheduler_seen(scheduler("s2@host-a", NOW), NOW)
    backend.scheduler_seen(scheduler("s1@host-a", NOW), NOW)
    backend.scheduler_seen(scheduler("s1@host-a", NOW + 5, sweeping=True), NOW + 5)

    known = backend.schedulers()

    assert [(w.name, w.last_seen, w.sweeping) for w in known] == [
        ("s1@host-a", NOW + 5, True),
        ("s2@host-a", NOW, False),
    ]
    assert [w.status_at(NOW + 6, offline_after_s=3) for w in known] == ["alive", "offline"]


def test_scheduler_workers_silent_for_an_hour_are_forgotten(backend: Backend) -> None:
    backend.scheduler_seen(scheduler("gone@host-b", NOW, stopped=True), NOW)
    later = NOW + FORGET_SCHEDULER_S + 1
    backend.scheduler_seen(scheduler("s1@host-a", later), later)

    assert [w.name for w in backend.schedulers()] == ["s1@host-a"]
