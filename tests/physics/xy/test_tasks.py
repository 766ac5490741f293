"""XY tasks: phases in range, one-hot targets, held-out splits, nothing downloaded."""

from __future__ import annotations

import numpy as np
import pytest

from twin.errors import TaskError
from twin.physics.xy.energy import predict
from twin.physics.xy.tasks import iris, task_from_spec, xor


def test_xor_targets_predict_their_labels():
    t = xor()
    assert t.x_train.shape == (4, 2)
    np.testing.assert_array_equal(predict(t.y_train), t.labels_train)
    np.testing.assert_array_equal(t.labels_train, [0, 1, 1, 0])


def test_iris_is_scaled_to_half_pi_and_split():
    t = iris(np.random.default_rng(0))
    assert (t.n_in, t.n_out) == (4, 3)
    assert len(t.x_train) + len(t.x_test) == 150
    assert len(t.x_test) == 45
    for x in (t.x_train, t.x_test):
        assert np.abs(x).max() <= np.pi / 2 + 1e-12
    np.testing.assert_array_equal(predict(t.y_test), t.labels_test)


def test_digits_come_from_the_bundled_set():
    pytest.importorskip("sklearn")
    t = task_from_spec("digits", np.random.default_rng(0))
    assert (t.n_in, t.n_out) == (64, 10)
    assert len(t.x_train) + len(t.x_test) == 1797
    np.testing.assert_array_equal(predict(t.y_train), t.labels_train)


def test_unknown_task_names_the_field():
    with pytest.raises(TaskError, match="task: expected one of xor, iris, digits"):
        task_from_spec("mnist", np.random.default_rng(0))
