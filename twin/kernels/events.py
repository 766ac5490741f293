"""Compiled (numba) core of the event-driven twin: every function here runs in nopython mode.

All compiled code lives in this one module on purpose: numba's on-disk cache (``cache=True``)
is invalidated by changes to the file a function is defined in, not by changes to the files it
calls, so keeping callers and callees together means an edit can never leave a stale kernel.

The public concept modules (:mod:`.edge`, :mod:`.devices`, :mod:`.clocks`, :mod:`.noise`,
:mod:`.network_state`) document the physics; this module implements it on plain arrays gathered
in one :class:`State` named tuple. Conventions:

- reduced node indices ``0..n-1``; index ``n`` is "ground / none" and every node-indexed array
  has ``n + 1`` rows whose last one stays zero, so an edge to ground needs no branch;
- ``Q`` circuits, each with its own conductances ``k[q]``, inverse reduced Laplacian
  ``linv[q]``, constraint response ``x[q] = linv[q] C^T`` and Schur complement ``s[q] = C x[q]``
  (PHYSICS.md sections 1-2; :mod:`twin.physics.solver` uses the same basis). The linear model
  shares one
  circuit between free and clamped states; the transistor model has one per state and example
  because a transistor's conductance depends on its own node voltages.
- random numbers are counter-based (a SplitMix64 hash of ``(key, stream, counter)``), so a draw
  depends only on the edge and how many draws that edge made before, never on event order or on
  how events are batched.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, NamedTuple

import numba
import numpy as np
from numba.core import types
from numba.experimental import structref

__all__: list[str] = []  # private module: imported by the concept modules only

# ----------------------------------------------------------------------------- index constants

# clock kinds
SYNC, BERNOULLI, POISSON, PERIODIC, CONTINUOUS = 0, 1, 2, 3, 4
# device kinds
LINEAR, TRANSISTOR = 0, 1

# per-edge parameter columns of State.epar
C_GATE, R_CHARGE, A_FREE, A_CLAMP, TAU_LEAK, V_REST, V_MIN, V_MAX, OFFSET, DEV0, DEV1, DEV2 = range(
    12
)
PERIOD = 12
N_EPAR = 13

# integer parameters State.ipar
I_NSRC, I_CLOCK, I_DEVICE, I_REFACTOR_EVERY, I_CHECK_EVERY, I_REFACTOR_GROUP = range(6)
I_SPARSE, I_SPLIT, I_FIRST = 6, 7, 8  # sparse path on (0/1), dense block start, constraint block
N_IPAR = 9
# integer run counters State.icnt
C_TICK, C_EVENTS, C_GROUPS, C_RANK1, C_REFACTORS, C_SINCE, C_CHECK = range(7)
N_ICNT = 7
# float parameters State.fpar
F_LAM, F_ETA, F_TAU_FB, F_SIG_GATE, F_SIG_MEAS, F_RATE, F_P, F_JITTER, F_DQ, F_DRIFT_TOL = range(10)
N_FPAR = 10
# float accumulators State.acc
A_T_ENERGY, A_E_FREE, A_E_CLAMPED, A_E_GATE, A_P_FREE, A_P_CLAMPED, A_DRIFT_MAX, A_DRIFT = range(8)
N_ACC = 8

# random streams (high bits of the stream id)
S_NOISE, S_CLOCK = 1, 2


class State(NamedTuple):
    """Everything the kernel reads and mutates; arrays only (mutated in place)."""

    # structure
    ends: np.ndarray  # (E, 2) int64 reduced node indices, n = ground
    cons: np.ndarray  # (c, 2) int64 constraint rows as (+node, -node), n = none
    free_q: np.ndarray  # (m,) int64 circuit of the free state of each example
    clamp_q: np.ndarray  # (m,) int64 circuit of the clamped state of each example
    # circuits
    k: np.ndarray  # (Q, E) conductances, S
    k_new: np.ndarray  # (Q, E) staged conductances, S
    staged: np.ndarray  # (E,) bool
    linv: np.ndarray  # (Q, n+1, n+1); (Q, 1, 1) on the sparse path (no rank-1 updates)
    x: np.ndarray  # (Q, n+1, c)
    s: np.ndarray  # (Q, c, c)
    # examples
    b: np.ndarray  # (m, c) constraint values: sources, then current clamp values, V
    desired: np.ndarray  # (m, t) desired target values, V
    c_inf: np.ndarray  # (m, t) nudged targets V_F + eta (V~ - V_F), V
    out_f: np.ndarray  # (m, t) free-state target values, V
    mu_f: np.ndarray  # (m, c) free constraint currents (target slots zero), A
    mu_c: np.ndarray  # (m, c) clamped constraint currents, A
    # edges
    epar: np.ndarray  # (E, N_EPAR) per-edge parameters
    v_gate: np.ndarray  # (E,) gate voltage at t_gate, V
    t_gate: np.ndarray  # (E,) time the gate was last advanced, s
    t_noise: np.ndarray  # (E,) time of the last noise increment, s
    drive: np.ndarray  # (E,) held charging drive (voltage across R_charge), V
    q_gate: np.ndarray  # (E,) gate voltage the network last saw (continuous clock), V
    next_t: np.ndarray  # (E,) next event time per edge (poisson/periodic/continuous), s
    n_noise: np.ndarray  # (E,) int64 noise draws made per edge
    n_clock: np.ndarray  # (E,) int64 clock draws made per edge
    edge_events: np.ndarray  # (E,) int64 events per edge
    # run
    ipar: np.ndarray  # (N_IPAR,) int64
    icnt: np.ndarray  # (N_ICNT,) int64
    fpar: np.ndarray  # (N_FPAR,) float64
    acc: np.ndarray  # (N_ACC,) float64
    keys: np.ndarray  # (2,) uint64: noise key, clock key
    group: np.ndarray  # (E,) int64 scratch: edges of the current group
    linv_ok: np.ndarray  # (Q,) bool: linv[q] is current (refactor computes it lazily)
    w: np.ndarray  # (n+1,) scratch
    gx: np.ndarray  # (c,) scratch
    sm: np.ndarray  # (c, c+1) scratch for small solves
    lap: np.ndarray  # (n+1, n+1) scratch: Laplacian, then its Cholesky factor; (1, 1) if sparse
    log_t: np.ndarray  # (L,) times of the first L edge events, s (L = 0: no log)
    log_e: np.ndarray  # (L,) int64 edges of the first L edge events
    # sparse path (ipar[I_SPARSE] = 1; placeholders of length 1 otherwise): the factor structure
    # of twin._kernels (elimination order, compressed sparse columns, dense trailing block)
    sp_colptr: np.ndarray  # (split + 1,) int64
    sp_rowind: np.ndarray  # (nnz,) int64
    sp_rlptr: np.ndarray  # (split + 1,) int64 row lists of the sparse columns
    sp_rlcol: np.ndarray  # int64
    sp_rlpos: np.ndarray  # int64
    sp_tstart: np.ndarray  # (split,) int64
    sp_diagpos: np.ndarray  # (n,) int64
    sp_ends: np.ndarray  # (E, 2) int64 edge ends in elimination order, n = ground
    sp_offdiag: np.ndarray  # (E,) int64
    sp_cidx: np.ndarray  # (c, 2) int64 constraint terms in elimination order, -1 = none
    sp_cval: np.ndarray  # (c, 2) their coefficients
    sp_perm: np.ndarray  # (n,) int64 perm[new] = old reduced node index
    sp_v: np.ndarray  # (values,) scratch: factor values
    sp_pos: np.ndarray  # (n,) int64 scratch
    sp_x: np.ndarray  # (n + 1, cw) scratch: basis in elimination order, cw = 4 ceil(c / 4)


_jit = numba.njit(cache=True, nogil=True)
_inline = _jit  # hot-path functions (a marker: small enough for LLVM to inline)
Arr = np.ndarray


@structref.register
class KernelStateType(types.StructRef):
    """Numba type of :class:`KernelState`."""

    def preprocess_fields(self, fields: Any) -> tuple[tuple[str, Any], ...]:
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


if TYPE_CHECKING:
    KernelState = State  # to type checkers the handle has the named tuple's fields
else:

    class KernelState(structref.StructRefProxy):
        """The kernel's handle on a :class:`State`: one reference-counted struct of its arrays.

        Passing the named tuple itself to compiled functions costs a reference-count update per
        array per call (~0.3 us with ~45 arrays, more than the arithmetic of an edge event); a
        structref is one pointer. Build it as ``KernelState(*state)``: it shares the arrays, so
        the named tuple stays the Python-side view.
        """

    structref.define_proxy(KernelState, KernelStateType, list(State._fields))

# ----------------------------------------------------------------------------- random numbers

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_S32 = np.uint64(32)


@_jit
def splitmix64(z: np.uint64) -> np.uint64:
    """SplitMix64 finaliser: a bijective 64-bit hash."""
    z = z + _GOLDEN
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@_jit
def _hash3(key: np.uint64, stream: int, counter: int) -> np.uint64:
    h = splitmix64(key ^ splitmix64(np.uint64(stream)))
    return splitmix64(h ^ np.uint64(counter))


@_jit
def uniform(key: np.uint64, stream: int, counter: int) -> float:
    """Uniform draw in ``(0, 1)`` for ``(key, stream, counter)``."""
    return ((_hash3(key, stream, counter) >> _S11) + 0.5) * (1.0 / 9007199254740992.0)


@_jit
def normal(key: np.uint64, stream: int, counter: int) -> float:
    """Standard normal draw (Box-Muller on two hashed uniforms)."""
    h = _hash3(key, stream, counter)
    u1 = ((h >> _S11) + 0.5) * (1.0 / 9007199254740992.0)
    u2 = ((splitmix64(h) >> _S11) + 0.5) * (1.0 / 9007199254740992.0)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@_jit
def stream_id(kind: int, edge: int) -> int:
    return int(np.int64(kind) * np.int64(4294967296) + np.int64(edge))


# ----------------------------------------------------------------------------- devices


@_jit
def conductance(kind: int, p0: float, p1: float, p2: float, v_gate: float, v_mid: float) -> float:
    """Edge conductance (S) for gate voltage ``v_gate`` and mid-point voltage ``v_mid`` (V).

    Linear: ``p0 * (v_gate - p1)`` (slope S/V, zero-conductance gate voltage V).
    Transistor: ``p0 * n * softplus((v_gate - p1 - v_mid) / n)`` with ``n = p2 / ln 10``: the
    ohmic-region ``S (V_G - V_t - V_mid)`` above threshold, ``p2`` volts per decade below.
    """
    if kind == LINEAR:
        return p0 * (v_gate - p1)
    n = p2 / math.log(10.0)
    z = (v_gate - p1 - v_mid) / n
    sp = z + math.log1p(math.exp(-z)) if z > 0.0 else math.log1p(math.exp(z))
    return p0 * n * sp


# ----------------------------------------------------------------------------- capacitor


@_jit
def gate_advance(
    v0: float, dt: float, drive_v: float, c_f: float, r_ohm: float, tau_s: float, v_rest: float
) -> float:
    """Exact gate voltage after ``dt`` seconds of constant drive and leak (no rails).

    ``dV/dt = drive / (R C) - (V - v_rest) / tau``; ``tau = inf`` means no leak.
    """
    rate = drive_v / (r_ohm * c_f)
    if not math.isfinite(tau_s):
        return v0 + rate * dt
    v_inf = v_rest + tau_s * rate
    return v0 + (v_inf - v0) * (-math.expm1(-dt / tau_s))


@_jit
def gate_noise_std(dt: float, sig: float, tau_s: float) -> float:
    """Standard deviation (V) of the gate's noise increment over ``dt`` seconds.

    ``sig`` is the white-noise amplitude of dV_G/dt (V/sqrt(s)); with leak the increment is that
    of an Ornstein-Uhlenbeck process.
    """
    if dt <= 0.0 or sig <= 0.0:
        return 0.0
    if not math.isfinite(tau_s):
        return sig * math.sqrt(dt)
    return sig * math.sqrt(0.5 * tau_s * (-math.expm1(-2.0 * dt / tau_s)))


@_jit
def crossing_time(
    v: float,
    q: float,
    dq: float,
    drive_v: float,
    c_f: float,
    r_ohm: float,
    tau_s: float,
    v_rest: float,
    v_min: float,
    v_max: float,
) -> float:
    """Time (s, from now) until the gate at ``v`` has moved ``dq`` from ``q`` (or hits a rail).

    Returns ``inf`` if it never does under the current drive and leak.
    """
    rate = drive_v / (r_ohm * c_f)
    slope = rate - (v - v_rest) / tau_s if math.isfinite(tau_s) else rate
    if slope > 0.0:
        target = min(q + dq, v_max)
        if target <= v:
            return math.inf
    elif slope < 0.0:
        target = max(q - dq, v_min)
        if target >= v:
            return math.inf
    else:
        return math.inf
    if abs(target - v) <= 1e-9 * dq:
        return math.inf  # at a rail (to rounding): it will not move further this way
    if not math.isfinite(tau_s):
        return max((target - v) / rate, 0.0)
    v_inf = v_rest + tau_s * rate
    ratio = (v_inf - v) / (v_inf - target)
    if ratio <= 0.0 or (v_inf - target) * slope <= 0.0:
        return math.inf
    return max(tau_s * math.log(ratio), 0.0)


# ----------------------------------------------------------------------------- small algebra


@_jit
def solve_small(a: np.ndarray, rhs: np.ndarray, nn: int, out: np.ndarray, m: np.ndarray) -> None:
    """Solve ``a[:nn, :nn] y = rhs[:nn]`` into ``out[:nn]`` (Gauss, partial pivoting).

    ``m`` is scratch space of shape at least ``(nn, nn + 1)``.
    """
    for i in range(nn):
        for j in range(nn):
            m[i, j] = a[i, j]
        m[i, nn] = rhs[i]
    for col in range(nn):
        piv = col
        for r in range(col + 1, nn):
            if abs(m[r, col]) > abs(m[piv, col]):
                piv = r
        if piv != col:
            for j in range(nn + 1):
                tmp = m[col, j]
                m[col, j] = m[piv, j]
                m[piv, j] = tmp
        for r in range(col + 1, nn):
            f = m[r, col] / m[col, col]
            for j in range(col, nn + 1):
                m[r, j] -= f * m[col, j]
    for i in range(nn - 1, -1, -1):
        acc = m[i, nn]
        for j in range(i + 1, nn):
            acc -= m[i, j] * out[j]
        out[i] = acc / m[i, i]


@_inline
def edge_drop(st: State, q: int, i: int, mu: np.ndarray) -> float:
    """Voltage drop (V) of edge ``i`` in circuit ``q`` for constraint currents ``mu``."""
    a = st.ends[i, 0]
    b = st.ends[i, 1]
    acc = 0.0
    for j in range(mu.shape[0]):
        acc += (st.x[q, a, j] - st.x[q, b, j]) * mu[j]
    return acc


@_inline
def edge_mid(st: State, q: int, i: int, mu: np.ndarray) -> float:
    """Mid-point voltage ``(V_a + V_b) / 2`` (V) of edge ``i`` in circuit ``q``."""
    a = st.ends[i, 0]
    b = st.ends[i, 1]
    acc = 0.0
    for j in range(mu.shape[0]):
        acc += (st.x[q, a, j] + st.x[q, b, j]) * mu[j]
    return 0.5 * acc


@_inline
def circuit_mu(st: State, q: int) -> np.ndarray:
    """Constraint currents of the state that circuit ``q`` carries (transistor model)."""
    m = st.free_q.shape[0]
    if q < m:
        return st.mu_f[q]
    return st.mu_c[q - m]


# ----------------------------------------------------------------------------- circuits


@_jit
def _cholesky(a: np.ndarray, nn: int) -> None:
    """In-place lower Cholesky factor of the SPD ``a[:nn, :nn]`` (upper part left as is)."""
    if nn > 96:  # LAPACK's blocked factorisation wins on big matrices
        a[:nn, :nn] = np.linalg.cholesky(a[:nn, :nn])
        return
    for j in range(nn):
        d = a[j, j]
        for p in range(j):
            d -= a[j, p] * a[j, p]
        d = math.sqrt(d)
        a[j, j] = d
        for r in range(j + 1, nn):
            acc = a[r, j]
            for p in range(j):
                acc -= a[r, p] * a[j, p]
            a[r, j] = acc / d


@_jit
def _chol_solve(f: np.ndarray, nn: int, y: np.ndarray) -> None:
    """Solve ``F F^T z = y`` in place for the columns of ``y[:nn, :]`` (``F`` lower, in ``f``)."""
    for col in range(y.shape[1]):
        for r in range(nn):
            acc = y[r, col]
            for p in range(r):
                acc -= f[r, p] * y[p, col]
            y[r, col] = acc / f[r, r]
        for r in range(nn - 1, -1, -1):
            acc = y[r, col]
            for p in range(r + 1, nn):
                acc -= f[p, r] * y[p, col]
            y[r, col] = acc / f[r, r]


@_jit
def refactor(st: State, q: int) -> None:
    """Fresh basis ``x`` and Schur complement ``s`` of circuit ``q`` from its conductances.

    A Cholesky factorisation of the reduced Laplacian gives ``x = L^-1 C^T`` directly; the full
    inverse, needed only by rank-1 updates, is formed lazily (:func:`ensure_inverse`). Large
    networks (``ipar[I_SPARSE]``) use the sparse factorisation instead (:func:`refactor_sparse`).
    """
    if st.ipar[I_SPARSE] != 0:
        refactor_sparse(st, q)
        return
    n = st.linv.shape[1] - 1
    c = st.cons.shape[0]
    lap = st.lap
    _assemble(st, q, lap)
    _cholesky(lap, n)
    xq = st.x[q]
    for r in range(n + 1):
        for j in range(c):
            xq[r, j] = 0.0
    for j in range(c):
        if st.cons[j, 0] < n:
            xq[st.cons[j, 0], j] += 1.0
        if st.cons[j, 1] < n:
            xq[st.cons[j, 1], j] -= 1.0
    _chol_solve(lap, n, xq)
    for i in range(c):
        for j in range(c):
            st.s[q, i, j] = xq[st.cons[i, 0], j] - xq[st.cons[i, 1], j]
    st.linv_ok[q] = False


@_jit
def _assemble(st: State, q: int, lap: np.ndarray) -> None:
    n1 = lap.shape[0]
    for r in range(n1):
        for col in range(n1):
            lap[r, col] = 0.0
    for i in range(st.ends.shape[0]):
        a = st.ends[i, 0]
        b = st.ends[i, 1]
        kk = st.k[q, i]
        lap[a, a] += kk
        lap[b, b] += kk
        lap[a, b] -= kk
        lap[b, a] -= kk


@_inline
def ensure_inverse(st: State, q: int) -> None:
    """Form ``linv[q]`` (zero ground row/column) if a refactorisation left it stale."""
    if st.linv_ok[q]:
        return
    n = st.linv.shape[1] - 1
    lap = st.lap
    _assemble(st, q, lap)
    _cholesky(lap, n)
    inv = st.linv[q]
    for r in range(n + 1):
        for col in range(n + 1):
            inv[r, col] = 0.0
        if r < n:
            inv[r, r] = 1.0
    _chol_solve(lap, n, inv)
    for r in range(n + 1):
        inv[n, r] = 0.0
    st.linv_ok[q] = True


@_inline
def rank1(st: State, q: int, i: int, delta: float) -> None:
    """Sherman-Morrison update of circuit ``q`` for ``k[q, i] += delta`` (siemens)."""
    ensure_inverse(st, q)
    a = st.ends[i, 0]
    b = st.ends[i, 1]
    n1 = st.linv.shape[1]
    c = st.cons.shape[0]
    linv = st.linv[q]
    xq = st.x[q]
    w = st.w
    gx = st.gx
    for r in range(n1):
        w[r] = linv[r, a] - linv[r, b]
    f = delta / (1.0 + delta * (w[a] - w[b]))
    for j in range(c):
        gx[j] = xq[a, j] - xq[b, j]
    for i2 in range(c):
        for j in range(c):
            st.s[q, i2, j] -= f * gx[i2] * gx[j]
    for r in range(n1):
        fr = f * w[r]
        for col in range(n1):
            linv[r, col] -= fr * w[col]
        for j in range(c):
            xq[r, j] -= fr * gx[j]


@_jit
def drift(st: State, q: int) -> float:
    """Residual ``max |L x - C^T|`` of circuit ``q`` (dimensionless; 0 for a fresh solve)."""
    n1 = st.x.shape[1]
    c = st.cons.shape[0]
    res = np.zeros((n1, c))
    for i in range(st.ends.shape[0]):
        a = st.ends[i, 0]
        b = st.ends[i, 1]
        kk = st.k[q, i]
        for j in range(c):
            flux = kk * (st.x[q, a, j] - st.x[q, b, j])
            res[a, j] += flux
            res[b, j] -= flux
    for j in range(c):
        res[st.cons[j, 0], j] -= 1.0
        res[st.cons[j, 1], j] += 1.0
    worst = 0.0
    for r in range(n1 - 1):
        for j in range(c):
            worst = max(worst, abs(res[r, j]))
    return worst


@_inline
def update_states(st: State) -> None:
    """Free state, nudged targets and clamped state of every example; their powers (W)."""
    m = st.b.shape[0]
    c = st.b.shape[1]
    ns = st.ipar[I_NSRC]
    nt = c - ns
    eta = st.fpar[F_ETA]
    instant = st.fpar[F_TAU_FB] <= 0.0
    p_free = 0.0
    p_clamped = 0.0
    for e in range(m):
        qf = st.free_q[e]
        solve_small(st.s[qf], st.b[e], ns, st.mu_f[e], st.sm)
        for j in range(nt):
            out = 0.0
            for col in range(ns):
                out += st.s[qf, ns + j, col] * st.mu_f[e, col]
            st.out_f[e, j] = out
            st.c_inf[e, j] = out + eta * (st.desired[e, j] - out)
            if instant:
                st.b[e, ns + j] = st.c_inf[e, j]
        solve_small(st.s[st.clamp_q[e]], st.b[e], c, st.mu_c[e], st.sm)
        for col in range(ns):
            p_free += st.mu_f[e, col] * st.b[e, col]
        for col in range(c):
            p_clamped += st.mu_c[e, col] * st.b[e, col]
    st.acc[A_P_FREE] = p_free / m
    st.acc[A_P_CLAMPED] = p_clamped / m


@_jit
def clamped_energy(st: State, dt: float) -> float:
    """Clamped-network energy (J) over the next ``dt`` seconds with no conductance change.

    With an instantaneous nudge the power is constant; with a feedback loop of time constant
    ``tau`` the clamp values relax exponentially and the power, a quadratic form in them, is
    integrated in closed form.
    """
    tau = st.fpar[F_TAU_FB]
    if tau <= 0.0 or dt <= 0.0:
        return st.acc[A_P_CLAMPED] * dt
    m = st.b.shape[0]
    c = st.b.shape[1]
    ns = st.ipar[I_NSRC]
    b0 = np.empty(c)
    d = np.zeros(c)
    z0 = np.empty(c)
    z1 = np.empty(c)
    e1 = -math.expm1(-dt / tau)
    e2 = -math.expm1(-2.0 * dt / tau)
    total = 0.0
    for e in range(m):
        for j in range(c):
            b0[j] = st.b[e, j]
        for j in range(c - ns):
            b0[ns + j] = st.c_inf[e, j]
            d[ns + j] = st.b[e, ns + j] - st.c_inf[e, j]
        q = st.clamp_q[e]
        solve_small(st.s[q], b0, c, z0, st.sm)
        solve_small(st.s[q], d, c, z1, st.sm)
        p0 = 0.0
        p1 = 0.0
        p2 = 0.0
        for j in range(c):
            p0 += b0[j] * z0[j]
            p1 += d[j] * z0[j]
            p2 += d[j] * z1[j]
        total += p0 * dt + 2.0 * p1 * tau * e1 + 0.5 * p2 * tau * e2
    return total / m


@_inline
def prepare(st: State, t: float) -> None:
    """Book the energy dissipated up to ``t`` and move the clamp values to ``t``.

    Idempotent at one instant; every event group calls it before changing anything.
    """
    dt = t - st.acc[A_T_ENERGY]
    if dt <= 0.0:
        return
    st.acc[A_E_FREE] += st.acc[A_P_FREE] * dt
    tau = st.fpar[F_TAU_FB]
    if tau <= 0.0:
        st.acc[A_E_CLAMPED] += st.acc[A_P_CLAMPED] * dt
    else:
        st.acc[A_E_CLAMPED] += clamped_energy(st, dt)
        f = math.exp(-dt / tau)
        ns = st.ipar[I_NSRC]
        for e in range(st.b.shape[0]):
            for j in range(st.c_inf.shape[1]):
                st.b[e, ns + j] = st.c_inf[e, j] + (st.b[e, ns + j] - st.c_inf[e, j]) * f
        _clamped_only(st)
    st.acc[A_T_ENERGY] = t


@_inline
def _clamped_only(st: State) -> None:
    c = st.b.shape[1]
    p = 0.0
    for e in range(st.b.shape[0]):
        solve_small(st.s[st.clamp_q[e]], st.b[e], c, st.mu_c[e], st.sm)
        for col in range(c):
            p += st.mu_c[e, col] * st.b[e, col]
    st.acc[A_P_CLAMPED] = p / st.b.shape[0]


# ----------------------------------------------------------------------------- sparse circuits
# Large networks: ``x = L^-1 C^T`` from a sparse Cholesky factorisation whose ordering and
# symbolic structure are fixed at build time
# (:func:`twin.simulation.network_state.sparse_structure`, which reuses
# :mod:`twin.kernels.trainer`' set-up). The numeric routines below are verbatim copies of
# :mod:`twin.kernels.trainer`' (``_assemble`` renamed ``_assemble_sparse``): numba's cache would not
# notice a change to a callee in another file, so they live here; ``tests/simulation`` checks the
# copies against the originals.


@_jit
def refactor_sparse(st: State, q: int) -> None:
    """:func:`refactor` of circuit ``q`` by sparse factorisation (``O(nnz)``, not ``O(n^3)``)."""
    n = st.x.shape[1] - 1
    c = st.cons.shape[0]
    split = st.ipar[I_SPLIT]
    nt = n - split
    v = st.sp_v
    _assemble_sparse(
        st.k[q], st.ends.shape[0], st.sp_ends, n, st.sp_diagpos, st.sp_offdiag, v.shape[0], v
    )
    ok = _factor_sparse(split, nt, st.sp_colptr, st.sp_rowind, st.sp_rlptr, st.sp_rlcol,
                        st.sp_rlpos, st.sp_tstart, v, st.sp_pos)  # fmt: skip
    base = st.sp_colptr[split]
    if not (ok and _factor_dense(v[base : base + nt * nt].reshape((nt, nt)))):
        raise ValueError("twin: the reduced Laplacian is not positive definite")
    xs = st.sp_x
    _basis(n, split, st.ipar[I_FIRST], st.sp_colptr, st.sp_rowind, v, st.sp_cidx, st.sp_cval,
           xs, st.s[q])  # fmt: skip
    xq = st.x[q]
    for r in range(n):
        row = st.sp_perm[r]
        for j in range(c):
            xq[row, j] = xs[r, j]
    st.linv_ok[q] = False


@_jit
def _assemble_sparse(
    k: Arr, ne: int, ends: Arr, n: int, diagpos: Arr, offdiag: Arr, nvals: int, v: Arr
) -> None:
    """Reduced Laplacian values (siemens) scattered into the factor storage ``v``."""
    for p in range(nvals):
        v[p] = 0.0
    for e in range(ne):
        ke = k[e]
        a = ends[e, 0]
        b = ends[e, 1]
        if a < n:
            v[diagpos[a]] += ke
        if b < n:
            v[diagpos[b]] += ke
        if offdiag[e] >= 0:
            v[offdiag[e]] -= ke


@_jit
def _factor_sparse(
    split: int,
    nt: int,
    colptr: Arr,
    rowind: Arr,
    rlptr: Arr,
    rlcol: Arr,
    rlpos: Arr,
    tstart: Arr,
    v: Arr,
    pos: Arr,
) -> bool:
    """Left-looking Cholesky of the sparse columns; False when a pivot is not positive.

    Each finished column's outer product over the dense block is subtracted there (the block is
    stored row-major as an upper factor after the sparse values).
    """
    base = colptr[split] - split * nt - split
    for j in range(split):
        c0 = colptr[j]
        c1 = colptr[j + 1]
        for p in range(c0, c1):
            pos[rowind[p]] = p
        for t in range(rlptr[j], rlptr[j + 1]):
            pj = rlpos[t]
            ljk = v[pj]
            for p in range(pj, colptr[rlcol[t] + 1]):
                v[pos[rowind[p]]] -= ljk * v[p]
        d = v[c0]
        if not d > 0.0:
            return False
        d = np.sqrt(d)
        v[c0] = d
        inv = 1.0 / d
        for p in range(c0 + 1, c1):
            v[p] *= inv
        for p in range(tstart[j], c1):
            la = v[p]
            row = base + rowind[p] * nt
            for p2 in range(p, c1):
                v[row + rowind[p2]] -= la * v[p2]
    return True


@_jit
def _factor_panel(u: Arr, k: int, kb: int) -> bool:
    """Factor rows ``k..k+kb-1`` of ``u`` (their trailing parts are updated in place).

    Loops run over row slices indexed from 0, which lets LLVM vectorise them.
    """
    for kk in range(k, k + kb):
        d = u[kk, kk]
        if not d > 0.0:
            return False
        d = np.sqrt(d)
        u[kk, kk] = d
        inv = 1.0 / d
        row = u[kk, kk + 1 :]
        for j in range(row.shape[0]):
            row[j] *= inv
        for i in range(kk + 1, k + kb):
            f = u[kk, i]
            ui = u[i, i:]
            uk = u[kk, i:]
            for j in range(ui.shape[0]):
                ui[j] -= f * uk[j]
    return True


@_jit
def _factor_dense(u: Arr) -> bool:
    """In-place upper Cholesky ``A = U^T U`` of the upper triangle of ``u``; False if singular.

    Right-looking in panels of 4 rows: each trailing row gets one rank-4 update per panel.
    """
    nt = u.shape[0]
    k = 0
    while k + 4 <= nt:
        if not _factor_panel(u, k, 4):
            return False
        for i in range(k + 4, nt):
            f0, f1, f2, f3 = u[k, i], u[k + 1, i], u[k + 2, i], u[k + 3, i]
            if f0 == 0.0 and f1 == 0.0 and f2 == 0.0 and f3 == 0.0:
                continue
            ui = u[i, i:]
            r0, r1, r2, r3 = u[k, i:], u[k + 1, i:], u[k + 2, i:], u[k + 3, i:]
            for j in range(ui.shape[0]):
                ui[j] -= (f0 * r0[j] + f1 * r1[j]) + (f2 * r2[j] + f3 * r3[j])
        k += 4
    return _factor_panel(u, k, nt - k)


@_jit
def _forward_dense(u: Arr, f0: int, y: Arr, cw: int) -> None:
    """Solve ``U^T y = rhs`` in place for rows ``>= f0`` (the right-hand side is 0 above)."""
    nt = u.shape[0]
    for k in range(f0, nt):
        inv = 1.0 / u[k, k]
        for jb in range(0, cw, 4):
            y[k, jb] *= inv
            y[k, jb + 1] *= inv
            y[k, jb + 2] *= inv
            y[k, jb + 3] *= inv
        for i in range(k + 1, nt):
            f = u[k, i]
            if f != 0.0:
                for jb in range(0, cw, 4):
                    y[i, jb] -= f * y[k, jb]
                    y[i, jb + 1] -= f * y[k, jb + 1]
                    y[i, jb + 2] -= f * y[k, jb + 2]
                    y[i, jb + 3] -= f * y[k, jb + 3]


@_jit
def _backward_dense(u: Arr, f0: int, x: Arr, cw: int) -> None:
    """Solve ``U x = y`` in place (``y`` is 0 in rows before ``f0``)."""
    nt = u.shape[0]
    for i in range(nt - 1, -1, -1):
        d = u[i, i]
        for jb in range(0, cw, 4):
            if i >= f0:
                a0, a1, a2, a3 = x[i, jb], x[i, jb + 1], x[i, jb + 2], x[i, jb + 3]
            else:
                a0 = a1 = a2 = a3 = 0.0
            for j in range(i + 1, nt):
                f = u[i, j]
                a0 -= f * x[j, jb]
                a1 -= f * x[j, jb + 1]
                a2 -= f * x[j, jb + 2]
                a3 -= f * x[j, jb + 3]
            x[i, jb] = a0 / d
            x[i, jb + 1] = a1 / d
            x[i, jb + 2] = a2 / d
            x[i, jb + 3] = a3 / d


@_jit
def _backward_sparse(split: int, colptr: Arr, rowind: Arr, v: Arr, x: Arr, cw: int) -> None:
    """Solve the sparse columns' part of ``F^T x = 0``, rows ``split-1`` down to 0."""
    for i in range(split - 1, -1, -1):
        c0 = colptr[i]
        d = v[c0]
        for jb in range(0, cw, 4):
            a0 = a1 = a2 = a3 = 0.0
            for p in range(c0 + 1, colptr[i + 1]):
                r = rowind[p]
                lp = v[p]
                a0 -= lp * x[r, jb]
                a1 -= lp * x[r, jb + 1]
                a2 -= lp * x[r, jb + 2]
                a3 -= lp * x[r, jb + 3]
            x[i, jb] = a0 / d
            x[i, jb + 1] = a1 / d
            x[i, jb + 2] = a2 / d
            x[i, jb + 3] = a3 / d


