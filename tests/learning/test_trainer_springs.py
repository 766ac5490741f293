"""The one trainer, run on spring networks through the Physics contract."""

from __future__ import annotations

import numpy as np
import pytest

from twin.errors import ConfigError
from twin.learning.rules import LearningRule
from twin.learning.trainer import TrainConfig, Trainer, train
from twin.physics.springs.physics import SpringPhysics
from twin.physics.springs.task_spec import build_spring_tasks


@pytest.fixture(scope="module")
def tasks() -> list:
    return build_spring_tasks("allostery-strain", None, seed=1, realizations=3)


def test_springs_learn_the_allostery_strain_task(tasks: list) -> None:
    """Three realizations, 3000 updates at alpha 10: every error falls below 1e-3 of its start."""
    res = train(tasks, TrainConfig(rule=LearningRule(alpha=10.0), steps=3000, backend="numpy"))
    assert np.all(res.error_final < 1e-3 * res.error_initial)
    summary = res.summary()
    assert {"free_energy_initial_j", "free_energy_final_j", "k_min_n_per_m"} <= set(summary)
    assert "free_power_initial_w" not in summary
    assert "free_energy_j" in res.history
    assert "free_power_w" not in res.history


def test_training_energy_is_the_sum_of_the_free_energies_per_update(tasks: list) -> None:
    """An elastic network is actuated once per update: the ledger's J are the stored energies."""
    cfg = TrainConfig(rule=LearningRule(alpha=10.0), steps=4, n_records=10, backend="numpy")
    res = train(tasks, cfg)
    per_update = res.history["free_energy_j"][:4]  # recorded at every step 0..3
    np.testing.assert_allclose(res.training_energy_j, per_update.sum(axis=0), rtol=1e-12)


def test_nonlinear_reference_and_linear_path_agree_step_by_step_at_small_strain(
    tasks: list,
) -> None:
    """Lockstep: at source strain 0.01 (eta 0.1) the two paths' updates agree to ~strain."""
    small = [
        t.evolve(source_strains=t.source_strains * 0.05, target_strains=t.target_strains * 0.05)
        for t in tasks[:1]
    ]
    cfg = TrainConfig(rule=LearningRule(alpha=10.0, eta=0.1), steps=5, backend="numpy")
    lin = Trainer(small, cfg)
    ref = Trainer(small, cfg, physics=SpringPhysics(small, "nonlinear"))
    k, lam = lin.k0.copy(), np.zeros(1)
    for _ in range(5):
        a, b = lin.step_quantities(k, lam), ref.step_quantities(k, lam)
        np.testing.assert_allclose(a["dk"], b["dk"], rtol=0, atol=0.03 * np.abs(a["dk"]).max())
        np.testing.assert_allclose(a["error"], b["error"], rtol=0.03)
        k = np.clip(k + a["dk"], lin.k_min, lin.k_max)


def test_compiled_backend_is_refused_for_the_nonlinear_reference(tasks: list) -> None:
    with pytest.raises(ConfigError, match="backend: 'compiled' is not available for springs"):
        Trainer(tasks, TrainConfig(backend="compiled"), physics=SpringPhysics(tasks, "nonlinear"))


