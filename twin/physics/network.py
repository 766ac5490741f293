"""Resistor networks: the graph, its incidence matrix and the lattice generator.

A :class:`Network` is an immutable value: node count, oriented edges ``(u_i, v_i)``, optional
positions (for plots and the jammed generator), conductance bounds in siemens and, optionally,
trained conductances. Edge voltage drops follow PHYSICS.md: ``dV_i = V[u_i] - V[v_i]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from ..errors import NetworkError

if TYPE_CHECKING:
    import scipy.sparse as sp

__all__ = ["DEFAULT_K_MAX", "DEFAULT_K_MIN", "Network", "lattice", "n_components"]

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
        import scipy.sparse as sp  # local: scipy is slow to import and rarely needed

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
    n_comp = n_components(net.n_nodes, net.edges)
    if n_comp != 1:
        raise NetworkError(f"edges: the graph is disconnected ({n_comp} components); need one")


def n_components(n_nodes: int, edges: np.ndarray) -> int:
    """Number of connected components of the undirected graph ``(n_nodes, edges)``.

    Label propagation with pointer jumping, in numpy: every node starts as its own label; each
    round gives both ends of every edge the smaller of their labels, then replaces each label by
    its label's label. Labels only decrease and always name a node of the same component, so at
    the fixed point the labels are constant on components. (scipy's ``connected_components``
    gives the same count, but importing scipy costs more than a command's whole start-up.)
    """
    label = np.arange(n_nodes)
    u, v = edges[:, 0], edges[:, 1]
    while True:
        m = np.minimum(label[u], label[v])
        new = label.copy()
        np.minimum.at(new, u, m)
        np.minimum.at(new, v, m)
        new = new[new]
        if np.array_equal(new, label):
            return int(np.unique(label).size)
        label = new


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
