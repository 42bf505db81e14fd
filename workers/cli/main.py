"""The ``jobrelay`` command group, its logging and its one-line error handling."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Sequence
from typing import Any

import click

from workers.cli.failure import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    CommandFailed,
    describe,
    describe_click,
)
from workers.cli.session import DEFAULT_ANSWER_TIMEOUT_S, Session

log = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class QuietLocalBroker(logging.Filter):
    """Drops kombu's warning that the filesystem broker URL names no host: it needs none."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("No hostname was supplied")


def configure_logging(debug: bool) -> None:
    """Log to stderr: warnings only, or everything with ``--debug``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(QuietLocalBroker())
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING, handlers=[handler], force=True
    )


class JobrelayGroup(click.Group):
    """A group whose commands fail with one line, and a traceback only with ``--debug``."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:
            session = ctx.find_object(Session)
            if session is not None and session.debug:
                traceback.print_exc()
            raise CommandFailed(describe(exc)) from exc


@click.group(cls=JobrelayGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show DEBUG logs and tracebacks.")
@click.option(
    "--answer-timeout-s",
    type=click.FloatRange(min=0.1),
    default=DEFAULT_ANSWER_TIMEOUT_S,
    show_default=True,
    help="How long to wait for a scheduler to answer a command or a read.",
)
@click.pass_context
def cli(ctx: click.Context, debug: bool, answer_timeout_s: float) -> None:
    """jobrelay: create each job once per request_id and hand it to the right node."""
    ctx.obj = Session(debug=debug, answer_timeout_s=answer_timeout_s)
    configure_logging(debug)


def _register() -> None:
    from workers.cli import (
        demo,
        job_commands,
        node_commands,
        scheduler_commands,
        serve_commands,
    )

    for module in (serve_commands, job_commands, node_commands, scheduler_commands, demo):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line; every failure ends as one line on stderr and a non-zero exit."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code = cli.main(args=args, prog_name="jobrelay", standalone_mode=False)
    except click.ClickException as exc:
        click.echo(f"error: {describe_click(exc)}", err=True)
        sys.exit(exc.exit_code)
    except (click.Abort, KeyboardInterrupt):
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:
        # Raised outside a command (while parsing, or by click itself).
        if "--debug" in args:
            traceback.print_exc()
        click.echo(f"error: {describe(exc)}", err=True)
        sys.exit(EXIT_FAILURE)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
