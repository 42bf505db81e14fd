"""Time per ``Selector.select`` as the fleet grows, for selective and broad requests.

Every fleet is built first; the rounds then time every case on every fleet in turn, so
that drift of the shared machine reaches all sizes alike. A p99 is the median of the
rounds' p99s, and growth is judged between consecutive fleet sizes.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from app.creation import new_job
from app.models import Job
from app.selection import FleetView, Selection, Selector
from bench import fleets
from bench.context import Context
from bench.measure import interleaved, latencies_s, median, round_percentile
from bench.profiling import hot_spots
from bench.results import Outcome, Row, at_most

GOAL_FLEET = 10_000
GOAL_P99_MS = 1.0
MIN_SAMPLES = 200
CALIBRATION_CALLS = 5


@dataclass(frozen=True)
class Case:
    name: str
    requires: str
    share: str


CASES = (
    Case("selective", fleets.RARE, f"{fleets.RARE_SHARE:.0%} match"),
    Case("broad", fleets.COMMON, f"{fleets.COMMON_SHARE:.0%} match"),
)


@dataclass(frozen=True)
class Cell:
    """One case on one fleet: the call to time and how many samples a round takes."""

    case: Case
    fleet: int
    call: Callable[[], Selection]
    samples: int

    @property
    def name(self) -> str:
        return f"{self.case.name}, {self.fleet:,} nodes"

    def round(self) -> list[float]:
        return latencies_s(lambda _: self.call(), self.samples)


@dataclass(frozen=True)
class Timing:
    cell: Cell
    p50_s: float
    p99_s: float
    rounds: int
    candidates: int


def job_for(case: Case, now: float) -> Job:
    return new_job(fleets.request(f"select-{case.name}", requires=[case.requires]), now)


def samples_for(ctx: Context, call: Callable[[], Selection]) -> int:
    """As many samples as fit in a round's time, between MIN_SAMPLES and the size's count."""
    cost_s = median(latencies_s(lambda _: call(), CALIBRATION_CALLS))
    fitting = int(ctx.size.selection_round_s / max(cost_s, 1e-9))
    return max(MIN_SAMPLES, min(ctx.size.selection_samples, fitting))


def cells(ctx: Context, now: float) -> list[Cell]:
    found = []
    for fleet in ctx.size.selection_fleets:
        ctx.progress(f"selection: building a fleet of {fleet:,} nodes")
        view = FleetView.build(fleets.synthetic_fleet(fleet, now), now)
        for case in CASES:
            selector, job = Selector(seed=1), job_for(case, now)
            call = functools.partial(selector.select, job, view, now)
            found.append(Cell(case, fleet, call, samples_for(ctx, call)))
    return found


def timing(cell: Cell, rounds: list[list[float]]) -> Timing:
    eligible = cell.call().explanation.candidates
    p50, p99 = (round_percentile(rounds, q) for q in (50, 99))
    return Timing(cell, p50, p99, len(rounds), eligible)


def growth_row(now: Timing, before: Timing | None) -> Row:
    """A fleet size's p99, and its growth from the next smaller fleet."""
    cell = now.cell
    detail = (
        f"p50 {now.p50_s * 1e6:.1f} µs; {now.candidates:,} eligible, {cell.case.share}; "
        f"{now.rounds} rounds x {cell.samples:,} samples"
    )
    if before is None:
        return Row(cell.name, now.p99_s * 1e6, "µs p99", detail)
    growth, factor = now.p99_s / before.p99_s, cell.fleet / before.cell.fleet
    exponent = math.log(growth) / math.log(factor)
    goal, met = ("", None)
    if cell.case.name == "selective":
        goal, met = f"sub-linear (< {factor:g}x)", growth < factor
    return Row(
        cell.name, now.p99_s * 1e6, "µs p99", detail, growth,
        f"for x{factor:g} nodes (exponent {exponent:.2f})", goal, met,
        bound=growth_bound(now, before, growth) if met is False else "",
    )  # fmt: skip


def growth_bound(now: Timing, before: Timing, growth: float) -> str:
    return (
        f"p99 grew {growth:.1f}x, from {before.p99_s * 1e6:,.0f} µs at "
        f"{before.cell.fleet:,} nodes to {now.p99_s * 1e6:,.0f} µs at {now.cell.fleet:,}, "
        f"while the eligible nodes went from {before.candidates:,} to {now.candidates:,}; "
        f"{profile(now.cell)}"
    )


def goal_row(now: Timing) -> Row:
    p99_ms = now.p99_s * 1e3
    goal, met = at_most(p99_ms, GOAL_P99_MS, "ms p99")
    bound = (
        f"p99 {p99_ms:.2f} ms with {now.candidates:,} eligible of {now.cell.fleet:,} nodes; "
        f"{profile(now.cell)}"
    )
    return Row(
        f"selective p99 at {now.cell.fleet:,} nodes", p99_ms, "ms p99",
        f"median of {now.rounds} rounds' p99", None, "", goal, met,
        bound=bound if not met else "",
    )  # fmt: skip


def profile(cell: Cell) -> str:
    spots = hot_spots(cell.call, repeat=5)
    return f"cProfile of {cell.case.name} at {cell.fleet:,} nodes, own time: {spots}."


def rows(timings: list[Timing]) -> list[Row]:
    found = []
    for case in CASES:
        mine = [t for t in timings if t.cell.case == case]
        found += [growth_row(t, mine[i - 1] if i else None) for i, t in enumerate(mine)]
        if case.name == "selective":
            found += [goal_row(t) for t in mine if t.cell.fleet == GOAL_FLEET]
    return found


def run(ctx: Context) -> Outcome:
    outcome = Outcome("selection", "Selection: time per Selector.select (median of rounds)")
    measured = cells(ctx, time.time())
    ctx.progress(f"selection: {ctx.size.selection_rounds} rounds of {len(measured)} cases")
    variants = {cell.name: cell.round for cell in measured}
    rounds = interleaved(variants, ctx.size.selection_rounds)
    outcome.rows += rows([timing(cell, rounds[cell.name]) for cell in measured])
    outcome.notes.append(
        f"each round times every case on every fleet in turn, as many samples as fit in "
        f"{ctx.size.selection_round_s:g}s (at least {MIN_SAMPLES}, at most "
        f"{ctx.size.selection_samples:,}); growth is p99 against the next smaller fleet."
    )
    return outcome