@_jit
def _basis(
    n: int,
    split: int,
    first: int,
    colptr: Arr,
    rowind: Arr,
    v: Arr,
    cidx: Arr,
    cval: Arr,
    x: Arr,
    s: Arr,
) -> None:
    """Basis solutions ``x = L^-1 C^T`` (volts per ampere; row ``n`` stays 0) and ``s = C x``."""
    c = cidx.shape[0]
    cw = x.shape[1]
    nt = n - split
    u = v[colptr[split] : colptr[split] + nt * nt].reshape((nt, nt))
    xt = x[split:n]
    for i in range(first, n):
        for j in range(cw):
            x[i, j] = 0.0
    for j in range(c):
        for slot in range(2):
            if cidx[j, slot] >= 0:
                x[cidx[j, slot], j] += cval[j, slot]
    _forward_dense(u, first - split, xt, cw)
    for a in range(c):
        for b in range(c):
            acc = 0.0
            for i in range(first, n):
                acc += x[i, a] * x[i, b]
            s[a, b] = acc
    _backward_dense(u, first - split, xt, cw)
    _backward_sparse(split, colptr, rowind, v, x, cw)


# ----------------------------------------------------------------------------- edge agents


@_inline
def advance_gate(st: State, i: int, t: float, noisy: bool) -> None:
    """Move edge ``i``'s capacitor to time ``t`` under its held drive (closed form, rails).

    Books the i^2 R energy of the charging resistor; with ``noisy`` adds the exact noise
    increment accumulated since the edge's last noise draw.
    """
    p = st.epar[i]
    dt = t - st.t_gate[i]
    u = st.drive[i]
    v = st.v_gate[i]
    if dt > 0.0:
        v = gate_advance(v, dt, u, p[C_GATE], p[R_CHARGE], p[TAU_LEAK], p[V_REST])
        st.acc[A_E_GATE] += u * u / p[R_CHARGE] * dt
        st.t_gate[i] = t
    if noisy and st.fpar[F_SIG_GATE] > 0.0:
        sig = st.fpar[F_SIG_GATE] * 0.5 * (p[A_FREE] + p[A_CLAMP]) / (p[R_CHARGE] * p[C_GATE])
        std = gate_noise_std(t - st.t_noise[i], sig, p[TAU_LEAK])
        if std > 0.0:
            v += std * normal(st.keys[0], stream_id(S_NOISE, i), st.n_noise[i])
            st.n_noise[i] += 1
        st.t_noise[i] = t
    st.v_gate[i] = min(max(v, p[V_MIN]), p[V_MAX])


