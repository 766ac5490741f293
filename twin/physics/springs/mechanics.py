"""Energy, forces and Hessian of a set of harmonic springs, and the exact nonlinear equilibrium.

A :class:`SpringSet` is the network's bonds plus any pinning springs (same node pairs, their own
stiffness and rest length): ``E = 1/2 sum_b k_b (r_b - l_b)^2``. The gradient on node ``v`` of
bond ``b`` (vector ``d = x_v - x_u``, length ``r``, direction ``n``) is ``k (r - l) n`` (minus that
on ``u``); the Hessian block is ``k [(l / r) n n^T + (1 - l / r) I]``.

:func:`relax` finds the nearest energy minimum by Newton's method with a backtracking (Armijo)
line search; where the Hessian is not positive definite (far from the minimum, under compression)
a multiple of the identity is added until the step descends (Levenberg). Rigid motions are
removed by holding ``fixed`` coordinates. Every accepted step lowers the energy; the energies
along the path are returned for inspection.
"""

from __future__ import annotations

import attrs
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ...errors import SolverError
from .network import bond_vectors

__all__ = ["Relaxation", "SpringSet", "energy", "gradient", "hessian", "relax"]

#: Armijo sufficient-decrease constant.
ARMIJO = 1e-4
#: Newton steps below this fraction of the median rest length are at the rounding floor.
STEP_RTOL = 1e-13
#: Smallest line-search step before the search gives up.
MIN_STEP = 1e-12


@attrs.frozen(eq=False)
class SpringSet:
    """Springs ``(B,)`` on node pairs ``edges`` ``(B, 2)``: stiffness (N/m), rest length (m)."""

    edges: np.ndarray
    k: np.ndarray
    rest: np.ndarray
    box: float | None
    n_nodes: int


def _geometry(x: np.ndarray, springs: SpringSet) -> tuple[np.ndarray, np.ndarray]:
    d = bond_vectors(x, springs.edges, springs.box)
    return d, np.linalg.norm(d, axis=1)


def energy(x: np.ndarray, springs: SpringSet) -> float:
    """Elastic energy (J) at positions ``x`` (N, 2) in metres."""
    _, r = _geometry(x, springs)
    return float(0.5 * np.sum(springs.k * (r - springs.rest) ** 2))


def gradient(x: np.ndarray, springs: SpringSet) -> np.ndarray:
    """``dE/dx`` (N, 2), newtons; the net force on each node is its negative."""
    d, r = _geometry(x, springs)
    f = (springs.k * (r - springs.rest) / r)[:, None] * d  # k s n
    g = np.zeros((springs.n_nodes, 2))
    np.add.at(g, springs.edges[:, 1], f)
    np.add.at(g, springs.edges[:, 0], -f)
    return g


def hessian(x: np.ndarray, springs: SpringSet) -> sp.csr_matrix:
    """Sparse Hessian (2N x 2N), N/m; rows/columns ``2a, 2a+1`` are node ``a``."""
    d, r = _geometry(x, springs)
    n = d / r[:, None]
    ratio = springs.rest / r
    block = springs.k[:, None, None] * (
        ratio[:, None, None] * n[:, :, None] * n[:, None, :]
        + (1.0 - ratio)[:, None, None] * np.eye(2)[None]
    )  # (B, 2, 2)
    u, v = springs.edges[:, 0], springs.edges[:, 1]
    rows, cols, vals = [], [], []
    for a in (0, 1):
        for b in (0, 1):
            kab = block[:, a, b]
            for p, q, sign in ((u, u, 1.0), (v, v, 1.0), (u, v, -1.0), (v, u, -1.0)):
                rows.append(2 * p + a)
                cols.append(2 * q + b)
                vals.append(sign * kab)
    size = 2 * springs.n_nodes
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(size, size)
    )


@attrs.frozen(eq=False)
class Relaxation:
    """Outcome of :func:`relax`: positions (m), energies along the path (J), largest net force
    on a free coordinate (N) and the number of Newton iterations."""

    x: np.ndarray
    energies: np.ndarray
    max_force_n: float
    iterations: int


def _newton_step(h: sp.csr_matrix, g: np.ndarray) -> np.ndarray:
    """A descent direction from ``(H + mu I) p = -g`` with the smallest ``mu >= 0`` tried."""
    scale = float(np.max(np.abs(h.diagonal()))) or 1.0
    mu = 0.0
    eye = sp.identity(h.shape[0], format="csc")
    for _ in range(30):
        try:
            p = spla.splu((h + mu * eye).tocsc()).solve(-g)
        except RuntimeError:
            p = None
        if p is not None and np.all(np.isfinite(p)) and float(g @ p) < 0.0:
            return np.asarray(p)
        mu = scale * 1e-8 if mu == 0.0 else mu * 10.0
    raise SolverError("equilibrium: no descent direction (floppy network?)")


def relax(
    x0: np.ndarray,
    springs: SpringSet,
    fixed: np.ndarray,
    *,
    force_tol_n: float,
    max_iter: int = 100,
) -> Relaxation:
    """Nearest energy minimum from ``x0`` (N, 2), holding the flat coordinates ``fixed``.

    Stops when the largest net force on a free coordinate is at most ``force_tol_n`` newtons, or,
    with the forces already within ``1e3 * force_tol_n``, when the Newton step falls below
    :data:`STEP_RTOL` of the median rest length or the line search can no longer lower the
    energy (both: the rounding floor). Raises :class:`SolverError` otherwise.
    """
    free = np.ones(2 * springs.n_nodes, dtype=bool)
    free[fixed] = False
    x = np.array(x0, dtype=float)
    length = float(np.median(springs.rest))
    e = energy(x, springs)
    energies = [e]
    for it in range(max_iter + 1):
        g = gradient(x, springs).ravel()[free]
        fmax = float(np.max(np.abs(g))) if g.size else 0.0
        if fmax <= force_tol_n:
            return Relaxation(x, np.array(energies), fmax, it)
        if it == max_iter:
            break
        h = hessian(x, springs)[free][:, free]
        p = np.zeros(2 * springs.n_nodes)
        p[free] = _newton_step(h, g)
        if float(np.max(np.abs(p))) <= STEP_RTOL * length and fmax <= 1e3 * force_tol_n:
            return Relaxation(x, np.array(energies), fmax, it)  # at the rounding floor
        slope = float(g @ p[free])
        t = 1.0
        while t >= MIN_STEP:
            trial = x + t * p.reshape(-1, 2)
            e_trial = energy(trial, springs)
            if e_trial <= e + ARMIJO * t * slope:
                break
            t *= 0.5
        else:
            if fmax <= 1e3 * force_tol_n:
                return Relaxation(x, np.array(energies), fmax, it)
            raise SolverError(f"equilibrium: line search failed at force {fmax:.3g} N")
        x, e = trial, e_trial
        energies.append(e)
    raise SolverError(
        f"equilibrium: no convergence in {max_iter} Newton iterations (force {fmax:.3g} N)"
    )
