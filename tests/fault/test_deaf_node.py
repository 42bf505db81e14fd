"""A node agent whose queue stops delivering (the worker lives, its consumer hears nothing)
notices it by probing its own queue, finishes its jobs and exits for its supervisor to
restart it; a node busy on every slot is never judged deaf."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from app.models import JobState
from tests.fault.conftest import MakeCluster
from tests.fault.test_process_loss import start_rig
from tests.support.cluster import wait_for
from tests.support.faults import Supervisor

pytestmark = [pytest.mark.fault, pytest.mark.e2e, pytest.mark.redis]

LISTEN_TIMEOUT_S = 3.0
STALLED = "the broker connection stalled"


def echo(request_id: str) -> dict[str, object]:
    return {"request_id": request_id, "kind": "echo", "payload": {"n": request_id}}


def test_a_node_whose_queue_stops_delivering_restarts_and_runs_what_waited(
    make_cluster: MakeCluster, tmp_path: Path
) -> None:
    cluster = make_cluster(JOBRELAY_LISTEN_TIMEOUT_S=str(LISTEN_TIMEOUT_S))
    supervisor = Supervisor(cluster)
    try:
        _, _, nodes, backend, watch = start_rig(cluster, tmp_path, {"n1": 2})
        first = nodes["n1"]
        wait_for(lambda: "n1@" in first.output() and "ready" in first.output(), 30, "n1 ready")
        supervisor.start()
        # The worker stays up and keeps heartbeating, but takes nothing from its queue:
        # what a consumer that failed to listen again after a broker restart looks like.
        replies = cluster.celery.control.cancel_consumer(
            "jobrelay.node.n1", destination=[f"n1@{socket.gethostname()}"], reply=True
        )
        assert replies, "the node did not answer the cancel_consumer command"

        created = [cluster.client.submit(echo(f"deaf-{i}")) for i in range(10)]
        ids = [c.job.job_id for c in created]

        def all_succeeded() -> bool:
            jobs = [backend.get_job(job_id) for job_id in ids]
            return all(job is not None and job.state is JobState.SUCCEEDED for job in jobs)

        wait_for(all_succeeded, 60, "the jobs that waited in n1's queue to succeed")
        watch.stop()
        assert first.popen.returncode == 75
        assert STALLED in first.output()
        assert supervisor.restarted == ["node-n1"]
        assert watch.over == [] and watch.negative == []
    finally:
        supervisor.stop()


def test_a_node_busy_on_every_slot_is_not_judged_deaf(
    make_cluster: MakeCluster, tmp_path: Path
) -> None:
    cluster = make_cluster(JOBRELAY_LISTEN_TIMEOUT_S=str(LISTEN_TIMEOUT_S))
    _, _, nodes, backend, watch = start_rig(cluster, tmp_path, {"n1": 1})
    busy = 4 * LISTEN_TIMEOUT_S
    job = cluster.client.submit(
        {"request_id": "busy", "kind": "sleep", "payload": {"seconds": busy}}
    ).job
    waited = cluster.client.submit(echo("behind-busy")).job

    final = cluster.client.wait_job(waited.job_id, timeout_s=busy + 30)
    time.sleep(LISTEN_TIMEOUT_S * 2)  # quiet, with a free slot: probes must be heard

    assert final.state is JobState.SUCCEEDED
    assert backend.get_job(job.job_id).state is JobState.SUCCEEDED  # type: ignore[union-attr]
    assert nodes["n1"].popen.poll() is None
    assert STALLED not in nodes["n1"].output()
    watch.stop()
