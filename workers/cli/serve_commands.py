"""Long-running processes: the scheduler worker, a node agent, the monitor, the bench."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

import click

from workers.cli.options import parse_pairs
from workers.cli.session import Session, pass_session

if TYPE_CHECKING:
    from workers.node_agent import NodeConfig

log = logging.getLogger(__name__)

PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True}
LOCAL_POOL = ["--pool", "threads", "--concurrency", "4"]


def has_option(args: Sequence[str], *names: str) -> bool:
    """True if ``args`` carry one of ``names`` (``--pool x``, ``--pool=x``, ``-Px``)."""
    for arg in args:
        for name in names:
            if arg == name or arg.startswith(f"{name}="):
                return True
            if len(name) == 2 and arg.startswith(name):
                return True
    return False


def worker_defaults(session: Session, extra: Sequence[str]) -> list[str]:
    """The log level, unless the user gave one: Celery's own default hides job lines."""
    if has_option(extra, "--loglevel", "-l"):
        return []
    level = "DEBUG" if session.debug else session.settings().log_level
    return ["--loglevel", level]


def explicit_prefork(extra: Sequence[str]) -> list[str]:
    """Spell ``prefork`` as its alias ``processes``: Celery takes a ``prefork`` given on
    the command line for its own default and would quietly replace it with the configured
    pool, so the local-mode check could not see what the user asked for."""
    spelled = {
        "prefork": "processes",
        "--pool=prefork": "--pool=processes",
        "-Pprefork": "-Pprocesses",
    }
    return [spelled.get(arg, arg) for arg in extra]


def scheduler_argv(session: Session, extra: Sequence[str]) -> list[str]:
    """Celery worker arguments for a scheduler: its queue, and a pool right for the mode."""
    extra = explicit_prefork(extra)
    argv = ["worker", "--queues", "jobrelay"]
    # Local state lives in one process, so local mode runs threads; cross-instance mode
    # keeps Celery's default prefork pool, its state being in Redis.
    if session.settings().local and not has_option(extra, "--pool", "-P"):
        argv += LOCAL_POOL if not has_option(extra, "--concurrency", "-c") else LOCAL_POOL[:2]
    return [*argv, *worker_defaults(session, extra), *extra]


@click.command(context_settings=PASS_THROUGH)
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
@pass_session
def scheduler(session: Session, /, *, celery_args: tuple[str, ...]) -> None:
    """Run a scheduler worker; other options go to `celery worker`."""
    from app.celery_app import celery

    celery.worker_main(scheduler_argv(session, celery_args))


@click.command(context_settings=PASS_THROUGH)
@click.option("--id", "node_id", required=True, help="The node's id, e.g. gpu-1.")
@click.option("--capability", multiple=True, help="A capability offered, e.g. asr:en.")
@click.option("--label", multiple=True, help="A label K=V, e.g. pool=eu.")
@click.option("--slots", type=click.IntRange(0, 10_000), default=1, show_default=True)
@click.option("--handler", multiple=True, help="A handler KIND=module:function.")
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
@pass_session
def node(
    session: Session,
    /,
    *,
    node_id: str,
    capability: tuple[str, ...],
    label: tuple[str, ...],
    slots: int,
    handler: tuple[str, ...],
    celery_args: tuple[str, ...],
) -> None:
    """Run a node agent; other options go to `celery worker`."""
    from app.celery_app import celery
    from workers.node_agent import NodeConfig, run_node

    config = NodeConfig(
        node_id=node_id,
        slots=slots,
        capabilities=list(capability),
        labels=parse_pairs(label, "--label"),
        handlers=list(handler),
    )
    check_node(config)
    extra = [*worker_defaults(session, celery_args), *celery_args]
    run_node(config, session.settings(), celery, extra)


def check_node(config: NodeConfig) -> None:
    """Refuse ids, capabilities and labels that no heartbeat could carry, before starting."""
    from app.models import Heartbeat, parse_model

    fields = {"node_id": config.node_id, "slots": config.slots}
    fields.update(capabilities=config.capabilities, labels=config.labels)
    parse_model(Heartbeat, fields, "node")


def optional_module(name: str, what: str) -> ModuleType:
    """Import a part of jobrelay that may be missing from this installation."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and name.startswith(exc.name):
            raise click.ClickException(f"{what} ({name}) is not part of this install") from exc
        raise


@click.command()
@click.option("--host", help="Address to listen on [default: JOBRELAY_MONITOR_HOST].")
@click.option("--port", type=click.IntRange(0, 65535), help="[default: JOBRELAY_MONITOR_PORT]")
@pass_session
def monitor(session: Session, /, *, host: str | None, port: int | None) -> None:
    """Run the monitor: dashboard, HTTP API and metrics."""
    settings = session.settings()
    logging.getLogger().setLevel(logging.DEBUG if session.debug else settings.log_level)
    server = optional_module("app.monitor.server", "the monitor")
    server.serve(host or settings.monitor_host, settings.monitor_port if port is None else port)


# No help option of its own: --help goes to the bench runner, which lists its options.
@click.command(context_settings=PASS_THROUGH, add_help_option=False)
@click.argument("bench_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def bench(ctx: click.Context, bench_args: tuple[str, ...]) -> None:
    """Run the benchmarks (jobrelay bench --help lists their options)."""
    runner = optional_module("bench.run", "the bench")
    code: Any = runner.main(list(bench_args), prog=ctx.command_path)
    if isinstance(code, int) and code:
        raise click.exceptions.Exit(code)


COMMANDS = [scheduler, node, monitor, bench]
