"""Run the benchmarks: ``python -m bench.run --size smoke|full [--only NAME,...]``."""

from __future__ import annotations

import argparse
import functools
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from bench import celery_path, creation, memory, monitor_api, peers, selection, soak
from bench.context import Context
from bench.doc import write
from bench.render import show
from bench.results import Outcome
from bench.sizes import SIZES

BENCHMARKS: dict[str, Callable[[Context], Outcome]] = {
    "creation": creation.run,
    "selection": selection.run,
    "celery": celery_path.run,
    "peers": peers.run,
    "memory": memory.run,
    "monitor": monitor_api.run,
    "soak": soak.run,
}
# Run only when named in --only: the soak takes minutes and starts a cluster.
OPT_IN = frozenset({"soak"})
DEFAULT_OUTPUT = "docs/benchmarks.md"


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(prog="jobrelay bench", description=__doc__)
    parse.add_argument("--size", choices=("smoke", "full"), default="smoke",
                       help="smoke finishes in under a minute; full in under ten")  # fmt: skip
    parse.add_argument("--only", default="", help=f"comma-separated: {', '.join(BENCHMARKS)}")
    parse.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="the Redis to use")
    parse.add_argument("--soak-s", type=float, default=soak.DEFAULT_SOAK_S,
                       help="how long the soak benchmark sends requests, in seconds")  # fmt: skip
    parse.add_argument("--output", default=None,
                       help=f"write the Markdown report here (full: {DEFAULT_OUTPUT})")  # fmt: skip
    return parse


def chosen(only: str) -> list[str]:
    default = [name for name in BENCHMARKS if name not in OPT_IN]
    names = [name.strip() for name in only.split(",") if name.strip()] or default
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        raise SystemExit(
            f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}"
        )
    return names


def benchmark(name: str, args: argparse.Namespace) -> Callable[[Context], Outcome]:
    if name == "soak":
        return functools.partial(soak.run, soak_s=args.soak_s)
    return BENCHMARKS[name]


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks, print a table each, and write the report if asked."""
    args = parser().parse_args(argv)
    names = chosen(args.only)
    console = Console(width=max(Console().width, 150))
    ctx = Context(SIZES[args.size], args.redis, lambda text: console.print(f"[dim]{text}[/dim]"))
    outcomes = []
    for name in names:
        outcome = benchmark(name, args)(ctx)
        show(outcome, console)
        outcomes.append(outcome)
    output = args.output or (DEFAULT_OUTPUT if args.size == "full" else None)
    if output:
        command = shlex.join(
            ["python", "-m", "bench.run", *(sys.argv[1:] if argv is None else argv)]
        )
        write(Path(output), command, args.redis, outcomes)
        console.print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
