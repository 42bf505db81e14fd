"""Worker start and stop: the local-mode check, the sweep, and the node's stop command."""

from __future__ import annotations

import logging
from typing import Any

from celery import signals
from celery.worker.control import control_command

from app.errors import ConfigurationError
from app.settings import get_settings
from celeryconfig import SCHEDULER_QUEUE
from workers.runtime import SweepThread, describe_worker, runtime

log = logging.getLogger(__name__)

_sweeps: list[SweepThread] = []


def consumes_scheduler_queue(consumer: Any) -> bool:
    queues = consumer.app.amqp.queues.consume_from or consumer.app.amqp.queues
    return SCHEDULER_QUEUE in queues


@signals.after_setup_logger.connect
def quiet_task_results(**_: Any) -> None:
    """Celery logs every task's result and arguments; those carry payloads. Ours log ids."""
    logging.getLogger("celery.app.trace").setLevel(logging.WARNING)


def pool_name(worker: Any) -> str:
    """``prefork``, ``threads``, ``solo``...: the last part of the pool's module name."""
    pool = getattr(worker, "pool_cls", None)
    module = pool if isinstance(pool, str) else getattr(pool, "__module__", "")
    return str(module).rsplit(".", 1)[-1] or "unknown"


@signals.worker_init.connect
def refuse_local_multiprocess(sender: Any = None, **_: Any) -> None:
    """Local state lives in one process: a prefork pool would split it."""
    settings = get_settings()
    multiprocess = pool_name(sender) == "prefork" and (sender.concurrency or 2) > 1
    if settings.local and multiprocess and consumes_scheduler_queue(sender):
        # Celery logs and swallows exceptions raised by signal handlers; only an exit stops
        # the worker before it forks.
        error = ConfigurationError(
            "local mode keeps its state in one scheduler process, but this worker would "
            "fork several: use --pool threads (or solo), or set JOBRELAY_MODE=cross_instance "
            "with JOBRELAY_REDIS_URL"
        )
        raise SystemExit(f"error: {error.message}")


@signals.worker_ready.connect
def start_sweep(sender: Any = None, **_: Any) -> None:
    if sender is None or not consumes_scheduler_queue(sender):
        return
    rt = runtime()
    log.info("scheduler ready in %s mode", rt.settings.resolved_mode.value)
    # The sender is the worker's consumer; its controller knows the pool.
    controller = sender.controller
    worker = describe_worker(
        sender.hostname, pool_name(controller), controller.concurrency, rt.settings
    )
    thread = SweepThread(rt, worker)
    thread.start()
    _sweeps.append(thread)


@signals.worker_shutdown.connect
def stop_sweep(**_: Any) -> None:
    for thread in _sweeps:
        thread.stop()
    _sweeps.clear()


@control_command(args=[("job_id", str), ("attempt", int)])
def jobrelay_stop(state: Any, job_id: str, attempt: int) -> dict[str, bool]:
    """Stop a running attempt on this node, if it runs here."""
    from workers.node_agent import agent_if_any

    agent = agent_if_any()
    return {"stopped": agent is not None and agent.stop(job_id, int(attempt))}
