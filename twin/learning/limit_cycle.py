"""Learning with a bias: the linearised two-task model, its steady limit cycle, floor and span.

Near the solution ``G_i*`` of task ``i`` a contrastive learning network with an uncontrolled
learning bias moves its gate voltages ``G`` (V) as (Dillavou, Guzman, Liu and Durian,
arXiv 2505.22887)

    dG/dt = -M_i (G - G_i*) + B

with ``M_i`` (1/s) proportional to the Hessian of task ``i``'s contrast at its solution (symmetric,
positive semi-definite: directions along the task's solution manifold have eigenvalue 0) and
``B`` (V/s) a constant bias per edge. Training alternates task ``a`` for ``tau/2`` and task ``b``
for ``tau/2``.

Exact phase maps
    Over a phase of length ``t`` the solution is affine in the start point,
    ``G(t) = Phi(t) G(0) + c(t)`` with ``Phi = exp(-M t)`` and
    ``c = S(t) (M G* + B)``, ``S(t) = int_0^t exp(-M s) ds`` (eigenvalue ``l``:
    ``(1 - e^{-l t})/l``, or ``t`` when ``l = 0``), from the eigenvectors of the symmetric ``M``.
Steady limit cycle
    The cycle's start ``G0`` (start of a task-``a`` phase) is the fixed point of the period map,
    ``(I - Phi_b Phi_a) G0 = Phi_b c_a + c_b``. A bias component in the common null space of both
    ``M`` (a direction neither task constrains) is never corrected: the gates drift along it at
    that rate for ever (:attr:`LimitCycle.drift_v_per_s`); the cycle is then the steady cycle of
    the other components (least-squares fixed point).
Span and floor
    The span ``D = |G(tau/2) - G(0)|`` (V); the error floor is the error averaged over the two
    switch points of the cycle and over both tasks, ``(mse(G0) + mse(G_half)) / 2`` with
    ``mse = (mse_a + mse_b) / 2`` and ``mse_i = |J_i (G - G_i*)|^2`` (``J_i``: the task's output
    Jacobian, V/V), as the paper's model evaluates it.
Short periods
    For ``tau -> 0`` the cycle shrinks onto the centre ``G_c`` that solves the averaged dynamics,
    ``(M_a + M_b) G_c = M_a G_a* + M_b G_b* + 2 B``; the floor tends to ``mse(G_c)`` (flat in
    ``tau``) and the span to ``D = (tau / 2) |B - M_a (G_c - G_a*)|`` (:func:`short_period_floor`,
    :func:`span_rate`). With ``B = 0`` and a common solution both vanish.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import attrs
import numpy as np

from ..errors import ConfigError

__all__ = [
    "BiasedTask",
    "ErrorFn",
    "LimitCycle",
    "cycle_trajectory",
    "mean_mse_v2",
    "phase_map",
    "short_period_center",
    "short_period_floor",
    "span_rate",
    "steady_cycle",
]

#: The tasks' mean error (V^2) as a function of the gate voltages (V).
ErrorFn = Callable[[np.ndarray], float]

#: Eigenvalues (1/s) below this fraction of the largest count as zero (the null space; a
#: Hessian from finite differences carries rounding of this order).
NULL_REL = 1e-6


def _matrix(value: object) -> np.ndarray:
    return np.atleast_2d(np.asarray(value, dtype=float))


def _vector(value: object) -> np.ndarray:
    return np.atleast_1d(np.asarray(value, dtype=float))


@attrs.frozen(kw_only=True, eq=False)
class BiasedTask:
    """One task's linearised learning dynamics.

    Parameters
    ----------
    m_per_s
        ``M`` (n x n, 1/s): symmetric, positive semi-definite.
    solution_v
        ``G*`` (n,), V: the point about which the task is linearised (on its solution manifold).
    jacobian
        ``J`` (t x n, V/V): the task's outputs' sensitivity to the gates at ``G*`` (error
        ``|J (G - G*)|^2``); default: no outputs (zero error).
    """

    m_per_s: np.ndarray = attrs.field(converter=_matrix)
    solution_v: np.ndarray = attrs.field(converter=_vector)
    jacobian: np.ndarray | None = attrs.field(default=None)

    def __attrs_post_init__(self) -> None:
        m, g = self.m_per_s, self.solution_v
        n = g.size
        if m.shape != (n, n):
            raise ConfigError(f"m_per_s: expected a {n} x {n} matrix, got shape {m.shape}")
        if not np.all(np.isfinite(m)) or not np.allclose(m, m.T, rtol=1e-9, atol=0.0):
            raise ConfigError("m_per_s: must be a finite symmetric matrix")
        if np.min(np.linalg.eigvalsh(m)) < -1e-6 * max(float(np.max(np.abs(m))), 1e-300):
            raise ConfigError("m_per_s: must be positive semi-definite")
        if self.jacobian is not None:
            j = _matrix(self.jacobian)
            if j.shape[1] != n:
                raise ConfigError(f"jacobian: expected {n} columns, got shape {j.shape}")
            object.__setattr__(self, "jacobian", j)

    @property
    def n(self) -> int:
        return int(self.solution_v.size)

    def mse_v2(self, gates_v: np.ndarray) -> float:
        """Linearised squared error (V^2) of the task's outputs at ``gates_v``."""
        if self.jacobian is None:
            return 0.0
        r = self.jacobian @ (np.asarray(gates_v, dtype=float) - self.solution_v)
        return float(r @ r)

    def rate_v_per_s(self, gates_v: np.ndarray, bias_v_per_s: np.ndarray) -> np.ndarray:
        """``dG/dt`` (V/s) at ``gates_v`` under this task."""
        return -self.m_per_s @ (np.asarray(gates_v, dtype=float) - self.solution_v) + bias_v_per_s


