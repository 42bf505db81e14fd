"""How much each benchmark does at each size."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Size:
    name: str
    creation_rounds: int
    creation_batch: int
    selection_fleets: tuple[int, ...]
    selection_samples: int
    selection_budget: int
    celery_rounds: int
    celery_tasks: int
    celery_batches: int
    batch_size: int
    peers_requests: int
    memory_jobs: int
    monitor_jobs: int
    monitor_samples: int


TINY = Size(
    name="tiny",
    creation_rounds=3,
    creation_batch=60,
    selection_fleets=(100, 1_000),
    selection_samples=100,
    selection_budget=50_000,
    celery_rounds=1,
    celery_tasks=50,
    celery_batches=2,
    batch_size=20,
    peers_requests=50,
    memory_jobs=200,
    monitor_jobs=300,
    monitor_samples=20,
)

SMOKE = Size(
    name="smoke",
    creation_rounds=5,
    creation_batch=300,
    selection_fleets=(100, 1_000, 10_000),
    selection_samples=500,
    selection_budget=1_000_000,
    celery_rounds=2,
    celery_tasks=300,
    celery_batches=6,
    batch_size=100,
    peers_requests=300,
    memory_jobs=1_000,
    monitor_jobs=2_000,
    monitor_samples=100,
)

FULL = Size(
    name="full",
    creation_rounds=15,
    creation_batch=1_000,
    selection_fleets=(100, 1_000, 10_000, 100_000),
    selection_samples=3_000,
    selection_budget=5_000_000,
    celery_rounds=5,
    celery_tasks=2_000,
    celery_batches=30,
    batch_size=100,
    peers_requests=3_000,
    memory_jobs=10_000,
    monitor_jobs=10_000,
    monitor_samples=500,
)

SIZES = {size.name: size for size in (TINY, SMOKE, FULL)}
