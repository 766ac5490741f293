"""Samples: one row per sample document (readings as JSON) instead of one per reading.

A twin probe every 0.2 ms carries ~40 readings; one row each made the samples table ten times
larger than the entries and the writer slower than the simulator. Existing rows are folded into
``{quantity: [value per realization]}`` (a missing realization becomes null).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from itertools import groupby
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DATA_COMMENT = (
    "Readings {quantity: [value per realization]} (error, error_normalized, free_power_w, "
    "clamped_power_w, lam, energy_j, ...), in the unit each name carries; null for NaN or "
    "infinity."
)
_TABLE_COMMENT = (
    "Sampled time series: one row per sample document, holding all its readings as JSON "
    "{quantity: [value per realization]} (error in V^2, free_power_w in W, ...; null for a "
    "non-finite value). One row rather than one per reading and realization: ten times fewer "
    "rows for a densely sampled twin (~40 readings per sample)."
)
_OLD_COMMENT = (
    "Sampled time series: one row per sample document, realization and reading (error in V^2, "
    "free_power_w in W, ...). value is NULL for NaN."
)


def _rename_old(old: str, new: str) -> None:
    op.rename_table(old, new)
    if op.get_bind().dialect.name == "postgresql":  # constraint names are per schema there
        op.execute(f"ALTER TABLE {new} RENAME CONSTRAINT pk_{old} TO pk_{new}")
        op.execute(
            f"ALTER TABLE {new} RENAME CONSTRAINT fk_{old}_run_uid_runs TO fk_{new}_run_uid_runs"
        )


def _new_table() -> None:
    op.create_table(
        "samples",
        sa.Column("run_uid", sa.String(length=64), nullable=False, comment="Run of the sample."),
        sa.Column(
            "seq", sa.BigInteger(), nullable=False, comment="Sample document number within the run."
        ),
        sa.Column("t_s", sa.Double(), nullable=False, comment="Run time of the readings, seconds."),
        sa.Column(
            "step",
            sa.BigInteger(),
            nullable=True,
            comment="Learning step, for discrete-step trainers.",
        ),
        sa.Column("data", sa.JSON(), nullable=False, comment=_DATA_COMMENT),
        sa.ForeignKeyConstraint(["run_uid"], ["runs.uid"], name=op.f("fk_samples_run_uid_runs")),
        sa.PrimaryKeyConstraint("run_uid", "seq", name=op.f("pk_samples")),
        sqlite_with_rowid=False,
        comment=_TABLE_COMMENT,
    )


def _folded(rows: Sequence[Any]) -> Iterator[dict[str, Any]]:
    """Old rows (ordered by run, seq) as new rows."""
    for (run, seq), group in groupby(rows, key=lambda r: (r[0], r[1])):
        readings: dict[str, dict[int, float | None]] = {}
        t_s = step = None
        for _run, _seq, realization, quantity, t, st, value in group:
            readings.setdefault(quantity, {})[realization] = value
            t_s, step = t, st
        data = {q: [by_r.get(r) for r in range(max(by_r) + 1)] for q, by_r in readings.items()}
        yield {"run_uid": run, "seq": seq, "t_s": t_s, "step": step, "data": json.dumps(data)}


def upgrade() -> None:
    _rename_old("samples", "samples_v1")
    _new_table()
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT run_uid, seq, realization, quantity, t_s, step, value FROM samples_v1 "
            "ORDER BY run_uid, seq, quantity, realization"
        )
    ).all()
    insert = sa.text(
        "INSERT INTO samples (run_uid, seq, t_s, step, data) VALUES (:run_uid, :seq, :t_s, :step, "
        + (":data)" if conn.dialect.name == "sqlite" else "CAST(:data AS JSON))")
    )
    batch = list(_folded(rows))
    if batch:
        conn.execute(insert, batch)
    op.drop_table("samples_v1")


def downgrade() -> None:
    _rename_old("samples", "samples_v2")
    op.create_table(
        "samples",
        sa.Column("run_uid", sa.String(length=64), nullable=False, comment="Run of the sample."),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("realization", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.String(length=64), nullable=False),
        sa.Column("t_s", sa.Double(), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=True),
        sa.Column("value", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(["run_uid"], ["runs.uid"], name=op.f("fk_samples_run_uid_runs")),
        sa.PrimaryKeyConstraint(
            "run_uid", "seq", "realization", "quantity", name=op.f("pk_samples")
        ),
        sqlite_with_rowid=False,
        comment=_OLD_COMMENT,
    )
    conn = op.get_bind()
    out = []
    for run, seq, t_s, step, data in conn.execute(
        sa.text("SELECT run_uid, seq, t_s, step, data FROM samples_v2")
    ):
        readings = json.loads(data) if isinstance(data, str) else data
        for quantity, values in readings.items():
            for r, value in enumerate(values):
                out.append((run, seq, r, quantity, t_s, step, value))
    if out:
        conn.execute(
            sa.text(
                "INSERT INTO samples VALUES (:run_uid, :seq, :realization, :quantity, :t_s, "
                ":step, :value)"
            ),
            [
                dict(
                    zip(
                        ("run_uid", "seq", "realization", "quantity", "t_s", "step", "value"),
                        r,
                        strict=True,
                    )
                )
                for r in out
            ],
        )
    op.drop_table("samples_v2")
