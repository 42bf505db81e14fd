"""Garbage Celery messages sent straight to one real scheduler process.

Every message is refused with an error that names the problem (or dropped by Celery's
decoder with a log line), the worker never crashes, nothing is stored, and the scheduler
serves a good request afterwards. Pickle is refused without being unpickled.
"""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery.result import AsyncResult
from kombu.entity import Exchange

from app.backends.base import BackendOptions, JobQuery
from app.backends.redis import RedisBackend
from app.errors import ERRORS_BY_NAME
from tests.support.cluster import Cluster, Proc, wait_for
from tests.support.services import MAIN_REDIS, delete_prefix, new_prefix

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

TASKS = (
    "jobrelay.create_job",
    "jobrelay.create_jobs",
    "jobrelay.node_heartbeat",
    "jobrelay.report",
    "jobrelay.cancel_job",
    "jobrelay.drain_node",
    "jobrelay.query",
)
UNDECODABLE = "Can't decode message body"
INVALID = "Received invalid task message"
REFUSED_PICKLE = "Refusing to deserialize untrusted content of type pickle"


def nested_list(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


def junk_values(rng: random.Random, count: int) -> list[Any]:
    fixed: list[Any] = [
        None,
        0,
        -1,
        2**70,
        1.5,
        True,
        "",
        "x" * 300_000,
        "\u0000\ud7ff\uffff",
        [],
        {},
        [1, "two"],
        nested_list(400),
        {"unknown": 1},
        {"request_id": 5, "kind": None},
        {"request_id": "a b", "kind": "echo"},
        {"request_id": "ok", "kind": "echo", "surprise": True},
        {"request_id": "ok", "kind": "echo", "payload": {"blob": "x" * 300_000}},
        {"request_id": "ok", "kind": "echo", "payload": nested_list(300)},
        {"node_id": "n", "slots": "many"},
        {"node_id": "n" * 300, "slots": 1},
        {"job_id": "j", "attempt": 0, "node_id": "n", "event": "started"},
        {"job_id": "j", "attempt": 1, "node_id": "n", "event": "exploded"},
        {"job_id": "j", "attempt": "1", "node_id": "n", "event": "started"},
    ]
    scalars: list[Any] = [None, True, 7, -3.5, "s", "é" * 50, [], {}]
    for _ in range(count):
        depth = rng.randint(0, 4)
        value: Any = rng.choice(scalars)
        for _ in range(depth):
            value = rng.choice([[value], {rng.choice(["k", "request_id", "payload"]): value}])
        fixed.append(value)
    return fixed


def garbage_calls(rng: random.Random) -> list[tuple[str, list[Any], dict[str, Any]]]:
    """(task, args, kwargs): wrong arity, wrong types, huge, deep and unknown fields."""
    calls: list[tuple[str, list[Any], dict[str, Any]]] = []
    for task in TASKS:
        calls += [(task, [], {}), (task, [1, 2, 3], {}), (task, [], {"bogus": 1})]
        calls += [(task, ["a"], {"also": "b"})]
        for value in junk_values(rng, 60):
            if task == "jobrelay.query":
                calls.append((task, [value, value], {}))
                calls.append((task, ["no-such-op", {"x": value}], {}))
            elif task == "jobrelay.drain_node":
                calls.append((task, [value, value], {}))
            elif task == "jobrelay.create_jobs":
                calls.append((task, [[value, value]], {}))
            else:
                calls.append((task, [value], {}))
                calls.append((task, [], {"x": value}))
    return calls


def refused(task: str, result: AsyncResult) -> str | None:
    """None if the answer is a clear refusal, else what is wrong with it."""
    value = result.get(timeout=60, propagate=False)
    if result.state == "FAILURE":
        name = type(value).__name__
        message = str(value)
        if name not in ERRORS_BY_NAME or not message or len(message) > 4_000:
            return f"{task}: unexpected error {name}: {message[:300]}"
        return None
    if task == "jobrelay.create_jobs" and all("error" in item for item in value):
        return None
    if task == "jobrelay.report" and value in ("missing", "stale", "refused"):
        return None
    return f"{task}: accepted garbage, answered {str(value)[:300]}"


@pytest.fixture(scope="module")
def one_scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, Proc]]:
    root = Path(tmp_path_factory.mktemp("raw-messages"))
    cluster = Cluster(
        root,
        {
            "JOBRELAY_MODE": "cross_instance",
            "JOBRELAY_REDIS_URL": MAIN_REDIS,
            "JOBRELAY_KEY_PREFIX": new_prefix(),
        },
    )
    proc = cluster.start_scheduler("s1", "--concurrency", "2")
    try:
        wait_for(lambda: "scheduler ready" in proc.output(), 60, "the scheduler to start")
        yield cluster, proc
    finally:
        cluster.stop()
        delete_prefix(MAIN_REDIS, cluster.settings.key_prefix)


