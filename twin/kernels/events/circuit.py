"""The electrical state of the twin's circuits, kept current under conductance changes.

PHYSICS.md sections 1-2 and :mod:`twin.simulation.network_state`: per circuit ``q`` the basis
``x = L^-1 C^T`` and the Schur complement ``s = C x``, refreshed by a fresh factorisation
(:func:`refactor`: dense Cholesky for small networks, the sparse factorisation of
:mod:`twin.kernels.cholesky` for large ones) or by Sherman-Morrison rank-1 updates
(:func:`rank1`, dense inverse formed lazily); :func:`commit` applies a group of staged changes
and bounds the drift. Failed solves set ``counters.status`` (:mod:`twin.kernels.status`); the
event loop stops and Python raises.
"""

from __future__ import annotations

import numpy as np

from .._jit import jit
from ..cholesky import sparse_basis
from ..small import chol_solve, dense_cholesky, solve_small
from ..status import SINGULAR
from .state import KernelState

__all__ = [
    "circuit_mu",
    "clamped_only",
    "commit",
    "drift",
    "edge_mid",
    "ensure_inverse",
    "rank1",
    "refactor",
    "solve_examples",
    "update_states",
]


@jit
def edge_mid(st: KernelState, q: int, i: int, mu: np.ndarray) -> float:
    """Mid-point voltage ``(V_a + V_b) / 2`` (V) of edge ``i`` in circuit ``q``."""
    a = st.circuit_ends[i, 0]
    b = st.circuit_ends[i, 1]
    x = st.circuit_x
    acc = 0.0
    for j in range(mu.shape[0]):
        acc += (x[q, a, j] + x[q, b, j]) * mu[j]
    return 0.5 * acc


@jit
def circuit_mu(st: KernelState, q: int) -> np.ndarray:
    """Constraint currents of the state that circuit ``q`` carries (transistor model)."""
    m = st.circuit_free_q.shape[0]
    if q < m:
        return st.examples_mu_f[q]
    return st.examples_mu_c[q - m]


@jit
def refactor(st: KernelState, q: int) -> None:
    """Fresh basis ``x`` and Schur complement ``s`` of circuit ``q`` from its conductances.

    A Cholesky factorisation of the reduced Laplacian gives ``x = L^-1 C^T`` directly; the full
    inverse, needed only by rank-1 updates, is formed lazily (:func:`ensure_inverse`). Large
    networks (``solver.sparse``) use the sparse factorisation instead.
    """
    if st.solver_sparse:
        _refactor_sparse(st, q)
        return
    n = st.circuit_linv.shape[1] - 1
    c = st.circuit_cons.shape[0]
    lap = st.circuit_lap
    _assemble_dense(st, q, lap)
    if not dense_cholesky(lap, n):
        st.counters_status = SINGULAR
        return
    xq = st.circuit_x[q]
    for r in range(n + 1):
        for j in range(c):
            xq[r, j] = 0.0
    for j in range(c):
        if st.circuit_cons[j, 0] < n:
            xq[st.circuit_cons[j, 0], j] += 1.0
        if st.circuit_cons[j, 1] < n:
            xq[st.circuit_cons[j, 1], j] -= 1.0
    chol_solve(lap, n, xq)
    for i in range(c):
        for j in range(c):
            st.circuit_s[q, i, j] = xq[st.circuit_cons[i, 0], j] - xq[st.circuit_cons[i, 1], j]
    st.circuit_linv_ok[q] = False


@jit
def _refactor_sparse(st: KernelState, q: int) -> None:
    """:func:`refactor` of circuit ``q`` by sparse factorisation (``O(nnz)``, not ``O(n^3)``)."""
    n = st.circuit_x.shape[1] - 1
    c = st.circuit_cons.shape[0]
    layout = (
        st.factor_colptr,
        st.factor_rowind,
        st.factor_rlptr,
        st.factor_rlcol,
        st.factor_rlpos,
        st.factor_tstart,
        st.factor_diagpos,
        st.factor_ends,
        st.factor_offdiag,
        st.factor_cidx,
        st.factor_cval,
    )
    ne = st.circuit_ends.shape[0]
    if not sparse_basis(
        st.circuit_k[q],
        ne,
        n,
        st.solver_split,
        st.solver_first,
        layout,
        st.factor_v,
        st.factor_pos,
        st.factor_x,
        st.circuit_s[q],
    ):
        st.counters_status = SINGULAR
        return
    xq = st.circuit_x[q]
    for r in range(n):
        row = st.factor_perm[r]
        for j in range(c):
            xq[row, j] = st.factor_x[r, j]
    st.circuit_linv_ok[q] = False


