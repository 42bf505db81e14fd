"""Time per ``Selector.select`` as the fleet grows, for selective and broad requests."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

from app.creation import new_job
from app.models import Job
from app.selection import FleetView, Selector
from bench import fleets
from bench.context import Context
from bench.measure import latencies_s, percentile
from bench.profiling import hot_spots
from bench.results import Outcome, Row, at_most

GOAL_FLEET = 10_000
GOAL_P99_MS = 1.0
MIN_SAMPLES = 20


@dataclass(frozen=True)
class Case:
    name: str
    requires: str
    share: str


CASES = (
    Case("selective", fleets.RARE, f"{fleets.RARE_SHARE:.0%} of nodes match"),
    Case("broad", fleets.COMMON, f"{fleets.COMMON_SHARE:.0%} of nodes match"),
)


@dataclass(frozen=True)
class Timing:
    case: Case
    fleet: int
    p50_s: float
    p99_s: float
    candidates: int


def samples_for(ctx: Context, case: Case, fleet: int) -> int:
    """Selective requests get every sample; broad ones are capped by a node-visit budget."""
    if case.name == "selective":
        return ctx.size.selection_samples
    return max(MIN_SAMPLES, min(ctx.size.selection_samples, ctx.size.selection_budget // fleet))


def job_for(case: Case, now: float) -> Job:
    return new_job(fleets.request(f"select-{case.name}", requires=[case.requires]), now)


def _select(selector: Selector, job: Job, view: FleetView, now: float, _: int) -> object:
    return selector.select(job, view, now)


def measure(ctx: Context, fleet: int) -> list[Timing]:
    now = time.time()
    view = FleetView.build(fleets.synthetic_fleet(fleet, now), now)
    selector = Selector(seed=1)
    timings = []
    for case in CASES:
        job = job_for(case, now)
        selector.select(job, view, now)
        count = samples_for(ctx, case, fleet)
        samples = latencies_s(functools.partial(_select, selector, job, view, now), count)
        candidates = selector.select(job, view, now).explanation.candidates
        timings.append(
            Timing(case, fleet, percentile(samples, 50), percentile(samples, 99), candidates)
        )
    return timings


def row(timing: Timing, smallest: Timing) -> Row:
    growth = timing.p99_s / smallest.p99_s
    factor = timing.fleet / smallest.fleet
    goal, met = "", None
    if timing.case.name == "selective" and timing.fleet == GOAL_FLEET:
        goal, met = at_most(timing.p99_s * 1e3, GOAL_P99_MS, "ms p99")
    elif timing.case.name == "selective" and timing.fleet > smallest.fleet:
        goal, met = f"sub-linear (< {factor:g}x)", growth < factor
    return Row(
        f"{timing.case.name}, {timing.fleet:,} nodes",
        timing.p99_s * 1e6,
        "µs p99",
        f"p50 {timing.p50_s * 1e6:.1f} µs; {timing.candidates:,} eligible; {timing.case.share}",
        growth,
        f"p99 vs {smallest.fleet:,} nodes (fleet x{factor:g})",
        goal,
        met,
    )


def profile_note(fleet: int, case: Case) -> str:
    now = time.time()
    view = FleetView.build(fleets.synthetic_fleet(fleet, now), now)
    selector, job = Selector(seed=1), job_for(case, now)
    spots = hot_spots(lambda: selector.select(job, view, now), repeat=5)
    return f"cProfile, {case.name} at {fleet:,} nodes, own time: {spots}."


def run(ctx: Context) -> Outcome:
    outcome = Outcome("selection", "Selection: time per Selector.select")
    by_case: dict[str, list[Timing]] = {case.name: [] for case in CASES}
    for fleet in ctx.size.selection_fleets:
        ctx.progress(f"selection: {fleet:,} nodes")
        for timing in measure(ctx, fleet):
            by_case[timing.case.name].append(timing)
    for timings in by_case.values():
        outcome.rows += [row(timing, timings[0]) for timing in timings]
    largest = ctx.size.selection_fleets[-1]
    outcome.notes.append(profile_note(largest, CASES[1]))
    if outcome.missed:
        outcome.notes.append(profile_note(min(largest, GOAL_FLEET), CASES[0]))
    outcome.notes.append(
        "selective requests take their candidates from the capability index, so their time "
        "grows with the number of matching nodes; broad ones (when one node in eight or "
        "more matches) walk the fleet from the least loaded node and stop at the first "
        "eight that pass, so their time hardly grows with the fleet."
    )
    return outcome
