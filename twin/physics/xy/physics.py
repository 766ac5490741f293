"""XY oscillator networks behind the :class:`~twin.physics.contract.Physics` contract.

The contract's learning degrees of freedom ``k`` are the couplings ``w`` (one realization,
``R = 1``; unbounded, couplings may be negative); the fields ``h`` and their angles ``psi`` stay
as given (the EP trainer, :mod:`twin.learning.ep_train`, trains them too). The edge quantity the
rule reads is ``cos(phi_a - phi_b)``; "clamped" is the contract's word for the nudged state: the
nudge ``eta`` of :meth:`XYPhysics.rule_terms` is EP's ``beta``, and the targets are pulled on by
the cost ``-log(1 + cos(phi - t))``, not imposed. So the contract's update
``dk = -(alpha / eta) * contrast`` is the EP rule for the couplings, with

    contrast = mean(dE/dw^nudged - dE/dw^free) = mean(cos^free - cos^nudged)
    free_term = mean(dE/dw^free) = -mean(cos^free)

Each example relaxes from one fixed random start (drawn at construction), so that :meth:`solve`
is a function of ``k``. The cost is the mean energy: dimensionless (model units, name
``energy_model``), never joules.
"""

from __future__ import annotations

import numpy as np

from ..contract import Cost, RuleTerms, State
from .energy import XYParams, energy
from .graph import XYGraph
from .relax import RelaxConfig, relax
from .tasks import XYTask

__all__ = ["MODEL_ENERGY", "XYPhysics"]

#: The XY cost: the network's energy per update, in model units (never booked as joules).
MODEL_ENERGY = Cost(name="energy_model", per_update=True)


class XYPhysics:
    """One XY network with its task: couplings as the contract's ``k`` (shape ``(1, E)``)."""

    name = "xy"
    cost = MODEL_ENERGY

    def __init__(
        self,
        graph: XYGraph,
        task: XYTask,
        params: XYParams,
        rng: np.random.Generator,
        *,
        beta: float = 0.1,
        config: RelaxConfig | None = None,
    ) -> None:
        self.graph, self.task, self.params = graph, task, params
        self.beta = beta
        self.config = config or RelaxConfig()
        self.edge_mask = np.ones((1, graph.n_edges), dtype=bool)
        self.k_min = np.array([-np.inf])
        self.k_max = np.array([np.inf])
        sizes = {"train": len(task.x_train), "test": len(task.x_test)}
        self._starts = {
            name: rng.uniform(-np.pi, np.pi, (m, graph.n_nodes)) for name, m in sizes.items()
        }

    @property
    def shape(self) -> tuple[int, int]:
        return self.edge_mask.shape

    def _set(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        t = self.task
        return {"train": (t.x_train, t.y_train, t.labels_train),
                "test": (t.x_test, t.y_test, t.labels_test)}[name]  # fmt: skip

    def examples(self, name: str = "train") -> tuple[np.ndarray, np.ndarray]:
        """Input phases ``(1, m, s)`` and target phases ``(1, m, t)``."""
        x, y, _ = self._set(name)
        return x[None], y[None]

    def labels(self, name: str = "train") -> np.ndarray | None:
        return self._set(name)[2][None]

    def _params(self, k: np.ndarray) -> XYParams:
        return XYParams(w=np.asarray(k, dtype=float)[0], h=self.params.h, psi=self.params.psi)

    def _state(self, p: XYParams, phi: np.ndarray) -> State:
        a, b = self.graph.edges.T
        drops = np.cos(phi[:, a] - phi[:, b]).T[None]  # (1, E, m)
        outputs = phi[:, self.graph.outputs][None]
        return State(drops=drops, outputs=outputs, cost=energy(self.graph, p, phi).mean()[None])

    def _start(self, sources: np.ndarray) -> np.ndarray:
        x = sources[0]
        match = [n for n, s in self._starts.items() if len(s) == len(x)]
        phi = self._starts[match[0]].copy() if match else np.zeros((len(x), self.graph.n_nodes))
        phi[:, self.graph.inputs] = x
        return phi

    def solve(self, k: np.ndarray, sources: np.ndarray, targets: np.ndarray | None) -> State:
        """Free state (``targets=None``) or the state nudged toward ``targets`` at ``beta``,
        relaxed from the free equilibrium."""
        p = self._params(k)
        free = relax(self.graph, p, self._start(sources), config=self.config).phi
        if targets is None:
            return self._state(p, free)
        nudged = relax(self.graph, p, free, targets=targets[0], beta=self.beta, config=self.config)
        return self._state(p, nudged.phi)

    def rule_terms(
        self, k: np.ndarray, inputs: np.ndarray, desired: np.ndarray, eta: float
    ) -> RuleTerms:
        """Free and nudged (``beta = eta``) states and EP's terms for the couplings."""
        p = self._params(k)
        free_phi = relax(self.graph, p, self._start(inputs), config=self.config).phi
        nudged_phi = relax(self.graph, p, free_phi, targets=desired[0], beta=eta,
                           config=self.config).phi  # fmt: skip
        free, nudged = self._state(p, free_phi), self._state(p, nudged_phi)
        return RuleTerms(
            free=free,
            clamped=nudged,
            contrast=np.mean(free.drops - nudged.drops, axis=-1),
            free_term=-np.mean(free.drops, axis=-1),
        )
