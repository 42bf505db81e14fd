"""CPU time of the processes a Celery round keeps busy: the worker, Redis and this client."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import psutil
import redis

from bench.measure import median


def tree_cpu_s(pid: int) -> float:
    """User and system CPU seconds of process ``pid`` and its running children."""
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    return processes_cpu_s(tree)


def processes_cpu_s(processes: Iterable[psutil.Process]) -> float:
    """User and system CPU seconds of ``processes``; those gone meanwhile count nothing."""
    total = 0.0
    for proc in processes:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def redis_cpu_s(client: redis.Redis) -> float:
    """CPU seconds the Redis server has used since it started (all its clients)."""
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def cores() -> int:
    return os.cpu_count() or 1


@dataclass(frozen=True)
class Cpu:
    """CPU time of the worker (with its pool), the Redis ``server`` and this process."""

    worker: float
    server: float
    client: float

    @classmethod
    def sample(cls, worker_pid: int, client: redis.Redis) -> Cpu:
        return cls(tree_cpu_s(worker_pid), redis_cpu_s(client), time.process_time())

    @property
    def total(self) -> float:
        return self.worker + self.server + self.client

    def __sub__(self, other: Cpu) -> Cpu:
        return Cpu(self.worker - other.worker, self.server - other.server,
                   self.client - other.client)  # fmt: skip

    def scaled(self, factor: float) -> Cpu:
        return Cpu(self.worker * factor, self.server * factor, self.client * factor)

    @classmethod
    def median(cls, samples: Sequence[Cpu]) -> Cpu:
        """Each part's median over ``samples``."""
        parts = zip(*((s.worker, s.server, s.client) for s in samples), strict=True)
        return cls(*(median(list(values)) for values in parts))
