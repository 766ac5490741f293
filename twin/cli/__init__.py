"""The ``twin`` command line (click).

Each command lives in its own module and registers itself on :data:`cli`. Errors in arguments or
input files print one line, ``twin <command>: error: <what>``, and exit with code 2.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from ..errors import TwinError

__all__ = ["cli", "main"]

EXIT_USAGE = 2


class _OneLineErrors(click.Group):
    """A group whose usage and input errors are one line on stderr with exit code 2."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        argv = kwargs.get("args", args[0] if args else None)
        for i, arg in enumerate(argv or ()):
            if isinstance(arg, str) and "\x00" in arg:  # an OS command line cannot hold one
                click.echo(f"twin: error: argument {i + 1} contains a NUL byte", err=True)
                sys.exit(EXIT_USAGE)
        try:
            return super().main(*args, **kwargs)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            click.echo("twin: aborted", err=True)
            sys.exit(130)
        except click.ClickException as exc:
            ctx = getattr(exc, "ctx", None)
            where = ctx.command_path if ctx is not None else "twin"
            click.echo(f"{where}: error: {exc.format_message()}", err=True)
            sys.exit(EXIT_USAGE)
        except TwinError as exc:
            click.echo(f"twin: error: {exc}", err=True)
            sys.exit(EXIT_USAGE)


@click.group(cls=_OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="Log more (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """learning-twin: digital twin of self-learning resistor networks."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


#: Modules under ``twin.cli`` that define commands (each adds its commands to :data:`cli`).
_COMMAND_MODULES = (
    "demo",
    "train",
    "simulate",
    "energy",
    "energy_writes",
    "infer",
    "board",
    "shadow",
    "steer",
    "calibrate",
    "record",
    "sweep",
    "figures",
    "keys",
)


def _register() -> None:
    import importlib

    for name in _COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}")


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point."""
    _register()
    return cli.main(args=argv, prog_name="twin")
