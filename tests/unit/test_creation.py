import threading

import pytest

from app.backends.base import BackendOptions
from app.backends.local import LocalBackend
from app.creation import create_job, create_jobs
from app.errors import IdempotencyConflict
from app.fleet import Fleet
from app.models import JobState
from app.selection import Selector
from tests.factories import heartbeat, request

NOW = 1000.0


@pytest.fixture
def backend() -> LocalBackend:
    return LocalBackend(BackendOptions())


def setup(backend: LocalBackend, **slots: int) -> tuple[Selector, Fleet]:
    for node_id, count in slots.items():
        backend.heartbeat(heartbeat(node_id, slots=count), NOW)
    return Selector(seed=7), Fleet(backend, refresh_s=0.0)


def test_creates_once_and_answers_repeats_with_the_same_job(backend: LocalBackend) -> None:
    selector, fleet = setup(backend, a=2)
    first = create_job(request(request_id="r-1"), backend, selector, fleet, now=NOW)
    again = create_job(request(request_id="r-1"), backend, selector, fleet, now=NOW + 1)
    assert first.created and not again.created
    assert again.job.job_id == first.job.job_id
    assert first.job.state is JobState.ASSIGNED and first.job.node_id == "a"
    assert backend.stats().counters["repeats"] == 1


def test_a_different_body_under_a_used_id_is_a_conflict_that_changes_nothing(
    backend: LocalBackend,
) -> None:
    selector, fleet = setup(backend, a=2)
    first = create_job(
        request(request_id="r-1", payload={"n": 1}), backend, selector, fleet, now=NOW
    )
    before = backend.get_job(first.job.job_id)
    with pytest.raises(IdempotencyConflict, match="r-1"):
        create_job(request(request_id="r-1", payload={"n": 2}), backend, selector, fleet, now=NOW)
    assert backend.get_job(first.job.job_id) == before
    assert backend.stats().states["assigned"] == 1
    assert backend.nodes()[0].reserved == 1


def test_with_no_node_the_job_waits_in_the_backlog_with_an_explanation(
    backend: LocalBackend,
) -> None:
    selector, fleet = setup(backend, a=1)
    created = create_job(request(requires=["gpu"]), backend, selector, fleet, now=NOW)
    assert created.job.state is JobState.PENDING
    assert created.job.explanation == "1 lack gpu"
    assert [job.job_id for job in backend.backlog(10)] == [created.job.job_id]
    assert backend.stats().counters["no_node:lack capability"] == 1


def test_a_stale_snapshot_tries_the_next_candidate(backend: LocalBackend) -> None:
    selector = Selector(seed=1)
    backend.heartbeat(heartbeat("a", slots=1), NOW)
    backend.heartbeat(heartbeat("b", slots=1), NOW)
    fleet = Fleet(backend, refresh_s=3600)
    jobs = [create_job(request(), backend, selector, fleet, now=NOW).job for _ in range(2)]
    fleet.invalidate()
    fleet.view(NOW)
    assert sorted(job.node_id or "" for job in jobs) == ["a", "b"]
    third = create_job(request(), backend, selector, Fleet(backend, 0), now=NOW)
    assert third.job.state is JobState.PENDING


def test_threads_racing_on_duplicates_and_slots_keep_every_guarantee(
    backend: LocalBackend,
) -> None:
    selector, fleet = setup(backend, a=3, b=2)
    ids = [f"r-{i % 40}" for i in range(400)]
    answers: list[tuple[str, str, bool]] = []
    lock = threading.Lock()

    def worker(chunk: list[str]) -> None:
        for request_id in chunk:
            created = create_job(request(request_id=request_id), backend, selector, fleet, now=NOW)
            with lock:
                answers.append((request_id, created.job.job_id, created.created))

    threads = [threading.Thread(target=worker, args=(ids[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    by_request: dict[str, set[str]] = {}
    for request_id, job_id, _ in answers:
        by_request.setdefault(request_id, set()).add(job_id)
    assert all(len(job_ids) == 1 for job_ids in by_request.values())
    assert sum(created for _, _, created in answers) == 40
    nodes = {node.node_id: node for node in backend.nodes()}
    assert nodes["a"].reserved == 3 and nodes["b"].reserved == 2
    assert backend.stats().states["pending"] == 35


def test_a_batch_returns_conflicts_in_place(backend: LocalBackend) -> None:
    selector, fleet = setup(backend, a=10)
    create_job(request(request_id="used", payload={"v": 1}), backend, selector, fleet, now=NOW)
    outcomes = create_jobs(
        [
            request(request_id="new"),
            request(request_id="used", payload={"v": 2}),
            request(request_id="new"),
        ],
        backend,
        selector,
        fleet,
    )
    assert not isinstance(outcomes[0], Exception) and outcomes[0].created
    assert isinstance(outcomes[1], IdempotencyConflict)
    assert not isinstance(outcomes[2], Exception) and not outcomes[2].created
    assert outcomes[2].job.job_id == outcomes[0].job.job_id
