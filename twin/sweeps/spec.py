"""Sweep specifications: a TOML file (``schemas/sweep.schema.json``) -> :class:`SweepSpec`.

Example (``examples/sweeps/lambda.toml``)::

    name = "lambda-allostery"
    kind = "trainer"
    realizations = 8
    seed = 0

    [base]
    task = "allostery"
    steps = 2000

    [axes]
    lam = [0.0, 1e-6, 1e-5, 1e-4]

The file is checked at the boundary: its size and encoding (:func:`twin.physics.file_checks.
read_text`), TOML syntax, the schema (structure, types, ranges) and then every parameter against
the vocabulary of its kind (:mod:`twin.sweeps.params`). Every problem is one
:class:`SweepSpecError` line ``FILE: FIELD: expected FORM, got VALUE``.
"""

from __future__ import annotations

import functools
import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import attrs

from .._generated import SCHEMAS
from ..physics._schema_check import Checker
from ..physics.file_checks import json_path, read_text
from .errors import SweepSpecError
from .params import SCHEMA_ID, canonical_params, canonical_value, parameters

__all__ = ["MAX_CELLS", "Axis", "SweepSpec", "cell_count", "load_spec", "spec_from_dict"]

#: Most cells of one sweep (checked before the axes are expanded).
MAX_CELLS = 100_000
#: Deepest nesting of a sweep document (a value in an axis list is at depth 3).
MAX_DEPTH = 32
#: Largest integer magnitude in a sweep document (int64).
MAX_INT = 2**63 - 1

