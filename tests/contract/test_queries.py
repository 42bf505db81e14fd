"""Backlog, deadlines, the job list, statistics, retention and leases."""

from __future__ import annotations

from app.backends.base import Backend, JobQuery
from app.models import JobState

from .conftest import MakeBackend
from .helpers import NOW, add_node, make_job, report


def test_backlog_is_highest_priority_then_oldest_first(backend: Backend) -> None:
    priorities = [0, 5, 5, -1, 0, 1_000_000]
    ids = [backend.claim(make_job(priority=p), [], NOW).job.job_id for p in priorities]

    order = [job.job_id for job in backend.backlog(10)]

    assert order == [ids[5], ids[1], ids[2], ids[0], ids[4], ids[3]]
    assert [job.job_id for job in backend.backlog(2)] == order[:2]


def test_due_reports_dispatch_timeouts_until_accepted(make_backend: MakeBackend) -> None:
    backend = make_backend(dispatch_timeout_s=30.0)
    add_node(backend, "n1", slots=2)
    job = backend.claim(make_job(), ["n1"], NOW).job
    accepted = backend.claim(make_job(), ["n1"], NOW).job
    backend.report(report(accepted, "accepted"), NOW + 1)

    assert backend.due(NOW + 29, 10) == []
    assert backend.due(NOW + 31, 10) == [(job.job_id, 1, "dispatch timeout")]

    backend.requeue(job.job_id, 1, "dispatch timeout", NOW + 31)
    assert backend.due(NOW + 60, 10) == []


def test_due_reports_run_timeouts_of_running_jobs(backend: Backend) -> None:
    add_node(backend, "n1", slots=3)
    timed = backend.claim(make_job(timeout_s=10), ["n1"], NOW).job
    untimed = backend.claim(make_job(), ["n1"], NOW).job
    backend.report(report(timed, "started"), NOW + 5)
    backend.report(report(untimed, "started"), NOW + 5)

    assert backend.due(NOW + 14, 10) == []
    assert backend.due(NOW + 16, 10) == [(timed.job_id, 1, "run timeout")]

    backend.report(report(timed, "succeeded", result=1), NOW + 17)
    assert backend.due(NOW + 10_000, 10) == []


def test_due_respects_the_limit(backend: Backend) -> None:
    add_node(backend, "n1", slots=5)
    for _ in range(4):
        backend.claim(make_job(), ["n1"], NOW)

    assert len(backend.due(NOW + 3600, 10)) == 4
    assert len(backend.due(NOW + 3600, 3)) == 3


def test_list_jobs_is_newest_first_and_pages_with_before(backend: Backend) -> None:
    ids = [backend.claim(make_job(), [], NOW).job.job_id for _ in range(7)]
    newest_first = ids[::-1]

    seen: list[str] = []
    before = None
    for _ in range(10):
        page = backend.list_jobs(JobQuery(limit=3, before=before))
        seen += [job.job_id for job in page.jobs]
        if page.next is None:
            break
        before = page.next

    assert seen == newest_first
    first = backend.list_jobs(JobQuery(limit=3))
    assert first.next == newest_first[2]
    assert backend.list_jobs(JobQuery(limit=7)).next is None


def test_list_jobs_filters(backend: Backend) -> None:
    add_node(backend, "n1", slots=5)
    add_node(backend, "n2", slots=5)
    on_n1 = backend.claim(make_job(kind="tts"), ["n1"], NOW).job
    on_n2 = backend.claim(make_job(kind="asr"), ["n2"], NOW).job
    waiting = backend.claim(make_job("find-me", kind="asr"), [], NOW).job
    backend.report(report(on_n2, "started"), NOW)

    def ids(**filters: object) -> list[str]:
        return [job.job_id for job in backend.list_jobs(JobQuery.model_validate(filters)).jobs]

    assert ids(state="pending") == [waiting.job_id]
    assert ids(state="running") == [on_n2.job_id]
    assert ids(node_id="n1") == [on_n1.job_id]
    assert ids(kind="asr") == [waiting.job_id, on_n2.job_id]
    assert ids(kind="asr", state="running") == [on_n2.job_id]
    assert ids(search="find-me") == [waiting.job_id]
    assert ids(search=on_n1.job_id) == [on_n1.job_id]
    assert ids(search="nothing") == []
    assert ids(kind="nmt") == []