@_inline
def stage(st: State, i: int, t: float) -> None:
    """Phase 1 of an event of edge ``i`` at ``t``: gate to ``t``, new conductance staged."""
    advance_gate(st, i, t, True)
    p = st.epar[i]
    kind = st.ipar[I_DEVICE]
    for q in range(st.k.shape[0]):
        v_mid = 0.0
        if kind == TRANSISTOR:
            v_mid = edge_mid(st, q, i, circuit_mu(st, q))
        st.k_new[q, i] = conductance(kind, p[DEV0], p[DEV1], p[DEV2], st.v_gate[i], v_mid)
    st.q_gate[i] = st.v_gate[i]
    st.staged[i] = True
    n_log = st.icnt[C_EVENTS]
    if n_log < st.log_t.shape[0]:
        st.log_t[n_log] = t
        st.log_e[n_log] = i
    st.edge_events[i] += 1
    st.icnt[C_EVENTS] += 1


@_inline
def commit(st: State) -> None:
    """Phase 2: apply every staged conductance change, then bring the states up to date.

    Few changes: one Sherman-Morrison update each. Many (more than ``ipar[I_REFACTOR_GROUP]``):
    a fresh factorisation is cheaper. Every ``ipar[I_CHECK_EVERY]`` updates the residual is
    checked; past the drift bound or ``ipar[I_REFACTOR_EVERY]`` updates, every circuit is
    refactorised.
    """
    g = 0
    for i in range(st.staged.shape[0]):
        if st.staged[i]:
            st.group[g] = i
            g += 1
    if g == 0:
        return
    big = g > st.ipar[I_REFACTOR_GROUP]
    for q in range(st.k.shape[0]):
        for gi in range(g):
            i = st.group[gi]
            delta = st.k_new[q, i] - st.k[q, i]
            if not big and delta != 0.0:
                rank1(st, q, i, delta)
            st.k[q, i] = st.k_new[q, i]
        if big:
            refactor(st, q)
    for gi in range(g):
        st.staged[st.group[gi]] = False
    st.icnt[C_GROUPS] += 1
    if big:
        st.icnt[C_REFACTORS] += 1
        st.icnt[C_SINCE] = 0
        st.icnt[C_CHECK] = 0
    else:
        st.icnt[C_RANK1] += g
        st.icnt[C_SINCE] += g
        st.icnt[C_CHECK] += g
        _control_drift(st)
    update_states(st)


