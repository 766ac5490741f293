"""Tasks from spec strings (the library behind every command's --task/--network)."""

from __future__ import annotations

import numpy as np
import pytest

from twin.errors import TaskError
from twin.physics.network_io import save_network
from twin.physics.task import save_task
from twin.physics.task_spec import TaskSpecError, build_tasks


def test_generated_realizations_differ_and_repeat_with_the_seed() -> None:
    a = build_tasks("regression", "lattice:4x4", seed=1, realizations=2)
    b = build_tasks("regression", "lattice:4x4", seed=1, realizations=2)
    assert not np.array_equal(a[0].train.inputs, a[1].train.inputs)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.train.inputs, y.train.inputs)


def test_jammed_without_seed_gives_each_realization_its_own_packing() -> None:
    a, b = build_tasks("regression", "jammed:16", seed=0, realizations=2)
    assert a.network.name != b.network.name


@pytest.mark.parametrize(
    ("task", "network", "realizations", "field"),
    [
        ("nope", None, 1, "task"),
        ("allostery", None, 0, "realizations"),
    ],
)
def test_spec_errors_name_the_argument(
    task: str, network: str | None, realizations: int, field: str
) -> None:
    with pytest.raises(TaskSpecError) as info:
        build_tasks(task, network, seed=0, realizations=realizations)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")
    assert isinstance(info.value, TaskError)
    assert isinstance(info.value, ValueError)


def test_task_file_network_must_match(tmp_path) -> None:
    task = build_tasks("allostery", None, seed=0, realizations=1)[0]
    save_task(task, tmp_path / "task.json")
    save_network(task.network, tmp_path / "same.json")
    spec = f"file:{tmp_path / 'task.json'}"
    same = build_tasks(spec, f"file:{tmp_path / 'same.json'}", seed=0, realizations=3)
    assert len(same) == 3
    assert same[0].network.n_edges == task.network.n_edges
    with pytest.raises(TaskSpecError, match="network: lattice:3x3 has 9 nodes"):
        build_tasks(spec, "lattice:3x3", seed=0, realizations=1)
