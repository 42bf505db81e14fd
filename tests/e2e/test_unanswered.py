"""A command that no scheduler took in time is never applied later; schedulers show up."""

from __future__ import annotations

import pytest

from app.backends.base import JobQuery
from app.client import Client
from app.errors import SchedulerUnavailable
from tests.support.cluster import Cluster, wait_for

pytestmark = pytest.mark.e2e


def request(request_id: str) -> dict[str, object]:
    return {"request_id": request_id, "kind": "echo", "payload": {}}


def test_a_submit_no_scheduler_answered_in_time_is_never_created_later(cluster: Cluster) -> None:
    impatient = Client(cluster.settings, cluster.celery, answer_timeout_s=1.0)
    with pytest.raises(SchedulerUnavailable, match="no scheduler answered"):
        impatient.submit(request("told-unavailable"))

    cluster.start_scheduler()
    # Creations are taken in order: once a later one is answered, the earlier one was seen.
    later = wait_for(lambda: cluster.client.submit(request("after-start")), 60, "a creation")

    assert later.created
    created = cluster.client.reader.stats().counters.get("created")
    assert created == 1
    assert cluster.client.reader.list_jobs(JobQuery(search="told-unavailable")).jobs == []


def test_a_local_scheduler_describes_itself(cluster: Cluster) -> None:
    scheduler = cluster.start_scheduler("s1")
    workers = wait_for(cluster.client.reader.schedulers, 60, "the scheduler to describe itself")

    (worker,) = workers
    assert worker.name.startswith("s1@")
    assert (worker.mode, worker.pool, worker.pid) == ("local", "thread", scheduler.popen.pid)
    assert worker.sweeping and not worker.stopped
