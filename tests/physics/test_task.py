"""Tasks: generators, JSON files against the schema, validation errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from twin.errors import TaskError
from twin.physics.file_checks import check_document
from twin.physics.network import lattice
from twin.physics.task import TASK_SCHEMA_ID, load_task, save_task, task_from_dict, task_to_dict
from twin.physics.task_generators import allostery_task, iris_task, regression_task


def test_regression_task_follows_the_seed_setup(rng) -> None:
    task = regression_task(lattice(6, 6, periodic=True), rng=rng)
    assert (task.source_kind, task.target_kind) == ("edges", "edges")
    assert (task.n_sources, task.n_targets, task.ground.size) == (2, 2, 1)
    assert (task.train.size, task.test.size, task.extra["out_of_range"].size) == (20, 100, 100)
    assert task.train.inputs.min() >= 0
    assert task.train.inputs.max() <= 1
    # outputs are a linear map of the inputs near A = [[0.2, 0.3], [0.1, 0.5]]
    a, *_ = np.linalg.lstsq(task.train.inputs, task.train.outputs, rcond=None)
    np.testing.assert_allclose(task.train.inputs @ a, task.train.outputs, atol=1e-12)
    assert np.abs(a.T - [[0.2, 0.3], [0.1, 0.5]]).max() < 0.5


def test_label_noise_only_touches_training_outputs(rng) -> None:
    task = regression_task(lattice(6, 6), rng=rng, label_noise=1e-3)
    _a, res, *_ = np.linalg.lstsq(task.train.inputs, task.train.outputs, rcond=None)
    assert res.sum() > 0
    b, *_ = np.linalg.lstsq(task.test.inputs, task.test.outputs, rcond=None)
    np.testing.assert_allclose(task.test.inputs @ b, task.test.outputs, atol=1e-12)


def test_allostery_is_the_board_task(rng) -> None:
    task = allostery_task(lattice(4, 4, periodic=True), rng=rng)
    np.testing.assert_allclose(task.train.inputs, [[0.45]])
    np.testing.assert_allclose(task.train.outputs, [[0.09, 0.36]])
    nodes = np.concatenate([task.ground, task.sources, task.targets])
    assert np.unique(nodes).size == 4


def test_iris_task_ships_its_data(rng) -> None:
    task = iris_task(lattice(5, 5, periodic=True), rng=rng)
    assert (task.train.size, task.test.size) == (90, 60)
    assert task.train.inputs.shape[1] == 10
    assert task.train.outputs.shape[1] == 3
    np.testing.assert_allclose(task.train.inputs[:, 4:8], -task.train.inputs[:, :4])
    assert np.all(np.bincount(task.train.labels) == 30)
    np.testing.assert_array_equal(np.argmax(task.train.outputs, axis=1), task.train.labels)


def test_json_round_trip_is_schema_valid(tmp_path, rng) -> None:
    task = regression_task(lattice(5, 5, periodic=True), rng=rng)
    path = tmp_path / "task.json"
    save_task(task, path)
    doc = json.loads(path.read_text())
    check_document(doc, TASK_SCHEMA_ID, TaskError)
    back = load_task(path)
    assert task_to_dict(back) == doc
    np.testing.assert_array_equal(
        back.extra["out_of_range"].inputs, task.extra["out_of_range"].inputs
    )


def test_reference_task_is_valid_and_loads(reference_dir) -> None:
    path = reference_dir / "tasks" / "regression_n64_r1.json"
    check_document(json.loads(path.read_text()), TASK_SCHEMA_ID, TaskError)
    task = load_task(path)
    assert (task.network.n_nodes, task.network.n_edges) == (64, 143)
    assert task.sources.tolist() == [45, 118]
    assert task.targets.tolist() == [16, 56]


def test_task_network_may_be_a_spec_string(tmp_path) -> None:
    doc = {
        "schema": "twin.task/1",
        "kind": "allostery",
        "network": "lattice:4x4:periodic",
        "ground": [0],
        "sources": {"nodes": [5]},
        "targets": {"nodes": [10, 15]},
        "train": {"inputs": [[0.45]], "outputs": [[0.09, 0.36]]},
    }
    check_document(doc, TASK_SCHEMA_ID, TaskError)
    assert task_from_dict(doc).network.n_edges == 32


def _base() -> dict:
    return {
        "schema": "twin.task/1",
        "kind": "custom",
        "network": {"nodes": 4, "edges": [[0, 1], [1, 2], [2, 3], [3, 0]]},
        "ground": [0],
        "sources": {"nodes": [1]},
        "targets": {"nodes": [2]},
        "train": {"inputs": [[0.4]], "outputs": [[0.2]]},
    }


@pytest.mark.parametrize(
    ("patch", "match"),
    [
        ({"targets": {"nodes": [1]}}, "also a source"),
        ({"sources": {"nodes": [0]}}, "grounded"),
        ({"ground": []}, "ground"),
        ({"train": {"inputs": [[0.4, 0.1]], "outputs": [[0.2]]}}, r"train.inputs"),
        ({"train": {"inputs": [[0.4]], "outputs": [[0.2, 0.1]]}}, r"train.outputs"),
        ({"train": {"inputs": [["a"]], "outputs": [[0.2]]}}, r"train.inputs"),
        ({"sources": {"wires": [1]}}, "sources"),
        ({"targets": {"nodes": [9]}}, "targets"),
        ({"network": {"nodes": 4, "edges": [[0, 1], [2, 3]]}}, "disconnected"),
        (
            {"network": {"nodes": 4, "edges": [[0, 1], [1, 2], [2, 3]], "conductance": [1, -1, 1]}},
            "conductance",
        ),
        ({"schema": "twin.task/0"}, "schema"),
    ],
)
def test_bad_tasks_name_the_problem(patch: dict, match: str) -> None:
    doc = _base() | patch
    with pytest.raises(TaskError, match=match):
        task_from_dict(doc)


def test_bad_files(tmp_path) -> None:
    bad = tmp_path / "t.json"
    bad.write_text("[1, 2")
    with pytest.raises(TaskError, match="invalid JSON"):
        load_task(bad)
    with pytest.raises(TaskError, match="no such file"):
        load_task(tmp_path / "nope.json")
