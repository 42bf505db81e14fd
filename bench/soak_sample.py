"""What the soak run records every few seconds: memory, keys, throughput, errors, queues."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import redis

from app.backends.redis_keys import Keys
from bench.scratch import escape
from bench.soak_procs import Processes
from bench.soak_producer import Producer
from bench.worker import broker_patterns
from celeryconfig import NODE_QUEUE_PREFIX, SCHEDULER_QUEUE

EVERY_S = 5.0
PRIORITIES = range(10)
FINAL = ("succeeded", "failed", "cancelled")


def key_patterns(prefix: str) -> list[str]:
    """Every key of the run: state, broker, pidbox, and task results (named by task id)."""
    return [*broker_patterns(prefix), escape(f"celery-task-meta-{prefix}-") + "*"]


@dataclass(frozen=True)
class Sample:
    """One observation; counts are for the interval since the previous sample."""

    at_s: float
    schedulers_mb: list[float]
    nodes_mb: list[float]
    redis_mb: float
    keys: int
    answered: int
    created: int
    finished: int
    errors: int
    backlog: int
    queued: int
    in_flight: int

    @property
    def minute(self) -> int:
        """The minute of the run the sample's interval falls in (by its middle)."""
        return int(max(self.at_s - EVERY_S / 2, 0.0) // 60)


@dataclass
class Totals:
    """Cumulative counts at the previous sample, to turn totals into intervals."""

    answered: int = 0
    created: int = 0
    finished: int = 0
    errors: int = 0
    failed_jobs: int = 0
    requeued: int = 0
    log_errors: int = 0
    exited: set[str] = field(default_factory=set)


class Sampler:
    """Reads the processes, the producer and the run's Redis keys."""

    def __init__(self, client: redis.Redis, prefix: str, procs: Processes,
                 producer: Producer) -> None:  # fmt: skip
        self.client, self.prefix, self.procs, self.producer = client, prefix, procs, producer
        self.keys = Keys(prefix)
        self.totals = Totals()
        self.started = time.monotonic()

    def count_keys(self) -> int:
        return sum(1 for pattern in key_patterns(self.prefix)
                   for _ in self.client.scan_iter(match=pattern, count=1000))  # fmt: skip

    def queues(self, names: Iterable[str]) -> int:
        pipe = self.client.pipeline(transaction=False)
        for name in names:
            pipe.llen(f"{self.prefix}:{name}")
        return sum(int(length) for length in pipe.execute())

    def scheduler_queue(self) -> int:
        names = [SCHEDULER_QUEUE, *(f"{SCHEDULER_QUEUE}:{p}" for p in PRIORITIES if p)]
        return self.queues(names)

    def node_queues(self) -> int:
        names = [f"{NODE_QUEUE_PREFIX}{proc.name}" for proc in self.procs.named("n")]
        return self.queues(names)

    def errors(self, failed_jobs: int) -> int:
        """Every error so far: failed answers, producer exceptions, duplicate creations,
        failed jobs, ERROR lines in the logs, and processes that exited."""
        totals, tally = self.totals, self.producer.tally
        totals.log_errors += sum(proc.new_errors() for proc in self.procs.procs)
        totals.exited |= {proc.name for proc in self.procs.procs if not proc.alive}
        return (tally.failed + tally.exceptions + tally.duplicates + failed_jobs
                + totals.log_errors + len(totals.exited))  # fmt: skip

    def take(self) -> Sample:
        stats = {k: int(float(v)) for k, v in self.client.hgetall(self.keys.stats).items()}
        finished = sum(stats.get(f"ended:{state}", 0) for state in FINAL)
        failed_jobs = stats.get("ended:failed", 0) + stats.get("ended:cancelled", 0)
        self.totals.requeued = stats.get("requeued", 0)
        tally = self.producer.tally
        now = {"answered": tally.answered, "created": tally.created, "finished": finished,
               "errors": self.errors(failed_jobs)}  # fmt: skip
        delta = {name: value - getattr(self.totals, name) for name, value in now.items()}
        for name, value in now.items():
            setattr(self.totals, name, value)
        self.totals.failed_jobs = failed_jobs
        return Sample(
            at_s=time.monotonic() - self.started,
            schedulers_mb=[proc.rss_mb() for proc in self.procs.named("s")],
            nodes_mb=[proc.rss_mb() for proc in self.procs.named("n")],
            redis_mb=int(self.client.info("memory")["used_memory"]) / (1024 * 1024),
            keys=self.count_keys(),
            backlog=int(self.client.zcard(self.keys.backlog)),
            queued=self.scheduler_queue() + self.node_queues(),
            in_flight=self.producer.in_flight,
            **delta,
        )
