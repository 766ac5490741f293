"""XY sweeps: the ``xy`` sweep kind (twin sweep of XY oscillator networks).

The sweep kinds are the CHECK constraints ``ck_sweeps_sweep_kind`` and
``ck_sweep_cells_sweep_kind``; both are widened (:mod:`twin.ledger._checks`). No row changes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from twin.ledger._checks import replace_in_check

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = ("trainer", "twin")
_NEW = (*_OLD, "xy")
_TABLES = ("sweeps", "sweep_cells")
# The kind columns' comments (PostgreSQL keeps them; SQLite has none), before and after.
_COMMENTS = {
    "sweeps": ("trainer (synchronous, batched) or twin (event-driven).",
               "trainer (synchronous, batched), twin (event-driven) or xy (XY oscillators, "
               "equilibrium propagation)."),
    "sweep_cells": ("trainer or twin.", "trainer, twin or xy."),
}  # fmt: skip


def _comments(before: int, after: int) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, texts in _COMMENTS.items():
        op.alter_column(table, "kind", existing_type=sa.String(length=8), existing_nullable=False,
                        existing_comment=texts[before], comment=texts[after])  # fmt: skip


def upgrade() -> None:
    for table in _TABLES:
        replace_in_check(table, f"ck_{table}_sweep_kind", "kind", _OLD, _NEW)
    _comments(0, 1)


def downgrade() -> None:
    for table in _TABLES:
        held = op.get_bind().execute(sa.text(f"SELECT COUNT(*) FROM {table} WHERE kind = 'xy'"))
        if held.scalar_one():
            raise RuntimeError(f"{table}: xy sweeps are recorded; revision 0005 cannot hold them")
    for table in _TABLES:
        replace_in_check(table, f"ck_{table}_sweep_kind", "kind", _NEW, _OLD)
    _comments(1, 0)
