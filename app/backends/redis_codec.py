"""Jobs and nodes to and from the flat string hashes the Redis backend stores.

Structured fields are JSON strings that the Lua scripts store and return untouched, so a
payload comes back byte for byte. ``tried_nodes`` is a space-separated list because the
scripts append to it (node ids never contain spaces). A field that is None is absent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from app.models import Job, Node

JSON_FIELDS = frozenset({"payload", "requires", "selector", "exclude_nodes", "result", "history"})
WORD_FIELDS = frozenset({"tried_nodes"})
NODE_JSON_FIELDS = ("capabilities", "kinds", "labels")
NODE_NUMBER_FIELDS = (
    "slots",
    "running",
    "reserved",
    "reported_running",
    "last_seen",
    "cpu_percent",
    "restarts",
)


def dump_json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def job_to_hash(job: Job) -> dict[str, str]:
    """The hash fields of ``job``; None fields are left out."""
    fields: dict[str, str] = {}
    for name, value in job.model_dump(mode="json").items():
        if value is None:
            continue
        if name in JSON_FIELDS:
            fields[name] = dump_json(value)
        elif name in WORD_FIELDS:
            fields[name] = " ".join(value)
        else:
            fields[name] = str(value)
    return fields


PLACEMENT_FIELDS = frozenset({"state", "attempt", "node_id", "assigned_at", "started_at"})
EMPTY = ("", "[]", "{}")


def new_job_hash(job: Job, now: float) -> dict[str, str]:
    """The hash of a job about to be created: no placement (the claim script decides it),
    and no empty collections (the model's defaults restore them), to keep jobs small."""
    fields = job_to_hash(job)
    for name in PLACEMENT_FIELDS:
        fields.pop(name, None)
    fields["created_at"] = fields["updated_at"] = repr(round(now, 3))
    return {name: value for name, value in fields.items() if value not in EMPTY}


def job_from_hash(fields: dict[str, str]) -> Job:
    """The job stored in ``fields``; numbers are parsed by the model."""
    data: dict[str, Any] = {}
    for name, raw in fields.items():
        if name in JSON_FIELDS:
            data[name] = json.loads(raw)
        elif name in WORD_FIELDS:
            data[name] = raw.split()
        else:
            data[name] = raw
    return Job.model_validate(data)


def node_from_hash(fields: dict[str, str]) -> Node:
    data: dict[str, Any] = {name: json.loads(fields.get(name, "null")) for name in NODE_JSON_FIELDS}
    data = {name: value for name, value in data.items() if value is not None}
    for name in (*NODE_NUMBER_FIELDS, "memory_percent", "status", "hostname", "incarnation"):
        if name in fields:
            data[name] = fields[name]
    return Node.model_validate(
        {**data, "node_id": fields["node_id"], "draining": fields.get("draining") == "1"}
    )


def pairs(flat: Sequence[str]) -> dict[str, str]:
    """A dict from a flat ``[field, value, ...]`` reply (HGETALL inside a script)."""
    return dict(zip(flat[::2], flat[1::2], strict=True))
