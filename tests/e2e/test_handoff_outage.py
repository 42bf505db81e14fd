"""A run order the broker refuses: the job is created all the same and waits for the
dispatch timeout to be placed again; the creation's answer is not an error."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from app.backends.local import LocalBackend
from app.celery_app import make_celery
from app.models import JobState
from app.scheduler import Scheduler
from app.settings import load_settings
from tests.factories import heartbeat
from tests.support.services import free_port
from workers.runtime import CeleryHandoff

pytestmark = [pytest.mark.e2e]


def test_a_creation_whose_run_order_cannot_be_sent_still_answers_with_the_job(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dead_broker = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    settings = load_settings(mode="local", data_dir=tmp_path, broker_url=dead_broker)
    app = make_celery(settings)
    scheduler = Scheduler(settings, LocalBackend(), CeleryHandoff(app, settings))
    scheduler.heartbeat(heartbeat("n1", slots=2).model_dump())

    with caplog.at_level(logging.INFO):
        answer = scheduler.create({"request_id": "r-1", "kind": "echo"})
        again = scheduler.create({"request_id": "r-2", "kind": "echo"})

    assert answer["created"] is True
    assert (answer["job"]["state"], answer["job"]["node_id"]) == (JobState.ASSIGNED, "n1")
    assert again["created"] is True
    log = caplog.text
    assert f"job {answer['job']['job_id']}: run order for n1 not sent" in log
    assert log.count("the broker unavailable") == 1  # once per outage, not once per job
