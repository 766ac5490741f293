"""Spring networks: geometry, rigidity matrix, floppy modes and pruning.

A :class:`SpringNetwork` is nodes at positions ``x`` (N, 2) joined by bonds ``(u_i, v_i)`` with
rest lengths ``l_i`` (m), in a periodic square box of side ``box`` (minimum-image bond vectors) or
in the open plane (``box=None``). Generated networks are unstrained: rest lengths equal the
initial lengths, so the prestress vanishes.

Rigidity matrix ``R`` (E x 2N): bond ``i`` with unit vector ``n_i`` (from ``u`` to ``v``) has
``R[i, v] = n_i`` and ``R[i, u] = -n_i``; to first order the extension is ``s = R u`` for node
displacements ``u``. The zero modes of ``R`` are the rigid motions (2 translations in a periodic
box; 2 translations and a rotation in the plane) plus the floppy modes. A network is rigid when it
has no floppy mode; :func:`floppy_modes` counts them and :func:`check_rigid` reports them.

Counting zero modes: networks of at most ``DENSE_RIGIDITY_MAX`` coordinates take the dense
singular values of ``R`` (a mode is zero below ``ZERO_MODE_RTOL`` times the largest). Larger ones
take the few smallest eigenvalues of the sparse ``D = R^T R`` by shift-invert Lanczos (ARPACK on a
sparse LU of ``D + tau I``), which costs milliseconds where the dense SVD of an N = 1000 network
costs seconds. Squaring halves the digits that resolve a zero mode (rounding leaves a zero
eigenvalue of ``D`` near 1e-16 of the largest), so there a mode is zero when its singular value is
below ``SPARSE_ZERO_MODE_RTOL`` = 1e-6 of the largest: a mode between the two thresholds would
leave the linear solves with a condition number above 1e12, and counts as floppy. The count is
computed once per network and kept with it (:attr:`SpringNetwork.floppy_count`). Dense SVDs run
on one BLAS thread: threads cost 4-6x more CPU for these sizes (and more wall time on a loaded
machine; ``benchmarks/bench_spring_rigidity.py``).
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from ...errors import NetworkError
from ..network import Network

__all__ = [
    "DEFAULT_SPRING_K_MAX",
    "DEFAULT_SPRING_K_MIN",
    "SpringNetwork",
    "bond_vectors",
    "check_rigid",
    "fixed_coordinates",
    "floppy_modes",
    "isostatic_coordination",
    "prune_to_coordination",
    "rigid_body_modes",
    "rigidity_matrix",
    "sparse_rigidity_matrix",
]

#: Stiffness bounds, N/m (the conductance bounds of the seed's text, carried over).
DEFAULT_SPRING_K_MIN = 1e-3
DEFAULT_SPRING_K_MAX = 1e1
#: Relative singular-value threshold below which a mode of R counts as a zero mode (dense SVD).
ZERO_MODE_RTOL = 1e-9
#: Networks with at most this many coordinates (2N) are checked by the dense SVD.
DENSE_RIGIDITY_MAX = 600
#: The sparse check's relative singular-value threshold (it resolves eigenvalues of R^T R).
SPARSE_ZERO_MODE_RTOL = 1e-6
#: The sparse check looks for at most this many zero modes; more are counted by the dense SVD.
SPARSE_MAX_ZERO_MODES = 64
#: Shortest bond relative to the median bond length.
MIN_RELATIVE_LENGTH = 1e-6


def _frozen(value: Any, dtype: Any) -> np.ndarray:
    arr = np.array(value, dtype=dtype)
    arr.setflags(write=False)
    return arr


@attrs.frozen(kw_only=True, eq=False)
class SpringNetwork:
    """An immutable 2-D spring network (positions and rest lengths in metres).

    Build from a resistor-style graph with :meth:`from_network` (rest lengths = initial lengths).
    Construction checks shapes, indices and bond lengths; rigidity is checked by
    :func:`check_rigid` (the physics does, before any solve).
    """

    positions: np.ndarray = attrs.field(converter=lambda v: _frozen(v, float))
    edges: np.ndarray = attrs.field(converter=lambda v: _frozen(v, np.int64))
    rest_lengths: np.ndarray = attrs.field(converter=lambda v: _frozen(v, float))
    box: float | None = None
    k_min: float = DEFAULT_SPRING_K_MIN
    k_max: float = DEFAULT_SPRING_K_MAX
    name: str = ""
    #: Memo of :func:`floppy_modes` (a function of the frozen geometry); ``evolve`` drops it.
    _floppy: int | None = attrs.field(default=None, init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        x, e, rest = self.positions, self.edges, self.rest_lengths
        if x.ndim != 2 or x.shape[1] != 2 or not np.all(np.isfinite(x)):
            raise NetworkError(f"positions: expected finite (N, 2) metres, got shape {x.shape}")
        if e.ndim != 2 or e.shape[1] != 2 or e.shape[0] == 0:
            raise NetworkError(f"edges: expected (E, 2) node pairs, E >= 1, got {e.shape}")
        if e.min() < 0 or e.max() >= x.shape[0] or np.any(e[:, 0] == e[:, 1]):
            raise NetworkError(f"edges: node indices must be distinct and in 0..{x.shape[0] - 1}")
        if rest.shape != (e.shape[0],) or not np.all(np.isfinite(rest)):
            raise NetworkError(f"rest_lengths: expected {e.shape[0]} finite lengths (m)")
        if self.box is not None and not (np.isfinite(self.box) and self.box > 0):
            raise NetworkError(f"box: expected a positive side (m), got {self.box!r}")
        if not 0 < self.k_min < self.k_max:
            raise NetworkError(
                f"k_min/k_max: need 0 < k_min < k_max (N/m), got {self.k_min}, {self.k_max}"
            )
        scale = float(np.median(self.lengths()))
        short = np.flatnonzero(
            (self.lengths() <= MIN_RELATIVE_LENGTH * scale) | (rest <= MIN_RELATIVE_LENGTH * scale)
        )
        if short.size:
            raise NetworkError(
                f"rest_lengths: bond {int(short[0])} has zero length (nodes "
                f"{tuple(int(a) for a in e[short[0]])}); springs need a positive length"
            )

    @classmethod
    def from_network(cls, net: Network, **kwargs: Any) -> SpringNetwork:
        """Unstrained springs on the bonds of ``net`` (needs positions)."""
        if net.positions is None:
            raise NetworkError(f"network {net.name or ''}: springs need node positions".strip())
        vec = bond_vectors(np.asarray(net.positions), net.edges, net.box)
        kwargs.setdefault("name", net.name)
        return cls(
            positions=net.positions,
            edges=net.edges,
            box=net.box,
            rest_lengths=np.linalg.norm(vec, axis=1),
            **kwargs,
        )

    @property
    def n_nodes(self) -> int:
        return int(self.positions.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.edges.shape[0])

    @property
    def coordination(self) -> float:
        """Mean coordination ``z = 2 E / N``."""
        return 2.0 * self.n_edges / self.n_nodes

    def lengths(self, positions: np.ndarray | None = None) -> np.ndarray:
        """Bond lengths (m) at ``positions`` (default: the network's own)."""
        x = self.positions if positions is None else positions
        return np.linalg.norm(bond_vectors(x, self.edges, self.box), axis=1)

    def evolve(self, **changes: Any) -> SpringNetwork:
        """A copy with ``changes`` (its floppy-mode count is computed again when asked)."""
        return attrs.evolve(self, **changes)

    @property
    def floppy_count(self) -> int | None:
        """The floppy-mode count if :func:`floppy_modes` has computed it, else None."""
        return self._floppy


def bond_vectors(x: np.ndarray, edges: np.ndarray, box: float | None) -> np.ndarray:
    """Vectors ``x_v - x_u`` (m) of every bond, minimum image in a periodic box."""
    d = x[edges[:, 1]] - x[edges[:, 0]]
    if box is not None:
        d = d - box * np.round(d / box)
    return d


def rigidity_matrix(net: SpringNetwork, positions: np.ndarray | None = None) -> np.ndarray:
    """Dense rigidity matrix ``R`` (E x 2N) at ``positions``; columns ``2a, 2a+1`` are node a."""
    x = net.positions if positions is None else positions
    d = bond_vectors(x, net.edges, net.box)
    n = d / np.linalg.norm(d, axis=1)[:, None]
    r = np.zeros((net.n_edges, 2 * net.n_nodes))
    rows = np.arange(net.n_edges)
    u, v = net.edges[:, 0], net.edges[:, 1]
    for axis in (0, 1):
        r[rows, 2 * v + axis] += n[:, axis]
        r[rows, 2 * u + axis] -= n[:, axis]
    return r


def rigid_body_modes(net: SpringNetwork) -> int:
    """Zero modes every network has: 2 translations (periodic box) or also a rotation (open)."""
    return 2 if net.box is not None else 3


def isostatic_coordination(net: SpringNetwork) -> float:
    """Coordination at which bonds exactly match the non-rigid degrees of freedom."""
    return 2.0 * (2 * net.n_nodes - rigid_body_modes(net)) / net.n_nodes


def sparse_rigidity_matrix(net: SpringNetwork) -> sp.csr_matrix:
    """:func:`rigidity_matrix` as a sparse ``(E, 2N)`` CSR matrix (4 entries per bond)."""
    d = bond_vectors(net.positions, net.edges, net.box)
    n = d / np.linalg.norm(d, axis=1)[:, None]
    u, v = net.edges[:, 0], net.edges[:, 1]
    rows = np.repeat(np.arange(net.n_edges), 4)
    cols = np.stack([2 * v, 2 * v + 1, 2 * u, 2 * u + 1], axis=1).ravel()
    vals = np.concatenate([n, -n], axis=1).ravel()
    return sp.csr_matrix((vals, (rows, cols)), shape=(net.n_edges, 2 * net.n_nodes))


def _dense_zero_modes(net: SpringNetwork) -> int:
    with threadpool_limits(limits=1, user_api="blas"):
        sv = np.linalg.svd(rigidity_matrix(net), compute_uv=False)
    sv = np.concatenate([sv, np.zeros(max(0, 2 * net.n_nodes - sv.size))])
    return int(np.sum(sv <= ZERO_MODE_RTOL * sv.max()))


def _sparse_zero_modes(net: SpringNetwork) -> int | None:
    """Zero modes of ``R`` from the smallest eigenvalues of ``D = R^T R``; None when there are
    more than ``SPARSE_MAX_ZERO_MODES`` or ARPACK does not converge (count them densely)."""
    from scipy.sparse.linalg import ArpackError, eigsh

    r = sparse_rigidity_matrix(net)
    d = (r.T @ r).tocsc()
    size = d.shape[0]
    # ARPACK's start vector, fixed so the check is deterministic; not uniform (a translation,
    # in the null space of D, from which Lanczos cannot start)
    start = np.cos(1.0 + np.arange(size))
    try:
        top = float(eigsh(d, k=1, which="LA", tol=1e-3, v0=start, return_eigenvectors=False)[0])
        tau = SPARSE_ZERO_MODE_RTOL**2 * top
        limit = min(SPARSE_MAX_ZERO_MODES, size - 2)  # ARPACK needs k < size - 1
        k = min(rigid_body_modes(net) + 1, limit)
        while True:
            mu = eigsh(d, k=k, sigma=-tau, which="LM", v0=start, return_eigenvectors=False)
            zero = int(np.sum(mu <= tau))
            if zero < k:
                return zero
            if k == limit:
                return None
            k = min(2 * k, limit)
    except ArpackError:
        return None


def _zero_modes(net: SpringNetwork) -> int:
    if 2 * net.n_nodes <= DENSE_RIGIDITY_MAX:
        return _dense_zero_modes(net)
    zero = _sparse_zero_modes(net)
    return _dense_zero_modes(net) if zero is None else zero


def floppy_modes(net: SpringNetwork) -> int:
    """Number of floppy modes: zero modes of ``R`` beyond the rigid motions.

    Computed once per network (dense SVD, or sparse Lanczos above ``DENSE_RIGIDITY_MAX``
    coordinates: see the module docstring) and kept with it.
    """
    if net.floppy_count is None:
        floppy = max(0, _zero_modes(net) - rigid_body_modes(net))
        object.__setattr__(net, "_floppy", floppy)  # memo of a pure function of frozen data
        return floppy
    return net.floppy_count


def check_rigid(net: SpringNetwork) -> None:
    """Raise :class:`NetworkError` naming the floppy-mode count if ``net`` is not rigid."""
    floppy = floppy_modes(net)
    if floppy:
        raise NetworkError(
            f"network {net.name or ''}: not rigid: {floppy} floppy mode(s) (E={net.n_edges}, "
            f"N={net.n_nodes}, z={net.coordination:.3f}, isostatic "
            f"{isostatic_coordination(net):.3f}; collinear nodes or too few bonds)".replace(
                "network :", "network:"
            )
        )


def _self_stresses(net: SpringNetwork) -> np.ndarray:
    """Orthonormal basis ``(E, S)`` of the self-stresses (null space of ``R^T``)."""
    with threadpool_limits(limits=1, user_api="blas"):
        u, sv, _ = np.linalg.svd(rigidity_matrix(net), full_matrices=True)
    rank = int(np.sum(sv > ZERO_MODE_RTOL * sv.max()))
    return u[:, rank:]


def prune_to_coordination(
    net: SpringNetwork, z_target: float, rng: np.random.Generator
) -> SpringNetwork:
    """Remove random redundant bonds until the coordination is at most ``z_target``.

    A bond is redundant when some self-stress loads it: removing it lowers the number of
    self-stresses by one and leaves the zero modes (rigidity) unchanged. The self-stress basis is
    updated by elimination after each removal, so one SVD serves the whole pruning.
    """
    check_rigid(net)
    if not isostatic_coordination(net) < z_target:
        raise NetworkError(
            f"prune: z={z_target} is not above isostatic ({isostatic_coordination(net):.3f})"
        )
    stresses = _self_stresses(net)
    keep = np.ones(net.n_edges, dtype=bool)
    tol = 1e-8
    for i in rng.permutation(net.n_edges):
        if 2.0 * keep.sum() / net.n_nodes <= z_target or stresses.shape[1] == 0:
            break
        j = int(np.argmax(np.abs(stresses[i])))
        if abs(stresses[i, j]) <= tol:
            continue  # not redundant: removing it would open a floppy mode
        pivot = stresses[:, j] / stresses[i, j]
        stresses = np.delete(stresses - np.outer(pivot, stresses[i]), j, axis=1)
        if stresses.shape[1]:
            stresses, _ = np.linalg.qr(stresses)  # orthonormal again: the tolerance stays relative
        keep[i] = False
    if 2.0 * keep.sum() / net.n_nodes > z_target:
        raise NetworkError(f"prune: could not reach z={z_target} keeping the network rigid")
    pruned = net.evolve(edges=net.edges[keep], rest_lengths=net.rest_lengths[keep])
    check_rigid(pruned)
    return pruned


def fixed_coordinates(net: SpringNetwork) -> np.ndarray:
    """Flat coordinates ``2a + axis`` held fixed to remove the rigid motions: node 0 in a
    periodic box; in the open plane also the coordinate of a neighbour of node 0 most nearly
    perpendicular to their bond (the rotation)."""
    if net.box is not None:
        return np.array([0, 1])
    i = int(np.flatnonzero((net.edges == 0).any(axis=1))[0]) if (net.edges == 0).any() else 0
    u, v = net.edges[i]
    other = int(v if u == 0 else u)
    d = bond_vectors(net.positions, net.edges[i : i + 1], None)[0]
    axis = 1 if abs(d[0]) >= abs(d[1]) else 0
    return np.array([0, 1, 2 * other + axis])
