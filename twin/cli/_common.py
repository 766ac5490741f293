"""Helpers shared by the CLI commands: spec parsing, JSON output, progress bars."""

from __future__ import annotations

import json
import math
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ._types import (
    MAX_SEED,
    SEED,
    VARIATION,
    VARIATION_HELP,
    Endpoint,
    FiniteRange,
    OutputFile,
    check_output_file,
)

if TYPE_CHECKING:
    from ..physics.estimate import Estimate, NetworkSize
    from ..physics.task import Task

__all__ = [
    "MAX_SEED",
    "SEED",
    "FiniteRange",
    "announce_compilation",
    "announce_estimate",
    "artifact_options",
    "board_options",
    "check_non_negative",
    "check_output_path",
    "check_plot_path",
    "check_positive",
    "check_request",
    "check_work",
    "emit_json",
    "print_summary",
    "progress_bar",
    "request_size",
    "spring_tasks_from_options",
    "tasks_from_options",
    "timed_progress",
]


#: Plot formats ``--plot`` writes, by suffix.
PLOT_SUFFIXES = (".png", ".pdf", ".svg")


def check_work(what: str, estimate: float, limit: float, formula: str, force: bool) -> None:
    """Refuse a run whose work ``estimate`` exceeds ``limit`` unless ``force`` (one-line error).

    ``formula`` says how the estimate was made (``steps x realizations x edges``).
    """
    if estimate > limit and not force:
        raise click.UsageError(
            f"{what}: estimated {estimate:.3g} {formula} exceeds the limit {limit:.3g} "
            "(hours of computing); reduce it or pass --force"
        )


#: Longest estimated request run without --force, seconds (a request estimated longer looks hung;
#: the edge-steps and edge-events limits of the commands are of the same order).
MAX_REQUEST_S = 3600.0
#: Requests estimated to take longer than this print their estimate before starting, seconds.
ANNOUNCE_S = 10.0


def check_request(
    what: str,
    estimate: Estimate,
    force: bool,
    *,
    quiet: bool = False,
    max_time_s: float | None = MAX_REQUEST_S,
    work: tuple[float, float, str] | None = None,
) -> None:
    """Refuse a request whose estimated peak memory exceeds the memory available, whose
    estimated time exceeds ``max_time_s`` (``None``: no time limit) or whose ``work``
    ``(estimate, limit, unit)`` exceeds its limit, unless ``force``: one line naming the
    estimate and every limit it exceeds. Announce a long request on stderr (unless ``quiet``)."""
    from ..physics.estimate import available_memory_bytes, format_bytes, format_seconds

    available = available_memory_bytes()
    limits = []
    if estimate.memory_bytes > available:
        limits.append(f"the {format_bytes(available)} of memory available")
    if max_time_s is not None and estimate.time_s > max_time_s:
        limits.append(f"the {format_seconds(max_time_s)} limit")
    text = estimate.describe()
    if work is not None:
        text += f", {work[0]:.3g} {work[2]}"
        if work[0] > work[1]:
            limits.append(f"the {work[1]:.3g} {work[2].split(' ')[0]} limit")
    if limits and not force:
        raise click.UsageError(
            f"{what}: estimated {text} exceeds {', '.join(limits)}; "
            "reduce the request or pass --force"
        )
    if not quiet:
        announce_estimate(what, estimate)


def announce_estimate(what: str, estimate: Estimate) -> None:
    """Print a request's estimate on stderr when it is longer than :data:`ANNOUNCE_S`."""
    if estimate.time_s > ANNOUNCE_S:
        click.echo(f"{what}: estimated {estimate.describe()}", err=True)


def check_output_path(
    ctx: click.Context, param: click.Parameter, value: Path | None
) -> Path | None:
    """Click callback: :func:`twin.cli._types.check_output_file` (checked before the run)."""
    if value is not None and (problem := check_output_file(value)) is not None:
        raise click.BadParameter(problem, ctx, param)
    return value


