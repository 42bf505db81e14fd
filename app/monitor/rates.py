"""Rates of creation and completion from a small ring of recent stats samples.

The ring is derived data: it can be lost at any time (a restart empties it) and is
rebuilt from the next samples; nothing is decided from it.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from dataclasses import dataclass

from pydantic import BaseModel, Field

from app.backends.base import Stats

MIN_SPACING_S = 0.5
WINDOW_S = 10.0
RING_SIZE = 120
HISTORY_POINTS = 60


@dataclass(frozen=True)
class Sample:
    at: float
    created: float
    finished: float
    failed: float


class RatePoint(BaseModel):
    """Rates over the interval that ends at ``at``, in jobs per second."""

    at: float
    created: float
    finished: float
    failed: float


class Rates(BaseModel):
    """Current rates (None until two samples exist) and the recent history for a chart."""

    created_per_s: float | None = None
    finished_per_s: float | None = None
    failed_per_s: float | None = None
    window_s: float | None = Field(default=None, description="the interval the rates cover")
    history: list[RatePoint] = Field(default_factory=list)


def sample_of(stats: Stats, at: float) -> Sample:
    """``finished`` counts jobs that ended in any final state; ``failed`` those that failed."""
    counters = stats.counters
    ended = sum(value for name, value in counters.items() if name.startswith("ended:"))
    return Sample(at, counters.get("created", 0.0), ended, counters.get("ended:failed", 0.0))


def rate_between(old: Sample, new: Sample) -> RatePoint:
    span = max(new.at - old.at, 1e-9)
    return RatePoint(
        at=new.at,
        created=max(new.created - old.created, 0.0) / span,
        finished=max(new.finished - old.finished, 0.0) / span,
        failed=max(new.failed - old.failed, 0.0) / span,
    )


class RateRing:
    """The last ``RING_SIZE`` samples, at least ``MIN_SPACING_S`` apart. Thread-safe."""

    def __init__(self, size: int = RING_SIZE) -> None:
        self._samples: deque[Sample] = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, stats: Stats, at: float) -> None:
        sample = sample_of(stats, at)
        with self._lock:
            last = self._samples[-1] if self._samples else None
            if last is not None and sample.created < last.created:
                # The store started over (a new local scheduler): older samples mean nothing.
                self._samples.clear()
            elif last is not None and at - last.at < MIN_SPACING_S:
                return
            self._samples.append(sample)

    def rates(self) -> Rates:
        with self._lock:
            samples = list(self._samples)
        if len(samples) < 2:
            return Rates()
        newest = samples[-1]
        recent = [s for s in samples[:-1] if newest.at - s.at <= WINDOW_S] or [samples[-2]]
        current = rate_between(recent[0], newest)
        tail = samples[-HISTORY_POINTS - 1 :]
        return Rates(
            created_per_s=current.created,
            finished_per_s=current.finished,
            failed_per_s=current.failed,
            window_s=newest.at - recent[0].at,
            history=[rate_between(old, new) for old, new in itertools.pairwise(tail)],
        )
