"""The benchmarks run at a tiny size, give finite numbers and a table each, and explain
every goal they miss; only a complete full run writes docs/benchmarks.md."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from bench import celery_path, creation, memory, monitor_api, peers, run, selection
from bench.context import Context
from bench.provenance import commit
from bench.render import markdown, show
from bench.results import Outcome, Row
from bench.scratch import escape, scratch_client
from bench.sizes import SIZES, TINY
from tests.conftest import REDIS_URL


def check(outcome: Outcome) -> None:
    assert outcome.rows
    for row in outcome.rows:
        assert row.finite, row
        assert row.value > 0, row
        assert row.ratio is None or row.ratio > 0, row
    assert outcome.unexplained == [], "every missed goal needs a bound"
    out = io.StringIO()
    show(outcome, Console(file=out, width=200))
    assert outcome.title in out.getvalue()
    assert markdown(outcome).count("\n|") == len(outcome.rows) + 2  # header, rule, rows


def leftovers(ctx: Context, name: str) -> list[str]:
    """Keys of the shared Redis whose name holds the benchmark's prefix."""
    with scratch_client(REDIS_URL) as client:
        return list(client.scan_iter(match=f"*{escape(ctx.token(name))}*", count=1000))


def test_selection_gives_a_table() -> None:
    outcome = selection.run(Context(TINY))
    check(outcome)
    assert {row.measure for row in outcome.rows} >= {"selective, 1,000 nodes", "broad, 100 nodes"}


@pytest.mark.redis
def test_creation_gives_a_table_and_cleans_up() -> None:
    ctx = Context(TINY, REDIS_URL)
    outcome = creation.run(ctx)
    check(outcome)
    assert outcome.row("Redis: creation vs floor").ratio is not None
    assert leftovers(ctx, "creation") == []


@pytest.mark.redis
def test_memory_counts_bytes_per_job_on_a_private_server() -> None:
    ctx = Context(TINY, REDIS_URL)
    outcome = memory.run(ctx)
    check(outcome)
    assert outcome.row("Redis: per retained job, by keys").goal == "≤ 1024 B"
    assert leftovers(ctx, "memory") == []


@pytest.mark.redis
def test_monitor_compares_readers_with_the_raw_page() -> None:
    ctx = Context(TINY, REDIS_URL)
    outcome = monitor_api.run(ctx)
    check(outcome)
    assert outcome.row("GET /api/jobs?limit=100").ratio is not None
    assert leftovers(ctx, "monitor") == []


@pytest.mark.redis
@pytest.mark.e2e
@pytest.mark.parametrize("benchmark", [celery_path.run, peers.run], ids=["celery", "peers"])
def test_worker_benchmarks_give_a_table_and_clean_up(
    benchmark: Callable[[Context], Outcome],
) -> None:
    ctx = Context(TINY, REDIS_URL)
    outcome = benchmark(ctx)
    check(outcome)
    assert leftovers(ctx, outcome.name) == []


def test_a_missed_goal_is_explained_under_its_table() -> None:
    bound = "the baseline does less."
    missed = Row("x vs y", 10.0, "/s", "", 0.5, "of y", "≥ 0.9", False, bound)
    outcome = Outcome("t", "T", [missed, Row("y", 20.0, "/s")])
    assert f"- MISSED x vs y (0.50x of y, goal ≥ 0.9): {bound}" in markdown(outcome)
    assert outcome.unexplained == []
    unexplained = Outcome("t", "T", [Row("x", 1.0, "/s", goal="≥ 2", met=False)])
    assert [row.measure for row in unexplained.unexplained] == ["x"]


def output(*argv: str) -> Path | None:
    args = run.parser().parse_args(list(argv))
    return run.output_path(args, run.chosen(args.only))


def test_only_a_complete_full_run_writes_the_docs_report(tmp_path: Path) -> None:
    assert output("--size", "full") == Path(run.DEFAULT_OUTPUT)
    assert output("--size", "full", "--only", "creation,selection") is None
    assert output("--size", "smoke") is None
    elsewhere = tmp_path / "report.md"
    assert output("--size", "smoke", "--output", str(elsewhere)) == elsewhere
    for partial in (("--size", "smoke"), ("--size", "full", "--only", "creation")):
        with pytest.raises(SystemExit, match="only a complete full run"):
            output(*partial, "--output", run.DEFAULT_OUTPUT)


@pytest.mark.redis
def test_the_report_names_its_command_and_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(SIZES, "smoke", TINY)
    path = tmp_path / "report.md"
    argv = ["--only", "selection", "--redis", REDIS_URL, "--output", str(path)]
    assert run.main(argv, prog="jobrelay bench") == 0
    text = path.read_text()
    assert f"Command: `jobrelay bench --only selection --redis {REDIS_URL} --output {path}`" in (
        text
    )
    assert f"Commit: {commit()}" in text
    assert "### Selection: time per Selector.select" in text
