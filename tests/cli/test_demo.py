"""``jobrelay demo`` end to end: a whole local cluster, started and stopped by the demo."""

from __future__ import annotations

import json
import socket
import time

import pytest

from tests.cli.conftest import clean_env, run_cli

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_demo_runs_and_summarizes() -> None:
    port = free_port()
    started = time.monotonic()
    done = run_cli(
        "demo", "--requests", "60", "--port", str(port), "--json", env=clean_env(), timeout_s=170
    )
    elapsed = time.monotonic() - started
    summary = json.loads(done.stdout)

    assert done.returncode == 0, done.stderr
    assert summary["healthy"] is True
    assert summary["mode"] == "local"
    assert summary["sent"] == 60
    assert summary["duplicates"] == summary["expected_duplicates"] >= 12
    assert summary["one_job_per_request"] is True
    assert summary["conflicts"] == 1
    assert summary["created"] == 60 - summary["duplicates"] - 1
    assert summary["jobs_stored"] == summary["created"]
    assert summary["errors"] == []
    assert [entry["requires"] for entry in summary["backlog"]] == [["asr:ja"]] * 3
    assert all("asr:ja" in entry["why"] for entry in summary["backlog"])
    assert summary["succeeded"] == summary["created"] - 3
    assert sum(summary["per_node"].values()) == summary["succeeded"]
    assert set(summary["per_node"]) <= {"gpu-1", "gpu-2", "cpu-1"}
    assert 0 < summary["p50_s"] <= summary["p99_s"]
    assert summary["dashboard"] == f"http://127.0.0.1:{port}/"
    assert elapsed < 120
    assert not port_open(port), "the demo left its monitor running"