def check_plot_path(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Click callback: :func:`check_output_path` and a known plot format (png, pdf, svg)."""
    if value is not None and (problem := check_output_file(value, PLOT_SUFFIXES)) is not None:
        raise click.BadParameter(problem, ctx, param)
    return value


def tasks_from_options(
    task_spec: str,
    network_spec: str | None,
    *,
    seed: int,
    realizations: int,
    progress: bool = False,
    estimate_s: float = 0.0,
    label_noise: float = 0.0,
) -> list[Task]:
    """:func:`twin.physics.task_spec.build_tasks`, its spec errors pointing at the CLI option.

    With ``progress``, a bar with an ETA over the realizations when there is more than one; one
    network estimated to take more than :data:`ANNOUNCE_S` to generate (``estimate_s``) gets a bar
    of elapsed over estimated time (the generator reports no intermediate progress).
    """
    from ..physics.task_spec import TaskSpecError, build_tasks

    try:
        if progress and realizations == 1 and estimate_s > ANNOUNCE_S:
            with timed_progress("network (estimated time)", estimate_s):
                return build_tasks(
                    task_spec, network_spec, seed=seed, realizations=1, label_noise=label_noise
                )
        with progress_bar("networks", realizations, enabled=progress and realizations > 1) as bar:
            return build_tasks(
                task_spec,
                network_spec,
                seed=seed,
                realizations=realizations,
                progress=bar,
                label_noise=label_noise,
            )
    except TaskSpecError as exc:
        option = exc.field.replace("_", "-")
        raise click.BadParameter(exc.detail, param_hint=f"--{option}") from None


def spring_tasks_from_options(
    task_spec: str,
    network_spec: str | None,
    *,
    seed: int,
    realizations: int,
    prune: float | None,
    progress: bool = False,
) -> list[Any]:
    """:func:`twin.physics.springs.task_spec.build_spring_tasks`, spec errors on the option."""
    from ..physics.springs.task_spec import build_spring_tasks
    from ..physics.task_spec import TaskSpecError

    try:
        with progress_bar("networks", realizations, enabled=progress and realizations > 1) as bar:
            return list(
                build_spring_tasks(
                    task_spec,
                    network_spec,
                    seed=seed,
                    realizations=realizations,
                    prune=prune,
                    progress=bar,
                )
            )
    except TaskSpecError as exc:
        option = exc.field.replace("_", "-")
        raise click.BadParameter(exc.detail, param_hint=f"--{option}") from None


@contextmanager
def timed_progress(description: str, estimate_s: float) -> Iterator[None]:
    """A :func:`progress_bar` of elapsed over estimated seconds (at most 99 % until done),
    updated twice a second from a thread while the body runs."""
    done = threading.Event()
    with progress_bar(description, estimate_s) as update:

        def tick() -> None:
            t0 = time.monotonic()
            while not done.wait(0.5):
                update(min(time.monotonic() - t0, 0.99 * estimate_s), estimate_s)

        worker = threading.Thread(target=tick, name="timed-progress", daemon=True)
        worker.start()
        try:
            yield
        finally:
            done.set()
            worker.join()


def request_size(task_spec: str, network_spec: str | None) -> NetworkSize | None:
    """:class:`twin.physics.estimate.NetworkSize` of the network a request will generate, from
    its specs alone (``None`` for files: their size is known once they are read)."""
    from ..physics.estimate import network_size
    from ..physics.task_spec import DEFAULT_NETWORKS

    spec = network_spec if network_spec is not None else DEFAULT_NETWORKS.get(task_spec)
    if spec is None or (task_spec.startswith("file:") and network_spec is None):
        return None
    return network_size(spec)


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

    def decorate(func: F) -> F:
        func = click.option(
            "--json",
            "as_json",
            is_flag=True,
            help="Print the summary as one JSON object (last line).",
        )(func)
        func = click.option("--save", type=OutputFile(), default=None, help=save_help)(func)
        func = click.option(
            "--plot",
            type=OutputFile(PLOT_SUFFIXES),
            default=None,
            help="Save error/power curves (.png, .pdf or .svg).",
        )(func)
        return click.option(
            "--out", type=OutputFile(), default=None, help="Write run documents as JSON lines."
        )(func)

    return decorate


def board_options(verb: str) -> Callable[[F], F]:
    """Which board a command works on, and what an emulated one hides: ``--emulate``,
    ``--connect`` (parameter ``connect``), ``--seed``, ``--variation``, ``--calibrate``
    (parameter ``calibrate_first``) and ``--calibration FILE``. ``verb``: ``Shadow``, ..."""
    options = [
        click.option("--emulate", is_flag=True, help=f"{verb} an emulated board in this process."),
        click.option("--connect", type=Endpoint(), metavar="ENDPOINT", default=None,
                     help=f"{verb} a board at tcp://HOST:PORT (twin board, or any board speaking "
                     "schemas/PROTOCOL.md)."),
        click.option("--seed", type=SEED, default=0, show_default=True,
                     help="Seed of the emulated board and of the twin."),
        click.option("--variation", type=VARIATION, default="typical", show_default=True,
                     help=VARIATION_HELP),
        click.option("--calibrate", "calibrate_first", is_flag=True,
                     help="Calibrate the twin on the board first, by training it for 6 s of "
                     "board time from random gates (over --connect the board's gates are "
                     "reset; it is left training)."),
        click.option("--calibration", type=click.Path(dir_okay=False, path_type=Path),
                     default=None, metavar="FILE",
                     help="The twin's calibration saved by twin calibrate --save (it must be "
                     "of this board and network)."),
    ]  # fmt: skip

    def decorate(func: F) -> F:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def plain(value: Any) -> str:
    """``str(value)`` with rich markup escaped: text from data (names, uids, paths, errors) is
    printed as written, never read as markup (``[/]`` in a name would end in a traceback)."""
    from rich.markup import escape

    return escape(str(value))


def print_summary(title: str, summary: dict[str, Any]) -> None:
    """The summary as a two-column rich table (lists are shown by their length)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=plain(title), show_header=True)
    table.add_column("quantity")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        if isinstance(value, list):
            shown = f"{len(value)} values (see --json)"
        else:
            shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        table.add_row(plain(key), plain(shown))
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
