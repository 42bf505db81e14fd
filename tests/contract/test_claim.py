"""Creation: one job per request_id, a slot on the first candidate that has one."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from app.backends.base import Backend, Claim, ClaimOutcome, ClaimSpec, JobQuery
from app.models import JobState

from .helpers import NOW, add_node, make_job, node


def test_first_claim_creates_an_assigned_job(backend: Backend) -> None:
    add_node(backend, "n1")
    job = make_job(payload={"text": "hello"})

    claim = backend.claim(job, ["n1"], NOW + 5)

    assert claim.outcome is ClaimOutcome.CREATED
    assert claim.job.job_id == job.job_id
    assert claim.job.state is JobState.ASSIGNED
    assert (claim.job.node_id, claim.job.attempt) == ("n1", 1)
    assert claim.job.created_at == NOW + 5
    assert claim.job.assigned_at == NOW + 5
    assert backend.get_job(job.job_id) == claim.job
    assert (node(backend, "n1").reserved, node(backend, "n1").running) == (1, 0)
    assert backend.node_jobs("n1") == [job.job_id]
    assert backend.stats().counters["created"] == 1


def test_repeat_returns_the_bound_job(backend: Backend) -> None:
    add_node(backend, "n1", slots=4)
    first = backend.claim(make_job("r1", payload={"a": 1}), ["n1"], NOW)

    again = backend.claim(make_job("r1", payload={"a": 1}), ["n1"], NOW + 1)

    assert again.outcome is ClaimOutcome.EXISTING
    assert again.job == first.job
    assert node(backend, "n1").reserved == 1
    counters = backend.stats().counters
    assert (counters["created"], counters["repeats"]) == (1, 1)
    assert len(backend.list_jobs(JobQuery()).jobs) == 1


def test_conflict_changes_nothing_but_its_counter(backend: Backend) -> None:
    add_node(backend, "n1", slots=4)
    first = backend.claim(make_job("r1", payload={"a": 1}), ["n1"], NOW)
    other = make_job("r1", payload={"a": 2})

    conflict = backend.claim(other, ["n1"], NOW + 1, counters={"kind:echo": 1})

    assert conflict.outcome is ClaimOutcome.CONFLICT
    assert conflict.job == first.job
    assert backend.get_job(first.job.job_id) == first.job
    assert backend.get_job(other.job_id) is None
    assert node(backend, "n1").reserved == 1
    counters = backend.stats().counters
    assert (counters["created"], counters["conflicts"]) == (1, 1)
    assert "kind:echo" not in counters


def test_creation_increments_the_given_counters(backend: Backend) -> None:
    backend.claim(make_job(), [], NOW, counters={"kind:echo": 1, "wait:sum": 0.25})
    backend.claim(make_job(), [], NOW, counters={"kind:echo": 1, "wait:sum": 0.5})

    counters = backend.stats().counters

    assert counters["created"] == 2
    assert (counters["kind:echo"], counters["wait:sum"]) == (2, 0.75)


def test_payload_and_request_fields_round_trip(backend: Backend) -> None:
    payload = {
        "text": 'grüße, 你好 "quoted" \\ back',
        "nested": {"list": [1, 2.5, None, True, False, [], {}], "big": 2**53 + 1},
        "empty": "",
        "numbers": [0, -1, 1e-9, 123456789.125],
    }
    job = make_job(
        payload=payload,
        requires=["asr:en", "gpu"],
        selector={"pool": "eu"},
        preferred_node="n9",
        exclude_nodes=["n7"],
        affinity_key="session 1",
        priority=-3,
        timeout_s=12.5,
        max_attempts=5,
    )

    stored = backend.claim(job, [], NOW).job

    assert backend.get_job(job.job_id) == stored
    assert stored.payload == payload
    assert stored.request() == job.request()
    assert stored.fingerprint == job.fingerprint


def test_candidates_are_tried_in_order(backend: Backend) -> None:
    for node_id in ("full", "drained", "lost", "b", "a"):
        add_node(backend, node_id)
    backend.claim(make_job(), ["full"], NOW)
    backend.set_draining("drained", True, NOW)
    backend.node_lost("lost", NOW)

    claim = backend.claim(make_job(), ["ghost", "full", "drained", "lost", "b", "a"], NOW)

    assert claim.job.node_id == "b"
    assert node(backend, "a").reserved == 0
    assert [node(backend, n).used for n in ("full", "drained", "lost")] == [1, 0, 0]


def test_pending_when_no_candidate_has_a_slot(backend: Backend) -> None:
    add_node(backend, "n1")
    backend.claim(make_job(), ["n1"], NOW)

    claim = backend.claim(make_job(), ["n1"], NOW)

    assert claim.outcome is ClaimOutcome.CREATED
    assert claim.job.state is JobState.PENDING
    assert (claim.job.node_id, claim.job.attempt) == (None, 0)
    assert [job.job_id for job in backend.backlog(10)] == [claim.job.job_id]
    assert backend.stats().backlog == 1
    assert node(backend, "n1").used == 1


def test_slots_are_never_overcommitted(backend: Backend) -> None:
    add_node(backend, "n1", slots=2)

    claims = [backend.claim(make_job(), ["n1"], NOW) for _ in range(5)]

    states = [claim.job.state for claim in claims]
    assert states.count(JobState.ASSIGNED) == 2
    assert states.count(JobState.PENDING) == 3
    assert node(backend, "n1").used == 2


def test_concurrent_claims_respect_slots_and_request_ids(backend: Backend) -> None:
    add_node(backend, "n1", slots=2)
    jobs = [make_job() for _ in range(24)] + [make_job("same") for _ in range(16)]
    barrier = threading.Barrier(len(jobs))

    def claim(job_index: int) -> Claim:
        barrier.wait(timeout=10)
        return backend.claim(jobs[job_index], ["n1"], NOW)

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        claims = list(pool.map(claim, range(len(jobs))))

    assigned = [c for c in claims if c.job.state is JobState.ASSIGNED]
    assert len({c.job.job_id for c in assigned}) <= 2
    assert node(backend, "n1").used == 2
    assert len(backend.node_jobs("n1")) == 2
    same = [c for c in claims if c.job.request_id == "same"]
    assert [c.outcome for c in same].count(ClaimOutcome.CREATED) == 1
    assert len({c.job.job_id for c in same}) == 1
    assert backend.stats().counters["created"] == 25


def test_claim_many_claims_in_order(backend: Backend) -> None:
    add_node(backend, "n1", slots=2)
    specs = [
        ClaimSpec(make_job("r1"), ["n1"], {"batch": 1}),
        ClaimSpec(make_job("r2"), ["n1"]),
        ClaimSpec(make_job("r1"), ["n1"]),
        ClaimSpec(make_job("r3"), ["n1"]),
        ClaimSpec(make_job("r2", payload={"other": True}), ["n1"]),
    ]

    claims = backend.claim_many(specs, NOW)

    outcomes = [claim.outcome for claim in claims]
    assert outcomes == ["created", "created", "existing", "created", "conflict"]
    assert [c.job.state for c in claims[:4]] == ["assigned", "assigned", "assigned", "pending"]
    assert claims[2].job.job_id == claims[0].job.job_id
    assert node(backend, "n1").used == 2
    assert backend.stats().counters["batch"] == 1
    assert backend.claim_many([], NOW) == []


def test_a_claimed_job_keeps_every_character_of_its_fields(backend: Backend) -> None:
    text = 'héllo "quoted" \\ back\nslash 🚀 \u2028 ключ'
    job = make_job(payload={"text": text, "n": [1, 2.5, None]}, affinity_key="ключ-🚀")

    claimed = backend.claim(job, [], NOW)

    stored = backend.get_job(job.job_id)
    assert stored is not None and stored == claimed.job
    assert stored.payload == {"text": text, "n": [1, 2.5, None]}
    assert stored.affinity_key == "ключ-🚀"
