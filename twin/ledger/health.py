"""Is a live writer recording? The health check of a long-running shadow (docker-compose.yml).

``python -m twin.ledger.health --source twin --max-age-s 60`` exits 0 when the ledger at
``$TWIN_DB_URL`` (or ``--db``) holds a ``running`` run of that source whose writer's heartbeat
(refreshed every few seconds while it records) is at most ``max_age_s`` old, else 1 with one
line saying why. It only reads (one ``SELECT``); it never creates or migrates a ledger.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

import sqlalchemy as sa

__all__ = ["live_run_age_s", "main"]


def live_run_age_s(url: str, source: str) -> float | None:
    """Seconds since the freshest heartbeat of a running run of ``source`` (None: no such run)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            beat = conn.execute(
                sa.text(
                    "SELECT max(heartbeat_unix) FROM runs WHERE status = 'running' "
                    "AND source = :source"
                ),
                {"source": source},
            ).scalar()
    finally:
        engine.dispose()
    return None if beat is None else time.time() - float(beat)


def main(argv: Sequence[str] | None = None) -> int:
    """The health check's command line (exit 0 healthy, 1 not)."""
    parser = argparse.ArgumentParser(prog="python -m twin.ledger.health")
    parser.add_argument("--db", default=os.environ.get("TWIN_DB_URL"))
    parser.add_argument("--source", default="twin")
    parser.add_argument("--max-age-s", type=float, default=60.0)
    args = parser.parse_args(argv)
    if not args.db or args.db == "off":
        sys.stderr.write("unhealthy: no ledger (--db or TWIN_DB_URL)\n")
        return 1
    try:
        age = live_run_age_s(args.db, args.source)
    except sa.exc.SQLAlchemyError as exc:
        sys.stderr.write(f"unhealthy: {str(exc).splitlines()[0]}\n")
        return 1
    if age is None or age > args.max_age_s:
        what = "no running run" if age is None else f"last heartbeat {age:.0f} s ago"
        sys.stderr.write(f"unhealthy: {what} of source {args.source}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
