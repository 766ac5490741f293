"""``twin energy``: query the energy ledger (runs, show, history, to-tolerance, compare, alarms,
steer, repair, import).

Every subcommand takes ``--db URL`` (default ``$TWIN_DB_URL``, else the per-user SQLite file) and
``--format table|json|csv``. JSON is one object or list on one line (joules, seconds, ISO-8601 UTC
times); CSV has a header row; tables (rich) show energies in ``--unit`` (J by default).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

from . import cli
from ._common import plain
from ._ledger import DB_HELP
from ._types import LIMIT, FiniteRange

if TYPE_CHECKING:
    from ..ledger import Ledger

__all__ = ["energy_grp"]

F = TypeVar("F", bound=Callable[..., Any])

_UNITS = {"J": 1.0, "mJ": 1e-3, "uJ": 1e-6, "nJ": 1e-9, "pJ": 1e-12, "Wh": 3600.0}
_PHASES = ("training", "inference", "idle", "calibration")
_KINDS = ("train", "simulate", "shadow", "sweep", "infer", "steer")
_STATUSES = ("running", "complete", "aborted")


def _query_options(func: F) -> F:
    func = click.option(
        "--unit",
        type=click.Choice(list(_UNITS)),
        default="J",
        show_default=True,
        help="Energy unit of tables (JSON and CSV are always joules).",
    )(func)
    func = click.option(
        "--format",
        "fmt",
        type=click.Choice(["table", "json", "csv"]),
        default="table",
        show_default=True,
        help="Output format.",
    )(func)
    return click.option("--db", "db", metavar="URL", default=None, help=DB_HELP)(func)


@contextmanager
def _ledger(db: str | None) -> Iterator[Ledger]:
    from ..ledger import open_ledger

    with open_ledger(db, read_only=True) as ledger:  # queries never write
        yield ledger


# --------------------------------------------------------------------------- output


def _cell(key: str, value: Any, unit: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if key.endswith("_j"):
            return f"{value / _UNITS[unit]:.4g}"
        return f"{value:.4g}"
    return plain(value)


def _header(key: str, unit: str) -> str:
    return f"{key[:-2]} ({unit})" if key.endswith("_j") else key


def _print_table(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], *, title: str, unit: str
) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=plain(title))
    for col in columns:
        numeric = bool(rows) and isinstance(rows[0].get(col), int | float)
        table.add_column(_header(col, unit), justify="right" if numeric else "left")
    for row in rows:
        table.add_row(*(_cell(col, row.get(col), unit) for col in columns))
    Console(width=200 if not sys.stdout.isatty() else None).print(table)


def _print_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    out = csv.DictWriter(sys.stdout, fieldnames=list(columns), extrasaction="ignore")
    out.writeheader()
    for row in rows:
        out.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")


def _output(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    fmt: str,
    *,
    title: str,
    unit: str,
    whole: Any = None,
) -> None:
    """Print ``rows`` as a table or CSV, or ``whole`` (default ``rows``) as JSON."""
    if fmt == "json":
        _print_json(rows if whole is None else whole)
    elif fmt == "csv":
        _print_csv(rows, columns)
    else:
        _print_table(rows, columns, title=title, unit=unit)


# --------------------------------------------------------------------------- commands


@cli.group("energy")
def energy_grp() -> None:
    """Energy ledger: joules per run, phase and component (SQLite or PostgreSQL)."""


@energy_grp.command("runs")
@click.option("--board", default=None, help="Only runs of this board.")
@click.option("--since", default=None, help="Started since DATE (ISO, UTC) or a duration ago (7d).")
@click.option("--kind", type=click.Choice(_KINDS), default=None, help="Only runs of this kind.")
@click.option("--status", type=click.Choice(_STATUSES), default=None, help="Only this status.")
@click.option(
    "--limit", type=LIMIT, default=20, show_default=True, help="0 lists all."
)
@_query_options
def runs_cmd(
    board: str | None,
    since: str | None,
    kind: str | None,
    status: str | None,
    limit: int,
    db: str | None,
    fmt: str,
    unit: str,
) -> None:
    """List runs, newest first, with their joules (total, training, inference)."""
    from ..ledger import list_runs

    with _ledger(db) as ledger:
        rows = list_runs(ledger, board=board, since=since, kind=kind, status=status, limit=limit)
    columns = [
        "run",
        "started",
        "kind",
        "source",
        "board",
        "status",
        "realizations",
        "entries",
        "energy_j",
        "training_j",
        "inference_j",
    ]
    _output(rows, columns, fmt, title="twin energy runs", unit=unit)


@energy_grp.command("show")
@click.argument("run")
@_query_options
def show_cmd(run: str, db: str | None, fmt: str, unit: str) -> None:
    """Show one RUN (uid, unique prefix or 'last'): provenance and joules per component."""
    from ..ledger import show_run

    with _ledger(db) as ledger:
        report = show_run(ledger, run)
    columns = [
        "phase",
        "component",
        "source",
        "method",
        "realizations",
        "entries",
        "t0_s",
        "t1_s",
        "energy_j",
    ]
    if fmt != "table":
        _output(report["energy"], columns, fmt, title="", unit=unit, whole=report)
        return
    info = report["run"]
    keys = ("uid", "kind", "source", "board", "status", "reason", "started", "stopped")
    meta = [{"field": k, "value": info.get(k)} for k in (*keys, "realizations", "code_version")]
    meta.append({"field": "params", "value": json.dumps(info.get("params"))})
    names = ", ".join(report["quantities"])
    meta.append({"field": "samples", "value": f"{report['samples']} ({names})"})
    meta.append({"field": "energy_j_total", "value": report["energy_j_total"]})
    _print_table(meta, ["field", "value"], title=f"run {info['uid']}", unit=unit)
    _print_table(report["energy"], columns, title="energy", unit=unit)


@energy_grp.command("steer")
@click.option("--board", default=None, help="Only runs of this board.")
@click.option("--since", default=None, help="Started since DATE (ISO, UTC) or a duration ago (7d).")
@click.option(
    "--limit", type=LIMIT, default=20, show_default=True, help="0 lists all."
)
@_query_options
def steer_cmd(
    board: str | None, since: str | None, limit: int, db: str | None, fmt: str, unit: str
) -> None:
    """What steering saved: each twin steer run's board training energy against the twin's
    lambda = 0 baseline to the same tolerance, and the totals over the runs that reached it."""
    from ..ledger import steer_runs

    with _ledger(db) as ledger:
        report = steer_runs(ledger, board=board, since=since, limit=limit)
    columns = [
        "run",
        "started",
        "board",
        "policy",
        "status",
        "reached",
        "training_energy_j",
        "baseline_energy_j",
        "saved_j",
        "ratio",
        "commands",
        "refused",
    ]
    _output(report["runs"], columns, fmt, title="twin energy steer", unit=unit, whole=report)
    if fmt == "table":
        _print_table([report["total"]], list(report["total"]), title="total", unit=unit)


@energy_grp.command("history")
@click.option("--board", default=None, help="Only runs of this board.")
@click.option("--since", default=None, help="From DATE (ISO, UTC) or a duration ago (30d).")
@click.option("--until", default=None, help="Before DATE (ISO, UTC) or a duration ago.")
@click.option("--phase", type=click.Choice(_PHASES), default=None, help="Only this phase.")
@click.option(
    "--every", default="1d", show_default=True, help="Bucket width: 30s, 15m, 1h, 1d, 1w..."
)
@_query_options
def history_cmd(
    board: str | None,
    since: str | None,
    until: str | None,
    phase: str | None,
    every: str,
    db: str | None,
    fmt: str,
    unit: str,
) -> None:
    """Joules per time bucket, source (twin/board), phase and component."""
    from ..ledger import energy_history

    with _ledger(db) as ledger:
        rows = energy_history(
            ledger, board=board, since=since, until=until, phase=phase, every=every
        )
    columns = ["bucket", "source", "phase", "component", "runs", "entries", "energy_j"]
    _output(rows, columns, fmt, title=f"twin energy history (every {every})", unit=unit)


@energy_grp.command("to-tolerance")
@click.argument("run")
@click.option(
    "--error",
    "tol",
    type=FiniteRange(),
    required=True,
    help="Tolerance, in the unit of --quantity.",
)
@click.option(
    "--quantity",
    default="error",
    show_default=True,
    help="Sampled reading to compare (error in V^2, error_normalized...).",
)
@click.option("--phase", type=click.Choice(_PHASES), default="training", show_default=True)
@_query_options
def to_tolerance_cmd(
    run: str, tol: float, quantity: str, phase: str, db: str | None, fmt: str, unit: str
) -> None:
    """Energy RUN spent until its error first reached a tolerance (per realization).

    The error is known at samples: the run time t* is that of the first sample at or below the
    tolerance; entries up to t* count in full, an entry straddling t* counts pro rata in time.
    """
    from ..ledger import energy_to_tolerance

    with _ledger(db) as ledger:
        report = energy_to_tolerance(ledger, run, error=tol, quantity=quantity, phase=phase)
    comps = sorted({c for r in report["realizations"] for c in r["components"]})
    rows = [
        {k: v for k, v in r.items() if k != "components"}
        | {f"{c}_j": r["components"].get(c) for c in comps}
        for r in report["realizations"]
    ]
    columns = [
        "realization",
        "reached",
        "t_s",
        "step",
        "error",
        "min_error",
        *(f"{c}_j" for c in comps),
        "energy_j",
    ]
    title = f"energy of {report['run']} until {quantity} <= {tol:g} ({phase})"
    _output(rows, columns, fmt, title=title, unit=unit, whole=report)


@energy_grp.command("compare")
@click.argument("run_a")
@click.argument("run_b")
@_query_options
def compare_cmd(run_a: str, run_b: str, db: str | None, fmt: str, unit: str) -> None:
    """Joules of RUN_A and RUN_B side by side per phase and component (ratio b/a)."""
    from ..ledger import compare_runs

    with _ledger(db) as ledger:
        report = compare_runs(ledger, run_a, run_b)
    total = {"phase": "total", "component": "", "source": "", **report["total"]}
    rows = [*report["energy"], total]
    columns = ["phase", "component", "source", "a_j", "b_j", "ratio"]
    a, b = (r["uid"] for r in report["runs"])
    _output(rows, columns, fmt, title=f"a = {a}, b = {b}", unit=unit, whole=report)


@energy_grp.command("alarms")
@click.option("--run", default=None, help="Only alarms of this run (uid, unique prefix or 'last').")
@click.option("--board", default=None, help="Only alarms of this board.")
@click.option("--since", default=None, help="Raised since DATE (ISO, UTC) or a duration ago (7d).")
@click.option("--until", default=None, help="Raised before DATE (ISO, UTC) or a duration ago.")
@click.option("--code", default=None, help="Only this alarm code (shadow_divergence, ...).")
@click.option(
    "--limit", type=LIMIT, default=50, show_default=True, help="0 lists all."
)
@_query_options
def alarms_cmd(
    run: str | None,
    board: str | None,
    since: str | None,
    until: str | None,
    code: str | None,
    limit: int,
    db: str | None,
    fmt: str,
    unit: str,
) -> None:
    """List alarms, newest first (a shadow's divergence alarms with their edges and score)."""
    from ..ledger import list_alarms

    with _ledger(db) as ledger:
        rows = list_alarms(
            ledger, run=run, board=board, since=since, until=until, code=code, limit=limit
        )
    columns = ["id", "raised", "run", "board", "code", "start_s", "end_s", "edges", "score_max"]
    if not any("edges" in r for r in rows):
        columns = ["id", "raised", "run", "board", "t_s", "severity", "code", "message"]
    _output(rows, columns, fmt, title="twin energy alarms", unit=unit)


@energy_grp.command("repair")
@click.option(
    "--stale-s",
    type=FiniteRange(0, 1e9, min_open=True),
    default=600.0,
    show_default=True,
    help="Heartbeat age after which a writer is presumed dead, s.",
)
@click.option("--db", "db", metavar="URL", default=None, help=DB_HELP)
def repair_cmd(stale_s: float, db: str | None) -> None:
    """Mark running runs whose writer process is gone as aborted."""
    from ..ledger import open_ledger, repair_runs

    with open_ledger(db, repair=False) as ledger:
        fixed = repair_runs(ledger, stale_s=stale_s)
    click.echo(f"{len(fixed)} run(s) marked aborted" + (f": {', '.join(fixed)}" if fixed else ""))


@energy_grp.command("import")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--skip-bad-lines",
    is_flag=True,
    help="Import the valid documents of a file with torn or invalid lines (and count the rest).",
)
@click.option("--db", "db", metavar="URL", default=None, help=DB_HELP)
def import_cmd(files: tuple[str, ...], skip_bad_lines: bool, db: str | None) -> None:
    """Record run documents from JSON-lines FILES (twin train --out); never rewrites history.

    Each file is imported whole or not at all: a torn or invalid line rejects the file unless
    --skip-bad-lines. A finished run is never downgraded. An entry already recorded with other
    joules is a conflict: the file is rolled back, the conflict named, and the exit code is 2.
    Without FILES, only the spool files of writers that gave up on the database are imported.
    """
    from ..ledger import open_ledger
    from ..ledger.replay import import_file, import_spool, summarize

    with open_ledger(db, repair=False) as ledger:
        reports = import_spool(ledger)
        for report in reports:
            click.echo(_import_line(report, spool=True))
        for path in files:
            report = import_file(ledger, path, skip_bad_lines=skip_bad_lines)
            reports.append(report)
            click.echo(_import_line(report))
            for message in report.conflicts[:10]:
                click.echo(f"twin energy import: conflict: {message}", err=True)
    total = summarize(reports)
    click.echo(
        f"{total['recorded']} document(s) recorded, {total['already']} already there, "
        f"{total['conflicted']} conflicted from {len(reports)} file(s)"
        + (f"; {total['skipped_lines']} bad line(s) skipped" if total["skipped_lines"] else "")
    )
    if total["rejected_files"]:
        click.echo(
            f"twin energy import: error: {total['rejected_files']} file(s) not imported "
            "(conflicting entries)",
            err=True,
        )
        sys.exit(2)


def _import_line(report: Any, *, spool: bool = False) -> str:
    what = "spool file " if spool else ""
    if report.rejected:
        return f"{what}{report.path}: rejected, {len(report.conflicts)} conflict(s)"
    line = (
        f"{what}{report.path}: {report.recorded} recorded, {report.already} already there, "
        f"0 conflicted"
    )
    if report.skipped_lines:
        line += f", {report.skipped_lines} bad line(s) skipped"
    if report.aborted_runs:
        line += f"; run(s) {', '.join(report.aborted_runs)} had no stop document: aborted"
    return line
