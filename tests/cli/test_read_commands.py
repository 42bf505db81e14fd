"""The commands against a real local-mode scheduler and node, read through ``--json``."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import known_nodes, run_cli, run_json, wait_for
from workers.cli.processes import Children

pytestmark = pytest.mark.e2e


def new_id() -> str:
    return f"cli-{uuid.uuid4().hex[:12]}"


def test_submit_wait_then_repeat_returns_the_same_job(
    cli_cluster: Children, cli_env: dict[str, str]
) -> None:
    request_id = new_id()
    flags = ["--request-id", request_id, "--kind", "echo", "--payload", '{"x": 1}']
    first = run_json("submit", *flags, "--requires", "asr:en", "--wait", env=cli_env)
    again = run_json("submit", *flags, "--requires", "asr:en", env=cli_env)

    assert first["created"] is True
    assert first["job"]["state"] == "succeeded"
    assert first["job"]["result"] == {"x": 1}
    assert first["job"]["node_id"] == "cli-node"
    assert again["created"] is False
    assert again["job"]["job_id"] == first["job"]["job_id"]


def test_job_and_jobs_find_a_submitted_job(cli_cluster: Children, cli_env: dict[str, str]) -> None:
    created = run_json("submit", "--kind", "echo", "--request-id", new_id(), env=cli_env)
    job_id = created["job"]["job_id"]

    job = run_json("job", job_id, env=cli_env)
    page = run_json("jobs", "--search", created["job"]["request_id"], env=cli_env)
    newest = run_json("jobs", "--limit", "1", env=cli_env)

    assert job["job_id"] == job_id
    assert [found["job_id"] for found in page["jobs"]] == [job_id]
    assert len(newest["jobs"]) == 1


def test_submit_a_list_from_stdin(cli_cluster: Children, cli_env: dict[str, str]) -> None:
    requests = [{"request_id": new_id(), "kind": "echo"}, {"request_id": "bad id!", "kind": "x"}]
    done = run_cli("submit", "-", "--json", env=cli_env, stdin=json.dumps(requests))
    answers = json.loads(done.stdout)

    assert done.returncode == 1, done.stderr
    assert answers[0]["created"] is True
    assert answers[1]["error"]["type"] == "InvalidRequest"
    assert "request_id" in answers[1]["error"]["message"]


def test_submit_from_a_file(cli_cluster: Children, cli_env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "request.json"
    path.write_text(json.dumps({"request_id": new_id(), "kind": "echo", "payload": {"a": 2}}))
    answer = run_json("submit", "--file", str(path), env=cli_env)
    assert answer["job"]["payload"] == {"a": 2}


def test_conflicting_body_is_refused_in_one_line(
    cli_cluster: Children, cli_env: dict[str, str]
) -> None:
    request_id = new_id()
    run_json("submit", "--kind", "echo", "--request-id", request_id, env=cli_env)
    done = run_cli(
        "submit",
        "--kind",
        "echo",
        "--request-id",
        request_id,
        "--payload",
        '{"y": 2}',
        env=cli_env,
    )
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1
    assert "different body" in done.stderr


def test_unknown_job_is_one_line(cli_cluster: Children, cli_env: dict[str, str]) -> None:
    done = run_cli("job", "01NOSUCHJOB", env=cli_env)
    assert done.returncode == 1
    assert (
        done.stderr.strip() == "error: job 01NOSUCHJOB does not exist (or its retention has passed)"
    )


def test_nodes_show_slots_and_heartbeat(cli_cluster: Children, cli_env: dict[str, str]) -> None:
    node = {node["node_id"]: node for node in run_json("nodes", env=cli_env)}["cli-node"]
    assert node["capabilities"] == ["asr:en"]
    assert node["labels"] == {"pool": "eu"}
    assert node["slots"] == 2
    assert node["free"] + node["used"] == 2
    assert 0 <= node["heartbeat_age_s"] < 30
    assert node["status"] == "alive"


def test_schedulers_show_the_running_scheduler(
    cli_cluster: Children, cli_env: dict[str, str]
) -> None:
    (scheduler,) = [child for child in cli_cluster.started if child.name == "scheduler"]

    def sweeping() -> list[dict[str, Any]]:
        workers = run_json("schedulers", env=cli_env)
        return workers if workers and workers[0]["sweeping"] else []

    (worker,) = wait_for(sweeping, 30, "the scheduler to sweep")
    table = run_cli("schedulers", env=cli_env)

    assert worker["pid"] == scheduler.process.pid
    assert worker["mode"] == cli_env["JOBRELAY_MODE"]
    assert worker["status"] == "alive"
    assert 0 <= worker["heartbeat_age_s"] < 30
    assert table.returncode == 0, table.stderr
    (row,) = [line for line in table.stdout.splitlines() if worker["name"] in line]
    cells = [cell.strip() for cell in row.split("│")[1:-1]]
    assert cells[:2] == [worker["name"], str(scheduler.process.pid)]
    assert cells[3:5] == ["alive", "yes"]
    assert f"({cli_env['JOBRELAY_MODE']} mode)" in table.stdout


def test_explain_names_the_node_or_the_reasons(
    cli_cluster: Children, cli_env: dict[str, str]
) -> None:
    fits = run_json("explain", "--kind", "echo", "--requires", "asr:en", env=cli_env)
    wrong_pool = run_json("explain", "--kind", "echo", "--selector", "pool=us", env=cli_env)
    unknown = run_json("explain", "--kind", "echo", "--requires", "asr:ja", env=cli_env)

    assert fits["node_id"] == "cli-node"
    assert wrong_pool["node_id"] is None
    assert sum(wrong_pool["rejected"].values()) >= 1
    assert unknown["node_id"] is None


def test_cancel_a_running_job(cli_cluster: Children, cli_env: dict[str, str]) -> None:
    created = run_json(
        "submit",
        "--kind",
        "sleep",
        "--payload",
        '{"seconds": 60}',
        "--request-id",
        new_id(),
        env=cli_env,
    )
    job_id = created["job"]["job_id"]
    wait_for(lambda: run_json("job", job_id, env=cli_env)["state"] == "running", 30, "job running")
    cancelled = run_json("cancel", job_id, env=cli_env)
    again = run_json("cancel", job_id, env=cli_env)

    assert cancelled["state"] == "cancelled"
    assert again["state"] == "cancelled"


def test_drain_stops_handing_jobs_to_a_node(cli_cluster: Children, cli_env: dict[str, str]) -> None:
    node = ["node", "--id", "drain-node", "--capability", "tts:xx", "--slots", "1"]
    child = cli_cluster.start("drain-node", node)
    wait_for(lambda: "drain-node" in known_nodes(cli_env), 60, "drain-node joining")

    drained = run_json("drain", "drain-node", env=cli_env)
    explained = run_json("explain", "--kind", "echo", "--requires", "tts:xx", env=cli_env)
    wait_for(lambda: child.process.poll() is not None, 30, "the drained node stopping")
    resumed = run_json("drain", "drain-node", "--undo", env=cli_env)

    assert drained["draining"] is True
    assert explained["node_id"] is None
    assert resumed["draining"] is False
