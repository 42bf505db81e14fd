"""Tables of outcomes: rich for the terminal, Markdown for docs/benchmarks.md."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from bench.results import Outcome, Row

HEADERS = ("measure", "value", "detail", "ratio", "goal", "verdict")


def number(value: float) -> str:
    """A readable number: thousands separated, three significant digits when small."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def cells(row: Row) -> tuple[str, ...]:
    ratio = "" if row.ratio is None else f"{row.ratio:.2f}x"
    if row.ratio_of:
        ratio = f"{ratio} {row.ratio_of}".strip()
    verdict = {None: "", True: "met", False: "MISSED"}[row.met]
    return (row.measure, f"{number(row.value)} {row.unit}", row.detail, ratio, row.goal, verdict)


def miss_note(row: Row) -> str:
    """What bounds a missed goal, keyed by its row."""
    reached = cells(row)[3] or f"{number(row.value)} {row.unit}"
    bound = row.bound or "the benchmark gives no note on what bounds it."
    return f"MISSED {row.measure} ({reached}, goal {row.goal}): {bound}"


def rich_table(outcome: Outcome) -> Table:
    table = Table(title=outcome.title, title_justify="left")
    for header in HEADERS:
        table.add_column(header, justify="right" if header == "value" else "left")
    for row in outcome.rows:
        style = "red" if row.met is False else None
        table.add_row(*cells(row), style=style)
    return table


def show(outcome: Outcome, console: Console) -> None:
    console.print(rich_table(outcome))
    for note in outcome.notes:
        console.print(f"  note: {note}", highlight=False)
    for row in outcome.missed:
        console.print(f"  {miss_note(row)}", style="red", highlight=False)
    console.print()


def markdown(outcome: Outcome) -> str:
    lines = [f"### {outcome.title}", "", "| " + " | ".join(HEADERS) + " |"]
    lines.append("|" + "---|" * len(HEADERS))
    for row in outcome.rows:
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells(row)) + " |")
    if outcome.notes:
        lines.append("")
        lines += [f"- {note}" for note in outcome.notes]
    if outcome.missed:
        lines += ["", "Missed goals of this table:", ""]
        lines += [f"- {miss_note(row)}" for row in outcome.missed]
    return "\n".join(lines) + "\n"
