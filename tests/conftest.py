"""Shared fixtures: clusters of real processes, and the services the tests rely on."""

from __future__ import annotations

import os
import socket
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from tests.support.cluster import Cluster

REDIS_URL = os.environ.get("JOBRELAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
AMQP_URL = os.environ.get("JOBRELAY_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


def reachable(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


@pytest.fixture
def cluster(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """A local-mode cluster in a temp dir; logs are printed when the test fails."""
    made = Cluster(tmp_path)
    yield made
    made.stop()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(made.dump_logs())


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip, saying why, tests whose server is not running (CI starts them all)."""
    if item.get_closest_marker("redis") and not reachable("127.0.0.1", 6379):
        pytest.skip("Redis is not running on 127.0.0.1:6379 (see .ci/run for how to start it)")
    if item.get_closest_marker("rabbitmq") and not reachable("127.0.0.1", 5672):
        pytest.skip("RabbitMQ is not running on 127.0.0.1:5672 (see .ci/run)")
