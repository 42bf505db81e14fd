"""The Redis backend on a private redis-server: round trips, restarts, unreachable servers.

Counting commands needs a server no other test talks to, so this module starts its own
``redis-server`` (no persistence) on a free port and stops it by its pid.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.connection import AbstractConnection

from app.backends.base import BackendOptions, ClaimOutcome, ClaimSpec
from app.backends.redis import RedisBackend
from app.errors import BackendUnavailable, ConfigurationError
from tests.contract.helpers import NOW, add_node, make_job

pytestmark = pytest.mark.redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port, workdir = free_port(), tmp_path_factory.mktemp("redis")
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    args += ["--appendonly", "no", "--dir", str(workdir)]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_for_ping(url)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def wait_for_ping(url: str, timeout_s: float = 10.0) -> None:
    client = redis.Redis.from_url(url, socket_timeout=0.5)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            client.ping()
            return
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
        finally:
            client.close()


@pytest.fixture
def admin(server_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(server_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def backend(server_url: str, admin: redis.Redis) -> Iterator[RedisBackend]:
    options = BackendOptions(key_prefix=f"rt-{time.monotonic_ns()}")
    backend = RedisBackend.from_url(server_url, options)
    yield backend
    backend.close()
    for key in admin.scan_iter(match=f"{{{options.key_prefix}}}:*"):
        admin.delete(key)


def command_counts(admin: redis.Redis) -> dict[str, int]:
    stats = admin.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


def traffic(
    admin: redis.Redis, monkeypatch: pytest.MonkeyPatch, action: Callable[[], object]
) -> tuple[int, int, int]:
    """(round trips the client made, EVALSHAs and SCRIPT commands the server ran).

    Commands that scripts run inside Redis show up in commandstats too, so the server
    side counts only EVALSHA and SCRIPT; the client side counts every send.
    """
    sends: list[bytes] = []
    original = AbstractConnection.send_packed_command

    def counting(self: AbstractConnection, command: Any, check_health: bool = True) -> None:
        sends.append(command)
        original(self, command, check_health)

    before = command_counts(admin)
    with monkeypatch.context() as patch:
        patch.setattr(AbstractConnection, "send_packed_command", counting)
        action()
    after = command_counts(admin)
    scripts = sum(n - before.get(name, 0) for name, n in after.items() if "script" in name)
    return len(sends), after["evalsha"] - before.get("evalsha", 0), scripts


def test_creation_and_repeat_cost_one_round_trip_each(
    backend: RedisBackend, admin: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_node(backend, "n1", slots=4)
    backend.claim(make_job(), ["n1"], NOW)
    job = make_job("r1")

    created = traffic(admin, monkeypatch, lambda: backend.claim(job, ["n1"], NOW))
    repeat = traffic(admin, monkeypatch, lambda: backend.claim(make_job("r1"), ["n1"], NOW))
    other_body = make_job("r1", payload={"x": 1})
    conflict = traffic(admin, monkeypatch, lambda: backend.claim(other_body, ["n1"], NOW))

    assert created == (1, 1, 0)
    assert repeat == (1, 1, 0)
    assert conflict == (1, 1, 0)
    assert backend.stats().counters["repeats"] == 1


def test_claim_many_is_one_round_trip(
    backend: RedisBackend, admin: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_node(backend, "n1", slots=2)
    backend.claim(make_job(), [], NOW)
    specs = [ClaimSpec(make_job(), ["n1"]) for _ in range(5)]

    counts = traffic(admin, monkeypatch, lambda: backend.claim_many(specs, NOW))

    assert counts == (1, 5, 0)


def test_scripts_are_reloaded_after_the_cache_is_flushed(
    backend: RedisBackend, admin: redis.Redis
) -> None:
    add_node(backend, "n1", slots=3)

    admin.script_flush()
    single = backend.claim(make_job(), ["n1"], NOW)
    admin.script_flush()
    batch = backend.claim_many([ClaimSpec(make_job(), ["n1"]) for _ in range(2)], NOW)

    assert single.outcome is ClaimOutcome.CREATED
    assert [claim.job.node_id for claim in batch] == ["n1", "n1"]


def test_every_key_lives_under_the_hash_tagged_prefix(
    backend: RedisBackend, admin: redis.Redis
) -> None:
    before = set(admin.scan_iter())
    add_node(backend, "n1")
    job = backend.claim(make_job(), ["n1"], NOW).job
    backend.try_lease("sweeper", "me", 10, NOW)
    backend.cancel(job.job_id, NOW)
    backend.count({"x": 1})

    new_keys = set(admin.scan_iter()) - before

    assert new_keys
    prefix = f"{{{backend._keys.namespace.strip('{}:')}}}:"
    assert all(key.startswith(prefix) for key in new_keys), new_keys


def test_final_jobs_and_bindings_get_a_ttl(backend: RedisBackend, admin: redis.Redis) -> None:
    job = backend.claim(make_job("r-ttl"), [], NOW).job
    job_key, binding_key = backend._keys.job(job.job_id), backend._keys.binding("r-ttl")
    assert admin.ttl(job_key) == -1

    backend.cancel(job.job_id, NOW)

    assert 0 < admin.ttl(job_key) <= 86_400
    assert 0 < admin.ttl(binding_key) <= 86_400


def test_an_unreachable_server_raises_backend_unavailable(
    admin: redis.Redis,
) -> None:
    port = free_port()
    prefix = "unreachable-test"
    backend = RedisBackend.from_url(
        f"redis://:s3cret-pw@127.0.0.1:{port}/0", BackendOptions(key_prefix=prefix), 0.5
    )
    started = time.monotonic()

    with pytest.raises(BackendUnavailable) as caught:
        backend.claim(make_job(), [], NOW)

    assert time.monotonic() - started < 3
    assert f"127.0.0.1:{port}" in caught.value.message
    assert "s3cret-pw" not in caught.value.message
    assert caught.value.retryable
    assert isinstance(caught.value.__cause__, redis.ConnectionError)
    assert list(admin.scan_iter(match=f"{{{prefix}}}:*")) == []
    backend.close()


def test_a_server_that_goes_away_raises_backend_unavailable(tmp_path: Path) -> None:
    port = free_port()
    args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    args += ["--appendonly", "no", "--dir", str(tmp_path)]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_for_ping(url)
        backend = RedisBackend.from_url(url, BackendOptions(key_prefix="gone"), 0.5)
        assert backend.claim(make_job(), [], NOW).outcome is ClaimOutcome.CREATED
    finally:
        process.terminate()
        process.wait(timeout=10)

    with pytest.raises(BackendUnavailable, match=f"127.0.0.1:{port}"):
        backend.claim(make_job(), [], NOW)
    with pytest.raises(BackendUnavailable):
        backend.claim_many([ClaimSpec(make_job(), [])], NOW)
    backend.close()


def test_a_client_without_decoded_responses_is_refused(server_url: str) -> None:
    client = redis.Redis.from_url(server_url)

    with pytest.raises(ConfigurationError, match="decode_responses"):
        RedisBackend(client, BackendOptions())
    client.close()
