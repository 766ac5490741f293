"""Classification tasks for XY networks, as phases: XOR, Iris and the 8 x 8 digits.

Inputs are scaled to [-pi/2, pi/2] (per feature, by the training set's range); targets are
one-hot phases (+pi/2 for the class, -pi/2 otherwise; one output for two classes: +pi/2 for class
1). Prediction: :func:`twin.physics.xy.energy.predict`. Nothing is downloaded: Iris is the copy
bundled in ``twin/data``; the digits are scikit-learn's bundled 8 x 8 set (1,797 images, a
stand-in for MNIST), loaded only when asked for.
"""

from __future__ import annotations

import attrs
import numpy as np

from ...errors import TaskError
from ..task_generators import iris_data

__all__ = ["TASKS", "XYTask", "digits", "task_from_spec", "xor"]

HALF_PI = np.pi / 2


@attrs.frozen(kw_only=True, eq=False)
class XYTask:
    """Train and test sets: input phases ``x_*`` ``(m, n_in)``, target phases ``y_*``
    ``(m, n_out)`` and classes ``labels_*`` ``(m,)``."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    labels_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    labels_test: np.ndarray

    @property
    def n_in(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def n_out(self) -> int:
        return int(self.y_train.shape[1])


def _targets(labels: np.ndarray, n_classes: int) -> np.ndarray:
    if n_classes == 2:
        return np.where(labels[:, None] == 1, HALF_PI, -HALF_PI)
    return np.where(np.arange(n_classes) == labels[:, None], HALF_PI, -HALF_PI)


def _scaled(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both sets mapped to [-pi/2, pi/2] by the training set's per-feature range."""
    low, high = train.min(axis=0), train.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    scaled = [np.clip((s - low) / span, 0, 1) * np.pi - HALF_PI for s in (train, test)]
    return scaled[0], scaled[1]


def _split(
    name: str, x: np.ndarray, labels: np.ndarray, n_classes: int, test_fraction: float,
    rng: np.random.Generator,
) -> XYTask:  # fmt: skip
    order = rng.permutation(len(x))
    n_test = round(test_fraction * len(x))
    test, train = order[:n_test], order[n_test:]
    x_train, x_test = _scaled(x[train], x[test])
    return XYTask(
        name=name,
        x_train=x_train,
        y_train=_targets(labels[train], n_classes),
        labels_train=labels[train],
        x_test=x_test,
        y_test=_targets(labels[test], n_classes),
        labels_test=labels[test],
    )


def xor() -> XYTask:
    """The four XOR examples (train = test), inputs and target at -pi/2 (0) or +pi/2 (1)."""
    bits = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    labels = bits[:, 0] ^ bits[:, 1]
    x = np.where(bits == 1, HALF_PI, -HALF_PI)
    y = _targets(labels, 2)
    return XYTask(name="xor", x_train=x, y_train=y, labels_train=labels, x_test=x.copy(),
                  y_test=y.copy(), labels_test=labels.copy())  # fmt: skip


def iris(rng: np.random.Generator, test_fraction: float = 0.3) -> XYTask:
    """Iris (150 flowers, 4 features, 3 classes), a random ``test_fraction`` held out."""
    x, labels = iris_data()
    return _split("iris", x, labels, 3, test_fraction, rng)


def digits(rng: np.random.Generator, test_fraction: float = 0.3) -> XYTask:
    """scikit-learn's bundled 8 x 8 digits (64 pixel inputs, 10 classes), a stand-in for MNIST."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise TaskError("task: digits needs scikit-learn (a dependency: pip install -e .)"
                        ) from None  # fmt: skip
    data = load_digits()
    return _split("digits", data.data.astype(float), data.target.astype(np.int64), 10,
                  test_fraction, rng)  # fmt: skip


TASKS = ("xor", "iris", "digits")


def task_from_spec(spec: str, rng: np.random.Generator) -> XYTask:
    """The task a name of :data:`TASKS` names; ``rng`` draws the held-out split."""
    if spec == "xor":
        return xor()
    if spec == "iris":
        return iris(rng)
    if spec == "digits":
        return digits(rng)
    raise TaskError(f"task: expected one of {', '.join(TASKS)} for --physics xy, got {spec!r}")
