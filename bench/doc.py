"""docs/benchmarks.md: the command, the commit, the machine, the tables and their notes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bench.provenance import Run
from bench.render import markdown
from bench.results import Outcome

INTRO = (
    "Every ratio compares two things measured in the same run, interleaved where the "
    "benchmark allows, because the machine is shared and noisy; absolute numbers move "
    "from run to run, ratios much less. Rows marked MISSED name a goal not reached; each "
    "has a note under its table that says what bounds it."
)


def header(run: Run) -> list[str]:
    return [
        f"Command: `{run.command}`  ",
        f"Commit: {run.commit}  ",
        f"Started: {run.start.describe()}  ",
        f"Ended: {run.end.describe()}",
        "",
        "Machine:",
        "",
        *[f"- {line}" for line in run.machine],
    ]


def missed_goals(outcomes: Sequence[Outcome]) -> list[str]:
    missed = [f"- {o.name}: {row.measure}" for o in outcomes for row in o.missed]
    return ["Missed goals:", "", *missed] if missed else ["Missed goals: none."]


def report(run: Run, outcomes: Sequence[Outcome]) -> str:
    lines = ["# Benchmarks", "", INTRO, "", *header(run), "", *missed_goals(outcomes), ""]
    lines += ["## Tables", ""]
    lines += [markdown(outcome) for outcome in outcomes]
    return "\n".join(lines)


def write(path: Path, run: Run, outcomes: Sequence[Outcome]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report(run, outcomes))
