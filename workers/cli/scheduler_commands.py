"""Commands about scheduler workers: schedulers."""

from __future__ import annotations

import time

import click

from app.scheduler_workers import judge_all
from workers.cli import render
from workers.cli.options import json_option
from workers.cli.session import Session, pass_session


@click.command()
@json_option
@pass_session
def schedulers(session: Session, /, *, as_json: bool) -> None:
    """List scheduler workers: host, pid, pool, status, which one sweeps, last heartbeat."""
    client = session.client()
    workers = judge_all(client.reader.schedulers(), client.settings, time.time())
    if as_json:
        render.print_json([worker.model_dump(mode="json") for worker in workers])
    else:
        render.out().print(render.schedulers_table(workers))


COMMANDS = [schedulers]
