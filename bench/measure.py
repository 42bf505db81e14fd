"""Timing helpers: clocks, percentiles and interleaved rounds."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

T = TypeVar("T")


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by the nearest-rank method."""
    if not samples:
        raise ValueError("no samples to take a percentile of")
    ordered = sorted(samples)
    rank = max(math.ceil(q / 100 * len(ordered)), 1)
    return ordered[rank - 1]


def median(samples: Sequence[float]) -> float:
    return float(statistics.median(samples))


def rate(count: int, seconds: float) -> float:
    """Operations per second, never dividing by zero."""
    return count / max(seconds, 1e-9)


def ops_per_s(operation: Callable[[int], object], count: int) -> float:
    """Run ``operation(i)`` for i in range(count) back to back; return operations per second."""
    started = time.perf_counter()
    for index in range(count):
        operation(index)
    return rate(count, time.perf_counter() - started)


def latencies_s(operation: Callable[[int], object], count: int) -> list[float]:
    """Time each of ``count`` calls of ``operation(i)`` separately, in seconds."""
    samples = []
    clock = time.perf_counter
    for index in range(count):
        started = clock()
        operation(index)
        samples.append(clock() - started)
    return samples


def interleaved(variants: Mapping[str, Callable[[], T]], rounds: int) -> dict[str, list[T]]:
    """Run each variant once per round, in turn (A, B, C, A, B, C, ...), to cancel drift.

    Each variant returns one measurement per call; the lists keep them per variant.
    """
    measured: dict[str, list[T]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, variant in variants.items():
            measured[name].append(variant())
    return measured


def paired(measured: Mapping[str, Sequence[float]], top: str, bottom: str) -> float:
    """The median over rounds of the per-round ratio top/bottom."""
    return median([a / b for a, b in zip(measured[top], measured[bottom], strict=True)])


def round_percentile(rounds: Sequence[Sequence[float]], q: float) -> float:
    """The median over rounds of each round's ``q``-th percentile."""
    return median([percentile(samples, q) for samples in rounds])
