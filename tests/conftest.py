"""Shared fixtures: the reference data shipped with the package, seeded generators; the Hypothesis
profile (``ci``: derandomized, the default; ``HYPOTHESIS_PROFILE=fuzz``: deeper, see
``tests/hypothesis_profiles.py``)."""

from __future__ import annotations

import os
import platform

#: OpenBLAS picks its kernels by CPU, and numpy its float64 exp/log loops (AVX-512 where the CPU
#: has it), and their roundings differ: a seeded board's training, a calibration and a plan are
#: long, branching runs in which a last-bit difference grows (seed 0's lambda = 0 floor at its
#: eta: 1.6 % of its initial error with OpenBLAS's Haswell kernels, 4.1 % with its generic ones).
#: The tests that state one board's outcome would pass or fail by the machine, so on every x86-64
#: machine with AVX2 and FMA the suite runs OpenBLAS's Haswell kernels and numpy without its
#: AVX-512 loops, what the suite is checked on (set before numpy loads;
#: ``tests/test_blas_kernels.py`` checks that it took). The product is not pinned.
BLAS_KERNELS = "Haswell"
NUMPY_WITHOUT = "X86_V4,AVX512_ICL,AVX512_SPR"  # numpy 2.4's names of its AVX-512 dispatch targets


def _pinnable() -> bool:
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        with open("/proc/cpuinfo") as fh:
            flags = next((line.split() for line in fh if line.startswith("flags")), [])
    except OSError:
        return False
    return {"avx2", "fma"} <= set(flags)


PINNED = _pinnable()
if PINNED:
    os.environ.setdefault("OPENBLAS_CORETYPE", BLAS_KERNELS)
    os.environ.setdefault("NPY_DISABLE_CPU_FEATURES", NUMPY_WITHOUT)

from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tests.hypothesis_profiles import load_profile  # noqa: E402
from twin.physics.reference_networks import packaged_reference_dir  # noqa: E402

load_profile()

#: Prefix of the skip reasons of the browser tests (tests/view/conftest.py), counted in the summary.
BROWSER_SKIP = "browser: "

#: The paper authors' networks (``jammed/``) and task (``tasks/``), package data.
REFERENCE = packaged_reference_dir()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture
def reference_dir() -> Path:
    assert (REFERENCE / "jammed").is_dir(), f"package data missing: {REFERENCE}"
    return REFERENCE


#: What a test session may add to the repository's top folder: caches, nothing else.
_CACHES = {
    ".pytest_cache",
    ".hypothesis",
    ".mypy_cache",
    ".ruff_cache",
    ".import_linter_cache",
    "__pycache__",
}
_ROOT_BEFORE = pytest.StashKey[set[str]]()


def pytest_sessionstart(session: pytest.Session) -> None:
    if hasattr(session.config, "workerinput"):
        return  # a pytest-xdist worker: the controlling process checks the whole session
    session.stash[_ROOT_BEFORE] = {p.name for p in session.config.rootpath.iterdir()}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail a session whose tests left files in the repository's top folder (a command run with a
    relative name outside a temporary folder: 43 such files were once committed by accident)."""
    before = session.stash.get(_ROOT_BEFORE, None)
    if before is None:
        return
    new = {p.name for p in session.config.rootpath.iterdir()} - before - _CACHES
    if new:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(
                f"tests left files in {session.config.rootpath}: {', '.join(sorted(new))}", red=True
            )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line saying how many browser tests were skipped and why (never a silent skip)."""
    reasons: Counter[str] = Counter()
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        if isinstance(longrepr, tuple) and BROWSER_SKIP in str(longrepr[2]):
            reasons[str(longrepr[2]).split(BROWSER_SKIP, 1)[1]] += 1
    if reasons:
        why = "; ".join(reasons)
        terminalreporter.write_line(
            f"browser tests: {sum(reasons.values())} skipped: {why}; make test installs Debian's "
            "chromium as root with apt-get (.ci/chromium)",
            yellow=True,
        )
