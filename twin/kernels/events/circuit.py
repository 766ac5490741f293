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
from .state import State

__all__ = [
    "circuit_mu",
    "clamped_only",
    "commit",
    "drift",
    "edge_drop",
    "edge_mid",
    "ensure_inverse",
    "rank1",
    "refactor",
    "solve_examples",
    "update_states",
]


@jit
def edge_drop(st: State, q: int, i: int, mu: np.ndarray) -> float:
    """Voltage drop (V) of edge ``i`` in circuit ``q`` for constraint currents ``mu``."""
    a = st.circuit.ends[i, 0]
    b = st.circuit.ends[i, 1]
    x = st.circuit.x
    acc = 0.0
    for j in range(mu.shape[0]):
        acc += (x[q, a, j] - x[q, b, j]) * mu[j]
    return acc


@jit
def edge_mid(st: State, q: int, i: int, mu: np.ndarray) -> float:
    """Mid-point voltage ``(V_a + V_b) / 2`` (V) of edge ``i`` in circuit ``q``."""
    a = st.circuit.ends[i, 0]
    b = st.circuit.ends[i, 1]
    x = st.circuit.x
    acc = 0.0
    for j in range(mu.shape[0]):
        acc += (x[q, a, j] + x[q, b, j]) * mu[j]
    return 0.5 * acc


@jit
def circuit_mu(st: State, q: int) -> np.ndarray:
    """Constraint currents of the state that circuit ``q`` carries (transistor model)."""
    m = st.circuit.free_q.shape[0]
    if q < m:
        return st.examples.mu_f[q]
    return st.examples.mu_c[q - m]


@jit
def refactor(st: State, q: int) -> None:
    """Fresh basis ``x`` and Schur complement ``s`` of circuit ``q`` from its conductances.

    A Cholesky factorisation of the reduced Laplacian gives ``x = L^-1 C^T`` directly; the full
    inverse, needed only by rank-1 updates, is formed lazily (:func:`ensure_inverse`). Large
    networks (``solver.sparse``) use the sparse factorisation instead.
    """
    cir = st.circuit
    if st.solver.sparse:
        _refactor_sparse(st, q)
        return
    n = cir.linv.shape[1] - 1
    c = cir.cons.shape[0]
    lap = cir.lap
    _assemble_dense(st, q, lap)
    if not dense_cholesky(lap, n):
        st.counters.status = SINGULAR
        return
    xq = cir.x[q]
    for r in range(n + 1):
        for j in range(c):
            xq[r, j] = 0.0
    for j in range(c):
        if cir.cons[j, 0] < n:
            xq[cir.cons[j, 0], j] += 1.0
        if cir.cons[j, 1] < n:
            xq[cir.cons[j, 1], j] -= 1.0
    chol_solve(lap, n, xq)
    for i in range(c):
        for j in range(c):
            cir.s[q, i, j] = xq[cir.cons[i, 0], j] - xq[cir.cons[i, 1], j]
    cir.linv_ok[q] = False


@jit
def _refactor_sparse(st: State, q: int) -> None:
    """:func:`refactor` of circuit ``q`` by sparse factorisation (``O(nnz)``, not ``O(n^3)``)."""
    cir = st.circuit
    fa = st.factor
    n = cir.x.shape[1] - 1
    c = cir.cons.shape[0]
    layout = (fa.colptr, fa.rowind, fa.rlptr, fa.rlcol, fa.rlpos, fa.tstart, fa.diagpos, fa.ends,
              fa.offdiag, fa.cidx, fa.cval)  # fmt: skip
    ne = cir.ends.shape[0]
    if not sparse_basis(cir.k[q], ne, n, st.solver.split, st.solver.first, layout, fa.v, fa.pos,
                        fa.x, cir.s[q]):  # fmt: skip
        st.counters.status = SINGULAR
        return
    xq = cir.x[q]
    for r in range(n):
        row = fa.perm[r]
        for j in range(c):
            xq[row, j] = fa.x[r, j]
    cir.linv_ok[q] = False


