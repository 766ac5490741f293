"""The electrical state, kept current under conductance changes (rank-1 updates, refactorisation).

The twin solves the same equations as :mod:`twin.solver` (reduced Laplacian ``L``, constraint
rows ``C``, basis ``x = L^-1 C^T``, Schur complement ``s = C x``; PHYSICS.md sections 1-2), but
keeps them current incrementally: when edge ``i`` (reduced incidence vector ``g``) changes its
conductance by ``delta``, ``L`` changes by the rank-1 term ``delta g g^T`` and Sherman-Morrison
gives, with ``w = L^-1 g``,

    L^-1 <- L^-1 - f w w^T,   x <- x - f w (g^T x),   s <- s - f (g^T x)^T (g^T x),
    f = delta / (1 + delta g^T w)

for ``O(n^2)`` work instead of a fresh ``O(n^3)`` solve. The inverse is dense (the board has
``n = 15`` reduced nodes; dense is right up to a few hundred nodes).

Groups of simultaneous changes larger than ``refactor_group`` (a sync tick changes every edge)
are cheaper as one fresh factorisation. Drift of the updated inverse is bounded two ways: every
``check_every`` rank-1 updates the residual ``max |L x - C^T|`` (dimensionless: ``C^T`` holds
+-1) is computed in ``O(E c)`` and a value above ``drift_tol`` triggers a refactorisation; and
every ``refactor_every`` updates the circuits are refactorised regardless. The largest residual
seen is reported (``drift_max``).

:class:`NetworkState` is a view on a twin's kernel state for inspection and tests.
"""

from __future__ import annotations

import attrs
import numpy as np

from ..solver import CircuitBatch
from ..task import Task
from . import _kernel as K
from .errors import ModelError

__all__ = ["NetworkState", "SolverSettings", "circuit_structure"]


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
    """

    refactor_every: int = attrs.field(default=4096, converter=int)
    check_every: int = attrs.field(default=256, converter=int)
    drift_tol: float = attrs.field(default=1e-9, converter=float)
    refactor_group: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.refactor_every < 1 or self.check_every < 1:
            raise ModelError("solver: refactor_every and check_every must be >= 1")
        if not self.drift_tol > 0:
            raise ModelError(f"solver: drift_tol must be > 0, got {self.drift_tol}")

    def group_limit(self, n_free: int) -> int:
        return self.refactor_group if self.refactor_group is not None else max(n_free // 2, 1)


def circuit_structure(task: Task) -> tuple[np.ndarray, np.ndarray, int]:
    """Reduced edge ends ``(E, 2)``, constraint pairs ``(c, 2)`` and ``n`` for one task.

    Constraint ``j`` is the row ``e_p - e_m`` of ``C`` stored as ``(p, m)``; index ``n`` stands
    for ground / none (sources first, then targets, as in :class:`twin.solver.CircuitBatch`).
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
