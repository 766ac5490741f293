"""``twin sweep``: run a sweep file (locally or on Dask) and show how far it is."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from . import cli
from ._common import check_request, emit_json, plain, print_summary
from ._types import SCHEDULER, FiniteRange, OutputFile

__all__ = ["sweep_group"]

#: Exit code when cells failed (the sweep itself ran to the end).
EXIT_FAILED_CELLS = 1
_DB_HELP = "Ledger database URL or SQLite path (default: $TWIN_DB_URL, else the per-user file)."
_SPEC = click.Path(dir_okay=False, path_type=Path)
#: Most CPU time a sweep may be estimated to need without --force, s (a week; the paper's six
#: figures in full are ~hours).
MAX_SWEEP_CPU_S = 7 * 86400.0
#: Seconds to reach a --scheduler before giving up.
CONNECT_TIMEOUT_S = 10.0


class _SweepGroup(click.Group):
    """``twin sweep SPEC.toml ...`` is ``twin sweep run SPEC.toml ...``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@cli.group("sweep", cls=_SweepGroup)
def sweep_group() -> None:
    """Run a sweep file: twin sweep SPEC.toml [options]; twin sweep status SPEC.toml.

    The file (schemas/sweep.schema.json) gives a base configuration, axes and realizations; each
    cell is recorded in the ledger database when it finishes, so a sweep that is interrupted
    resumes where it stopped.
    """


