"""Sweeps: sweeps, sweep cells, members and results, and two views (twin sweep).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KIND = ("trainer", "twin")
_STATUS = ("pending", "running", "done", "failed")

# A frozen copy of schemas/ledger.schema.json's sweep views at this revision.
_VIEWS: dict[str, str] = {
    "sweep_results_long": (
        "SELECT m.sweep AS sweep, c.cell_id AS cell_id, c.kind AS kind, c.params AS params,\n"
        "       r.realization AS realization, r.seed AS seed, r.metric AS metric,\n"
        "       r.value AS value, c.code_version AS code_version\n"
        "FROM sweep_members m\n"
        "JOIN sweep_cells c ON c.cell_id = m.cell_id\n"
        "JOIN sweep_results r ON r.cell_id = c.cell_id\n"
        "WHERE c.status = 'done'"
    ),
    "sweep_progress": (
        "SELECT m.sweep AS sweep, c.status AS status, COUNT(*) AS cells\n"
        "FROM sweep_members m JOIN sweep_cells c ON c.cell_id = m.cell_id\n"
        "GROUP BY m.sweep, c.status"
    ),
}


def _enum(name: str, values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=8)


def _col(name: str, type_: sa.types.TypeEngine, null: bool, comment: str) -> sa.Column:
    return sa.Column(name, type_, nullable=null, comment=comment)


def _sweeps() -> None:
    op.create_table(
        "sweeps",
        _col("name", sa.String(length=64), False, "Sweep name (the spec's name)."),
        _col(
            "kind",
            _enum("sweep_kind", _KIND),
            False,
            "trainer (synchronous, batched) or twin (event-driven).",
        ),
        _col("spec", sa.JSON(), False, "The sweep specification as last submitted."),
        _col("cells", sa.Integer(), False, "Number of cells of the specification."),
        _col(
            "code_version",
            sa.String(length=64),
            False,
            "Code version that last submitted the sweep (provenance).",
        ),
        _col("created_unix", sa.Double(), False, "First submission, seconds since the epoch."),
        _col("updated_unix", sa.Double(), False, "Last submission, seconds since the epoch."),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sweeps")),
        comment=(
            "Sweeps (twin sweep): one row per sweep name, holding its specification "
            "(schemas/sweep.schema.json) as last submitted."
        ),
    )


def _cells() -> None:
    op.create_table(
        "sweep_cells",
        _col(
            "cell_id",
            sa.String(length=32),
            False,
            "Cell id: hex prefix of the sha256 of the canonical parameters, seeds and kind.",
        ),
        _col("kind", _enum("sweep_kind", _KIND), False, "trainer or twin."),
        _col(
            "params",
            sa.JSON(),
            False,
            "Every parameter of the cell, defaults filled in (canonical).",
        ),
        _col("seeds", sa.JSON(), False, "Seed of each realization, in order."),
        _col("realizations", sa.Integer(), False, "Number of realizations."),
        _col(
            "status",
            _enum("sweep_cell_status", _STATUS),
            False,
            "pending, running, done or failed.",
        ),
        _col("error", sa.Text(), True, "Error of a failed cell (type: message)."),
        _col(
            "attempts",
            sa.Integer(),
            False,
            "Times the cell was submitted (resubmissions after a timeout or a lost worker "
            "included).",
        ),
        _col(
            "code_version",
            sa.String(length=64),
            True,
            "Code version that computed the result (provenance, not part of the id).",
        ),
        _col("host", sa.String(length=255), True, "Host that computed the cell."),
        _col(
            "owner_host",
            sa.String(length=255),
            True,
            "Host of the sweep process that submitted the cell.",
        ),
        _col(
            "owner_pid",
            sa.Integer(),
            True,
            "Process id of the sweep process that submitted the cell.",
        ),
        _col("started_unix", sa.Double(), True, "Submission time, seconds since the epoch."),
        _col("finished_unix", sa.Double(), True, "Completion time, seconds since the epoch."),
        _col(
            "heartbeat_unix",
            sa.Double(),
            True,
            "Last sign of life of the owner while the cell ran, seconds since the epoch.",
        ),
        _col("elapsed_s", sa.Double(), True, "Wall time of the computation in the worker, s."),
        _col("cpu_s", sa.Double(), True, "CPU time of the computation in the worker, s."),
        sa.PrimaryKeyConstraint("cell_id", name=op.f("pk_sweep_cells")),
        comment=(
            "Sweep cells: one parameter set times its realizations, identified by the hash of "
            "its canonical parameters and seeds (not of the code version, which is provenance). "
            "Status pending (registered, never run), running (submitted by the owner process), "
            "done (results committed in the same transaction) or failed (error recorded). A "
            "running cell whose owner died counts as missing."
        ),
    )
    op.create_index("ix_sweep_cells_status", "sweep_cells", ["status"])


def _members_and_results() -> None:
    op.create_table(
        "sweep_members",
        _col("sweep", sa.String(length=64), False, "Sweep name."),
        _col("cell_id", sa.String(length=32), False, "Cell id."),
        _col("position", sa.Integer(), False, "Index of the cell in the sweep's expansion order."),
        sa.ForeignKeyConstraint(
            ["sweep"], ["sweeps.name"], name=op.f("fk_sweep_members_sweep_sweeps")
        ),
        sa.ForeignKeyConstraint(
            ["cell_id"], ["sweep_cells.cell_id"], name=op.f("fk_sweep_members_cell_id_sweep_cells")
        ),
        sa.PrimaryKeyConstraint("sweep", "cell_id", name=op.f("pk_sweep_members")),
        comment=(
            "Which cells belong to which sweep (a cell shared by two sweeps is computed once)."
        ),
    )
    op.create_index("ix_sweep_members_cell_id", "sweep_members", ["cell_id"])
    op.create_table(
        "sweep_results",
        _col("cell_id", sa.String(length=32), False, "Cell id."),
        _col("realization", sa.Integer(), False, "Realization index."),
        _col("metric", sa.String(length=64), False, "Metric name, its unit as suffix."),
        _col("seed", sa.BigInteger(), False, "Seed of the realization."),
        _col("value", sa.Double(), True, "Value (NULL for NaN or infinity)."),
        sa.ForeignKeyConstraint(
            ["cell_id"], ["sweep_cells.cell_id"], name=op.f("fk_sweep_results_cell_id_sweep_cells")
        ),
        sa.PrimaryKeyConstraint("cell_id", "realization", "metric", name=op.f("pk_sweep_results")),
        sqlite_with_rowid=False,
        comment=(
            "Metrics of finished cells: one row per cell, realization and metric (error_final "
            "in V^2, free_power_final_w in W, training_energy_j in J, ...). value is NULL for "
            "NaN or infinity (e.g. time_to_tol_s when the tolerance was never reached)."
        ),
    )


def upgrade() -> None:
    _sweeps()
    _cells()
    _members_and_results()
    for name, sql in _VIEWS.items():
        op.execute(f"CREATE VIEW {name} AS\n{sql}")


def downgrade() -> None:
    for name in _VIEWS:
        op.execute(f"DROP VIEW {name}")
    for table in ("sweep_results", "sweep_members", "sweep_cells", "sweeps"):
        op.drop_table(table)
