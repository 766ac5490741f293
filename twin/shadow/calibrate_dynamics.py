"""The gate-dynamics fit of a calibration, moved out of :mod:`twin.shadow.calibrate`.

Per edge, ``dV_G/dt = g_F (1 - lam) dV_F^2 - g_C dV_C^2 + c - r V_G`` integrated over windows and
fitted by bounded two-stage least squares (the integrals from the window's other frames as
instruments); see :func:`fit_gate_dynamics` and the docstring of :mod:`twin.shadow.calibrate`.

Frames of the board held idle (gates held, amplifiers off) add windows of ``dV_G/dt = c_0 - r
V_G``: the leak alone. With them the constant splits into the leak's ``c_0`` and the learning bias
``B = c - c_0`` (arXiv 2505.22887: the drift a gate has only while its edge learns), each with its
standard error, as the lab reads it (learning drift minus idle drift) but from the same fit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import lsq_linear

from twin.board.circuit import BoardCircuit
from twin.board.contract import BoardState
from twin.physics.task import Task

__all__ = [
    "DRIFT_REF_V",
    "GAIN_RANGE",
    "MAX_DRIFT_V_PER_S",
    "MIN_IDLE_WINDOWS",
    "MIN_LEAK_PER_S",
    "MIN_LEAK_TAU_S",
    "MIN_WINDOWS",
    "RAIL_MARGIN_V",
    "fit_gate_dynamics",
    "stack",
]

#: Shortest leak time a fit may give, s: the board has no drain resistor, its capacitors'
#: dielectric leaks over 20-200 s (``HiddenVariation.typical``); a faster fitted leak is a
#: drift or gain error in disguise.
MIN_LEAK_TAU_S = 20.0
#: Leak rates below this (1/s) are represented at this rate, with the fitted drift kept.
MIN_LEAK_PER_S = 1e-4
#: Fitted gains stay within nominal / GAIN_RANGE .. nominal x GAIN_RANGE.
GAIN_RANGE = 4.0
#: Largest constant gate drift a fit may give, V/s: a learning bias (the lab's two-transistor
#: network measured 4.72 V/s on one edge; arXiv 2505.22887) or a comparator offset over RC.
MAX_DRIFT_V_PER_S = 10.0
#: Gate voltage at which a fitted drift is kept when the leak is negligible, V (mid-range).
DRIFT_REF_V = 3.0
#: Fewer usable windows than this leave an edge at its nominal dynamics.
MIN_WINDOWS = 6
#: Fewer idle windows than this leave an edge's bias unseparated from its leak's constant.
MIN_IDLE_WINDOWS = 4
#: Gates within this of a rail are clipped: windows touching them are not used.
RAIL_MARGIN_V = 0.02


def stack(states: Sequence[BoardState], name: str) -> np.ndarray:
    """The field ``name`` of every state, stacked."""
    return np.array([getattr(s, name) for s in states])


def _grid_integrals(x: np.ndarray, t: np.ndarray, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    """Integrals over ``[t_a, t_b]`` (``b - a`` even) from two disjoint sets of frames.

    The even frames ``a, a+2, ..., b`` by the trapezoid rule and the odd frames
    ``a+1, ..., b-1`` by the midpoint rule: both second order, with independent reading noise.
    """
    even = x[a : b + 1 : 2]
    te = t[a : b + 1 : 2]
    dte = np.diff(te)[:, None]
    int_even = np.sum(0.5 * (even[1:] + even[:-1]) * dte, axis=0)
    int_odd = np.sum(x[a + 1 : b : 2] * dte, axis=0)
    return int_even, int_odd


def fit_gate_dynamics(
    segments: Sequence[Sequence[BoardState]],
    task: Task,
    *,
    window_s: float = 0.005,
    rails_v: tuple[float, float] = (1.0, 5.5),
    g_nominal_per_v_s: float = 10.0 / 2.2e-3,
    idle: Sequence[Sequence[BoardState]] = (),
) -> tuple[dict[str, np.ndarray], float]:
    """Per-edge ``g_F``, ``g_C`` (1/(V s)), ``c`` (V/s) and leak rate ``r`` (1/s); the cost.

    ``idle``: runs of frames of the board held idle. An edge with at least
    :data:`MIN_IDLE_WINDOWS` idle windows also gets its learning bias ``bias_v_per_s`` (``c``
    less the idle constant ``c_0``) and ``bias_se_v_per_s`` (``idle_fitted`` 1); the others NaN.

    An errors-in-variables-aware fit (two-stage least squares): the regressors (integrals of
    squared drops and of the gate over windows of ``window_s``) are computed from noisy readings,
    which biases ordinary least squares towards zero gain; the same integrals from the *other*
    frames of each window (independent reading noise, same signal) are the instruments. The
    solution is bounded to physical ranges (:data:`GAIN_RANGE` times nominal, leak time at least
    :data:`MIN_LEAK_TAU_S`, drift within :data:`MAX_DRIFT_V_PER_S`). Standard errors
    (``*_se``) come from the 2SLS covariance. ``fitted`` is 1 for the edges fitted, 0 for those
    with too few windows off the rails (their ``g`` are NaN: the caller keeps the nominal values).
    """
    circuit = BoardCircuit(task)
    n = task.network.n_edges
    rows: list[list[np.ndarray]] = [[] for _ in range(n)]
    idle_rows: list[list[np.ndarray]] = [[] for _ in range(n)]
    for seg, learning in [(s, True) for s in segments] + [(s, False) for s in idle]:
        t = stack(seg, "t_s")
        if len(t) < 5:
            continue
        window = max(2 * round(window_s / float(np.median(np.diff(t))) / 2), 2)
        gates = stack(seg, "gate_v")
        if learning:
            lam = seg[0].lam
            x_f = (1.0 - lam) * circuit.drops(stack(seg, "v_free_v")) ** 2
            x_c = circuit.drops(stack(seg, "v_clamped_v")) ** 2
        else:  # held: no drive
            x_f = x_c = np.zeros_like(gates)
        for a in range(0, len(seg) - window, window):
            b = a + window
            near = (np.min(gates[a : b + 1], 0) < rails_v[0] + RAIL_MARGIN_V) | (
                np.max(gates[a : b + 1], 0) > rails_v[1] - RAIL_MARGIN_V
            )
            (xf_e, xf_o), (xc_e, xc_o), (v_e, v_o) = (
                _grid_integrals(x, t, a, b) for x in (x_f, x_c, gates)
            )
            span = np.full(n, t[b] - t[a])
            feats = np.stack([xf_e, -xc_e, span, -v_e], axis=1)
            inst = np.stack([xf_o, -xc_o, span, -v_o], axis=1)
            target = gates[b] - gates[a]
            for e in np.flatnonzero(~near):
                (rows if learning else idle_rows)[e].append(
                    np.concatenate([feats[e], inst[e], [target[e]]])
                )
    names = ("g_free", "g_clamp", "c_v_per_s", "leak_per_s")
    out = {name: np.zeros(n) for name in names}
    out |= {f"{name}_se": np.full(n, np.nan) for name in names}
    for name in (
        "drift_se_v_per_s",
        "c_leak_cov",
        "g_free_clamp_cov",
        "bias_v_per_s",
        "bias_se_v_per_s",
    ):
        out[name] = np.full(n, np.nan)
    out["fitted"] = np.zeros(n)
    out["idle_fitted"] = np.zeros(n)
    g_lo, g_hi = g_nominal_per_v_s / GAIN_RANGE, g_nominal_per_v_s * GAIN_RANGE
    lo = np.array([g_lo, g_lo, -MAX_DRIFT_V_PER_S, 0.0])
    hi = np.array([g_hi, g_hi, MAX_DRIFT_V_PER_S, 1 / MIN_LEAK_TAU_S])
    cost = 0.0
    for i in range(n):
        if len(rows[i]) < MIN_WINDOWS:  # pinned at a rail all along: keep the nominal gains
            out["g_free"][i] = out["g_clamp"][i] = np.nan
            continue
        data = np.array(rows[i])
        if len(idle_rows[i]) < MIN_IDLE_WINDOWS:
            p, cov, c_i = _fit_2sls(data[:, :4], data[:, 4:8], data[:, 8], lo, hi)
            grad = np.array([0.0, 0.0, 1.0, -DRIFT_REF_V])  # d(c - r V_ref)
        else:  # (g_F, g_C, B, c_0, r): the constant splits into the bias and the leak's
            p, cov, c_i = _fit_with_idle(data, np.array(idle_rows[i]), lo, hi)
            out["idle_fitted"][i] = 1.0
            out["bias_v_per_s"][i], out["bias_se_v_per_s"][i] = p[2], np.sqrt(cov[2, 2])
            to_c = np.array([[1, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 1, 1, 0], [0, 0, 0, 0, 1]])
            p, cov = to_c @ p, to_c @ cov @ to_c.T  # as (g_F, g_C, c = B + c_0, r)
            grad = np.array([0.0, 0.0, 1.0, -DRIFT_REF_V])
        out["fitted"][i] = 1.0
        for k, name in enumerate(names):
            out[name][i] = p[k]
            out[f"{name}_se"][i] = np.sqrt(cov[k, k])
        out["drift_se_v_per_s"][i] = float(np.sqrt(grad @ cov @ grad))
        out["c_leak_cov"][i] = cov[2, 3]
        out["g_free_clamp_cov"][i] = cov[0, 1]
        cost += c_i
    return out, cost


def _fit_with_idle(
    learning: np.ndarray, held: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """:func:`_fit_2sls` of ``(g_F, g_C, B, c_0, r)`` on learning and idle windows (rows of 4
    regressors, 4 instruments and the target): the constant of a learning window is ``B + c_0``,
    of an idle one ``c_0``."""
    data = np.concatenate([learning, held])
    on = np.concatenate([np.ones(len(learning)), np.zeros(len(held))])

    def split(cols: np.ndarray) -> np.ndarray:
        return np.stack([cols[:, 0], cols[:, 1], cols[:, 2] * on, cols[:, 2], cols[:, 3]], axis=1)

    lo5 = np.array([lo[0], lo[1], lo[2], lo[2], lo[3]])
    hi5 = np.array([hi[0], hi[1], hi[2], hi[2], hi[3]])
    return _fit_2sls(split(data[:, :4]), split(data[:, 4:8]), data[:, 8], lo5, hi5)


def _fit_2sls(
    x: np.ndarray, z: np.ndarray, y: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """Bounded two-stage least squares of ``y ~ x`` with instruments ``z``.

    Minimises ``|P_z (x p - y)|^2`` within ``[lo, hi]``; returns the parameters, their
    covariance (``s^2 (x' P_z x)^-1``, ``s^2`` the residual variance) and the cost.
    """
    scale = np.maximum(np.sqrt(np.mean(x**2, axis=0)), 1e-30)
    xs, zs = x / scale, z / np.maximum(np.sqrt(np.mean(z**2, axis=0)), 1e-30)
    q, _ = np.linalg.qr(zs)
    a_mat, b_vec = q.T @ xs, q.T @ y
    fit = lsq_linear(a_mat, b_vec, bounds=(lo * scale, hi * scale), method="bvls")
    p = fit.x / scale
    resid = y - x @ p
    dof = max(len(y) - x.shape[1], 1)
    s2 = float(resid @ resid) / dof
    info = a_mat.T @ a_mat
    cov_s = s2 * np.linalg.pinv(info)
    cov = cov_s / np.outer(scale, scale)
    return p, cov, 0.5 * float(resid @ resid)
