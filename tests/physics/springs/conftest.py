"""Shared spring networks and tasks."""

from __future__ import annotations

import numpy as np
import pytest

from twin.physics.network_io import network_from_spec
from twin.physics.springs.network import SpringNetwork
from twin.physics.springs.task import SpringTask, allostery_strain_task


@pytest.fixture(scope="package")
def jammed27() -> SpringNetwork:
    return SpringNetwork.from_network(network_from_spec("jammed:27:seed=1"))


@pytest.fixture(scope="package")
def task27(jammed27: SpringNetwork) -> SpringTask:
    return allostery_strain_task(jammed27, rng=np.random.default_rng(0))
