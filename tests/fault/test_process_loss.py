"""Processes lost on purpose (kill -9, SIGSTOP) in cross-instance mode: nothing is lost,
nothing is created twice, no node runs over its slots, and old attempts change nothing."""

from __future__ import annotations

import os
import signal
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import redis

from app.backends.base import BackendOptions
from app.backends.redis import RedisBackend
from app.models import JobState
from tests.fault.conftest import MakeCluster
from tests.support.cluster import Cluster, Proc, wait_for
from tests.support.faults import (
    IGNORED,
    TIMED,
    Expect,
    SlotWatch,
    check_answers,
    check_final_state,
    check_peaks,
    kill_tree,
    stream_plan,
)
from tests.support.services import MAIN_REDIS, PrivateRedis
from tests.support.stream import RequestStream

pytestmark = [pytest.mark.fault, pytest.mark.e2e, pytest.mark.redis]


def state_of(cluster: Cluster) -> RedisBackend:
    options = BackendOptions(key_prefix=cluster.settings.key_prefix)
    return RedisBackend.from_url(cluster.settings.redis, options)


def wait_ready(*schedulers: Proc) -> None:
    for proc in schedulers:
        wait_for(partial(is_ready, proc), 60, f"{proc.name} to be ready")


def is_ready(proc: Proc) -> bool:
    return "scheduler ready" in proc.output()


def is_running(backend: RedisBackend, job_id: str) -> bool:
    job = backend.get_job(job_id)
    return job is not None and job.state is JobState.RUNNING


def start_nodes(cluster: Cluster, slots: dict[str, int]) -> dict[str, Proc]:
    nodes = {
        node_id: cluster.start_node(node_id, n, handlers=(TIMED,)) for node_id, n in slots.items()
    }
    cluster.wait_nodes(*slots)
    return nodes


class Rig(NamedTuple):
    """A cross-instance cluster under test: where node runs are logged, its processes,
    its state store and a watch over every node's slots."""

    runs: Path
    schedulers: list[Proc]
    nodes: dict[str, Proc]
    backend: RedisBackend
    watch: SlotWatch


def start_rig(
    cluster: Cluster, tmp_path: Path, slots: dict[str, int], schedulers: tuple[str, ...] = ("s1",)
) -> Rig:
    runs = tmp_path / "runs"
    runs.mkdir()
    procs = [cluster.start_scheduler(name, "--concurrency", "2") for name in schedulers]
    nodes = start_nodes(cluster, slots)
    wait_ready(*procs)
    backend = state_of(cluster)
    watch = SlotWatch(backend)
    watch.start()
    return Rig(runs, procs, nodes, backend, watch)


def with_nodes(expect: Expect, nodes: dict[str, Proc], slots: dict[str, int]) -> Expect:
    expect.node_pids = {node_id: {proc.popen.pid} for node_id, proc in nodes.items()}
    expect.node_slots = dict(slots)
    return expect


def test_a_scheduler_killed_mid_stream_loses_no_request_and_creates_nothing_twice(
    make_cluster: MakeCluster, tmp_path: Path
) -> None:
    cluster = make_cluster()
    slots = {"n1": 3, "n2": 3}
    runs, (doomed, survivor), nodes, backend, watch = start_rig(
        cluster, tmp_path, slots, schedulers=("s1", "s2")
    )

    requests = stream_plan(unique=600, repeats=200, conflicts=20, log_dir=runs)
    stream = RequestStream(cluster.celery, requests, rate_per_s=150)
    stream.start()
    wait_for(lambda: backend.stats().counters.get("created", 0) >= 200, 30, "200 creations")
    assert "created" in doomed.output()
    kill_tree(doomed)
    assert stream.sent < len(requests), "the scheduler died after the stream had ended"

    answers = stream.answers(timeout_s=60)
    expect = with_nodes(check_answers(requests, answers), nodes, slots)
    wait_for(lambda: backend.stats().states.get("succeeded", 0) == 600, 60, "600 jobs to succeed")
    watch.stop()
    check_final_state(backend, expect, [doomed.output(), survivor.output()])
    check_peaks(runs, expect)
    assert watch.samples > 100 and watch.over == [] and watch.negative == []
    assert backend.stats().counters["conflicts"] >= 1