@pytest.mark.parametrize("lam", [0.0, 1e-3])
def test_compiled_kernel_agrees_with_the_numpy_reference_step_by_step(
    tasks: list, lam: float
) -> None:
    """Lockstep over 300 updates (one update per advance call, recorded every step), then the
    final state of compiled chunks of many updates (recorded at the start and the end only)."""
    cfg = {"rule": LearningRule(alpha=10.0, lam=lam), "steps": 300, "n_records": 400}
    ref = train(tasks, TrainConfig(backend="numpy", **cfg))
    fast = train(tasks, TrainConfig(backend="compiled", **cfg))
    for key in ("error", "free_energy_j", "clamped_energy_j", "energy_j"):
        np.testing.assert_allclose(fast.history[key], ref.history[key], rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(fast.k, ref.k, rtol=1e-9)
    np.testing.assert_allclose(fast.training_energy_j, ref.training_energy_j, rtol=1e-9)
    chunked = train(tasks, TrainConfig(backend="compiled", **(cfg | {"n_records": 2})))
    np.testing.assert_allclose(chunked.k, ref.k, rtol=1e-9)
    np.testing.assert_allclose(chunked.training_energy_j, ref.training_energy_j, rtol=1e-9)


def test_compiled_kernel_with_lambda_control_and_early_stopping(tasks: list) -> None:
    from twin.learning.rules import LambdaControl

    for extra in ({"control": LambdaControl(tol=1e-8)}, {"stop_tol": 1e-7}):
        cfg = dict(rule=LearningRule(alpha=10.0), steps=400, n_records=50, **extra)
        ref = train(tasks, TrainConfig(backend="numpy", **cfg))
        fast = train(tasks, TrainConfig(backend="compiled", **cfg))
        np.testing.assert_array_equal(fast.steps_done, ref.steps_done)
        np.testing.assert_allclose(fast.lam_final, ref.lam_final, rtol=1e-9)
        np.testing.assert_allclose(fast.error_final, ref.error_final, rtol=1e-6, atol=1e-20)


def test_compiled_kernel_agrees_with_the_sparse_numpy_path(
    tasks: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large networks: the numpy reference switches to a sparse LU above DENSE_MAX_DOF; the
    compiled kernel (a sparse Cholesky at every size) still serves them and agrees step by step."""
    from twin.physics.springs import linear

    monkeypatch.setattr(linear, "DENSE_MAX_DOF", 10)
    assert Trainer(tasks, TrainConfig()).backend == "compiled"
    cfg = {"rule": LearningRule(alpha=10.0), "steps": 50, "n_records": 60}
    ref = train(tasks, TrainConfig(backend="numpy", **cfg))
    fast = train(tasks, TrainConfig(backend="compiled", **cfg))
    np.testing.assert_allclose(fast.history["error"], ref.history["error"], rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(fast.k, ref.k, rtol=1e-9)


def test_compiled_kernel_agrees_on_realizations_of_different_sizes(tasks: list) -> None:
    """Each realization keeps its own factor layout (16 and 27 nodes here): lockstep with the
    padded numpy reference (H_F's condition number ~1e6: rounding differences ~1e-10 per solve)."""
    small = build_spring_tasks("allostery-strain", "jammed:16", seed=2, realizations=1)
    mixed = small + tasks[:1]
    cfg = {"rule": LearningRule(alpha=10.0, lam=1e-3), "steps": 100, "n_records": 200}
    ref = train(mixed, TrainConfig(backend="numpy", **cfg))
    fast = train(mixed, TrainConfig(backend="compiled", **cfg))
    for key in ("error", "free_energy_j", "clamped_energy_j"):
        np.testing.assert_allclose(fast.history[key], ref.history[key], rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(fast.k, ref.k, rtol=1e-9)


def test_compiled_kernel_agrees_in_the_open_plane() -> None:
    """An open triangular lattice: node 0 and one coordinate of a neighbour are fixed, so the
    kernel's 2 x 2 block of that neighbour holds an identity row (lockstep with numpy)."""
    from tests.helpers import triangular_springs
    from twin.physics.springs.task import allostery_strain_task

    task = allostery_strain_task(triangular_springs(5, 6), rng=np.random.default_rng(4))
    cfg = {"rule": LearningRule(alpha=10.0, lam=1e-4), "steps": 200, "n_records": 300}
    ref = train([task], TrainConfig(backend="numpy", **cfg))
    fast = train([task], TrainConfig(backend="compiled", **cfg))
    for key in ("error", "free_energy_j", "clamped_energy_j"):
        np.testing.assert_allclose(fast.history[key], ref.history[key], rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(fast.k, ref.k, rtol=1e-9)
    assert fast.error_final[0] < 0.8 * fast.history["error"][0, 0]  # it learns (0.64x here)
