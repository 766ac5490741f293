"""Energy, forces and Hessian of a set of harmonic springs, and the exact nonlinear equilibrium.

A :class:`SpringSet` is the network's bonds plus any pinning springs (same node pairs, their own
stiffness and rest length): ``E = 1/2 sum_b k_b (r_b - l_b)^2``. The gradient on node ``v`` of
bond ``b`` (vector ``d = x_v - x_u``, length ``r``, direction ``n``) is ``k (r - l) n`` (minus that
on ``u``); the Hessian block is ``k [(l / r) n n^T + (1 - l / r) I]``.

:func:`relax` finds the nearest energy minimum by Newton's method with a backtracking (Armijo)
line search; where the Hessian is not positive definite (far from the minimum, under compression)
a multiple of the identity is added until the step descends (Levenberg). Rigid motions are
removed by holding ``fixed`` coordinates. The energies along the path are returned for inspection.

The line search's merit is the energy while the energy can resolve the step, and the norm of the
net force once it cannot. Near the minimum a Newton step lowers the energy by about
``|g . p| / 2``; with stiff pinning springs (1e4 N/m against a softest mode near 1e-2 N/m) a
residual force of 1e-7 N in a stiff direction is worth 1e-18 J, below the rounding of an energy
near 5e-2 J (about 1e-17 J). An energy test there accepts or refuses steps by rounding noise:
the search shrank the step until the energy's change rounded to zero, accepted that null step,
and repeated it until the iteration limit, with forces stuck at 1e-8..3e-7 N. So a trial step
whose predicted energy change ``t |g . p|`` is below :data:`ENERGY_RESOLUTION_RTOL` of the energy
is judged by the force instead: accepted when the force norm falls by the Armijo fraction (a
Newton step on a positive-definite Hessian has ``d|g|^2/dt = -2 |g|^2``). Along the path the
energy therefore falls wherever it resolves the step, and changes by less than its resolution
elsewhere.
"""

from __future__ import annotations

import attrs
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ...errors import SolverError
from .network import bond_vectors

__all__ = [
    "ENERGY_RESOLUTION_RTOL",
    "MAX_ITER",
    "Relaxation",
    "SpringSet",
    "energy",
    "gradient",
    "hessian",
    "linear_response",
    "relax",
]

#: Armijo sufficient-decrease constant.
ARMIJO = 1e-4
#: Newton steps below this fraction of the median rest length are at the rounding floor.
STEP_RTOL = 1e-13
#: Newton iterations before :func:`relax` gives up. Networks trained at lambda > 0 have
#: stiffnesses across the whole range (1e-3..10 N/m); at source strain 0.2 their soft regions
#: rotate along curved valleys that take Newton many steps (60 draws of log-uniform stiffnesses
#: on the default tasks of seeds 0-2: median 19 and at most 53 from the linear response, up to 88
#: and once over 100 from the unstrained positions).
MAX_ITER = 500
#: Newton systems with at most this many free coordinates are solved dense (LAPACK), larger ones
#: by SuperLU.
DENSE_NEWTON_MAX = 600
#: Smallest line-search step before the search gives up.
MIN_STEP = 1e-12
#: A trial step whose predicted energy change ``t |g . p|`` is below this fraction of the energy
#: is judged by the force norm (the Armijo margin ``1e-4 t |g . p|`` would be within ~50 roundings
#: of the energy).
ENERGY_RESOLUTION_RTOL = 1e-10


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


def _entries(
    x: np.ndarray, springs: SpringSet, prestress: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows, columns and values (N/m) of the Hessian's ``16 B`` entries (duplicates summed)."""
    d, r = _geometry(x, springs)
    n = d / r[:, None]
    ratio = springs.rest / r if prestress else np.ones_like(r)
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
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)


def hessian(x: np.ndarray, springs: SpringSet, *, prestress: bool = True) -> sp.csr_matrix:
    """Sparse Hessian (2N x 2N), N/m; rows/columns ``2a, 2a+1`` are node ``a``.

    ``prestress=False`` drops the tension term ``k (1 - l / r) (I - n n^T)``, leaving the
    stiffness matrix ``R^T k R`` of the current geometry (positive semi-definite).
    """
    rows, cols, vals = _entries(x, springs, prestress)
    size = 2 * springs.n_nodes
    return sp.csr_matrix((vals, (rows, cols)), shape=(size, size))


def _free_hessian(
    x: np.ndarray, springs: SpringSet, index: np.ndarray, prestress: bool = True
) -> np.ndarray | sp.csc_matrix:
    """The Hessian on the free coordinates (``index`` maps a flat coordinate to its free
    position, -1 if held): dense up to :data:`DENSE_NEWTON_MAX` of them, else sparse."""
    rows, cols, vals = _entries(x, springs, prestress)
    rows, cols = index[rows], index[cols]
    keep = (rows >= 0) & (cols >= 0)
    rows, cols, vals = rows[keep], cols[keep], vals[keep]
    size = int(index.max()) + 1
    if size <= DENSE_NEWTON_MAX:
        h = np.zeros((size, size))
        np.add.at(h, (rows, cols), vals)
        return h
    return sp.csc_matrix((vals, (rows, cols)), shape=(size, size))


def _free_index(n_nodes: int, fixed: np.ndarray) -> np.ndarray:
    free = np.ones(2 * n_nodes, dtype=bool)
    free[fixed] = False
    index = np.full(2 * n_nodes, -1, dtype=np.int64)
    index[free] = np.arange(int(free.sum()))
    return index


