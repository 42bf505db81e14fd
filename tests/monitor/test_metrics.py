"""/metrics in Prometheus text format, built from the stats and nodes on each scrape."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.backends.base import Stats
from app.monitor.server import create_app
from app.scheduler_workers import offline_after_s
from app.settings import Settings
from tests.monitor.support import Cluster

LabelSets = dict[str, set[tuple[tuple[str, str], ...]]]


def scrape(http: TestClient) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    answer = http.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[labels] = sample.value
    return samples


def label_sets(samples: dict[str, dict[tuple[tuple[str, str], ...], float]]) -> LabelSets:
    return {name: set(values) for name, values in samples.items()}


def run_jobs(cluster: Cluster, prefix: str, count: int) -> None:
    for n in range(count):
        job = cluster.submit(f"{prefix}-{n}", affinity_key=f"session-{prefix}-{n}")
        if job.node_id is None:
            continue
        cluster.report(job, "started")
        cluster.report(job, "succeeded" if n % 2 else "failed", error="boom", result=None)


def test_metrics_follow_the_stats(http: TestClient, cluster: Cluster) -> None:
    cluster.node("gpu-1", slots=2)
    cluster.node("gpu-2", slots=1, incarnation="first")
    cluster.node("gpu-2", slots=1, incarnation="second")
    run_jobs(cluster, "a", 6)
    cluster.submit("pending", requires=["tts:zh"])
    body = {"request_id": "a-0", "kind": "sleep"}
    assert http.post("/api/jobs", json=body).status_code == 409

    metrics = scrape(http)

    assert metrics["jobrelay_up"][()] == 1
    assert metrics["jobrelay_jobs_created_total"][()] == 7
    assert metrics["jobrelay_conflicts_total"][()] == 1
    assert metrics["jobrelay_jobs_ended_total"][(("state", "succeeded"),)] == 3
    assert metrics["jobrelay_jobs_ended_total"][(("state", "failed"),)] == 3
    assert metrics["jobrelay_jobs"][(("state", "pending"),)] == 1
    assert metrics["jobrelay_backlog"][()] == 1
    assert metrics["jobrelay_no_node_total"][(("reason", "lack capability"),)] == 1
    assert metrics["jobrelay_nodes"][(("status", "alive"),)] == 2
    assert metrics["jobrelay_node_slots_free"][(("node_id", "gpu-1"),)] == 2
    assert metrics["jobrelay_node_restarts_total"][(("node_id", "gpu-1"),)] == 0
    assert metrics["jobrelay_node_restarts_total"][(("node_id", "gpu-2"),)] == 1
    assert metrics["jobrelay_job_run_seconds_count"][()] == 6
    assert metrics["jobrelay_job_wait_seconds_bucket"][(("le", "+Inf"),)] == 6
    assert metrics["jobrelay_selection_seconds_bucket"][(("le", "+Inf"),)] == 7
    assert metrics["jobrelay_selection_seconds_count"][()] == 7
    assert 0 < metrics["jobrelay_selection_seconds_sum"][()] < 7


def test_scheduler_workers_are_counted_by_status_and_never_named(
    http: TestClient, cluster: Cluster, settings: Settings
) -> None:
    assert scrape(http)["jobrelay_scheduler_workers"] == {
        (("status", "alive"),): 0,
        (("status", "offline"),): 0,
        (("status", "stopped"),): 0,
    }
    silent = time.time() - offline_after_s(settings) - 2
    cluster.scheduler_worker("sched-a@host-a", pid=97531, sweeping=True)
    cluster.scheduler_worker("sched-b@host-a", pid=97532)
    cluster.scheduler_worker("sched-c@host-b", pid=97533, last_seen=silent)
    cluster.scheduler_worker("sched-d@host-b", pid=97534, stopped=True)

    metrics = scrape(http)
    text = http.get("/metrics").text

    assert metrics["jobrelay_scheduler_workers"] == {
        (("status", "alive"),): 2,
        (("status", "offline"),): 1,
        (("status", "stopped"),): 1,
    }
    assert "sched-" not in text
    assert "9753" not in text


def test_histogram_buckets_are_cumulative(http: TestClient, cluster: Cluster) -> None:
    cluster.backend.count({"hist:run_s:0.1": 2, "hist:run_s:5.0": 3, "hist:run_s:+Inf": 1})
    cluster.backend.count({"hist:run_s:count": 6, "hist:run_s:sum": 900.0})

    buckets = scrape(http)["jobrelay_job_run_seconds_bucket"]

    assert buckets[(("le", "0.05"),)] == 0
    assert buckets[(("le", "0.1"),)] == 2
    assert buckets[(("le", "1.0"),)] == 2
    assert buckets[(("le", "5.0"),)] == 5
    assert buckets[(("le", "+Inf"),)] == 6


def test_label_sets_do_not_grow_with_the_number_of_jobs(http: TestClient, cluster: Cluster) -> None:
    cluster.node("gpu-1", slots=2)
    run_jobs(cluster, "few", 10)
    cluster.submit("stuck-0", requires=["tts:zh"])
    before = label_sets(scrape(http))

    run_jobs(cluster, "many", 1000)
    for n in range(1, 50):
        cluster.submit(f"stuck-{n}", requires=["tts:zh"])
    after = scrape(http)

    assert label_sets(after) == before
    assert after["jobrelay_jobs_created_total"][()] == 1060
    names = {name for labels in before.values() for key in labels for name, _ in key}
    assert names <= {"state", "status", "reason", "node_id", "le"}


@pytest.mark.parametrize("read", ["nodes", "schedulers"])
def test_metrics_say_when_the_state_cannot_be_read(
    http: TestClient, cluster: Cluster, read: str
) -> None:
    from app.errors import BackendUnavailable

    def down() -> None:
        raise BackendUnavailable("Redis did not answer")

    setattr(cluster.client.reader, read, down)

    assert scrape(http) == {"jobrelay_up": {(): 0.0}}


def test_building_the_app_reads_nothing(cluster: Cluster, settings: Settings) -> None:
    calls: list[str] = []
    real_stats = cluster.client.reader.stats

    def counting() -> Stats:
        calls.append("stats")
        return real_stats()

    cluster.client.reader.stats = counting  # type: ignore[method-assign]

    create_app(cluster.client, settings)

    assert calls == []
