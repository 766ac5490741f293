"""The compiled epochs (several per kernel call) against the per-epoch path, epoch by epoch.

The reference is :func:`twin.learning.ep.ep_step` on batches drawn by
:func:`twin.learning.ep.random_starts`, followed by Adam or SGD written out here; the random
numbers come from generators of the same seed. Both relax by the same kernel, so phases agree to
rounding; the gradients' sums over rows may round differently (numpy's cos is not the C
library's in the last bit).

Symmetric nudging is compared one epoch at a time, each epoch from the reference's parameters:
its -beta phase has no minimum near the anti-target (``E - beta C`` falls without bound as the
output approaches ``t + pi``), where the Euler steps run away, so a last-bit difference can
change the next epoch entirely (work of 10^3-10^7 per epoch on both paths).
"""

from __future__ import annotations

import numpy as np
import pytest

from twin.learning.ep import EPConfig, ep_step, random_starts
from twin.learning.ep_train import XYTrainConfig
from twin.learning.xy_epochs import READINGS, XYEpochs
from twin.physics.xy.energy import init_params
from twin.physics.xy.relax import RelaxConfig, relax, relax_reference
from twin.physics.xy.spec import graph_from_spec
from twin.physics.xy.tasks import task_from_spec

CASES = [
    # network, task, batch size, starts, symmetric, optimizer, relaxation tol
    ("all:6", "xor", None, 1, False, "adam", 1e-300),
    ("layered:4,5,3", "iris", 10, 2, False, "sgd", 1e-6),
    ("lattice:3x3:skip=2", "xor", None, 3, True, "sgd", 1e-6),
]


def _reference(graph, task, config, p, rng, epochs):
    """Per epoch: parameters after the update, free equilibrium of the first row, readings."""
    theta = p.flat()
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    n = len(task.x_train)
    size = n if config.batch_size is None else config.batch_size
    out = []
    for t in range(1, epochs + 1):
        idx = np.arange(n) if size == n else rng.choice(n, size, replace=False)
        batch = random_starts(graph, task.x_train[idx], task.y_train[idx],
                              task.labels_train[idx], config.ep.starts, rng)  # fmt: skip
        step = ep_step(graph, p, batch, config.ep)
        g = step.grad.flat()
        if config.optimizer == "sgd":
            theta = theta - config.lr * g
        else:
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g**2
            theta = theta - config.lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        p = p.unflat(theta)
        nudged = step.nudged.work.mean()
        if step.nudged_minus is not None:
            nudged += step.nudged_minus.work.mean()
        readings = [step.loss, step.accuracy, step.energy_free, step.free.work.mean(), nudged,
                    step.free.converged.mean()]  # fmt: skip
        out.append((theta, step.free.phi[0], np.array(readings)))
    return out


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
def test_compiled_epochs_follow_the_per_epoch_path(case):
    spec, task_name, batch_size, starts, symmetric, optimizer, tol = case
    task = task_from_spec(task_name, np.random.default_rng(0))
    graph = graph_from_spec(spec, task.n_in, task.n_out)
    relax_cfg = RelaxConfig(max_steps=300, tol=tol)
    config = XYTrainConfig(ep=EPConfig(starts=starts, symmetric=symmetric, relax=relax_cfg),
                           lr=0.05, optimizer=optimizer, batch_size=batch_size)  # fmt: skip
    p = init_params(graph, np.random.default_rng(1))
    state = XYEpochs(graph, task, config, p)
    rng, rng_ref = np.random.default_rng(2), np.random.default_rng(2)
    got, ref = [], []
    for count in (1, 4, 7):  # calls of several epochs, every epoch's parameters kept
        if symmetric:  # one epoch at a time, both from the same parameters (SGD: no moments)
            for _ in range(count):
                chunk = state.run(np.ones(1, dtype=bool), rng)
                got += list(zip(chunk.thetas, chunk.first_free, chunk.readings, strict=True))
                ref += _reference(graph, task, config, p, rng_ref, 1)
                p = p.unflat(ref[-1][0])
                state.theta[:] = ref[-1][0]
            continue
        chunk = state.run(np.ones(count, dtype=bool), rng)
        got += list(zip(chunk.thetas, chunk.first_free, chunk.readings, strict=True))
    if not symmetric:
        ref = _reference(graph, task, config, p, rng_ref, 12)
        np.testing.assert_array_equal(state.params.flat(), got[-1][0])
    assert len(got) == len(ref) == 12
    for (theta, phi, readings), (theta_r, phi_r, readings_r) in zip(got, ref, strict=True):
        np.testing.assert_allclose(phi, phi_r, rtol=0, atol=1e-11)
        np.testing.assert_allclose(theta, theta_r, rtol=0, atol=1e-11)
        np.testing.assert_allclose(readings, readings_r, rtol=1e-11, atol=1e-12)
    assert len(READINGS) == got[0][2].size


def test_states_relaxed_together_relax_as_if_alone():
    """Lanes of one group are independent: rows converging at different steps, batches that do
    not fill the last group, each row alone: the same phases, steps and work, bit for bit, and
    the numpy iteration's to rounding."""
    rng = np.random.default_rng(4)
    graph = graph_from_spec("lattice:3x4:tri:skip=2", 2, 1)
    p = init_params(graph, rng)
    phi0 = rng.uniform(-np.pi, np.pi, (7, graph.n_nodes))
    targets = rng.uniform(-1, 1, (7, 1))
    cfg = RelaxConfig(dt=0.1, max_steps=400, tol=1e-4)
    together = relax(graph, p, phi0, targets=targets, beta=0.3, config=cfg)
    assert len(set(together.steps.tolist())) > 3  # rows stop at different steps
    ref = relax_reference(graph, p, phi0, targets=targets, beta=0.3, config=cfg)
    np.testing.assert_array_equal(together.steps, ref.steps)
    np.testing.assert_allclose(together.phi, ref.phi, rtol=0, atol=1e-12)
    for k in range(len(phi0)):
        alone = relax(graph, p, phi0[k : k + 1], targets=targets[k], beta=0.3, config=cfg)
        np.testing.assert_array_equal(alone.phi[0], together.phi[k])
        assert (alone.steps[0], alone.work[0]) == (together.steps[k], together.work[k])