@attrs.frozen(eq=False)
class Relaxation:
    """Outcome of :func:`relax`: positions (m), energies along the path (J), largest net force
    on a free coordinate (N) and the number of Newton iterations."""

    x: np.ndarray
    energies: np.ndarray
    max_force_n: float
    iterations: int


def _solve(h: np.ndarray | sp.csc_matrix, rhs: np.ndarray, mu: float) -> np.ndarray | None:
    """``(H + mu I)^-1 rhs``, or ``None`` where the matrix is singular."""
    try:
        if isinstance(h, np.ndarray):
            return np.linalg.solve(h + mu * np.eye(h.shape[0]), rhs)
        shifted = h + mu * sp.identity(h.shape[0], format="csc") if mu else h
        return np.asarray(spla.splu(shifted.tocsc()).solve(rhs))
    except (RuntimeError, np.linalg.LinAlgError):
        return None


def _newton_step(h: np.ndarray | sp.csc_matrix, g: np.ndarray) -> np.ndarray:
    """A descent direction from ``(H + mu I) p = -g`` with the smallest ``mu >= 0`` tried."""
    scale = float(np.max(np.abs(h.diagonal()))) or 1.0
    mu = 0.0
    for _ in range(30):
        p = _solve(h, -g, mu)
        if p is not None and np.all(np.isfinite(p)) and float(g @ p) < 0.0:
            return p
        mu = scale * 1e-8 if mu == 0.0 else mu * 10.0
    raise SolverError("equilibrium: no descent direction (floppy network?)")


def linear_response(x0: np.ndarray, springs: SpringSet, fixed: np.ndarray) -> np.ndarray:
    """Positions (N, 2) of the linear response about ``x0``: one Newton step on the stiffness
    matrix ``R^T k R`` (the prestress term dropped), as the linear fast path solves it.

    About an unstrained network only the pinning springs are prestressed, and their tension term
    is large and negative for a pin that extends its bond (``k (1 - l / r) = -0.2 k`` at strain
    0.2, against bonds of 1e-3..10 N/m): the full Hessian is indefinite there and Newton's
    first steps are damped. Started from the linear response instead, the free state's
    relaxation takes 7 Newton steps instead of 13 on the default task (seed 0, k = 1).
    """
    index = _free_index(springs.n_nodes, fixed)
    free = index >= 0
    step = _solve(
        _free_hessian(x0, springs, index, prestress=False),
        -gradient(x0, springs).ravel()[free],
        0.0,
    )
    if step is None or not np.all(np.isfinite(step)):
        raise SolverError("equilibrium: singular stiffness matrix (floppy network?)")
    u = np.zeros(2 * springs.n_nodes)
    u[free] = step
    return np.asarray(x0, dtype=float) + u.reshape(-1, 2)


def _line_search(
    x: np.ndarray,
    p: np.ndarray,
    e: float,
    g: np.ndarray,
    springs: SpringSet,
    free: np.ndarray,
) -> tuple[np.ndarray, float] | None:
    """Backtracking from the full step ``p`` (N, 2): the accepted positions and their energy, or
    ``None`` below :data:`MIN_STEP`. Merit: the energy where it resolves the trial step, else
    the norm of the free net force (see the module's docstring)."""
    slope = float(g @ p.ravel()[free])
    g_norm = float(np.linalg.norm(g))
    resolution = ENERGY_RESOLUTION_RTOL * abs(e)
    t = 1.0
    while t >= MIN_STEP:
        trial = x + t * p
        e_trial = energy(trial, springs)
        if -t * slope > resolution:
            if e_trial <= e + ARMIJO * t * slope:
                return trial, e_trial
        elif np.linalg.norm(gradient(trial, springs).ravel()[free]) <= (1 - ARMIJO * t) * g_norm:
            return trial, e_trial
        t *= 0.5
    return None


def relax(
    x0: np.ndarray,
    springs: SpringSet,
    fixed: np.ndarray,
    *,
    force_tol_n: float,
    max_iter: int = MAX_ITER,
) -> Relaxation:
    """Nearest energy minimum from ``x0`` (N, 2), holding the flat coordinates ``fixed``.

    Stops when the largest net force on a free coordinate is at most ``force_tol_n`` newtons, or,
    with the forces already within ``1e3 * force_tol_n``, when the Newton step falls below
    :data:`STEP_RTOL` of the median rest length or the line search can no longer lower the
    energy (both: the rounding floor). Raises :class:`SolverError` otherwise.
    """
    index = _free_index(springs.n_nodes, fixed)
    free = index >= 0
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
        h = _free_hessian(x, springs, index)
        p = np.zeros(2 * springs.n_nodes)
        p[free] = _newton_step(h, g)
        if float(np.max(np.abs(p))) <= STEP_RTOL * length and fmax <= 1e3 * force_tol_n:
            return Relaxation(x, np.array(energies), fmax, it)  # at the rounding floor
        step = _line_search(x, p.reshape(-1, 2), e, g, springs, free)
        if step is None:
            if fmax <= 1e3 * force_tol_n:
                return Relaxation(x, np.array(energies), fmax, it)
            raise SolverError(f"equilibrium: line search failed at force {fmax:.3g} N")
        trial, e_trial = step
        x, e = trial, e_trial
        energies.append(e)
    raise SolverError(
        f"equilibrium: no convergence in {max_iter} Newton iterations (force {fmax:.3g} N)"
    )
