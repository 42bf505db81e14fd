"""The soak run's table per minute and its verdict: flat memory, no rising errors."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence

from rich.table import Table

from bench.results import Row
from bench.soak_sample import Sample

FLAT_GROWTH = 0.10
HEADERS = (
    "minute", "schedulers MiB", "nodes MiB", "Redis MiB", "keys", "answered/s",
    "created/s", "finished/s", "errors", "backlog max", "queued max",
)  # fmt: skip


def minutes(samples: Sequence[Sample], every_s: float) -> list[tuple[str, ...]]:
    """One row per minute of the run: memory and keys averaged, rates, sums and peaks."""
    found = sorted({sample.minute for sample in samples})
    return [minute_row(m, [s for s in samples if s.minute == m], every_s) for m in found]


def minute_row(minute: int, group: list[Sample], every_s: float) -> tuple[str, ...]:
    span_s = len(group) * every_s

    def mean(pick: Callable[[Sample], float]) -> float:
        return statistics.fmean(pick(sample) for sample in group)

    def per_s(pick: Callable[[Sample], int]) -> str:
        return f"{sum(pick(sample) for sample in group) / span_s:.1f}"

    return (
        str(minute + 1), f"{mean(lambda s: sum(s.schedulers_mb)):.0f}",
        f"{mean(lambda s: sum(s.nodes_mb)):.0f}", f"{mean(lambda s: s.redis_mb):.1f}",
        f"{mean(lambda s: s.keys):,.0f}", per_s(lambda s: s.answered),
        per_s(lambda s: s.created), per_s(lambda s: s.finished),
        str(sum(s.errors for s in group)), str(max(s.backlog for s in group)),
        str(max(s.queued for s in group)),
    )  # fmt: skip


def thirds(samples: Sequence[Sample], duration_s: float) -> tuple[list[Sample], list[Sample]]:
    """The samples of the middle and of the last third of the run."""
    middle = [s for s in samples if duration_s / 3 <= s.at_s < 2 * duration_s / 3]
    last = [s for s in samples if s.at_s >= 2 * duration_s / 3]
    return middle, last


def flat_row(
    measure: str, unit: str, pick: Callable[[Sample], float], parts: tuple[list[Sample], ...]
) -> Row:
    """Memory of the last third against the middle third: flat when it grew < 10%."""
    middle, last = (statistics.fmean(pick(s) for s in part) for part in parts)
    growth = last / middle if middle else float("nan")
    return Row(
        measure, last, unit, f"middle third {middle:,.1f} {unit}, last third {last:,.1f}",
        growth, "last vs middle third", f"< {FLAT_GROWTH:.0%} growth",
        growth < 1 + FLAT_GROWTH,
    )  # fmt: skip


def verdict(samples: Sequence[Sample], duration_s: float) -> list[Row]:
    parts = thirds(samples, duration_s)
    if not all(parts):
        raise RuntimeError("the soak run ended before its last third; no verdict")
    middle_errors, last_errors = (sum(s.errors for s in part) for part in parts)
    return [
        flat_row("schedulers: RSS with pool children", "MiB",
                 lambda s: sum(s.schedulers_mb), parts),
        flat_row("nodes: RSS", "MiB", lambda s: sum(s.nodes_mb), parts),
        flat_row("Redis: used_memory", "MiB", lambda s: s.redis_mb, parts),
        flat_row("Redis: keys of the run", "keys", lambda s: s.keys, parts),
        Row("errors", float(sum(s.errors for s in samples)), "in all",
            f"middle third {middle_errors}, last third {last_errors}", None, "",
            "not rising", last_errors <= middle_errors),
    ]  # fmt: skip


def rich_minutes(rows: list[tuple[str, ...]], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for header in HEADERS:
        table.add_column(header, justify="right")
    for row in rows:
        table.add_row(*row)
    return table


def markdown_minutes(rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---:|" * len(HEADERS)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