Kind = Literal["trainer", "twin", "xy", "springs"]
Combine = Literal["product", "zip"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _tuple(values: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(values)


@attrs.frozen(kw_only=True)
class Axis:
    """One varied parameter: its name and its values, in order (canonical form)."""

    name: str
    values: tuple[Any, ...] = attrs.field(converter=_tuple)


@attrs.frozen(kw_only=True)
class SweepSpec:
    """A sweep: ``base`` parameters, ``axes`` combined as a ``product`` or ``zip``, realizations.

    Attributes
    ----------
    name
        Key of the sweep in the ledger database.
    kind
        ``trainer`` (synchronous, batched) or ``twin`` (event-driven).
    base
        Parameters shared by every cell (canonical values; defaults not filled in).
    axes
        Varied parameters, in order (the first varies slowest in a product).
    combine
        ``product`` or ``zip``.
    realizations
        Realizations per cell.
    seed
        Root seed; see :func:`twin.sweeps.cells.realization_seeds`.
    timeout_s
        Wall time after which an unfinished cell is resubmitted (``None``: the executor's default).
    description
        Free text.
    source
        Where the spec came from (file path or ``<dict>``), for messages.
    """

    name: str
    kind: Kind
    base: Mapping[str, Any] = attrs.field(factory=dict)
    axes: tuple[Axis, ...] = attrs.field(default=(), converter=_tuple)
    combine: Combine = "product"
    realizations: int = 1
    seed: int = 0
    timeout_s: float | None = None
    description: str = ""
    source: str = attrs.field(default="<dict>", eq=False)

    def to_dict(self) -> dict[str, Any]:
        """The spec as a dictionary that :func:`spec_from_dict` reads back (JSON-ready)."""
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "realizations": self.realizations,
            "seed": self.seed,
            "combine": self.combine,
            "base": dict(self.base),
            "axes": {axis.name: list(axis.values) for axis in self.axes},
        }
        if self.timeout_s is not None:
            out["timeout_s"] = self.timeout_s
        if self.description:
            out["description"] = self.description
        return out


def _check_distinct(axes: list[Axis], combine: str, source: str) -> None:
    """Refuse repeated values (product) or repeated combinations (zip): two identical cells."""
    if combine == "zip":
        combos = [repr(c) for c in zip(*(a.values for a in axes), strict=True)]
        if len(set(combos)) != len(combos):
            raise SweepSpecError(f"{source}: axes: expected distinct combinations of values")
        return
    for axis in axes:
        if len(set(map(repr, axis.values))) != len(axis.values):
            raise SweepSpecError(f"{source}: axes.{axis.name}: expected distinct values")


@functools.cache
def _checker() -> Checker:
    return Checker(SCHEMA_ID, {SCHEMA_ID: SCHEMAS[SCHEMA_ID]})


def load_spec(path: str | Path) -> SweepSpec:
    """Read a sweep specification file (TOML); one-line :class:`SweepSpecError` if malformed."""
    path = Path(path)
    text = read_text(path, SweepSpecError, what="sweep specification")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SweepSpecError(f"{path}: invalid TOML ({exc})") from None
    except RecursionError:
        raise SweepSpecError(
            f"{path}: invalid TOML (values nested deeper than the parser can read; expected at "
            f"most {MAX_DEPTH} levels)"
        ) from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise SweepSpecError(f"{path}: invalid TOML ({str(exc).splitlines()[0]})") from None
    return spec_from_dict(doc, source=str(path))


def _check_values(doc: Any, source: str) -> None:
    """Refuse what JSON Schema cannot (before the schema walks the document recursively):
    nesting deeper than :data:`MAX_DEPTH`, NaN and infinities, integers beyond int64."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(doc, ())]
    while stack:
        value, path = stack.pop()
        where = json_path(list(path)) if path else "(document)"
        if len(path) > MAX_DEPTH:
            raise SweepSpecError(f"{source}: {where}: nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, float) and not math.isfinite(value):
            raise SweepSpecError(f"{source}: {where}: expected a finite number, got {value}")
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
            raise SweepSpecError(
                f"{source}: {where}: expected an integer of magnitude at most 2^63 - 1, got one "
                f"of {len(str(abs(value)))} digits"
            )
        if isinstance(value, Mapping):
            stack.extend((v, (*path, k)) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, (*path, i)) for i, v in enumerate(value))


def cell_count(axes: Mapping[str, Any], combine: str) -> int:
    """Cells of ``axes`` (name -> list of values) combined as ``product`` or ``zip``, without
    expanding them."""
    lengths = [len(v) if isinstance(v, list) else 1 for v in axes.values()]
    if not lengths:
        return 1
    return min(lengths) if combine == "zip" else math.prod(lengths)


def spec_from_dict(d: Mapping[str, Any], *, source: str = "<dict>") -> SweepSpec:
    """A :class:`SweepSpec` from a parsed document (same checks and messages as a file)."""
    _check_values(d, source)
    problem = _checker().first_problem(d)
    if problem is not None:
        raise SweepSpecError(f"{source}: {json_path(problem[0])}: {problem[1]}")
    name = d["name"]
    if not _NAME.fullmatch(name):
        raise SweepSpecError(
            f"{source}: name: expected letters, digits, '.', '_' and '-' (starting with a letter "
            f"or digit), got {name!r}"
        )
    kind = d["kind"]
    base = dict(d.get("base", {}))
    canonical_params(kind, base, where=f"{source}: base")  # checks names and values
    base = {k: canonical_value(kind, k, v, where=f"{source}: base.{k}") for k, v in base.items()}
    combine = d.get("combine", "product")
    count = cell_count(d.get("axes", {}), combine)
    if count > MAX_CELLS:
        raise SweepSpecError(
            f"{source}: axes: {count:.3g} cells ({combine} of the axes); at most {MAX_CELLS:,}"
        )
    axes = []
    for axis_name, values in d.get("axes", {}).items():
        if axis_name in base:
            raise SweepSpecError(
                f"{source}: axes.{axis_name}: also set in base; set a parameter in one place"
            )
        if axis_name not in parameters(kind):
            canonical_value(kind, axis_name, None, where=f"{source}: axes.{axis_name}")  # raises
        canon = tuple(
            canonical_value(kind, axis_name, v, where=f"{source}: axes.{axis_name}[{i}]")
            for i, v in enumerate(values)
        )
        axes.append(Axis(name=axis_name, values=canon))
    if combine == "zip" and len({len(a.values) for a in axes}) > 1:
        lengths = ", ".join(f"{a.name}: {len(a.values)}" for a in axes)
        raise SweepSpecError(f"{source}: axes: zip needs axes of one length, got {lengths}")
    _check_distinct(axes, combine, source)
    timeout = d.get("timeout_s")
    return SweepSpec(
        name=name,
        kind=kind,
        base=base,
        axes=tuple(axes),
        combine=combine,
        realizations=int(d["realizations"]),
        seed=int(d.get("seed", 0)),
        timeout_s=float(timeout) if timeout is not None else None,
        description=d.get("description", ""),
        source=source,
    )
