"""Every failure is one line on stderr and a non-zero exit, with no traceback."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.cli.conftest import clean_env, run_cli

UNREACHABLE_REDIS = "redis://127.0.0.1:1"
REDIS_URL = "redis://127.0.0.1:6379/0"


def assert_one_line_error(done: object, code: int, *words: str) -> None:
    stderr = getattr(done, "stderr", "")
    assert getattr(done, "returncode", 0) == code, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    for word in words:
        assert word in lines[0]


def test_unknown_option_is_a_usage_error() -> None:
    done = run_cli("submit", "--bogus", env=clean_env())
    assert_one_line_error(done, 2, "--bogus", "jobrelay submit --help")


def test_bad_choice_and_bad_pair_are_usage_errors() -> None:
    assert_one_line_error(run_cli("jobs", "--state", "done", env=clean_env()), 2, "--state")
    bad_selector = run_cli("explain", "--kind", "echo", "--selector", "pool", env=clean_env())
    assert_one_line_error(bad_selector, 2, "KEY=VALUE")


def test_payload_must_be_a_json_object() -> None:
    done = run_cli("submit", "--kind", "echo", "--payload", "[1, 2]", env=clean_env())
    assert_one_line_error(done, 2, "--payload", "JSON object")


@pytest.mark.parametrize(
    "command", [["jobs"], ["nodes"], ["job", "01ABC"], ["submit", "--kind", "echo"]]
)
def test_unreachable_redis_fails_fast(command: list[str]) -> None:
    started = time.monotonic()
    done = run_cli(*command, env=clean_env(JOBRELAY_REDIS_URL=UNREACHABLE_REDIS))
    assert_one_line_error(done, 1, "127.0.0.1:1")
    assert time.monotonic() - started < 15


def test_configuration_error_is_one_line() -> None:
    done = run_cli("nodes", env=clean_env(JOBRELAY_MODE="cross_instance"))
    assert_one_line_error(done, 1, "JOBRELAY_REDIS_URL")


def test_no_scheduler_in_local_mode_is_one_line(tmp_path: object) -> None:
    env = clean_env(JOBRELAY_MODE="local", JOBRELAY_DATA_DIR=str(tmp_path))
    done = run_cli("--answer-timeout-s", "1", "jobs", env=env)
    assert_one_line_error(done, 1, "no scheduler answered", "jobrelay scheduler")


@pytest.mark.redis
def test_unknown_job_in_cross_instance_mode() -> None:
    env = clean_env(JOBRELAY_REDIS_URL=REDIS_URL, JOBRELAY_KEY_PREFIX=f"t{uuid.uuid4().hex[:10]}")
    assert_one_line_error(run_cli("job", "NOPE", env=env), 1, "job NOPE does not exist")
    no_scheduler = run_cli("--answer-timeout-s", "1", "cancel", "NOPE", env=env)
    assert_one_line_error(no_scheduler, 1, "no scheduler answered jobrelay.cancel_job")


@pytest.mark.parametrize("pool", [["--pool", "prefork"], ["-P", "processes"], ["--pool=prefork"]])
def test_local_mode_refuses_a_scheduler_of_several_processes(
    tmp_path: object, pool: list[str]
) -> None:
    env = clean_env(JOBRELAY_MODE="local", JOBRELAY_DATA_DIR=str(tmp_path))
    done = run_cli("scheduler", *pool, "--concurrency", "2", env=env)
    assert done.returncode == 1
    assert "use --pool threads (or solo)" in done.stderr
    assert "Traceback" not in done.stderr
