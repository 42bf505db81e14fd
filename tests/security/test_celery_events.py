"""Celery events (what Flower shows) name tasks and jobs, never payloads or results."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_cross_instance import cross_cluster
from tests.support.cluster import Cluster, wait_for
from tests.support.services import MAIN_REDIS, delete_prefix

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

SECRET = "payload-s3cret-never-in-events"


class EventLog(threading.Thread):
    """Collects every Celery event of the cluster's broker until stopped."""

    def __init__(self, cluster: Cluster) -> None:
        super().__init__(name="event-log", daemon=True)
        self.cluster = cluster
        self.events: list[dict[str, Any]] = []
        self.ready = threading.Event()
        self.receiver: Any = None

    def run(self) -> None:
        app = self.cluster.celery
        with app.connection_for_read() as connection:
            self.receiver = app.events.Receiver(connection, handlers={"*": self.events.append})
            self.ready.set()
            self.receiver.capture(limit=None, timeout=None, wakeup=False)

    def stop(self) -> None:
        if self.receiver is not None:
            self.receiver.should_stop = True
        self.join(10)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    made = cross_cluster(tmp_path)
    yield made
    made.stop()
    delete_prefix(MAIN_REDIS, made.settings.key_prefix)


def test_task_events_carry_no_payload_and_no_result(cluster: Cluster) -> None:
    cluster.start_scheduler("s1", "--concurrency", "1")
    cluster.start_node("n1", slots=1)
    cluster.wait_nodes("n1")
    log = EventLog(cluster)
    log.start()
    assert log.ready.wait(10)

    request = {"request_id": "evt-1", "kind": "echo", "payload": {"token": SECRET}}
    job = cluster.client.submit(request).job
    done = cluster.client.wait_job(job.job_id, timeout_s=60)
    assert done.result == {"token": SECRET}

    def succeeded() -> list[dict[str, Any]]:
        found = [e for e in log.events if e["type"] == "task-succeeded"]
        return found if len(found) >= 3 else []  # create_job, run_job, the reports

    wait_for(succeeded, 30, "task-succeeded events")
    log.stop()
    seen = json.dumps(log.events)
    assert SECRET not in seen
    assert job.job_id in seen
