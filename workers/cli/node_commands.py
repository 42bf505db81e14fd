"""Commands about nodes: nodes, drain."""

from __future__ import annotations

import time

import click

from workers.cli import render
from workers.cli.options import json_option
from workers.cli.session import Session, pass_session


@click.command()
@json_option
@pass_session
def nodes(session: Session, /, *, as_json: bool) -> None:
    """List nodes: capabilities, labels, slots in use and free, last heartbeat."""
    known = session.client().reader.nodes()
    now = time.time()
    if as_json:
        render.print_json([render.node_json(node, now) for node in known])
    else:
        render.out().print(render.nodes_table(known, now))


@click.command()
@click.argument("node_id")
@click.option("--undo", is_flag=True, help="Take jobs on the node again.")
@json_option
@pass_session
def drain(session: Session, /, *, node_id: str, undo: bool, as_json: bool) -> None:
    """Stop handing new jobs to a node; running jobs finish (--undo resumes)."""
    node = session.client().drain(node_id, draining=not undo)
    if as_json:
        render.print_json(render.node_json(node, time.time()))
    elif undo:
        render.out().print(f"node {node.node_id}: takes jobs again ({node.status})")
    else:
        render.out().print(f"node {node.node_id}: draining; {node.used} jobs still on it")


COMMANDS = [nodes, drain]
