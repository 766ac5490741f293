"""The Physics contract: the resistor substrate satisfies it and its rule terms are the rule's."""

from __future__ import annotations

import numpy as np
import pytest

from twin.physics.contract import Physics, local_terms
from twin.physics.resistors import ResistorPhysics
from twin.physics.task_spec import build_tasks


@pytest.fixture(scope="module")
def physics() -> ResistorPhysics:
    return ResistorPhysics(build_tasks("regression", "jammed:30", seed=1, realizations=2))


def test_resistors_satisfy_the_protocol(physics: ResistorPhysics) -> None:
    assert isinstance(physics, Physics)
    assert physics.shape == physics.edge_mask.shape


def test_local_terms_equal_the_difference_of_squares() -> None:
    rng = np.random.default_rng(0)
    free, delta = rng.normal(size=(3, 7, 4)), rng.normal(size=(3, 7, 4))
    contrast, free_term = local_terms(free, delta)
    np.testing.assert_allclose(contrast, np.mean((free + delta) ** 2 - free**2, axis=-1))
    np.testing.assert_allclose(free_term, np.mean(free**2, axis=-1))


def test_rule_terms_match_two_independent_solves(physics: ResistorPhysics) -> None:
    """The clamped state from rule_terms is the state solve() gives for the nudged targets, and
    the contrast term is the difference of the clamped and free squared drops."""
    rng = np.random.default_rng(2)
    k = np.exp(rng.uniform(-1, 1, physics.shape))
    inputs, desired = physics.examples("train")
    terms = physics.rule_terms(k, inputs, desired, 0.1)
    free = physics.solve(k, inputs, None)
    clamped = physics.solve(k, inputs, free.outputs + 0.1 * (desired - free.outputs))
    np.testing.assert_allclose(terms.free.drops, free.drops, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(terms.clamped.drops, clamped.drops, rtol=1e-10, atol=1e-14)
    expected = np.mean(clamped.drops**2 - free.drops**2, axis=-1)
    np.testing.assert_allclose(terms.contrast, expected, rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(terms.free.cost, free.cost, rtol=1e-12)
