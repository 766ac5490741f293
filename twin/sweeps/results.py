"""Reading sweeps back: how far a sweep is, and its results as a tidy table (pandas)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import attrs

from ..ledger.db import open_ledger
from . import store
from .cells import expand
from .errors import SweepError
from .metrics import metric_order
from .spec import SweepSpec, spec_from_dict

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["STATUSES", "SweepStatus", "results_frame", "sweep_status"]

#: Statuses reported by :func:`sweep_status`.
STATUSES = ("done", "running", "failed", "missing")


@attrs.frozen(kw_only=True)
class SweepStatus:
    """Counts of done / running / failed / missing cells, and each cell's status in order."""

    name: str
    counts: dict[str, int]
    cells: tuple[dict[str, Any], ...]

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {"name": self.name, "counts": dict(self.counts), "cells": list(self.cells)}


def sweep_status(spec: SweepSpec, *, db_url: str | None = None) -> SweepStatus:
    """How far ``spec`` is: done / running (owner alive) / failed / missing, per cell."""
    cells = expand(spec)
    with open_ledger(db_url, read_only=True) as ledger:
        states = store.cell_states(ledger, [c.cell_id for c in cells])
    now = time.time()
    counts = dict.fromkeys(STATUSES, 0)
    rows = []
    for cell in cells:
        state = states.get(cell.cell_id)
        status = store.status_of(state, now)
        counts[status] += 1
        row: dict[str, Any] = {"cell_id": cell.cell_id, "status": status, **cell.values}
        if state is not None and state.error:
            row["error"] = state.error
        rows.append(row)
    return SweepStatus(name=spec.name, counts=counts, cells=tuple(rows))


def results_frame(spec_or_name: SweepSpec | str, *, db_url: str | None = None) -> pd.DataFrame:
    """The sweep's results as a tidy table: one row per cell and realization.

    Columns: ``cell_id``, ``position`` (cell order), ``realization``, ``seed``, every parameter,
    every metric (NaN where undefined or not computed), ``status`` (done / running / failed /
    missing) and ``code_version``. A name looks the spec up in the database.
    """
    import pandas as pd

    with open_ledger(db_url, read_only=True) as ledger:
        if isinstance(spec_or_name, str):
            stored = store.stored_spec(ledger, spec_or_name)
            if stored is None:
                raise SweepError(f"sweep: no sweep named {spec_or_name!r} in {ledger.url}")
            spec = spec_from_dict(stored, source=f"sweep {spec_or_name!r}")
        else:
            spec = spec_or_name
        cells = expand(spec)
        ids = [c.cell_id for c in cells]
        states = store.cell_states(ledger, ids)
        results = store.result_rows(ledger, ids)
    now = time.time()
    metrics: dict[tuple[str, int], dict[str, Any]] = {}
    for cid, r, _seed, metric, value in results:
        metrics.setdefault((cid, r), {})[metric] = float("nan") if value is None else value
    records = []
    for cell in cells:
        state = states.get(cell.cell_id)
        status = store.status_of(state, now)
        for r, seed in enumerate(cell.seeds):
            row = {
                "cell_id": cell.cell_id,
                "position": cell.position,
                "realization": r,
                "seed": seed,
                **cell.params,
            }
            row |= metrics.get((cell.cell_id, r), {}) if status == "done" else {}
            row["status"] = status
            row["code_version"] = state.code_version if state else None
            records.append(row)
    frame = pd.DataFrame.from_records(records)
    if not cells:
        return frame
    front = ["cell_id", "position", "realization", "seed", *cells[0].params]
    known = metric_order(spec.kind, frame.columns)
    extra = sorted(set(frame.columns) - {*front, *known, "status", "code_version"})
    return frame[[*front, *known, *extra, "status", "code_version"]]
