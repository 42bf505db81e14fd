"""Cross-instance mode with real processes: several schedulers and producers on one Redis."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.backends.base import BackendOptions, JobQuery
from app.backends.redis import RedisBackend
from app.models import JobState
from tests.support.cluster import Cluster, wait_for
from tests.support.services import MAIN_REDIS, RabbitVhost, delete_prefix, new_prefix

pytestmark = [pytest.mark.e2e, pytest.mark.redis]


def cross_cluster(root: Path, **env: str) -> Cluster:
    overrides = {
        "JOBRELAY_MODE": "cross_instance",
        "JOBRELAY_REDIS_URL": MAIN_REDIS,
        "JOBRELAY_KEY_PREFIX": new_prefix(),
        **env,
    }
    return Cluster(root, overrides)


@pytest.fixture
def redis_cluster(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    made = cross_cluster(tmp_path)
    yield made
    made.stop()
    if getattr(request.node, "rep_call", None) and request.node.rep_call.failed:
        print(made.dump_logs())
    delete_prefix(MAIN_REDIS, made.settings.key_prefix)


class SlotWatch(threading.Thread):
    """Samples every node's slot counts from Redis while a test runs."""

    def __init__(self, backend: RedisBackend) -> None:
        super().__init__(daemon=True)
        self.backend = backend
        self.stopping = threading.Event()
        self.samples = 0
        self.over: list[tuple[str, int, int]] = []

    def run(self) -> None:
        while not self.stopping.wait(0.005):
            for node in self.backend.nodes():
                self.samples += 1
                if node.running + node.reserved > node.slots:
                    self.over.append((node.node_id, node.running + node.reserved, node.slots))


@pytest.mark.timeout(600)
def test_a_storm_across_schedulers_and_producers_makes_one_job_per_request(
    redis_cluster: Cluster, tmp_path: Path
) -> None:
    cluster = redis_cluster
    for name in ("s1", "s2", "s3"):
        cluster.start_scheduler(name, "--concurrency", "2")
    for node_id in ("n1", "n2", "n3"):
        cluster.start_node(node_id, slots=6)
    cluster.wait_nodes("n1", "n2", "n3")
    backend = RedisBackend.from_url(
        MAIN_REDIS, BackendOptions(key_prefix=cluster.settings.key_prefix)
    )
    watch = SlotWatch(backend)
    watch.start()

    unique = [f"storm-{i}" for i in range(3500)]
    rng = random.Random(11)
    stream = [*unique, *(rng.choice(unique) for _ in range(1500))]
    rng.shuffle(stream)
    producers = []
    for index in range(4):
        plan = tmp_path / f"plan-{index}.json"
        plan.write_text(
            json.dumps({"ids": stream[index::4], "out": str(tmp_path / f"out-{index}")})
        )
        producers.append(
            subprocess.Popen(
                [sys.executable, "-m", "tests.support.producer", str(plan)], env=cluster.env
            )
        )
    for producer in producers:
        assert producer.wait(600) == 0

    answers = [
        json.loads(line)
        for index in range(4)
        for line in (tmp_path / f"out-{index}").read_text().splitlines()
    ]
    assert len(answers) == 5000
    created = [a for a in answers if a["created"]]
    assert len(created) == 3500
    assert len({a["request_id"] for a in created}) == 3500
    first = {a["request_id"]: a["job_id"] for a in created}
    assert all(a["job_id"] == first[a["request_id"]] for a in answers)

    def all_done() -> bool:
        states = backend.stats().states
        return states.get("succeeded", 0) == 3500

    wait_for(all_done, 300, "all 3,500 jobs to succeed", every_s=0.5)
    watch.stopping.set()
    watch.join()
    assert watch.samples > 100
    assert watch.over == []
    stats = backend.stats()
    assert stats.counters["created"] == 3500
    assert stats.counters["repeats"] == 1500
    page = backend.list_jobs(JobQuery(limit=1000))
    assert len({job.request_id for job in page.jobs}) == len(page.jobs)


@pytest.mark.parametrize("broker", ["redis", pytest.param("rabbitmq", marks=pytest.mark.rabbitmq)])
def test_jobs_run_end_to_end_on_either_broker(tmp_path: Path, broker: str) -> None:
    vhost = RabbitVhost.create() if broker == "rabbitmq" else None
    env = {"JOBRELAY_BROKER_URL": vhost.url} if vhost else {}
    cluster = cross_cluster(tmp_path, **env)
    try:
        cluster.start_scheduler("s1", "--concurrency", "2")
        cluster.start_node("n1", slots=2)
        cluster.start_node("n2", slots=2)
        cluster.wait_nodes("n1", "n2")
        created = [
            cluster.client.submit(
                {"request_id": f"b-{i}", "kind": "sleep", "payload": {"seconds": 0.05}}
            )
            for i in range(30)
        ]
        for item in created:
            job = cluster.client.wait_job(item.job.job_id, timeout_s=60)
            assert job.state is JobState.SUCCEEDED
            assert job.result == {"slept_s": 0.05}
        nodes = {job.node_id for job in cluster.client.reader.list_jobs(JobQuery()).jobs}
        assert nodes == {"n1", "n2"}
    finally:
        cluster.stop()
        delete_prefix(MAIN_REDIS, cluster.settings.key_prefix)
        if vhost:
            vhost.remove()


def test_scheduler_workers_show_who_sweeps_and_say_when_they_stop(redis_cluster: Cluster) -> None:
    first = redis_cluster.start_scheduler("s1", "--concurrency", "2")
    redis_cluster.start_scheduler("s2", "--concurrency", "2")
    reader = redis_cluster.client.reader

    def both() -> list[str]:
        names = sorted(worker.name.split("@")[0] for worker in reader.schedulers())
        return names if names == ["s1", "s2"] else []

    wait_for(both, 60, "both schedulers to describe themselves")
    workers = reader.schedulers()
    assert {(w.mode, w.pool, w.concurrency) for w in workers} == {("cross_instance", "prefork", 2)}
    assert wait_for(lambda: sum(w.sweeping for w in reader.schedulers()) == 1, 30, "one sweeper")

    first.terminate()
    stopped = wait_for(
        lambda: [w.name for w in reader.schedulers() if w.stopped], 30, "s1 to say it stopped"
    )
    assert [name.split("@")[0] for name in stopped] == ["s1"]
