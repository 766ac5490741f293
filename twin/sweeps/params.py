"""The parameter vocabulary of sweep cells, read from ``schemas/sweep.schema.json``.

``$defs/trainer``, ``$defs/twin``, ``$defs/xy`` and ``$defs/springs`` of the sweep schema list
every parameter a cell of that kind takes (the long option names of ``twin train`` / ``twin
simulate`` / ``twin train --physics xy`` / ``twin train --physics springs`` with underscores), its
JSON type, range and default. Adding a parameter is one line in the schema (then ``python
schemas/codegen.py``) plus its use where the cell's configuration is built
(:mod:`twin.sweeps._trainer_cell`, :mod:`twin.sweeps.twin_cells`, :mod:`twin.sweeps._xy_cell`
or :mod:`twin.sweeps._spring_cell`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from .._generated import SCHEMAS
from ..physics._schema_check import Checker
from .errors import SweepSpecError

__all__ = [
    "KIND_NAMES",
    "SCHEMA_ID",
    "canonical_params",
    "canonical_value",
    "defaults",
    "omitted_at_default",
    "parameters",
]

SCHEMA_ID = "twin.sweep/1"
#: Kinds of sweep cells.
KIND_NAMES = ("trainer", "twin", "xy", "springs")


def parameters(kind: str) -> dict[str, dict[str, Any]]:
    """Name -> JSON Schema of every parameter of a ``kind`` cell, in schema order."""
    if kind not in KIND_NAMES:
        raise SweepSpecError(f"kind: expected one of {', '.join(KIND_NAMES)}, got {kind!r}")
    return dict(SCHEMAS[SCHEMA_ID]["$defs"][kind]["properties"])


def defaults(kind: str) -> dict[str, Any]:
    """Name -> default value of every parameter of a ``kind`` cell."""
    return {name: schema.get("default") for name, schema in parameters(kind).items()}


@functools.cache
def _checker(kind: str, name: str) -> Checker:
    return Checker(name, {name: parameters(kind)[name]})


def canonical_value(kind: str, name: str, value: Any, *, where: str) -> Any:
    """``value`` checked against the parameter's schema and put in canonical form.

    Canonical: numbers of a ``number`` parameter are floats (``1`` and ``1.0`` give the same cell
    id), of an ``integer`` parameter ints; strings and null as they are.

    Raises
    ------
    SweepSpecError
        Unknown parameter (the message lists the known ones) or a value out of its range;
        ``where`` (``file: base.lam``) is put in front of the message.
    """
    known = parameters(kind)
    if name not in known:
        raise SweepSpecError(
            f"{where}: unknown {kind} parameter {name!r}; expected one of {', '.join(known)}"
        )
    problem = _checker(kind, name).first_problem(value)
    if problem is not None:
        raise SweepSpecError(f"{where}: {problem[1]}")
    kinds = known[name].get("type", [])
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if "integer" in kinds:
        return int(value)
    return float(value)


def omitted_at_default(kind: str) -> frozenset[str]:
    """Parameters left out of a cell (and its id) at their default (schema ``x-omit-default``).

    A parameter added after cells were computed is marked so: cells that do not set it keep the
    parameters, and hence the ids, they had before it existed.
    """
    return frozenset(n for n, sch in parameters(kind).items() if sch.get("x-omit-default"))


def canonical_params(kind: str, given: Mapping[str, Any], *, where: str) -> dict[str, Any]:
    """Every parameter of a ``kind`` cell: ``given`` (checked, canonical) over the defaults.

    Parameters marked ``x-omit-default`` appear only when set to another value than their
    default (:func:`omitted_at_default`).
    """
    out = defaults(kind)
    for name, value in given.items():
        out[name] = canonical_value(kind, name, value, where=f"{where}.{name}")
    schemas = parameters(kind)
    for name in omitted_at_default(kind):
        if out[name] == schemas[name].get("default"):
            del out[name]
    return out
