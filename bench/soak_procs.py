"""The soak run's scheduler and node processes: started, measured and stopped by pid."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from bench.cpu import processes_cpu_s
from bench.worker import ROOT

STOP_TIMEOUT_S = 20.0
ERROR_LINE = re.compile(r"\b(ERROR|CRITICAL)\b")
KEPT_ERRORS = 5
MB = 1024 * 1024


@dataclass
class Proc:
    """One process this run started; its log is scanned for new ERROR lines."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    scanned: int = 0
    first_errors: list[str] = field(default_factory=list)

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def tree(self) -> list[psutil.Process]:
        """The process and its descendants (prefork children), those still running."""
        try:
            root = psutil.Process(self.popen.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def rss_mb(self) -> float:
        """Resident memory of the process and its children, in MiB."""
        total = 0
        for proc in self.tree():
            try:
                total += proc.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return total / MB

    def cpu_s(self) -> float:
        """CPU time (user and system) of the process and its running children, in seconds."""
        return processes_cpu_s(self.tree())

    def new_errors(self) -> int:
        """How many ERROR or CRITICAL lines the log gained since the last call."""
        with self.log.open("rb") as log:
            log.seek(self.scanned)
            chunk = log.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self.scanned += len(complete)
        found = [line for line in complete.decode(errors="replace").splitlines()
                 if ERROR_LINE.search(line)]  # fmt: skip
        room = KEPT_ERRORS - len(self.first_errors)
        self.first_errors += [line[:300] for line in found[:room]]
        return len(found)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:]


@dataclass
class Processes:
    """Scheduler and node processes sharing one environment, each with a log file."""

    env: dict[str, str]
    log_dir: Path
    procs: list[Proc] = field(default_factory=list)

    def start(self, name: str, args: list[str]) -> Proc:
        log = self.log_dir / f"{name}.log"
        argv = [sys.executable, "-m", "workers.cli.main", *args]
        with log.open("wb") as out:
            # A session of its own: a Ctrl-C reaches only this run, which then stops
            # every process in order.
            popen = subprocess.Popen(
                argv, env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                start_new_session=True,
            )  # fmt: skip
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def named(self, prefix: str) -> list[Proc]:
        return [proc for proc in self.procs if proc.name.startswith(prefix)]

    def stop(self) -> None:
        """SIGTERM every process, SIGKILL what is left after the timeout, then any orphan
        pool child (all by pid)."""
        children = [child for proc in self.procs for child in proc.tree()[1:]]
        for proc in self.procs:
            if proc.alive:
                proc.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for proc in self.procs:
            try:
                proc.popen.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait(STOP_TIMEOUT_S)
        for child in children:
            kill_orphan(child)


def cpu_by_role(procs: Processes, redis_pid: int) -> dict[str, float]:
    """CPU seconds used so far by the schedulers, the nodes, this process and Redis."""
    own = psutil.Process().cpu_times()
    found = {
        "schedulers": sum(proc.cpu_s() for proc in procs.named("s")),
        "nodes": sum(proc.cpu_s() for proc in procs.named("n")),
        "bench process": own.user + own.system,
    }
    try:
        times = psutil.Process(redis_pid).cpu_times()
        found["Redis"] = times.user + times.system
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        found["Redis"] = float("nan")
    return found


def kill_orphan(child: psutil.Process) -> None:
    """Kill a pool child that outlived its parent; psutil checks that the pid still
    names the same process (its start time), so a reused pid is left alone."""
    try:
        child.kill()
    except psutil.NoSuchProcess:
        return


def environment(redis_url: str, prefix: str, retention_s: float) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBRELAY_")}
    env.update(
        JOBRELAY_MODE="cross_instance",
        JOBRELAY_REDIS_URL=redis_url,
        JOBRELAY_KEY_PREFIX=prefix,
        JOBRELAY_RETENTION_S=f"{retention_s:g}",
        PYTHONUNBUFFERED="1",
    )
    return env


def start_cluster(procs: Processes, schedulers: int, nodes: int, slots: int) -> None:
    """Start the schedulers (prefork, two processes each) and the node agents."""
    for index in range(1, schedulers + 1):
        procs.start(f"s{index}", [
            "scheduler", "--concurrency", "2", "--hostname", f"s{index}@%h",
            "--loglevel", "WARNING",
        ])  # fmt: skip
    for index in range(1, nodes + 1):
        procs.start(f"n{index}", [
            "node", "--id", f"n{index}", "--slots", str(slots), "--loglevel", "WARNING",
        ])  # fmt: skip
