"""Energy to a tolerance: the joules a run spent until its error first reached a bound.

:func:`energy_to_tolerance` takes an open :class:`~twin.ledger.Ledger` and returns a JSON-ready
dict per realization (the ``twin energy to-tolerance`` command prints it).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .db import Ledger
from .errors import LedgerQueryError
from .models import ENERGY_PHASE, entries, samples
from .query_args import _choice, resolve_run

__all__ = ["energy_to_tolerance"]


def _first_hits(
    conn: Connection, uid: str, quantity: str, tol: float
) -> tuple[dict[int, tuple[float, int | None, float]], dict[int, float | None]]:
    """Per realization: (t_s, step, value) of the first sample <= tol, and the minimum value."""
    s = samples
    rows = conn.execute(
        sa.select(s.c.t_s, s.c.step, s.c.data).where(s.c.run_uid == uid).order_by(s.c.t_s, s.c.seq)
    ).all()
    hits: dict[int, tuple[float, int | None, float]] = {}
    lowest: dict[int, float | None] = {}
    for t_s, step, data in rows:
        values = _readings(data).get(quantity)
        if values is None:
            continue
        for r, value in enumerate(values):
            lowest.setdefault(r, None)
            if value is None:
                continue
            low = lowest[r]
            lowest[r] = value if low is None else min(low, value)
            if r not in hits and value <= tol:
                hits[r] = (t_s, step, value)
    if not lowest:
        raise LedgerQueryError(f"{quantity}: run {uid} has no {quantity!r} samples")
    return hits, lowest


def _readings(data: Any) -> dict[str, list[float | None]]:
    """A sample row's readings (the driver may hand JSON back as text)."""
    return dict(json.loads(data) if isinstance(data, str) else data)


def _energy_until(
    conn: Connection, uid: str, realization: int, phase: str, t_stop: float
) -> dict[str, float]:
    """Joules per component of ``phase`` entries up to run time ``t_stop`` (straddlers prorated)."""
    e = entries
    mine = (e.c.run_uid == uid, e.c.realization == realization, e.c.phase == phase)
    out: dict[str, float] = defaultdict(float)
    full = conn.execute(
        sa.select(e.c.component, sa.func.sum(e.c.energy_j))
        .where(*mine, e.c.t1_s <= t_stop)
        .group_by(e.c.component)
    ).all()
    for comp, joules in full:
        out[comp] += float(joules)
    straddling = conn.execute(
        sa.select(e.c.component, e.c.t0_s, e.c.t1_s, e.c.energy_j).where(
            *mine, e.c.t0_s < t_stop, e.c.t1_s > t_stop
        )
    ).all()
    for comp, t0, t1, joules in straddling:
        out[comp] += float(joules) * (t_stop - t0) / (t1 - t0)
    return dict(out)


def energy_to_tolerance(
    ledger: Ledger,
    ref: str,
    *,
    error: float,
    quantity: str = "error",
    phase: str = "training",
) -> dict[str, Any]:
    """Energy a run spent until its error first reached a tolerance, per realization.

    Definition: ``t*`` is the run time of the first sample whose ``quantity`` is ``<= error``
    (the error is known only at samples, so ``t*`` is exact to the sampling resolution and never
    earlier than the true crossing). The energy is the sum, per component, of the ``phase``
    entries of that realization over ``[0, t*]``: entries ending by ``t*`` count in full; an entry
    whose interval ``[t0_s, t1_s]`` straddles ``t*`` counts the fraction
    ``(t* - t0_s) / (t1_s - t0_s)`` of its joules (linear in time, i.e. assuming constant power
    within the entry). For the trainer, entries end exactly at sample times, so no proration
    happens and the result is the exact integral of the power up to ``t*``.

    Parameters
    ----------
    ref
        Run uid, unique prefix or ``last``.
    error
        Tolerance, in the unit of ``quantity`` (V^2 for ``error``); > 0.
    quantity
        Sampled reading compared with the tolerance (``error_normalized`` for relative).
    phase
        Phase whose entries are summed.

    Returns
    -------
    dict
        ``run``, ``tolerance``, ``quantity``, ``phase``, ``realizations``: one dict each with
        ``realization``, ``reached``, ``t_s``, ``step``, ``error`` (the value at ``t*``),
        ``min_error``, ``components`` (joules per component; empty if not reached) and
        ``energy_j`` (their sum; ``None`` if not reached).
    """
    if not (isinstance(error, int | float) and math.isfinite(error) and error > 0):
        raise LedgerQueryError(f"error: tolerance must be a finite number > 0, got {error!r}")
    _choice(phase, ENERGY_PHASE, "phase")
    with ledger.read() as conn:
        uid = resolve_run(conn, ref)
        hits, lowest = _first_hits(conn, uid, quantity, float(error))
        rows = []
        for r in sorted(lowest):
            hit = hits.get(r)
            comps = _energy_until(conn, uid, r, phase, hit[0]) if hit else {}
            rows.append(
                {
                    "realization": r,
                    "reached": hit is not None,
                    "t_s": hit[0] if hit else None,
                    "step": hit[1] if hit else None,
                    "error": hit[2] if hit else None,
                    "min_error": lowest[r],
                    "components": comps,
                    "energy_j": float(sum(comps.values())) if hit else None,
                }
            )
    return {
        "run": uid,
        "tolerance": float(error),
        "quantity": quantity,
        "phase": phase,
        "realizations": rows,
    }
