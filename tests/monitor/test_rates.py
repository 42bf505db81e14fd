"""Rates from the difference of two stats samples."""

from __future__ import annotations

from app.backends.base import Stats
from app.monitor.rates import RateRing


def stats(created: float, succeeded: float = 0, failed: float = 0) -> Stats:
    counters = {"created": created, "ended:succeeded": succeeded, "ended:failed": failed}
    return Stats(counters=counters)


def test_no_rates_from_one_sample() -> None:
    ring = RateRing()
    ring.add(stats(10), at=100.0)

    assert ring.rates().created_per_s is None


def test_rates_are_differences_over_time() -> None:
    ring = RateRing()
    ring.add(stats(10, 0, 0), at=100.0)
    ring.add(stats(30, 8, 2), at=102.0)

    rates = ring.rates()

    assert rates.created_per_s == 10.0
    assert rates.finished_per_s == 5.0
    assert rates.failed_per_s == 1.0
    assert rates.window_s == 2.0
    assert len(rates.history) == 1


def test_close_samples_are_skipped_and_a_reset_starts_over() -> None:
    ring = RateRing()
    ring.add(stats(10), at=100.0)
    ring.add(stats(11), at=100.1)
    ring.add(stats(20), at=101.0)
    assert ring.rates().created_per_s == 10.0

    ring.add(stats(2), at=102.0)

    assert ring.rates().created_per_s is None
