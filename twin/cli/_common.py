"""Helpers shared by the CLI commands: spec parsing, JSON output, progress bars."""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from ..physics.task import Task

__all__ = [
    "MAX_SEED",
    "SEED",
    "FiniteRange",
    "announce_compilation",
    "artifact_options",
    "check_non_negative",
    "check_output_path",
    "check_plot_path",
    "check_positive",
    "check_work",
    "emit_json",
    "print_summary",
    "progress_bar",
    "tasks_from_options",
]


#: Largest seed (int64), for every ``--seed``.
MAX_SEED = 2**63 - 1
#: The ``--seed`` type: an integer in [0, 2^63 - 1].
SEED = click.IntRange(0, MAX_SEED)
#: Plot formats ``--plot`` writes, by suffix.
PLOT_SUFFIXES = (".png", ".pdf", ".svg")


class FiniteRange(click.FloatRange):
    """A float in a range, also refusing ``nan`` and infinities; the range shows in ``--help``."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        rv = super().convert(value, param, ctx)
        if not math.isfinite(rv):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return rv


def check_work(what: str, estimate: float, limit: float, formula: str, force: bool) -> None:
    """Refuse a run whose work ``estimate`` exceeds ``limit`` unless ``force`` (one-line error).

    ``formula`` says how the estimate was made (``steps x realizations x edges``).
    """
    if estimate > limit and not force:
        raise click.UsageError(
            f"{what}: estimated {estimate:.3g} {formula} exceeds the limit {limit:.3g} "
            "(hours of computing); reduce it or pass --force"
        )


def check_output_path(
    ctx: click.Context, param: click.Parameter, value: Path | None
) -> Path | None:
    """Click callback: a file path whose folder exists and is writable (checked before the run)."""
    if value is None:
        return None
    where = str(value)
    if not where or value.is_dir():
        raise click.BadParameter(f"{where!r} is a folder; expected a file path", ctx, param)
    folder = value.parent
    if not folder.is_dir():
        raise click.BadParameter(f"folder {str(folder)!r} does not exist", ctx, param)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise click.BadParameter(f"folder {str(folder)!r} is not writable", ctx, param)
    if value.exists() and not os.access(value, os.W_OK):
        raise click.BadParameter(f"{where!r} exists and is not writable", ctx, param)
    return value


def check_plot_path(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Click callback: :func:`check_output_path` and a known plot format (png, pdf, svg)."""
    if value is not None and value.suffix.lower() not in PLOT_SUFFIXES:
        raise click.BadParameter(
            f"unknown plot format {value.suffix or '(none)'!r}; expected a "
            f"{', '.join(PLOT_SUFFIXES)} file",
            ctx,
            param,
        )
    return check_output_path(ctx, param, value)


def tasks_from_options(
    task_spec: str,
    network_spec: str | None,
    *,
    seed: int,
    realizations: int,
    label_noise: float = 0.0,
) -> list[Task]:
    """:func:`twin.physics.task_spec.build_tasks`, its spec errors pointing at the CLI option."""
    from ..physics.task_spec import TaskSpecError, build_tasks

    try:
        return build_tasks(
            task_spec, network_spec, seed=seed, realizations=realizations, label_noise=label_noise
        )
    except TaskSpecError as exc:
        option = exc.field.replace("_", "-")
        raise click.BadParameter(exc.detail, param_hint=f"--{option}") from None


#: First-run compile times of the kernels a command loads, seconds (measured on 2 shared cores).
COMPILE_ESTIMATE_S = {"train": 30, "simulate": 60, "demo": 90}


def announce_compilation(command: str) -> None:
    """Say on stderr that the kernels the command imported must compile first (cold cache)."""
    from .._kernel_cache import cold_kernel_modules

    if cold_kernel_modules():
        estimate = COMPILE_ESTIMATE_S.get(command, 60)
        click.echo(f"compiling kernels (first run only, ~{estimate} s)", err=True)


def emit_json(obj: dict[str, Any]) -> None:
    """Print ``obj`` as the last stdout line (one JSON object)."""
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


@contextmanager
def progress_bar(description: str, total: float, *, enabled: bool = True) -> Iterator[Any]:
    """A rich progress bar on stderr; yields ``update(done, total)``. Disabled when not a TTY."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield lambda done, total_: None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        tid = bar.add_task(description, total=total)

        def update(done: float, total_: float) -> None:
            bar.update(tid, completed=done)

        yield update


F = TypeVar("F", bound=Callable[..., Any])


def artifact_options(save_help: str) -> Callable[[F], F]:
    """``--out``, ``--plot``, ``--save`` and ``--json`` (parameters out, plot, save, as_json)."""
    path = click.Path(dir_okay=False, path_type=Path)

    def decorate(func: F) -> F:
        func = click.option(
            "--json",
            "as_json",
            is_flag=True,
            help="Print the summary as one JSON object (last line).",
        )(func)
        func = click.option(
            "--save", type=path, default=None, callback=check_output_path, help=save_help
        )(func)
        func = click.option(
            "--plot",
            type=path,
            default=None,
            callback=check_plot_path,
            help="Save error/power curves (.png, .pdf or .svg).",
        )(func)
        return click.option(
            "--out",
            type=path,
            default=None,
            callback=check_output_path,
            help="Write run documents as JSON lines.",
        )(func)

    return decorate


def print_summary(title: str, summary: dict[str, Any]) -> None:
    """The summary as a two-column rich table (lists are shown by their length)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_header=True)
    table.add_column("quantity")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        if isinstance(value, list):
            shown = f"{len(value)} values (see --json)"
        else:
            shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        table.add_row(key, shown)
    Console().print(table)


def check_positive(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """Click callback: a finite number > 0 (``None`` passes: the option was not given)."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise click.BadParameter(f"must be a finite number > 0, got {value}", ctx=ctx, param=param)
    return value


def check_non_negative(ctx: click.Context, param: click.Parameter, value: float) -> float:
    """Click callback: a finite number >= 0."""
    if not (math.isfinite(value) and value >= 0):
        raise click.BadParameter(f"must be a finite number >= 0, got {value}", ctx=ctx, param=param)
    return value