def test_filtered_pages_continue_where_the_last_stopped(backend: Backend) -> None:
    ids = [
        backend.claim(make_job(kind="odd" if i % 2 else "even"), [], NOW).job.job_id
        for i in range(9)
    ]
    odd = [job_id for i, job_id in enumerate(ids) if i % 2][::-1]

    first = backend.list_jobs(JobQuery(kind="odd", limit=3))
    rest = backend.list_jobs(JobQuery(kind="odd", limit=3, before=first.next))

    assert [j.job_id for j in first.jobs] == odd[:3]
    assert [j.job_id for j in rest.jobs] == odd[3:]
    assert rest.next is None


def test_stats_count_states_backlog_and_counters(backend: Backend) -> None:
    add_node(backend, "n1", slots=2)
    done = backend.claim(make_job(), ["n1"], NOW).job
    backend.claim(make_job(), ["n1"], NOW)
    backend.claim(make_job(), [], NOW)
    backend.report(report(done, "succeeded", result=1), NOW)
    backend.count({"no_node:full": 2, "hist:wait:0.5": 1, "hist:wait:sum": 0.25})
    backend.count({"hist:wait:sum": 0.5})

    stats = backend.stats()

    assert {s: stats.states.get(s, 0) for s in ("pending", "assigned", "succeeded")} == {
        "pending": 1,
        "assigned": 1,
        "succeeded": 1,
    }
    assert stats.states.get("running", 0) == 0
    assert stats.backlog == 1
    assert stats.counters["no_node:full"] == 2
    assert stats.counters["hist:wait:sum"] == 0.75
    assert (stats.counters["created"], stats.counters["ended:succeeded"]) == (3, 1)


def test_expire_drops_final_jobs_after_the_retention(make_backend: MakeBackend) -> None:
    backend = make_backend(retention_s=100.0)
    add_node(backend, "n1")
    job = backend.claim(make_job("r1"), ["n1"], NOW).job
    waiting = backend.claim(make_job(), [], NOW).job
    backend.report(report(job, "succeeded", result=1), NOW + 10)

    assert backend.expire(NOW + 109) == 0
    assert backend.get_job(job.job_id) is not None

    assert backend.expire(NOW + 111) == 1
    assert backend.get_job(job.job_id) is None
    assert backend.get_job(waiting.job_id) == waiting
    assert [j.job_id for j in backend.list_jobs(JobQuery()).jobs] == [waiting.job_id]
    assert backend.stats().states.get("succeeded", 0) == 0
    assert backend.expire(NOW + 10_000) == 0

    again = backend.claim(make_job("r1"), ["n1"], NOW + 112)
    assert again.outcome == "created"
    assert again.job.job_id != job.job_id


def test_within_the_retention_a_final_job_still_binds_its_request(
    make_backend: MakeBackend,
) -> None:
    backend = make_backend(retention_s=100.0)
    job = backend.claim(make_job("r1"), [], NOW).job
    backend.cancel(job.job_id, NOW + 1)
    backend.expire(NOW + 50)

    repeat = backend.claim(make_job("r1"), [], NOW + 50)

    assert (repeat.outcome, repeat.job.job_id) == ("existing", job.job_id)
    assert repeat.job.state is JobState.CANCELLED


def test_leases_are_exclusive_renewable_and_expire(backend: Backend) -> None:
    assert backend.try_lease("sweeper", "a", 10.0, NOW)
    assert not backend.try_lease("sweeper", "b", 10.0, NOW + 5)
    assert backend.try_lease("sweeper", "a", 10.0, NOW + 8)
    assert not backend.try_lease("sweeper", "b", 10.0, NOW + 15)
    assert backend.try_lease("other", "b", 10.0, NOW + 15)

    assert backend.try_lease("sweeper", "b", 10.0, NOW + 19)
    assert not backend.try_lease("sweeper", "a", 10.0, NOW + 20)
