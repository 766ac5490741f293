"""Training XY networks by equilibrium propagation: epochs of EP steps with Adam or plain SGD.

Each epoch draws a batch of training examples (all of them by default), fresh random starts, runs
the free and nudged phases and applies the estimate: :func:`twin.learning.ep.ep_step` and an
optimizer step, computed in the compiled :func:`twin.kernels.xy_train.xy_epochs`, up to 100
epochs per call (the starts drawn before each call, in the order an epoch at a time draws them).
The run emits documents (start,
``sample`` every ``sample_every`` epochs, stop): the readings are the batch loss and accuracy at
the free equilibrium and, in model units (dimensionless, never joules; names end in ``_model``),
the mean free energy and the relaxation work of the free and nudged phases. XY runs have no
seconds: a sample's ``t_s`` and ``step`` both carry the epoch number. At the same epochs an
optional :data:`EpochWatch` (the live page) gets the parameters and the free equilibrium of the
batch's first example and start.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

import attrs
import numpy as np

from ..documents import Run, Subscriber
from ..errors import ConfigError
from ..physics.xy.energy import XYParams, init_params, loss, predict
from ..physics.xy.graph import XYGraph
from ..physics.xy.tasks import XYTask
from .ep import EPConfig, free_phase, random_starts
from .xy_epochs import READINGS, XYEpochs

__all__ = ["EpochWatch", "Evaluation", "XYTrainConfig", "XYTrainResult", "evaluate", "train_xy"]

#: Called at each sampled epoch with the epoch, the parameters after its update and the free
#: equilibrium phases ``(N,)`` (radians) of the batch's first example and random start.
EpochWatch = Callable[[int, XYParams, np.ndarray], None]


def _lr(_: object, attribute: attrs.Attribute, value: float) -> None:
    if not (0 < value <= 10):
        raise ConfigError(f"{attribute.name}: expected a number in (0, 10], got {value}")


@attrs.frozen(kw_only=True)
class XYTrainConfig:
    """Training settings: ``epochs``, learning rate ``lr`` of ``optimizer`` (``adam`` with the
    usual moments 0.9 / 0.999, or ``sgd``), ``batch_size`` examples per epoch (``None``: all),
    ``eval_starts`` random starts per example in the final evaluation, ``sample_every`` epochs
    between sample documents, and the EP settings."""

    ep: EPConfig = attrs.field(factory=EPConfig)
    epochs: int = attrs.field(default=1000, validator=attrs.validators.ge(0))
    lr: float = attrs.field(default=0.1, validator=_lr)
    optimizer: Literal["adam", "sgd"] = attrs.field(
        default="adam", validator=attrs.validators.in_(("adam", "sgd"))
    )
    batch_size: int | None = None
    eval_starts: int = attrs.field(default=8, validator=attrs.validators.ge(1))
    sample_every: int = attrs.field(default=10, validator=attrs.validators.ge(1))


@attrs.frozen(kw_only=True)
class Evaluation:
    """Free-phase ``loss`` and ``accuracy`` over every example and random start; ``converged``
    the fraction of states relaxed below the force tolerance."""

    loss: float
    accuracy: float
    converged: float


@attrs.frozen(kw_only=True, eq=False)
class XYTrainResult:
    """Trained ``params``, the per-epoch ``history`` (lists keyed by reading), the final
    evaluations on the training and test sets, and the run's uid."""

    params: XYParams
    history: dict[str, list[float]]
    train: Evaluation
    test: Evaluation
    n_edges: int
    run_uid: str
    wall_s: float

    def summary(self) -> dict[str, Any]:
        """The run's result as the CLI's ``--json`` object."""
        epochs = len(self.history.get("loss", []))
        return {
            "physics": "xy",
            "epochs": epochs,
            "couplings": self.n_edges,
            "accuracy": self.test.accuracy,
            "loss": self.test.loss,
            "train_accuracy": self.train.accuracy,
            "train_loss": self.train.loss,
            "converged_fraction": self.test.converged,
            "ms_per_epoch": 1e3 * self.wall_s / max(epochs, 1),
        }


def evaluate(
    graph: XYGraph,
    p: XYParams,
    x: np.ndarray,
    y: np.ndarray,
    labels: np.ndarray,
    config: EPConfig,
    starts: int,
    rng: np.random.Generator,
) -> Evaluation:
    """Loss and accuracy of the free equilibria from ``starts`` random starts of each example."""
    batch = random_starts(graph, x, y, labels, starts, rng)
    free = free_phase(graph, p, batch.phi0, config)
    out = free.phi[:, graph.outputs]
    return Evaluation(
        loss=float(loss(out, batch.targets).mean()),
        accuracy=float((predict(out) == batch.labels).mean()),
        converged=float(free.converged.mean()),
    )


def train_xy(
    graph: XYGraph,
    task: XYTask,
    config: XYTrainConfig,
    rng: np.random.Generator,
    *,
    params0: XYParams | None = None,
    emit: Subscriber | None = None,
    progress: Callable[[int], None] | None = None,
    run_params: Mapping[str, Any] | None = None,
    watch: EpochWatch | None = None,
) -> XYTrainResult:
    """Train ``graph`` on ``task`` (parameters from ``params0`` or :func:`init_params`)."""
    if (task.n_in, task.n_out) != (len(graph.inputs), len(graph.outputs)):
        raise ConfigError(f"network: {graph.name} has {len(graph.inputs)} inputs and "
                          f"{len(graph.outputs)} outputs; task {task.name} needs "
                          f"{task.n_in} and {task.n_out}")  # fmt: skip
    p = params0 if params0 is not None else init_params(graph, rng)
    state = XYEpochs(graph, task, config, p)
    history: dict[str, list[float]] = {key: [] for key in READINGS} if config.epochs else {}
    chunk = state.chunk
    if watch is not None:  # the live page hears at least every sample_every epochs
        chunk = min(chunk, config.sample_every)
    last = config.epochs - 1
    t0 = time.perf_counter()
    with Run(emit, source="twin", kind="train", params=run_params or {}) as run:
        for first in range(0, config.epochs, chunk):
            epochs = np.arange(first, min(first + chunk, config.epochs))
            sampled = (epochs % config.sample_every == 0) | (epochs == last)
            got = state.run(sampled, rng)
            for key, column in zip(READINGS, got.readings.T, strict=True):
                history[key].extend(column.tolist())
            for i, k in enumerate(np.flatnonzero(sampled)):
                epoch = int(epochs[k])
                if run.recording:
                    values = {key: [float(v)] for key, v in zip(READINGS, got.readings[k],
                                                                strict=True)}  # fmt: skip
                    run.sample(float(epoch), values, step=epoch)
                if watch is not None:
                    watch(epoch, state.unflat(got.thetas[i]), got.first_free[k])
            if progress is not None:
                progress(len(epochs))
        p = state.params
        wall_s = time.perf_counter() - t0
        starts = config.eval_starts
        train = evaluate(graph, p, task.x_train, task.y_train, task.labels_train, config.ep,
                         starts, rng)  # fmt: skip
        test = evaluate(graph, p, task.x_test, task.y_test, task.labels_test, config.ep,
                        starts, rng)  # fmt: skip
        result = XYTrainResult(params=p, history=history, train=train, test=test,
                               n_edges=graph.n_edges, run_uid=run.uid, wall_s=wall_s)  # fmt: skip
        run.summary = result.summary()
    return result
