"""Linear responses of an XY network's equilibria to its inputs (seed 003's affected and marginal
regions).

At a free equilibrium ``phi*`` the free phases move with the clamped input phases as
``dphi_f / dphi_in = -H_ff^{-1} H_fi`` (``H`` the Hessian of the energy; ``f`` free nodes, ``i``
inputs). A node's response is the norm of its row, ``chi_j = ||dphi_j / dphi_in||`` (1 on the
inputs): nodes with a sizeable response form the affected region, nodes with ~0 the marginal
region. An output with ~0 response cannot tell the examples apart, whatever its couplings.
"""

from __future__ import annotations

import numpy as np

from .energy import XYParams, hessian
from .graph import XYGraph

__all__ = ["hop_distance", "input_response"]


def input_response(graph: XYGraph, p: XYParams, phi: np.ndarray) -> np.ndarray:
    """``chi`` ``(B, N)`` of every free equilibrium in ``phi`` ``(B, N)`` (dense solves: small
    networks). A singular free Hessian (a marginal equilibrium) gives ``inf`` on its free nodes."""
    free, inputs = graph.free, graph.inputs
    chi = np.zeros(np.shape(phi))
    chi[:, inputs] = 1.0
    for row, x in enumerate(np.atleast_2d(phi)):
        hess = hessian(graph, p, x)
        try:
            sens = -np.linalg.solve(hess[np.ix_(free, free)], hess[np.ix_(free, inputs)])
        except np.linalg.LinAlgError:
            chi[row, free] = np.inf
            continue
        chi[row, free] = np.linalg.norm(sens, axis=1)
    return chi


def hop_distance(graph: XYGraph) -> np.ndarray:
    """Fewest couplings from any input to each node (breadth-first; -1 if unreachable)."""
    adj: list[list[int]] = [[] for _ in range(graph.n_nodes)]
    for a, b in graph.edges.tolist():
        adj[a].append(b)
        adj[b].append(a)
    dist = np.full(graph.n_nodes, -1)
    frontier = graph.inputs.tolist()
    dist[frontier] = 0
    while frontier:
        nxt = []
        for i in frontier:
            for j in adj[i]:
                if dist[j] < 0:
                    dist[j] = dist[i] + 1
                    nxt.append(j)
        frontier = nxt
    return dist