def nothing_stored(cluster: Cluster) -> None:
    backend = RedisBackend.from_url(
        MAIN_REDIS, BackendOptions(key_prefix=cluster.settings.key_prefix)
    )
    # Only the good requests that earlier tests sent after their garbage ("after-...").
    jobs = backend.list_jobs(JobQuery()).jobs
    assert all(job.request_id.startswith("after-") for job in jobs), jobs
    assert backend.stats().counters.get("created", 0) == len(jobs)
    assert backend.nodes() == []
    backend.close()


def still_serves(cluster: Cluster, proc: Proc, rid: str) -> None:
    assert proc.popen.poll() is None
    for crash in ("WorkerLostError", "exited with", "Unrecoverable error", "raised unexpected"):
        assert crash not in proc.output(), crash
    good = {"request_id": rid, "kind": "echo", "payload": {"ok": True}}
    answer = cluster.celery.send_task("jobrelay.create_job", args=[good], ignore_result=False)
    assert answer.get(timeout=30)["created"] is True
    answer.forget()


def test_garbage_task_arguments_are_refused_with_clear_errors(
    one_scheduler: tuple[Cluster, Proc],
) -> None:
    cluster, proc = one_scheduler
    calls = garbage_calls(random.Random(5))
    assert len(calls) > 900
    sent = [
        (task, cluster.celery.send_task(task, args=args, kwargs=kwargs, ignore_result=False))
        for task, args, kwargs in calls
    ]
    problems = [problem for task, result in sent if (problem := refused(task, result))]
    for _, result in sent:
        result.forget()
    assert problems == []
    nothing_stored(cluster)
    still_serves(cluster, proc, "after-garbage-args")


def publish_raw(cluster: Cluster, task: str, body: bytes, **options: Any) -> None:
    headers = {
        "lang": "py",
        "task": task,
        "id": str(uuid.uuid4()),
        "root_id": None,
        "parent_id": None,
        "group": None,
        "retries": 0,
        "eta": None,
        "expires": None,
        "timelimit": [None, None],
        "argsrepr": "",
        "kwargsrepr": "",
        "origin": "tests",
        "ignore_result": True,
    }
    with cluster.celery.connection_for_write() as conn:
        conn.Producer().publish(
            body,
            exchange=Exchange("jobrelay", type="direct"),
            routing_key="jobrelay",
            headers=headers,
            **{"content_type": "application/json", "content_encoding": "utf-8", **options},
        )


def test_undecodable_and_malformed_bodies_are_dropped_with_a_log_line(
    one_scheduler: tuple[Cluster, Proc],
) -> None:
    cluster, proc = one_scheduler
    deep = b"[" * 5_000 + b"]" * 5_000
    undecodable = [
        b"\xff\xfe[[{}], {}, {}]",
        b'[["\xc3\x28"], {}, {}]',
        b"[[" + deep + b"], {}, {}]",
        b"not json at all",
    ]
    malformed = [
        b'"a string"',
        b"{}",
        b'{"args": 5}',
        b"[1]",
        b"[[], [], []]",
        b"[null, null, null]",
        b"null",
        b"",
    ]
    before = proc.output().count(UNDECODABLE), proc.output().count(INVALID)
    for task in TASKS:
        for body in undecodable + malformed:
            publish_raw(cluster, task, body)
    publish_raw(cluster, "jobrelay.no_such_task", b"[[], {}, {}]")
    expected = (
        before[0] + len(TASKS) * len(undecodable),
        before[1] + len(TASKS) * len(malformed),
    )
    wait_for(
        lambda: (proc.output().count(UNDECODABLE), proc.output().count(INVALID)) == expected,
        30,
        "each undecodable or malformed message to be logged",
    )
    wait_for(lambda: "jobrelay.no_such_task" in proc.output(), 30, "the unknown task logged")
    nothing_stored(cluster)
    still_serves(cluster, proc, "after-raw-bodies")


class MakeDirWhenUnpickled:
    """A pickle that, if a worker ever unpickled it, would leave a directory behind."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.mkdir, (str(self.path),))


def test_pickle_messages_are_refused_without_being_unpickled(
    one_scheduler: tuple[Cluster, Proc], tmp_path: Path
) -> None:
    cluster, proc = one_scheduler
    marker = tmp_path / "unpickled"
    before = proc.output().count(REFUSED_PICKLE)
    for task in TASKS:
        cluster.celery.send_task(
            task, args=[MakeDirWhenUnpickled(marker)], serializer="pickle", ignore_result=True
        )
    wait_for(
        lambda: proc.output().count(REFUSED_PICKLE) >= before + len(TASKS),
        30,
        "the pickle messages to be refused",
    )
    assert not marker.exists()
    nothing_stored(cluster)
    still_serves(cluster, proc, "after-pickle")
