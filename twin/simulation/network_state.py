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

Large networks keep no inverse: every change, or group of changes committed together (a sync
or Bernoulli tick, a window of per-edge clock events), refactorises each circuit with a sparse
Cholesky factorisation whose ordering and symbolic structure are computed once
(:func:`sparse_structure`, :func:`twin.kernels.ordering.factor_layout`), and only
``x = L^-1 C^T`` is formed, in ``O(nnz)`` per circuit instead of the dense ``O(n^3)``
refactorisation and ``O(n^2)`` inverse. No drift accumulates on that path, and nothing of size
``n^2`` is kept. Grouped changes take that path above ``sparse_above`` reduced nodes, single
events of per-edge clocks above ``sparse_events_above`` (where one sparse refactorisation costs
less than one dense rank-1 update: measured crossover ~130-140 reduced nodes).

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

from ..kernels.events import circuit as KC
from ..kernels.events.state import Circuit, Examples, Factor, SolverGroup, State, kernel_status
from ..kernels.ordering import factor_layout
from ..kernels.status import raise_for_status
from ..physics.solver import CircuitBatch
from ..physics.task import Task
from .errors import ModelError

__all__ = [
    "NetworkState",
    "SolverSettings",
    "circuit_group",
    "circuit_structure",
    "examples_group",
    "solver_group",
    "sparse_structure",
]


#: Default :attr:`SolverSettings.sparse_above` (reduced nodes), chosen by measurement.
SPARSE_ABOVE = 56
#: Default :attr:`SolverSettings.sparse_events_above` (reduced nodes): per event, a sparse
#: refactorisation against a dense rank-1 update (Poisson clocks, linear model, one core under
#: load ~4): 11 vs 4 us at 127 reduced nodes (jammed), 14 vs 39 us at 143 (12x12 lattice),
#: 32 vs 138 us at 255 (jammed), 76 vs 330 us at 459 (jammed).
SPARSE_EVENTS_ABOVE = 128


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
        Networks with more reduced nodes than this use the sparse path when changes are
        committed in groups (sync and Bernoulli clocks, windowed per-edge clocks): every group
        is a sparse refactorisation, no inverse is kept (``None``: never).
    sparse_events_above
        The same threshold for per-edge clocks committing one event at a time (``None``:
        never).
    """

    refactor_every: int = attrs.field(default=4096, converter=int)
    check_every: int = attrs.field(default=256, converter=int)
    drift_tol: float = attrs.field(default=1e-9, converter=float)
    refactor_group: int | None = None
    sparse_above: int | None = SPARSE_ABOVE
    sparse_events_above: int | None = SPARSE_EVENTS_ABOVE

    def __attrs_post_init__(self) -> None:
        if self.refactor_every < 1 or self.check_every < 1:
            raise ModelError("solver: refactor_every and check_every must be >= 1")
        if not self.drift_tol > 0:
            raise ModelError(f"solver: drift_tol must be > 0, got {self.drift_tol}")

    def sparse(self, n_free: int, grouped: bool) -> bool:
        """Whether a network of ``n_free`` reduced nodes uses the sparse path.

        ``grouped``: changes are committed in groups (global-tick clocks, windowed per-edge
        clocks), judged against ``sparse_above``; otherwise one event at a time, judged against
        ``sparse_events_above``.
        """
        limit = self.sparse_above if grouped else self.sparse_events_above
        return limit is not None and n_free > limit

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


def sparse_structure(ends: np.ndarray, cons: np.ndarray, n: int) -> tuple[Factor, int, int]:
    """Sparse-factorisation layout of a circuit (:func:`twin.kernels.ordering.factor_layout`).

    Minimum-degree ordering with the constrained nodes last, symbolic factorisation, the dense
    trailing block chosen by the cost model, and the storage positions of the Laplacian's
    entries. ``ends`` and ``cons`` as from :func:`circuit_structure`. Returns the kernel's
    :class:`~twin.kernels.events.state.Factor` group with its scratch, ``split`` and ``first``.
    """
    cidx = np.where(cons < n, cons, -1).astype(np.int64)
    cval = np.where(cons < n, np.array([1.0, -1.0]), 0.0)
    lay = factor_layout(n, ends, cidx, cval)
    factor = Factor(
        colptr=lay.colptr,
        rowind=lay.rowind,
        rlptr=lay.rlptr,
        rlcol=lay.rlcol,
        rlpos=lay.rlpos,
        tstart=lay.tstart,
        diagpos=lay.diagpos,
        ends=lay.ends,
        offdiag=lay.offdiag,
        cidx=lay.cidx,
        cval=lay.cval,
        perm=lay.perm,
        v=np.zeros(lay.n_values),
        pos=np.zeros(n, dtype=np.int64),
        x=np.zeros((n + 1, 4 * ((cons.shape[0] + 3) // 4))),
    )
    return factor, lay.split, lay.first


def _no_factor() -> Factor:
    """Placeholders of the dense path (no sparse layout)."""
    i1 = np.zeros(1, dtype=np.int64)
    pair = np.zeros((1, 2), dtype=np.int64)
    return Factor(i1, i1, i1, i1, i1, i1, i1, pair, i1, pair, np.zeros((1, 2)), i1, np.zeros(1),
                  i1, np.zeros((1, 4)))  # fmt: skip


def solver_group(
    settings: SolverSettings,
    ends: np.ndarray,
    cons: np.ndarray,
    n: int,
    grouped: bool,
    window_s: float = 0.0,
) -> tuple[SolverGroup, Factor]:
    """The incremental solver's kernel group and, on the sparse path, its factor layout.

    ``grouped``: changes are committed in groups (see :meth:`SolverSettings.sparse`);
    ``window_s``: the commit window of per-edge clocks, s (0: every event on its own).
    """
    sparse = settings.sparse(n, grouped)
    factor, split, first = sparse_structure(ends, cons, n) if sparse else (_no_factor(), 0, 0)
    group = SolverGroup(
        refactor_every=int(settings.refactor_every),
        check_every=int(settings.check_every),
        refactor_group=int(settings.group_limit(n, sparse)),
        sparse=bool(sparse),
        split=int(split),
        first=int(first),
        drift_tol=float(settings.drift_tol),
        window_s=float(window_s),
    )
    return group, factor


def circuit_group(
    ends: np.ndarray, cons: np.ndarray, n: int, m: int, per_example: bool, sparse: bool
) -> Circuit:
    """The circuits' kernel group (conductances set by the twin's initialisation).

    ``per_example``: one circuit per state and example (transistor model), else one shared.
    """
    e, c = ends.shape[0], cons.shape[0]
    q = 2 * m if per_example else 1
    nd = 1 if sparse else n + 1  # dense inverse and Laplacian scratch: dense path only
    return Circuit(
        ends=ends,
        cons=cons,
        free_q=np.arange(m, dtype=np.int64) if per_example else np.zeros(m, dtype=np.int64),
        clamp_q=np.arange(m, 2 * m, dtype=np.int64) if per_example else np.zeros(m, np.int64),
        k=np.zeros((q, e)),
        k_new=np.zeros((q, e)),
        staged=np.zeros(e, dtype=np.bool_),
        linv=np.zeros((q, nd, nd)),
        linv_ok=np.zeros(q, dtype=np.bool_),
        x=np.zeros((q, n + 1, c)),
        s=np.zeros((q, c, c)),
        lap=np.zeros((nd, nd)),
        w=np.zeros(n + 1),
        gx=np.zeros(c),
        group=np.zeros(e, dtype=np.int64),
    )


def examples_group(task: Task) -> Examples:
    """Boundary values of the task's training examples (clamp slots filled by the twin)."""
    m, ns = task.train.size, task.n_sources
    c = ns + task.n_targets
    b = np.zeros((m, c))
    b[:, :ns] = task.train.inputs
    return Examples(
        b=b,
        desired=np.ascontiguousarray(task.train.outputs, dtype=float),
        c_inf=np.zeros((m, c - ns)),
        out_f=np.zeros((m, c - ns)),
        mu_f=np.zeros((m, c)),
        mu_c=np.zeros((m, c)),
        mu_d=np.zeros((m, c)),
        rhs=np.zeros(c),
        sm=np.zeros((c, c + 1)),
    )


