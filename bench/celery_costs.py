"""What a drained Celery round cost per item, and what bounds the rates it reached.

The bounds split the worker's time as far as the run measured it: the CPU of the worker,
Redis and this client per item, and the scheduler's step timed in this process.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench import cpu
from bench.celery_steps import Step, Steps
from bench.cpu import Cpu
from bench.measure import median, rate


@dataclass(frozen=True)
class Drain:
    """One round of one variant: the items drained, the wall time and the CPU it took."""

    items: int
    elapsed_s: float
    cpu: Cpu

    @property
    def rate(self) -> float:
        return rate(self.items, self.elapsed_s)


@dataclass(frozen=True)
class PerItem:
    """One variant over its rounds: the median rate, and wall and CPU ms per item."""

    rate: float
    wall_ms: float
    cpu_ms: Cpu

    @classmethod
    def of(cls, drains: list[Drain]) -> PerItem:
        value = median([drain.rate for drain in drains])
        per_item = Cpu.median([drain.cpu.scaled(1e3 / drain.items) for drain in drains])
        return cls(value, 1e3 / value, per_item)

    @property
    def serving_ms(self) -> float:
        """CPU per item of the worker and Redis; this client collects part of its results
        after the last task ended, so it is left out of rates of CPU use."""
        return self.cpu_ms.worker + self.cpu_ms.server

    @property
    def busy_cores(self) -> float:
        """How many cores the worker and Redis kept busy on average."""
        return self.rate * self.serving_ms / 1e3

    def cpu_text(self) -> str:
        ms = self.cpu_ms
        return f"worker {ms.worker:.2f}, Redis {ms.server:.2f}, this client {ms.client:.2f}"


def cpu_ratio(noop: PerItem, single: PerItem) -> str:
    return (
        f"the worker and Redis kept {single.busy_cores:.1f} and {noop.busy_cores:.1f} of the "
        f"{cpu.cores()} cores busy, and their CPU per task alone would put the ratio at "
        f"{noop.serving_ms / single.serving_ms:.2f}x"
    )


def worker_extra(noop: PerItem, single: PerItem, steps: Steps) -> str:
    """Where the worker's extra CPU per create_job task goes, as far as timed apart."""
    step, extra = steps.single, single.cpu_ms.worker - noop.cpu_ms.worker
    rendering = step.repr_ms - steps.noop.repr_ms
    rest = extra - step.cpu_ms - rendering
    left = (
        f"That leaves {rest:.2f} of the {extra:.2f} ms not timed apart; storing the larger "
        "result is part of it"
        if rest > 0
        else "The step and the rendering account for all of it"
    )
    return (
        f"The worker spends {extra:.2f} ms more CPU per task. Timed in this process against "
        f"the same Redis and broker, the scheduler's step takes {step.wall_ms:.2f} ms of wall "
        f"time and {step.cpu_ms:.2f} ms of CPU: {step.before_handoff_ms:.2f} ms to parse the "
        f"request and create the job (see the creation table) and "
        f"{step.handoff_wall_ms:.2f} ms to publish its hand-off. Celery renders every "
        f"task's answer with saferepr, whether or not it logs it; for the answer of "
        f"{step.answer_bytes:.0f} bytes of JSON against the no-op's "
        f"{steps.noop.answer_bytes:.0f} that takes {rendering:.2f} ms more CPU. {left}"
    )


def single_bound(noop: PerItem, single: PerItem, steps: Steps) -> str:
    return (
        f"a create_job task takes {single.wall_ms:.2f} ms of the worker's time against "
        f"{noop.wall_ms:.2f} ms for a no-op (two pool processes). CPU per task in ms, "
        f"create_job: {single.cpu_text()}; no-op: {noop.cpu_text()}; "
        f"{cpu_ratio(noop, single)}. {worker_extra(noop, single, steps)}."
    )


def beyond_step(worker_ms: float, step: Step) -> str:
    """What the worker's CPU per item is beyond the scheduler's step timed here."""
    beyond = worker_ms - step.cpu_ms
    if beyond <= 0:
        return "the step accounts for all of the worker's CPU per job"
    return (
        f"the worker's CPU beyond the step ({beyond:.3f} ms per job) is Celery's: "
        f"receiving the batch and sending its answer of {step.answer_bytes:.0f} bytes of "
        "JSON per job"
    )


def batch_bound(batch: PerItem, steps: Steps, size: int) -> str:
    step, cores = steps.batch, cpu.cores()
    ceiling = cores * 1e3 / batch.serving_ms
    return (
        f"a job takes {batch.wall_ms:.3f} ms of the worker's time; CPU per job in ms: "
        f"{batch.cpu_text()}. The worker and Redis kept {batch.busy_cores:.1f} of the "
        f"{cores} cores busy; with all of them, at this CPU per job, they would drain at most "
        f"{ceiling:,.0f} jobs/s. Timed in this "
        f"process, the scheduler's step of a batch of {size} takes {step.wall_ms:.3f} ms per "
        f"job ({step.cpu_ms:.3f} ms CPU): {step.before_handoff_ms:.3f} ms to parse, select "
        f"and claim (one pipelined round trip per batch) and {step.handoff_wall_ms:.3f} ms "
        f"to build and publish the run orders (one pipelined round trip); "
        f"{beyond_step(batch.cpu_ms.worker, step)}."
    )
