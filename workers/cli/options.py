"""Options shared by commands: a request given as flags, ``KEY=VALUE`` pairs, ``--json``."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from typing import IO, Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

REQUEST_FLAGS = (
    "request_id",
    "kind",
    "payload",
    "requires",
    "selector",
    "preferred_node",
    "exclude_node",
    "affinity_key",
    "priority",
    "timeout_s",
    "max_attempts",
)


def json_option(function: F) -> F:
    option = click.option("--json", "as_json", is_flag=True, help="Print JSON to stdout.")
    return option(function)


def parse_pairs(pairs: Iterable[str], flag: str) -> dict[str, str]:
    """``["pool=eu", "gpu=a100"]`` as a dict; a pair without ``=`` is a usage error."""
    result: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} must look like KEY=VALUE", param_hint=flag)
        result[key] = value
    return result


def parse_json_object(text: str, flag: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON ({exc})", param_hint=flag) from exc
    if not isinstance(value, dict):
        raise click.BadParameter("must be a JSON object, e.g. '{\"x\": 1}'", param_hint=flag)
    return value


def request_options(function: F) -> F:
    """The request fields as flags, for ``submit`` and ``explain``."""
    options = [
        click.option("--request-id", help="Idempotency key [default: a new UUID]."),
        click.option("--kind", help="The kind of job, e.g. echo or sleep."),
        click.option("--payload", help="The payload, a JSON object."),
        click.option("--requires", multiple=True, help="A capability the node must offer."),
        click.option("--selector", multiple=True, help="A label K=V the node must carry."),
        click.option("--preferred-node", help="The node to use if it can take the job."),
        click.option("--exclude-node", multiple=True, help="A node not to use."),
        click.option("--affinity-key", help="Jobs with the same key stick to one node."),
        click.option("--priority", type=int, help="Higher runs first."),
        click.option("--timeout-s", type=float, help="Run timeout in seconds."),
        click.option("--max-attempts", type=int, help="How many hand-offs at most."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def flags_given(values: dict[str, Any]) -> bool:
    return any(values.get(name) not in (None, ()) for name in REQUEST_FLAGS)


def request_from_flags(values: dict[str, Any]) -> dict[str, Any]:
    """The request dict from the ``request_options`` values; unset fields are left out."""
    if not values.get("kind"):
        raise click.UsageError("give --kind (or the request as --file F.json or '-' for stdin)")
    request: dict[str, Any] = {
        "request_id": values.get("request_id") or str(uuid.uuid4()),
        "kind": values["kind"],
        "payload": parse_json_object(values["payload"], "--payload")
        if values.get("payload")
        else {},
    }
    optional = {
        "requires": list(values.get("requires") or ()),
        "selector": parse_pairs(values.get("selector") or (), "--selector"),
        "preferred_node": values.get("preferred_node"),
        "exclude_nodes": list(values.get("exclude_node") or ()),
        "affinity_key": values.get("affinity_key"),
        "priority": values.get("priority"),
        "timeout_s": values.get("timeout_s"),
        "max_attempts": values.get("max_attempts"),
    }
    request.update({key: value for key, value in optional.items() if value not in (None, [], {})})
    return request


def read_requests(stream: IO[str], name: str) -> dict[str, Any] | list[Any]:
    """A request object, or a list of them, read as JSON from a file or stdin."""
    try:
        data = json.load(stream)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"{name} is not valid JSON ({exc})", param_hint="--file") from exc
    if not isinstance(data, dict | list):
        raise click.BadParameter(
            f"{name} must hold a request object or a list of them", param_hint="--file"
        )
    return data