@contextmanager
def _cells_bar(enabled: bool) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr: cells done / total, rate (cells/min) and ETA."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class _Rate(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            return Text("-- cells/min" if speed is None else f"{60 * speed:.3g} cells/min")

    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield lambda done, total: None
        return
    columns = (
        TextColumn("cells"),
        BarColumn(),
        MofNCompleteColumn(),
        _Rate(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        tid = bar.add_task("sweep", total=None)

        def update(done: int, total: int) -> None:
            bar.update(tid, completed=done, total=total)

        yield update


@contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """SIGTERM raises SystemExit while the sweep runs, so it unwinds like Ctrl-C does."""

    def handler(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)  # run_sweep puts its running cells back to pending

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _check_sweep_work(specs: list[Any], force: bool, *, quiet: bool) -> None:
    """Check every cell of ``specs`` and refuse the sweep if its estimated work (CPU time
    summed over the cells, the largest cell's memory) exceeds the limits, unless ``force``."""
    from ..sweeps.cells import expand
    from ..sweeps.estimate import sweep_estimate
    from ..sweeps.runner import check_cells

    cells = []
    for spec in specs:
        expanded = expand(spec)
        check_cells(spec, expanded)
        cells += expanded
    estimate, worst = sweep_estimate(cells)
    work = (worst.work, worst.limit, worst.unit) if worst is not None else None
    check_request("sweep", estimate, force, quiet=quiet, max_time_s=MAX_SWEEP_CPU_S, work=work)


@sweep_group.command("run")
@click.argument("specs", metavar="SPEC.toml...", nargs=-1, required=True, type=_SPEC)
@click.option("--db", metavar="URL", default=None, help=_DB_HELP)
@click.option(
    "--workers",
    type=click.IntRange(1, 4096),
    default=None,
    help="Local worker processes (default: every CPU).",
)
@click.option(
    "--scheduler",
    type=SCHEDULER,
    default=None,
    help="Run on this Dask distributed scheduler instead of local processes (reached within "
    f"{CONNECT_TIMEOUT_S:g} s).",
)
@click.option(
    "--timeout-s",
    type=FiniteRange(0, 1e7, min_open=True),
    default=None,
    help="Resubmit a cell not back after this many seconds (default: the spec's; "
    "none locally, 3600 on Dask).",
)
@click.option(
    "--max-attempts",
    type=click.IntRange(1, 100),
    default=3,
    show_default=True,
    help="Submissions of one cell at most (timeouts, lost workers) before it is failed.",
)
@click.option(
    "--rerun", is_flag=True, help="Recompute every cell, done or not (after a code change)."
)
@click.option("--retry-failed", is_flag=True, help="Submit cells recorded as failed again.")
@click.option("--force", is_flag=True, help="Run even when the estimated work exceeds the limits.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as one JSON object.")
def run_cmd(
    specs: tuple[Path, ...],
    db: str | None,
    workers: int | None,
    scheduler: str | None,
    timeout_s: float | None,
    max_attempts: int,
    rerun: bool,
    retry_failed: bool,
    force: bool,
    as_json: bool,
) -> None:
    """Compute the missing cells of one or more sweeps (cells pooled); exit 1 if a cell failed.

    Every cell is checked and the sweep's work estimated (CPU time summed over its cells, at
    most a week without --force; the largest cell's memory) before anything is submitted.
    """
    from ..sweeps import DaskExecutor, LocalExecutor, load_spec, run_sweeps

    if workers is not None and scheduler is not None:
        raise click.UsageError("give --workers or --scheduler, not both")
    the_specs = [load_spec(spec) for spec in specs]
    _check_sweep_work(the_specs, force, quiet=as_json)
    executor = (
        DaskExecutor(scheduler, connect_timeout_s=CONNECT_TIMEOUT_S)
        if scheduler
        else LocalExecutor(workers)
    )
    try:
        with _sigterm_unwinds(), _cells_bar(not as_json) as update:
            outcomes = run_sweeps(
                the_specs,
                db_url=db,
                executor=executor,
                progress=update,
                rerun=rerun,
                retry_failed=retry_failed,
                timeout_s=timeout_s,
                max_attempts=max_attempts,
            )
    finally:
        executor.close()
    summaries = [outcome.summary() for outcome in outcomes]
    if as_json:
        emit_json(summaries[0] if len(summaries) == 1 else {"sweeps": summaries})
    else:
        for summary in summaries:
            failures = summary.pop("failures")
            print_summary(f"twin sweep {summary['name']}", summary)
            for item in failures:
                click.echo(f"failed {item['cell_id']}: {item['error']}", err=True)
    if any(outcome.failed for outcome in outcomes):
        sys.exit(EXIT_FAILED_CELLS)


@sweep_group.command("status")
@click.argument("spec", type=_SPEC)
@click.option("--db", metavar="URL", default=None, help=_DB_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the status as one JSON object.")
def status_cmd(spec: Path, db: str | None, as_json: bool) -> None:
    """Show how many cells of a sweep are done, running, failed and missing."""
    from ..sweeps import load_spec, sweep_status

    status = sweep_status(load_spec(spec), db_url=db)
    if as_json:
        emit_json(status.summary())
        return
    from rich.console import Console
    from rich.table import Table

    counts = ", ".join(f"{n} {k}" for k, n in status.counts.items())
    table = Table(title=plain(f"sweep {status.name}: {counts}"))
    axes = [k for k in (status.cells[0] if status.cells else {}) if k not in ("cell_id", "status")]
    axes = [k for k in axes if k != "error"]
    for name in ("cell", *axes, "status", "error"):
        table.add_column(name)
    for cell in status.cells:
        values = [plain(cell.get(a)) for a in axes]
        error = plain(str(cell.get("error", ""))[:80])
        table.add_row(plain(cell["cell_id"]), *values, cell["status"], error)
    Console().print(table)


@sweep_group.command("results")
@click.argument("sweep")
@click.option("--db", metavar="URL", default=None, help=_DB_HELP)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="table: one row per cell (median over its realizations); csv, json: one row per cell "
    "and realization (every parameter and metric).",
)
@click.option(
    "--out",
    "out",
    type=OutputFile(),
    default=None,
    help="Write the CSV (one row per cell and realization) to this new file instead.",
)
def results_cmd(sweep: str, db: str | None, fmt: str, out: Path | None) -> None:
    """Show a sweep's results: SWEEP is its file (SPEC.toml) or its name in the ledger."""
    from ..sweeps import load_spec, results_frame

    target = load_spec(sweep) if sweep.endswith(".toml") or Path(sweep).is_file() else sweep
    if out is not None:
        _check_new_file(out)
    frame = results_frame(target, db_url=db)
    if out is not None:
        frame.to_csv(out, index=False)
        click.echo(f"{len(frame)} rows written to {out}")
    elif fmt == "csv":
        frame.to_csv(sys.stdout, index=False)
    elif fmt == "json":
        # not frame.to_json: pandas' encoder writes 1e-16..1e-10 as 10 fixed decimals (an error
        # floor of 1.3e-14 read 0.0); Python floats keep every digit, NaN becomes null
        emit_json(frame.astype(object).where(frame.notna(), None).to_dict(orient="records"))
    else:
        name = target.name if not isinstance(target, str) else target
        _print_results_table(name, frame)


def _check_new_file(out: Path) -> None:
    if out.exists():
        raise click.BadParameter(
            f"{out} exists; results never overwrite a file", param_hint="--out"
        )
    if not out.parent.is_dir():
        raise click.BadParameter(f"folder {out.parent} does not exist", param_hint="--out")


def _print_results_table(name: str, frame: Any) -> None:
    """One row per cell: its varied parameters, status, realizations and metric medians."""
    from rich.console import Console
    from rich.table import Table

    from ..sweeps.metrics import REPORTED

    if frame.empty:
        click.echo(f"sweep {name}: no cells")
        return
    metrics = [m for kind in REPORTED.values() for m in kind if m in frame.columns]
    metrics = list(dict.fromkeys(metrics))
    fixed = {"cell_id", "position", "realization", "seed", "status", "code_version", *metrics}
    varied = [c for c in frame.columns if c not in fixed and frame[c].nunique(dropna=False) > 1]
    cells = frame.groupby("position", sort=True)
    table = Table(title=plain(f"sweep {name}: median over realizations"))
    for col in ("cell", *varied, "status", "n", *metrics):
        table.add_column(plain(col), justify="left" if col in ("cell", "status") else "right")
    for _, rows in cells:
        first = rows.iloc[0]
        medians = [rows[m].median() for m in metrics]
        table.add_row(
            plain(first["cell_id"]),
            *(plain(_short(first[c])) for c in varied),
            plain(first["status"]),
            str(int(rows[metrics].notna().any(axis=1).sum()) if metrics else 0),
            *("-" if v != v else f"{v:.4g}" for v in medians),
        )
    # Piped or redirected: as wide as the table needs (a fixed width cut metric columns away as
    # the metrics grew); on a terminal, rich fits it to the window.
    tty = sys.stdout.isatty()
    Console(width=None if tty else Console(width=100_000).measure(table).maximum).print(table)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
