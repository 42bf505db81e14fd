"""``jobrelay demo``: a whole cluster on this machine, a few hundred requests, a summary.

It starts schedulers, three node agents and the monitor as child processes, sends
requests with duplicates (some racing each other), one conflicting body and a few that no
node can serve, shows the jobs finishing, and stops everything it started.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import click
from redis.exceptions import RedisError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from app.client import Client
from app.errors import JobrelayError
from app.models import FINAL_STATES
from workers.cli import render
from workers.cli.demo_cluster import (
    ClusterPlan,
    check_children,
    demo_environment,
    forget_demo_keys,
    monitor_status,
    start_cluster,
    wait_for_nodes,
)
from workers.cli.demo_load import LoadPlan, Tally, build_plan, send_plan
from workers.cli.demo_summary import Summary, summarize, summary_table
from workers.cli.failure import CommandFailed, describe
from workers.cli.options import json_option
from workers.cli.processes import Children, sigterm_interrupts
from workers.cli.session import Session, pass_session

POLL_S = 0.25


@dataclass
class Sender:
    """Sends the load on a daemon thread while the main thread shows progress."""

    client: Client
    plan: LoadPlan
    tally: Tally = field(default_factory=Tally)
    stop: threading.Event = field(default_factory=threading.Event)
    failure: BaseException | None = None
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="demo-sender", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            send_plan(self.client, self.plan, self.tally, self.stop)
        except BaseException as exc:
            self.failure = exc

    def done(self) -> bool:
        if self.failure is not None:
            raise self.failure
        return self._thread is not None and not self._thread.is_alive()

    def to_finish(self) -> int:
        """Jobs that must end before the demo does: all created but the unservable ones."""
        unservable = {request["request_id"] for request in self.plan.unservable}
        return len(set(self.tally.created) - unservable)


def finished_jobs(client: Client) -> int:
    states = client.reader.stats().states
    return sum(states.get(str(state), 0) for state in FINAL_STATES)


def watch(sender: Sender, children: Children, timeout_s: float) -> int:
    """Show sent and finished jobs until every servable job ended; returns those left."""
    columns = (TextColumn("{task.description:>9}"), BarColumn(), MofNCompleteColumn())
    deadline = time.monotonic() + timeout_s
    with Progress(*columns, TimeElapsedColumn(), console=render.err()) as progress:
        sent = progress.add_task("sent", total=sender.plan.total)
        finished = progress.add_task("finished", total=None)
        while True:
            check_children(children)
            done = sender.done()
            count = finished_jobs(sender.client)
            target = sender.to_finish()
            progress.update(sent, completed=sender.tally.sent)
            progress.update(finished, completed=count, total=target if done else None)
            if (done and count >= target) or time.monotonic() >= deadline:
                return max(target - count, 0) if done else target
            time.sleep(POLL_S)


@contextmanager
def data_directory(given: Path | None) -> Iterator[tuple[Path, Callable[[], None]]]:
    """The demo's data dir, and how to remove it when it is a temporary one."""
    if given is not None:
        given.mkdir(parents=True, exist_ok=True)
        yield given, lambda: None
        return
    path = Path(tempfile.mkdtemp(prefix="jobrelay-demo-"))
    yield path, lambda: shutil.rmtree(path, ignore_errors=True)


@dataclass(frozen=True)
class DemoOptions:
    requests: int
    seed: int | None
    timeout_s: float


def run_demo(
    session: Session, cluster: ClusterPlan, children: Children, options: DemoOptions
) -> Summary:
    started = time.monotonic()
    with render.err().status("starting schedulers, nodes and the monitor"):
        client = session.client()
        monitor = start_cluster(cluster, children)
        wait_for_nodes(client, children)
        dashboard = monitor_status(monitor, cluster.port, session.settings().monitor_host)
    sender = Sender(client, build_plan(options.requests, options.seed))
    sender.start()
    try:
        left = watch(sender, children, options.timeout_s)
    finally:
        sender.stop.set()
    summary = summarize(client, sender.plan, sender.tally, cluster.mode, dashboard)
    summary.elapsed_s = time.monotonic() - started
    summary.logs = str(children.log_dir)
    if left:
        summary.notes.append(f"{left} jobs had not ended after {options.timeout_s:g}s")
    return summary


def show(summary: Summary, as_json: bool) -> None:
    if as_json:
        render.print_json(summary.as_json())
    else:
        render.out().print(summary_table(summary))


def keep_running_until_interrupted(children: Children, dashboard: str) -> None:
    render.err().print(f"the cluster runs on; dashboard: {dashboard}; Ctrl-C stops it")
    try:
        while True:
            check_children(children)
            time.sleep(0.5)
    except KeyboardInterrupt:
        return


def stop_cluster(session: Session, children: Children) -> None:
    """Stop the children, then forget the demo's Redis keys (cross-instance mode)."""
    if not children.started:
        return
    with render.err().status("stopping the cluster"):
        killed = children.stop()
    if killed:
        render.err().print(f"killed after the stop timeout: {', '.join(killed)}")
    try:
        forget_demo_keys(session.settings())
    except (RedisError, JobrelayError) as exc:
        render.err().print(f"the demo's Redis keys were left in place: {exc}")


@click.command()
@click.option(
    "--requests", "count", type=click.IntRange(20, 100_000), default=300, show_default=True
)
@click.option("--port", type=click.IntRange(1, 65535), default=5555, show_default=True)
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--redis", "redis_url", help="Run in cross_instance mode on this Redis URL.")
@click.option("--schedulers", type=click.IntRange(1, 32), default=1, show_default=True)
@click.option("--seed", type=int, help="Make the generated requests repeatable.")
@click.option("--timeout-s", type=float, default=150.0, show_default=True)
@click.option("--keep-running", is_flag=True, help="Keep the cluster up until Ctrl-C.")
@json_option
@pass_session
def demo(
    session: Session,
    /,
    *,
    count: int,
    port: int,
    data_dir: Path | None,
    redis_url: str | None,
    schedulers: int,
    seed: int | None,
    timeout_s: float,
    keep_running: bool,
    as_json: bool,
) -> None:
    """Run a local cluster, send it requests, and summarize what happened."""
    if schedulers > 1 and not redis_url:
        raise click.UsageError("--schedulers above 1 needs --redis URL (cross_instance mode)")
    options = DemoOptions(count, seed, timeout_s)
    with data_directory(data_dir) as (path, remove), sigterm_interrupts():
        cluster = ClusterPlan(path, port, redis_url, schedulers, session.debug)
        children = Children(path / "logs", demo_environment(cluster))
        keep_logs = True  # a failure keeps the data dir: its logs say what went wrong
        try:
            summary = run_demo(session, cluster, children, options)
            show(summary, as_json)
            if keep_running:
                keep_running_until_interrupted(children, summary.dashboard)
            keep_logs = not summary.healthy
        except KeyboardInterrupt:
            keep_logs = False
            raise
        except JobrelayError as exc:
            raise CommandFailed(f"{describe(exc)} (logs: {children.log_dir})") from exc
        finally:
            stop_cluster(session, children)
            if not keep_logs:
                remove()
    if not summary.healthy:
        raise click.exceptions.Exit(1)


COMMANDS = [demo]
