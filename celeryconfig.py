"""Celery configuration for jobrelay, derived from the ``JOBRELAY_*`` settings.

Local mode needs no server: the broker is kombu's filesystem transport and results are
files, both under ``JOBRELAY_DATA_DIR``. Cross-instance mode uses the Redis of
``JOBRELAY_REDIS_URL`` (or ``JOBRELAY_BROKER_URL``, e.g. RabbitMQ) for both.
"""

from __future__ import annotations

from typing import Any

from kombu.entity import Exchange, Queue

from app.settings import Settings, get_settings

SCHEDULER_QUEUE = "jobrelay"
NODE_QUEUE_PREFIX = "jobrelay.node."

# Messages that move jobs along (reports, heartbeats, cancels, reads) go before creations
# on the scheduler queue, so a burst of requests never holds back the reports that free
# slots. Redis takes 0 as its highest priority, RabbitMQ 9; local mode has none.
LIFECYCLE_TASKS = (
    "jobrelay.report",
    "jobrelay.node_heartbeat",
    "jobrelay.cancel_job",
    "jobrelay.drain_node",
    "jobrelay.query",
)

CREATION_TASKS = ("jobrelay.create_job", "jobrelay.create_jobs")


def priorities(settings: Settings) -> tuple[int | None, int | None]:
    """(lifecycle, creation) message priorities for the configured broker."""
    if settings.broker.startswith(("redis", "rediss")):
        return 0, 6
    if settings.broker.startswith(("amqp", "pyamqp")):
        return 9, 0
    return None, None


def routes(settings: Settings) -> dict[str, dict[str, Any]]:
    lifecycle, creation = priorities(settings)
    table: dict[str, dict[str, Any]] = {}
    for names, priority in ((LIFECYCLE_TASKS, lifecycle), (CREATION_TASKS, creation)):
        route: dict[str, Any] = {"queue": SCHEDULER_QUEUE}
        if priority is not None:
            route["priority"] = priority
        table.update(dict.fromkeys(names, route))
    return table


def transport_options(settings: Settings) -> dict[str, Any]:
    """Broker options: folders for the filesystem transport, redelivery for the others."""
    if settings.broker.startswith("filesystem"):
        folder = settings.data_dir / "broker"
        for sub in ("queue", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        return {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
            "polling_interval": settings.polling_interval_s,
        }
    # Scheduler tasks take milliseconds and node jobs are acknowledged on receipt, so a
    # message unacknowledged for long means its worker died: redeliver it after
    # JOBRELAY_VISIBILITY_TIMEOUT_S rather than Celery's default hour. Every scheduler task
    # is idempotent (creation by request_id, reports by attempt), so a redelivery of a
    # message that was in fact handled changes nothing. Jobs are timed by jobrelay itself.
    options: dict[str, Any] = {
        "visibility_timeout": settings.visibility_timeout_s,
        "unacked_restore_interval": 2,
        "unacked_restore_throttle": 1,
    }
    if settings.broker.startswith(("redis", "rediss")):
        # Deployments sharing one Redis keep their queues apart, as they keep their state.
        options["global_keyprefix"] = f"{settings.key_prefix}:"
        options["priority_steps"] = list(range(10))
        options["sep"] = ":"
        options["queue_order_strategy"] = "priority"
    return options


def result_options(settings: Settings) -> dict[str, Any]:
    """Task results on Redis carry the deployment's prefix too, so they stay apart."""
    if settings.result_backend.startswith(("redis", "rediss")):
        return {"global_keyprefix": f"{settings.key_prefix}:"}
    return {}


def celery_config(settings: Settings) -> dict[str, Any]:
    if settings.result_backend.startswith("file://"):
        (settings.data_dir / "results").mkdir(parents=True, exist_ok=True)
    exchange = Exchange(SCHEDULER_QUEUE, type="direct")
    queue_arguments = {"x-max-priority": 10} if settings.broker.startswith("amqp") else None
    queue = Queue(
        SCHEDULER_QUEUE, exchange, routing_key=SCHEDULER_QUEUE, queue_arguments=queue_arguments
    )
    return {
        "broker_url": settings.broker,
        # kombu's filesystem transport, but writing each message file atomically.
        "broker_transport": (
            "app.filesystem_broker:Transport" if settings.broker.startswith("filesystem") else None
        ),
        "result_backend": settings.result_backend,
        "result_backend_transport_options": result_options(settings),
        "broker_transport_options": transport_options(settings),
        "broker_connection_retry_on_startup": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "event_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "task_default_queue": SCHEDULER_QUEUE,
        "task_queues": (queue,),
        "task_routes": routes(settings),
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_ignore_result": True,
        "result_expires": 3600,
        "result_extended": False,
        "worker_prefetch_multiplier": 4,
        "worker_send_task_events": True,
        # Workers send task events for Flower; a "sent" event per published message would
        # double the cost of every hand-off, and Flower learns of each task when received.
        "task_send_sent_event": False,
        "worker_pool": "threads" if settings.local else "prefork",
        "timezone": "UTC",
    }


globals().update(celery_config(get_settings()))