@jit
def _assemble_dense(st: State, q: int, lap: np.ndarray) -> None:
    """Laplacian of circuit ``q`` (S) into ``lap``, ground row and column included."""
    n1 = lap.shape[0]
    for r in range(n1):
        for col in range(n1):
            lap[r, col] = 0.0
    ends = st.circuit.ends
    for i in range(ends.shape[0]):
        a = ends[i, 0]
        b = ends[i, 1]
        kk = st.circuit.k[q, i]
        lap[a, a] += kk
        lap[b, b] += kk
        lap[a, b] -= kk
        lap[b, a] -= kk


@jit
def ensure_inverse(st: State, q: int) -> None:
    """Form ``linv[q]`` (zero ground row/column) if a refactorisation left it stale."""
    cir = st.circuit
    if cir.linv_ok[q]:
        return
    n = cir.linv.shape[1] - 1
    lap = cir.lap
    _assemble_dense(st, q, lap)
    if not dense_cholesky(lap, n):
        st.counters.status = SINGULAR
        return
    inv = cir.linv[q]
    for r in range(n + 1):
        for col in range(n + 1):
            inv[r, col] = 0.0
        if r < n:
            inv[r, r] = 1.0
    chol_solve(lap, n, inv)
    for r in range(n + 1):
        inv[n, r] = 0.0
    cir.linv_ok[q] = True


@jit
def rank1(st: State, q: int, i: int, delta: float) -> None:
    """Sherman-Morrison update of circuit ``q`` for ``k[q, i] += delta`` (siemens)."""
    ensure_inverse(st, q)
    cir = st.circuit
    a = cir.ends[i, 0]
    b = cir.ends[i, 1]
    n1 = cir.linv.shape[1]
    c = cir.cons.shape[0]
    linv = cir.linv[q]
    xq = cir.x[q]
    w = cir.w
    gx = cir.gx
    for r in range(n1):
        w[r] = linv[r, a] - linv[r, b]
    f = delta / (1.0 + delta * (w[a] - w[b]))
    for j in range(c):
        gx[j] = xq[a, j] - xq[b, j]
    for i2 in range(c):
        for j in range(c):
            cir.s[q, i2, j] -= f * gx[i2] * gx[j]
    for r in range(n1):
        fr = f * w[r]
        for col in range(n1):
            linv[r, col] -= fr * w[col]
        for j in range(c):
            xq[r, j] -= fr * gx[j]


@jit
def drift(st: State, q: int) -> float:
    """Residual ``max |L x - C^T|`` of circuit ``q`` (dimensionless; 0 for a fresh solve)."""
    cir = st.circuit
    n1 = cir.x.shape[1]
    c = cir.cons.shape[0]
    res = np.zeros((n1, c))
    for i in range(cir.ends.shape[0]):
        a = cir.ends[i, 0]
        b = cir.ends[i, 1]
        kk = cir.k[q, i]
        for j in range(c):
            flux = kk * (cir.x[q, a, j] - cir.x[q, b, j])
            res[a, j] += flux
            res[b, j] -= flux
    for j in range(c):
        res[cir.cons[j, 0], j] -= 1.0
        res[cir.cons[j, 1], j] += 1.0
    worst = 0.0
    for r in range(n1 - 1):
        for j in range(c):
            worst = max(worst, abs(res[r, j]))
    return worst


@jit
def solve_examples(st: State, q: int, rhs: np.ndarray, nn: int, out: np.ndarray) -> None:
    """``s[q][:nn, :nn] out = rhs[:nn]`` (currents, A, from values, V); flags a failure."""
    if not solve_small(st.circuit.s[q], rhs, nn, out, st.examples.sm):
        st.counters.status = SINGULAR


@jit
def _clamped_currents(st: State, e: int, nudge: bool) -> None:
    """Clamped currents of example ``e`` for its current clamp values ``b[e]``.

    A circuit shared by the free and clamped states (linear model) solves for the difference
    ``mu_d = S^-1 [0; V_C - V_F]`` directly (``V_C - V_F = eta (V~ - V_F)`` with ``nudge``,
    without subtracting) and adds it to the free currents, so the drops' free-clamped difference
    is never formed by subtraction; separate circuits (transistor) solve ``S_C mu_c = b``.
    """
    ex = st.examples
    c = ex.b.shape[1]
    ns = st.rule.n_sources
    qc = st.circuit.clamp_q[e]
    if qc != st.circuit.free_q[e]:
        solve_examples(st, qc, ex.b[e], c, ex.mu_c[e])
        for j in range(c):
            ex.mu_d[e, j] = ex.mu_c[e, j] - (ex.mu_f[e, j] if j < ns else 0.0)
        return
    rhs = ex.rhs
    eta = st.rule.eta
    for j in range(c):
        if j < ns:
            rhs[j] = 0.0
        elif nudge:
            rhs[j] = eta * (ex.desired[e, j - ns] - ex.out_f[e, j - ns])
        else:
            rhs[j] = ex.b[e, j] - ex.out_f[e, j - ns]
    solve_examples(st, qc, rhs, c, ex.mu_d[e])
    for j in range(c):
        ex.mu_c[e, j] = (ex.mu_f[e, j] if j < ns else 0.0) + ex.mu_d[e, j]


