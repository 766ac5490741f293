"""Where the live page draws a network: node positions and one or two segments per edge.

Positions come from the network (:attr:`~twin.physics.network.Network.positions`): a lattice is a
grid, a jammed packing its particle centres. Edges of a periodic network that wrap around the box
are drawn as two half segments leaving the box on opposite sides (the minimum-image convention),
so the 4 x 4 periodic board reads as its 4 x 4 grid with 32 edges. A network without positions
is drawn with its nodes on a circle. Coordinates are scaled into the unit square (margin
included) so that the page only scales to its canvas.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..physics.network import Network

__all__ = ["graph_layout", "network_layout"]

#: Fraction of the unit square left free on each side (room for the wrapped half edges).
MARGIN = 0.12


def _positions(net: Network) -> np.ndarray:
    if net.positions is not None:
        return np.asarray(net.positions, dtype=float)
    angle = 2 * np.pi * np.arange(net.n_nodes) / max(net.n_nodes, 1)
    return np.column_stack([np.cos(angle), np.sin(angle)])


def _segments(
    pos: np.ndarray, edges: np.ndarray, box: np.ndarray | None
) -> list[list[list[float]]]:
    """Per edge, its segments ``[[x0, y0, x1, y1], ...]`` in the positions' units."""
    out: list[list[list[float]]] = []
    for u, v in edges:
        pu, pv = pos[u], pos[v]
        d = pv - pu
        if box is None:
            out.append([[*pu, *pv]])
            continue
        wrapped = d - box * np.round(d / box)
        if np.allclose(wrapped, d):
            out.append([[*pu, *pv]])
        else:  # leaves the box: half from each end, pointing out of the box
            half = wrapped / 2
            out.append([[*pu, *(pu + half)], [*pv, *(pv - half)]])
    return [[[float(x) for x in seg] for seg in segs] for segs in out]


def network_layout(net: Network) -> dict[str, Any]:
    """The page's drawing of ``net``: ``nodes`` ``[[x, y], ...]`` and ``edges`` (segment lists).

    Coordinates are in ``[0, 1]`` (y down, as on a canvas), the aspect ratio of the network kept.
    """
    pos = _positions(net)
    edges = np.asarray(net.edges, dtype=int)
    box = None
    if net.positions is not None and net.box is not None:
        box = np.array([net.box, net.box], dtype=float)
    elif net.positions is not None and net.name.endswith(":periodic"):
        box = np.ptp(pos, axis=0) + 1.0  # a rectangular periodic lattice: unit spacing
    return _scaled(net.name, pos, _segments(pos, edges, box))


def graph_layout(name: str, positions: np.ndarray, edges: np.ndarray) -> dict[str, Any]:
    """The page's drawing of any graph given node ``positions`` ``(N, 2)`` (y up) and ``edges``
    ``(E, 2)`` (an XY network, :class:`~twin.physics.xy.graph.XYGraph`): as
    :func:`network_layout`, without periodic wrapping."""
    pos = np.asarray(positions, dtype=float).reshape(-1, 2) * [1.0, -1.0]  # y down on the page
    return _scaled(name, pos, _segments(pos, np.asarray(edges, dtype=int).reshape(-1, 2), None))


def _scaled(name: str, pos: np.ndarray, segs: list[list[list[float]]]) -> dict[str, Any]:
    """Nodes and segments scaled into the unit square, the aspect ratio kept."""
    pts = np.array([p for s in segs for seg in s for p in (seg[:2], seg[2:])] or [[0.0, 0.0]])
    lo = np.minimum(pts.min(axis=0), pos.min(axis=0))
    hi = np.maximum(pts.max(axis=0), pos.max(axis=0))
    span = float(max(np.max(hi - lo), 1e-12))
    scale = (1 - 2 * MARGIN) / span
    offset = MARGIN + ((1 - 2 * MARGIN) - (hi - lo) * scale) / 2

    def tx(x: float, y: float) -> list[float]:
        return [
            round(float((x - lo[0]) * scale + offset[0]), 5),
            round(float((y - lo[1]) * scale + offset[1]), 5),
        ]

    return {
        "name": name,
        "n_nodes": len(pos),
        "n_edges": len(segs),
        "nodes": [tx(x, y) for x, y in pos],
        "edges": [[tx(s[0], s[1]) + tx(s[2], s[3]) for s in es] for es in segs],
    }