@jit
def _assemble_dense(st: KernelState, q: int, lap: np.ndarray) -> None:
    """Laplacian of circuit ``q`` (S) into ``lap``, ground row and column included."""
    n1 = lap.shape[0]
    for r in range(n1):
        for col in range(n1):
            lap[r, col] = 0.0
    ends = st.circuit_ends
    for i in range(ends.shape[0]):
        a = ends[i, 0]
        b = ends[i, 1]
        kk = st.circuit_k[q, i]
        lap[a, a] += kk
        lap[b, b] += kk
        lap[a, b] -= kk
        lap[b, a] -= kk


@jit
def ensure_inverse(st: KernelState, q: int) -> None:
    """Form ``linv[q]`` (zero ground row/column) if a refactorisation left it stale."""
    if st.circuit_linv_ok[q]:
        return
    n = st.circuit_linv.shape[1] - 1
    lap = st.circuit_lap
    _assemble_dense(st, q, lap)
    if not dense_cholesky(lap, n):
        st.counters_status = SINGULAR
        return
    inv = st.circuit_linv[q]
    for r in range(n + 1):
        for col in range(n + 1):
            inv[r, col] = 0.0
        if r < n:
            inv[r, r] = 1.0
    chol_solve(lap, n, inv)
    for r in range(n + 1):
        inv[n, r] = 0.0
    st.circuit_linv_ok[q] = True


@jit
def rank1(st: KernelState, q: int, i: int, delta: float) -> None:
    """Sherman-Morrison update of circuit ``q`` for ``k[q, i] += delta`` (siemens)."""
    ensure_inverse(st, q)
    a = st.circuit_ends[i, 0]
    b = st.circuit_ends[i, 1]
    n1 = st.circuit_linv.shape[1]
    c = st.circuit_cons.shape[0]
    linv = st.circuit_linv[q]
    xq = st.circuit_x[q]
    w = st.circuit_w
    gx = st.circuit_gx
    for r in range(n1):
        w[r] = linv[r, a] - linv[r, b]
    f = delta / (1.0 + delta * (w[a] - w[b]))
    for j in range(c):
        gx[j] = xq[a, j] - xq[b, j]
    for i2 in range(c):
        for j in range(c):
            st.circuit_s[q, i2, j] -= f * gx[i2] * gx[j]
    for r in range(n1):
        fr = f * w[r]
        for col in range(n1):
            linv[r, col] -= fr * w[col]
        for j in range(c):
            xq[r, j] -= fr * gx[j]


@jit
def drift(st: KernelState, q: int) -> float:
    """Residual ``max |L x - C^T|`` of circuit ``q`` (dimensionless; 0 for a fresh solve)."""
    n1 = st.circuit_x.shape[1]
    c = st.circuit_cons.shape[0]
    res = np.zeros((n1, c))
    for i in range(st.circuit_ends.shape[0]):
        a = st.circuit_ends[i, 0]
        b = st.circuit_ends[i, 1]
        kk = st.circuit_k[q, i]
        for j in range(c):
            flux = kk * (st.circuit_x[q, a, j] - st.circuit_x[q, b, j])
            res[a, j] += flux
            res[b, j] -= flux
    for j in range(c):
        res[st.circuit_cons[j, 0], j] -= 1.0
        res[st.circuit_cons[j, 1], j] += 1.0
    worst = 0.0
    for r in range(n1 - 1):
        for j in range(c):
            worst = max(worst, abs(res[r, j]))
    return worst


@jit
def solve_examples(st: KernelState, q: int, rhs: np.ndarray, nn: int, out: np.ndarray) -> None:
    """``s[q][:nn, :nn] out = rhs[:nn]`` (currents, A, from values, V); flags a failure."""
    if not solve_small(st.circuit_s[q], rhs, nn, out, st.examples_sm):
        st.counters_status = SINGULAR


