"""Cells computed together: trainer cells that differ only in lambda, kappa, alpha or the
early-stopping or lambda-control tolerance, in lanes.

The cells of a figure's sweep share their realizations' networks (realization ``r`` of every
cell trains on the same task, :func:`twin.sweeps.cells.realization_seeds`), but one cell's
realizations are on different networks, so alone they never share a lane group of the compiled
trainer (:mod:`twin.kernels.train_lanes`). :func:`batches` puts up to :data:`BATCH_CELLS` such
cells in one unit of work: one training run of every cell's realizations, with a per-realization
kappa, alpha, lambda and stopping or control tolerance
(:class:`twin.learning.trainer.RealizationSettings`; a realization that stops leaves its lane
group, the others go on), so realization
``r`` of the batch's cells is one lane group. Every cell's rows are those it gets alone, bit for
bit (``tests/sweeps/test_batches.py``), and each cell keeps its id and ledger rows.

Only cells whose circuits the lanes take are batched (a reference network ``ref:N``, at most
:data:`~twin.physics.estimate.LANE_MAX_CONSTRAINTS` sources and targets, the direct solver):
elsewhere a batch would only take the cells off the other workers. Cells under lambda control
batch only with each other and at one alpha (the control's time step).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from .cells import Cell

__all__ = ["BATCH_CELLS", "BATCH_PARAMS", "MIN_BATCH", "Unit", "batch_key", "batches",
           "split_evenly", "split_outcome", "unit_params"]  # fmt: skip

#: Parameters that may differ between the cells of one batch.
BATCH_PARAMS = ("lam", "kappa", "alpha", "stop_tol", "control_tol")
#: Most cells in one batch: the lanes of one group (:data:`twin.kernels.lanes.LANES`).
BATCH_CELLS = 8
#: Fewest cells in one batch: a lane group costs ~2.5 updates of one realization whatever its
#: fill (:data:`twin.physics.estimate.LANE_GROUP_UPDATES`), so two cells are cheaper alone.
MIN_BATCH = 3

#: A unit of work: one cell, or the cells of a batch (in sweep order).
Unit = tuple[Cell, ...]


@functools.lru_cache(maxsize=64)
def _lanes_take(task: str, network: str, seed: int, label_noise: float) -> bool:
    """Whether realization 0's circuit goes in lanes: few constraint rows, the direct solver."""
    from ..physics.estimate import LANE_MAX_CONSTRAINTS, PCG_MIN_EDGES  # no numba import
    from ..physics.task_spec import build_tasks, reference_for_realization

    spec = reference_for_realization(network, 0)
    (built,) = build_tasks(task, spec, seed=seed, realizations=1, label_noise=label_noise)
    rows = built.n_sources + built.n_targets
    return bool(rows <= LANE_MAX_CONSTRAINTS and built.network.n_edges < PCG_MIN_EDGES)


def batch_key(cell: Cell) -> str | None:
    """What the cells of one batch share (``None``: this cell is computed alone)."""
    p = cell.params
    network = p.get("network")
    if cell.kind != "trainer" or cell.realizations < 1:
        return None
    if not (isinstance(network, str) and network.startswith("ref:")):
        return None
    noise = float(p.get("label_noise") or 0.0)
    if not _lanes_take(str(p["task"]), network, int(cell.seeds[0]), noise):
        return None
    control = p.get("control_tol") is not None
    rest = {k: v for k, v in p.items() if k not in BATCH_PARAMS or (control and k == "alpha")}
    return json.dumps([cell.kind, control, rest, list(cell.seeds)], sort_keys=True)


def split_evenly(items: Sequence[Any], most: int) -> list[list[Any]]:
    """``items`` in order, in the fewest runs of at most ``most``, of sizes differing by <= 1."""
    n = len(items)
    parts = max(1, math.ceil(n / max(1, most)))
    size, extra = divmod(n, parts)
    out, start = [], 0
    for i in range(parts):
        stop = start + size + (1 if i < extra else 0)
        out.append(list(items[start:stop]))
        start = stop
    return [p for p in out if p]


def batches(cells: Sequence[Cell], most: int = BATCH_CELLS) -> list[Unit]:
    """``cells`` as units of work: batches of cells that differ only in :data:`BATCH_PARAMS`
    (at most ``most`` each, evenly split; at least :data:`MIN_BATCH`), the others alone; units
    in order of their first cell.
    """
    keyed: dict[str, list[Cell]] = {}
    units: list[list[Cell]] = []
    for cell in cells:
        key = batch_key(cell) if most > 1 else None
        if key is None:
            units.append([cell])
        elif key not in keyed:
            keyed[key] = [cell]
            units.append(keyed[key])
        else:
            keyed[key].append(cell)
    out: list[Unit] = []
    for unit in units:
        if len(unit) < MIN_BATCH:
            out.extend((cell,) for cell in unit)
        else:
            out.extend(tuple(part) for part in split_evenly(unit, most))
    return out


def unit_params(unit: Unit) -> tuple[str, dict[str, Any]]:
    """The kind and parameters a unit is submitted with (a batch: kind ``batch``)."""
    if len(unit) == 1:
        return unit[0].kind, unit[0].params
    return "batch", {"kind": unit[0].kind, "cells": [c.params for c in unit]}


def split_outcome(unit: Unit, outcome: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each cell's outcome from its unit's: a batch's rows per cell, its wall and CPU time shared
    evenly (the cells were computed together)."""
    if len(unit) == 1:
        return [dict(outcome)]
    n = len(unit)
    out = []
    for rows in outcome["rows"]:
        part = dict(outcome, rows=rows)
        for key in ("elapsed_s", "cpu_s"):
            if outcome.get(key) is not None:
                part[key] = float(outcome[key]) / n
        out.append(part)
    return out
