"""How ``twin energy`` queries take their output options and print their rows.

Every query takes ``--db URL``, ``--format table|json|csv`` and ``--unit`` (:func:`query_options`)
and opens the ledger read-only (:func:`read_ledger`). :func:`output` prints rows as a rich table
(energies in ``--unit``), CSV with a header row, or one line of JSON (joules, seconds, ISO-8601
UTC times).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ._common import plain
from ._ledger import DB_HELP

if TYPE_CHECKING:
    from ..ledger import Ledger

__all__ = ["output", "print_table", "query_options", "read_ledger"]

F = TypeVar("F", bound=Callable[..., Any])

_UNITS = {"J": 1.0, "mJ": 1e-3, "uJ": 1e-6, "nJ": 1e-9, "pJ": 1e-12, "Wh": 3600.0}


def query_options(func: F) -> F:
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
def read_ledger(db: str | None) -> Iterator[Ledger]:
    from ..ledger import open_ledger

    with open_ledger(db, read_only=True) as ledger:  # queries never write
        yield ledger


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


def print_table(
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


def output(
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
        print_table(rows, columns, title=title, unit=unit)
