"""Private redis-servers with a password or TLS, for the security tests; stopped by pid."""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.support.services import free_port


@dataclass
class SecureRedis:
    """A redis-server on a free port with ``extra`` options (``--requirepass``, TLS)."""

    root: Path
    password: str | None = None
    tls: bool = False
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    extra: list[str] = field(default_factory=list)

    @property
    def cert(self) -> Path:
        return self.root / "cert.pem"

    @property
    def key(self) -> Path:
        return self.root / "key.pem"

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        if self.tls:
            return f"rediss://{auth}127.0.0.1:{self.port}/0?ssl_ca_certs={self.cert}"
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        argv = [shutil.which("redis-server") or "redis-server", "--bind", "127.0.0.1"]
        argv += ["--dir", str(self.root), "--save", "", "--appendonly", "no"]
        if self.password:
            argv += ["--requirepass", self.password]
        if self.tls:
            self._make_cert()
            argv += ["--port", "0", "--tls-port", str(self.port), "--tls-auth-clients", "no"]
            argv += [
                "--tls-cert-file",
                str(self.cert),
                "--tls-key-file",
                str(self.root / "key.pem"),
            ]
        else:
            argv += ["--port", str(self.port)]
        log = (self.root / "redis.log").open("ab")
        self.proc = subprocess.Popen([*argv, *self.extra], stdout=log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _make_cert(self) -> None:
        subprocess.run(
            [
                *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
                *("-keyout", str(self.key), "-out", str(self.cert), "-subj", "/CN=127.0.0.1"),
                *("-addext", "subjectAltName=IP:127.0.0.1"),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if redis.Redis.from_url(self.url, socket_timeout=0.5).ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise AssertionError(f"redis-server on port {self.port} did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(20)