def test_a_killed_node_agents_running_jobs_run_again_elsewhere_and_succeed(
    make_cluster: MakeCluster, tmp_path: Path
) -> None:
    cluster = make_cluster()
    slots = {"doomed": 2, "spare": 2}
    runs, (scheduler,), nodes, backend, watch = start_rig(cluster, tmp_path, slots)

    def timed(rid: str, seconds: float, **extra: object) -> dict[str, object]:
        payload = {"seconds": seconds, "dir": str(runs)}
        return {"request_id": rid, "kind": "timed", "payload": payload, **extra}

    doomed_jobs = [
        cluster.client.submit(timed(f"k-{i}", 2.0, preferred_node="doomed")) for i in range(2)
    ]
    assert {c.job.node_id for c in doomed_jobs} == {"doomed"}
    for item in doomed_jobs:
        wait_for(partial(is_running, backend, item.job.job_id), 30, "a job to start on doomed")
    background = [timed(f"bg-{i}", 0.05) for i in range(40)]
    stream = RequestStream(cluster.celery, background, rate_per_s=40)
    stream.start()
    kill_tree(nodes["doomed"])

    answers = stream.answers(timeout_s=60)
    expect = with_nodes(check_answers(background, answers), nodes, slots)
    for item in doomed_jobs:
        final = cluster.client.wait_job(item.job.job_id, timeout_s=60)
        assert final.state is JobState.SUCCEEDED
        assert (final.node_id, final.attempt, final.tried_nodes) == ("spare", 2, ["doomed"])
        assert final.result["pid"] == nodes["spare"].popen.pid
        expect.unique.add(final.request_id)
        expect.job_of[final.request_id] = final.job_id
        expect.body_of[final.request_id] = timed(final.request_id, 2.0)
    wait_for(lambda: backend.stats().states.get("succeeded", 0) == 42, 60, "42 jobs to succeed")
    watch.stop()
    check_final_state(backend, expect, [scheduler.output()])
    check_peaks(runs, expect)
    assert watch.over == [] and watch.negative == []


def test_a_node_agent_restarted_at_once_gets_its_running_jobs_requeued(
    make_cluster: MakeCluster, tmp_path: Path
) -> None:
    # The node comes back long before it could be declared lost, as under systemd.
    cluster = make_cluster(JOBRELAY_NODE_TIMEOUT_S="120")
    slots = {"doomed": 2, "spare": 2}
    runs, (scheduler,), nodes, backend, watch = start_rig(cluster, tmp_path, slots)
    requests = [
        {
            "request_id": f"rs-{i}",
            "kind": "timed",
            "preferred_node": "doomed",
            "payload": {"seconds": 2.0, "dir": str(runs)},
        }
        for i in range(2)
    ]
    ids = [cluster.client.submit(request).job.job_id for request in requests]
    for job_id in ids:
        wait_for(partial(is_running, backend, job_id), 30, "a job to start on doomed")

    argv = [str(arg) for arg in nodes["doomed"].popen.args]  # type: ignore[union-attr]
    kill_tree(nodes["doomed"])
    cluster.spawn("node-doomed-again", argv)

    for job_id in ids:
        final = cluster.client.wait_job(job_id, timeout_s=60)
        assert final.state is JobState.SUCCEEDED
        assert (final.node_id, final.attempt, final.tried_nodes) == ("spare", 2, ["doomed"])
    doomed = next(n for n in backend.nodes() if n.node_id == "doomed")
    assert (doomed.restarts, doomed.status, doomed.running) == (1, "alive", 0)
    watch.stop()
    assert watch.over == [] and watch.negative == []
    assert scheduler.popen.poll() is None


