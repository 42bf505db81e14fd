"""Run the benchmarks: ``python -m bench.run --size smoke|full [--only NAME,...]``."""

from __future__ import annotations

import argparse
import functools
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console

from bench import celery_path, creation, memory, monitor_api, peers, selection, soak
from bench.context import Context
from bench.doc import write
from bench.provenance import ROOT, Moment, Run, commit, machine
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
PROG = "python -m bench.run"
DESCRIPTION = (
    "Run jobrelay's benchmarks and print a table each, every ratio against a baseline "
    f"measured in the same run. Only a complete full run writes {DEFAULT_OUTPUT}."
)


def parser(prog: str = PROG) -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    parse.add_argument("--size", choices=("smoke", "full"), default="smoke",
                       help="smoke finishes in about a minute; full in under ten")  # fmt: skip
    parse.add_argument("--only", default="", help=f"comma-separated: {', '.join(BENCHMARKS)}")
    parse.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="the Redis to use")
    parse.add_argument("--soak-s", type=float, default=soak.DEFAULT_SOAK_S,
                       help="how long the soak benchmark sends requests, in seconds")  # fmt: skip
    parse.add_argument("--output", default=None,
                       help=f"write the Markdown report here (a complete full run: "
                            f"{DEFAULT_OUTPUT})")  # fmt: skip
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


def is_default_output(path: Path) -> bool:
    targets = {(ROOT / DEFAULT_OUTPUT).resolve(), Path(DEFAULT_OUTPUT).resolve()}
    return path.resolve() in targets


def complete(args: argparse.Namespace, names: Sequence[str]) -> bool:
    """A full-size run of every benchmark that runs by default."""
    return args.size == "full" and set(names) >= set(BENCHMARKS) - OPT_IN


def output_path(args: argparse.Namespace, names: Sequence[str]) -> Path | None:
    """Where the report goes; refuses, before anything runs, to overwrite the docs' one."""
    whole = complete(args, names)
    if args.output is None:
        return Path(DEFAULT_OUTPUT) if whole else None
    path = Path(args.output)
    if is_default_output(path) and not whole:
        raise SystemExit(
            f"only a complete full run (--size full, without --only) writes {DEFAULT_OUTPUT}; "
            "give --output another path to keep this run's report"
        )
    return path


def benchmark(name: str, args: argparse.Namespace) -> Callable[[Context], Outcome]:
    if name == "soak":
        return functools.partial(soak.run, soak_s=args.soak_s)
    return BENCHMARKS[name]


def run_all(names: Sequence[str], args: argparse.Namespace, console: Console) -> list[Outcome]:
    ctx = Context(SIZES[args.size], args.redis, lambda text: console.print(f"[dim]{text}[/dim]"))
    outcomes = []
    for name in names:
        outcome = benchmark(name, args)(ctx)
        show(outcome, console)
        outcomes.append(outcome)
    return outcomes


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Run the chosen benchmarks, print a table each, and write the report if asked.

    ``prog`` is how the runner was called (``jobrelay bench`` from the CLI); with the
    arguments it is the command the report names.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = parser(prog).parse_args(arguments)
    names = chosen(args.only)
    output = output_path(args, names)
    command = shlex.join([*shlex.split(prog), *arguments])
    console = Console(width=max(Console().width, 150))
    start, revision = Moment.now(), commit()
    console.print(f"{command}\ncommit {revision}; started {start.describe()}", highlight=False)
    if output is None and args.size == "full":
        console.print(f"a partial run: {DEFAULT_OUTPUT} is not written (see --output)")
    outcomes = run_all(names, args, console)
    end = Moment.now()
    console.print(f"ended {end.describe()}", highlight=False)
    if output is not None:
        write(output, Run(command, revision, machine(args.redis), start, end), outcomes)
        console.print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
