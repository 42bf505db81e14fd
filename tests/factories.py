"""Small builders for records used across the tests."""

from __future__ import annotations

import itertools
from typing import Any

from app.creation import new_job
from app.models import Heartbeat, Job, JobRequest, Node, NodeStatus

_ids = itertools.count(1)


def request(**fields: Any) -> JobRequest:
    data: dict[str, Any] = {"request_id": f"req-{next(_ids)}", "kind": "echo"}
    data.update(fields)
    return JobRequest.model_validate(data)


def job(now: float = 1000.0, **fields: Any) -> Job:
    return new_job(request(**fields), now)


def heartbeat(node_id: str, slots: int = 2, **fields: Any) -> Heartbeat:
    data: dict[str, Any] = {"node_id": node_id, "slots": slots, "kinds": ["echo", "sleep"]}
    data.update(fields)
    return Heartbeat.model_validate(data)


def node(node_id: str, slots: int = 2, last_seen: float = 1000.0, **fields: Any) -> Node:
    data: dict[str, Any] = {
        "node_id": node_id,
        "slots": slots,
        "kinds": ["echo", "sleep"],
        "last_seen": last_seen,
        "status": NodeStatus.ALIVE,
    }
    data.update(fields)
    return Node.model_validate(data)
