"""Local learning rules: the eta -> 0 gradient limit, directed aging, bounds, lambda control."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import examples
from tests.hypothesis_profiles import scaled
from twin.errors import ConfigError
from twin.learning.rules import LambdaControl, LearningRule, clip_conductance, coupled_update
from twin.physics.network import lattice
from twin.physics.solver import CircuitBatch, clamped_state, free_state, nudged_targets
from twin.physics.task import Task
from twin.physics.task_generators import regression_task


def _task(n_targets: int, seed: int = 4) -> tuple[Task, np.ndarray]:
    rng = np.random.default_rng(seed)
    net = lattice(4, 4, periodic=True)
    task = regression_task(net, rng=rng, n_train=6, n_test=2, n_out_of_range=0)
    if n_targets == 1:
        task = task.evolve(
            targets=task.targets[:1],
            train=examples(task.train.inputs, task.train.outputs[:, :1]),
            test=None,
        )
    return task, np.exp(rng.uniform(-1, 1, net.n_edges))


def _signal(task: Task, k: np.ndarray, eta: float) -> np.ndarray:
    """Mean over examples of dV_C^2 - dV_F^2 per edge (the lambda = 0 contrast signal)."""
    batch = CircuitBatch.from_tasks([task])
    basis = batch.basis(k[None])
    x = task.train.inputs[None]
    free = free_state(batch, basis, x)
    cl = clamped_state(batch, basis, x, nudged_targets(free.outputs, task.train.outputs[None], eta))
    return np.mean(cl.drops[0] ** 2 - free.drops[0] ** 2, axis=-1)


def _error(task: Task, k: np.ndarray) -> tuple[float, np.ndarray]:
    batch = CircuitBatch.from_tasks([task])
    basis = batch.basis(k[None])
    free = free_state(batch, basis, task.train.inputs[None])
    err = float(np.mean(np.sum((free.outputs[0] - task.train.outputs) ** 2, axis=-1)))
    return err, free.outputs[0]


def _fd(fun, k: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central finite differences of fun(k) (scalar or array) with relative step h."""
    cols = []
    for i in range(k.size):
        dk = np.zeros_like(k)
        dk[i] = h * k[i]
        cols.append((np.asarray(fun(k + dk)) - np.asarray(fun(k - dk))) / (2 * dk[i]))
    return np.array(cols)


def test_single_target_update_approaches_the_error_gradient() -> None:
    """One target: (dV_C^2 - dV_F^2)/eta -> M dL/dk, M the effective target conductance (> 0)."""
    task, k = _task(1)
    grad = _fd(lambda kk: _error(task, kk)[0], k)
    batch = CircuitBatch.from_tasks([task])
    s = batch.basis(k[None]).s[0]
    m_eff = np.linalg.inv(s)[
        -1, -1
    ]  # power = (y - y_F)^2 * M + P_F as a function of target value y
    errs = []
    for eta in (1e-2, 1e-3, 1e-4):
        cl = _signal(task, k, eta) / eta
        errs.append(np.linalg.norm(cl - m_eff * grad) / np.linalg.norm(m_eff * grad))
    assert errs[-1] < 1e-3
    assert errs[0] / errs[1] > 5
    assert errs[1] / errs[2] > 5


def test_multi_target_update_approaches_the_metric_weighted_gradient() -> None:
    """Two targets: (dV_C^2 - dV_F^2)/eta -> 2 (y_F - y~)^T Q dy_F/dk with Q = (S^-1)_tt."""
    task, k = _task(2)
    dy = _fd(lambda kk: _error(task, kk)[1], k)  # (E, m, t)
    _, y = _error(task, k)
    s = CircuitBatch.from_tasks([task]).basis(k[None]).s[0]
    q = np.linalg.inv(s)[2:, 2:]
    limit = 2 * np.einsum("mt,tu,emu->e", y - task.train.outputs, q, dy) / y.shape[0]
    cl = _signal(task, k, 1e-5) / 1e-5
    assert np.linalg.norm(cl - limit) / np.linalg.norm(limit) < 1e-3
    # and it is a descent direction for the error itself
    grad = _fd(lambda kk: _error(task, kk)[0], k)
    assert float(cl @ grad) > 0


def test_directed_aging_lowers_the_clamped_power() -> None:
    task, k = _task(2)
    rule = LearningRule(alpha=0.05, eta=0.5, lam=1.0)
    batch = CircuitBatch.from_tasks([task])
    x = task.train.inputs[None]
    free = free_state(batch, batch.basis(k[None]), x)
    clamp = nudged_targets(free.outputs, task.train.outputs[None], rule.eta)  # boundary held fixed

    def clamped_power(kk: np.ndarray) -> tuple[float, np.ndarray]:
        cl = clamped_state(batch, batch.basis(kk[None]), x, clamp)
        return float(np.sum(kk[:, None] * cl.drops[0] ** 2, axis=0).mean()), np.mean(
            cl.drops[0] ** 2, axis=-1
        )

    powers = []
    kk = k.copy()
    for _ in range(20):
        p, sq_c = clamped_power(kk)
        powers.append(p)
        kk = clip_conductance(kk + coupled_update(rule, sq_c, np.zeros_like(sq_c)), 1e-3, 1e1)
    assert np.all(np.diff(powers) < 0)
    assert powers[-1] < 0.9 * powers[0]


@settings(max_examples=scaled(50))
@given(
    st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=20),
    st.floats(1e-4, 1.0),
    st.floats(1.0, 1e4),
)
def test_clipping_respects_bounds(values: list[float], k_min: float, span: float) -> None:
    k = clip_conductance(np.array(values), k_min, k_min * span)
    assert np.all(k >= k_min)
    assert np.all(k <= k_min * span)


@settings(max_examples=scaled(50))
@given(st.floats(0.0, 1.0), st.lists(st.floats(0, 10), min_size=3, max_size=3))
def test_update_is_linear_in_lambda_and_zero_when_states_agree(lam: float, sq: list[float]) -> None:
    rule = LearningRule(alpha=0.3, eta=0.1, lam=lam)
    sqa = np.array(sq)
    np.testing.assert_allclose(coupled_update(rule.__class__(alpha=0.3, eta=0.1), sqa, sqa), 0.0)
    dk = coupled_update(rule, sqa, sqa)
    # cancellation in sq - (1 - lam) sq costs a few ulps of sq; below the normal range an ulp is
    # absolute (smallest_subnormal), so a relative bound alone underflows (Hypothesis: sq ~ 2e-313)
    ulp0 = np.finfo(float).smallest_subnormal
    atol = 3 * 1e-15 * max(sq) + 8 * ulp0
    np.testing.assert_allclose(dk, -(0.3 / 0.1) * lam * sqa, rtol=1e-12, atol=atol)


def test_lambda_control_moves_towards_the_tolerance() -> None:
    ctl = LambdaControl(tol=1e-3, rho=1.0, p=0.5)
    lam = np.array([1e-4, 1e-4])
    new = ctl.step(lam, np.array([1e-5, 1e-1]), dt=0.5)
    assert new[0] > lam[0]  # error below tolerance: weigh power more
    assert new[1] < lam[1]  # error above tolerance: weigh power less
    assert ctl.step(lam, np.array([1e-3, 1e-3]), dt=0.5) == pytest.approx(lam)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"alpha": 0.0}, "alpha"),
        ({"eta": -1.0}, "eta"),
        ({"lam": -0.1}, "lam"),
        ({"alpha": float("nan")}, "alpha"),
    ],
)
def test_bad_rule_parameters_name_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        LearningRule(**kwargs)
