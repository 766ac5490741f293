"""Fixtures of the twin tests: the board task and small configs."""

from __future__ import annotations

import numpy as np
import pytest

from twin.physics.task import Task
from twin.physics.task_spec import build_tasks

#: Seed of a board allostery task that the board's gate range can learn (seed 0's targets need
#: conductance ratios beyond the 1.0-5.5 V rails).
BOARD_SEED = 2


@pytest.fixture(scope="session")
def board_task() -> Task:
    return build_tasks("allostery", None, seed=BOARD_SEED, realizations=1)[0]


def run_rng(seed: int = 1) -> np.random.Generator:
    return np.random.default_rng(seed)
