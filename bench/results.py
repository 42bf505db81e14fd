"""What a benchmark returns: rows of absolute numbers, ratios and goals, and notes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Row:
    """One measured quantity, optionally compared with a baseline and a goal.

    ``bound`` says what bounds the figure; it is shown only when the goal is missed.
    Baselines carry no goal.
    """

    measure: str
    value: float
    unit: str
    detail: str = ""
    ratio: float | None = None
    ratio_of: str = ""
    goal: str = ""
    met: bool | None = None
    bound: str = ""

    @property
    def finite(self) -> bool:
        numbers = [self.value] if self.ratio is None else [self.value, self.ratio]
        return all(math.isfinite(number) for number in numbers)


@dataclass
class Outcome:
    """The table of one benchmark and what bounds its missed goals."""

    name: str
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def row(self, measure: str) -> Row:
        return next(row for row in self.rows if row.measure == measure)

    @property
    def missed(self) -> list[Row]:
        return [row for row in self.rows if row.met is False]

    @property
    def unexplained(self) -> list[Row]:
        """Missed goals whose row does not say what bounds them."""
        return [row for row in self.missed if not row.bound]


def at_least(ratio: float, goal: float) -> tuple[str, bool]:
    return f"≥ {goal:g}", ratio >= goal


def at_most(value: float, goal: float, unit: str) -> tuple[str, bool]:
    return f"≤ {goal:g} {unit}", value <= goal
