"""Resistor networks: the graph, its incidence matrix, generators, spec strings and file formats.

A :class:`Network` is an immutable value: node count, oriented edges ``(u_i, v_i)``, optional
positions (for plots and the jammed generator), conductance bounds in siemens and, optionally,
trained conductances. Edge voltage drops follow PHYSICS.md: ``dV_i = V[u_i] - V[v_i]``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ..errors import NetworkError

__all__ = [
    "NETWORK_SCHEMA_ID",
    "Network",
    "lattice",
    "load_network",
    "network_from_dict",
    "network_from_spec",
    "network_to_dict",
    "read_authors_txt",
    "save_network",
    "write_authors_txt",
]

NETWORK_SCHEMA_ID = "twin.network/1"

#: Conductance bounds (siemens, in the paper's units) quoted in the seed text.
DEFAULT_K_MIN = 1e-3
DEFAULT_K_MAX = 1e1


def _edges_array(value: Any) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.int64)
    except (TypeError, ValueError) as exc:
        raise NetworkError(f"edges: expected a list of [u, v] integer pairs ({exc})") from None
    if arr.size == 0:
        arr = arr.reshape(0, 2)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise NetworkError(f"edges: expected shape (E, 2) of [u, v] pairs, got {arr.shape}")
    arr = arr.copy()
    arr.setflags(write=False)
    return arr


def _optional_float_array(value: Any) -> np.ndarray | None:
    if value is None:
        return None
    arr = np.array(value, dtype=float)
    arr.setflags(write=False)
    return arr


@attrs.frozen(kw_only=True, eq=False)
class Network:
    """An immutable resistor network.

    Parameters
    ----------
    n_nodes
        Number of nodes ``N``.
    edges
        ``(E, 2)`` integer array of oriented edges ``(u_i, v_i)``; ``dV_i = V[u_i] - V[v_i]``.
    positions
        Optional ``(N, 2)`` node positions (arbitrary length unit), for plots.
    box
        Side of the periodic box the positions live in, if any.
    k_min, k_max
        Conductance bounds in siemens.
    conductance
        Optional ``(E,)`` trained conductances in siemens (saved with ``--save``).
    name
        Free-form label (e.g. the spec string it came from).
    """

    n_nodes: int = attrs.field(converter=int)
    edges: np.ndarray = attrs.field(converter=_edges_array)
    positions: np.ndarray | None = attrs.field(default=None, converter=_optional_float_array)
    box: float | None = None
    k_min: float = attrs.field(default=DEFAULT_K_MIN, converter=float)
    k_max: float = attrs.field(default=DEFAULT_K_MAX, converter=float)
    conductance: np.ndarray | None = attrs.field(default=None, converter=_optional_float_array)
    name: str = ""

    def __attrs_post_init__(self) -> None:
        _validate(self)

    @property
    def n_edges(self) -> int:
        """Number of edges ``E``."""
        return int(self.edges.shape[0])

    def incidence(self) -> sp.csr_matrix:
        """Sparse ``(E, N)`` incidence matrix ``D`` with ``D[i, u_i] = +1``, ``D[i, v_i] = -1``."""
        e = self.n_edges
        rows = np.repeat(np.arange(e), 2)
        cols = self.edges.reshape(-1)
        vals = np.tile([1.0, -1.0], e)
        return sp.csr_matrix((vals, (rows, cols)), shape=(e, self.n_nodes))

    def degree(self) -> np.ndarray:
        """Number of edges at each node."""
        return np.bincount(self.edges.reshape(-1), minlength=self.n_nodes)

    def evolve(self, **changes: Any) -> Network:
        """A copy with some fields replaced (validated again)."""
        return attrs.evolve(self, **changes)

    def with_conductance(self, k: np.ndarray) -> Network:
        """A copy carrying conductances ``k`` (siemens, shape ``(E,)``)."""
        return self.evolve(conductance=np.asarray(k, dtype=float))


def _validate(net: Network) -> None:
    if net.n_nodes < 2:
        raise NetworkError(f"nodes: need at least 2 nodes, got {net.n_nodes}")
    if net.n_edges < 1:
        raise NetworkError("edges: need at least one edge")
    if net.edges.min() < 0 or net.edges.max() >= net.n_nodes:
        raise NetworkError(f"edges: node indices must be in [0, {net.n_nodes - 1}]")
    loops = np.flatnonzero(net.edges[:, 0] == net.edges[:, 1])
    if loops.size:
        raise NetworkError(f"edges: self-loop at edge {int(loops[0])} (u == v)")
    if not (0 < net.k_min < net.k_max) or not np.isfinite(net.k_max):
        raise NetworkError(
            f"k_min/k_max: need 0 < k_min < k_max < inf, got {net.k_min}, {net.k_max}"
        )
    if net.positions is not None and net.positions.shape != (net.n_nodes, 2):
        raise NetworkError(
            f"positions: expected shape ({net.n_nodes}, 2), got {net.positions.shape}"
        )
    if net.conductance is not None:
        k = net.conductance
        if k.shape != (net.n_edges,):
            raise NetworkError(f"conductance: expected shape ({net.n_edges},), got {k.shape}")
        if not np.all(np.isfinite(k)) or np.any(k <= 0):
            raise NetworkError("conductance: every conductance must be finite and > 0 siemens")
    adj = sp.coo_matrix(
        (np.ones(net.n_edges), (net.edges[:, 0], net.edges[:, 1])), shape=(net.n_nodes,) * 2
    )
    n_comp, _ = connected_components(adj, directed=False)
    if n_comp != 1:
        raise NetworkError(f"edges: the graph is disconnected ({n_comp} components); need one")


# --------------------------------------------------------------------------- generators


def lattice(width: int, height: int, *, periodic: bool = False) -> Network:
    """Square lattice of ``width x height`` nodes, node ``r * width + c``.

    With ``periodic=True`` the lattice is wrapped on a torus (the board: 4 x 4, 16 nodes, 32 edges).
    """
    if width < 1 or height < 1 or width * height < 2:
        raise NetworkError(f"lattice: need at least 2 nodes, got {width}x{height}")
    if periodic and min(width, height) < 3:
        raise NetworkError("lattice: a periodic lattice needs at least 3 nodes per side")
    edges = []
    for r in range(height):
        for c in range(width):
            a = r * width + c
            if c + 1 < width or periodic:
                edges.append((a, r * width + (c + 1) % width))
            if r + 1 < height or periodic:
                edges.append((a, ((r + 1) % height) * width + c))
    xs, ys = np.meshgrid(np.arange(width, dtype=float), np.arange(height, dtype=float))
    pos = np.column_stack([xs.ravel(), ys.ravel()])
    name = f"lattice:{width}x{height}" + (":periodic" if periodic else "")
    return Network(
        n_nodes=width * height,
        edges=edges,
        positions=pos,
        box=float(width) if periodic and width == height else None,
        name=name,
    )


_LATTICE_RE = re.compile(r"^lattice:(\d+)x(\d+)(:periodic)?$")
_JAMMED_RE = re.compile(r"^jammed:(\d+)(?::seed=(\d+))?$")


def network_from_spec(spec: str, *, base_dir: Path | None = None) -> Network:
    """Build a network from a spec string.

    Accepted forms: ``lattice:WxH``, ``lattice:WxH:periodic``, ``jammed:N`` or
    ``jammed:N:seed=S`` (our jammed-packing generator), ``file:PATH`` (JSON network, a task file's
    network, or the authors' text format).
    """
    spec = spec.strip()
    if m := _LATTICE_RE.match(spec):
        return lattice(int(m.group(1)), int(m.group(2)), periodic=bool(m.group(3)))
    if m := _JAMMED_RE.match(spec):
        from .jammed import jammed_network  # local: the generator is heavy and optional

        seed = int(m.group(2)) if m.group(2) is not None else 0
        net = jammed_network(int(m.group(1)), rng=np.random.default_rng(seed))
        return net.evolve(name=spec)
    if spec.startswith("file:"):
        path = Path(spec[5:])
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        return load_network(path)
    raise NetworkError(
        f"network: unknown spec {spec!r}; expected lattice:WxH[:periodic], "
        "jammed:N[:seed=S] or file:PATH"
    )


# --------------------------------------------------------------------------- file formats


def network_to_dict(net: Network) -> dict[str, Any]:
    """The project's JSON network document (``schemas/network.schema.json``)."""
    doc: dict[str, Any] = {
        "schema": NETWORK_SCHEMA_ID,
        "nodes": net.n_nodes,
        "edges": net.edges.tolist(),
        "k_min": net.k_min,
        "k_max": net.k_max,
    }
    if net.name:
        doc["name"] = net.name
    if net.positions is not None:
        doc["positions"] = net.positions.tolist()
    if net.box is not None:
        doc["box"] = net.box
    if net.conductance is not None:
        doc["conductance"] = net.conductance.tolist()
    return doc


def network_from_dict(doc: Mapping[str, Any]) -> Network:
    """Inverse of :func:`network_to_dict`; also accepts a task file's inline ``network``."""
    if not isinstance(doc, Mapping):
        raise NetworkError("network: expected a JSON object with 'nodes' and 'edges'")
    schema = doc.get("schema", NETWORK_SCHEMA_ID)
    if schema != NETWORK_SCHEMA_ID:
        raise NetworkError(f"schema: expected {NETWORK_SCHEMA_ID!r}, got {schema!r}")
    for key in ("nodes", "edges"):
        if key not in doc:
            raise NetworkError(f"network: missing field {key!r}")
    if not isinstance(doc["nodes"], int) or isinstance(doc["nodes"], bool):
        raise NetworkError(f"nodes: expected an integer node count, got {doc['nodes']!r}")
    return Network(
        n_nodes=doc["nodes"],
        edges=doc["edges"],
        positions=doc.get("positions"),
        box=doc.get("box"),
        k_min=doc.get("k_min", DEFAULT_K_MIN),
        k_max=doc.get("k_max", DEFAULT_K_MAX),
        conductance=doc.get("conductance"),
        name=str(doc.get("name", "")),
    )


def read_authors_txt(path: str | Path) -> Network:
    """Read the paper authors' text format (PHYSICS.md section 7).

    Line 1 ``NN NE L``; then ``NN`` lines ``x y``; then ``NE`` lines ``i j`` (0-based).
    """
    path = Path(path)
    try:
        lines = [ln.split() for ln in path.read_text().splitlines() if ln.strip()]
        nn, ne = int(lines[0][0]), int(lines[0][1])
        box = float(lines[0][2])
        pos = np.array([[float(v) for v in ln[:2]] for ln in lines[1 : 1 + nn]])
        edges = np.array([[int(v) for v in ln[:2]] for ln in lines[1 + nn : 1 + nn + ne]])
    except (IndexError, ValueError) as exc:
        raise NetworkError(
            f"{path}: not in the authors' 'NN NE L / x y / i j' format ({exc})"
        ) from None
    if pos.shape != (nn, 2) or edges.shape != (ne, 2):
        raise NetworkError(f"{path}: header says {nn} nodes, {ne} edges; file has fewer lines")
    return Network(n_nodes=nn, edges=edges, positions=pos, box=box, name=path.stem)


def write_authors_txt(net: Network, path: str | Path) -> None:
    """Write the authors' text format (positions default to zeros when absent)."""
    pos = net.positions if net.positions is not None else np.zeros((net.n_nodes, 2))
    box = net.box if net.box is not None else 0.0
    out = [f"{net.n_nodes} {net.n_edges} {box:g}"]
    out += [f"{x:.10g} {y:.10g}" for x, y in pos]
    out += [f"{u} {v}" for u, v in net.edges]
    Path(path).write_text("\n".join(out) + "\n")


def load_network(path: str | Path) -> Network:
    """Load a network from a JSON file (network or task document) or an authors' text file."""
    path = Path(path)
    if not path.is_file():
        raise NetworkError(f"network: no such file {str(path)!r}")
    text = path.read_text()
    if not text.lstrip().startswith("{"):
        return read_authors_txt(path)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NetworkError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno})") from None
    if isinstance(doc, dict) and str(doc.get("schema", "")).startswith("twin.task/"):
        doc = doc.get("network")
        if isinstance(doc, str):
            return network_from_spec(doc, base_dir=path.parent)
    net = network_from_dict(doc)
    return net if net.name else net.evolve(name=path.stem)


def save_network(net: Network, path: str | Path) -> None:
    """Save as the project's JSON network document."""
    Path(path).write_text(json.dumps(network_to_dict(net)) + "\n")
