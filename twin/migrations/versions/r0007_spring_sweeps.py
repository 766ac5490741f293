"""Spring sweeps: the ``springs`` sweep kind (twin sweep of spring networks, seed App. D).

The sweep kinds are the CHECK constraints ``ck_sweeps_sweep_kind`` and
``ck_sweep_cells_sweep_kind``; both are widened (:mod:`twin.ledger._checks`), and on PostgreSQL
the kind columns' comments follow. No row changes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from twin.ledger._checks import replace_in_check

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = ("trainer", "twin", "xy")
_NEW = (*_OLD, "springs")
_TABLES = ("sweeps", "sweep_cells")
# The kind columns' comments (PostgreSQL keeps them; SQLite has none), before and after.
_COMMENTS = {
    "sweeps": ("trainer (synchronous, batched), twin (event-driven) or xy (XY oscillators, "
               "equilibrium propagation).",
               "trainer (synchronous, batched), twin (event-driven), xy (XY oscillators, "
               "equilibrium propagation) or springs (spring networks, synchronous)."),
    "sweep_cells": ("trainer, twin or xy.", "trainer, twin, xy or springs."),
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
        held = op.get_bind().execute(
            sa.text(f"SELECT COUNT(*) FROM {table} WHERE kind = 'springs'")
        )
        if held.scalar_one():
            raise RuntimeError(f"{table}: springs sweeps are recorded; 0006 cannot hold them")
    for table in _TABLES:
        replace_in_check(table, f"ck_{table}_sweep_kind", "kind", _NEW, _OLD)
    _comments(1, 0)
