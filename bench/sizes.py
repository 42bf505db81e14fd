"""How much each benchmark does at each size."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Size:
    """Counts per benchmark; ``selection_round_s`` caps one round of one selection case."""

    name: str
    creation_rounds: int
    creation_batch: int
    selection_fleets: tuple[int, ...]
    selection_rounds: int
    selection_samples: int
    selection_round_s: float
    celery_rounds: int
    celery_tasks: int
    celery_batches: int
    batch_size: int
    peers_rounds: int
    peers_requests: int
    memory_jobs: int
    monitor_jobs: int
    monitor_rounds: int
    monitor_samples: int


TINY = Size(
    name="tiny",
    creation_rounds=3,
    creation_batch=60,
    selection_fleets=(100, 1_000),
    selection_rounds=3,
    selection_samples=200,
    selection_round_s=0.1,
    celery_rounds=1,
    celery_tasks=50,
    celery_batches=2,
    batch_size=20,
    peers_rounds=1,
    peers_requests=50,
    memory_jobs=200,
    monitor_jobs=300,
    monitor_rounds=2,
    monitor_samples=50,
)

SMOKE = Size(
    name="smoke",
    creation_rounds=5,
    creation_batch=300,
    selection_fleets=(100, 1_000, 10_000),
    selection_rounds=3,
    selection_samples=500,
    selection_round_s=0.3,
    celery_rounds=2,
    celery_tasks=300,
    celery_batches=6,
    batch_size=100,
    peers_rounds=3,
    peers_requests=200,
    memory_jobs=1_000,
    monitor_jobs=2_000,
    monitor_rounds=3,
    monitor_samples=200,
)

FULL = Size(
    name="full",
    creation_rounds=15,
    creation_batch=1_000,
    selection_fleets=(100, 1_000, 10_000, 100_000),
    selection_rounds=5,
    selection_samples=3_000,
    selection_round_s=1.0,
    celery_rounds=5,
    celery_tasks=2_000,
    celery_batches=30,
    batch_size=100,
    peers_rounds=5,
    peers_requests=1_000,
    memory_jobs=10_000,
    monitor_jobs=10_000,
    monitor_rounds=5,
    monitor_samples=500,
)

SIZES = {size.name: size for size in (TINY, SMOKE, FULL)}