def _integral_weights(lam: np.ndarray, t_s: float) -> np.ndarray:
    """``int_0^t exp(-l s) ds`` per eigenvalue ``l`` (``t`` for ``l = 0``), stable for small l t."""
    out = np.full(lam.shape, float(t_s))
    nz = lam > 0
    out[nz] = -np.expm1(-lam[nz] * t_s) / lam[nz]
    return out


def phase_map(
    task: BiasedTask, bias_v_per_s: np.ndarray, t_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Exact affine map ``G(t) = Phi G(0) + c`` of a phase of ``t_s`` seconds on ``task``."""
    lam, vec = np.linalg.eigh(task.m_per_s)
    lam = np.where(lam > NULL_REL * max(float(np.max(lam)), 0.0), lam, 0.0)
    phi = (vec * np.exp(-lam * t_s)) @ vec.T
    s = (vec * _integral_weights(lam, t_s)) @ vec.T
    mu = task.m_per_s @ task.solution_v + _vector(bias_v_per_s)
    return phi, s @ mu


@attrs.frozen(kw_only=True, eq=False)
class LimitCycle:
    """The steady cycle of two alternating tasks at period ``tau_s``.

    ``start_v`` is ``G`` when a task-``a`` phase starts, ``half_v`` when it ends (the task-``b``
    phase starts); ``span_v = |half - start|``; ``floor_v2`` the error averaged over both switch
    points and both tasks; ``drift_v_per_s`` the bias component no task corrects (zero vector
    when the two tasks together constrain every direction).
    """

    tau_s: float
    start_v: np.ndarray
    half_v: np.ndarray
    span_v: float
    floor_v2: float
    drift_v_per_s: np.ndarray

    @property
    def span2_v2(self) -> float:
        """``D^2`` (V^2)."""
        return self.span_v**2


def _check_pair(task_a: BiasedTask, task_b: BiasedTask, bias: np.ndarray) -> None:
    if task_a.n != task_b.n or bias.size != task_a.n:
        raise ConfigError(
            f"bias_v_per_s: tasks and bias must share one dimension, got {task_a.n}, "
            f"{task_b.n} and {bias.size}"
        )


def _common_null(task_a: BiasedTask, task_b: BiasedTask) -> np.ndarray:
    """Orthonormal basis (columns) of the directions neither task's ``M`` acts on."""
    both = task_a.m_per_s + task_b.m_per_s  # PSD sum: its null space is the intersection
    lam, vec = np.linalg.eigh(both)
    return vec[:, lam <= NULL_REL * max(float(np.max(lam)), 1e-300)]


def mean_mse_v2(task_a: BiasedTask, task_b: BiasedTask, gates_v: np.ndarray) -> float:
    """Error averaged over the two tasks at ``gates_v`` (V^2)."""
    return 0.5 * (task_a.mse_v2(gates_v) + task_b.mse_v2(gates_v))


def steady_cycle(
    task_a: BiasedTask,
    task_b: BiasedTask,
    bias_v_per_s: np.ndarray,
    tau_s: float,
    error_v2: ErrorFn | None = None,
) -> LimitCycle:
    """The steady limit cycle of ``a`` and ``b`` alternating every ``tau_s / 2`` seconds.

    ``error_v2(G)``: the tasks' mean error (V^2) at gates ``G`` (default: the linearised
    :func:`mean_mse_v2`); the floor averages it over the cycle's two switch points.
    """
    bias = _vector(bias_v_per_s)
    _check_pair(task_a, task_b, bias)
    if not (np.isfinite(tau_s) and tau_s > 0):
        raise ConfigError(f"tau_s: expected a finite period > 0 s, got {tau_s!r}")
    phi_a, c_a = phase_map(task_a, bias, tau_s / 2)
    phi_b, c_b = phase_map(task_b, bias, tau_s / 2)
    null = _common_null(task_a, task_b)
    drift = null @ (null.T @ bias)
    # Fixed point of the period map with the never-corrected drift removed (it only translates
    # the whole cycle along the common null space; the point chosen there is the centre's).
    lhs = np.eye(task_a.n) - phi_b @ phi_a
    rhs = phi_b @ c_a + c_b - drift * tau_s
    start = np.linalg.lstsq(lhs, rhs, rcond=None)[0]
    if null.shape[1]:
        center = short_period_center(task_a, task_b, bias)
        start = start - null @ (null.T @ (start - center))
    half = phi_a @ start + c_a
    err = error_v2 if error_v2 is not None else partial(mean_mse_v2, task_a, task_b)
    floor = 0.5 * (err(start) + err(half))
    return LimitCycle(
        tau_s=float(tau_s),
        start_v=start,
        half_v=half,
        span_v=float(np.linalg.norm(half - start)),
        floor_v2=float(floor),
        drift_v_per_s=drift,
    )


def cycle_trajectory(
    task_a: BiasedTask,
    task_b: BiasedTask,
    bias_v_per_s: np.ndarray,
    tau_s: float,
    start_v: np.ndarray,
    times_s: np.ndarray,
) -> np.ndarray:
    """Exact ``G`` (len(times) x n, V) at ``times_s`` from ``start_v`` at ``t = 0``.

    Task ``a`` runs on ``[k tau, k tau + tau/2)``, task ``b`` on the rest of each period.
    """
    bias = _vector(bias_v_per_s)
    _check_pair(task_a, task_b, bias)
    times = np.asarray(times_s, dtype=float)
    if times.size and (np.any(np.diff(times) < 0) or times[0] < 0):
        raise ConfigError("times_s: expected non-negative times in increasing order")
    out = np.empty((times.size, task_a.n))
    g, t, k = _vector(start_v).copy(), 0.0, 0
    half = tau_s / 2
    tasks = (task_a, task_b)
    full = [phase_map(task, bias, half) for task in tasks]
    for row, target in enumerate(times):
        while (k + 1) * half <= target:  # finish phase k (a when k is even)
            rest = (k + 1) * half - t
            phi, c = full[k % 2] if t == k * half else phase_map(tasks[k % 2], bias, rest)
            g, t, k = phi @ g + c, (k + 1) * half, k + 1
        if target > t:
            phi, c = phase_map(tasks[k % 2], bias, target - t)
            g, t = phi @ g + c, target
        out[row] = g
    return out


def short_period_center(
    task_a: BiasedTask, task_b: BiasedTask, bias_v_per_s: np.ndarray
) -> np.ndarray:
    """Centre ``G_c`` (V) of the cycle as ``tau -> 0`` (averaged dynamics' fixed point)."""
    bias = _vector(bias_v_per_s)
    _check_pair(task_a, task_b, bias)
    m_sum = task_a.m_per_s + task_b.m_per_s
    rhs = task_a.m_per_s @ task_a.solution_v + task_b.m_per_s @ task_b.solution_v + 2 * bias
    return np.asarray(np.linalg.lstsq(m_sum, rhs, rcond=None)[0])


def short_period_floor(
    task_a: BiasedTask,
    task_b: BiasedTask,
    bias_v_per_s: np.ndarray,
    error_v2: ErrorFn | None = None,
) -> float:
    """The error floor (V^2) as ``tau -> 0``: the tasks' mean error at :func:`short_period_center`.

    ``error_v2`` as in :func:`steady_cycle`.
    """
    err = error_v2 if error_v2 is not None else partial(mean_mse_v2, task_a, task_b)
    return float(err(short_period_center(task_a, task_b, bias_v_per_s)))


def span_rate(task_a: BiasedTask, task_b: BiasedTask, bias_v_per_s: np.ndarray) -> float:
    """``D / tau`` (V/s) as ``tau -> 0``: half the speed of task ``a``'s phase at the centre."""
    center = short_period_center(task_a, task_b, bias_v_per_s)
    return 0.5 * float(np.linalg.norm(task_a.rate_v_per_s(center, _vector(bias_v_per_s))))
