"""Linear resistor networks behind the :class:`~twin.physics.contract.Physics` contract.

A thin adapter over :mod:`twin.physics.solver` (one factorization per conductance vector serves
every example and both states). The arithmetic is the trainer's reference path, operation for
operation, so results are unchanged bit for bit. The compiled trainer kernels
(:mod:`twin.kernels.train_run`) compute the same quantities and are checked against this class.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .contract import POWER, RuleTerms, State, local_terms
from .solver import CircuitBatch, clamped_state, free_state, nudged_targets
from .task import Task

__all__ = ["ResistorPhysics"]


class ResistorPhysics:
    """``R`` resistor-network tasks: conductances ``k`` (siemens), drops (V), power (W)."""

    name = "resistors"
    cost = POWER

    def __init__(self, tasks: Sequence[Task]) -> None:
        self.tasks = list(tasks)
        self.batch = CircuitBatch.from_tasks(self.tasks)
        self.edge_mask = self.batch.edge_mask
        self.k_min = np.array([t.network.k_min for t in self.tasks])
        self.k_max = np.array([t.network.k_max for t in self.tasks])

    @property
    def shape(self) -> tuple[int, int]:
        return (self.batch.realizations, self.batch.n_edges)

    def examples(self, name: str = "train") -> tuple[np.ndarray, np.ndarray]:
        sets = [t.sets()[name] for t in self.tasks]
        return np.stack([s.inputs for s in sets]), np.stack([s.outputs for s in sets])

    def labels(self, name: str = "train") -> np.ndarray | None:
        """Class labels ``(R, m)`` of a classification set, else ``None``."""
        labels = [t.sets()[name].labels for t in self.tasks]
        if any(lab is None for lab in labels):
            return None
        return np.stack(labels)  # type: ignore[arg-type]

    def solve(self, k: np.ndarray, sources: np.ndarray, targets: np.ndarray | None) -> State:
        """Free (``targets=None``) or clamped state; cost is the power per example, averaged."""
        basis = self.batch.basis(k)
        if targets is None:
            st = free_state(self.batch, basis, sources)
        else:
            st = clamped_state(self.batch, basis, sources, targets)
        power = np.sum(k[:, :, None] * st.drops**2, axis=1).mean(axis=-1)
        return State(drops=st.drops, outputs=st.outputs, cost=power)

    def rule_terms(
        self, k: np.ndarray, inputs: np.ndarray, desired: np.ndarray, eta: float
    ) -> RuleTerms:
        """Both states from one factorization; the nudge's drops solved for directly."""
        batch = self.batch
        basis = batch.basis(k)
        free = free_state(batch, basis, inputs)
        clamp = nudged_targets(free.outputs, desired, eta)
        clamped = clamped_state(batch, basis, inputs, clamp)
        sq_free = np.mean(free.drops**2, axis=-1)
        sq_clamped = np.mean(clamped.drops**2, axis=-1)
        # clamped minus free drops from the nudge itself (no difference of two solves)
        nudge = eta * (desired - free.outputs)  # (R, m, t), V
        rhs = np.concatenate([np.zeros_like(np.swapaxes(inputs, 1, 2)),
                              np.swapaxes(nudge, 1, 2)], axis=1)  # fmt: skip
        delta = basis.g @ np.linalg.solve(basis.s, rhs)
        contrast, free_term = local_terms(free.drops, delta)
        power_free, power_clamped = np.sum(k * sq_free, axis=1), np.sum(k * sq_clamped, axis=1)
        return RuleTerms(
            free=State(drops=free.drops, outputs=free.outputs, cost=power_free),
            clamped=State(drops=clamped.drops, outputs=clamped.outputs, cost=power_clamped),
            contrast=contrast,
            free_term=free_term,
        )
