"""``twin figures``: regenerate the seed paper's figures and a Markdown report from sweeps."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from . import cli
from ._types import SCHEDULER, OutputDir
from .sweep import CONNECT_TIMEOUT_S, _sigterm_unwinds

__all__ = ["figures_cmd"]


@contextmanager
def _sweeps_bar(enabled: bool) -> Iterator[Callable[[str, int, int], None]]:
    """One progress bar per sweep on stderr: cells done / total and ETA."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield lambda label, done, total: None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=console) as bar:
        tasks: dict[str, Any] = {}

        def update(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(label, total=total)
            bar.update(tasks[label], completed=done, total=total)

        yield update


def _compare(old: Path, new: Path) -> None:
    from ..sweeps.errors import SweepError
    from ..sweeps.figures.compare import compare_reports, load_numbers, render_changes

    try:
        changes = compare_reports(load_numbers(old), load_numbers(new))
    except SweepError as exc:
        raise click.BadParameter(str(exc).removeprefix("--compare: "),
                                 param_hint="--compare") from None  # fmt: skip
    click.echo(render_changes(changes))


@cli.command("figures")
@click.option(
    "--quick",
    is_flag=True,
    help="6-8 realizations, runs long enough to learn (all nine in ~150 s on 2 cores; Fig. 1's "
    "tolerance runs at the seed's 1e6 steps); default: the paper's realization counts.",
)
@click.option(
    "--out",
    "out_dir",
    type=OutputDir(),
    default=Path("figures"),
    show_default=True,
    help="Folder for the PNGs and report.md (made if missing).",
)
@click.option("--db", metavar="URL", default=None,
              help="Ledger database URL or SQLite path: done cells are reused "
              "(default: $TWIN_DB_URL, else the per-user file).")  # fmt: skip
@click.option("--workers", type=click.IntRange(1, 4096), default=None,
              help="Local worker processes (default: every CPU).")  # fmt: skip
@click.option("--scheduler", type=SCHEDULER, default=None,
              help="Run the sweeps on this Dask distributed scheduler.")  # fmt: skip
@click.option("--only", "only", multiple=True, metavar="NAME",
              help="Only this figure (repeatable): fig1, fig2, ... (default: all).")  # fmt: skip
@click.option("--compare", nargs=2, type=click.Path(path_type=Path), default=None,
              metavar="OLD NEW", help="Compare two reports (folders or report.json): which "
              "headline numbers moved beyond their spread. Runs nothing.")  # fmt: skip
def figures_cmd(
    quick: bool,
    out_dir: Path,
    db: str | None,
    workers: int | None,
    scheduler: str | None,
    only: tuple[str, ...],
    compare: tuple[Path, Path] | None,
) -> None:
    """Regenerate the paper's figures (PNG) and report.md: measured beside published values."""
    if compare is not None:
        _compare(*compare)
        return
    from ..sweeps import DaskExecutor, LocalExecutor
    from ..sweeps.figures import FIGURES
    from ..sweeps.figures.report import make_figures

    for name in only:
        if name not in FIGURES:
            raise click.BadParameter(
                f"unknown figure {name!r}; expected one of {', '.join(FIGURES)}",
                param_hint="--only",
            )
    if workers is not None and scheduler is not None:
        raise click.UsageError("give --workers or --scheduler, not both")
    executor = (
        DaskExecutor(scheduler, connect_timeout_s=CONNECT_TIMEOUT_S)
        if scheduler
        else LocalExecutor(workers)
    )
    try:
        with _sigterm_unwinds(), _sweeps_bar(True) as update:
            report = make_figures(list(only) or None, quick=quick, out_dir=out_dir, db_url=db,
                                  executor=executor, progress=update)  # fmt: skip
    finally:
        executor.close()
    click.echo(str(report))
