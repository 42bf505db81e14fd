"""Payload and id limits are enforced at the edge: the client refuses before sending.

Metric labels are bounded too; that is tested with the monitor, in
tests/monitor/test_metrics.py::test_label_sets_do_not_grow_with_the_number_of_jobs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.client import Client
from app.errors import InvalidRequest
from app.settings import load_settings


class RecordingCelery:
    """Stands in for the Celery app and records every task a client tries to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[Any, ...]] = []

    def send_task(self, *args: Any, **kwargs: Any) -> None:
        self.sent.append((args, kwargs))
        raise AssertionError("the client sent a request it should have refused")


@pytest.mark.parametrize(
    ("request_body", "field"),
    [
        ({"request_id": "x" * 201, "kind": "echo"}, "request_id"),
        ({"request_id": "has space", "kind": "echo"}, "request_id"),
        ({"request_id": "ok", "kind": "caf\u00e9"}, "kind"),
        ({"request_id": "ok", "kind": "echo", "payload": {"b": "x" * 300_000}}, "payload"),
        ({"request_id": "ok", "kind": "echo", "exclude_nodes": ["n"] * 65}, "exclude_nodes"),
        ({"request_id": "ok", "kind": "echo", "surprise": 1}, "surprise"),
    ],
)
def test_submit_refuses_before_sending(
    tmp_path: Path, request_body: dict[str, Any], field: str
) -> None:
    celery = RecordingCelery()
    client = Client(load_settings(mode="local", data_dir=tmp_path), celery)
    with pytest.raises(InvalidRequest, match=field):
        client.submit(request_body)
    assert celery.sent == []


def test_the_payload_limit_follows_the_setting(tmp_path: Path) -> None:
    celery = RecordingCelery()
    settings = load_settings(mode="local", data_dir=tmp_path, max_payload_bytes=100)
    client = Client(settings, celery)
    with pytest.raises(InvalidRequest, match="over the limit of 100"):
        client.submit({"request_id": "ok", "kind": "echo", "payload": {"b": "x" * 200}})
    assert celery.sent == []
