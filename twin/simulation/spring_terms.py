"""The agents' state solve, two backends: the Physics contract (numpy) or the spring kernel.

After every event group :class:`~.physics_agents.ContractAgents` needs, for the current learning
DOF ``k``, the free-state error, the free and clamped costs and every agent's drive without its
offset, ``u = -(contrast + lam free)`` (:mod:`twin.physics.contract`).

:class:`ContractTerms` (``numpy``) takes them from
:meth:`~twin.physics.contract.Physics.rule_terms`: any substrate, either spring solver (~0.5 ms
per solve at N = 27). :class:`CompiledSpringTerms` (``compiled``; spring physics on the linear
path) calls the spring trainer's compiled update, :func:`twin.kernels.springs.spring_quantities`
(block Cholesky of ``H_F``, the free state, the nudge, the two terms) with ``alpha = eta``, so
its update is exactly ``u`` (``-(alpha / eta) = -1``). Both agree to rounding
(``tests/simulation/test_springs_twin.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol

import numpy as np

from ..errors import SolverError
from ..physics.contract import Physics

__all__ = ["Backend", "CompiledSpringTerms", "ContractTerms", "Terms", "terms_for"]

Backend = Literal["auto", "numpy", "compiled"]


class Terms(Protocol):
    """Solves the states for ``k`` ``(E,)``: ``(error, free cost, clamped cost, u (E,))``."""

    name: str

    def __call__(self, k: np.ndarray) -> tuple[float, float, float, np.ndarray]: ...


class ContractTerms:
    """The numpy path: :meth:`Physics.rule_terms` of one realization."""

    name = "numpy"

    def __init__(self, physics: Physics, eta: float, lam: float) -> None:
        self.physics, self.eta, self.lam = physics, eta, lam
        self.inputs, self.desired = physics.examples("train")

    def __call__(self, k: np.ndarray) -> tuple[float, float, float, np.ndarray]:
        terms = self.physics.rule_terms(k[None], self.inputs, self.desired, self.eta)
        err = np.mean(np.sum((terms.free.outputs - self.desired) ** 2, axis=-1), axis=-1)
        u = -(terms.contrast[0] + self.lam * terms.free_term[0])
        return float(err[0]), float(terms.free.cost[0]), float(terms.clamped.cost[0]), u


class CompiledSpringTerms:
    """The compiled path: the spring trainer's kernel, one realization, ``alpha = eta``."""

    name = "compiled"

    def __init__(self, physics: Physics, eta: float, lam: float) -> None:
        from ..kernels.springs import (  # numba: loaded once a run is built
            spring_quantities,
            workspace,
        )
        from ..learning._spring_engine import layouts
        from ..physics.springs.physics import SpringPhysics

        if not (isinstance(physics, SpringPhysics) and physics.compiled):
            raise SolverError("backend: 'compiled' needs spring physics on the linear path")
        batch = physics.batch
        inputs, desired = physics.examples("train")
        s = batch.n_sources
        self._fn: Callable[..., bool] = spring_quantities
        self.eta, self.lam = float(eta), float(lam)
        self.struct = (
            *layouts(batch),
            np.ascontiguousarray(batch.l0),
            np.ascontiguousarray(batch.pin, dtype=float),
            np.ascontiguousarray(batch.source_forces(inputs)),
            np.ascontiguousarray(batch.l0[:, :s, None] * np.swapaxes(inputs, 1, 2)),
            np.ascontiguousarray(desired, dtype=float),
        )
        sizes = self.struct[0]
        e, c = batch.n_edges, batch.l0.shape[1]
        self.scratch = (
            np.empty(int(sizes[0, 3])),
            np.empty(int(sizes[0, 0]), dtype=np.int64),
            np.zeros((2 * int(sizes[0, 0]) + 1, 4 * ((c + 3) // 4))),
            np.empty((c, c)),
            np.zeros((2 * int(sizes[0, 0]) + 1, 2 * inputs.shape[1])),
            np.empty(c),
            workspace(c, s, inputs.shape[1]),
        )
        self.u = np.empty(e)
        self.out = np.empty(3)

    def __call__(self, k: np.ndarray) -> tuple[float, float, float, np.ndarray]:
        kr = np.ascontiguousarray(k, dtype=float)
        ok = self._fn(0, kr, *self.struct, self.eta, self.lam, self.eta, *self.scratch, self.u,
                      self.out)  # fmt: skip
        if not ok:
            raise SolverError("stiffness: the Hessian is singular (a floppy mode)")
        return float(self.out[0]), float(self.out[1]), float(self.out[2]), self.u.copy()


def terms_for(physics: Physics, eta: float, lam: float, backend: Backend = "auto") -> Terms:
    """The solve of ``backend`` (``auto``: compiled for spring physics on the linear path)."""
    fast = physics.name == "springs" and bool(getattr(physics, "compiled", False))
    if backend == "compiled" or (backend == "auto" and fast):
        return CompiledSpringTerms(physics, eta, lam)
    return ContractTerms(physics, eta, lam)
