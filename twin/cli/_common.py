"""Helpers shared by the CLI commands: spec parsing, JSON output, progress bars."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
import numpy as np
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from ..errors import TaskError
from ..physics.network import Network, network_from_spec
from ..physics.task import Task, allostery_task, iris_task, load_task, regression_task

__all__ = [
    "DEFAULT_NETWORKS",
    "artifact_options",
    "build_tasks",
    "check_non_negative",
    "check_positive",
    "emit_json",
    "print_summary",
    "progress_bar",
    "seeds_for",
]

#: Network used by each generated task kind when --network is not given.
DEFAULT_NETWORKS = {
    "allostery": "lattice:4x4:periodic",
    "regression": "jammed:64",
    "iris": "jammed:64",
}
TASK_KINDS = ("regression", "allostery", "iris")


def seeds_for(seed: int, realization: int) -> np.random.Generator:
    """The generator of one realization: independent streams from ``(seed, realization)``."""
    return np.random.default_rng([seed, realization])


def _network_for(spec: str, seed: int, realization: int) -> Network:
    # A jammed spec without its own seed gives every realization its own packing.
    if spec.startswith("jammed:") and ":seed=" not in spec:
        spec = f"{spec}:seed={seed * 100_003 + realization}"
    return network_from_spec(spec)


def build_tasks(
    task_spec: str, network_spec: str | None, *, seed: int, realizations: int
) -> list[Task]:
    """Tasks for ``realizations`` realizations from CLI specs (``regression``, ``file:PATH``...)."""
    if realizations < 1:
        raise click.BadParameter("must be >= 1", param_hint="--realizations")
    if task_spec.startswith("file:"):
        task = load_task(task_spec[5:])
        if network_spec is not None:
            net = network_from_spec(network_spec)
            if (net.n_nodes, net.n_edges) != (task.network.n_nodes, task.network.n_edges):
                raise TaskError(
                    f"--network: {network_spec} has {net.n_nodes} nodes/{net.n_edges} edges, "
                    f"the task's network {task.network.n_nodes}/{task.network.n_edges}"
                )
            task = task.evolve(network=net)
        return [task] * realizations
    if task_spec not in TASK_KINDS:
        raise click.BadParameter(
            f"unknown task {task_spec!r}; expected one of {', '.join(TASK_KINDS)} or file:PATH",
            param_hint="--task",
        )
    spec = network_spec or DEFAULT_NETWORKS[task_spec]
    make = {"regression": regression_task, "allostery": allostery_task, "iris": iris_task}[
        task_spec
    ]
    tasks = []
    for r in range(realizations):
        tasks.append(make(_network_for(spec, seed, r), rng=seeds_for(seed, r)))  # type: ignore[operator]
    return tasks


def emit_json(obj: dict[str, Any]) -> None:
    """Print ``obj`` as the last stdout line (one JSON object)."""
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


@contextmanager
def progress_bar(description: str, total: float, *, enabled: bool = True) -> Iterator[Any]:
    """A rich progress bar on stderr; yields ``update(done, total)``. Disabled when not a TTY."""
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
        func = click.option("--save", type=path, default=None, help=save_help)(func)
        func = click.option(
            "--plot", type=path, default=None, help="Save error/power curves as PNG."
        )(func)
        return click.option(
            "--out", type=path, default=None, help="Write run documents as JSON lines."
        )(func)

    return decorate


def print_summary(title: str, summary: dict[str, Any]) -> None:
    """The summary as a two-column rich table (lists are shown by their length)."""
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
