"""Servers stopped mid-stream: the state store (a persistent private Redis) and the broker."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fault.conftest import MakeCluster
from tests.fault.test_process_loss import start_rig, with_nodes
from tests.support.cluster import wait_for
from tests.support.faults import (
    Supervisor,
    check_answers,
    check_final_state,
    check_peaks,
    stream_plan,
)
from tests.support.services import MAIN_REDIS, PrivateRedis
from tests.support.stream import RequestStream

pytestmark = [pytest.mark.fault, pytest.mark.e2e, pytest.mark.redis]

OUTAGE_S = 5.0
OUTAGE_LOGGED = "the state store unavailable"


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "private-redis")
    server.start()
    yield server
    server.kill()


def test_a_state_store_outage_mid_stream_loses_nothing_and_is_logged_once(
    make_cluster: MakeCluster, private_redis: PrivateRedis, tmp_path: Path
) -> None:
    cluster = make_cluster(
        JOBRELAY_REDIS_URL=private_redis.url,
        JOBRELAY_BROKER_URL=MAIN_REDIS,
        JOBRELAY_RESULT_URL=MAIN_REDIS,
        JOBRELAY_NODE_TIMEOUT_S="10",
        JOBRELAY_REDIS_TIMEOUT_S="1",
    )
    slots = {"n1": 2, "n2": 2}
    runs, (scheduler,), nodes, backend, watch = start_rig(cluster, tmp_path, slots)

    requests = stream_plan(unique=300, repeats=80, conflicts=10, log_dir=runs)
    stream = RequestStream(cluster.celery, requests, rate_per_s=40)
    stream.start()
    wait_for(lambda: backend.stats().counters.get("created", 0) >= 60, 30, "60 creations")
    private_redis.stop()
    sent_before = stream.sent
    time.sleep(OUTAGE_S)  # the outage, held open for its stated length
    sent_during = stream.sent - sent_before
    private_redis.start()

    answers = stream.answers(timeout_s=75)
    expect = with_nodes(check_answers(requests, answers), nodes, slots)
    wait_for(lambda: backend.stats().states.get("succeeded", 0) == 300, 60, "300 jobs to succeed")
    watch.stop()
    check_final_state(backend, expect, [scheduler.output()])
    check_peaks(runs, expect)
    assert watch.over == [] and watch.negative == []

    # One line per scheduler process (2 pool processes and the sweep), not one per request.
    log = scheduler.output()
    assert sent_during >= 100
    assert 1 <= log.count(OUTAGE_LOGGED) <= 3, log.count(OUTAGE_LOGGED)
    assert "the state store available again" in log
    assert scheduler.popen.poll() is None


def test_a_broker_restart_mid_stream_loses_nothing(
    make_cluster: MakeCluster, tmp_path: Path
) -> None:
    broker = PrivateRedis(tmp_path / "broker")
    broker.start()
    cluster = make_cluster(
        JOBRELAY_BROKER_URL=broker.url,
        JOBRELAY_RESULT_URL=MAIN_REDIS,
        JOBRELAY_LISTEN_TIMEOUT_S="5",
    )
    supervisor = Supervisor(cluster)
    try:
        slots = {"n1": 2, "n2": 2}
        runs, _, nodes, backend, watch = start_rig(cluster, tmp_path, slots)
        supervisor.start()

        requests = stream_plan(unique=300, repeats=80, conflicts=10, log_dir=runs)
        stream = RequestStream(cluster.celery, requests, rate_per_s=50)
        stream.start()
        wait_for(lambda: backend.stats().counters.get("created", 0) >= 60, 30, "60 creations")
        broker.stop()
        time.sleep(2.0)  # the broker stays down this long
        broker.start()

        answers = stream.answers(timeout_s=60)
        expect = with_nodes(check_answers(requests, answers), nodes, slots)
        wait_for(
            lambda: backend.stats().states.get("succeeded", 0) == 300, 60, "300 jobs to succeed"
        )
        watch.stop()
        supervisor.stop()
        expect.node_pids = {n: supervisor.pids[f"node-{n}"] for n in slots}
        logs = [path.read_text() for path in cluster.root.glob("s1*.log")]
        check_final_state(backend, expect, logs)
        check_peaks(runs, expect)
        assert watch.over == [] and watch.negative == []
        # A Celery worker on the Redis transport may exit on a broker restart (kombu
        # "Unrecoverable error" while restoring unacknowledged messages), and a node whose
        # consumer stopped listening exits on its own; the supervisor stands in for systemd
        # or a container runtime. Which processes it restarted:
        print("restarted after the broker restart:", supervisor.restarted or "none")
    finally:
        supervisor.stop()
        broker.kill()
