"""Spring networks: rigidity, pruning and one-line errors for bad input."""

from __future__ import annotations

import numpy as np
import pytest

from twin.errors import NetworkError, TaskError
from twin.physics.springs.network import (
    SpringNetwork,
    check_rigid,
    floppy_modes,
    isostatic_coordination,
    prune_to_coordination,
)
from twin.physics.springs.physics import SpringPhysics
from twin.physics.springs.task import SpringTask, allostery_strain_task


def _one_line(exc: pytest.ExceptionInfo[BaseException], *words: str) -> None:
    text = str(exc.value)
    assert "\n" not in text
    for word in words:
        assert word in text


def test_jammed_network_is_rigid_and_above_isostatic(jammed27: SpringNetwork) -> None:
    assert floppy_modes(jammed27) == 0
    assert jammed27.coordination > isostatic_coordination(jammed27)


def test_pruning_keeps_rigidity(jammed27: SpringNetwork) -> None:
    z_iso = isostatic_coordination(jammed27)
    pruned = prune_to_coordination(jammed27, z_iso + 0.1, np.random.default_rng(0))
    assert z_iso < pruned.coordination <= z_iso + 0.1
    assert floppy_modes(pruned) == 0
    with pytest.raises(NetworkError) as exc:
        prune_to_coordination(jammed27, z_iso - 0.1, np.random.default_rng(0))
    _one_line(exc, "prune", "isostatic")


def test_collinear_triangle_is_floppy() -> None:
    net = SpringNetwork(
        positions=[[0, 0], [1, 0], [2, 0]], edges=[[0, 1], [1, 2], [0, 2]], rest_lengths=[1, 1, 2]
    )
    with pytest.raises(NetworkError) as exc:
        check_rigid(net)
    _one_line(exc, "not rigid", "1 floppy mode")


def test_floppy_square_is_refused_before_any_solve() -> None:
    square = SpringNetwork(
        positions=[[0, 0], [1, 0], [1, 1], [0, 1]],
        edges=[[0, 1], [1, 2], [2, 3], [3, 0]],
        rest_lengths=[1, 1, 1, 1],
    )
    task = SpringTask(
        network=square, sources=[0], targets=[2], source_strains=[[0.1]], target_strains=[[0.05]]
    )
    with pytest.raises(NetworkError) as exc:
        SpringPhysics([task])
    _one_line(exc, "floppy")


def test_zero_length_spring_is_refused() -> None:
    with pytest.raises(NetworkError) as exc:
        SpringNetwork(
            positions=[[0, 0], [0, 0], [1, 1]],
            edges=[[0, 1], [1, 2], [2, 0]],
            rest_lengths=[0.0, 1.4, 1.4],
        )
    _one_line(exc, "rest_lengths", "bond 0", "zero length")


@pytest.mark.parametrize("strain", [1.0, -1.5, float("nan")])
def test_strains_of_one_or_more_are_refused(jammed27: SpringNetwork, strain: float) -> None:
    with pytest.raises(TaskError) as exc:
        SpringTask(
            network=jammed27,
            sources=[0],
            targets=[5],
            source_strains=[[strain]],
            target_strains=[[0.05]],
        )
    _one_line(exc, "source_strains", "|strain| < 1")


def test_allostery_task_follows_the_seed(jammed27: SpringNetwork) -> None:
    task = allostery_strain_task(jammed27, rng=np.random.default_rng(2))
    assert np.all(np.abs(task.source_strains) == 0.2)
    assert set(np.abs(task.target_strains).ravel().tolist()) <= {0.05, 0.03}
    ends = jammed27.edges[np.concatenate([task.sources, task.targets])]
    assert np.unique(ends).size == ends.size  # node-disjoint bonds
