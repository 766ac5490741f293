"""XY networks satisfy the Physics contract; its rule terms are EP's coupling gradient."""

from __future__ import annotations

import numpy as np

from twin.learning.ep import EPBatch, EPConfig, ep_step
from twin.physics.contract import Physics
from twin.physics.xy.energy import init_params
from twin.physics.xy.physics import XYPhysics
from twin.physics.xy.relax import RelaxConfig
from twin.physics.xy.spec import graph_from_spec
from twin.physics.xy.tasks import xor


def test_xy_physics_satisfies_the_contract_and_its_rule_is_ep():
    graph = graph_from_spec("lattice:3x3:io=sides", 2, 1)
    rng = np.random.default_rng(5)
    params = init_params(graph, rng)
    cfg = RelaxConfig(max_steps=100_000, tol=1e-10)
    physics = XYPhysics(graph, xor(), params, np.random.default_rng(6), beta=0.05, config=cfg)
    assert isinstance(physics, Physics)
    assert physics.shape == (1, graph.n_edges)
    k = params.w[None]
    inputs, desired = physics.examples("train")
    terms = physics.rule_terms(k, inputs, desired, 0.05)
    # the same free and nudged states as solve()
    np.testing.assert_allclose(terms.free.drops, physics.solve(k, inputs, None).drops)
    np.testing.assert_allclose(terms.clamped.drops, physics.solve(k, inputs, desired).drops)
    # contrast / eta is EP's estimate of the coupling gradient from the same starts
    phi0 = physics._start(inputs)
    batch = EPBatch(phi0=phi0, targets=desired[0], labels=physics.labels()[0])
    step = ep_step(graph, params, batch, EPConfig(beta=0.05, relax=cfg))
    np.testing.assert_allclose(terms.contrast[0] / 0.05, step.grad.w, atol=1e-8)
