"""Idempotency peers: one duplicate-heavy stream through celery-once and through jobrelay.

celery-once locks a key when the task is sent and unlocks it when the task ends, so it
drops duplicates that are still queued or running and lets later ones through; jobrelay
binds the request_id for the retention window. Rounds interleave the two peers, each
round with a new stream of the same shape.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import redis
from celery import Celery

from app.backends.base import BackendOptions
from app.backends.redis import RedisBackend
from bench import fleets
from bench.celery_path import finish
from bench.context import Context
from bench.measure import interleaved, median, paired, rate
from bench.once_tasks import configure
from bench.results import Outcome, Row
from bench.scratch import escape, scratch_client
from bench.worker import Worker, broker_patterns

REPEAT_SHARE = 0.3
RECENT = 50
NODES = 4
GOAL = "0 duplicates let through"


def stream(prefix: str, count: int, seed: int = 11) -> list[str]:
    """request_ids where about 30% repeat one of the last few sent."""
    rng = random.Random(seed)
    ids: list[str] = []
    for index in range(count):
        if ids and rng.random() < REPEAT_SHARE:
            ids.append(rng.choice(ids[-RECENT:]))
        else:
            ids.append(f"{prefix}-r{index}")
    return ids


@dataclass(frozen=True)
class Pass:
    """One stream through one peer: its timing and what became of its duplicates.

    ``ran_again`` counts duplicates whose work was done a second time; ``stopped`` those
    the peer caught (celery-once: dropped at send; jobrelay: answered as repeats).
    """

    requests: int
    unique: int
    elapsed_s: float
    ran_again: int
    stopped: int

    @property
    def rate(self) -> float:
        return rate(self.requests, self.elapsed_s)

    @property
    def duplicates(self) -> int:
        return self.requests - self.unique


def total(passes: list[Pass]) -> Pass:
    """The passes of every round added up."""
    return Pass(
        sum(p.requests for p in passes), sum(p.unique for p in passes),
        sum(p.elapsed_s for p in passes), sum(p.ran_again for p in passes),
        sum(p.stopped for p in passes),
    )  # fmt: skip


class Rounds:
    """The two peers; each call sends a new stream through one and returns its Pass."""

    def __init__(self, ctx: Context, worker: Worker, app: Celery, client: redis.Redis) -> None:
        self.ctx, self.worker, self.app, self.client = ctx, worker, app, client
        self.task = configure(app, worker.redis_url)
        self.sent = Counter[str]()

    def ids(self, peer: str) -> list[str]:
        self.sent[peer] += 1
        return stream(f"{self.worker.prefix}-{peer}{self.sent[peer]}", self.ctx.size.peers_requests)

    def once(self) -> Pass:
        ids, tally = self.ids("once"), f"{self.worker.prefix}:tally:{self.sent['once']}"
        started = time.time()
        sent = [self.task.apply_async(kwargs={"request_id": rid, "tally": tally}) for rid in ids]
        elapsed = finish([result for result in sent if result.id is not None]).ended_at - started
        runs = [int(value) for value in self.client.hgetall(tally).values()]
        return Pass(len(ids), len(set(ids)), elapsed, sum(runs) - len(runs), len(ids) - sum(runs))

    def jobrelay(self) -> Pass:
        ids = self.ids("jobrelay")
        started = time.time()
        finished = finish(
            [self.worker.send(self.app, "jobrelay.create_job", fleets.request_dict(rid))
             for rid in ids]
        )  # fmt: skip
        elapsed = finished.ended_at - started
        created = sum(1 for answer in finished.values if answer["created"])
        unique = len(set(ids))
        return Pass(len(ids), unique, elapsed, created - unique, len(ids) - created)

    def variants(self) -> dict[str, Callable[[], Pass]]:
        return {"celery-once": self.once, "jobrelay": self.jobrelay}


def once_bound(sums: Pass) -> str:
    return (
        f"celery-once holds its lock from the send until the task ends (after_return): of "
        f"the {sums.duplicates:,} duplicates in the streams, {sums.stopped:,} were sent while "
        f"their first was still queued or running and were dropped, and {sums.ran_again:,} "
        "were sent after it had ended, found no lock and ran the body again."
    )


def jobrelay_bound(sums: Pass) -> str:
    return (
        f"{sums.ran_again:,} duplicates created a second job: a repeat found no binding of "
        "its request_id, which should hold for the whole retention window."
    )


@dataclass(frozen=True)
class Peer:
    key: str
    measure: str
    stopped: str
    bound: Callable[[Pass], str]


PEERS = (
    Peer("celery-once", "celery-once (QueueOnce, graceful)", "dropped at send", once_bound),
    Peer("jobrelay", "jobrelay create_job", "answered as repeats", jobrelay_bound),
)


def row(peer: Peer, passes: list[Pass], ratio: float | None = None, ratio_of: str = "") -> Row:
    sums = total(passes)
    met = sums.ran_again == 0
    detail = (
        f"{sums.ran_again:,} of {sums.duplicates:,} duplicates ran again, {sums.stopped:,} "
        f"{peer.stopped}; {len(passes)} rounds of {passes[0].requests:,}"
    )
    value = median([p.rate for p in passes])
    return Row(peer.measure, value, "requests/s", detail, ratio, ratio_of, GOAL, met,
               "" if met else peer.bound(sums))  # fmt: skip


def rows(measured: dict[str, list[Pass]]) -> list[Row]:
    once, mine = PEERS
    rates = {peer: [p.rate for p in passes] for peer, passes in measured.items()}
    ratio = paired(rates, mine.key, once.key)
    return [
        row(once, measured[once.key]),
        row(mine, measured[mine.key], ratio, f"of {once.key} requests/s"),
    ]


NOTES = [
    "requests/s count from the first send to the end of the last task (its result's "
    "date_done), on one client thread, while the worker consumes (celery-once adds a lock "
    "round trip to every send); rates are medians over interleaved rounds, the ratio the "
    "median of the per-round ratios.",
    "celery-once only suppresses duplicates that overlap in the queue; jobrelay answers "
    "every repeat with the bound job.",
    "the celery-once body only counts its run; jobrelay's create_job creates a job and "
    "hands it off.",
]


def run(ctx: Context) -> Outcome:
    prefix = ctx.token("peers")
    worker = Worker(prefix, ctx.redis_url, ("bench.noop", "bench.once_tasks"))
    outcome = Outcome("peers", "Idempotency peers: a stream with 30% repeats, one worker")
    locks = escape(f"qo_bench.once_create_request_id-{prefix}") + "*"
    with scratch_client(ctx.redis_url, *broker_patterns(prefix), locks) as client:
        backend = RedisBackend(client, BackendOptions(key_prefix=prefix))
        fleets.register_nodes(backend, prefix, NODES, time.time())
        app = worker.client()
        try:
            worker.start()
            worker.wait_ready(app)
            ctx.progress(f"peers: {ctx.size.peers_rounds} rounds of 2 peers")
            rounds = Rounds(ctx, worker, app, client)
            measured = interleaved(rounds.variants(), ctx.size.peers_rounds)
        finally:
            worker.stop()
            app.close()
    outcome.rows += rows(measured)
    outcome.notes += NOTES
    return outcome
