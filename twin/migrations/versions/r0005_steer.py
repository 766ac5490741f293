"""Steering: the ``steer`` run kind, the commands table and the ``ledger_steer_runs`` view.

``twin steer`` records its runs with kind ``steer`` and the commands it sends (with their
acknowledgements) as ``command`` documents, one row each in ``commands``.

The run kinds are a CHECK constraint (``ck_runs_run_kind``), widened by
:func:`twin.ledger._checks.replace_in_check` (re-created on PostgreSQL, its text replaced in place
on SQLite): the new CHECK accepts every row the old one did.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from twin.ledger._checks import replace_in_check

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_KINDS = ("train", "simulate", "shadow", "sweep", "infer")
_NEW_KINDS = (*_OLD_KINDS, "steer")
_NAMES = (
    "load_task",
    "start_training",
    "stop_training",
    "set_params",
    "reset_gates",
    "run_inference",
)
_STATUS = ("acked", "refused", "stale", "unanswered", "dry_run")

# A frozen copy of schemas/ledger.schema.json's steering view at this revision.
_VIEW = "ledger_steer_runs"
_VIEW_SQL: dict[str, str] = {
    "sqlite": (
        "SELECT r.uid AS run_uid, r.board AS board, r.status AS status,\n"
        "       r.started_unix AS started_unix,\n"
        "       json_extract(r.params, '$.policy') AS policy,\n"
        "       json_extract(r.summary, '$.reached') AS reached,\n"
        "       json_extract(r.summary, '$.tolerance_v2') AS tolerance_v2,\n"
        "       json_extract(r.summary, '$.training_energy_j') AS training_energy_j,\n"
        "       json_extract(r.summary, '$.baseline_energy_j') AS baseline_energy_j,\n"
        "       (SELECT COUNT(*) FROM commands c WHERE c.run_uid = r.uid) AS commands,\n"
        "       (SELECT COUNT(*) FROM commands c\n"
        "        WHERE c.run_uid = r.uid AND c.status = 'refused') AS refused\n"
        "FROM runs r\n"
        "WHERE r.kind = 'steer' AND r.source = 'board'"
    ),
    "postgresql": (
        "SELECT r.uid AS run_uid, r.board AS board, r.status AS status,\n"
        "       r.started_unix AS started_unix,\n"
        "       r.params->>'policy' AS policy,\n"
        "       (r.summary->>'reached')::boolean AS reached,\n"
        "       (r.summary->>'tolerance_v2')::float8 AS tolerance_v2,\n"
        "       (r.summary->>'training_energy_j')::float8 AS training_energy_j,\n"
        "       (r.summary->>'baseline_energy_j')::float8 AS baseline_energy_j,\n"
        "       (SELECT COUNT(*) FROM commands c WHERE c.run_uid = r.uid) AS commands,\n"
        "       (SELECT COUNT(*) FROM commands c\n"
        "        WHERE c.run_uid = r.uid AND c.status = 'refused') AS refused\n"
        "FROM runs r\n"
        "WHERE r.kind = 'steer' AND r.source = 'board'"
    ),
}


def _run_kinds(old: tuple[str, ...], new: tuple[str, ...]) -> None:
    replace_in_check("runs", "ck_runs_run_kind", "kind", old, new)


def _enum(name: str, values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def _commands() -> None:
    op.create_table(
        "commands",
        sa.Column(
            "run_uid", sa.String(length=64), nullable=False, comment="Run that sent the command."
        ),
        sa.Column(
            "seq",
            sa.BigInteger(),
            nullable=False,
            comment="Command number within the run (command document seq).",
        ),
        sa.Column(
            "t_s",
            sa.Double(),
            nullable=False,
            comment="Board time when it was sent, seconds of run time.",
        ),
        sa.Column(
            "time_unix",
            sa.Double(),
            nullable=True,
            comment="Wall-clock time it was sent, seconds since the epoch.",
        ),
        sa.Column(
            "name",
            _enum("command_name", _NAMES),
            nullable=False,
            comment="Command name (messages.schema.json).",
        ),
        sa.Column(
            "key",
            sa.Text(),
            nullable=False,
            comment="Idempotency key (a retry carries the same key).",
        ),
        sa.Column("args", sa.JSON(), nullable=False, comment="The command's arguments."),
        sa.Column(
            "version",
            sa.BigInteger(),
            nullable=True,
            comment="Desired-state version the sender last saw.",
        ),
        sa.Column(
            "status",
            _enum("command_status", _STATUS),
            nullable=False,
            comment=(
                "acked, refused, stale (re-sent under a new key), unanswered (no ack after "
                "every retry) or dry_run (not sent)."
            ),
        ),
        sa.Column(
            "attempts",
            sa.Integer(),
            nullable=False,
            comment="Times it was sent under this key (0: dry run).",
        ),
        sa.Column(
            "ack_code",
            sa.String(length=32),
            nullable=True,
            comment="The acknowledgement's code (ok, invalid, stale, busy, ...), NULL without one.",
        ),
        sa.Column(
            "ack",
            sa.JSON(),
            nullable=True,
            comment=(
                "The board's acknowledgement (ok, code, message, version, result), NULL "
                "without one."
            ),
        ),
        sa.ForeignKeyConstraint(["run_uid"], ["runs.uid"], name=op.f("fk_commands_run_uid_runs")),
        sa.PrimaryKeyConstraint("run_uid", "seq", name=op.f("pk_commands")),
        comment=(
            "Commands a run sent to a board (twin steer) and their acknowledgements, as the "
            "sender saw them: one row per command document (one per idempotency key; a retry "
            "keeps its key, a stale refusal is re-sent under a new one). status is acked, "
            "refused, stale, unanswered or dry_run (not sent)."
        ),
    )
    op.create_index("ix_commands_key", "commands", ["key"])


def upgrade() -> None:
    _run_kinds(_OLD_KINDS, _NEW_KINDS)
    _commands()
    op.execute(f"CREATE VIEW {_VIEW} AS\n{_VIEW_SQL[op.get_bind().dialect.name]}")


def downgrade() -> None:
    steer = op.get_bind().execute(sa.text("SELECT COUNT(*) FROM runs WHERE kind = 'steer'"))
    if steer.scalar_one():
        raise RuntimeError("runs: steer runs are recorded; revision 0004 cannot hold them")
    op.execute(f"DROP VIEW {_VIEW}")
    op.drop_index("ix_commands_key", table_name="commands")
    op.drop_table("commands")
    _run_kinds(_NEW_KINDS, _OLD_KINDS)
