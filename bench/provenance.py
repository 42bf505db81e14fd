"""Where a run's numbers come from: the command, the commit, the machine and its load."""

from __future__ import annotations

import datetime
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Moment:
    """A time and the machine's load average (1, 5 and 15 minutes) then."""

    at: datetime.datetime
    load: tuple[float, float, float]

    @classmethod
    def now(cls) -> Moment:
        return cls(datetime.datetime.now(datetime.UTC), os.getloadavg())

    def describe(self) -> str:
        load = ", ".join(f"{value:.2f}" for value in self.load)
        return f"{self.at:%Y-%m-%d %H:%M:%S} UTC, load average {load}"


@dataclass(frozen=True)
class Run:
    command: str
    commit: str
    machine: tuple[str, ...]
    start: Moment
    end: Moment


def git(*args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30, check=True
    )
    return done.stdout.strip()


def commit() -> str:
    """The short commit of the checkout, and whether its tree has uncommitted changes."""
    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = bool(git("status", "--porcelain"))
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return f"{head} + uncommitted changes" if dirty else head


def redis_version(url: str) -> str:
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        return str(client.info("server")["redis_version"])
    finally:
        client.close()


def server_binary_version() -> str:
    """The version of the redis-server that benchmarks start as their private server."""
    binary = shutil.which("redis-server")
    if binary is None:
        return "not installed"
    done = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, timeout=10, check=False
    )
    words = [word for word in done.stdout.split() if word.startswith("v=")]
    return words[0].removeprefix("v=") if words else done.stdout.strip()


def machine(redis_url: str) -> tuple[str, ...]:
    return (
        f"CPUs: {os.cpu_count()} ({platform.machine()}), {platform.system()}",
        f"Python {platform.python_version()} ({sys.implementation.name})",
        f"Redis {redis_version(redis_url)} at {redis_url.rsplit('@', 1)[-1]} (--redis)",
        f"private redis-server {server_binary_version()} (memory, Redis-side time)",
    )
