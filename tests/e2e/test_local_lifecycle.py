"""Jobs running on real node agents in local mode: slots, node death, backlog, failures."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from app.backends.base import JobQuery
from app.models import JobState
from tests.support.cluster import Cluster, wait_for

pytestmark = pytest.mark.e2e

TIMED = "timed=tests.support.handlers:timed_sleep"


def overlaps(log_dir: Path) -> dict[int, int]:
    """The most jobs each node process ran at once, from its start and end times."""
    peaks: dict[int, int] = {}
    for path in log_dir.glob("*.log"):
        events = []
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            events += [(entry["start"], 1), (entry["end"], -1)]
        running = peak = 0
        for _, step in sorted(events, key=lambda event: (event[0], event[1])):
            running += step
            peak = max(peak, running)
        peaks[int(path.stem)] = peak
    return peaks


def test_three_hundred_jobs_succeed_and_no_node_runs_more_than_its_slots(
    cluster: Cluster, tmp_path: Path
) -> None:
    log_dir = tmp_path / "runs"
    log_dir.mkdir()
    cluster.start_scheduler()
    for node_id in ("a", "b", "c"):
        cluster.start_node(node_id, slots=2, handlers=(TIMED,))
    cluster.wait_nodes("a", "b", "c")
    requests = [
        {
            "request_id": f"s-{i}",
            "kind": "timed",
            "payload": {"seconds": 0.02 + (i % 5) * 0.01, "dir": str(log_dir)},
        }
        for i in range(300)
    ]
    answers = []
    for start in range(0, 300, 50):
        answers += cluster.client.submit_many(requests[start : start + 50])
    job_ids = [answer.job.job_id for answer in answers if not isinstance(answer, Exception)]
    assert len(job_ids) == 300

    def finished() -> bool:
        return cluster.client.reader.stats().states["succeeded"] == 300

    wait_for(finished, 240, "300 jobs to succeed", every_s=0.5)
    peaks = overlaps(log_dir)
    assert len(peaks) == 3
    assert all(1 <= peak <= 2 for peak in peaks.values()), peaks
    assert sum(len(p.read_text().splitlines()) for p in log_dir.glob("*.log")) == 300
    per_node = {
        n: len(cluster.client.reader.list_jobs(JobQuery(node_id=n, limit=300)).jobs)
        for n in ("a", "b", "c")
    }
    assert sum(per_node.values()) == 300 and min(per_node.values()) > 0


def test_a_killed_node_loses_its_jobs_to_another_and_its_late_report_is_ignored(
    cluster: Cluster,
) -> None:
    cluster.start_scheduler()
    doomed = cluster.start_node("doomed", slots=2)
    cluster.start_node("spare", slots=2)
    cluster.wait_nodes("doomed", "spare")
    created = [
        cluster.client.submit(
            {
                "request_id": f"k-{i}",
                "kind": "sleep",
                "preferred_node": "doomed",
                "payload": {"seconds": 1.5},
            }
        )
        for i in range(2)
    ]
    assert {c.job.node_id for c in created} == {"doomed"}
    for item in created:
        wait_for(
            lambda item=item: cluster.client.get_job(item.job.job_id).state is JobState.RUNNING,
            30,
            "the job to start on the doomed node",
        )
    doomed.kill9()

    finals = [cluster.client.wait_job(c.job.job_id, timeout_s=60) for c in created]
    for final in finals:
        assert final.state is JobState.SUCCEEDED
        assert (final.node_id, final.attempt, final.tried_nodes) == ("spare", 2, ["doomed"])

    late = {
        "job_id": created[0].job.job_id,
        "attempt": 1,
        "node_id": "doomed",
        "event": "failed",
        "error": "late word from the dead",
    }
    answer = cluster.celery.send_task(
        "jobrelay.report", args=[late], queue="jobrelay", ignore_result=False
    )
    assert answer.get(timeout=30) == "stale"
    again = cluster.client.get_job(created[0].job.job_id)
    assert again == finals[0]


def test_jobs_no_node_can_take_wait_then_run_when_a_capable_node_starts(
    cluster: Cluster,
) -> None:
    cluster.start_scheduler()
    cluster.start_node("plain", slots=1)
    cluster.wait_nodes("plain")
    waiting = cluster.client.submit(
        {
            "request_id": "ja-1",
            "kind": "echo",
            "requires": ["asr:ja"],
            "payload": {"text": "konnichiwa"},
        }
    )
    assert waiting.job.state is JobState.PENDING
    assert waiting.job.explanation == "1 lack asr:ja"
    pending = cluster.client.reader.list_jobs(JobQuery(state=JobState.PENDING)).jobs
    assert [job.job_id for job in pending] == [waiting.job.job_id]

    cluster.start_node("ja", slots=1, capabilities=("asr:ja",))
    final = cluster.client.wait_job(waiting.job.job_id, timeout_s=60)
    assert final.state is JobState.SUCCEEDED
    assert (final.node_id, final.result) == ("ja", {"text": "konnichiwa"})


def test_a_raising_handler_fails_its_job_after_max_attempts_and_the_node_stays_up(
    cluster: Cluster,
) -> None:
    cluster.start_scheduler()
    for node_id in ("x", "y"):
        cluster.start_node(node_id, slots=1, handlers=("boom=tests.support.handlers:boom",))
    cluster.wait_nodes("x", "y")
    failing = cluster.client.submit(
        {"request_id": "boom-1", "kind": "boom", "payload": {"n": 7}, "max_attempts": 3}
    )
    final = cluster.client.wait_job(failing.job.job_id, timeout_s=60)
    assert final.state is JobState.FAILED
    assert final.attempt == 3
    assert final.error is not None and "ValueError: boom 7" in final.error
    after = cluster.client.submit({"request_id": "after-boom", "kind": "echo"}, wait=True)
    assert after.job.state is JobState.SUCCEEDED
    assert all(proc.popen.poll() is None for proc in cluster.procs)


def test_cancel_stops_a_running_job(cluster: Cluster) -> None:
    cluster.start_scheduler()
    cluster.start_node("n", slots=1)
    cluster.wait_nodes("n")
    long = cluster.client.submit(
        {"request_id": "long", "kind": "sleep", "payload": {"seconds": 30}}
    )
    wait_for(
        lambda: cluster.client.get_job(long.job.job_id).state is JobState.RUNNING,
        30,
        "the long job to start",
    )
    assert cluster.client.cancel(long.job.job_id).state is JobState.CANCELLED
    quick = cluster.client.submit({"request_id": "quick", "kind": "echo"}, wait=True, timeout_s=20)
    assert quick.job.state is JobState.SUCCEEDED
    assert cluster.client.get_job(long.job.job_id).state is JobState.CANCELLED


def test_sigterm_drains_a_node_it_finishes_running_jobs_then_leaves(cluster: Cluster) -> None:
    cluster.start_scheduler()
    leaving = cluster.start_node("leaving", slots=1)
    cluster.start_node("staying", slots=1)
    cluster.wait_nodes("leaving", "staying")
    running = cluster.client.submit(
        {
            "request_id": "last-job",
            "kind": "sleep",
            "preferred_node": "leaving",
            "payload": {"seconds": 2},
        }
    )
    assert running.job.node_id == "leaving"
    wait_for(
        lambda: cluster.client.get_job(running.job.job_id).state is JobState.RUNNING,
        30,
        "the job to start",
    )
    leaving.popen.send_signal(signal.SIGTERM)

    def draining() -> bool:
        return any(n.node_id == "leaving" and n.draining for n in cluster.client.reader.nodes())

    wait_for(draining, 15, "the node to say it drains")
    after = cluster.client.submit(
        {"request_id": "after-drain", "kind": "echo", "preferred_node": "leaving"},
        wait=True,
        timeout_s=30,
    )
    assert after.job.node_id == "staying"
    final = cluster.client.wait_job(running.job.job_id, timeout_s=30)
    assert (final.state, final.node_id, final.attempt) == (JobState.SUCCEEDED, "leaving", 1)
    assert leaving.popen.wait(30) == 0
