"""Scheduler workers as readers show them: their status, who sweeps, and since when.

Every scheduler worker describes itself to the state store at each sweep. The monitor's
API, live feed and metrics and ``jobrelay schedulers`` all judge those descriptions here,
with one rule: a worker silent for longer than ``offline_after_s`` is offline.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import Field

from app.models import SchedulerStatus, SchedulerWorker
from app.settings import Settings

# Sweeps a worker may miss before it counts as offline, and the shortest silence that
# counts, so that one slow sweep under a short interval does not look like a lost worker.
MISSED_SWEEPS = 3
OFFLINE_FLOOR_S = 5.0


def offline_after_s(settings: Settings) -> float:
    """How long a scheduler worker may stay silent before readers call it offline.

    NOTE: a reader judges with its own ``JOBRELAY_SWEEP_INTERVAL_S``; a scheduler worker
    started with a much longer interval than the reader's looks offline between sweeps.
    """
    return max(MISSED_SWEEPS * settings.sweep_interval_s, OFFLINE_FLOOR_S)


class SchedulerWorkerView(SchedulerWorker):
    """A scheduler worker as it last described itself, judged at one moment."""

    status: SchedulerStatus
    stopped: bool = Field(default=False, exclude=True, description="shown in status")
    sweeping: bool = Field(description="alive, and held the sweep at its last report")
    heartbeat_age_s: float = Field(description="seconds since it last described itself")

    @classmethod
    def judge(cls, worker: SchedulerWorker, now: float, after_s: float) -> SchedulerWorkerView:
        """The worker at ``now``, offline if silent for longer than ``after_s``."""
        status = worker.status_at(now, after_s)
        described = worker.model_dump()
        return cls.model_validate(
            {
                **described,
                "status": status,
                "sweeping": worker.sweeping and status is SchedulerStatus.ALIVE,
                "heartbeat_age_s": round(max(now - worker.last_seen, 0.0), 3),
            }
        )


def judge_all(
    workers: Iterable[SchedulerWorker], settings: Settings, now: float
) -> list[SchedulerWorkerView]:
    """Each worker's view at ``now``, in the order given."""
    after_s = offline_after_s(settings)
    return [SchedulerWorkerView.judge(worker, now, after_s) for worker in workers]
