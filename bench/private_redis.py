"""A redis-server of the benchmark's own: a temp dir, a free loopback port, stopped by pid.

Server-wide figures (INFO memory, INFO commandstats) are only this benchmark's on it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class PrivateRedis:
    url: str
    version: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def argv(binary: str, port: int, directory: Path) -> list[str]:
    return [
        binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
        "--save", "", "--appendonly", "no", "--logfile", str(directory / "redis.log"),
    ]  # fmt: skip


def wait_ready(process: subprocess.Popen[bytes], url: str) -> str:
    """Wait until the server answers PING; returns its version."""
    deadline = time.monotonic() + START_TIMEOUT_S
    client = redis.Redis.from_url(url, socket_timeout=1)
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"redis-server exited at start with code {process.returncode}")
            try:
                return str(client.info("server")["redis_version"])
            except redis.ConnectionError:
                time.sleep(0.05)
    finally:
        client.close()
    raise RuntimeError(f"redis-server at {url} did not answer in {START_TIMEOUT_S:g}s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(STOP_TIMEOUT_S)


@contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    """Start a redis-server with no persistence; stop it (by its pid) when the block ends."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("this benchmark starts its own redis-server: install redis-server")
    with tempfile.TemporaryDirectory(prefix="jobrelay-bench-redis-") as directory:
        port = free_port()
        process = subprocess.Popen(argv(binary, port, Path(directory)))
        try:
            url = f"redis://127.0.0.1:{port}/0"
            yield PrivateRedis(url, wait_ready(process, url))
        finally:
            stop(process)
