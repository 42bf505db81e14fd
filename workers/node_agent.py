"""The node agent: a Celery worker on the node's own queue that runs jobs and reports.

It heartbeats every ``heartbeat_interval_s`` with its capacity and resource use, through
the link of its mode (``workers.node_link``); the answer tells it whether an operator
drained it.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psutil
from celery import Celery
from celery import signals as celery_signals

from app.errors import JobrelayError
from app.handlers import Handler, JobFailed, bind_stop_event, handler_table, release_stop_event
from app.models import Heartbeat, Node, RunOrder, parse_model
from app.outage import OutageLog
from app.settings import Settings
from celeryconfig import NODE_QUEUE_PREFIX, SCHEDULER_QUEUE
from workers.listening import ListenCheck
from workers.node_link import BackendLink, NodeLink, TaskLink

log = logging.getLogger(__name__)

# The exit code of a node that left because its queue stopped delivering (EX_TEMPFAIL):
# a supervisor restarts it, and the new process listens afresh.
EXIT_STALLED = 75
REPORT_RETRY = {"max_retries": 60, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 2}


@dataclass(frozen=True)
class NodeConfig:
    node_id: str
    slots: int
    capabilities: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    handlers: list[str] = field(default_factory=list)


class NodeAgent:
    """Runs the jobs handed to one node and keeps the schedulers informed."""

    def __init__(self, config: NodeConfig, settings: Settings, app: Celery) -> None:
        self.config = config
        self.settings = settings
        self.app = app
        self.handlers: dict[str, Handler] = handler_table(config.handlers)
        self.link: NodeLink = (
            TaskLink(app, settings.node_timeout_s) if settings.local else BackendLink(settings)
        )
        self.running: dict[str, tuple[int, threading.Event]] = {}
        self.draining = False
        self.incarnation = secrets.token_hex(8)
        self.restarts: int | None = None
        self.outage = OutageLog(f"node {config.node_id}: the scheduler link")
        self.stalled = False
        self.listening = ListenCheck(
            app, self.queue, settings.listen_timeout_s, self.has_free_slot, self.went_deaf
        )
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._beat_forever, name="heartbeat", daemon=True)
        self._lock = threading.Lock()

    @property
    def queue(self) -> str:
        return f"{NODE_QUEUE_PREFIX}{self.config.node_id}"

    # heartbeats

    def heartbeat(self) -> Heartbeat:
        memory = psutil.virtual_memory().percent
        return Heartbeat(
            node_id=self.config.node_id,
            capabilities=self.config.capabilities,
            kinds=sorted(self.handlers),
            labels=self.config.labels,
            slots=self.config.slots,
            running_jobs=sorted(self.running),
            cpu_percent=psutil.cpu_percent(interval=None),
            memory_percent=memory,
            draining=self.draining,
            hostname=socket.gethostname(),
            incarnation=self.incarnation,
            sent_at=time.time(),
        )

    def beat(self) -> None:
        try:
            node = self.link.beat(self.heartbeat())
        except Exception as exc:
            self.outage.failed(exc)
            return
        self.outage.succeeded()
        if node is not None and self.restarts is None:
            self._joined(node)
        if node is not None and node.draining and not self.draining:
            log.info(
                "node %s: drained by an operator; finishing running jobs, then leaving "
                "(`jobrelay drain %s --undo` gives it jobs again)",
                node.node_id,
                node.node_id,
            )
            self.begin_drain()
            os.kill(os.getpid(), signal.SIGTERM)

    def _joined(self, node: Node) -> None:
        self.restarts = node.restarts
        if node.restarts:
            log.info(
                "node %s: restart %d of this node; any job its previous process was "
                "running goes back to the backlog",
                node.node_id,
                node.restarts,
            )

    def begin_drain(self) -> None:
        if not self.draining:
            self.draining = True
            self.beat()

    def _beat_forever(self) -> None:
        psutil.cpu_percent(interval=None)
        while not self._stopping.is_set():
            self.beat()
            self._stopping.wait(self.settings.heartbeat_interval_s)

    def start_heartbeats(self) -> None:
        self._thread.start()

    def stop_heartbeats(self) -> None:
        self._stopping.set()
        self.draining = True
        self.beat()

    # listening

    def has_free_slot(self) -> bool:
        return not self.draining and len(self.running) < self.config.slots

    def start_listen_check(self) -> None:
        if self.settings.listen_timeout_s > 0 and not self.listening.is_alive():
            self.listening.start()

    def went_deaf(self, unheard_s: float) -> None:
        """The queue stopped delivering: finish the running jobs, then exit to be restarted."""
        log.error(
            "node %s: a probe sent to its queue %s %.0fs ago never arrived although a slot "
            "is free: the broker connection stalled; finishing the running jobs, then "
            "exiting with code %d so that a supervisor restarts the node",
            self.config.node_id,
            self.queue,
            unheard_s,
            EXIT_STALLED,
        )
        self.stalled = True
        self.begin_drain()
        os.kill(os.getpid(), signal.SIGTERM)

    # jobs

    def run(self, data: object) -> str:
        order = parse_model(RunOrder, data, "run order")
        if order.node_id != self.config.node_id:
            log.warning(
                "job %s: order for node %s reached %s; ignored",
                order.job_id,
                order.node_id,
                self.config.node_id,
            )
            return "misrouted"
        stop = threading.Event()
        with self._lock:
            self.running[order.job_id] = (order.attempt, stop)
        try:
            return self._run(order, stop)
        finally:
            with self._lock:
                self.running.pop(order.job_id, None)

    def _run(self, order: RunOrder, stop: threading.Event) -> str:
        self.report(order, "started")
        handler = self.handlers.get(order.kind)
        if handler is None:
            error = f"node {self.config.node_id} has no handler for kind {order.kind}"
            self.report(order, "failed", error=error, retryable=True)
            return "failed"
        timer = threading.Timer(order.timeout_s, stop.set) if order.timeout_s else None
        if timer:
            timer.daemon = True
            timer.start()
        token = bind_stop_event(stop)
        started = time.monotonic()
        try:
            outcome = self._call(order, handler, began=time.time())
        finally:
            release_stop_event(token)
            if timer:
                timer.cancel()
        log.info(
            "job %s: %s on %s in %.3fs (attempt %d)",
            order.job_id,
            outcome,
            self.config.node_id,
            time.monotonic() - started,
            order.attempt,
        )
        return outcome

    def _call(self, order: RunOrder, handler: Handler, began: float) -> str:
        try:
            result = handler(dict(order.payload))
            json.dumps(result)
        except JobFailed as exc:
            error = str(exc) or "the handler failed the job"
            self.report(order, "failed", error=error, started_at=began)
            return "failed"
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            self.report(order, "failed", error=error, retryable=True, started_at=began)
            return "failed"
        self.report(order, "succeeded", result=result, started_at=began)
        return "succeeded"

    def report(self, order: RunOrder, event: str, **fields: Any) -> None:
        report = {
            "job_id": order.job_id,
            "attempt": order.attempt,
            "node_id": self.config.node_id,
            "event": event,
            **fields,
        }
        self.app.send_task(
            "jobrelay.report",
            args=[report],
            queue=SCHEDULER_QUEUE,
            ignore_result=True,
            retry=True,
            retry_policy=REPORT_RETRY,
            # Events and Flower show this instead of the report, whose result is private.
            argsrepr=f"({event} report of job {order.job_id} attempt {order.attempt})",
            kwargsrepr="{}",
        )

    def stop(self, job_id: str, attempt: int) -> bool:
        """Ask a running attempt to stop (cancelled jobs); True if it runs here."""
        with self._lock:
            entry = self.running.get(job_id)
        if entry is None or entry[0] != attempt:
            return False
        entry[1].set()
        return True


_agent: NodeAgent | None = None


def agent_if_any() -> NodeAgent | None:
    return _agent


def current_agent() -> NodeAgent:
    if _agent is None:
        raise JobrelayError(
            "jobrelay.run_job reached a worker that is not a node agent; start nodes with "
            "`jobrelay node --id ID ...`, and keep node queues out of scheduler workers"
        )
    return _agent


@celery_signals.worker_shutting_down.connect
def _drain_on_shutdown(**_: Any) -> None:
    if _agent is not None:
        _agent.draining = True
        _agent.listening.stopping.set()


@celery_signals.worker_ready.connect
def _listen_when_ready(**_: Any) -> None:
    if _agent is not None:
        _agent.start_listen_check()


@celery_signals.task_received.connect
def _heard(**_: Any) -> None:
    if _agent is not None:
        _agent.listening.heard()


def run_node(config: NodeConfig, settings: Settings, app: Celery, celery_args: list[str]) -> None:
    """Run a node agent in this process until it is stopped or drained."""
    global _agent  # noqa: PLW0603 - one agent per node process, set once at start
    _agent = NodeAgent(config, settings, app)
    _agent.beat()  # before any job is taken, so the store knows this is a new process
    _agent.start_heartbeats()
    argv = [
        "worker",
        "--queues",
        _agent.queue,
        "--pool",
        "threads",
        "--concurrency",
        str(max(config.slots, 1)),
        "--hostname",
        f"{config.node_id}@%h",
        "--prefetch-multiplier",
        "1",
        "--without-gossip",
        "--without-mingle",
        *celery_args,
    ]
    try:
        app.worker_main(argv)
    finally:
        _agent.stop_heartbeats()
        log.info("node %s: stopped", config.node_id)
    if _agent.stalled:
        raise SystemExit(EXIT_STALLED)