@_inline
def _control_drift(st: State) -> None:
    if st.icnt[C_CHECK] < st.ipar[I_CHECK_EVERY] and st.icnt[C_SINCE] < st.ipar[I_REFACTOR_EVERY]:
        return
    st.icnt[C_CHECK] = 0
    worst = 0.0
    for q in range(st.k.shape[0]):
        worst = max(worst, drift(st, q))
    st.acc[A_DRIFT] = worst
    st.acc[A_DRIFT_MAX] = max(st.acc[A_DRIFT_MAX], worst)
    if worst > st.fpar[F_DRIFT_TOL] or st.icnt[C_SINCE] >= st.ipar[I_REFACTOR_EVERY]:
        for q in range(st.k.shape[0]):
            refactor(st, q)
        st.icnt[C_REFACTORS] += 1
        st.icnt[C_SINCE] = 0


@_inline
def measure(st: State, i: int, noisy: bool) -> None:
    """Phase 3: edge ``i`` reads its free and clamped drops and sets its held drive (V).

    Drive ``= mean over examples of (1 - lam) a_F dV_F^2 - a_C dV_C^2`` plus the edge's fixed
    comparator offset times the mean gain; with ``noisy``, measurement noise on every drop read.
    """
    p = st.epar[i]
    lam = st.fpar[F_LAM]
    sig = st.fpar[F_SIG_MEAS] if noisy else 0.0
    m = st.b.shape[0]
    total = 0.0
    for e in range(m):
        d_f = edge_drop(st, st.free_q[e], i, st.mu_f[e])
        d_c = edge_drop(st, st.clamp_q[e], i, st.mu_c[e])
        if sig > 0.0:
            d_f += sig * normal(st.keys[0], stream_id(S_NOISE, i), st.n_noise[i])
            d_c += sig * normal(st.keys[0], stream_id(S_NOISE, i), st.n_noise[i] + 1)
            st.n_noise[i] += 2
        total += (1.0 - lam) * p[A_FREE] * d_f * d_f - p[A_CLAMP] * d_c * d_c
    st.drive[i] = total / m + 0.5 * (p[A_FREE] + p[A_CLAMP]) * p[OFFSET]


