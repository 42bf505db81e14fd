"""The in-process benchmarks run at a tiny size and give finite numbers and a table."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from bench import creation, selection
from bench.context import Context
from bench.render import markdown, show
from bench.results import Outcome
from bench.sizes import TINY
from tests.conftest import REDIS_URL


def check(outcome: Outcome) -> None:
    assert outcome.rows
    for row in outcome.rows:
        assert row.finite, row
        assert row.value > 0, row
        assert row.ratio is None or row.ratio > 0, row
    out = io.StringIO()
    show(outcome, Console(file=out, width=200))
    assert outcome.title in out.getvalue()
    assert markdown(outcome).count("\n|") == len(outcome.rows) + 2  # header, rule, rows


def test_selection_gives_a_table() -> None:
    outcome = selection.run(Context(TINY))
    check(outcome)
    assert {row.measure for row in outcome.rows} >= {"selective, 1,000 nodes", "broad, 100 nodes"}


@pytest.mark.redis
def test_creation_gives_a_table_and_cleans_up() -> None:
    outcome = creation.run(Context(TINY, REDIS_URL))
    check(outcome)
    assert outcome.row("Redis: creation vs floor").ratio is not None
