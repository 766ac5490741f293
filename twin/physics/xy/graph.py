"""Architectures of XY networks: which oscillators couple, which are inputs and outputs.

An :class:`XYGraph` is an undirected coupling graph (each edge once, ``a < b``) with clamped input
nodes, output nodes and the standard deviation each coupling is initialised with. Builders:
:func:`all_to_all`, :func:`layered`, :func:`lattice` (square or triangular, open boundaries,
optional skip connections of a chosen length), :func:`stacked` (square lattices stacked in
layers with local links between consecutive layers) and :func:`from_edges` (graphs read from a
file).
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from ...errors import NetworkError

__all__ = [
    "IO_PLACEMENTS",
    "XYGraph",
    "all_to_all",
    "from_edges",
    "lattice",
    "layered",
    "stacked",
]

#: Where a lattice's inputs and outputs sit: ``corner`` (row-major first inputs, last outputs:
#: the predecessor code's placement, inputs and output in opposite corners), ``sides`` (inputs
#: spread evenly along the left column, outputs along the right column).
IO_PLACEMENTS = ("corner", "sides")


def _index(values: np.ndarray | list[int], field: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.int64).reshape(-1)
    if arr.size != np.unique(arr).size:
        raise NetworkError(f"{field}: expected distinct node indices")
    return arr


@attrs.frozen(kw_only=True, eq=False)
class XYGraph:
    """An XY network's couplings and roles.

    Attributes
    ----------
    n_nodes
        Number of oscillators.
    edges
        ``(E, 2)`` int64 node pairs, ``a < b``, no duplicates.
    inputs, outputs
        Node indices of the clamped inputs and of the outputs (disjoint).
    weight_std
        ``(E,)`` standard deviation of each coupling's Gaussian initialisation (model units).
    positions
        ``(N, 2)`` drawing positions (lattice columns and rows; layers), for figures only.
    name
        The spec the graph was built from.
    """

    n_nodes: int
    edges: np.ndarray = attrs.field(
        converter=lambda e: np.asarray(e, dtype=np.int64).reshape(-1, 2)
    )
    inputs: np.ndarray = attrs.field(converter=lambda v: _index(v, "inputs"))
    outputs: np.ndarray = attrs.field(converter=lambda v: _index(v, "outputs"))
    weight_std: np.ndarray = attrs.field(converter=lambda v: np.asarray(v, dtype=np.float64))
    positions: np.ndarray = attrs.field(converter=lambda v: np.asarray(v, dtype=np.float64))
    name: str = ""

    def __attrs_post_init__(self) -> None:
        n, e = self.n_nodes, self.edges
        if n < 2:
            raise NetworkError(f"n_nodes: expected >= 2, got {n}")
        if e.size and (e.min() < 0 or e.max() >= n):
            raise NetworkError(f"edges: node indices must lie in [0, {n})")
        if np.any(e[:, 0] >= e[:, 1]):
            raise NetworkError("edges: expected pairs [a, b] with a < b (no self-coupling)")
        if np.unique(e[:, 0] * n + e[:, 1]).size != len(e):
            raise NetworkError("edges: duplicate coupling")
        for field, idx in (("inputs", self.inputs), ("outputs", self.outputs)):
            if idx.size and (idx.min() < 0 or idx.max() >= n):
                raise NetworkError(f"{field}: node indices must lie in [0, {n})")
        if self.outputs.size == 0:
            raise NetworkError("outputs: expected at least one output node")
        if np.intersect1d(self.inputs, self.outputs).size:
            raise NetworkError("inputs, outputs: a node cannot be both")
        if self.weight_std.shape != (len(e),) or not np.all(self.weight_std >= 0):
            raise NetworkError(f"weight_std: expected {len(e)} values >= 0")
        if self.positions.shape != (n, 2):
            raise NetworkError(f"positions: expected shape ({n}, 2)")

    @property
    def n_edges(self) -> int:
        return len(self.edges)

    @property
    def free(self) -> np.ndarray:
        """Indices of the nodes that relax (every node but the inputs), ascending."""
        mask = np.ones(self.n_nodes, dtype=bool)
        mask[self.inputs] = False
        return np.flatnonzero(mask).astype(np.int64)

    def degree(self) -> np.ndarray:
        """Number of couplings of each node."""
        return np.bincount(self.edges.reshape(-1), minlength=self.n_nodes)


def all_to_all(n_nodes: int, n_in: int, n_out: int, *, name: str = "") -> XYGraph:
    """Every pair coupled; inputs are nodes ``0..n_in-1``, outputs the last ``n_out``.

    Couplings start as a symmetrised Gaussian matrix ``(A + A^T) / 2`` with ``A ~ N(0, 1/N)``:
    standard deviation ``1 / sqrt(2 N)`` per coupling.
    """
    if n_in + n_out > n_nodes:
        raise NetworkError(f"network: all:{n_nodes} cannot hold {n_in} inputs and {n_out} outputs")
    a, b = np.triu_indices(n_nodes, k=1)
    angle = 2 * np.pi * np.arange(n_nodes) / n_nodes
    return XYGraph(
        n_nodes=n_nodes,
        edges=np.column_stack([a, b]),
        inputs=np.arange(n_in),
        outputs=np.arange(n_nodes - n_out, n_nodes),
        weight_std=np.full(len(a), 1 / math.sqrt(2 * n_nodes)),
        positions=np.column_stack([np.cos(angle), np.sin(angle)]),
        name=name or f"all:{n_nodes}",
    )


def layered(sizes: list[int], *, name: str = "") -> XYGraph:
    """Consecutive layers fully coupled; the first layer is the input, the last the output.

    A coupling between layers ``k`` and ``k + 1`` starts with variance ``1 / (N_k + N_{k+1})``.
    """
    if len(sizes) < 2 or min(sizes) < 1:
        raise NetworkError(f"layered: expected >= 2 layers of >= 1 node, got {sizes}")
    starts = np.concatenate([[0], np.cumsum(sizes)])
    edges, std, pos = [], [], []
    for k, size in enumerate(sizes):
        pos += [(k, j - (size - 1) / 2) for j in range(size)]
        if k + 1 < len(sizes):
            nxt = sizes[k + 1]
            for i in range(size):
                edges += [(starts[k] + i, starts[k + 1] + j) for j in range(nxt)]
            std += [1 / math.sqrt(size + nxt)] * (size * nxt)
    return XYGraph(
        n_nodes=int(starts[-1]),
        edges=np.array(edges),
        inputs=np.arange(starts[0], starts[1]),
        outputs=np.arange(starts[-2], starts[-1]),
        weight_std=np.array(std),
        positions=np.array(pos),
        name=name or "layered:" + ",".join(map(str, sizes)),
    )


def _spread(count: int, length: int) -> list[int]:
    """``count`` positions spread evenly over ``0..length-1`` (centred, distinct)."""
    return [round((j + 0.5) * length / count - 0.5) for j in range(count)]


def _lattice_io(rows: int, cols: int, n_in: int, n_out: int, io: str) -> tuple[list, list]:
    n = rows * cols
    if io == "corner":
        return list(range(n_in)), list(range(n - n_out, n))
    if n_in > rows or n_out > rows:
        raise NetworkError(f"lattice: io=sides puts at most {rows} inputs/outputs on a side")
    inputs = [r * cols for r in _spread(n_in, rows)]
    outputs = [r * cols + cols - 1 for r in _spread(n_out, rows)]
    return inputs, outputs


def lattice(
    rows: int,
    cols: int,
    n_in: int,
    n_out: int,
    *,
    triangular: bool = False,
    skip: int = 0,
    io: str = "corner",
    w0: float = 1.0,
    name: str = "",
) -> XYGraph:
    """A ``rows x cols`` lattice with open boundaries, nodes numbered row-major.

    Nearest neighbours couple along rows and columns; ``triangular`` adds one diagonal per
    plaquette (``(r, c)-(r+1, c+1)``: the triangular lattice drawn on a sheared square grid, six
    neighbours inside). ``skip = L >= 2`` adds skip connections of length ``L`` along rows and
    columns (``(r, c)-(r, c+L)`` and ``(r, c)-(r+L, c)``). Couplings start ~ ``N(0, w0^2)``
    (``w0 = 1``: the predecessor code's lattice initialisation). Inputs and outputs:
    :data:`IO_PLACEMENTS`.
    """
    if rows < 1 or cols < 1 or rows * cols < n_in + n_out:
        raise NetworkError(
            f"network: lattice:{rows}x{cols} cannot hold {n_in} inputs and {n_out} outputs"
        )
    if skip == 1 or skip < 0:
        raise NetworkError(f"network: lattice skip: expected 0 (none) or a length >= 2, got {skip}")
    if not (0 <= w0 < 1e6):
        raise NetworkError(f"lattice: w0: expected a number in [0, 1e6), got {w0}")
    if io not in IO_PLACEMENTS:
        raise NetworkError(f"lattice: io: expected one of {', '.join(IO_PLACEMENTS)}, got {io!r}")
    steps = [(0, 1), (1, 0)] + ([(1, 1)] if triangular else [])
    if skip:
        steps += [(0, skip), (skip, 0)]
    edges = [
        (r * cols + c, (r + dr) * cols + c + dc)
        for dr, dc in steps
        for r in range(rows - dr)
        for c in range(cols - dc)
    ]
    inputs, outputs = _lattice_io(rows, cols, n_in, n_out, io)
    rr, cc = np.divmod(np.arange(rows * cols), cols)
    return XYGraph(
        n_nodes=rows * cols,
        edges=np.array(edges).reshape(-1, 2),
        inputs=inputs,
        outputs=outputs,
        weight_std=np.full(len(edges), w0),
        positions=np.column_stack([cc, -rr]).astype(float),
        name=name or f"lattice:{rows}x{cols}",
    )


def stacked(
    layers: int,
    rows: int,
    cols: int,
    n_in: int,
    n_out: int,
    *,
    reach: int = 0,
    w0: float = 1.0,
    name: str = "",
) -> XYGraph:
    """``layers`` square ``rows x cols`` lattices (open boundaries) stacked, with local links
    between consecutive layers: a locally connected three-dimensional architecture.

    Node ``(l, r, c)`` is number ``l rows cols + r cols + c``. Within a layer nearest
    neighbours couple along rows and columns; between layers ``l`` and ``l + 1`` a node couples
    to the nodes of the next layer within Chebyshev distance ``reach`` of its own position
    (``reach = 0``: the node straight above; ``1``: the 3 x 3 patch above it). Inputs are spread
    evenly over the first layer, outputs over the last (row-major order), so that every path
    from an input to an output crosses every layer. Couplings start ~ ``N(0, w0^2)``, as for
    :func:`lattice`.
    """
    if layers < 2:
        raise NetworkError(f"network: stack: expected >= 2 layers, got {layers}")
    per = rows * cols
    if rows < 1 or cols < 1 or n_in > per or n_out > per:
        raise NetworkError(f"network: stack:{layers}x{rows}x{cols}: a layer of {per} nodes cannot "
                           f"hold {n_in} inputs or {n_out} outputs")  # fmt: skip
    if not 0 <= reach <= max(rows, cols):
        raise NetworkError(f"network: stack reach: expected 0 to {max(rows, cols)}, got {reach}")
    if not (0 <= w0 < 1e6):
        raise NetworkError(f"stack: w0: expected a number in [0, 1e6), got {w0}")
    edges: list[tuple[int, int]] = []
    for layer in range(layers):
        base = layer * per
        for dr, dc in ((0, 1), (1, 0)):
            edges += [(base + r * cols + c, base + (r + dr) * cols + c + dc)
                      for r in range(rows - dr) for c in range(cols - dc)]  # fmt: skip
        if layer + 1 == layers:
            continue
        up = base + per
        for r in range(rows):
            for c in range(cols):
                edges += [(base + r * cols + c, up + r2 * cols + c2)
                          for r2 in range(max(r - reach, 0), min(r + reach + 1, rows))
                          for c2 in range(max(c - reach, 0), min(c + reach + 1, cols))]  # fmt: skip
    inputs = _spread(n_in, per)  # row-major positions of one layer
    outputs = [(layers - 1) * per + i for i in _spread(n_out, per)]
    ll, rc = np.divmod(np.arange(layers * per), per)
    rr, cc = np.divmod(rc, cols)
    # drawn as a stack seen obliquely: each layer shifted by less than one lattice spacing
    shift = 1.0 / (layers + 1)
    return XYGraph(
        n_nodes=layers * per,
        edges=np.array(edges).reshape(-1, 2),
        inputs=inputs,
        outputs=outputs,
        weight_std=np.full(len(edges), w0),
        positions=np.column_stack([cc + shift * ll, -rr + 0.6 * shift * ll]).astype(float),
        name=name or f"stack:{layers}x{rows}x{cols}",
    )


def from_edges(
    n_nodes: int,
    edges: np.ndarray,
    inputs: list[int],
    outputs: list[int],
    *,
    weight_std: float = 1.0,
    name: str = "",
) -> XYGraph:
    """A graph from an edge list (each pair once, either order); couplings start ~ N(0, std^2)."""
    e = np.sort(np.asarray(edges, dtype=np.int64).reshape(-1, 2), axis=1)
    angle = 2 * np.pi * np.arange(n_nodes) / max(n_nodes, 1)
    return XYGraph(
        n_nodes=n_nodes,
        edges=e,
        inputs=inputs,
        outputs=outputs,
        weight_std=np.full(len(e), weight_std),
        positions=np.column_stack([np.cos(angle), np.sin(angle)]),
        name=name,
    )
