"""``twin energy repair`` and ``twin energy import``: the energy subcommands that write the ledger.

``repair`` marks runs whose writer died as aborted; ``import`` records run documents from
JSON-lines files (and spool files) all or nothing, never rewriting what is recorded.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from ._ledger import DB_HELP
from ._types import FiniteRange
from .energy import energy_grp

__all__ = ["import_cmd", "repair_cmd"]


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
    """Mark running runs whose writer process is gone as aborted (in an existing ledger)."""
    from ..ledger import LedgerConnectionError, open_ledger, repair_runs
    from ..ledger.fresh import new_sqlite_file

    new_file = new_sqlite_file(db)
    if new_file is not None:  # nothing to repair: do not create a ledger to say so
        raise LedgerConnectionError(
            f"db: no ledger at {new_file.path} (nothing recorded there yet?)"
        )
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

    Each file is imported whole or not at all: a torn or invalid line rejects the command
    (every file is read before anything is written) unless --skip-bad-lines. A finished run
    is never downgraded. An entry already recorded with other joules is a conflict: the file
    is rolled back, the conflict named, and the exit code is 2. A refusal leaves no new
    ledger file behind.
    Without FILES, only the spool files of writers that gave up on the database are imported.
    """
    from ..ledger import open_ledger
    from ..ledger.fresh import new_sqlite_file, remove_if_empty
    from ..ledger.replay import import_documents, import_spool, read_documents, summarize

    # Every file is read and validated before the ledger is opened: a bad one refuses the
    # command with nothing written (no ledger file created, an existing one untouched).
    read = [(path, *read_documents(path, skip_bad_lines=skip_bad_lines)) for path in files]
    new_file = new_sqlite_file(db)
    try:
        with open_ledger(db, repair=False) as ledger:
            reports = import_spool(ledger)
            for report in reports:
                click.echo(_import_line(report, spool=True))
            for path, docs, skipped in read:
                report = import_documents(
                    ledger, path, docs, skipped=skipped, skip_bad_lines=skip_bad_lines
                )
                reports.append(report)
                click.echo(_import_line(report))
                for message in report.conflicts[:10]:
                    click.echo(f"twin energy import: conflict: {message}", err=True)
    except BaseException:
        if new_file is not None:
            remove_if_empty(new_file)  # a refusal leaves no ledger behind
        raise
    total = summarize(reports)
    click.echo(
        f"{total['recorded']} document(s) recorded, {total['already']} already there, "
        f"{total['conflicted']} conflicted from {len(reports)} file(s)"
        + (f"; {total['skipped_lines']} bad line(s) skipped" if total["skipped_lines"] else "")
    )
    if total["rejected_files"]:
        if new_file is not None:
            remove_if_empty(new_file)
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
