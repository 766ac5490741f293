"""What steering saved: steering runs with their energy against the twin's lambda = 0 baseline.

A ``twin steer`` run (kind ``steer``, source ``board``) stops with a summary holding the board's
training energy to the stop (``training_energy_j``) and the energy the twin predicts a
lambda = 0 run needs from the same start to the same tolerance (``baseline_energy_j``); the
commands it sent are rows of ``commands``. :func:`steer_runs` reads them through the
``ledger_steer_runs`` view, so ``twin energy steer --board B --since 7d`` answers "how much did
steering save on this board this week". Read-only, like every query.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from .db import Ledger
from .errors import LedgerQueryError
from .query_args import iso_utc, parse_time

__all__ = ["steer_runs"]

_SUMMED = ("training_energy_j", "baseline_energy_j", "saved_j")


def _row(raw: dict[str, Any]) -> dict[str, Any]:
    train, base = raw["training_energy_j"], raw["baseline_energy_j"]
    comparable = bool(raw["reached"]) and train is not None and base is not None
    return {
        "run": raw["run_uid"],
        "started": iso_utc(raw["started_unix"]),
        "board": raw["board"],
        "status": raw["status"],
        "policy": raw["policy"],
        "reached": None if raw["reached"] is None else bool(raw["reached"]),
        "tolerance_v2": raw["tolerance_v2"],
        "training_energy_j": train,
        "baseline_energy_j": base,
        # only a run that reached the tolerance did what the baseline is predicted to do
        "saved_j": base - train if comparable else None,
        "ratio": base / train if comparable and train > 0 else None,
        "commands": int(raw["commands"]),
        "refused": int(raw["refused"]),
    }


def steer_runs(
    ledger: Ledger,
    *,
    board: str | None = None,
    since: str | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Steering runs, newest first, and their totals.

    Returns
    -------
    dict
        ``runs``: one row per run (``run``, ``started``, ``board``, ``status``, ``policy``,
        ``reached``, ``tolerance_v2``, ``training_energy_j``, ``baseline_energy_j``,
        ``saved_j`` = baseline - training and ``ratio`` = baseline / training for runs that
        reached the tolerance (else ``None``), ``commands``, ``refused``); ``total``: runs,
        runs reached, and the sums of ``training_energy_j``, ``baseline_energy_j`` and
        ``saved_j`` over the runs that reached the tolerance.
    """
    if limit is not None and limit < 0:
        raise LedgerQueryError(f"limit: must be >= 0, got {limit}")
    where = ["1 = 1"]
    params: dict[str, Any] = {}
    if board is not None:
        where.append("board = :board")
        params["board"] = board
    if since is not None:
        where.append("started_unix >= :since")
        params["since"] = parse_time(since)
    sql = f"SELECT * FROM ledger_steer_runs WHERE {' AND '.join(where)} ORDER BY started_unix DESC"
    if limit:
        sql += f" LIMIT {int(limit)}"
    with ledger.read() as conn:
        rows = [_row(dict(r)) for r in conn.execute(sa.text(sql), params).mappings()]
    reached = [r for r in rows if r["saved_j"] is not None]
    total: dict[str, Any] = {"runs": len(rows), "reached": len(reached)}
    for key in _SUMMED:
        total[key] = float(sum(r[key] for r in reached))
    train = total["training_energy_j"]
    total["ratio"] = total["baseline_energy_j"] / train if train > 0 else None
    return {"runs": rows, "total": total}
