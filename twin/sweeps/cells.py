"""Cells of a sweep: one full parameter set times the realizations, with a stable id.

- Realization seeds (:func:`realization_seeds`) derive from the root seed and the realization
  index only, not from the cell, so realization ``r`` has the same network and task in every cell
  of a sweep (paired comparisons along an axis).
- The cell id (:func:`cell_id`) is the first 20 hex digits of the sha256 of the cell's canonical
  JSON: its kind, every parameter with defaults filled in, and its seeds (hence the number of
  realizations), except the parameters of :data:`LATER_PARAMS` while at their default (added
  after cells were recorded: leaving them out keeps the ids of those cells, so a ledger's
  finished cells stay reused). The code version is NOT part of it: it is recorded with each
  result as provenance, and recomputing after a code change is an explicit decision (``twin
  sweep --rerun`` or a new sweep name with a changed parameter).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from .params import canonical_params
from .spec import SweepSpec

__all__ = ["ID_HEX_DIGITS", "LATER_PARAMS", "SEED_BITS", "Cell", "cell_id", "expand",
           "realization_seeds"]  # fmt: skip

#: Parameters added to a kind after cells of it were recorded, with their default: a cell id
#: leaves such a parameter out while it has that value (the cells' ids from before it existed).
LATER_PARAMS: dict[str, dict[str, Any]] = {"trainer": {"mark_tol": None}}

#: Hex digits of the sha256 kept in a cell id (80 bits).
ID_HEX_DIGITS = 20


def _int_tuple(values: Iterable[int]) -> tuple[int, ...]:
    return tuple(int(v) for v in values)


@attrs.frozen(kw_only=True)
class Cell:
    """One cell of a sweep.

    Attributes
    ----------
    cell_id
        Hash of ``kind``, ``params`` and ``seeds`` (:func:`cell_id`).
    kind
        ``trainer`` or ``twin``.
    params
        Every parameter, canonical, defaults filled in.
    seeds
        Seed of each realization.
    values
        The axis values of this cell (axis name -> value), in axis order.
    position
        Index of the cell in the sweep's expansion order.
    """

    cell_id: str
    kind: str
    params: dict[str, Any] = attrs.field(eq=False)
    seeds: tuple[int, ...] = attrs.field(converter=_int_tuple)
    values: dict[str, Any] = attrs.field(factory=dict, eq=False)
    position: int = 0

    @property
    def realizations(self) -> int:
        """Number of realizations."""
        return len(self.seeds)


#: Bits of a realization seed: jammed networks derive ``seed * 100_003 + r`` as their packing
#: seed (:func:`twin.physics.task_spec.build_tasks`), which must stay below 2^63.
SEED_BITS = 46


def realization_seeds(root_seed: int, realizations: int) -> tuple[int, ...]:
    """Seed of each realization: the first 46 bits of ``SeedSequence([root_seed, r])``.

    ``generate_state(2, uint32)`` gives two 32-bit words ``hi, lo``; the seed is
    ``(hi << 32 | lo) >> 18``, valid as ``twin train --seed`` (which reproduces the realization).
    """
    out = []
    for r in range(realizations):
        hi, lo = np.random.SeedSequence([int(root_seed), r]).generate_state(2, np.uint32)
        out.append(((int(hi) << 32) | int(lo)) >> (64 - SEED_BITS))
    return tuple(out)


def canonical_json(kind: str, params: Mapping[str, Any], seeds: Sequence[int]) -> str:
    """The text hashed into a cell id: sorted keys, no spaces, floats in shortest repr."""
    later = LATER_PARAMS.get(kind, {})
    kept = {k: v for k, v in params.items() if not (k in later and v == later[k])}
    doc = {"kind": kind, "params": kept, "seeds": [int(s) for s in seeds]}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False)


def cell_id(kind: str, params: Mapping[str, Any], seeds: Sequence[int]) -> str:
    """The id of a cell (see the module docstring)."""
    digest = hashlib.sha256(canonical_json(kind, params, seeds).encode()).hexdigest()
    return digest[:ID_HEX_DIGITS]


def _combinations(spec: SweepSpec) -> list[dict[str, Any]]:
    names = [a.name for a in spec.axes]
    if not names:
        return [{}]
    rows: Iterable[tuple[Any, ...]]
    if spec.combine == "zip":
        rows = zip(*(a.values for a in spec.axes), strict=True)
    else:
        rows = itertools.product(*(a.values for a in spec.axes))
    return [dict(zip(names, row, strict=True)) for row in rows]


def expand(spec: SweepSpec) -> list[Cell]:
    """The cells of ``spec`` in order (product: first axis slowest; zip: position by position)."""
    seeds = realization_seeds(spec.seed, spec.realizations)
    cells = []
    for position, values in enumerate(_combinations(spec)):
        params = canonical_params(spec.kind, {**spec.base, **values}, where=spec.source)
        cells.append(
            Cell(
                cell_id=cell_id(spec.kind, params, seeds),
                kind=spec.kind,
                params=params,
                seeds=seeds,
                values=values,
                position=position,
            )
        )
    return cells