@jit
def _clamped_currents(st: KernelState, e: int, nudge: bool) -> None:
    """Clamped currents of example ``e`` for its current clamp values ``b[e]``.

    A circuit shared by the free and clamped states (linear model) solves for the difference
    ``mu_d = S^-1 [0; V_C - V_F]`` directly (``V_C - V_F = eta (V~ - V_F)`` with ``nudge``,
    without subtracting) and adds it to the free currents, so the drops' free-clamped difference
    is never formed by subtraction; separate circuits (transistor) solve ``S_C mu_c = b``.
    """
    c = st.examples_b.shape[1]
    ns = st.rule_n_sources
    qc = st.circuit_clamp_q[e]
    if qc != st.circuit_free_q[e]:
        solve_examples(st, qc, st.examples_b[e], c, st.examples_mu_c[e])
        for j in range(c):
            st.examples_mu_d[e, j] = st.examples_mu_c[e, j] - (
                st.examples_mu_f[e, j] if j < ns else 0.0
            )
        return
    rhs = st.examples_rhs
    eta = st.rule_eta
    for j in range(c):
        if j < ns:
            rhs[j] = 0.0
        elif nudge:
            rhs[j] = eta * (st.examples_desired[e, j - ns] - st.examples_out_f[e, j - ns])
        else:
            rhs[j] = st.examples_b[e, j] - st.examples_out_f[e, j - ns]
    solve_examples(st, qc, rhs, c, st.examples_mu_d[e])
    for j in range(c):
        st.examples_mu_c[e, j] = (st.examples_mu_f[e, j] if j < ns else 0.0) + st.examples_mu_d[
            e, j
        ]


@jit
def update_states(st: KernelState) -> None:
    """Free state, nudged targets and clamped state of every example; their powers (W)."""
    m = st.examples_b.shape[0]
    c = st.examples_b.shape[1]
    ns = st.rule_n_sources
    nt = c - ns
    eta = st.rule_eta
    instant = st.rule_tau_feedback_s <= 0.0
    p_free = 0.0
    p_clamped = 0.0
    for e in range(m):
        qf = st.circuit_free_q[e]
        solve_examples(st, qf, st.examples_b[e], ns, st.examples_mu_f[e])
        for j in range(nt):
            out = 0.0
            for col in range(ns):
                out += st.circuit_s[qf, ns + j, col] * st.examples_mu_f[e, col]
            st.examples_out_f[e, j] = out
            st.examples_c_inf[e, j] = out + eta * (st.examples_desired[e, j] - out)
            if instant:
                st.examples_b[e, ns + j] = st.examples_c_inf[e, j]
        _clamped_currents(st, e, instant)
        for col in range(ns):
            p_free += st.examples_mu_f[e, col] * st.examples_b[e, col]
        for col in range(c):
            p_clamped += st.examples_mu_c[e, col] * st.examples_b[e, col]
    st.energy_free_power_w = p_free / m
    st.energy_clamped_power_w = p_clamped / m


@jit
def clamped_only(st: KernelState) -> None:
    """Clamped currents and power (W) for the current clamp values (feedback loop moved them)."""
    c = st.examples_b.shape[1]
    p = 0.0
    for e in range(st.examples_b.shape[0]):
        _clamped_currents(st, e, False)
        for col in range(c):
            p += st.examples_mu_c[e, col] * st.examples_b[e, col]
    st.energy_clamped_power_w = p / st.examples_b.shape[0]


@jit
def commit(st: KernelState) -> None:
    """Apply every staged conductance change, then bring the states up to date.

    Few changes: one Sherman-Morrison update each. Many (more than ``solver.refactor_group``):
    a fresh factorisation is cheaper. Every ``solver.check_every`` updates the residual is
    checked; past the drift bound or ``solver.refactor_every`` updates, every circuit is
    refactorised.
    """
    g = 0
    for i in range(st.circuit_staged.shape[0]):
        if st.circuit_staged[i]:
            st.circuit_group[g] = i
            g += 1
    if g == 0:
        return
    big = g > st.solver_refactor_group
    for q in range(st.circuit_k.shape[0]):
        for gi in range(g):
            i = st.circuit_group[gi]
            delta = st.circuit_k_new[q, i] - st.circuit_k[q, i]
            if not big and delta != 0.0:
                rank1(st, q, i, delta)
            st.circuit_k[q, i] = st.circuit_k_new[q, i]
        if big:
            refactor(st, q)
    for gi in range(g):
        st.circuit_staged[st.circuit_group[gi]] = False
    st.counters_groups += 1
    if big:
        st.counters_refactors += 1
        st.counters_since = 0
        st.counters_check = 0
    else:
        st.counters_rank1 += g
        st.counters_since += g
        st.counters_check += g
        _control_drift(st)
    update_states(st)


@jit
def _control_drift(st: KernelState) -> None:
    if st.counters_check < st.solver_check_every and st.counters_since < st.solver_refactor_every:
        return
    st.counters_check = 0
    worst = 0.0
    for q in range(st.circuit_k.shape[0]):
        worst = max(worst, drift(st, q))
    st.counters_drift = worst
    st.counters_drift_max = max(st.counters_drift_max, worst)
    if worst > st.solver_drift_tol or st.counters_since >= st.solver_refactor_every:
        for q in range(st.circuit_k.shape[0]):
            refactor(st, q)
        st.counters_refactors += 1
        st.counters_since = 0
