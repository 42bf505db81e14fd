"""The demo's load: fresh requests, duplicates (some racing), a conflict, unservable ones.

Every answer is tallied by request_id, so the summary can show that each request_id got
exactly one job however many times, and however concurrently, it was sent.
"""

from __future__ import annotations

import functools
import queue
import random
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from app.client import Client
from app.errors import IdempotencyConflict, JobrelayError
from app.models import Created

BATCH_SIZE = 25
SENDERS = 4
RACERS = 3
RACE_START_TIMEOUT_S = 30.0
UNSERVABLE_REQUIRES = ["asr:ja"]
REQUIRES_MIX: tuple[list[str], ...] = (
    ["asr:en"],
    ["asr:de"],
    ["tts:en"],
    ["nmt:en-zh"],
    ["nmt:en-de"],
    ["tts:zh"],
    [],
)

Request = dict[str, Any]


@dataclass
class LoadPlan:
    """What the demo sends, in the order it sends it."""

    fresh: list[Request]
    racing: list[Request]
    repeats: list[Request]
    conflict: Request
    unservable: list[Request]

    @property
    def total(self) -> int:
        sent_later = len(self.repeats) + 1 + len(self.unservable)
        return len(self.fresh) + len(self.racing) * RACERS + sent_later

    @property
    def expected_duplicates(self) -> int:
        return len(self.repeats) + len(self.racing) * (RACERS - 1)


def new_request(rng: random.Random, request_id: str) -> Request:
    requires = list(rng.choice(REQUIRES_MIX))
    request: Request = {"request_id": request_id, "requires": requires}
    if rng.random() < 0.5:
        request.update(kind="echo", payload={"text": f"hello {request_id}"})
    else:
        request.update(kind="sleep", payload={"seconds": round(rng.uniform(0.05, 0.3), 3)})
    if requires == ["nmt:en-de"] and rng.random() < 0.3:
        request["selector"] = {"pool": "eu"}
    if rng.random() < 0.2:
        request["affinity_key"] = f"session-{rng.randrange(5)}"
    return request


def build_plan(total: int, seed: int | None = None) -> LoadPlan:
    """Split ``total`` sends: ~20% duplicates, one conflict, a few unservable requests."""
    rng = random.Random(seed)
    run = uuid.uuid4().hex[:8]
    unservable_count = 3
    duplicates = max(total // 5, RACERS)
    racing_count = max(duplicates // (RACERS - 1) // 3, 1)
    repeat_count = duplicates - racing_count * (RACERS - 1)
    fresh_count = total - racing_count * RACERS - repeat_count - 1 - unservable_count
    fresh = [new_request(rng, f"demo-{run}-{index}") for index in range(fresh_count)]
    racing = [new_request(rng, f"demo-{run}-race-{index}") for index in range(racing_count)]
    conflict = {**fresh[0], "payload": {"text": "a different body"}, "kind": "echo"}
    unservable = [
        {"request_id": f"demo-{run}-ja-{index}", "kind": "echo", "requires": UNSERVABLE_REQUIRES}
        | {"timeout_s": 5.0, "payload": {"text": "no node speaks Japanese"}}
        for index in range(unservable_count)
    ]
    repeats = [dict(request) for request in rng.sample(fresh, min(repeat_count, len(fresh)))]
    return LoadPlan(fresh, racing, repeats, conflict, unservable)


@dataclass
class Tally:
    """Every answer the demo got, by request_id."""

    created: dict[str, str] = field(default_factory=dict)
    job_ids: dict[str, set[str]] = field(default_factory=dict)
    duplicates: int = 0
    conflicts: int = 0
    errors: list[str] = field(default_factory=list)
    sent: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, request: Request, answer: Created | JobrelayError) -> None:
        request_id = str(request["request_id"])
        with self._lock:
            self.sent += 1
            if isinstance(answer, IdempotencyConflict):
                self.conflicts += 1
            elif isinstance(answer, JobrelayError):
                self.errors.append(f"{request_id}: {answer.message}")
            else:
                self.job_ids.setdefault(request_id, set()).add(answer.job.job_id)
                if answer.created:
                    self.created[request_id] = answer.job.job_id
                else:
                    self.duplicates += 1

    def one_job_per_request(self) -> bool:
        """True when every request_id was answered with one and the same job."""
        return all(len(ids) == 1 for ids in self.job_ids.values())


def batches(requests: list[Request], size: int = BATCH_SIZE) -> Iterable[list[Request]]:
    for start in range(0, len(requests), size):
        yield requests[start : start + size]


def send_batch(client: Client, tally: Tally, batch: list[Request]) -> None:
    for request, answer in zip(batch, client.submit_many(batch), strict=True):
        tally.record(request, answer)


def send_one(client: Client, tally: Tally, request: Request, start: threading.Barrier) -> None:
    start.wait(RACE_START_TIMEOUT_S)
    try:
        answer: Created | JobrelayError = client.submit(request)
    except IdempotencyConflict as exc:
        answer = exc
    tally.record(request, answer)


def race(client: Client, tally: Tally, request: Request) -> list[Callable[[], None]]:
    """``RACERS`` sends of one request that start at the same moment."""
    barrier = threading.Barrier(RACERS)
    return [functools.partial(send_one, client, tally, request, barrier) for _ in range(RACERS)]


def run_parallel(calls: list[Callable[[], None]], workers: int, stop: threading.Event) -> None:
    """Run ``calls`` on ``workers`` daemon threads and re-raise the first failure.

    Daemon threads, unlike an executor's, never hold up the exit after a Ctrl-C.
    """
    pending: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
    for call in calls:
        pending.put(call)
    failures: list[Exception] = []

    def work() -> None:
        while not stop.is_set():
            try:
                call = pending.get_nowait()
            except queue.Empty:
                return
            try:
                call()
            except Exception as exc:
                failures.append(exc)
                stop.set()

    threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def send_plan(client: Client, plan: LoadPlan, tally: Tally, stop: threading.Event) -> None:
    """Send everything: fresh batches and races at once, then repeats and the rest."""
    first: list[Callable[[], None]] = [
        functools.partial(send_batch, client, tally, batch) for batch in batches(plan.fresh)
    ]
    for request in plan.racing:
        first += race(client, tally, request)
    run_parallel(first, SENDERS + RACERS, stop)
    later = [*plan.repeats, plan.conflict, *plan.unservable]
    calls = [functools.partial(send_batch, client, tally, batch) for batch in batches(later)]
    run_parallel(list[Callable[[], None]](calls), SENDERS, stop)
