"""The electrical state, kept current under conductance changes (rank-1 updates, refactorisation).

The twin solves the same equations as :mod:`twin.physics.solver` (reduced Laplacian ``L``,
constraint
rows ``C``, basis ``x = L^-1 C^T``, Schur complement ``s = C x``; PHYSICS.md sections 1-2), but
keeps them current incrementally: when edge ``i`` (reduced incidence vector ``g``) changes its
conductance by ``delta``, ``L`` changes by the rank-1 term ``delta g g^T`` and Sherman-Morrison
gives, with ``w = L^-1 g``,

    L^-1 <- L^-1 - f w w^T,   x <- x - f w (g^T x),   s <- s - f (g^T x)^T (g^T x),
    f = delta / (1 + delta g^T w)

for ``O(n^2)`` work instead of a fresh ``O(n^3)`` solve. The inverse is dense (the board has
``n = 15`` reduced nodes).

Large networks (more than ``sparse_above`` reduced nodes) with global-tick clocks (sync,
Bernoulli) keep no inverse: every change, or group of simultaneous changes, refactorises each
circuit with a sparse Cholesky factorisation whose ordering and symbolic structure are computed
once (:func:`sparse_structure`, the set-up of :mod:`twin.kernels.trainer`), and only
``x = L^-1 C^T`` is
formed, in ``O(nnz)`` per circuit instead of the dense ``O(n^3)`` refactorisation and ``O(n^2)``
inverse. No drift accumulates on that path.

Groups of simultaneous changes larger than ``refactor_group`` (a sync tick changes every edge)
are cheaper as one fresh factorisation. Drift of the updated inverse is bounded two ways: every
``check_every`` rank-1 updates the residual ``max |L x - C^T|`` (dimensionless: ``C^T`` holds
+-1) is computed in ``O(E c)`` and a value above ``drift_tol`` triggers a refactorisation; and
every ``refactor_every`` updates the circuits are refactorised regardless. The largest residual
seen is reported (``drift_max``).

:class:`NetworkState` is a view on a twin's kernel state for inspection and tests.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from ..kernels import events as K
from ..kernels import trainer as KK
from ..physics.solver import CircuitBatch
from ..physics.task import Task
from .errors import ModelError

__all__ = ["NetworkState", "SolverSettings", "circuit_structure", "sparse_structure"]


#: Default :attr:`SolverSettings.sparse_above` (reduced nodes), chosen by measurement.
SPARSE_ABOVE = 56


@attrs.frozen(kw_only=True)
class SolverSettings:
    """Incremental-solver settings.

    Parameters
    ----------
    refactor_every
        Refactorise after this many rank-1 updates.
    check_every
        Check the residual after this many rank-1 updates.
    drift_tol
        Refactorise when the residual ``max |L x - C^T|`` exceeds this.
    refactor_group
        A group of more than this many simultaneous changes is refactorised (``None``: half the
        reduced node count).
    sparse_above
        Networks with more reduced nodes than this use the sparse path with sync and Bernoulli
        clocks: every change is a sparse refactorisation, no inverse is kept (``None``: never).
    """

    refactor_every: int = attrs.field(default=4096, converter=int)
    check_every: int = attrs.field(default=256, converter=int)
    drift_tol: float = attrs.field(default=1e-9, converter=float)
    refactor_group: int | None = None
    sparse_above: int | None = SPARSE_ABOVE

    def __attrs_post_init__(self) -> None:
        if self.refactor_every < 1 or self.check_every < 1:
            raise ModelError("solver: refactor_every and check_every must be >= 1")
        if not self.drift_tol > 0:
            raise ModelError(f"solver: drift_tol must be > 0, got {self.drift_tol}")

    def sparse(self, n_free: int, tick_clock: bool) -> bool:
        """Whether a network of ``n_free`` reduced nodes uses the sparse path.

        Only global-tick clocks (sync, Bernoulli) do: their ticks change many edges at once. With
        per-edge clocks a sparse refactorisation per event measured no faster than a dense
        rank-1 update at 460 nodes, so those stay on the dense path.
        """
        return tick_clock and self.sparse_above is not None and n_free > self.sparse_above

    def group_limit(self, n_free: int, sparse: bool = False) -> int:
        if sparse:
            return 0  # no inverse to update: every group is refactorised
        return self.refactor_group if self.refactor_group is not None else max(n_free // 2, 1)


def circuit_structure(task: Task) -> tuple[np.ndarray, np.ndarray, int]:
    """Reduced edge ends ``(E, 2)``, constraint pairs ``(c, 2)`` and ``n`` for one task.

    Constraint ``j`` is the row ``e_p - e_m`` of ``C`` stored as ``(p, m)``; index ``n`` stands
    for ground / none (sources first, then targets, as in
    :class:`twin.physics.solver.CircuitBatch`).
    """
    batch = CircuitBatch.from_tasks([task])
    n = batch.n_free
    rows = batch.constraints[0]
    cons = np.full((rows.shape[0], 2), n, dtype=np.int64)
    for j, row in enumerate(rows):
        plus, minus = np.flatnonzero(row > 0.5), np.flatnonzero(row < -0.5)
        if plus.size:
            cons[j, 0] = plus[0]
        if minus.size:
            cons[j, 1] = minus[0]
    return np.ascontiguousarray(batch.ends[0]), cons, n


def sparse_structure(ends: np.ndarray, cons: np.ndarray, n: int) -> dict[str, Any]:
    """Sparse-factorisation structure of a circuit, as :mod:`twin.kernels.trainer` builds it.

    Minimum-degree ordering with the constrained nodes last, symbolic factorisation, the dense
    trailing block chosen by the trainer's cost model, and the storage positions of the
    Laplacian's entries. ``ends`` and ``cons`` as from :func:`circuit_structure`. Returns the
    kernel's ``sp_*`` arrays (without the ``sp_`` prefix) and ``split``, ``first``.
    """
    block = list(dict.fromkeys(int(a) for a in cons.ravel() if a < n))
    perm = KK.minimum_degree_order(n, ends, last=block)
    iperm = np.empty(n + 1, dtype=np.int64)
    iperm[perm] = np.arange(n)
    iperm[n] = n
    pends = np.ascontiguousarray(iperm[ends])
    colptr, rowind = KK.symbolic_cholesky(n, pends)
    first = n - len(block)
    split = KK._split_point(n, first, colptr, rowind)
    colptr, rowind = colptr[: split + 1], rowind[: colptr[split]]
    rlptr, rlcol, rlpos = KK._row_lists(split, colptr, rowind)
    tstart = np.array(
        [colptr[k] + 1 + np.searchsorted(rowind[colptr[k] + 1 : colptr[k + 1]], split)
         for k in range(split)],
        dtype=np.int64,
    )  # fmt: skip
    diagpos, offdiag = KK._entry_positions(n, split, colptr, rowind, pends)
    nt = n - split
    return {
        "colptr": colptr,
        "rowind": rowind,
        "rlptr": rlptr,
        "rlcol": rlcol,
        "rlpos": rlpos,
        "tstart": tstart,
        "diagpos": diagpos,
        "ends": pends,
        "offdiag": offdiag,
        "cidx": np.where(cons < n, iperm[np.minimum(cons, n)], -1).astype(np.int64),
        "cval": np.where(cons < n, np.array([1.0, -1.0]), 0.0),
        "perm": perm,
        "v": np.zeros(int(colptr[split]) + nt * nt),
        "pos": np.zeros(n, dtype=np.int64),
        "x": np.zeros((n + 1, 4 * ((cons.shape[0] + 3) // 4))),
        "split": split,
        "first": first,
    }


class NetworkState:
    """Read and change the electrical state of a kernel :class:`~._kernel.State`.

    Parameters
    ----------
    state
        The kernel state's arrays (shared, not copied).
    kernel
        The kernel handle on the same arrays.
    """

    def __init__(self, state: K.State, kernel: K.KernelState) -> None:
        self._st = state
        self._k = kernel

    @property
    def n_circuits(self) -> int:
        return int(self._st.k.shape[0])

    @property
    def conductance(self) -> np.ndarray:
        """Conductances ``(Q, E)`` in siemens (a copy)."""
        return self._st.k.copy()

    def set_conductance(self, edges: np.ndarray, k_s: np.ndarray) -> None:
        """Change conductances of ``edges`` (every circuit) and bring the states up to date."""
        edges = np.atleast_1d(np.asarray(edges, dtype=np.int64))
        k = np.broadcast_to(np.asarray(k_s, dtype=float), edges.shape)
        if np.any(k <= 0) or not np.all(np.isfinite(k)):
            raise ModelError("conductance: must be finite and > 0 siemens")
        self._st.k_new[:, edges] = k
        self._st.staged[edges] = True
        K.commit(self._k)

    def refactor(self) -> None:
        """Fresh factorisation of every circuit (drift back to rounding level)."""
        for q in range(self.n_circuits):
            K.refactor(self._k, q)
        K.update_states(self._k)

    def drift(self) -> float:
        """Largest residual ``max |L x - C^T|`` over the circuits."""
        return max(float(K.drift(self._k, q)) for q in range(self.n_circuits))

    def basis(self, q: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Current ``x`` ``(n, c)`` and ``s`` ``(c, c)`` of circuit ``q`` (copies)."""
        return self._st.x[q, :-1].copy(), self._st.s[q].copy()

    @property
    def stats(self) -> dict[str, float]:
        """Rank-1 updates, refactorisations and the residuals seen."""
        return {
            "rank1_updates": int(self._st.icnt[K.C_RANK1]),
            "refactorisations": int(self._st.icnt[K.C_REFACTORS]),
            "drift": float(self._st.acc[K.A_DRIFT]),
            "drift_max": float(self._st.acc[K.A_DRIFT_MAX]),
        }
