"""docker-compose.yml, checked without Docker: its shape, and every jobrelay command in it
parsed by the real command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from workers.cli.main import cli

COMPOSE = Path(__file__).resolve().parents[1] / "docker-compose.yml"


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text())
    return dict(loaded["services"])


def test_the_cluster_has_persistent_redis_two_schedulers_three_nodes_monitor_and_flower(
    services: dict[str, Any],
) -> None:
    assert "--appendonly" in services["redis"]["command"]
    assert [name for name in services if name.startswith("scheduler")] == [
        "scheduler-1",
        "scheduler-2",
    ]
    assert len([name for name in services if name.startswith("node-")]) == 3
    assert {"monitor", "flower"} <= set(services)
    for name, service in services.items():
        if name != "flower":
            assert "healthcheck" in service, name


def test_every_service_runs_in_cross_instance_mode_on_the_redis(services: dict[str, Any]) -> None:
    for name, service in services.items():
        if name == "redis":
            continue
        env = service["environment"]
        assert env["JOBRELAY_MODE"] == "cross_instance", name
        assert env["JOBRELAY_REDIS_URL"] == "redis://redis:6379/0", name
        assert service["depends_on"]["redis"]["condition"] == "service_healthy", name


def test_the_monitor_needs_a_token_when_it_listens_beyond_loopback(
    services: dict[str, Any],
) -> None:
    monitor = services["monitor"]
    assert "0.0.0.0" in monitor["command"]
    assert "JOBRELAY_MONITOR_TOKEN" in monitor["environment"]
    assert all(port.startswith("127.0.0.1:") for port in monitor["ports"])


@pytest.mark.parametrize(
    "name", ["scheduler-1", "scheduler-2", "node-gpu-1", "node-gpu-2", "node-cpu-1", "monitor"]
)
def test_each_jobrelay_command_parses(services: dict[str, Any], name: str) -> None:
    program, command, *args = services[name]["command"]
    assert program == "jobrelay"
    subcommand = cli.commands[command]
    with click.Context(cli) as parent:
        context = subcommand.make_context(command, list(args), parent=parent)
    if command == "node":
        assert context.params["node_id"] and context.params["slots"] >= 1
        assert context.params["capability"]
