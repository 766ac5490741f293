"""The linear, noise-free twin on a sync clock follows the synchronous trainer.

Same task, same initial conductance, same effective rate (``trainer_equivalent``). At the
trainer's own step rate the two perform the same arithmetic up to rounding: measured 3e-14
relative deviation of the error history, 9e-14 of the conductances; asserted 1e-9. A sync clock
10x faster approaches the continuous-time limit of the same dynamics: measured 1.1e-3 relative
deviation of the error history and 2e-4 of the conductances (the first-order discretisation error
of the trainer's 0.1 ms steps); asserted 1e-2 and 2e-3.
"""

from __future__ import annotations

import numpy as np
import pytest

from twin.learning.rules import LearningRule
from twin.learning.trainer import TrainConfig, train
from twin.simulation import simulate, trainer_equivalent

from .conftest import run_rng

RULE = LearningRule(alpha=0.05, eta=0.22, lam=1e-3)
STEP_S = 1e-4
STEPS = 2000


@pytest.fixture(scope="module")
def trained(board_task):
    cfg = TrainConfig(rule=RULE, steps=STEPS, step_s=STEP_S, kappa=1.0, n_records=100_000)
    return train(board_task, cfg)


def _twin(board_task, clock: str | None = None):
    cfg = trainer_equivalent(RULE, step_s=STEP_S, kappa_siemens=1.0, clock=clock)
    return simulate(board_task, cfg.evolve(sample_interval_s=1e-2), STEPS * STEP_S, rng=run_rng())


def test_same_rate_matches_the_trainer_to_rounding(board_task, trained) -> None:
    result = _twin(board_task)
    assert result.stats["error_final"] == pytest.approx(trained.error_final[0], rel=1e-9)
    assert np.allclose(result.k, trained.k[0], rtol=1e-9)
    assert result.stats["training_energy_j"] == pytest.approx(
        trained.training_energy_j[0], rel=1e-9
    )
    assert result.stats["error_final"] < trained.error_initial[0] / 100  # it did learn
    steps = np.round(result.history["t_s"] / STEP_S).astype(int)
    hist = dict(zip(trained.history["step"], trained.history["error"][:, 0], strict=True))
    assert np.allclose(result.history["error"], [hist[s] for s in steps], rtol=1e-9)


def test_fast_sync_clock_is_the_continuous_limit(board_task, trained) -> None:
    result = _twin(board_task, clock=f"sync:{10 / STEP_S:g}")
    steps = np.round(result.history["t_s"] / STEP_S).astype(int)
    hist = dict(zip(trained.history["step"], trained.history["error"][:, 0], strict=True))
    ref = np.array([hist[s] for s in steps])
    rel = np.abs(result.history["error"] - ref) / ref
    assert np.max(rel) < 1e-2
    assert np.allclose(result.k, trained.k[0], rtol=2e-3)