def test_a_running_job_whose_report_was_lost_runs_again(
    make_cluster: MakeCluster, tmp_path: Path
) -> None:
    broker = PrivateRedis(tmp_path / "broker", appendonly=False)
    broker.start()
    try:
        cluster = make_cluster(JOBRELAY_BROKER_URL=broker.url, JOBRELAY_RESULT_URL=MAIN_REDIS)
        slots = {"n1": 1, "n2": 1}
        runs, (scheduler,), nodes, backend, watch = start_rig(cluster, tmp_path, slots)
        payload = {"seconds": 1.5, "dir": str(runs)}
        request = {"request_id": "lost", "kind": "timed", "preferred_node": "n1"}
        job_id = cluster.client.submit({**request, "payload": payload}).job.job_id
        wait_for(partial(is_running, backend, job_id), 30, "the job to start on n1")

        # No scheduler reads the queue while the job ends; its report is then dropped.
        kill_tree(scheduler)
        wait_for(lambda: f"job {job_id}: succeeded" in nodes["n1"].output(), 30, "the run")
        assert drop_scheduler_messages(broker) >= 1
        cluster.start_scheduler("s2", "--concurrency", "2")

        final = cluster.client.wait_job(job_id, timeout_s=60)
        assert final.state is JobState.SUCCEEDED
        assert (final.node_id, final.attempt, final.tried_nodes) == ("n2", 2, ["n1"])
        lost = "requeued after attempt 1: node n1 no longer runs it and sent no report"
        assert f"job {job_id}: {lost}" in nodes["n1"].output()
        watch.stop()
        assert watch.over == [] and watch.negative == []
    finally:
        broker.kill()


def drop_scheduler_messages(broker: PrivateRedis) -> int:
    """Delete every message waiting in the scheduler queue of the test's own broker."""
    client = redis.Redis.from_url(broker.url)
    try:
        queues = [
            key
            for key in client.scan_iter(count=500)
            if client.type(key) == b"list" and b"jobrelay.node." not in key
        ]
        waiting = sum(client.llen(key) for key in queues)
        if queues:
            client.delete(*queues)
        return waiting
    finally:
        client.close()


def test_a_stale_node_that_wakes_up_changes_nothing(
    make_cluster: MakeCluster, tmp_path: Path
) -> None:
    cluster = make_cluster()
    slots = {"stale": 2, "fresh": 2}
    runs, (scheduler,), nodes, backend, watch = start_rig(cluster, tmp_path, slots)
    stale_pid = nodes["stale"].popen.pid

    requests: list[dict[str, Any]] = [
        {
            "request_id": f"st-{i}",
            "kind": "timed",
            "preferred_node": "stale",
            "payload": {"seconds": 3.0, "dir": str(runs)},
        }
        for i in range(2)
    ]
    created = [cluster.client.submit(request) for request in requests]
    assert {c.job.node_id for c in created} == {"stale"}
    ids = [c.job.job_id for c in created]
    for job_id in ids:
        wait_for(partial(is_running, backend, job_id), 30, "a job to start on the stale node")
    os.kill(stale_pid, signal.SIGSTOP)
    try:

        def moved() -> bool:
            jobs = [backend.get_job(job_id) for job_id in ids]
            return all(
                j is not None and (j.node_id, j.attempt, j.state) == ("fresh", 2, "running")
                for j in jobs
            )

        # The node timeout is 3 s (tests.support.cluster.FAST): its jobs move while it sleeps.
        wait_for(moved, 30, "both jobs to run again on the fresh node")
    finally:
        os.kill(stale_pid, signal.SIGCONT)

    def late_reports_ignored() -> bool:
        found = {(j, int(a), n) for j, a, n in IGNORED.findall(scheduler.output())}
        return all((job_id, 1, "stale") in found for job_id in ids)

    wait_for(late_reports_ignored, 30, "the stale node's reports to be ignored")
    finals = [cluster.client.wait_job(job_id, timeout_s=60) for job_id in ids]
    for final in finals:
        assert final.state is JobState.SUCCEEDED
        assert (final.node_id, final.attempt, final.tried_nodes) == ("fresh", 2, ["stale"])
        assert final.result["pid"] == nodes["fresh"].popen.pid
    cluster.wait_nodes("stale")
    watch.stop()

    expect = with_nodes(Expect(unique={r["request_id"] for r in requests}), nodes, slots)
    expect.job_of = {f.request_id: f.job_id for f in finals}
    expect.body_of = {r["request_id"]: r for r in requests}
    check_final_state(backend, expect, [scheduler.output()])
    check_peaks(runs, expect)
    assert watch.over == [] and watch.negative == []
    stale_runs = (runs / f"{stale_pid}.log").read_text().splitlines()
    assert len(stale_runs) == 2, "the stale node finished its old attempts, which changed nothing"
