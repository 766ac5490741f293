"""XY network spec strings (``twin train --physics xy --network SPEC``).

``all:N`` (all-to-all), ``layered:2,4,1``, ``lattice:RxC`` with options ``:tri`` (triangular),
``:skip=L`` (skip connections of length L), ``:io=corner|sides`` (:data:`.graph.IO_PLACEMENTS`)
and ``:w0=STD`` (initial coupling spread, default 1), ``stack:LxRxC`` (L square R x C lattices
stacked, inputs on the first layer, outputs on the last) with options ``:reach=K`` (links to
the next layer within K of a node's position, default 0: straight above) and ``:w0=STD``,
and ``file:PATH`` (a JSON graph: ``{"n_nodes": N, "edges": [[a, b], ...], "inputs": [...],
"outputs": [...], "weight_std": s}``). The task fixes the number of inputs and outputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...errors import NetworkError
from ..file_checks import parse_count, read_json
from .graph import XYGraph, all_to_all, from_edges, lattice, layered, stacked

__all__ = ["MAX_ALL_NODES", "MAX_NODES", "graph_from_spec"]

#: Largest XY network a spec or file may describe.
MAX_NODES = 100_000
#: Largest all-to-all network (its couplings grow as N^2).
MAX_ALL_NODES = 2_000


def _number(text: str, field: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise NetworkError(f"{field}: expected a number, got {text[:20]!r}") from None
    return value


def _lattice(args: list[str], n_in: int, n_out: int, spec: str) -> XYGraph:
    dims = args[0].lower().split("x")
    if len(dims) != 2:
        raise NetworkError(f"network: {spec!r}: expected lattice:RxC[:tri][:skip=L][:io=...]")
    rows, cols = (parse_count(d, "network: lattice size", MAX_NODES, NetworkError) for d in dims)
    if rows * cols > MAX_NODES:
        raise NetworkError(f"network: lattice size: at most {MAX_NODES} nodes, got {rows * cols}")
    opts: dict[str, Any] = {"triangular": False, "skip": 0, "io": "corner"}
    for opt in args[1:]:
        key, _, value = opt.partition("=")
        if opt == "tri":
            opts["triangular"] = True
        elif key == "skip":
            opts["skip"] = parse_count(value, "network: skip", max(rows, cols), NetworkError)
        elif key == "io":
            opts["io"] = value
        elif key == "w0":
            opts["w0"] = _number(value, "network: w0")
        else:
            raise NetworkError(f"network: {spec!r}: unknown lattice option {opt!r} "
                               "(expected tri, skip=L, io=corner|sides or w0=STD)")  # fmt: skip
    return lattice(rows, cols, n_in, n_out, name=spec, **opts)


def _stacked(args: list[str], n_in: int, n_out: int, spec: str) -> XYGraph:
    dims = args[0].lower().split("x")
    if len(dims) != 3:
        raise NetworkError(f"network: {spec!r}: expected stack:LxRxC[:reach=K][:w0=STD]")
    layers, rows, cols = (parse_count(d, "network: stack size", MAX_NODES, NetworkError)
                          for d in dims)  # fmt: skip
    if layers * rows * cols > MAX_NODES:
        raise NetworkError(f"network: stack size: at most {MAX_NODES} nodes, "
                           f"got {layers * rows * cols}")  # fmt: skip
    opts: dict[str, Any] = {}
    for opt in args[1:]:
        key, _, value = opt.partition("=")
        if key == "reach":
            opts["reach"] = parse_count(value, "network: reach", max(rows, cols), NetworkError)
        elif key == "w0":
            opts["w0"] = _number(value, "network: w0")
        else:
            raise NetworkError(f"network: {spec!r}: unknown stack option {opt!r} "
                               "(expected reach=K or w0=STD)")  # fmt: skip
    return stacked(layers, rows, cols, n_in, n_out, name=spec, **opts)


def _file(path: Path, n_in: int, n_out: int, spec: str) -> XYGraph:
    doc = read_json(path, NetworkError, what="network")
    if not isinstance(doc, dict):
        raise NetworkError(f"{path}: expected a JSON object with n_nodes, edges, inputs, outputs")
    for field in ("n_nodes", "edges", "inputs", "outputs"):
        if field not in doc:
            raise NetworkError(f"{path}: {field}: missing")
    n = doc["n_nodes"]
    if not isinstance(n, int) or not 2 <= n <= MAX_NODES:
        raise NetworkError(f"{path}: n_nodes: expected an integer in [2, {MAX_NODES}], got {n!r}")
    try:
        edges = np.array(doc["edges"], dtype=np.int64).reshape(-1, 2)
        inputs = [int(i) for i in doc["inputs"]]
        outputs = [int(i) for i in doc["outputs"]]
        std = float(doc.get("weight_std", 1.0))
    except (TypeError, ValueError):
        raise NetworkError(f"{path}: edges, inputs, outputs: expected lists of node indices "
                           "(edges as [a, b] pairs), weight_std a number") from None  # fmt: skip
    if (len(inputs), len(outputs)) != (n_in, n_out):
        raise NetworkError(f"{path}: inputs, outputs: the task needs {n_in} inputs and {n_out} "
                           f"outputs, the file has {len(inputs)} and {len(outputs)}")  # fmt: skip
    if not std >= 0:
        raise NetworkError(f"{path}: weight_std: expected a number >= 0, got {std}")
    try:
        return from_edges(n, edges, inputs, outputs, weight_std=std, name=spec)
    except NetworkError as exc:
        raise NetworkError(f"{path}: {exc}") from None


def graph_from_spec(spec: str, n_in: int, n_out: int, *, base_dir: Path | None = None) -> XYGraph:
    """The graph a spec string describes, with ``n_in`` inputs and ``n_out`` outputs."""
    kind, _, rest = spec.partition(":")
    if kind == "file":
        path = Path(rest)
        return _file(path if base_dir is None else base_dir / path, n_in, n_out, spec)
    args = rest.split(":")
    if kind == "all":
        n = parse_count(args[0], "network: all", MAX_ALL_NODES, NetworkError)
        return all_to_all(n, n_in, n_out, name=spec)
    if kind == "layered":
        sizes = [parse_count(s, "network: layer size", MAX_NODES, NetworkError)
                 for s in args[0].split(",")]  # fmt: skip
        if sum(sizes) > MAX_NODES:
            raise NetworkError(f"network: layered: at most {MAX_NODES} nodes, got {sum(sizes)}")
        if len(sizes) >= 2 and (sizes[0], sizes[-1]) != (n_in, n_out):
            raise NetworkError(f"network: {spec!r}: the task needs {n_in} inputs (first layer) "
                               f"and {n_out} outputs (last layer)")  # fmt: skip
        return layered(sizes, name=spec)
    if kind == "lattice":
        return _lattice(args, n_in, n_out, spec)
    if kind == "stack":
        return _stacked(args, n_in, n_out, spec)
    raise NetworkError(f"network: {spec!r}: expected all:N, layered:A,B,..., "
                       "lattice:RxC[:tri][:skip=L][:io=corner|sides], stack:LxRxC[:reach=K] "
                       "or file:PATH")  # fmt: skip
