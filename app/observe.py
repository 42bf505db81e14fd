"""Histogram buckets kept as plain counters in the backend, so every process adds to them.

A histogram ``name`` is stored as counters ``hist:<name>:<le>`` (one per bucket, not
cumulative), ``hist:<name>:count`` and ``hist:<name>:sum``.
"""

from __future__ import annotations

import bisect

BUCKETS: dict[str, tuple[float, ...]] = {
    "select_s": (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05),
    "wait_s": (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0, 600.0),
    "run_s": (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0, 600.0, 3600.0),
}


def bucket_key(name: str, value: float) -> str:
    """The counter of the smallest bucket that holds ``value`` (``+Inf`` past the last)."""
    bounds = BUCKETS[name]
    index = bisect.bisect_left(bounds, value)
    label = "+Inf" if index == len(bounds) else repr(bounds[index])
    return f"hist:{name}:{label}"


def observation(name: str, value: float) -> dict[str, float]:
    """Counter increments that record one observation, bucket, count and sum."""
    return {bucket_key(name, value): 1, f"hist:{name}:count": 1, f"hist:{name}:sum": value}