@jit
def update_states(st: State) -> None:
    """Free state, nudged targets and clamped state of every example; their powers (W)."""
    ex = st.examples
    m = ex.b.shape[0]
    c = ex.b.shape[1]
    ns = st.rule.n_sources
    nt = c - ns
    eta = st.rule.eta
    instant = st.rule.tau_feedback_s <= 0.0
    p_free = 0.0
    p_clamped = 0.0
    for e in range(m):
        qf = st.circuit.free_q[e]
        solve_examples(st, qf, ex.b[e], ns, ex.mu_f[e])
        for j in range(nt):
            out = 0.0
            for col in range(ns):
                out += st.circuit.s[qf, ns + j, col] * ex.mu_f[e, col]
            ex.out_f[e, j] = out
            ex.c_inf[e, j] = out + eta * (ex.desired[e, j] - out)
            if instant:
                ex.b[e, ns + j] = ex.c_inf[e, j]
        _clamped_currents(st, e, instant)
        for col in range(ns):
            p_free += ex.mu_f[e, col] * ex.b[e, col]
        for col in range(c):
            p_clamped += ex.mu_c[e, col] * ex.b[e, col]
    st.energy.free_power_w = p_free / m
    st.energy.clamped_power_w = p_clamped / m


@jit
def clamped_only(st: State) -> None:
    """Clamped currents and power (W) for the current clamp values (feedback loop moved them)."""
    ex = st.examples
    c = ex.b.shape[1]
    p = 0.0
    for e in range(ex.b.shape[0]):
        _clamped_currents(st, e, False)
        for col in range(c):
            p += ex.mu_c[e, col] * ex.b[e, col]
    st.energy.clamped_power_w = p / ex.b.shape[0]


@jit
def commit(st: State) -> None:
    """Apply every staged conductance change, then bring the states up to date.

    Few changes: one Sherman-Morrison update each. Many (more than ``solver.refactor_group``):
    a fresh factorisation is cheaper. Every ``solver.check_every`` updates the residual is
    checked; past the drift bound or ``solver.refactor_every`` updates, every circuit is
    refactorised.
    """
    cir = st.circuit
    ctr = st.counters
    g = 0
    for i in range(cir.staged.shape[0]):
        if cir.staged[i]:
            cir.group[g] = i
            g += 1
    if g == 0:
        return
    big = g > st.solver.refactor_group
    for q in range(cir.k.shape[0]):
        for gi in range(g):
            i = cir.group[gi]
            delta = cir.k_new[q, i] - cir.k[q, i]
            if not big and delta != 0.0:
                rank1(st, q, i, delta)
            cir.k[q, i] = cir.k_new[q, i]
        if big:
            refactor(st, q)
    for gi in range(g):
        cir.staged[cir.group[gi]] = False
    ctr.groups += 1
    if big:
        ctr.refactors += 1
        ctr.since = 0
        ctr.check = 0
    else:
        ctr.rank1 += g
        ctr.since += g
        ctr.check += g
        _control_drift(st)
    update_states(st)


@jit
def _control_drift(st: State) -> None:
    ctr = st.counters
    sv = st.solver
    if ctr.check < sv.check_every and ctr.since < sv.refactor_every:
        return
    ctr.check = 0
    worst = 0.0
    for q in range(st.circuit.k.shape[0]):
        worst = max(worst, drift(st, q))
    ctr.drift = worst
    ctr.drift_max = max(ctr.drift_max, worst)
    if worst > sv.drift_tol or ctr.since >= sv.refactor_every:
        for q in range(st.circuit.k.shape[0]):
            refactor(st, q)
        ctr.refactors += 1
        ctr.since = 0
