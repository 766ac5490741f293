"""The ``Physics`` contract: what a learning substrate gives the trainer, the twin and the figures.

A substrate (resistor networks, spring networks, ...) has learning degrees of freedom ``k`` on its
edges (conductances in siemens, stiffnesses in N/m), a physical cost that its state minimises for
given boundary conditions (dissipated power in watts, elastic energy in joules), and an edge
quantity that the local rule reads (voltage drop in volts, bond extension in metres).

Coupled learning (PHYSICS.md sections 3 and 11) is written once over this contract: per edge,

    dk_i = -(alpha / eta) * (contrast_i + lam * free_i)

with the rule's two terms, both averaged over the training examples,

    contrast_i = dcost^C/dk_i - dcost^F/dk_i     (clamped minus free)
    free_i     = dcost^F/dk_i                      (the free-cost term weighted by lambda)

For resistors ``cost = P = sum k dV^2`` so ``dcost/dk_i = dV_i^2`` (the project's convention,
section 3); for springs ``cost = E = 1/2 sum k s^2`` so ``dcost/dk_i = s_i^2 / 2`` (App. D, the
factor 1/2 of Eq. D2). The contrast term is formed from the free drops and the clamped-minus-free
drops solved for directly (:func:`local_terms`), never as a difference of two squares.

Arrays carry a realization axis ``R`` first, then an edge axis ``E`` and an example axis ``m``.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import attrs
import numpy as np

__all__ = ["Cost", "Physics", "RuleTerms", "State", "local_terms"]


@attrs.frozen(kw_only=True)
class Cost:
    """The physical cost a substrate minimises, as the trainer and the ledger report it.

    Attributes
    ----------
    name
        Key stem of the reported quantity: ``power_w`` (watts) or ``energy_j`` (joules).
    per_update
        ``False`` for a rate (power: the energy of one update is ``cost * step_s``), ``True`` for
        an energy spent once per update (an elastic network is actuated once per update: the
        energy of one update is the elastic energy its sources store, the work they do).
    """

    name: str
    per_update: bool

    def update_energy_j(self, cost: np.ndarray, step_s: float) -> np.ndarray:
        """Energy (J) of one learning step of ``step_s`` seconds at ``cost`` (W or J)."""
        return cost if self.per_update else cost * step_s


POWER = Cost(name="power_w", per_update=False)
ELASTIC_ENERGY = Cost(name="energy_j", per_update=True)


@attrs.frozen(eq=False)
class State:
    """A network state for ``m`` examples in each of ``R`` realizations.

    Attributes
    ----------
    drops : (R, E, m) the edge quantity the rule reads (volts, or metres of extension).
    outputs : (R, m, t) values at the targets (volts, or dimensionless strains).
    cost : (R,) physical cost averaged over the examples (W or J).
    """

    drops: np.ndarray
    outputs: np.ndarray
    cost: np.ndarray


@attrs.frozen(eq=False)
class RuleTerms:
    """Everything one coupled-learning step needs, from one solve of the free and clamped states.

    Attributes
    ----------
    free, clamped : the two states (clamped at ``outputs^F + eta (desired - outputs^F)``).
    contrast : (R, E) ``mean(dcost^C/dk - dcost^F/dk)`` over the examples.
    free_term : (R, E) ``mean(dcost^F/dk)`` over the examples.
    """

    free: State
    clamped: State
    contrast: np.ndarray
    free_term: np.ndarray


def local_terms(drops_free: np.ndarray, drops_delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(mean(d^C^2 - d^F^2), mean(d^F^2))`` over the examples (last axis), without cancellation.

    ``drops_delta`` is the clamped-minus-free drop, solved for directly; the first term is formed
    as ``mean(delta * (2 d^F + delta))``.
    """
    total = 2.0 * drops_free + drops_delta  # d^C + d^F
    return np.mean(drops_delta * total, axis=-1), np.mean(drops_free**2, axis=-1)


@runtime_checkable
class Physics(Protocol):
    """A learning substrate: ``R`` realizations of a network with a task, batched.

    Implementations: :class:`twin.physics.resistors.ResistorPhysics` (linear resistor networks)
    and :class:`twin.physics.springs.physics.SpringPhysics` (harmonic spring networks, seed
    App. D). The board's transistor networks are modelled only by the event-driven twin
    (:mod:`twin.simulation`, per-edge devices in compiled events), which does not go through
    this contract yet; the twin's spring agents (:mod:`twin.simulation.physics_twin`) do.
    """

    #: ``resistors`` or ``springs``.
    name: str
    #: The physical cost minimised by the state (``power_w`` or ``energy_j``).
    cost: Cost
    #: ``(R, E)`` True for real edges (padding edges of smaller networks are False).
    edge_mask: np.ndarray
    #: ``(R,)`` bounds of the learning degrees of freedom (siemens or N/m) from each network.
    k_min: np.ndarray
    k_max: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """``(R, E)``: realizations and (padded) edges."""
        ...

    def examples(self, name: str = "train") -> tuple[np.ndarray, np.ndarray]:
        """Inputs ``(R, m, s)`` and desired outputs ``(R, m, t)`` of an example set."""
        ...

    def labels(self, name: str = "train") -> np.ndarray | None:
        """Class labels ``(R, m)`` of a classification set, else ``None``."""
        ...

    def solve(self, k: np.ndarray, sources: np.ndarray, targets: np.ndarray | None) -> State:
        """State for learning DOF ``k`` with ``sources`` ``(R, m, s)`` imposed and, if given,
        ``targets`` ``(R, m, t)`` clamped (``None``: the free state)."""
        ...

    def rule_terms(
        self, k: np.ndarray, inputs: np.ndarray, desired: np.ndarray, eta: float
    ) -> RuleTerms:
        """Free and clamped states (nudge ``eta``) and the local rule's two terms."""
        ...
