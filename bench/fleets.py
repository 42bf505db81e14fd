"""Made-up fleets and requests for the benchmarks."""

from __future__ import annotations

import random
from typing import Any

from app.backends.base import Backend
from app.models import Heartbeat, JobRequest, Node, NodeStatus

KIND = "echo"
RARE = "asr:xx"
COMMON = "gpu"
RARE_SHARE = 0.01
COMMON_SHARE = 0.8
MAX_SLOTS = 10_000


def register_nodes(backend: Backend, prefix: str, count: int, now: float) -> list[str]:
    """Heartbeat ``count`` nodes with plenty of slots into ``backend``; returns their ids."""
    ids = [f"{prefix}-n{index}" for index in range(count)]
    for node_id in ids:
        beat = Heartbeat(
            node_id=node_id, kinds=[KIND, "sleep"], capabilities=[COMMON], slots=MAX_SLOTS
        )
        backend.heartbeat(beat, now)
    return ids


def request(request_id: str, **fields: Any) -> JobRequest:
    """A small echo request (the payload is about 60 bytes of JSON)."""
    data: dict[str, Any] = {
        "request_id": request_id,
        "kind": KIND,
        "payload": {"text": "hello", "lang": "en", "n": 1, "id": request_id[-12:]},
    }
    data.update(fields)
    return JobRequest.model_validate(data)


def request_dict(request_id: str) -> dict[str, Any]:
    return request(request_id).model_dump(mode="json", exclude_defaults=True)


def synthetic_node(index: int, rng: random.Random, now: float) -> Node:
    """A node of a large fleet: most have ``COMMON``, about 1% have ``RARE``."""
    capabilities = [f"tts:l{index % 40}"]
    if rng.random() < COMMON_SHARE:
        capabilities.append(COMMON)
    if rng.random() < RARE_SHARE:
        capabilities.append(RARE)
    slots = rng.choice((2, 4, 8))
    return Node(
        node_id=f"node-{index:06d}",
        capabilities=capabilities,
        kinds=[KIND],
        labels={"pool": rng.choice(("eu", "us"))},
        slots=slots,
        running=rng.randrange(slots),
        status=NodeStatus.ALIVE,
        last_seen=now,
    )


def synthetic_fleet(count: int, now: float, seed: int = 7) -> list[Node]:
    rng = random.Random(seed)
    nodes = [synthetic_node(index, rng, now) for index in range(count)]
    if not any(RARE in node.capabilities for node in nodes):
        nodes[0].capabilities.append(RARE)
    return nodes
