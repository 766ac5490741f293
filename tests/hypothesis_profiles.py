"""Hypothesis profiles: a reproducible default run and a deeper, seeded fuzz run.

- ``ci`` (the default, loaded by ``tests/conftest.py``): derandomized, so every run of the default
  suite on any machine draws the same examples (Hypothesis seeds each test from a hash of its code)
  and a failure seen once is seen again. Hypothesis makes ``derandomize=True`` imply no example
  database: a derandomized run replays its failures by construction, and a failure comes with a
  ``@reproduce_failure`` blob (``print_blob``) to pin it in a test.
- ``fuzz`` (``HYPOTHESIS_PROFILE=fuzz`` or ``--hypothesis-profile=fuzz``; ``make fuzz``, run by
  ``make slow``): :data:`FUZZ_FACTOR` times the examples of every property test, with the example
  database (``.hypothesis/``), so failures it finds are replayed first on the next fuzz run.
  ``make fuzz`` passes ``--hypothesis-seed=$(FUZZ_SEED)`` (reproducible; Hypothesis then skips the
  database); ``make fuzz FUZZ_SEED=`` explores new examples on every run.

Tests that set their own ``max_examples`` write it as ``scaled(n)`` so the fuzz profile deepens them
too (explicit settings win over the profile's).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

__all__ = ["FUZZ_FACTOR", "PROFILE_ENV", "load_profile", "scaled"]

#: Environment variable choosing the profile (Hypothesis' own ``--hypothesis-profile`` wins).
PROFILE_ENV = "HYPOTHESIS_PROFILE"
#: How many times more examples the fuzz profile draws.
FUZZ_FACTOR = 10

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,  # the machine is shared: wall time is no property of the code
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "fuzz",
    # explicit: profiles inherit the defaults in force when they are registered, and with $CI set
    # Hypothesis' own defaults have no database (the clean-clone CI run failed on this)
    database=DirectoryBasedExampleDatabase(".hypothesis/examples"),
    derandomize=False,
    max_examples=100 * FUZZ_FACTOR,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)


def load_profile() -> str:
    """Load the profile named by ``$HYPOTHESIS_PROFILE`` (default ``ci``); return its name."""
    name = os.environ.get(PROFILE_ENV, "").strip() or "ci"
    settings.load_profile(name)
    return name


def scaled(n: int) -> int:
    """``n`` examples, times :data:`FUZZ_FACTOR` under the fuzz profile."""
    return n * FUZZ_FACTOR if settings.get_current_profile_name() == "fuzz" else n
