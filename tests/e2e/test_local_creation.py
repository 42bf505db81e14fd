"""Creation through a real scheduler worker process in local mode (no server at all)."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from app.errors import IdempotencyConflict, InvalidRequest
from tests.support.cluster import Cluster, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def one_scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    made = Cluster(tmp_path_factory.mktemp("garbage"))
    made.start_scheduler()
    wait_for(made.client.reader.stats, 60, "the scheduler to answer")
    yield made
    made.stop()


def send(cluster: Cluster, task: str, *args: Any, **kwargs: Any) -> Any:
    return cluster.celery.send_task(task, args=list(args), kwargs=kwargs, queue="jobrelay")


def test_a_thousand_requests_with_repeats_make_exactly_one_job_each(cluster: Cluster) -> None:
    cluster.start_scheduler()
    wait_for(cluster.client.reader.stats, 60, "the scheduler to answer")
    unique = [f"order-{i}" for i in range(700)]
    rng = random.Random(5)
    stream = [*unique, *(rng.choice(unique) for _ in range(300))]
    rng.shuffle(stream)
    answers: list[tuple[str, dict[str, Any]]] = []
    lock = threading.Lock()

    def producer(chunk: list[str]) -> None:
        pending = [
            (
                rid,
                send(
                    cluster,
                    "jobrelay.create_job",
                    {"request_id": rid, "kind": "echo", "payload": {"id": rid}},
                ),
            )
            for rid in chunk
        ]
        for rid, result in pending:
            answer = result.get(timeout=120)
            with lock:
                answers.append((rid, answer))

    threads = [threading.Thread(target=producer, args=(stream[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(answers) == 1000
    first_job: dict[str, str] = {}
    for rid, answer in answers:
        assert answer["job"]["request_id"] == rid
        if answer["created"]:
            assert rid not in first_job, f"{rid} was created twice"
            first_job[rid] = answer["job"]["job_id"]
    assert len(first_job) == 700
    for rid, answer in answers:
        assert answer["job"]["job_id"] == first_job[rid]
    stats = cluster.client.reader.stats()
    assert stats.counters["created"] == 700
    assert stats.counters["repeats"] == 300
    assert sum(stats.states.values()) == 700

    with pytest.raises(IdempotencyConflict, match="order-1"):
        cluster.client.submit({"request_id": "order-1", "kind": "echo", "payload": {"id": 0}})
    assert cluster.client.reader.stats().counters["created"] == 700


@pytest.mark.parametrize(
    ("args", "kwargs", "says"),
    [
        ((1, 2, 3), {}, "takes one argument"),
        ((), {"bogus": 1}, "takes one argument"),
        (("a string",), {}, "expected a JSON object"),
        (([1, 2],), {}, "expected a JSON object"),
        (({"request_id": "bad id!", "kind": "echo"},), {}, "request_id"),
        (({"request_id": "ok-id", "kind": "echo", "extra": True},), {}, "extra"),
        (
            ({"request_id": "big", "kind": "echo", "payload": {"x": "y" * 300_000}},),
            {},
            "over the limit",
        ),
    ],
)
def test_garbage_sent_straight_to_the_task_gets_a_clear_error(
    one_scheduler: Cluster, args: tuple[Any, ...], kwargs: dict[str, Any], says: str
) -> None:
    cluster = one_scheduler
    before = cluster.client.reader.stats().counters.get("created", 0)
    with pytest.raises(InvalidRequest, match=says):
        send(cluster, "jobrelay.create_job", *args, **kwargs).get(timeout=30)
    assert cluster.client.reader.stats().counters.get("created", 0) == before
    good = cluster.client.submit(
        {"request_id": f"after-garbage-{uuid.uuid4().hex}", "kind": "echo"}
    )
    assert good.created
    assert cluster.client.reader.stats().counters["created"] == before + 1
