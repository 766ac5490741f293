"""``twin energy``: query the energy ledger (runs, show, history, to-tolerance, compare, alarms,
steer); ``repair`` and ``import``, which write it, are in :mod:`twin.cli.energy_writes`.

Every subcommand takes ``--db URL`` (default ``$TWIN_DB_URL``, else the per-user SQLite file) and
``--format table|json|csv``. JSON is one object or list on one line (joules, seconds, ISO-8601 UTC
times); CSV has a header row; tables (rich) show energies in ``--unit`` (J by default).
"""

from __future__ import annotations

import json

import click

from . import cli
from ._energy_format import output, print_table, query_options, read_ledger
from ._types import LIMIT, FiniteRange

__all__ = ["energy_grp"]

_PHASES = ("training", "inference", "idle", "calibration")
_KINDS = ("train", "simulate", "shadow", "sweep", "infer", "steer")
_STATUSES = ("running", "complete", "aborted")


@cli.group("energy")
def energy_grp() -> None:
    """Energy ledger: joules per run, phase and component (SQLite or PostgreSQL)."""


@energy_grp.command("runs")
@click.option("--board", default=None, help="Only runs of this board.")
@click.option("--since", default=None, help="Started since DATE (ISO, UTC) or a duration ago (7d).")
@click.option("--kind", type=click.Choice(_KINDS), default=None, help="Only runs of this kind.")
@click.option("--status", type=click.Choice(_STATUSES), default=None, help="Only this status.")
@click.option("--limit", type=LIMIT, default=20, show_default=True, help="0 lists all.")
@query_options
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

    with read_ledger(db) as ledger:
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
    output(rows, columns, fmt, title="twin energy runs", unit=unit)


@energy_grp.command("show")
@click.argument("run")
@query_options
def show_cmd(run: str, db: str | None, fmt: str, unit: str) -> None:
    """Show one RUN (uid, unique prefix or 'last'): provenance and joules per component."""
    from ..ledger import show_run

    with read_ledger(db) as ledger:
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
        output(report["energy"], columns, fmt, title="", unit=unit, whole=report)
        return
    info = report["run"]
    keys = ("uid", "kind", "source", "board", "status", "reason", "started", "stopped")
    meta = [{"field": k, "value": info.get(k)} for k in (*keys, "realizations", "code_version")]
    meta.append({"field": "params", "value": json.dumps(info.get("params"))})
    names = ", ".join(report["quantities"])
    meta.append({"field": "samples", "value": f"{report['samples']} ({names})"})
    meta.append({"field": "energy_j_total", "value": report["energy_j_total"]})
    print_table(meta, ["field", "value"], title=f"run {info['uid']}", unit=unit)
    print_table(report["energy"], columns, title="energy", unit=unit)


@energy_grp.command("steer")
@click.option("--board", default=None, help="Only runs of this board.")
@click.option("--since", default=None, help="Started since DATE (ISO, UTC) or a duration ago (7d).")
@click.option("--limit", type=LIMIT, default=20, show_default=True, help="0 lists all.")
@query_options
def steer_cmd(
    board: str | None, since: str | None, limit: int, db: str | None, fmt: str, unit: str
) -> None:
    """What steering saved: each twin steer run's board training energy against the twin's
    lambda = 0 baseline to the same tolerance, and the totals over the runs that reached it."""
    from ..ledger import steer_runs

    with read_ledger(db) as ledger:
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
    output(report["runs"], columns, fmt, title="twin energy steer", unit=unit, whole=report)
    if fmt == "table":
        print_table([report["total"]], list(report["total"]), title="total", unit=unit)


@energy_grp.command("history")
@click.option("--board", default=None, help="Only runs of this board.")
@click.option("--since", default=None, help="From DATE (ISO, UTC) or a duration ago (30d).")
@click.option("--until", default=None, help="Before DATE (ISO, UTC) or a duration ago.")
@click.option("--phase", type=click.Choice(_PHASES), default=None, help="Only this phase.")
@click.option(
    "--every", default="1d", show_default=True, help="Bucket width: 30s, 15m, 1h, 1d, 1w..."
)
@query_options
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

    with read_ledger(db) as ledger:
        rows = energy_history(
            ledger, board=board, since=since, until=until, phase=phase, every=every
        )
    columns = ["bucket", "source", "phase", "component", "runs", "entries", "energy_j"]
    output(rows, columns, fmt, title=f"twin energy history (every {every})", unit=unit)


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
@query_options
def to_tolerance_cmd(
    run: str, tol: float, quantity: str, phase: str, db: str | None, fmt: str, unit: str
) -> None:
    """Energy RUN spent until its error first reached a tolerance (per realization).

    The error is known at samples: the run time t* is that of the first sample at or below the
    tolerance; entries up to t* count in full, an entry straddling t* counts pro rata in time.
    """
    from ..ledger import energy_to_tolerance

    with read_ledger(db) as ledger:
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
    output(rows, columns, fmt, title=title, unit=unit, whole=report)


@energy_grp.command("compare")
@click.argument("run_a")
@click.argument("run_b")
@query_options
def compare_cmd(run_a: str, run_b: str, db: str | None, fmt: str, unit: str) -> None:
    """Joules of RUN_A and RUN_B side by side per phase and component (ratio b/a)."""
    from ..ledger import compare_runs

    with read_ledger(db) as ledger:
        report = compare_runs(ledger, run_a, run_b)
    total = {"phase": "total", "component": "", "source": "", **report["total"]}
    rows = [*report["energy"], total]
    columns = ["phase", "component", "source", "a_j", "b_j", "ratio"]
    a, b = (r["uid"] for r in report["runs"])
    output(rows, columns, fmt, title=f"a = {a}, b = {b}", unit=unit, whole=report)


@energy_grp.command("alarms")
@click.option("--run", default=None, help="Only alarms of this run (uid, unique prefix or 'last').")
@click.option("--board", default=None, help="Only alarms of this board.")
@click.option("--since", default=None, help="Raised since DATE (ISO, UTC) or a duration ago (7d).")
@click.option("--until", default=None, help="Raised before DATE (ISO, UTC) or a duration ago.")
@click.option("--code", default=None, help="Only this alarm code (shadow_divergence, ...).")
@click.option("--limit", type=LIMIT, default=50, show_default=True, help="0 lists all.")
@query_options
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

    with read_ledger(db) as ledger:
        rows = list_alarms(
            ledger, run=run, board=board, since=since, until=until, code=code, limit=limit
        )
    columns = ["id", "raised", "run", "board", "code", "start_s", "end_s", "edges", "score_max"]
    if not any("edges" in r for r in rows):
        columns = ["id", "raised", "run", "board", "t_s", "severity", "code", "message"]
    output(rows, columns, fmt, title="twin energy alarms", unit=unit)
