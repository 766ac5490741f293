"""Shared fixtures: the reference data shipped with the package, seeded generators; the Hypothesis
profile (``ci``: derandomized, the default; ``HYPOTHESIS_PROFILE=fuzz``: deeper, see
``tests/hypothesis_profiles.py``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.hypothesis_profiles import load_profile
from twin.physics.reference_networks import packaged_reference_dir

load_profile()

#: The paper authors' networks (``jammed/``) and task (``tasks/``), package data.
REFERENCE = packaged_reference_dir()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture
def reference_dir() -> Path:
    assert (REFERENCE / "jammed").is_dir(), f"package data missing: {REFERENCE}"
    return REFERENCE
