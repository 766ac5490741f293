"""Ledger views for plain-SQL users: run totals, per-component energy, daily energy, inference.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A frozen copy of schemas/ledger.schema.json's x-views at this revision (a test checks that a
# migrated database has exactly the schema's views).
_VIEWS: dict[str, dict[str, str]] = {
    "ledger_run_totals": {
        "default": (
            "SELECT r.uid AS run_uid, r.source AS run_source, r.kind AS kind,\n"
            "       r.board AS board, r.status AS status,\n"
            "       r.started_unix AS started_unix, r.stopped_unix AS stopped_unix,\n"
            "       COUNT(e.seq) AS entries,\n"
            "       COALESCE(SUM(e.energy_j), 0.0) AS energy_j,\n"
            "       COALESCE(SUM(CASE WHEN e.phase = 'training'\n"
            "                         THEN e.energy_j END), 0.0) AS training_j,\n"
            "       COALESCE(SUM(CASE WHEN e.phase = 'inference'\n"
            "                         THEN e.energy_j END), 0.0) AS inference_j\n"
            "FROM runs r LEFT JOIN entries e ON e.run_uid = r.uid\n"
            "GROUP BY r.uid, r.source, r.kind, r.board, r.status,\n"
            "         r.started_unix, r.stopped_unix"
        ),
    },
    "ledger_run_energy": {
        "default": (
            "SELECT e.run_uid AS run_uid, r.kind AS kind, r.board AS board, e.phase AS phase,\n"
            "       e.component AS component, e.source AS source, e.method AS method,\n"
            "       COUNT(*) AS entries, MIN(e.t0_s) AS t0_s, MAX(e.t1_s) AS t1_s,\n"
            "       SUM(e.energy_j) AS energy_j\n"
            "FROM entries e JOIN runs r ON r.uid = e.run_uid\n"
            "GROUP BY e.run_uid, r.kind, r.board, e.phase, e.component, e.source, e.method"
        ),
    },
    "ledger_daily_energy": {
        "sqlite": (
            "SELECT date(r.started_unix + e.t0_s, 'unixepoch') AS day, r.board AS board,\n"
            "       e.source AS source, e.phase AS phase, e.component AS component,\n"
            "       COUNT(DISTINCT e.run_uid) AS runs, COUNT(*) AS entries,\n"
            "       SUM(e.energy_j) AS energy_j\n"
            "FROM entries e JOIN runs r ON r.uid = e.run_uid\n"
            "GROUP BY date(r.started_unix + e.t0_s, 'unixepoch'), r.board,\n"
            "         e.source, e.phase, e.component"
        ),
        "postgresql": (
            "SELECT to_char(to_timestamp(r.started_unix + e.t0_s) AT TIME ZONE 'UTC',\n"
            "               'YYYY-MM-DD') AS day,\n"
            "       r.board AS board, e.source AS source, e.phase AS phase,\n"
            "       e.component AS component,\n"
            "       COUNT(DISTINCT e.run_uid) AS runs, COUNT(*) AS entries,\n"
            "       SUM(e.energy_j) AS energy_j\n"
            "FROM entries e JOIN runs r ON r.uid = e.run_uid\n"
            "GROUP BY 1, r.board, e.source, e.phase, e.component"
        ),
    },
    "ledger_inference": {
        "default": (
            "SELECT e.run_uid AS run_uid, e.seq AS input, e.realization AS realization,\n"
            "       e.component AS component, e.source AS source, e.t1_s - e.t0_s AS hold_s,\n"
            "       e.energy_j / NULLIF(e.t1_s - e.t0_s, 0) AS power_w,\n"
            "       e.energy_j AS energy_j\n"
            "FROM entries e\n"
            "WHERE e.phase = 'inference'"
        ),
    },
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for name, variants in _VIEWS.items():
        sql = variants[dialect] if dialect in variants else variants["default"]
        op.execute(f"CREATE VIEW {name} AS\n{sql}")


def downgrade() -> None:
    for name in reversed(list(_VIEWS)):
        op.execute(f"DROP VIEW {name}")
