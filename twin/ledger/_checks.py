"""Widening (or narrowing) an ``IN (...)`` CHECK constraint: shared by the migrations
(``twin/migrations/versions``), which import it from here.

PostgreSQL drops and re-creates the constraint. SQLite cannot alter a constraint, and rebuilding
the table (alembic's batch-mode copy) would need its foreign keys off, which a migration inside
the ledger's transaction cannot do; so the constraint's text is replaced in place, SQLite's
documented procedure for schema changes that leave every stored row valid (ALTER TABLE, section
"Making Other Kinds Of Table Schema Changes"). Callers narrow only after checking that no row
holds a value being removed.
"""

from __future__ import annotations

from alembic import op

__all__ = ["in_list", "replace_in_check"]


def in_list(column: str, values: tuple[str, ...]) -> str:
    """``column IN ('a', 'b')``: the text SQLAlchemy writes for an enum's CHECK."""
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _sqlite_replace(table: str, name: str, old: str, new: str) -> None:
    conn = op.get_bind()
    sql = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).scalar_one()
    before = f"CONSTRAINT {name} CHECK ({old})"
    if sql.count(before) != 1:
        raise RuntimeError(f"{table}: constraint not found as {before!r}")
    version = conn.exec_driver_sql("PRAGMA schema_version").scalar_one()
    conn.exec_driver_sql("PRAGMA writable_schema = ON")
    try:
        conn.exec_driver_sql(
            "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?",
            (sql.replace(before, f"CONSTRAINT {name} CHECK ({new})"), table),
        )
        conn.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    finally:
        conn.exec_driver_sql("PRAGMA writable_schema = OFF")


def replace_in_check(
    table: str, name: str, column: str, old: tuple[str, ...], new: tuple[str, ...]
) -> None:
    """Make CHECK constraint ``name`` of ``table`` accept ``column IN new`` instead of ``old``."""
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_replace(table, name, in_list(column, old), in_list(column, new))
        return
    # op.f: the name as given (the metadata's naming convention made it, and would prefix it again)
    op.drop_constraint(op.f(name), table, type_="check")
    op.create_check_constraint(op.f(name), table, in_list(column, new))