class NetworkState:
    """Read and change the electrical state of a twin's kernel :class:`State`.

    Parameters
    ----------
    state
        The kernel state's groups (shared, not copied).
    kernel
        The kernel handle on the same groups.
    """

    def __init__(self, state: State, kernel: Any) -> None:
        self._st = state
        self._k = kernel

    @property
    def n_circuits(self) -> int:
        return int(self._st.circuit.k.shape[0])

    @property
    def conductance(self) -> np.ndarray:
        """Conductances ``(Q, E)`` in siemens (a copy)."""
        return self._st.circuit.k.copy()

    def set_conductance(self, edges: np.ndarray, k_s: np.ndarray) -> None:
        """Change conductances of ``edges`` (every circuit) and bring the states up to date."""
        edges = np.atleast_1d(np.asarray(edges, dtype=np.int64))
        k = np.broadcast_to(np.asarray(k_s, dtype=float), edges.shape)
        if np.any(k <= 0) or not np.all(np.isfinite(k)):
            raise ModelError("conductance: must be finite and > 0 siemens")
        self._st.circuit.k_new[:, edges] = k
        self._st.circuit.staged[edges] = True
        KC.commit(self._k)
        self.check()

    def refactor(self) -> None:
        """Fresh factorisation of every circuit (drift back to rounding level)."""
        for q in range(self.n_circuits):
            KC.refactor(self._k, q)
        KC.update_states(self._k)
        self.check()

    def drift(self) -> float:
        """Largest residual ``max |L x - C^T|`` over the circuits."""
        return max(float(KC.drift(self._k, q)) for q in range(self.n_circuits))

    def basis(self, q: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Current ``x`` ``(n, c)`` and ``s`` ``(c, c)`` of circuit ``q`` (copies)."""
        return self._st.circuit.x[q, :-1].copy(), self._st.circuit.s[q].copy()

    def check(self) -> None:
        """Raise :class:`twin.errors.SolverError` if a kernel flagged a failed solve."""
        raise_for_status(int(kernel_status(self._k)), "the twin's network")

    @property
    def stats(self) -> dict[str, float]:
        """Rank-1 updates, refactorisations and the residuals seen."""
        ctr = self._st.counters
        return {
            "rank1_updates": int(ctr.rank1),
            "refactorisations": int(ctr.refactors),
            "drift": float(ctr.drift),
            "drift_max": float(ctr.drift_max),
        }
