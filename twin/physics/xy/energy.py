"""Energy, forces, nudging cost and parameter derivatives of an XY network (numpy reference).

``E(phi) = -sum_edges w_ab cos(phi_a - phi_b) - sum_i h_i cos(phi_i - psi_i)`` (each coupling once:
the issue's ``-1/2 sum_ij W_ij cos(...)`` with a symmetric ``W``). The nudging cost on the outputs
is ``C = -sum_k log(1 + cos(phi_k - t_k))``; the reported loss is
``L = sum_k (1 - cos(phi_k - t_k)) / 2``.
Everything is dimensionless (model units). Phases are batched: ``phi`` has shape ``(..., N)``.
"""

from __future__ import annotations

import attrs
import numpy as np

from .graph import XYGraph

__all__ = [
    "XYParams",
    "cost",
    "cost_force",
    "energy",
    "energy_grads",
    "force",
    "hessian",
    "init_params",
    "loss",
    "predict",
]


@attrs.frozen(kw_only=True, eq=False)
class XYParams:
    """Trainable parameters: couplings ``w`` (one per edge), fields ``h`` and their angles ``psi``
    (one per node), model units and radians."""

    w: np.ndarray
    h: np.ndarray
    psi: np.ndarray

    def flat(self) -> np.ndarray:
        """``w``, ``h`` and ``psi`` in one vector."""
        return np.concatenate([self.w, self.h, self.psi])

    def unflat(self, vec: np.ndarray) -> XYParams:
        """Parameters of this shape from a vector laid out as :meth:`flat`."""
        e, n = len(self.w), len(self.h)
        return XYParams(w=vec[:e].copy(), h=vec[e : e + n].copy(), psi=vec[e + n :].copy())


def init_params(graph: XYGraph, rng: np.random.Generator) -> XYParams:
    """``w ~ N(0, weight_std^2)`` per edge, ``h = 0``, ``psi ~ U(-pi, pi)``."""
    return XYParams(
        w=rng.standard_normal(graph.n_edges) * graph.weight_std,
        h=np.zeros(graph.n_nodes),
        psi=rng.uniform(-np.pi, np.pi, graph.n_nodes),
    )


def energy(graph: XYGraph, p: XYParams, phi: np.ndarray) -> np.ndarray:
    """``E(phi)`` of every state in the batch, shape ``phi.shape[:-1]``."""
    a, b = graph.edges.T
    coupling = np.cos(phi[..., a] - phi[..., b]) @ p.w
    return -coupling - np.cos(phi - p.psi) @ p.h


def force(graph: XYGraph, p: XYParams, phi: np.ndarray) -> np.ndarray:
    """``-dE/dphi`` on every node (inputs included: clamping is the relaxation's job)."""
    a, b = graph.edges.T
    s = p.w * np.sin(phi[..., a] - phi[..., b])
    f = -p.h * np.sin(phi - p.psi)
    return _scatter(f, a, b, s)


def _scatter(f: np.ndarray, a: np.ndarray, b: np.ndarray, s: np.ndarray) -> np.ndarray:
    """``f`` minus ``s`` on the edges' ``a`` ends plus ``s`` on their ``b`` ends (batched)."""
    flat = f.reshape(-1, f.shape[-1]).copy()
    s2 = s.reshape(-1, s.shape[-1])
    np.add.at(flat.T, a, -s2.T)  # the transposes are views: rows of flat.T are nodes
    np.add.at(flat.T, b, s2.T)
    return flat.reshape(f.shape)


def cost(phi_out: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Nudging cost ``C = -sum log(1 + cos(phi_out - target))`` over the last axis."""
    return -np.sum(np.log1p(np.cos(phi_out - target)), axis=-1)


def cost_force(phi_out: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``-dC/dphi_out = -sin(d) / (1 + cos(d)) = -tan(d / 2)``, ``d = phi_out - target``."""
    return -np.tan(0.5 * (phi_out - target))


def loss(phi_out: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Reported loss ``sum (1 - cos(phi_out - target)) / 2`` over the last axis."""
    return 0.5 * np.sum(1.0 - np.cos(phi_out - target), axis=-1)


def predict(phi_out: np.ndarray) -> np.ndarray:
    """Class of each state: ``sin(phi) > 0`` for one output, else ``argmax sin(phi_out)``."""
    s = np.sin(phi_out)
    if s.shape[-1] == 1:
        return (s[..., 0] > 0).astype(np.int64)
    return np.argmax(s, axis=-1)


def energy_grads(graph: XYGraph, p: XYParams, phi: np.ndarray) -> XYParams:
    """The local rule's terms, averaged over the batch: ``dE/dw = -cos(phi_a - phi_b)``,
    ``dE/dh = -cos(phi - psi)``, ``dE/dpsi = -h sin(phi - psi)``."""
    a, b = graph.edges.T
    flat = phi.reshape(-1, phi.shape[-1])
    d, n = flat - p.psi, len(flat)
    # sum / n is what mean computes (bit for bit), without its per-call overhead
    return XYParams(
        w=-(np.cos(flat[:, a] - flat[:, b]).sum(axis=0) / n),
        h=-(np.cos(d).sum(axis=0) / n),
        psi=-((p.h * np.sin(d)).sum(axis=0) / n),
    )


def hessian(
    graph: XYGraph,
    p: XYParams,
    phi: np.ndarray,
    beta: float = 0.0,
    target: np.ndarray | None = None,
) -> np.ndarray:
    """``d^2 (E + beta C) / dphi^2`` of one state ``phi`` (shape ``(N,)``), dense ``(N, N)``."""
    a, b = graph.edges.T
    c = p.w * np.cos(phi[a] - phi[b])
    hess = np.diag(p.h * np.cos(phi - p.psi))
    np.add.at(hess, (a, b), -c)
    np.add.at(hess, (b, a), -c)
    np.add.at(hess, (a, a), c)
    np.add.at(hess, (b, b), c)
    if beta and target is not None:
        out = graph.outputs
        hess[out, out] += beta * 0.5 / np.cos(0.5 * (phi[out] - target)) ** 2
    return hess
