"""The command line's parts that need no cluster."""

from __future__ import annotations

import click
import pytest

from workers.cli.demo_load import RACERS, build_plan
from workers.cli.options import parse_pairs, request_from_flags
from workers.cli.serve_commands import has_option


def test_request_from_flags_leaves_unset_fields_out() -> None:
    request = request_from_flags(
        {"kind": "echo", "payload": '{"a": 1}', "selector": ("pool=eu",), "priority": 5}
    )
    assert request["kind"] == "echo"
    assert request["payload"] == {"a": 1}
    assert request["selector"] == {"pool": "eu"}
    assert request["priority"] == 5
    assert request["request_id"]
    assert "requires" not in request
    assert "timeout_s" not in request


def test_request_needs_a_kind() -> None:
    with pytest.raises(click.UsageError, match="--kind"):
        request_from_flags({"payload": "{}"})


def test_pairs_need_an_equals_sign() -> None:
    assert parse_pairs(["a=1", "b=x=y"], "--label") == {"a": "1", "b": "x=y"}
    with pytest.raises(click.BadParameter):
        parse_pairs(["novalue"], "--label")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--pool", "solo"], True),
        (["--pool=solo"], True),
        (["-P", "solo"], True),
        (["-Psolo"], True),
        (["--concurrency", "2"], False),
        ([], False),
    ],
)
def test_has_option_sees_every_spelling(args: list[str], expected: bool) -> None:
    assert has_option(args, "--pool", "-P") is expected


@pytest.mark.parametrize("total", [20, 60, 300, 1001])
def test_demo_plan_adds_up(total: int) -> None:
    plan = build_plan(total, seed=1)
    fresh_ids = {request["request_id"] for request in plan.fresh}

    assert plan.total == total
    assert plan.expected_duplicates == len(plan.repeats) + len(plan.racing) * (RACERS - 1)
    assert plan.expected_duplicates >= total // 5
    assert plan.conflict["request_id"] in fresh_ids
    assert all(request["request_id"] in fresh_ids for request in plan.repeats)
    assert all(request["requires"] == ["asr:ja"] for request in plan.unservable)
