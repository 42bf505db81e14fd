"""Scheduler messages that move jobs along go before creations on every broker that can."""

from app.settings import load_settings
from celeryconfig import celery_config

LIFECYCLE = ("jobrelay.report", "jobrelay.node_heartbeat", "jobrelay.cancel_job")


def routes_for(**settings: str) -> dict[str, dict[str, object]]:
    return celery_config(load_settings(**settings))["task_routes"]


def test_redis_takes_zero_as_the_highest_priority(tmp_path) -> None:
    routes = routes_for(redis_url="redis://127.0.0.1:6379/0", data_dir=str(tmp_path))
    assert all(routes[name]["priority"] == 0 for name in LIFECYCLE)
    assert routes["jobrelay.create_job"]["priority"] == 6
    options = celery_config(load_settings(redis_url="redis://h:1/0"))["broker_transport_options"]
    assert options["priority_steps"] == list(range(10))
    assert options["global_keyprefix"] == "jobrelay:"
    results = celery_config(load_settings(redis_url="redis://h:1/0"))
    assert results["result_backend_transport_options"] == {"global_keyprefix": "jobrelay:"}


def test_rabbitmq_takes_nine_as_the_highest_and_declares_a_priority_queue(tmp_path) -> None:
    settings = {"redis_url": "redis://h:1/0", "broker_url": "amqp://guest:guest@h:5672//"}
    routes = routes_for(**settings)
    assert all(routes[name]["priority"] == 9 for name in LIFECYCLE)
    assert routes["jobrelay.create_job"]["priority"] == 0
    (queue,) = celery_config(load_settings(**settings))["task_queues"]
    assert queue.queue_arguments == {"x-max-priority": 10}


def test_local_mode_has_no_priorities_and_needs_no_server(tmp_path) -> None:
    config = celery_config(load_settings(mode="local", data_dir=str(tmp_path)))
    assert "priority" not in config["task_routes"]["jobrelay.report"]
    assert config["broker_url"].startswith("filesystem://")
    assert config["accept_content"] == ["json"]
