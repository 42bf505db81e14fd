"""The one rule readers judge scheduler workers by."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.models import SchedulerStatus, SchedulerWorker
from app.scheduler_workers import SchedulerWorkerView, judge_all, offline_after_s
from app.settings import load_settings
from tests.support.schedulers import scheduler_worker

NOW = 1_700_000_000.0


def worker(name: str, last_seen: float, **fields: Any) -> SchedulerWorker:
    return scheduler_worker(name, last_seen, **{"started_at": NOW - 600, **fields})


@pytest.mark.parametrize(
    ("sweep_interval_s", "expected_s"), [(0.2, 5.0), (1.0, 5.0), (2.0, 6.0), (10.0, 30.0)]
)
def test_offline_after_three_missed_sweeps_and_never_sooner_than_five_seconds(
    tmp_path: Path, sweep_interval_s: float, expected_s: float
) -> None:
    settings = load_settings(mode="local", data_dir=tmp_path, sweep_interval_s=sweep_interval_s)
    assert offline_after_s(settings) == expected_s


def test_only_an_alive_worker_counts_as_sweeping() -> None:
    workers = [
        worker("fresh", NOW - 1, sweeping=True),
        worker("silent", NOW - 11, sweeping=True),
        worker("gone", NOW - 1, sweeping=True, stopped=True),
    ]

    judged = [SchedulerWorkerView.judge(w, NOW, after_s=10) for w in workers]

    assert [(w.name, w.status, w.sweeping) for w in judged] == [
        ("fresh", SchedulerStatus.ALIVE, True),
        ("silent", SchedulerStatus.OFFLINE, False),
        ("gone", SchedulerStatus.STOPPED, False),
    ]
    assert [w.heartbeat_age_s for w in judged] == [1.0, 11.0, 1.0]


def test_judge_all_applies_the_settings_rule(tmp_path: Path) -> None:
    settings = load_settings(mode="local", data_dir=tmp_path, sweep_interval_s=4)
    workers = [worker("s1", NOW - 11.9), worker("s2", NOW - 12.1), worker("ahead", NOW + 2)]

    judged = judge_all(workers, settings, NOW)

    assert [w.status for w in judged] == ["alive", "offline", "alive"]
    assert judged[2].heartbeat_age_s == 0.0
