"""Alembic environment of the energy ledger.

Run programmatically by :func:`twin.ledger.db.upgrade`, which passes an open connection in
``config.attributes["connection"]`` (inside its own transaction and lock); with a
``sqlalchemy.url`` main option instead, a fresh engine is made. No ``alembic.ini`` is needed:
``twin.ledger.db.alembic_config(url)`` builds the configuration, e.g. for a new revision::

    from alembic import command
    from twin.ledger.db import alembic_config
    command.revision(alembic_config("sqlite:///dev.db"), message="...", autogenerate=True)

SQLite migrations use batch mode (``render_as_batch``), since SQLite cannot alter columns.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from twin.ledger.db import VERSION_TABLE, create_engine
from twin.ledger.models import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None, "alembic_config(url) or attributes['connection'] is needed"
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
