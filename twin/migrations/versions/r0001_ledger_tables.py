"""Ledger tables: boards, runs, entries, samples, alarms.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, length: int, *values: str, check: bool = True) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=check, length=length)


def upgrade() -> None:
    op.create_table(
        "boards",
        sa.Column(
            "name",
            sa.String(length=64),
            nullable=False,
            comment="Board or device name (the start document's board).",
        ),
        sa.Column("description", sa.Text(), nullable=True, comment="Free-form description."),
        sa.Column(
            "created_unix",
            sa.Double(),
            nullable=False,
            comment="When the board was first seen, seconds since the epoch.",
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_boards")),
        comment="Boards and devices that produced runs (created on first use).",
    )
    op.create_table(
        "runs",
        sa.Column(
            "uid",
            sa.String(length=64),
            nullable=False,
            comment="Unique run id (start document uid).",
        ),
        sa.Column(
            "source",
            _enum("run_source", 8, "twin", "board", "replay"),
            nullable=False,
            comment="What produced the run.",
        ),
        sa.Column(
            "kind",
            _enum("run_kind", 16, "train", "simulate", "shadow", "sweep", "infer"),
            nullable=False,
            comment="What the run does.",
        ),
        sa.Column("board", sa.String(length=64), nullable=True, comment="Board or device, if any."),
        sa.Column(
            "realizations",
            sa.Integer(),
            nullable=False,
            comment="Number of realizations the run carries.",
        ),
        sa.Column(
            "params",
            sa.JSON(),
            nullable=False,
            comment="Parameters needed to reproduce the run (provenance).",
        ),
        sa.Column(
            "code_version",
            sa.String(length=64),
            nullable=False,
            comment="Version of the code that produced the run (provenance).",
        ),
        sa.Column(
            "started_unix",
            sa.Double(),
            nullable=False,
            comment="Wall-clock start, seconds since the epoch.",
        ),
        sa.Column(
            "stopped_unix",
            sa.Double(),
            nullable=True,
            comment=(
                "Wall-clock stop (or last heartbeat of an aborted run), seconds since the epoch."
            ),
        ),
        sa.Column(
            "status",
            _enum("run_status", 16, "running", "complete", "aborted"),
            nullable=False,
            comment="running until a stop document or repair closes the run.",
        ),
        sa.Column("reason", sa.Text(), nullable=True, comment="Why the run was aborted."),
        sa.Column("summary", sa.JSON(), nullable=True, comment="The stop document's summary."),
        sa.Column(
            "writer_host",
            sa.String(length=255),
            nullable=True,
            comment="Host of the process writing the run (for repair).",
        ),
        sa.Column(
            "writer_pid",
            sa.Integer(),
            nullable=True,
            comment="Process id of the writer (for repair).",
        ),
        sa.Column(
            "heartbeat_unix",
            sa.Double(),
            nullable=True,
            comment="Last sign of life of the writer, seconds since the epoch.",
        ),
        sa.ForeignKeyConstraint(["board"], ["boards.name"], name=op.f("fk_runs_board_boards")),
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_runs")),
        comment="One row per run (start document), closed by its stop document or by repair.",
    )
    op.create_index("ix_runs_board", "runs", ["board"], unique=False)
    op.create_index("ix_runs_started_unix", "runs", ["started_unix"], unique=False)
    op.create_index("ix_runs_status", "runs", ["status"], unique=False)
    op.create_table(
        "alarms",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False, comment="Alarm number."),
        sa.Column("run_uid", sa.String(length=64), nullable=True, comment="Run concerned, if any."),
        sa.Column("board", sa.String(length=64), nullable=True, comment="Board concerned, if any."),
        sa.Column(
            "t_unix",
            sa.Double(),
            nullable=False,
            comment="When the alarm was raised, seconds since the epoch.",
        ),
        sa.Column(
            "t_s", sa.Double(), nullable=True, comment="Run time of the alarm, seconds, if any."
        ),
        sa.Column(
            "severity",
            _enum("alarm_severity", 16, "info", "warning", "error", "critical"),
            nullable=False,
            comment="How bad it is.",
        ),
        sa.Column(
            "code", sa.String(length=64), nullable=False, comment="Machine-readable alarm code."
        ),
        sa.Column("message", sa.Text(), nullable=False, comment="Human-readable message."),
        sa.ForeignKeyConstraint(["board"], ["boards.name"], name=op.f("fk_alarms_board_boards")),
        sa.ForeignKeyConstraint(["run_uid"], ["runs.uid"], name=op.f("fk_alarms_run_uid_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarms")),
        comment="Alarms raised by runs or boards (limits exceeded, lag, lost frames).",
    )
    op.create_index("ix_alarms_t_unix", "alarms", ["t_unix"], unique=False)
    op.create_table(
        "entries",
        sa.Column("run_uid", sa.String(length=64), nullable=False, comment="Run of the entry."),
        sa.Column(
            "seq",
            sa.BigInteger(),
            nullable=False,
            comment="Entry number within the run (energy document seq).",
        ),
        sa.Column(
            "component",
            sa.String(length=32),
            nullable=False,
            comment="free_network, clamped_network, gate_charging, ... (extensible).",
        ),
        sa.Column(
            "realization",
            sa.Integer(),
            nullable=False,
            comment="Realization index (0 when the run has one).",
        ),
        sa.Column(
            "t0_s",
            sa.Double(),
            nullable=False,
            comment="Start of the interval, seconds of run time.",
        ),
        sa.Column(
            "t1_s", sa.Double(), nullable=False, comment="End of the interval, seconds of run time."
        ),
        sa.Column(
            "phase",
            _enum("energy_phase", 16, "training", "inference", "idle", "calibration", check=False),
            nullable=False,
            comment="What the circuit was doing.",
        ),
        sa.Column(
            "source",
            _enum("energy_source", 8, "twin", "board", check=False),
            nullable=False,
            comment="Simulated (twin) or measured (board).",
        ),
        sa.Column(
            "method",
            _enum("energy_method", 16, "integral", "counter", "estimate", check=False),
            nullable=False,
            comment="Exact integral of known power, hardware energy counter, or estimate.",
        ),
        sa.Column("energy_j", sa.Double(), nullable=False, comment="Energy, joules."),
        sa.ForeignKeyConstraint(["run_uid"], ["runs.uid"], name=op.f("fk_entries_run_uid_runs")),
        sa.PrimaryKeyConstraint("run_uid", "seq", "component", name=op.f("pk_entries")),
        sqlite_with_rowid=False,
        comment=(
            "Append-only energy ledger entries: joules dissipated by one component in one phase "
            "between t0_s and t1_s. (run_uid, seq, component) is unique, so a replayed stream "
            "never double-counts."
        ),
    )
    op.create_table(
        "samples",
        sa.Column("run_uid", sa.String(length=64), nullable=False, comment="Run of the sample."),
        sa.Column(
            "seq",
            sa.BigInteger(),
            nullable=False,
            comment="Sample document number within the run.",
        ),
        sa.Column("realization", sa.Integer(), nullable=False, comment="Realization index."),
        sa.Column(
            "quantity",
            sa.String(length=64),
            nullable=False,
            comment=(
                "Reading name: error, error_normalized, free_power_w, clamped_power_w, lam, "
                "energy_j, ..."
            ),
        ),
        sa.Column("t_s", sa.Double(), nullable=False, comment="Run time of the reading, seconds."),
        sa.Column(
            "step",
            sa.BigInteger(),
            nullable=True,
            comment="Learning step, for discrete-step trainers.",
        ),
        sa.Column(
            "value",
            sa.Double(),
            nullable=True,
            comment="The reading, in the unit its name carries (NULL: NaN).",
        ),
        sa.ForeignKeyConstraint(["run_uid"], ["runs.uid"], name=op.f("fk_samples_run_uid_runs")),
        sa.PrimaryKeyConstraint(
            "run_uid", "seq", "realization", "quantity", name=op.f("pk_samples")
        ),
        sqlite_with_rowid=False,
        comment=(
            "Sampled time series: one row per sample document, realization and reading "
            "(error in V^2, free_power_w in W, ...). value is NULL for NaN."
        ),
    )


def downgrade() -> None:
    op.drop_table("samples")
    op.drop_table("entries")
    op.drop_index("ix_alarms_t_unix", table_name="alarms")
    op.drop_table("alarms")
    op.drop_index("ix_runs_status", table_name="runs")
    op.drop_index("ix_runs_started_unix", table_name="runs")
    op.drop_index("ix_runs_board", table_name="runs")
    op.drop_table("runs")
    op.drop_table("boards")