# ----------------------------------------------------------------------------- clocks


@_jit
def bernoulli_fires(key: np.uint64, i: int, n: int, p: float) -> bool:
    """Whether edge ``i`` updates at global tick ``n`` (probability ``p``)."""
    return uniform(key, stream_id(S_CLOCK, i), n) < p


@_jit
def poisson_next(key: np.uint64, i: int, cnt: int, t: float, rate_hz: float) -> float:
    """Event after ``t`` of edge ``i``'s Poisson clock (``cnt``-th draw of its stream)."""
    return t - math.log(uniform(key, stream_id(S_CLOCK, i), cnt)) / rate_hz


@_jit
def periodic_next(
    key: np.uint64, i: int, cnt: int, t: float, period_s: float, jitter: float
) -> float:
    """Event after ``t`` of edge ``i``'s periodic clock: one period with relative jitter."""
    z = normal(key, stream_id(S_CLOCK, i), cnt)
    return t + period_s * max(1.0 + jitter * z, 1e-3)


@_jit
def periodic_first(key: np.uint64, i: int, cnt: int, period_s: float) -> float:
    """First event of a periodic clock: a uniformly random phase within one period."""
    return period_s * uniform(key, stream_id(S_CLOCK, i), cnt)


@_jit
def clock_times(
    kind: int,
    key: np.uint64,
    n_edges: int,
    t_end: float,
    rate_hz: float,
    p: float,
    jitter: float,
    periods_s: np.ndarray,
    cap: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Event times (s) and edges of a clock on ``[0, t_end]``, as the twin draws them.

    At most ``cap`` events, in per-edge order (not sorted by time).
    """
    times = np.empty(cap)
    edges = np.empty(cap, dtype=np.int64)
    cnt = 0
    for i in range(n_edges):
        if kind in (SYNC, BERNOULLI):
            n = 1
            while n / rate_hz <= t_end and cnt < cap:
                if kind == SYNC or bernoulli_fires(key, i, n, p):
                    times[cnt] = n / rate_hz
                    edges[cnt] = i
                    cnt += 1
                n += 1
            continue
        draws = 0
        if kind == POISSON:
            t = poisson_next(key, i, draws, 0.0, rate_hz)
        else:
            t = periodic_first(key, i, draws, periods_s[i])
        draws += 1
        while t <= t_end and cnt < cap:
            times[cnt] = t
            edges[cnt] = i
            cnt += 1
            if kind == POISSON:
                t = poisson_next(key, i, draws, t, rate_hz)
            else:
                t = periodic_next(key, i, draws, t, periods_s[i], jitter)
            draws += 1
    return times[:cnt], edges[:cnt]


@_inline
def tick_time(st: State, n: int) -> float:
    """Time (s) of global tick ``n`` of a sync or Bernoulli clock."""
    return n / st.fpar[F_RATE]


@_inline
def fires(st: State, i: int, n: int) -> bool:
    """Whether edge ``i`` updates at global tick ``n``."""
    if st.ipar[I_CLOCK] == SYNC:
        return True
    return bernoulli_fires(st.keys[1], i, n, st.fpar[F_P])


@_inline
def next_own_time(st: State, i: int, t: float) -> float:
    """Next event of edge ``i``'s own (Poisson or periodic) clock after its event at ``t``."""
    cnt = st.n_clock[i]
    st.n_clock[i] += 1
    if st.ipar[I_CLOCK] == POISSON:
        return poisson_next(st.keys[1], i, cnt, t, st.fpar[F_RATE])
    return periodic_next(st.keys[1], i, cnt, t, st.epar[i, PERIOD], st.fpar[F_JITTER])


@_inline
def next_crossing(st: State, i: int) -> float:
    """Continuous clock: absolute time edge ``i``'s gate will have moved ``dq`` volts."""
    p = st.epar[i]
    dt = crossing_time(
        st.v_gate[i],
        st.q_gate[i],
        st.fpar[F_DQ],
        st.drive[i],
        p[C_GATE],
        p[R_CHARGE],
        p[TAU_LEAK],
        p[V_REST],
        p[V_MIN],
        p[V_MAX],
    )
    return st.t_gate[i] + dt


@_inline
def remeasure_all(st: State, t: float) -> None:
    """Continuous clock: every edge's analog drive follows the new state; next crossings."""
    for i in range(st.drive.shape[0]):
        advance_gate(st, i, t, False)
        measure(st, i, False)
        st.next_t[i] = next_crossing(st, i)


# ----------------------------------------------------------------------------- event loops


@_inline
def fire_tick(st: State, n: int) -> int:
    """All edges due at global tick ``n`` update together; returns how many fired."""
    t = tick_time(st, n)
    g = 0
    for i in range(st.drive.shape[0]):
        if fires(st, i, n):
            if g == 0:
                prepare(st, t)
            stage(st, i, t)
            g += 1
    commit(st)  # fills st.group with the staged edges, in index order
    for gi in range(g):
        measure(st, st.group[gi], True)
    st.icnt[C_TICK] = n + 1
    return g


@_inline
def fire_own(st: State, i: int) -> None:
    """Edge ``i``'s own clock fires at ``next_t[i]``: stage, commit, measure, reschedule."""
    t = st.next_t[i]
    prepare(st, t)
    stage(st, i, t)
    commit(st)
    if st.ipar[I_CLOCK] == CONTINUOUS:
        remeasure_all(st, t)
    else:
        measure(st, i, True)
        st.next_t[i] = next_own_time(st, i, t)


@_jit
def next_event_time(st: State) -> float:
    """Time (s) of the next event of any edge (``inf`` if none will happen)."""
    clock = st.ipar[I_CLOCK]
    if clock in (SYNC, BERNOULLI):
        return tick_time(st, st.icnt[C_TICK])
    return np.min(st.next_t)


@_jit
def run_until(st: State, t_end: float, max_groups: int) -> int:
    """Process every event at time <= ``t_end`` in time order (at most ``max_groups`` groups).

    Exactly the sequence of operations the one-process-per-edge path performs, so the result
    does not depend on how a run is cut into calls. Returns the number of groups processed.
    """
    clock = st.ipar[I_CLOCK]
    done = 0
    if clock in (SYNC, BERNOULLI):
        n = st.icnt[C_TICK]
        while done < max_groups and tick_time(st, n) <= t_end:
            fire_tick(st, n)
            n += 1
            done += 1
        return done
    while done < max_groups:
        i = int(np.argmin(st.next_t))
        if not st.next_t[i] <= t_end:
            break
        fire_own(st, i)
        done += 1
    return done


@_jit
def initialise(st: State, fixed_point_iters: int, fixed_point_tol: float) -> int:
    """Conductances from the initial gates (fixed point for the transistor), states, drives.

    Returns the number of fixed-point iterations used.
    """
    kind = st.ipar[I_DEVICE]
    used = 0
    for it in range(max(fixed_point_iters, 1)):
        change = 0.0
        for q in range(st.k.shape[0]):
            for i in range(st.drive.shape[0]):
                p = st.epar[i]
                v_mid = 0.0
                if kind == TRANSISTOR and it > 0:
                    v_mid = edge_mid(st, q, i, circuit_mu(st, q))
                new = conductance(kind, p[DEV0], p[DEV1], p[DEV2], st.v_gate[i], v_mid)
                if it > 0:
                    change = max(change, abs(new - st.k[q, i]) / abs(new))
                st.k[q, i] = new
            refactor(st, q)
        update_states(st)
        if st.fpar[F_TAU_FB] > 0.0:  # the feedback loop starts settled on the nudged targets
            ns = st.ipar[I_NSRC]
            for e in range(st.b.shape[0]):
                for j in range(st.c_inf.shape[1]):
                    st.b[e, ns + j] = st.c_inf[e, j]
            _clamped_only(st)
        used = it + 1
        if kind != TRANSISTOR or (it > 0 and change < fixed_point_tol):
            break
    for i in range(st.drive.shape[0]):
        st.q_gate[i] = st.v_gate[i]
        measure(st, i, st.ipar[I_CLOCK] != CONTINUOUS)
        if st.ipar[I_CLOCK] == POISSON or st.ipar[I_CLOCK] == PERIODIC:
            st.next_t[i] = _first_own_time(st, i)
        elif st.ipar[I_CLOCK] == CONTINUOUS:
            st.next_t[i] = next_crossing(st, i)
    return used


@_jit
def _first_own_time(st: State, i: int) -> float:
    cnt = st.n_clock[i]
    st.n_clock[i] += 1
    if st.ipar[I_CLOCK] == POISSON:
        return poisson_next(st.keys[1], i, cnt, 0.0, st.fpar[F_RATE])
    return periodic_first(st.keys[1], i, cnt, st.epar[i, PERIOD])


# ----------------------------------------------------------------------------- read-outs


@_jit
def pending_energy(st: State, t: float) -> tuple[float, float, float]:
    """Energies (J) free, clamped, gate charging dissipated since the last booking, up to ``t``.

    Read-only: probes call it so that looking never changes the trajectory.
    """
    dt = t - st.acc[A_T_ENERGY]
    e_free = st.acc[A_P_FREE] * max(dt, 0.0)
    e_clamped = clamped_energy(st, dt) if dt > 0.0 else 0.0
    e_gate = 0.0
    for i in range(st.drive.shape[0]):
        dti = t - st.t_gate[i]
        if dti > 0.0:
            e_gate += st.drive[i] * st.drive[i] / st.epar[i, R_CHARGE] * dti
    return e_free, e_clamped, e_gate


@_jit
def gates_at(st: State, t: float, out: np.ndarray) -> None:
    """Deterministic gate voltages (V) at ``t`` (read-only; noise since last draw excluded)."""
    for i in range(st.drive.shape[0]):
        p = st.epar[i]
        v = gate_advance(
            st.v_gate[i],
            max(t - st.t_gate[i], 0.0),
            st.drive[i],
            p[C_GATE],
            p[R_CHARGE],
            p[TAU_LEAK],
            p[V_REST],
        )
        out[i] = min(max(v, p[V_MIN]), p[V_MAX])


# ----------------------------------------------------------------------------- array helpers


@_jit
def conductance_array(
    kind: int, dev: np.ndarray, v_gate: np.ndarray, v_mid: np.ndarray
) -> np.ndarray:
    """:func:`conductance` per edge: ``dev`` ``(E, 3)``, voltages ``(E,)``."""
    out = np.empty(v_gate.shape[0])
    for i in range(v_gate.shape[0]):
        out[i] = conductance(kind, dev[i, 0], dev[i, 1], dev[i, 2], v_gate[i], v_mid[i])
    return out


@_jit
def gate_advance_array(
    v0: np.ndarray,
    dt: np.ndarray,
    drive_v: np.ndarray,
    c_f: np.ndarray,
    r_ohm: np.ndarray,
    tau_s: np.ndarray,
    v_rest: np.ndarray,
    v_min: np.ndarray,
    v_max: np.ndarray,
) -> np.ndarray:
    """:func:`gate_advance` per element, clipped to the rails."""
    out = np.empty(v0.shape[0])
    for i in range(v0.shape[0]):
        v = gate_advance(v0[i], dt[i], drive_v[i], c_f[i], r_ohm[i], tau_s[i], v_rest[i])
        out[i] = min(max(v, v_min[i]), v_max[i])
    return out
