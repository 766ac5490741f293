"""Spring networks behind the :class:`~twin.physics.contract.Physics` contract.

Learning degrees of freedom: bond stiffnesses ``k`` (N/m). The edge quantity the rule reads is the
bond extension ``s = r - l`` (m); the cost is the elastic energy (J) of the whole state, pinning
springs included (the work the actuators store); ``dE/dk_i = s_i^2 / 2``, so the rule of
:mod:`twin.physics.contract` is the seed's Eq. D3:

    dk_i = -(alpha / 2 eta) [ (s_i^C)^2 - (1 - lambda) (s_i^F)^2 ]

Outputs are the target strains ``(r - l0) / l0``. Two modes solve the states:

* ``linear`` (default, the fast path): linear response about the unstrained network
  (:mod:`.linear`), one factorization per update; the clamped-minus-free extensions are solved
  for directly.
* ``nonlinear`` (the reference): the exact energy minimum of every state by Newton's method with a
  line search (:mod:`.mechanics`): the free state relaxed from the linear response about the
  unstrained network, the clamped state from the free one. Its contrast is a
  difference of two solves, exact to the force tolerance.

The two agree to second order in the strain (``tests/physics/springs``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from ...errors import ConfigError
from ..contract import ELASTIC_ENERGY, RuleTerms, State, local_terms
from .linear import LinearBasis, SpringBatch
from .mechanics import SpringSet, linear_response, relax
from .network import check_rigid, fixed_coordinates
from .task import SpringTask

__all__ = ["MODES", "SpringPhysics"]

Mode = Literal["linear", "nonlinear"]
MODES: tuple[str, ...] = ("linear", "nonlinear")
#: Newton force tolerance relative to ``pin_stiffness * median rest length`` (N).
FORCE_RTOL = 1e-12


class SpringPhysics:
    """``R`` spring-network tasks: stiffness (N/m), extension (m), elastic energy (J)."""

    name = "springs"
    cost = ELASTIC_ENERGY

    def __init__(self, tasks: Sequence[SpringTask], mode: Mode | str = "linear") -> None:
        if mode not in MODES:
            raise ConfigError(f"mode: expected one of {', '.join(MODES)}, got {mode!r}")
        self.tasks = list(tasks)
        self.mode: str = mode
        for task in self.tasks:
            check_rigid(task.network)
        self.batch = SpringBatch(self.tasks)
        self.edge_mask = self.batch.edge_mask
        self.k_min = np.array([t.network.k_min for t in self.tasks])
        self.k_max = np.array([t.network.k_max for t in self.tasks])

    @property
    def compiled(self) -> bool:
        """Whether the compiled kernel serves this batch: the linear path (any size; the kernel
        factors ``H_F`` on 2 x 2 node blocks, :mod:`twin.kernels.spring_layout`)."""
        return self.mode == "linear"

    @property
    def shape(self) -> tuple[int, int]:
        return (self.batch.realizations, self.batch.n_edges)

    def examples(self, name: str = "train") -> tuple[np.ndarray, np.ndarray]:
        sets = [t.sets()[name] for t in self.tasks]
        return np.stack([s.inputs for s in sets]), np.stack([s.outputs for s in sets])

    def labels(self, name: str = "train") -> np.ndarray | None:
        return None

    # ------------------------------------------------------------------ states

    def solve(self, k: np.ndarray, sources: np.ndarray, targets: np.ndarray | None) -> State:
        """State with source strains ``(R, m, s)`` and, if given, targets pinned at strains
        ``(R, m, t)``; outputs are the target strains reached (pins are stiff, not rigid)."""
        if self.mode == "nonlinear":
            return self._nonlinear(k, sources, targets)[0]
        basis = self.batch.basis(k)
        w_s = self.batch.source_forces(sources)
        y = None if targets is None else self.batch.target_forces(basis, w_s, targets)
        return self._linear_state(k, basis, w_s, y, sources, targets)

    def rule_terms(
        self, k: np.ndarray, inputs: np.ndarray, desired: np.ndarray, eta: float
    ) -> RuleTerms:
        """Free state, clamped state at ``eps_F + eta (eps_T - eps_F)`` and the rule's terms."""
        if self.mode == "nonlinear":
            free, ext_free, x_free = self._nonlinear(k, inputs, None)
            clamp = free.outputs + eta * (desired - free.outputs)
            clamped, ext_clamped, _ = self._nonlinear(k, inputs, clamp, x_free)
            delta = ext_clamped - ext_free
        else:
            batch = self.batch
            basis = batch.basis(k)
            w_s = batch.source_forces(inputs)
            free = self._linear_state(k, basis, w_s, None, inputs, None)
            nudge = eta * (desired - free.outputs)
            y = batch.nudge_forces(basis, nudge)
            ext_free = free.drops
            delta = basis.g[:, :, batch.n_sources :] @ y
            clamped = self._linear_state(k, basis, w_s, y, inputs, free.outputs + nudge)
        contrast, free_term = local_terms(ext_free, delta)
        return RuleTerms(
            free=free, clamped=clamped, contrast=0.5 * contrast, free_term=0.5 * free_term
        )

    # ------------------------------------------------------------------ linear path

    def _linear_state(
        self,
        k: np.ndarray,
        basis: LinearBasis,
        w_s: np.ndarray,
        y: np.ndarray | None,
        sources: np.ndarray,
        targets: np.ndarray | None,
    ) -> State:
        b, s = self.batch, self.batch.n_sources
        ext = basis.g[:, :, :s] @ w_s  # (R, E, m)
        ext_c = basis.s[:, :, :s] @ w_s  # (R, c, m) at the constraint bonds
        if y is not None:
            ext = ext + basis.g[:, :, s:] @ y
            ext_c = ext_c + basis.s[:, :, s:] @ y
        ext = np.where(b.edge_mask[:, :, None], ext, 0.0)
        strains = ext_c / b.l0[:, :, None]
        rest = [np.swapaxes(sources, 1, 2)]
        if targets is not None:
            rest.append(np.swapaxes(targets, 1, 2))
        pin_strain = strains[:, : s + (0 if targets is None else b.n_targets)]
        pin_ext = (pin_strain - np.concatenate(rest, axis=1)) * b.l0[:, : pin_strain.shape[1], None]
        energy = 0.5 * np.sum(k[:, :, None] * ext**2, axis=1)
        energy = energy + 0.5 * b.pin[:, None] * np.sum(pin_ext**2, axis=1)
        return State(
            drops=ext, outputs=np.swapaxes(strains[:, s:], 1, 2), cost=np.mean(energy, axis=-1)
        )

    # ------------------------------------------------------------------ nonlinear path

    def _nonlinear(
        self,
        k: np.ndarray,
        sources: np.ndarray,
        targets: np.ndarray | None,
        free_positions: list[list[np.ndarray]] | None = None,
    ) -> tuple[State, np.ndarray, list[list[np.ndarray]]]:
        """Exact minima per realization and example; also the extensions ``(R, E, m)`` and the
        positions ``[r][j]``. With targets, ``free_positions`` (the free states' positions of
        these stiffnesses and sources) saves relaxing the free states again."""
        rr, e = self.shape
        m = sources.shape[1]
        t_count = self.batch.n_targets
        ext = np.zeros((rr, e, m))
        outputs = np.zeros((rr, m, t_count))
        cost = np.zeros(rr)
        positions: list[list[np.ndarray]] = []
        for r, task in enumerate(self.tasks):
            positions.append([])
            for j in range(m):
                x, springs = self._relax(
                    task,
                    k[r, : task.network.n_edges],
                    sources[r, j],
                    None if targets is None else targets[r, j],
                    None if free_positions is None else free_positions[r][j],
                )
                positions[r].append(x)
                net = task.network
                lengths = net.lengths(x)
                ext[r, : net.n_edges, j] = lengths - net.rest_lengths
                outputs[r, j] = (lengths[task.targets] - net.rest_lengths[task.targets]) / (
                    net.rest_lengths[task.targets]
                )
                cost[r] += _energy(x, springs) / m
        return State(drops=ext, outputs=outputs, cost=cost), ext, positions

    def _relax(
        self,
        task: SpringTask,
        k_r: np.ndarray,
        source_strain: np.ndarray,
        target_strain: np.ndarray | None,
        x_free: np.ndarray | None = None,
    ) -> tuple[np.ndarray, SpringSet]:
        net = task.network
        l0 = net.rest_lengths
        pins = [(task.sources, l0[task.sources] * (1.0 + source_strain))]
        free_springs = _with_pins(task, k_r, pins)
        tol = FORCE_RTOL * task.pin_stiffness * float(np.median(l0))
        fixed = fixed_coordinates(net)
        if target_strain is None or x_free is None:
            start = linear_response(net.positions, free_springs, fixed)
            x = relax(start, free_springs, fixed, force_tol_n=tol).x
        else:
            x = x_free
        if target_strain is None:
            return x, free_springs
        pins.append((task.targets, l0[task.targets] * (1.0 + target_strain)))
        clamped_springs = _with_pins(task, k_r, pins)
        return relax(x, clamped_springs, fixed, force_tol_n=tol).x, clamped_springs


def _with_pins(
    task: SpringTask, k_r: np.ndarray, pins: list[tuple[np.ndarray, np.ndarray]]
) -> SpringSet:
    net = task.network
    edges = [net.edges] + [net.edges[idx] for idx, _ in pins]
    k = [k_r] + [np.full(idx.size, task.pin_stiffness) for idx, _ in pins]
    rest = [net.rest_lengths] + [length for _, length in pins]
    return SpringSet(
        edges=np.concatenate(edges),
        k=np.concatenate(k),
        rest=np.concatenate(rest),
        box=net.box,
        n_nodes=net.n_nodes,
    )


def _energy(x: np.ndarray, springs: SpringSet) -> float:
    from .mechanics import energy

    return energy(x, springs)
