"""Compiled EP epochs of one XY training run: the optimizer state and the kernel calls.

:class:`XYEpochs` holds the parameters and the Adam moments of a run and runs its epochs by
:func:`twin.kernels.xy_train.xy_epochs`, up to :attr:`XYEpochs.chunk` epochs per call; the
random starts (and the examples of a partial batch) are drawn before each call from the run's
generator, in the order the epochs one at a time would draw them
(:func:`twin.learning.ep.random_starts`), so the results equal those of
:func:`twin.learning.ep.ep_step` followed by the optimizer step, epoch after epoch, up to
rounding.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
import numpy as np

from ..physics.xy.energy import XYParams
from ..physics.xy.graph import XYGraph
from ..physics.xy.tasks import XYTask

if TYPE_CHECKING:
    from .ep_train import XYTrainConfig

__all__ = ["READINGS", "EpochChunk", "XYEpochs"]

#: Per-epoch readings, the columns of :func:`twin.kernels.xy_train.xy_epochs`'s ``readings``.
READINGS = ("loss", "accuracy", "energy_free_model", "work_free_model", "work_nudged_model",
            "converged_fraction")  # fmt: skip

#: Most epochs per kernel call, and most starting phases (float64s) a call's epochs hold.
CHUNK_EPOCHS = 100
CHUNK_VALUES = 1_000_000


@attrs.frozen(kw_only=True, eq=False)
class EpochChunk:
    """What a call's epochs measured: ``readings`` ``(K, len(READINGS))``, the parameters after
    each epoch asked for (``thetas``, flat, one row per such epoch) and the free equilibrium of
    each epoch's first example and start (``first_free`` ``(K, N)``, radians)."""

    readings: np.ndarray
    thetas: np.ndarray
    first_free: np.ndarray


class XYEpochs:
    """The training state of ``graph`` on ``task`` from parameters ``p``, and its epochs."""

    def __init__(self, graph: XYGraph, task: XYTask, config: XYTrainConfig, p: XYParams):
        self.graph, self.task, self.config, self._shape = graph, task, config, p
        self.theta = np.array(p.flat(), dtype=np.float64)
        self.adam_m, self.adam_v = np.zeros(self.theta.size), np.zeros(self.theta.size)
        self.adam_t = np.zeros(1, dtype=np.int64)
        m = len(task.x_train)
        self.size = m if config.batch_size is None else min(config.batch_size, m)
        per_epoch = self.size * config.ep.starts * graph.n_nodes
        #: Most epochs one call runs.
        self.chunk = max(1, min(CHUNK_EPOCHS, CHUNK_VALUES // per_epoch))
        self._ab = np.ascontiguousarray(graph.edges.T)

    @property
    def params(self) -> XYParams:
        """The current parameters."""
        return self._shape.unflat(self.theta)

    def unflat(self, theta: np.ndarray) -> XYParams:
        """Parameters from a flat row of :attr:`EpochChunk.thetas`."""
        return self._shape.unflat(theta)

    def _draw(self, epochs: int, rng: np.random.Generator) -> tuple:
        graph, task, size, starts = self.graph, self.task, self.size, self.config.ep.starts
        m = len(task.x_train)
        if size == m:  # one draw of the uniform starts equals the epochs' draws one by one
            phi = rng.uniform(-np.pi, np.pi, (epochs, starts * m, graph.n_nodes))
            idx = np.broadcast_to(np.arange(m), (epochs, m))
        else:
            phi = np.empty((epochs, starts * size, graph.n_nodes))
            idx = np.empty((epochs, size), dtype=np.int64)
            for k in range(epochs):
                idx[k] = rng.choice(m, size, replace=False)
                phi[k] = rng.uniform(-np.pi, np.pi, (starts * size, graph.n_nodes))
        rows = np.tile(idx, (1, starts))  # start-major, as random_starts
        phi[:, :, graph.inputs] = task.x_train[rows]
        labels = np.ascontiguousarray(task.labels_train[rows], dtype=np.int64)
        return phi, task.y_train[rows], labels

    def run(self, sampled: np.ndarray, rng: np.random.Generator) -> EpochChunk:
        """Run ``len(sampled)`` epochs (at most :attr:`chunk`); keep the parameters after the
        epochs where ``sampled`` is true."""
        from ..kernels.xy_train import xy_epochs

        sampled = np.asarray(sampled, dtype=bool)
        count = len(sampled)
        snap = np.where(sampled, np.cumsum(sampled) - 1, -1)
        phi0, targets, labels = self._draw(count, rng)
        readings = np.empty((count, len(READINGS)))
        thetas = np.empty((int(sampled.sum()), self.theta.size))
        first_free = np.empty((count, self.graph.n_nodes))
        ep, relax = self.config.ep, self.config.ep.relax
        a, b = self._ab
        xy_epochs(phi0, targets, labels, self.graph.free, a, b, self.graph.outputs, self.theta,
                  self.adam_m, self.adam_v, self.adam_t, self.config.lr,
                  self.config.optimizer == "sgd", ep.beta, ep.symmetric, relax.dt,
                  relax.max_steps, relax.tol, snap, readings, thetas, first_free)  # fmt: skip
        return EpochChunk(readings=readings, thetas=thetas, first_free=first_free)
