"""Creation on the core path (no Celery): local and Redis backends against their floors.

Every variant runs one batch per round, in turn, on one client thread; the ratios are
medians of the per-round ratios, so drift of the shared machine cancels out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import redis

from app.backends.base import Backend, BackendOptions
from app.backends.local import LocalBackend
from app.backends.redis import RedisBackend
from app.backends.redis_connection import connect
from app.backends.redis_keys import Keys
from app.creation import create_job, create_jobs, prepare
from app.fleet import Fleet
from app.models import JobRequest
from app.selection import Selector, SelectorOptions
from bench import fleets
from bench.context import Context
from bench.measure import interleaved, median, ops_per_s, paired
from bench.private_redis import private_redis
from bench.results import Outcome, Row, at_least
from bench.scratch import delete_matching, namespace_pattern

NODES = 8
REFRESH_S = 0.5
LOCK_TTL_MS = 5_000
NODE_TIMEOUT_S = 3_600.0


@dataclass
class Core:
    """A backend with the selector and fleet snapshot a scheduler would hold."""

    backend: Backend
    selector: Selector
    fleet: Fleet

    @classmethod
    def over(cls, backend: Backend, prefix: str) -> Core:
        fleets.register_nodes(backend, prefix, NODES, time.time())
        # Nodes heartbeat once, at the start; keep them alive for the whole run.
        options = SelectorOptions(node_timeout_s=NODE_TIMEOUT_S)
        return cls(backend, Selector(options, seed=1), Fleet(backend, REFRESH_S))

    def create(self, request: JobRequest) -> bool:
        return create_job(request, self.backend, self.selector, self.fleet).created


def fresh(prefix: str, count: int) -> Iterator[JobRequest]:
    """Requests with new request_ids, built before the clock starts (parsing is not creation)."""
    return iter([fleets.request(f"{prefix}-{index}") for index in range(count)])


class LockBased:
    """Creation the way a lock-based design does it, one round trip per command."""

    def __init__(self, client: redis.Redis, core: Core, prefix: str) -> None:
        self.client = client
        self.core = core
        self.keys = Keys(f"{prefix}:lockbased")

    def create(self, request: JobRequest) -> bool:
        spec = prepare(request, self.core.selector, self.core.fleet, time.time())
        binding = self.keys.binding(request.request_id)
        if self.client.get(binding) is not None:
            return False
        lock = f"{binding}:lock"
        if not self.client.set(lock, spec.job.job_id, nx=True, px=LOCK_TTL_MS):
            return False
        try:
            if self.client.get(binding) is not None:
                return False
            node_id = spec.candidates[0]
            self.client.hincrby(f"{self.keys.namespace}node:{node_id}", "reserved", 1)
            job_key = self.keys.job(spec.job.job_id)
            value = f"{spec.job.job_id} {spec.job.fingerprint}"
            self.client.mset({binding: value, job_key: spec.job.model_dump_json()})
        finally:
            self.client.delete(lock)
        return True


def batch_rate(operation: Callable[[int], object], count: int) -> Callable[[], float]:
    return lambda: ops_per_s(operation, count)


def variants(ctx: Context, prefix: str, client: redis.Redis) -> dict[str, Callable[[], float]]:
    batch = ctx.size.creation_batch
    total = batch * ctx.size.creation_rounds
    local = Core.over(LocalBackend(), f"{prefix}-local")
    shared = Core.over(RedisBackend(client, BackendOptions(key_prefix=prefix)), prefix)
    lock_based = LockBased(client, shared, prefix)
    streams = {name: fresh(f"{prefix}-{name}", total) for name in ("local", "redis", "lock")}
    repeats = list(fresh(f"{prefix}-repeat", batch))
    for request in repeats:
        shared.create(request)
    bindings = [Keys(prefix).binding(request.request_id) for request in repeats]
    floor = client.register_script("return 1")
    return {
        "local": batch_rate(lambda _: local.create(next(streams["local"])), batch),
        "creation": batch_rate(lambda _: shared.create(next(streams["redis"])), batch),
        "floor": batch_rate(lambda _: floor(), batch),
        "lock-based": batch_rate(lambda _: lock_based.create(next(streams["lock"])), batch),
        "repeat": batch_rate(lambda i: shared.create(repeats[i]), batch),
        "GET": batch_rate(lambda i: client.get(bindings[i]), batch),
        "prepare": batch_rate(
            lambda i: prepare(repeats[i], shared.selector, shared.fleet, time.time()), batch
        ),
    }


@dataclass(frozen=True)
class Costs:
    """Microseconds per operation of each variant (from median rates) and inside Redis."""

    us: dict[str, float]
    floor_srv: float
    claim_srv: float
    repeat_srv: float

    @classmethod
    def of(cls, measured: dict[str, list[float]], server: list[Row]) -> Costs:
        us = {name: 1e6 / median(values) for name, values in measured.items()}
        floor_srv, claim_srv, repeat_srv = (row.value for row in server)
        return cls(us, floor_srv, claim_srv, repeat_srv)


def floor_bound(costs: Costs) -> str:
    us = costs.us
    around = us["creation"] - us["prepare"] - costs.claim_srv
    return (
        f"a creation takes {us['creation']:.0f} µs against {us['floor']:.0f} µs for the "
        f"floor's whole round trip: {us['prepare']:.0f} µs of Python before the call "
        f"(building and validating the job model, its ULID and JSON fingerprint, selection), "
        f"{costs.claim_srv:.0f} µs inside Redis running the claim script (a bare script: "
        f"{costs.floor_srv:.0f} µs), and {around:.0f} µs on the client around the call: the "
        "round trip, redis-py packing the script's arguments and decoding the reply."
    )


def lock_bound(costs: Costs) -> str:
    us = costs.us
    return (
        f"both do the same {us['prepare']:.0f} µs of Python preparation; after it the "
        f"lock-based baseline's six plain round trips take {us['lock-based'] - us['prepare']:.0f}"
        f" µs and the one claim {us['creation'] - us['prepare']:.0f} µs, of which "
        f"{costs.claim_srv:.0f} µs inside Redis and the rest packing the script's arguments "
        f"and decoding the reply; with a free claim the ratio would be at most "
        f"{us['lock-based'] / us['prepare']:.1f}x."
    )


def repeat_bound(costs: Costs) -> str:
    us = costs.us
    return (
        f"a repeat takes {us['repeat']:.0f} µs against {us['GET']:.0f} µs for a GET: it runs "
        f"the same preparation as a first creation ({us['prepare']:.0f} µs), because the "
        "request is fingerprinted and its candidates chosen before the one round trip so "
        f"that a first creation needs only one; the claim script finds the binding "
        f"({costs.repeat_srv:.0f} µs inside Redis) and returns the stored job, which is "
        "decoded into a Job."
    )


@dataclass(frozen=True)
class Goal:
    """A goal on the rate ratio ``top``/``bottom``, and what bounds it when missed."""

    measure: str
    top: str
    bottom: str
    detail: str
    minimum: float
    bound: Callable[[Costs], str]

    def row(self, measured: dict[str, list[float]], costs: Costs) -> Row:
        ratio = paired(measured, self.top, self.bottom)
        goal, met = at_least(ratio, self.minimum)
        bound = self.bound(costs) if not met else ""
        value = median(measured[self.top])
        return Row(self.measure, value, "/s", self.detail, ratio, f"of {self.bottom}",
                   goal, met, bound)  # fmt: skip


GOALS = (
    Goal("Redis: creation vs floor", "creation", "floor", "create_job, new request_id", 0.8,
         floor_bound),
    Goal("Redis: creation vs lock-based", "creation", "lock-based", "same creations", 3.0,
         lock_bound),
    Goal("Redis: repeat vs GET", "repeat", "GET", "create_job, same request_id", 0.9,
         repeat_bound),
)  # fmt: skip


def rows(measured: dict[str, list[float]], costs: Costs) -> list[Row]:
    rate = {name: median(values) for name, values in measured.items()}
    return [
        Row("local backend: creation", rate["local"], "/s", "in-process dict"),
        Row("Python side only (prepare)", rate["prepare"], "/s", "job + selection, no I/O"),
        Row("Redis baseline: EVALSHA 'return 1'", rate["floor"], "/s", "one-round-trip floor"),
        Row("Redis baseline: lock-based", rate["lock-based"], "/s", "6 round trips"),
        Row("Redis baseline: GET", rate["GET"], "/s", "plain GET of the binding"),
        *[goal.row(measured, costs) for goal in GOALS],
    ]


def server_us(client: redis.Redis, operation: Callable[[int], object], count: int) -> float:
    """Redis-side µs per EVALSHA while running ``operation`` (INFO commandstats delta)."""
    before = client.info("commandstats").get("cmdstat_evalsha", {})
    ops_per_s(operation, count)
    after = client.info("commandstats").get("cmdstat_evalsha", {})
    calls = int(after.get("calls", 0)) - int(before.get("calls", 0))
    usec = float(after.get("usec", 0)) - float(before.get("usec", 0))
    return usec / max(calls, 1)


def server_rows(ctx: Context, prefix: str) -> list[Row]:
    """Redis-side time on a private server, where commandstats count only these calls."""
    count = ctx.size.creation_batch
    with private_redis() as server:
        client = connect(server.url, timeout_s=10.0)
        try:
            core = Core.over(RedisBackend(client, BackendOptions(key_prefix=prefix)), prefix)
            requests = list(fresh(f"{prefix}-srv", count))
            floor = client.register_script("return 1")
            floor_us = server_us(client, lambda _: floor(), count)
            claim_us = server_us(client, lambda i: core.create(requests[i]), count)
            repeat_us = server_us(client, lambda i: core.create(requests[i]), count)
        finally:
            client.close()
    detail = f"commandstats, private redis-server {server.version}"
    return [
        Row("Redis-side time: EVALSHA 'return 1'", floor_us, "µs/call", detail),
        Row("Redis-side time: claim, new", claim_us, "µs/call", detail,
            claim_us / floor_us, "of floor"),
        Row("Redis-side time: claim, repeat", repeat_us, "µs/call", detail,
            repeat_us / floor_us, "of floor"),
    ]  # fmt: skip


NOTES = [
    "rates are medians over interleaved rounds, ratios medians of the per-round ratios.",
    "the lock-based baseline does the same Python work (prepare) before its six round "
    "trips, so that ratio compares whole creations.",
    "the Redis-side rows run on a private redis-server started for them, so INFO "
    "commandstats count no other client; the rates above run on the --redis server.",
]


def run(ctx: Context) -> Outcome:
    prefix = ctx.token("creation")
    client = connect(ctx.redis_url, timeout_s=10.0)
    outcome = Outcome("creation", "Creation on the core path (ops per second, median of rounds)")
    try:
        ctx.progress(f"creation: {ctx.size.creation_rounds} rounds of 7 variants")
        measured = interleaved(variants(ctx, prefix, client), ctx.size.creation_rounds)
    finally:
        delete_matching(client, namespace_pattern(prefix))
        delete_matching(client, namespace_pattern(f"{prefix}:lockbased"))
        client.close()
    ctx.progress("creation: Redis-side time on a private redis-server")
    server = server_rows(ctx, prefix)
    outcome.rows += rows(measured, Costs.of(measured, server)) + server
    outcome.notes += NOTES
    return outcome


def fill(core: Core, prefix: str, count: int, batch: int = 100) -> None:
    """Create ``count`` jobs with small payloads, a batch per backend call."""
    for start in range(0, count, batch):
        requests = [
            fleets.request(f"{prefix}-{i}") for i in range(start, min(start + batch, count))
        ]
        create_jobs(requests, core.backend, core.selector, core.fleet)
