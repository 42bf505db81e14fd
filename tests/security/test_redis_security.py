"""Redis credentials and TLS come from the URL; a password never shows in errors or logs."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.connection import SSLConnection

from app.backends.base import BackendOptions
from app.backends.redis import RedisBackend
from app.errors import BackendUnavailable
from app.models import Heartbeat
from app.settings import load_settings
from tests.contract.helpers import NOW, make_job
from tests.support.cluster import Cluster, wait_for
from tests.support.secure_redis import SecureRedis
from tests.support.services import free_port

SECRET = "s3cret-Pa55-do-not-log"


def tls_supported() -> bool:
    binary = shutil.which("redis-server")
    if binary is None or shutil.which("openssl") is None:
        return False
    probe = subprocess.run(
        [binary, "--tls-port", "0", "--test-memory", "0"], check=False, capture_output=True
    )
    return b"not supported" not in probe.stdout + probe.stderr


@pytest.fixture
def protected(tmp_path: Path) -> Iterator[SecureRedis]:
    server = SecureRedis(tmp_path / "redis", password=SECRET)
    server.start()
    yield server
    server.kill()


def backend_at(url: str) -> RedisBackend:
    return RedisBackend.from_url(url, BackendOptions(key_prefix="sec"), timeout_s=2)


def test_the_backend_works_with_the_password_from_the_url(protected: SecureRedis) -> None:
    backend = backend_at(protected.url)
    backend.heartbeat(Heartbeat(node_id="n1", slots=1), NOW)
    claim = backend.claim(make_job("pw-1"), ["n1"], NOW)
    assert backend.get_job(claim.job.job_id) is not None
    assert SECRET not in repr(load_settings(redis_url=protected.url))


@pytest.mark.parametrize("problem", ["wrong password", "server down"])
def test_errors_never_show_the_password(protected: SecureRedis, problem: str) -> None:
    url = protected.url.replace(SECRET, SECRET + "-wrong")
    if problem == "server down":
        url = f"redis://:{SECRET}@127.0.0.1:{free_port()}/0"
    with pytest.raises(BackendUnavailable) as caught:
        backend_at(url).get_job("x")
    assert "127.0.0.1" in caught.value.message
    assert SECRET not in caught.value.message and SECRET not in str(caught.value.__cause__)


@pytest.mark.e2e
def test_a_scheduler_on_a_password_redis_never_logs_the_password(
    protected: SecureRedis, tmp_path: Path
) -> None:
    env = {"JOBRELAY_REDIS_URL": protected.url, "JOBRELAY_MODE": "cross_instance"}
    cluster = Cluster(tmp_path / "cluster", env)
    cluster.root.mkdir()
    try:
        scheduler = cluster.start_scheduler("s1", "--concurrency", "1")
        cluster.start_node("n1", slots=1)
        cluster.wait_nodes("n1")
        created = cluster.client.submit({"request_id": "pw-job", "kind": "echo"}, wait=True)
        assert created.job.state == "succeeded"
        protected.kill()
        wait_for(lambda: "the state store unavailable" in scheduler.output(), 30, "the outage")
    finally:
        cluster.stop()
    logs = [path.read_text(errors="replace") for path in cluster.root.glob("*.log")]
    assert logs and all(SECRET not in log for log in logs)
    assert any(":**@127.0.0.1" in log for log in logs)


def test_a_rediss_url_is_accepted_and_tries_tls(tmp_path: Path) -> None:
    plain = SecureRedis(tmp_path / "plain")
    plain.start()
    try:
        url = f"rediss://127.0.0.1:{plain.port}/0"
        settings = load_settings(redis_url=url)
        assert settings.redis == url
        backend = backend_at(url)
        pool = backend._client.connection_pool
        assert issubclass(pool.connection_class, SSLConnection)
        # The plain server never answers the TLS handshake: a clear, retryable error.
        with pytest.raises(BackendUnavailable, match=f"127.0.0.1:{plain.port} did not answer"):
            backend.get_job("x")
    finally:
        plain.kill()


@pytest.mark.skipif(not tls_supported(), reason="redis-server was built without TLS")
def test_the_backend_works_over_tls(tmp_path: Path) -> None:
    server = SecureRedis(tmp_path / "tls", password=SECRET, tls=True)
    server.start()
    try:
        backend = backend_at(server.url)
        backend.heartbeat(Heartbeat(node_id="n1", slots=1), NOW)
        assert [node.node_id for node in backend.nodes()] == ["n1"]
    finally:
        server.kill()
