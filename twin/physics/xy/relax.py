"""Relaxation of XY networks to equilibrium: the compiled kernel and a numpy reference.

:func:`relax` runs :func:`twin.kernels.xy.xy_relax` (explicit Euler on the free nodes, stopped per
state by its force norm); :func:`relax_reference` is the same iteration in numpy (slow, for tests);
:func:`polish` refines one equilibrium by Newton's method to rounding level (for finite-difference
tests, where the equilibrium must be exact).
"""

from __future__ import annotations

import attrs
import numpy as np

from ...errors import ConfigError, SolverError
from .energy import XYParams, cost_force, force, hessian
from .graph import XYGraph

__all__ = ["RelaxConfig", "Relaxed", "polish", "relax", "relax_reference"]


def _positive(_: object, attribute: attrs.Attribute, value: float) -> None:
    if not (value > 0 and np.isfinite(value)):
        raise ConfigError(f"{attribute.name}: expected a finite number > 0, got {value}")


@attrs.frozen(kw_only=True)
class RelaxConfig:
    """Relaxation settings (time in model units: the couplings set the rate).

    ``dt`` Euler step, ``max_steps`` the most steps per state (``dt * max_steps`` the longest
    relaxation time; 0.1 x 1,000 = the predecessor's t = 100), ``tol`` the force norm
    ``max |F_i|`` over free nodes below which a state counts as relaxed.
    """

    dt: float = attrs.field(default=0.1, validator=_positive)
    max_steps: int = attrs.field(default=1000, validator=_positive)
    tol: float = attrs.field(default=1e-6, validator=_positive)


@attrs.frozen(kw_only=True, eq=False)
class Relaxed:
    """Relaxed states ``phi`` ``(B, N)`` with per-state ``steps``, final force norm ``residual``
    and relaxation ``work`` (model units); ``converged`` where ``residual < tol``."""

    phi: np.ndarray
    steps: np.ndarray
    residual: np.ndarray
    work: np.ndarray
    tol: float

    @property
    def converged(self) -> np.ndarray:
        return self.residual < self.tol


def _targets(graph: XYGraph, targets: np.ndarray | None, batch: int) -> np.ndarray:
    if targets is None:
        return np.zeros((batch, len(graph.outputs)))
    return np.ascontiguousarray(np.broadcast_to(targets, (batch, len(graph.outputs))), dtype=float)


def relax(
    graph: XYGraph,
    p: XYParams,
    phi0: np.ndarray,
    *,
    targets: np.ndarray | None = None,
    beta: float = 0.0,
    config: RelaxConfig = RelaxConfig(),
) -> Relaxed:
    """Relax the states ``phi0`` ``(B, N)`` (compiled); ``phi0`` is not modified."""
    from ...kernels.xy import xy_relax

    phi = np.array(phi0, dtype=np.float64, order="C", ndmin=2)
    batch = phi.shape[0]
    steps = np.zeros(batch, dtype=np.int64)
    residual = np.zeros(batch)
    work = np.zeros(batch)
    a, b = np.ascontiguousarray(graph.edges.T)
    xy_relax(
        phi, graph.free, a, b, p.w, p.h, p.psi, graph.outputs, _targets(graph, targets, batch),
        float(beta), config.dt, config.max_steps, config.tol, steps, residual, work,
    )  # fmt: skip
    return Relaxed(phi=phi, steps=steps, residual=residual, work=work, tol=config.tol)


def _total_force(
    graph: XYGraph, p: XYParams, phi: np.ndarray, targets: np.ndarray, beta: float
) -> np.ndarray:
    f = force(graph, p, phi)
    if beta:
        f[..., graph.outputs] += beta * cost_force(phi[..., graph.outputs], targets)
    return f


def relax_reference(
    graph: XYGraph,
    p: XYParams,
    phi0: np.ndarray,
    *,
    targets: np.ndarray | None = None,
    beta: float = 0.0,
    config: RelaxConfig = RelaxConfig(),
) -> Relaxed:
    """The iteration of :func:`relax` in numpy, one state at a time (reference for tests)."""
    phi = np.array(phi0, dtype=np.float64, ndmin=2)
    t = _targets(graph, targets, len(phi))
    free = graph.free
    steps = np.zeros(len(phi), dtype=np.int64)
    residual, work = np.zeros(len(phi)), np.zeros(len(phi))
    for k, x in enumerate(phi):
        while True:
            f = _total_force(graph, p, x, t[k], beta)[free]
            residual[k] = np.abs(f).max()
            if residual[k] < config.tol or steps[k] >= config.max_steps:
                break
            x[free] += config.dt * f
            work[k] += config.dt * float(f @ f)
            steps[k] += 1
    return Relaxed(phi=phi, steps=steps, residual=residual, work=work, tol=config.tol)


def polish(
    graph: XYGraph,
    p: XYParams,
    phi: np.ndarray,
    *,
    target: np.ndarray | None = None,
    beta: float = 0.0,
    tol: float = 1e-13,
    max_iter: int = 50,
) -> np.ndarray:
    """Newton refinement of one near-equilibrium state ``phi`` ``(N,)`` to ``max |F| < tol``."""
    x = np.array(phi, dtype=np.float64)
    t = np.zeros(len(graph.outputs)) if target is None else np.asarray(target, dtype=float)
    free = graph.free
    for _ in range(max_iter):
        f = _total_force(graph, p, x, t, beta)[free]
        if np.abs(f).max() < tol:
            return x
        hess = hessian(graph, p, x, beta, t)[np.ix_(free, free)]
        x[free] += np.linalg.solve(hess, f)
    raise SolverError(f"polish: Newton did not reach max |F| < {tol:g} in {max_iter} iterations")
