"""Running ``jobrelay`` as a user does: a subprocess with its own environment.

The command line is tested as a subprocess because its settings are read once per
process and its exit codes and stderr are part of what it promises.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.support.services import MAIN_REDIS, delete_prefix
from workers.cli.processes import Children

T = TypeVar("T")
CLI = [sys.executable, "-m", "workers.cli.main"]
JOBRELAY_VARIABLES = ("JOBRELAY_REDIS_URL", "JOBRELAY_BROKER_URL", "JOBRELAY_RESULT_URL")


def clean_env(**values: str) -> dict[str, str]:
    """This process's environment without jobrelay's servers, plus ``values``."""
    env = {key: value for key, value in os.environ.items() if key not in JOBRELAY_VARIABLES}
    env.pop("JOBRELAY_MODE", None)
    env.update(values)
    return env


def run_cli(
    *args: str, env: dict[str, str], stdin: str | None = None, timeout_s: float = 60
) -> subprocess.CompletedProcess[str]:
    command = [*CLI, *args]
    return subprocess.run(
        command,
        check=False,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def run_json(*args: str, env: dict[str, str], stdin: str | None = None) -> Any:
    """Run a command with ``--json`` and parse its stdout; fail with its stderr."""
    done = run_cli(*args, "--json", env=env, stdin=stdin)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def wait_for(check: Callable[[], T | None], timeout_s: float, what: str) -> T:
    """Poll ``check`` until it returns a value, or fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} did not happen within {timeout_s:g}s")
        time.sleep(0.2)


def known_nodes(env: dict[str, str]) -> dict[str, Any]:
    done = run_cli("--answer-timeout-s", "5", "nodes", "--json", env=env)
    if done.returncode != 0:
        return {}
    return {node["node_id"]: node for node in json.loads(done.stdout)}


@pytest.fixture(
    scope="module", params=["local", pytest.param("cross_instance", marks=pytest.mark.redis)]
)
def cli_env(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """The environment of a user of either mode; cross-instance keys are removed after."""
    data_dir = str(tmp_path_factory.mktemp("jobrelay-cli"))
    if request.param == "local":
        yield clean_env(JOBRELAY_MODE="local", JOBRELAY_DATA_DIR=data_dir)
        return
    prefix = f"cli{uuid.uuid4().hex[:10]}"
    yield clean_env(
        JOBRELAY_MODE="cross_instance",
        JOBRELAY_REDIS_URL=MAIN_REDIS,
        JOBRELAY_KEY_PREFIX=prefix,
        JOBRELAY_DATA_DIR=data_dir,
    )
    delete_prefix(MAIN_REDIS, prefix)


@pytest.fixture(scope="module")
def cli_cluster(cli_env: dict[str, str]) -> Iterator[Children]:
    """A scheduler and one node (``cli-node``: asr:en, pool=eu, 2 slots) in either mode."""
    children = Children(Path(cli_env["JOBRELAY_DATA_DIR"]) / "logs", cli_env)
    children.start("scheduler", ["scheduler"])
    node = ["node", "--id", "cli-node", "--capability", "asr:en", "--label", "pool=eu"]
    children.start("cli-node", [*node, "--slots", "2"])
    try:
        wait_for(lambda: "cli-node" in known_nodes(cli_env), 60, "cli-node joining")
        yield children
    finally:
        children.stop()
